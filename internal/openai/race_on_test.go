//go:build race

package openai

// raceEnabled: under the race detector sync.Pool drops some of what is
// put back, so allocation counts that rely on a pool do not hold.
const raceEnabled = true
