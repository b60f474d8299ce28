package usage

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// FuzzDecodeSpool reads arbitrary spool contents: torn or foreign lines
// never panics, and only rows with an id come back.
func FuzzDecodeSpool(f *testing.F) {
	good, _ := json.Marshal(RowOf(rec(time.Unix(1764000000, 0), "k", "openai", "gpt-4o", 1, 0, 1, 200), DefaultPrices()))
	f.Add(string(good) + "\n" + string(good[:len(good)/2]))
	hit, _ := json.Marshal(RowOf(hitRec(time.Unix(1764000000, 0), "k", "openai", "gpt-4o", 1, 0, 1), DefaultPrices()))
	f.Add(string(hit) + "\n")
	f.Add("{}\n[]\nnull\n")
	f.Add(`{"id":"x","cost_usd":"NaN"}`)
	f.Fuzz(func(t *testing.T, content string) {
		for _, r := range decodeSpool(strings.NewReader(content)) {
			if r.ID == "" {
				t.Fatal("a row without id")
			}
		}
	})
}
