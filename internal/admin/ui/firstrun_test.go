package ui

import (
	"net/http"
	"strings"
	"testing"
)

// The one-time link signs one browser in, once; and an admin key set
// later (a reload) disarms a link nobody used: whoever can read the
// first run's log must not sign in after the operator chose a key.
func TestFirstRunLinkOnceAndDisarmedByANewKey(t *testing.T) {
	f := newFixture(t, false)
	open := func(link string) int {
		resp, err := f.client(t).Get(f.srv.URL + link)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	link := f.h.FirstRun()
	if got := open(link); got != http.StatusSeeOther {
		t.Fatalf("first open %d", got)
	}
	if got := open(link); got != http.StatusForbidden {
		t.Fatalf("second open %d", got)
	}
	link = f.h.FirstRun()
	f.h.Configure(adminKey, nil) // the same key: the link stays
	f.h.Configure("another-admin-key-0123456789", nil)
	if got := open(link); got != http.StatusForbidden {
		t.Fatalf("the link still signs in after the admin key changed: %d", got)
	}
	if strings.Contains(f.logs.String(), strings.TrimPrefix(link, FirstRunPath+"?token=")) {
		t.Error("the token was logged")
	}
}
