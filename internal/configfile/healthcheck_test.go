package configfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
)

func TestHealthChecks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte(`providers:
  - {name: a, api_key: k, models: [m1, m2], health_check: {}}
  - {name: b, api_key: k, health_check: {interval: 1m, model: x}}
  - {name: c, api_key: k, health_check: {interval: 10ms, model: x}}
  - {name: d, api_key: k, health_check: {interval: 1m}}
routes:
  - name: r
    targets:
      - {model: a/m9, health_check: {interval: 45s}}
      - {model: bare, health_check: {}}
`), 0o600)
	f, err := Read(path, nil)
	for _, want := range []string{"provider 3 (c): health_check interval 10ms is under 1s", "provider 4 (d): health_check needs a model", "route 1 (r) target 2 (bare): health_check needs a model"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	want := []llmbridge.HealthCheck{
		{Target: llmbridge.Target{Provider: "a", Model: "m1"}, Interval: DefaultCheckInterval},
		{Target: llmbridge.Target{Provider: "b", Model: "x"}, Interval: time.Minute},
		{Target: llmbridge.Target{Provider: "a", Model: "m9"}, Interval: 45 * time.Second},
	}
	if f == nil || len(f.HealthChecks) != len(want) {
		t.Fatalf("%+v", f)
	}
	for i, hc := range f.HealthChecks {
		if hc != want[i] {
			t.Errorf("check %d: %+v, want %+v", i, hc, want[i])
		}
	}
}
