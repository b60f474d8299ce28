package keys

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
)

// Authenticate, from the headers alone, and Admit decide who is calling
// alike for every kind of key, with and without access keys (open mode).
func TestAuthenticateAgreesWithAdmit(t *testing.T) {
	s := NewStore(openStore(t, sqlitePath(t)))
	_, live := create(t, s, Params{Name: ptr("live")})
	_, limited := create(t, s, Params{Name: ptr("limited"), Models: &[]string{"deepseek/*"}, RPM: ptr[int64](1)})
	revoked, revokedSecret := create(t, s, Params{Name: ptr("revoked")})
	_, expired := create(t, s, Params{Name: ptr("expired"), ExpiresAt: ptr(time.Now().Add(-time.Minute).UTC().Format(time.RFC3339))})
	if _, err := s.Revoke(context.Background(), revoked.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	keys := []struct {
		name, header, value string
		// closed, open: let through, with access keys and without (open mode).
		closed, open bool
	}{
		{"virtual", "Authorization", "Bearer " + live, true, true},
		{"virtual in x-api-key", "X-Api-Key", live, true, true},
		// Authenticate looks at no model and no limit: Admit refuses this
		// one for the model, later.
		{"virtual limited to other models", "Authorization", "Bearer " + limited, true, true},
		{"access key", "Authorization", "Bearer static-key", true, true}, // open: not a key at all, anonymous
		{"revoked", "Authorization", "Bearer " + revokedSecret, false, false},
		{"expired", "Authorization", "Bearer " + expired, false, false},
		{"unknown sk-lb- secret", "Authorization", "Bearer " + SecretPrefix + "nope", false, false},
		{"unknown other key", "Authorization", "Bearer wrong", false, true},
		{"malformed Authorization", "Authorization", "Basic " + live, false, true},
		{"none", "", "", false, true},
	}
	for _, mode := range []struct {
		name   string
		access []string
	}{{"closed", []string{"static-key"}}, {"open", nil}} {
		a := newAdmitter(t, Options{Store: s, AccessKeys: mode.access})
		for _, k := range keys {
			t.Run(mode.name+"/"+k.name, func(t *testing.T) {
				h := http.Header{}
				if k.header != "" {
					h.Set(k.header, k.value)
				}
				authErr := a.Authenticate(context.Background(), &llmbridge.Request{ID: "req_1", Format: "chat", Header: h})
				r := &llmbridge.Request{ID: "req_1", Format: "chat", Model: "openai/gpt-4o", Header: h}
				ticket, admitErr := a.Admit(context.Background(), r)
				if ticket != nil {
					ticket.Settle(llmbridge.UsageRecord{})
				}
				want := k.closed
				if mode.access == nil {
					want = k.open
				}
				var ae *llmbridge.APIError
				switch {
				case want && authErr != nil:
					t.Fatalf("Authenticate refused: %v", authErr)
				case !want && (!errors.As(authErr, &ae) || ae.Status != 401 || ae.Code != "invalid_api_key"):
					t.Fatalf("Authenticate: %v, want the 401 invalid_api_key", authErr)
				case !want && (admitErr == nil || admitErr.Error() != authErr.Error()):
					t.Fatalf("Admit: %v, Authenticate: %v; want the same refusal", admitErr, authErr)
				case want && admitErr != nil && !errors.As(admitErr, &ae):
					t.Fatalf("Admit: %v", admitErr)
				case want && admitErr != nil && ae.Status == 401:
					t.Fatalf("Admit refused with 401 what Authenticate let through: %v", admitErr)
				}
			})
		}
	}
	if err := newAdmitter(t, Options{Store: s}).Authenticate(context.Background(), &llmbridge.Request{Format: "chat"}); err != nil {
		t.Errorf("in-process: %v", err)
	}
}
