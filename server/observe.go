package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
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
	"github.com/llmbridge/llmbridge/internal/requestlog"
	"github.com/llmbridge/llmbridge/internal/usage"
)

// observability is what the server observes requests with — Prometheus
// metrics, the live feed and alerts — and the routes that show them. It
// outlives every Bridge: build adds the same observers to each, so
// counters, subscribers and alert windows survive reloads.
type observability struct {
	log     *slog.Logger
	metrics *metrics.Metrics
	live    *live.Hub
	alerts  *alerts.Alerter // nil without alert rules at start
	prices  atomic.Pointer[usage.Prices]

	metricsRoute atomic.Pointer[http.Handler] // /metrics on the main listener; nil when on its own
	liveRoute    atomic.Pointer[http.Handler] // /admin/api/live behind the admin key
	metricsSrv   *http.Server                 // on LLMBRIDGE_METRICS_ADDR
	keyLabels    bool
	metricsAddr  string

	// The admin key's era: feeds opened with a key stop when it changes,
	// as the UI's sessions do. Set by setRoutes (start and reloads, one
	// at a time).
	adminDigest [32]byte
	adminEra    context.Context
	endEra      context.CancelFunc
}

// newObservability builds the observers and handlers from cfg, reading
// the request log's and usage writer's counters (uw may be nil), and
// starts the metrics listener (LLMBRIDGE_METRICS_ADDR) and the alert loop.
// ejected lists the routing targets taken out of service now, for
// target_ejected rules, and budgets the keys' spend for key_budget rules
// (nil: none).
func newObservability(cfg *config, reqlog *requestlog.Writer, uw *usage.Writer, log *slog.Logger, ejected func() []string, budgets func() []alerts.Budget) (*observability, error) {
	o := &observability{log: log, keyLabels: cfg.MetricsKeyLabels, metricsAddr: cfg.MetricsAddr}
	p := cfg.allPrices()
	o.prices.Store(&p)
	mo := metrics.Options{Cost: o.cost, KeyLabels: cfg.MetricsKeyLabels, RequestLogDropped: reqlog.Dropped}
	if uw != nil {
		mo.UsageQueue = uw.Pending
	}
	o.metrics = metrics.New(mo)
	o.live = live.New(live.Options{Cost: o.cost})
	if len(cfg.Alerts.Rules) > 0 {
		a, err := alerts.New(cfg.Alerts, alerts.Options{Logger: log, RequestLogDropped: reqlog.Dropped, Ejected: ejected, Budgets: budgets})
		if err != nil {
			return nil, err
		}
		o.alerts = a
	}
	o.setRoutes(cfg)
	if cfg.MetricsAddr != "" {
		ln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return nil, fmt.Errorf("LLMBRIDGE_METRICS_ADDR: %w", err)
		}
		mux := http.NewServeMux()
		// Without a token the listener is open to whoever reaches its
		// address, but a loopback one still refuses foreign Host names
		// (DNS rebinding).
		h := metrics.GuardHost(o.metrics.Handler())
		if cfg.MetricsToken != "" {
			h = metrics.Guard(o.metrics.Handler(), cfg.MetricsToken)
		}
		mux.Handle("GET /metrics", h)
		o.metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		go func() {
			if err := o.metricsSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics listener stopped", "err", err)
			}
		}()
		log.Info("metrics listening", "addr", "http://"+ln.Addr().String()+"/metrics", "token", cfg.MetricsToken != "")
	}
	if o.alerts != nil {
		o.alerts.Start()
		log.Info("alerts on", "rules", len(cfg.Alerts.Rules), "webhooks", len(cfg.Alerts.Webhooks))
	}
	return o, nil
}

