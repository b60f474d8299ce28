// Package observe is the server's observability bundle: Prometheus
// metrics (internal/metrics), the live feed (internal/live) and alerts
// (internal/alerts), built once and handed to every Bridge the server
// builds, with the handlers that show them — /metrics on the main
// listener or a listener of its own, and /admin/api/live behind the
// admin key. Counters, feed subscribers and alert windows survive
// configuration reloads; Reload takes a new configuration's prices,
// alert rules, metrics token and admin key.
package observe

import (
	"context"
	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/alerts"
	"github.com/llmbridge/llmbridge/internal/live"
	"github.com/llmbridge/llmbridge/internal/metrics"
	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/otelenv"
	"github.com/llmbridge/llmbridge/internal/secret"
	"github.com/llmbridge/llmbridge/internal/usage"
)

// Settings are what one configuration says about observability. New
// takes them at start and Reload on every reload; MetricsAddr and
// MetricsKeyLabels take effect only at start.
type Settings struct {
	// MetricsToken guards /metrics (Bearer only); "" serves it to
	// loopback clients naming a loopback host (metrics.Guard).
	MetricsToken string
	// MetricsAddr, when set (host:port), serves /metrics on a listener of
	// its own instead of the main one.
	MetricsAddr string
	// MetricsKeyLabels adds the per-key series (metrics.Options.KeyLabels).
	MetricsKeyLabels bool
	// AdminKey opens the live feed; "" turns the feed off (404).
	AdminKey string
	// Alerts are the alert rules and webhooks; without rules at start,
	// alerts stay off until a restart.
	Alerts alerts.Config
	// Prices price the records the metrics and the feed count.
	Prices usage.Prices
	// Tracing is OpenTelemetry's configuration (internal/otelenv); it
	// takes effect at start only.
	Tracing otelenv.Settings
}

// Check validates the settings as the server's configuration loader
// reports problems: a metrics address that is not host:port, and a
// metrics token equal to one of otherKeys (the access keys, provider keys
// and admin key). It returns every problem joined, or nil.
func (s *Settings) Check(otherKeys []string) error {
	var errs []error
	if s.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(s.MetricsAddr); err != nil {
			errs = append(errs, fmt.Errorf("LLMBRIDGE_METRICS_ADDR %q: want host:port", s.MetricsAddr))
		}
	}
	if s.MetricsToken != "" && slices.Contains(otherKeys, s.MetricsToken) {
		errs = append(errs, errors.New("LLMBRIDGE_METRICS_TOKEN must differ from every access key, provider key and the admin key"))
	}
	return errors.Join(append(errs, s.Tracing.Check())...)
}

// Options are the sources New reads for the life of the bundle. Every
// func must be safe for concurrent use; nil ones are left out.
type Options struct {
	// Logger reports the metrics listener, alerts and reload warnings
	// (default slog.Default()).
	Logger *slog.Logger
	// RequestLogDropped reads the request log's dropped records
	// (requestlog.Writer.Dropped), for the metrics and alerts.
	RequestLogDropped func() int64
	// UsageQueue reads the usage writer's queue (usage.Writer.Pending).
	UsageQueue func() int
	// Bridge returns the Bridge served now (nil before the first); its
	// open circuits feed target_ejected alert rules.
	Bridge func() *llmbridge.Bridge
	// Budgets lists the keys' spend against their budgets, for
	// key_budget alert rules (called by the alert loop).
	Budgets func() []alerts.Budget
}

// Observability holds the observers and their handlers. Its methods are
// safe for concurrent use, except that Reload and Close must not run
// concurrently with each other (the server reloads one at a time).
type Observability struct {
	log     *slog.Logger
	metrics *metrics.Metrics
	live    *live.Hub
	alerts  *alerts.Alerter // nil without alert rules at start
	prices  atomic.Pointer[usage.Prices]

	metricsRoute atomic.Pointer[http.Handler] // /metrics on the main listener; nil when on its own
	liveRoute    atomic.Pointer[http.Handler] // /admin/api/live behind the admin key
	metricsSrv   *http.Server                 // on Settings.MetricsAddr
	keyLabels    bool
	metricsAddr  string
	tracing      *otelenv.Tracing // nil when off

	// The admin key's era: feeds opened with a key stop when it changes,
	// as the UI's sessions do. Set by setRoutes (start and reloads, one
	// at a time).
	adminDigest secret.Digest
	adminEra    context.Context
	endEra      context.CancelFunc
}

