package llmbridge

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"time"
)

// keyring is a built-in provider configured with several keys
// (ProviderConfig.APIKeys): one provider value per key behind one name.
// The Bridge gives them one transport and spreads requests over them; used
// directly, it behaves as its first key's provider.
type keyring struct {
	keys []Provider
	errs []error
}

// withKeys builds mk(cfg), or a keyring of one mk per key when cfg has
// several keys (APIKey, if set, first, then APIKeys).
func withKeys(cfg ProviderConfig, mk func(ProviderConfig) Provider) Provider {
	if len(cfg.APIKeys) == 0 {
		return mk(cfg)
	}
	list := cfg.APIKeys
	if cfg.APIKey != "" {
		list = append([]string{cfg.APIKey}, list...)
	}
	kr := &keyring{}
	seen := map[string]bool{}
	for i, k := range list {
		switch {
		case k == "":
			kr.errs = append(kr.errs, fmt.Errorf("key %d of the list is empty", i+1))
			continue
		case seen[k]:
			kr.errs = append(kr.errs, fmt.Errorf("key %d of the list appears twice", i+1))
			continue
		}
		seen[k] = true
		c := cfg
		c.APIKey, c.APIKeys = k, nil
		kr.keys = append(kr.keys, mk(c))
	}
	if len(kr.keys) == 0 {
		c := cfg
		c.APIKey, c.APIKeys = "", nil
		kr.keys = append(kr.keys, mk(c)) // for its name in the error
	}
	return kr
}

func (k *keyring) Name() string { return k.keys[0].Name() }

func (k *keyring) NewRequest(ctx context.Context, req *ChatRequest) (*http.Request, error) {
	return k.keys[0].NewRequest(ctx, req)
}

func (k *keyring) DecodeResponse(resp *http.Response) (*ChatResponse, error) {
	return k.keys[0].DecodeResponse(resp)
}

func (k *keyring) DecodeStream(resp *http.Response) iter.Seq2[*ChatChunk, error] {
	return k.keys[0].DecodeStream(resp)
}

func (k *keyring) DecodeError(resp *http.Response) error { return k.keys[0].DecodeError(resp) }

// Models lists the first key's models (all keys share the config).
func (k *keyring) Models() []string {
	if l, ok := k.keys[0].(ModelLister); ok {
		return l.Models()
	}
	return nil
}

// Validate reports the key list's problems and each key's provider's.
func (k *keyring) Validate() error {
	errs := make([]error, 0, len(k.errs)+1)
	for _, e := range k.errs {
		errs = append(errs, fmt.Errorf("provider %s: %w", k.Name(), e))
	}
	for _, p := range k.keys {
		if v, ok := p.(Validator); ok {
			if err := v.Validate(); err != nil {
				errs = append(errs, err)
				break // the same config: once is enough
			}
		}
	}
	return errors.Join(errs...)
}

// providerKeys returns the per-key providers of p (one for most).
func providerKeys(p Provider) []*providerKey {
	ps := []Provider{p}
	if kr, ok := p.(*keyring); ok {
		ps = kr.keys
	}
	out := make([]*providerKey, len(ps))
	for i, q := range ps {
		out[i] = &providerKey{p: q}
		if s, ok := q.(interface{ APIKey() string }); ok && s.APIKey() != "" {
			out[i].id = KeyID(s.APIKey())
		}
	}
	return out
}

// secrets returns the provider keys p can report.
func secrets(p Provider) []string {
	var out []string
	for _, k := range providerKeys(p) {
		if s, ok := k.p.(interface{ APIKey() string }); ok && s.APIKey() != "" {
			out = append(out, s.APIKey())
		}
	}
	return out
}

// keyOrder appends the keys of up to try for one request: the usable
// ones in rotation (each request starts one further), then, only when
// none is usable, the resting ones, so that the client gets the
// upstream's own answer rather than nothing.
func (up *upstream) keyOrder(dst []*providerKey, now time.Time) []*providerKey {
	n := len(up.keys)
	if n == 1 {
		return append(dst, up.keys[0])
	}
	start := int(up.next.Add(1) % uint64(n))
	mark := len(dst)
	for i := range n {
		if k := up.keys[(start+i)%n]; k.usable(now) {
			dst = append(dst, k)
		}
	}
	if len(dst) == mark {
		for i := range n {
			dst = append(dst, up.keys[(start+i)%n])
		}
	}
	return dst
}

// takeOut marks k refused after a 401/403, logging it once.
func (k *providerKey) takeOut(log interface{ Warn(string, ...any) }, provider string, status int) {
	k.mu.Lock()
	first := !k.refused
	k.refused = true
	k.mu.Unlock()
	if first {
		log.Warn("provider key refused: taken out while other keys serve", "provider", provider, "key", k.id, "status", status)
	}
}

// coolDown rests k until now+d after a 429.
func (k *providerKey) coolDown(now time.Time, d time.Duration) {
	k.mu.Lock()
	if u := now.Add(d); u.After(k.coolUntil) {
		k.coolUntil = u
	}
	k.mu.Unlock()
}
