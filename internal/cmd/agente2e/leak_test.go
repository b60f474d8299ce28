package main

import (
	"testing"

	"go.uber.org/goleak"
)

// The harness starts fakes and bridges; its unit tests must leave nothing
// running.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