// New builds the observers and handlers from s, starts the metrics
// listener (s.MetricsAddr) and the alert loop. Close stops them.
func New(s Settings, o Options) (*Observability, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	ob := &Observability{log: log, keyLabels: s.MetricsKeyLabels, metricsAddr: s.MetricsAddr}
	ob.prices.Store(&s.Prices)
	ob.metrics = metrics.New(metrics.Options{Cost: ob.cost, KeyLabels: s.MetricsKeyLabels, RequestLogDropped: o.RequestLogDropped, UsageQueue: o.UsageQueue})
	ob.live = live.New(live.Options{Cost: ob.cost})
	ob.metrics.Registry().MustRegister(metrics.Targets(health(o.Bridge)))
	if len(s.Alerts.Rules) > 0 {
		a, err := alerts.New(s.Alerts, alerts.Options{Logger: log, RequestLogDropped: o.RequestLogDropped, Ejected: ejected(o.Bridge), Budgets: o.Budgets})
		if err != nil {
			return nil, err
		}
		ob.alerts = a
	}
	var err error
	if ob.tracing, err = otelenv.Start(context.Background(), s.Tracing); err != nil {
		return nil, err
	}
	if ob.tracing != nil {
		log.Info("OpenTelemetry tracing on", "capture_content", s.Tracing.CaptureContent)
	}
	ob.setRoutes(&s)
	if s.MetricsAddr != "" {
		if err := ob.listenMetrics(&s); err != nil {
			_ = ob.tracing.Close()
			return nil, err
		}
	}
	if ob.alerts != nil {
		ob.alerts.Start()
		log.Info("alerts on", "rules", len(s.Alerts.Rules), "webhooks", len(s.Alerts.Webhooks))
	}
	return ob, nil
}

// listenMetrics serves /metrics on s.MetricsAddr.
func (o *Observability) listenMetrics(s *Settings) error {
	ln, err := net.Listen("tcp", s.MetricsAddr)
	if err != nil {
		return fmt.Errorf("LLMBRIDGE_METRICS_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	// Without a token the listener is open to whoever reaches its
	// address, but a loopback one still refuses foreign Host names (DNS
	// rebinding).
	h := metrics.GuardHost(o.metrics.Handler())
	if s.MetricsToken != "" {
		h = metrics.Guard(o.metrics.Handler(), s.MetricsToken)
	}
	mux.Handle("GET /metrics", h)
	o.metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(o.log.Handler(), slog.LevelWarn)}
	go func() {
		if err := o.metricsSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.log.Error("metrics listener stopped", "err", err)
		}
	}()
	o.log.Info("metrics listening", "addr", "http://"+ln.Addr().String()+"/metrics", "token", s.MetricsToken != "")
	return nil
}

// health reads the targets of the Bridge served (none before the first).
func health(bridge func() *llmbridge.Bridge) func() []llmbridge.TargetHealth {
	return func() []llmbridge.TargetHealth {
		if bridge == nil {
			return nil
		}
		if b := bridge(); b != nil {
			return b.Health()
		}
		return nil
	}
}

// ejected lists the routing targets of bridge() whose circuit is open
// ("provider/model key-…"), for target_ejected alert rules.
func ejected(bridge func() *llmbridge.Bridge) func() []string {
	return func() []string {
		var b *llmbridge.Bridge
		if bridge != nil {
			b = bridge()
		}
		if b == nil {
			return nil
		}
		var out []string
		for _, h := range b.Health() {
			if h.State == llmbridge.StateOpen {
				out = append(out, strings.TrimSpace(h.Provider+"/"+h.Model+" "+h.Key))
			}
		}
		return out
	}
}

// setRoutes (re)builds the guarded handlers of the main listener from the
// metrics token and the admin key.
func (o *Observability) setRoutes(s *Settings) {
	if s.MetricsAddr == "" {
		h := metrics.Guard(o.metrics.Handler(), s.MetricsToken)
		o.metricsRoute.Store(&h)
	}
	var endOld context.CancelFunc
	if d := secret.Sum(s.AdminKey); o.endEra == nil || d != o.adminDigest {
		endOld = o.endEra
		o.adminDigest = d
		o.adminEra, o.endEra = context.WithCancel(context.Background())
	}
	l := adminOnly(s.AdminKey, until(o.adminEra, o.live))
	o.liveRoute.Store(&l)
	if endOld != nil {
		// A rotated admin key also ends the feeds the old one opened — once
		// the new route is in place, so a client that reconnects at once
		// meets the new key.
		endOld()
	}
}

