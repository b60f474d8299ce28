package providertest_test

import (
	"context"
	"errors"
	"io"
	"iter"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/providertest"
)

// A suite is only worth running if it fails a provider that breaks the
// contract. TestSuiteCatches runs the suite, in a child process (a failing
// Run fails the test that calls it), against chatProvider broken in one way
// at a time, and checks that exactly the checks for that breakage fail.

const mutantEnv = "PROVIDERTEST_MUTANT"

// mutant wraps chatProvider and overrides what it breaks.
type mutant struct {
	llmbridge.Provider
	newRequest     func(ctx context.Context, req *llmbridge.ChatRequest) (*http.Request, error)
	decodeResponse func(resp *http.Response) (*llmbridge.ChatResponse, error)
	decodeStream   func(resp *http.Response) iter.Seq2[*llmbridge.ChatChunk, error]
	decodeError    func(resp *http.Response) error
}

func (m *mutant) NewRequest(ctx context.Context, req *llmbridge.ChatRequest) (*http.Request, error) {
	if m.newRequest != nil {
		return m.newRequest(ctx, req)
	}
	return m.Provider.NewRequest(ctx, req)
}

func (m *mutant) DecodeResponse(resp *http.Response) (*llmbridge.ChatResponse, error) {
	if m.decodeResponse != nil {
		return m.decodeResponse(resp)
	}
	return m.Provider.DecodeResponse(resp)
}

func (m *mutant) DecodeStream(resp *http.Response) iter.Seq2[*llmbridge.ChatChunk, error] {
	if m.decodeStream != nil {
		return m.decodeStream(resp)
	}
	return m.Provider.DecodeStream(resp)
}

func (m *mutant) DecodeError(resp *http.Response) error {
	if m.decodeError != nil {
		return m.decodeError(resp)
	}
	return m.Provider.DecodeError(resp)
}

