//go:build linux && !race

package memory

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/cache"
)

// TestPurgeAllReleasesPages: emptying the cache gives its rings' pages
// back to the kernel, which reads them as zeros after.
func TestPurgeAllReleasesPages(t *testing.T) {
	c := newCache(t, 1<<20)
	ctx := context.Background()
	for i := range 200 {
		_ = c.Set(ctx, key("", "m", i), bytes.Repeat([]byte{0xff}, 2000), time.Hour)
	}
	if _, err := c.Purge(ctx, cache.Filter{}); err != nil {
		t.Fatal(err)
	}
	if b := c.shards[0].buf; bytes.IndexFunc(b[:len(b)/2], func(r rune) bool { return r != 0 }) >= 0 {
		t.Error("an emptied ring kept its bytes")
	}
	_ = c.Set(ctx, key("", "m", 1), []byte("after"), time.Hour)
	if v, ok, _ := c.Get(ctx, key("", "m", 1)); !ok || string(v) != "after" {
		t.Errorf("after the purge: %q %v", v, ok)
	}
}