// setRoutes (re)builds the guarded handlers of the main listener from
// cfg's metrics token and admin key.
func (o *observability) setRoutes(cfg *config) {
	if cfg.MetricsAddr == "" {
		h := metrics.Guard(o.metrics.Handler(), cfg.MetricsToken)
		o.metricsRoute.Store(&h)
	}
	if d := sha256.Sum256([]byte(cfg.AdminKey)); o.endEra == nil || d != o.adminDigest {
		if o.endEra != nil {
			o.endEra() // a rotated admin key also ends the feeds the old one opened
		}
		o.adminDigest = d
		o.adminEra, o.endEra = context.WithCancel(context.Background())
	}
	l := adminOnly(cfg.AdminKey, until(o.adminEra, o.live))
	o.liveRoute.Store(&l)
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

// options are the observers every Bridge gets.
func (o *observability) options() []llmbridge.Option {
	opts := []llmbridge.Option{llmbridge.WithObserver(o.metrics), llmbridge.WithObserver(o.live)}
	if o.alerts != nil {
		opts = append(opts, llmbridge.WithObserver(o.alerts))
	}
	return opts
}

// serveLive serves /admin/api/live behind the admin key.
func (o *observability) serveLive(w http.ResponseWriter, r *http.Request) {
	(*o.liveRoute.Load()).ServeHTTP(w, r)
}

// reload takes a new configuration's prices, alert rules, metrics token
// and admin key. The metrics listener and key labels need a restart.
func (o *observability) reload(cfg *config) {
	p := cfg.allPrices()
	o.prices.Store(&p)
	o.setRoutes(cfg)
	if cfg.MetricsAddr != o.metricsAddr || cfg.MetricsKeyLabels != o.keyLabels {
		o.log.Warn("LLMBRIDGE_METRICS_ADDR or LLMBRIDGE_METRICS_KEY_LABELS changed: restart the server to apply it")
	}
	switch {
	case o.alerts != nil:
		if err := o.alerts.Configure(cfg.Alerts); err != nil {
			o.log.Error("alert rules not reloaded", "err", err)
		}
	case len(cfg.Alerts.Rules) > 0:
		o.log.Warn("alert rules were added: restart the server to turn alerts on")
	}
}

// close stops the metrics listener and the alert loop.
func (o *observability) close() {
	if o.endEra != nil {
		o.endEra()
	}
	if o.metricsSrv != nil {
		_ = o.metricsSrv.Close()
	}
	if o.alerts != nil {
		o.alerts.Close()
	}
}

// cost prices a record with the current price table.
func (o *observability) cost(r llmbridge.UsageRecord) (float64, bool) {
	pr, ok := o.prices.Load().Lookup(r.Provider, r.UpstreamModel)
	if !ok {
		return 0, false
	}
	return pr.Cost(&r), true
}

// adminOnly serves h to callers presenting the admin key (Bearer or
// x-api-key), answering as the admin API does: 404 while the key is
// unset, 401 without it.
func adminOnly(adminKey string, h http.Handler) http.Handler {
	if adminKey == "" {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			openai.WriteError(w, openai.Errorf(http.StatusNotFound, openai.TypeInvalidRequest, "admin_api_disabled",
				"the admin API is off: set LLMBRIDGE_ADMIN_KEY to turn it on"))
		})
	}
	digest := sha256.Sum256([]byte(adminKey))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("x-api-key")
		if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			key = strings.TrimSpace(a[7:])
		} else if a != "" {
			key = ""
		}
		d := sha256.Sum256([]byte(key))
		if key == "" || subtle.ConstantTimeCompare(d[:], digest[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="llmbridge-admin"`)
			openai.WriteError(w, openai.Errorf(http.StatusUnauthorized, openai.TypeAuthentication, "invalid_api_key",
				"the admin API needs the admin key (LLMBRIDGE_ADMIN_KEY) as a Bearer token; access keys are not accepted here"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// checkObserve validates the metrics settings (loadConfig calls it).
func (c *config) checkObserve() error {
	var errs []error
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			errs = append(errs, fmt.Errorf("LLMBRIDGE_METRICS_ADDR %q: want host:port", c.MetricsAddr))
		}
	}
	if t := c.MetricsToken; t != "" {
		if slices.Contains(append(append(slices.Clone(c.AccessKeys), c.providerKeys()...), c.AdminKey), t) {
			errs = append(errs, errors.New("LLMBRIDGE_METRICS_TOKEN must differ from every access key, provider key and the admin key"))
		}
	}
	return errors.Join(errs...)
}