// until serves h with a request context that also ends when ctx does.
func until(ctx context.Context, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(ctx, cancel)
		defer stop()
		h.ServeHTTP(w, r.WithContext(rctx))
	})
}

// BridgeOptions are the observers every Bridge gets (WithObserver).
func (o *Observability) BridgeOptions() []llmbridge.Option {
	opts := []llmbridge.Option{llmbridge.WithObserver(o.metrics), llmbridge.WithObserver(o.live)}
	if o.alerts != nil {
		opts = append(opts, llmbridge.WithObserver(o.alerts))
	}
	return append(opts, o.tracing.Option()...)
}

// ServeLive serves /admin/api/live to the admin key only (Bearer, or
// x-api-key without an Authorization header: secret.StrictCredential),
// answering as the admin API does: 404 while the key is unset, 401
// without it. A feed ends when the admin key changes.
func (o *Observability) ServeLive(w http.ResponseWriter, r *http.Request) {
	(*o.liveRoute.Load()).ServeHTTP(w, r)
}

// LiveHandler serves /admin/api/live to a browser with an admin UI
// session as to the admin key (ServeLive). session is the UI's check
// (ui.Handler.Session): a feed it opened ends when its context does
// (sign-out, expiry, new admin key).
func (o *Observability) LiveHandler(session func(*http.Request) (context.Context, context.CancelFunc, bool)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ctx, cancel, ok := session(r); ok {
			defer cancel()
			o.live.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		o.ServeLive(w, r)
	})
}

// MetricsHandler serves /metrics of the main listener behind
// metrics.Guard, or hands the request to fallback when the metrics have
// a listener of their own (Settings.MetricsAddr).
func (o *Observability) MetricsHandler(fallback http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := o.metricsRoute.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		fallback.ServeHTTP(w, r)
	})
}

// Reload takes a new configuration's prices, alert rules, metrics token
// and admin key. A changed metrics listener or key labels, and alert
// rules added when there were none at start, need a restart: Reload
// logs that.
func (o *Observability) Reload(s Settings) {
	o.prices.Store(&s.Prices)
	o.setRoutes(&s)
	if s.MetricsAddr != o.metricsAddr || s.MetricsKeyLabels != o.keyLabels {
		o.log.Warn("LLMBRIDGE_METRICS_ADDR or LLMBRIDGE_METRICS_KEY_LABELS changed: restart the server to apply it")
	}
	switch {
	case o.alerts != nil:
		if err := o.alerts.Configure(s.Alerts); err != nil {
			o.log.Error("alert rules not reloaded", "err", err)
		}
	case len(s.Alerts.Rules) > 0:
		o.log.Warn("alert rules were added: restart the server to turn alerts on")
	}
}

// Close ends the admin key's live feeds and stops the metrics listener
// and the alert loop.
func (o *Observability) Close() {
	if o.endEra != nil {
		o.endEra()
	}
	if o.metricsSrv != nil {
		_ = o.metricsSrv.Close()
	}
	if o.alerts != nil {
		o.alerts.Close()
	}
	if err := o.tracing.Close(); err != nil {
		o.log.Warn("OpenTelemetry: exporting the last spans", "err", err)
	}
}

// cost prices a record with the current price table.
func (o *Observability) cost(r llmbridge.UsageRecord) (float64, bool) {
	return o.prices.Load().RecordCost(r)
}

// adminOnly serves h to callers presenting the admin key
// (secret.StrictCredential), answering as the admin API does: 404 while
// the key is unset, 401 without it.
func adminOnly(adminKey string, h http.Handler) http.Handler {
	if adminKey == "" {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			openai.WriteError(w, openai.Errorf(http.StatusNotFound, openai.TypeInvalidRequest, "admin_api_disabled",
				"the admin API is off: set LLMBRIDGE_ADMIN_KEY to turn it on"))
		})
	}
	digest := secret.Sum(adminKey)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !digest.Matches(secret.StrictCredential(r.Header)) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="llmbridge-admin"`)
			openai.WriteError(w, openai.Errorf(http.StatusUnauthorized, openai.TypeAuthentication, "invalid_api_key",
				"the admin API needs the admin key (LLMBRIDGE_ADMIN_KEY) as a Bearer token; access keys are not accepted here"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Registry is the registry /metrics serves, for the series of other
// parts (the MCP gateway's).
func (o *Observability) Registry() *prometheus.Registry { return o.metrics.Registry() }

// Publish sends a finished record that did not come through a Bridge
// (an MCP tool call) to the live feed.
func (o *Observability) Publish(r llmbridge.UsageRecord) { o.live.End(r) }
