package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestTargets(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(Targets(func() []llmbridge.TargetHealth {
		return []llmbridge.TargetHealth{
			{Provider: "a", Model: "m", Key: "key-1", State: llmbridge.StateOpen, CheckedAt: time.Unix(1, 0), CheckError: "health check: HTTP 503"},
			{Provider: "b", Model: "m", State: llmbridge.StateClosed},
		}
	}))
	want := `
# HELP llmbridge_target_ejected 1 while the target (provider, model, provider key id) is ejected: its circuit is open.
# TYPE llmbridge_target_ejected gauge
llmbridge_target_ejected{key="key-1",model="m",provider="a"} 1
llmbridge_target_ejected{key="",model="m",provider="b"} 0
# HELP llmbridge_target_health_check_failing 1 when the target's last active health check failed, 0 when it passed; absent for targets without a check.
# TYPE llmbridge_target_health_check_failing gauge
llmbridge_target_health_check_failing{key="key-1",model="m",provider="a"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}