// mutants maps a breakage to the harness that has it and the checks that
// must fail ("" is the test calling Run itself).
var mutants = map[string]struct {
	harness func() providertest.Harness
	fails   []string
}{
	"wrong-model": {mutate(func(p llmbridge.Provider, m *mutant) {
		m.newRequest = func(ctx context.Context, req *llmbridge.ChatRequest) (*http.Request, error) {
			r := *req
			r.Model = "prefix/" + r.Model
			return p.NewRequest(ctx, &r)
		}
	}), []string{"NonStream"}},
	"response-closed-twice": {mutate(func(p llmbridge.Provider, m *mutant) {
		m.decodeResponse = func(resp *http.Response) (*llmbridge.ChatResponse, error) {
			defer resp.Body.Close()
			return p.DecodeResponse(resp)
		}
	}), []string{"NonStream"}},
	"response-without-usage": {mutate(func(p llmbridge.Provider, m *mutant) {
		m.decodeResponse = func(resp *http.Response) (*llmbridge.ChatResponse, error) {
			out, err := p.DecodeResponse(resp)
			if out != nil {
				out.Usage = nil
			}
			return out, err
		}
	}), []string{"NonStream"}},
	"stream-without-usage": {mutate(func(p llmbridge.Provider, m *mutant) {
		m.decodeStream = func(resp *http.Response) iter.Seq2[*llmbridge.ChatChunk, error] {
			return func(yield func(*llmbridge.ChatChunk, error) bool) {
				for ch, err := range p.DecodeStream(resp) {
					if ch != nil {
						ch.Usage = nil
					}
					if !yield(ch, err) {
						return
					}
				}
			}
		}
	}), []string{"Stream"}},
	"stream-loses-a-delta": {mutate(func(p llmbridge.Provider, m *mutant) {
		m.decodeStream = func(resp *http.Response) iter.Seq2[*llmbridge.ChatChunk, error] {
			return func(yield func(*llmbridge.ChatChunk, error) bool) {
				for ch, err := range p.DecodeStream(resp) {
					if ch != nil && len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != nil && *ch.Choices[0].Delta.Content == " world" {
						continue
					}
					if !yield(ch, err) {
						return
					}
				}
			}
		}
	}), []string{"Stream"}},
	"stream-leaks-body-on-stop": {mutate(func(p llmbridge.Provider, m *mutant) {
		m.decodeStream = func(resp *http.Response) iter.Seq2[*llmbridge.ChatChunk, error] {
			return func(yield func(*llmbridge.ChatChunk, error) bool) {
				body := resp.Body
				resp.Body = io.NopCloser(body) // the inner stream's closes go nowhere
				for ch, err := range p.DecodeStream(resp) {
					if !yield(ch, err) {
						return // without closing body
					}
				}
				body.Close()
			}
		}
	}), []string{"StreamStopEarlyClosesBody"}},
	"stream-swallows-cut": {mutate(func(p llmbridge.Provider, m *mutant) {
		m.decodeStream = func(resp *http.Response) iter.Seq2[*llmbridge.ChatChunk, error] {
			return func(yield func(*llmbridge.ChatChunk, error) bool) {
				for ch, err := range p.DecodeStream(resp) {
					if err != nil {
						return // as if the stream had ended normally
					}
					if !yield(ch, nil) {
						return
					}
				}
			}
		}
	}), []string{"StreamCutIsAnError"}},
	"error-not-apierror": {mutate(func(p llmbridge.Provider, m *mutant) {
		m.decodeError = func(resp *http.Response) error { return errors.New(p.DecodeError(resp).Error()) }
	}), []string{"ErrorStatusBecomesAPIError"}},
	"error-drops-retry-after": {mutate(func(p llmbridge.Provider, m *mutant) {
		m.decodeError = func(resp *http.Response) error {
			err := p.DecodeError(resp)
			err.(*llmbridge.APIError).RetryAfter = ""
			return err
		}
	}), []string{"ErrorStatusBecomesAPIError"}},
	"no-wire": {func() providertest.Harness {
		h := mutate(func(llmbridge.Provider, *mutant) {})()
		h.Wire = 0
		return h
	}, []string{""}},
	"no-new": {func() providertest.Harness {
		return providertest.Harness{Wire: providertest.WireOpenAI}
	}, []string{""}},
	// Not a mutant: the child process must pass for the unbroken provider,
	// or the failures above prove nothing.
	"none": {mutate(func(llmbridge.Provider, *mutant) {}), nil},
}

// mutate returns a harness for chatProvider with break applied.
func mutate(breakIt func(p llmbridge.Provider, m *mutant)) func() providertest.Harness {
	return func() providertest.Harness {
		return providertest.Harness{Wire: providertest.WireOpenAI, New: func(baseURL, key string) llmbridge.Provider {
			p := &chatProvider{name: "custom", baseURL: baseURL, key: key}
			m := &mutant{Provider: p}
			breakIt(p, m)
			return m
		}}
	}
}

// TestMutant is the child process of TestSuiteCatches.
func TestMutant(t *testing.T) {
	name := os.Getenv(mutantEnv)
	if name == "" {
		t.Skip("run by TestSuiteCatches")
	}
	providertest.Run(t, mutants[name].harness())
}

var failLine = regexp.MustCompile(`(?m)^\s*--- FAIL: TestMutant(/\S+)? `)

func TestSuiteCatches(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process per mutant")
	}
	for name, m := range mutants {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestMutant$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), mutantEnv+"="+name)
			out, err := cmd.CombinedOutput()
			var failed []string
			for _, sub := range failLine.FindAllStringSubmatch(string(out), -1) {
				failed = append(failed, strings.TrimPrefix(sub[1], "/"))
			}
			slices.Sort(failed)
			want := slices.Clone(m.fails)
			if len(want) > 0 && want[0] != "" {
				want = append(want, "") // a failing subtest fails TestMutant too
			}
			slices.Sort(want)
			if !slices.Equal(failed, want) || (err == nil) != (len(want) == 0) {
				t.Errorf("failed checks %q (exit: %v), want %q; output:\n%s", failed, err, want, out)
			}
		})
	}
}
