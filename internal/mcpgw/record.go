package mcpgw

import (
	"net/http"
	"sync"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/prometheus/client_golang/prometheus"
)

// The status of a tool call, as counted.
const (
	StatusOK        = "ok"         // the tool answered
	StatusToolError = "tool_error" // the tool answered with isError: true
	StatusError     = "error"      // the call failed: transport, timeout, crash or a JSON-RPC error
)

// Call is one finished tool call, as the observers, metrics and the
// admin API's recent calls see it. It holds no argument or result: they
// may be anything the client or the tool chose.
type Call struct {
	Time      time.Time     `json:"time"`
	KeyID     string        `json:"key_id,omitempty"`
	Server    string        `json:"server"`
	Tool      string        `json:"tool"` // the server's name of the tool; "other" for a name the server never listed
	Status    string        `json:"status"`
	Duration  time.Duration `json:"duration_ns"`
	Error     string        `json:"error,omitempty"` // what the client was told, for StatusError
	RequestID string        `json:"request_id"`      // unique, minted by the gateway (llmbridge.NewRecordID)
}

// UsageRecord is the call as the usage store and the live feed record a
// request, the same (ID = RequestID) every time it is called: Format "mcp", Provider the server, Model "<server>__<tool>",
// UpstreamModel the tool ("other" for a name the server never listed); Status 200 for an answer (ErrorCode
// "tool_error" when the tool reported an error), 502 for a failure.
func (c Call) UsageRecord() llmbridge.UsageRecord {
	id := c.RequestID // minted by the gateway like a record id: one id wherever the call is recorded
	if id == "" {
		id = llmbridge.NewRecordID(c.Time)
	}
	r := llmbridge.UsageRecord{ID: id, Time: c.Time, RequestID: c.RequestID, KeyID: c.KeyID,
		Method: http.MethodPost, Path: "/mcp", Format: "mcp", Provider: c.Server, Model: joinName(c.Server, c.Tool),
		UpstreamModel: c.Tool, Status: http.StatusOK, Duration: c.Duration}
	switch c.Status {
	case StatusToolError:
		r.ErrorCode = StatusToolError
	case StatusError:
		r.Status, r.Error, r.ErrorCode = http.StatusBadGateway, c.Error, "mcp_call_failed"
	}
	return r
}

// metrics are the gateway's Prometheus series.
type metrics struct {
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmbridge_mcp_tool_calls_total",
			Help: "MCP tool calls through /mcp by server, tool and status (ok, tool_error: the tool answered isError, error: the call failed)."},
			[]string{"server", "tool", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "llmbridge_mcp_tool_call_duration_seconds",
			Help:    "Duration of MCP tool calls through /mcp by server and status.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}},
			[]string{"server", "status"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.calls, m.duration} {
			if err := reg.Register(c); err != nil {
				// A second Gateway on the same registry (a reload) counts
				// into the first one's series.
				if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
					switch v := are.ExistingCollector.(type) {
					case *prometheus.CounterVec:
						m.calls = v
					case *prometheus.HistogramVec:
						m.duration = v
					}
				}
			}
		}
	}
	return m
}

// recent keeps the last calls for the admin API.
type recent struct {
	mu   sync.Mutex
	buf  []Call
	next int
	full bool
}

const recentCalls = 100

func (r *recent) add(c Call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.buf == nil {
		r.buf = make([]Call, recentCalls)
	}
	r.buf[r.next] = c
	r.next = (r.next + 1) % recentCalls
	r.full = r.full || r.next == 0
}

// list returns the calls, newest first.
func (r *recent) list() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.next
	if r.full {
		n = recentCalls
	}
	out := make([]Call, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, r.buf[(r.next-i+recentCalls)%recentCalls])
	}
	return out
}

// otherTool is what a call of a tool the server never listed is
// recorded as: the name is the client's, not a label, a usage record or
// a log line a client may mint.
const otherTool = "other"

// record counts a finished call everywhere. Observers are called on the
// caller's goroutine and must not block; a panic in one is logged.
func (g *Gateway) record(c Call) {
	g.metrics.calls.WithLabelValues(c.Server, c.Tool, c.Status).Inc()
	g.metrics.duration.WithLabelValues(c.Server, c.Status).Observe(c.Duration.Seconds())
	g.recent.add(c)
	for _, o := range g.opts.Observers {
		func() {
			defer func() {
				if p := recover(); p != nil {
					g.log.Error("MCP call observer panicked", "panic", p)
				}
			}()
			o(c)
		}()
	}
}
