package metrics

import (
	"github.com/llmbridge/llmbridge"
	"github.com/prometheus/client_golang/prometheus"
)

// targets reports every routing target's circuit and active health check
// at each scrape, from the Bridge served then.
type targets struct {
	health func() []llmbridge.TargetHealth
}

var (
	ejectedDesc = prometheus.NewDesc("llmbridge_target_ejected",
		"1 while the target (provider, model, provider key id) is ejected: its circuit is open.", []string{"provider", "model", "key"}, nil)
	checkDesc = prometheus.NewDesc("llmbridge_target_health_check_failing",
		"1 when the target's last active health check failed, 0 when it passed; absent for targets without a check.", []string{"provider", "model", "key"}, nil)
)

// Targets returns a collector of llmbridge_target_ejected and
// llmbridge_target_health_check_failing for the targets health lists
// (Bridge.Health of the Bridge served; nil or empty: no series). Its
// labels are configuration (providers, models, key ids), so their number
// is bounded by it.
func Targets(health func() []llmbridge.TargetHealth) prometheus.Collector {
	return targets{health: health}
}

func (targets) Describe(ch chan<- *prometheus.Desc) { ch <- ejectedDesc; ch <- checkDesc }

func (t targets) Collect(ch chan<- prometheus.Metric) {
	for _, h := range t.health() {
		ejected := 0.0
		if h.State == llmbridge.StateOpen {
			ejected = 1
		}
		ch <- prometheus.MustNewConstMetric(ejectedDesc, prometheus.GaugeValue, ejected, h.Provider, h.Model, h.Key)
		if !h.CheckedAt.IsZero() {
			failing := 0.0
			if h.CheckError != "" {
				failing = 1
			}
			ch <- prometheus.MustNewConstMetric(checkDesc, prometheus.GaugeValue, failing, h.Provider, h.Model, h.Key)
		}
	}
}
