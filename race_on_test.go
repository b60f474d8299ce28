//go:build race

package llmbridge_test

// raceEnabled: the race detector's instrumented frames are larger, so
// stack-depth tests (stream_stack_test.go) run without it.
const raceEnabled = true
