package metrics

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
)

const (
	rulesDir  = "../../examples/prometheus"
	dashboard = "../../examples/grafana/llmbridge-dashboard.json"
)

// TestBundledAlertRulesPassPromtool checks the Alertmanager rules and
// runs their unit tests with promtool (Debian's prometheus package).
func TestBundledAlertRulesPassPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("SKIPPING: promtool is not installed (apt-get install prometheus)")
		t.Skip("SKIPPING: promtool is not installed")
	}
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = rulesDir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// exported returns the names of every llmbridge_ family a server's
// Metrics exports once it has seen traffic.
func exported(t *testing.T) map[string]bool {
	m := New(Options{KeyLabels: true, RequestLogDropped: func() int64 { return 0 }, UsageQueue: func() int { return 0 },
		Cost: func(llmbridge.UsageRecord) (float64, bool) { return 1, true }})
	rec := llmbridge.UsageRecord{Provider: "p", UpstreamModel: "m", Format: "chat", Stream: true, Status: 502, ErrorCode: "upstream_unreachable",
		Retries: 1, KeyID: "key-1", PromptTokens: 1, TTFT: time.Second}
	m.Start(rec)
	m.FirstByte(rec)
	m.End(rec)
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range fams {
		names[f.GetName()] = true
	}
	return names
}

var seriesName = regexp.MustCompile(`\b(llmbridge_[a-z_]+?)(_bucket|_count|_sum)?\b`)

// checkNames reports names in text that the metrics do not export.
func checkNames(t *testing.T, where, text string, names map[string]bool) int {
	found := 0
	for _, m := range seriesName.FindAllStringSubmatch(text, -1) {
		found++
		if !names[m[1]] {
			t.Errorf("%s uses %s, which is not exported", where, m[0])
		}
	}
	return found
}

func TestDashboardAndRulesUseExportedSeries(t *testing.T) {
	names := exported(t)
	raw, err := os.ReadFile(dashboard)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	if d.Title == "" || len(d.Panels) < 8 {
		t.Fatalf("dashboard %q has %d panels", d.Title, len(d.Panels))
	}
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			checkNames(t, "panel "+p.Title, q.Expr, names)
		}
	}
	rules, err := os.ReadFile(rulesDir + "/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	if n := checkNames(t, "alerts.yml", string(rules), names); n < 5 {
		t.Errorf("alerts.yml names %d llmbridge series", n)
	}
	for _, want := range []string{"llmbridge_requests_total", "llmbridge_request_duration_seconds", "llmbridge_time_to_first_token_seconds",
		"llmbridge_tokens_total", "llmbridge_cost_usd_total", "llmbridge_upstream_errors_total", "llmbridge_retries_total",
		"llmbridge_active_requests", "llmbridge_request_log_dropped_total", "llmbridge_usage_queue_records", "llmbridge_key_requests_total",
		"llmbridge_unauthenticated_requests_total"} {
		if !names[want] {
			t.Errorf("%s is not exported", want)
		}
	}
}
