//go:build !race

package llmbridge_test

// raceEnabled: see race_on_test.go.
const raceEnabled = false
