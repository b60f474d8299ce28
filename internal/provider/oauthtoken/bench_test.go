package oauthtoken

import (
	"context"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// The per-request cost of a cached token.
func BenchmarkCacheHit(b *testing.B) {
	c := New("bench", func(context.Context) (*oauth2.Token, error) {
		return &oauth2.Token{AccessToken: "tok", Expiry: time.Now().Add(time.Hour)}, nil
	}, nil, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Token(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
