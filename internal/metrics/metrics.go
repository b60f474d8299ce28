package metrics

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/llmbridge/llmbridge"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Buckets are the histogram buckets of request durations and times to
// first token, in seconds: LLM answers take from tens of milliseconds (a
// cached or refused request) to minutes (a long reasoning stream).
var Buckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 45, 60, 90, 120}

// The label values of the token type.
var tokenTypes = [...]string{"prompt", "completion", "cached", "cache_write", "reasoning"}

// Options configure a Metrics. Zero values take the defaults.
type Options struct {
	// Cost prices a finished record in USD; ok is false when its model
	// has no price, and nothing is added to llmbridge_cost_usd_total. It
	// is called on the request goroutine and must be fast and safe for
	// concurrent use; the server passes a lookup into the price table it
	// swaps on reload. nil: no cost is counted.
	Cost func(r llmbridge.UsageRecord) (usd float64, ok bool)
	// KeyLabels adds the per-key series (llmbridge_key_*{key_id}), labelled
	// by the access key's fingerprint (llmbridge.KeyID), never the key.
	KeyLabels bool
	// MaxModels bounds the distinct model label values (default 100);
	// later new models are counted as "other". MaxKeys does the same for
	// key_id (default 1000).
	MaxModels, MaxKeys int
	// RequestLogDropped, if set, is read at every scrape as
	// llmbridge_request_log_dropped_total (requestlog.Writer.Dropped).
	RequestLogDropped func() int64
	// UsageQueue, if set, is read at every scrape as
	// llmbridge_usage_queue_records (usage.Writer.Pending).
	UsageQueue func() int
}

// Metrics is an llmbridge.Observer that counts requests into its own
// Prometheus registry. It is safe for concurrent use, never blocks, and is
// meant to be added to every Bridge a server builds (WithObserver), so
// the counters survive configuration reloads.
type Metrics struct {
	reg  *prometheus.Registry
	opts Options

	requests, tokens, cost      *prometheus.CounterVec
	errors, retries             *prometheus.CounterVec
	duration, ttft              *prometheus.HistogramVec
	active                      *prometheus.GaugeVec
	cacheRequests, cacheSaved   *prometheus.CounterVec
	keyRequests, keyTokens, key *prometheus.CounterVec
	unauth                      *prometheus.CounterVec
	unauthByStatus              map[int]prometheus.Counter // 401 and 429, resolved up front

	mu      sync.RWMutex
	series  map[seriesKey]*series          // by provider, admitted model, format
	actives map[activeKey]prometheus.Gauge // active's children, by format and streaming
	keys    map[string]*keySeries          // by admitted key id
	models  map[string]bool                // model label values admitted
}

// activeKey names a child of llmbridge_active_requests.
type activeKey struct {
	format string
	stream bool
}

// seriesKey names the series of one provider, model and format.
type seriesKey struct{ provider, model, format string }

// series are the resolved children of one seriesKey, so a request costs
// map lookups of ours instead of label hashing in the vectors.
type series struct {
	model    string                // the model label value
	byClass  [6]prometheus.Counter // requests by status class (index 2, 4, 5 resolved up front)
	duration prometheus.Observer
	ttft     prometheus.Observer
	tokens   [len(tokenTypes)]prometheus.Counter
	cost     prometheus.Counter
}

type keySeries struct {
	label   string // the key_id label value
	byClass [6]prometheus.Counter
	tokens  [len(tokenTypes)]prometheus.Counter
	cost    prometheus.Counter
}

// New returns a Metrics with its registry, holding the Go runtime and
// process collectors and every llmbridge_* series.
func New(o Options) *Metrics {
	if o.MaxModels <= 0 {
		o.MaxModels = 100
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = 1000
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(), opts: o,
		series: map[seriesKey]*series{}, keys: map[string]*keySeries{}, models: map[string]bool{}, actives: map[activeKey]prometheus.Gauge{},
	}
	m.registerRequests()
	m.registerCache()
	m.registerUnauthenticated()
	if o.KeyLabels {
		m.registerKeys()
	}
	m.registerQueues()
	return m
}

// registerRequests creates and registers the per-request series (with
// the Go runtime and process collectors).
func (m *Metrics) registerRequests() {
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmbridge_requests_total",
		Help: "Requests finished, by the provider that answered (or was tried last), upstream model, client format and status class."},
		[]string{"provider", "model", "format", "status_class"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "llmbridge_request_duration_seconds",
		Help: "Time from a request's arrival to the end of its response.", Buckets: Buckets},
		[]string{"provider", "model", "format"})
	m.ttft = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "llmbridge_time_to_first_token_seconds",
		Help: "Time from a streamed request's arrival to its first event sent to the client.", Buckets: Buckets},
		[]string{"provider", "model", "format"})
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmbridge_tokens_total",
		Help: "Tokens used, by type: prompt and completion; cached, cache_write (part of prompt) and reasoning (part of completion)."},
		[]string{"provider", "model", "type"})
	m.cost = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmbridge_cost_usd_total",
		Help: "Cost in USD of the requests of priced models, from the price table."},
		[]string{"provider", "model"})
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmbridge_upstream_errors_total",
		Help: "Requests that ended with an upstream failure, by kind: connect, timeout, 4xx, 429, 5xx, stream_cut. Attempts that were retried count in llmbridge_retries_total."},
		[]string{"provider", "kind"})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmbridge_retries_total",
		Help: "Upstream attempts after the first (retries and failovers), by the provider of the request."},
		[]string{"provider"})
	m.active = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "llmbridge_active_requests",
		Help: "Requests routed and not yet finished."},
		[]string{"format", "stream"})
	m.reg.MustRegister(m.requests, m.duration, m.ttft, m.tokens, m.cost, m.errors, m.retries, m.active,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// registerCache creates and registers the response cache's series.
func (m *Metrics) registerCache() {
	m.cacheRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmbridge_cache_requests_total",
		Help: "Requests the response cache saw, by result: hit (answered from the cache), miss (looked up, not found), bypass (not cacheable or Cache-Control)."},
		[]string{"result"})
	m.cacheSaved = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmbridge_cache_saved_usd_total",
		Help: "Cost in USD the response cache's hits saved: the price of the cached answers' tokens."},
		[]string{"provider", "model"})
	m.reg.MustRegister(m.cacheRequests, m.cacheSaved)
}

// registerUnauthenticated creates and registers the count of requests
// refused before the caller was known. Both statuses are exported at 0
// from the start, so rate() sees the first refusal.
func (m *Metrics) registerUnauthenticated() {
	m.unauth = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmbridge_unauthenticated_requests_total",
		Help: "Requests refused before the caller was known, by status: 401 (no key or a wrong one), 429 (a source throttled after failed keys). Not counted in llmbridge_requests_total."},
		[]string{"status"})
	m.unauthByStatus = map[int]prometheus.Counter{}
	for _, st := range []int{http.StatusUnauthorized, http.StatusTooManyRequests} {
		m.unauthByStatus[st] = m.unauth.WithLabelValues(strconv.Itoa(st))
	}
	m.reg.MustRegister(m.unauth)
}

// registerKeys creates and registers the per-key series (Options.KeyLabels).
func (m *Metrics) registerKeys() {
	m.keyRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmbridge_key_requests_total",
		Help: "Requests finished, by access key fingerprint and status class."}, []string{"key_id", "status_class"})
	m.keyTokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmbridge_key_tokens_total",
		Help: "Tokens used, by access key fingerprint and type."}, []string{"key_id", "type"})
	m.key = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmbridge_key_cost_usd_total",
		Help: "Cost in USD of priced requests, by access key fingerprint."}, []string{"key_id"})
	m.reg.MustRegister(m.keyRequests, m.keyTokens, m.key)
}

// registerQueues registers the series read from the server's writers at
// every scrape, for those of Options.RequestLogDropped and UsageQueue set.
func (m *Metrics) registerQueues() {
	if f := m.opts.RequestLogDropped; f != nil {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "llmbridge_request_log_dropped_total",
			Help: "Request log records dropped because the log's queue was full."}, func() float64 { return float64(f()) }))
	}
	if f := m.opts.UsageQueue; f != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "llmbridge_usage_queue_records",
			Help: "Usage records waiting to be written to the usage store."}, func() float64 { return float64(f()) }))
	}
}

// Registry returns the registry the metrics are in, for tests and for
// adding collectors of the server's own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format. It
// does no access control: wrap it in Guard.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Start counts a routed request as active.
func (m *Metrics) Start(r llmbridge.UsageRecord) {
	m.activeGauge(r.Format, r.Stream).Inc()
}

// FirstByte observes a stream's time to first token.
func (m *Metrics) FirstByte(r llmbridge.UsageRecord) {
	if r.Stream {
		m.lookup(r.Provider, r.UpstreamModel, r.Format).ttft.Observe(r.TTFT.Seconds())
	}
}

// End counts a finished request: its status, duration, tokens, cost,
// upstream error and retries, and ends it being active if it was
// routed. (A request is routed, and Start called, exactly when its record
// names a provider.) A request refused before its caller was known
// (Unauthenticated) counts only in llmbridge_unauthenticated_requests_total:
// anyone can send those by the thousand, and they must not drown the
// rates and latencies of the traffic the bridge serves.
func (m *Metrics) End(r llmbridge.UsageRecord) {
	if r.Unauthenticated {
		if c := m.unauthByStatus[r.Status]; c != nil {
			c.Inc()
		} else {
			m.unauth.WithLabelValues(statusLabel(r.Status)).Inc()
		}
		return
	}
	if r.Provider != "" {
		m.activeGauge(r.Format, r.Stream).Dec()
	}
	s := m.lookup(r.Provider, r.UpstreamModel, r.Format)
	if c := byClass(&s.byClass, r.Status); c != nil {
		c.Inc()
	} else { // an unusual status: no resolved child
		m.requests.WithLabelValues(r.Provider, s.model, r.Format, statusClass(r.Status)).Inc()
	}
	s.duration.Observe(r.Duration.Seconds())
	counts := [len(tokenTypes)]int{r.PromptTokens, r.CompletionTokens, r.CachedTokens, r.CacheWriteTokens, r.ReasoningTokens}
	for i, n := range counts {
		if n > 0 {
			s.tokens[i].Add(float64(n))
		}
	}
	usd, priced := 0.0, false
	if m.opts.Cost != nil && r.Provider != "" {
		if usd, priced = m.opts.Cost(r); priced && usd > 0 {
			s.cost.Add(usd)
		}
	}
	if kind := ErrorKind(&r); kind != "" {
		m.errors.WithLabelValues(r.Provider, kind).Inc()
	}
	if r.Cache != "" {
		m.cacheRequests.WithLabelValues(r.Cache).Inc()
		if saved := r.SavedRecord(); r.Cache == llmbridge.CacheHit && m.opts.Cost != nil {
			if usd, ok := m.opts.Cost(saved); ok && usd > 0 {
				m.cacheSaved.WithLabelValues(r.Provider, s.model).Add(usd)
			}
		}
	}
	if r.Retries > 0 {
		m.retries.WithLabelValues(r.Provider).Add(float64(r.Retries))
	}
	if m.opts.KeyLabels && r.KeyID != "" {
		m.endKey(&r, counts, usd, priced)
	}
}

func (m *Metrics) endKey(r *llmbridge.UsageRecord, counts [len(tokenTypes)]int, usd float64, priced bool) {
	k := m.lookupKey(r.KeyID)
	if c := byClass(&k.byClass, r.Status); c != nil {
		c.Inc()
	} else {
		m.keyRequests.WithLabelValues(k.label, statusClass(r.Status)).Inc()
	}
	for i, n := range counts {
		if n > 0 {
			k.tokens[i].Add(float64(n))
		}
	}
	if priced && usd > 0 {
		k.cost.Add(usd)
	}
}

// byClass returns the resolved counter of status's class, or nil.
func byClass(list *[6]prometheus.Counter, status int) prometheus.Counter {
	if class := status / 100; class >= 0 && class < len(list) {
		return list[class]
	}
	return nil
}

// statusLabel is an HTTP status as a label value, "other" outside
// 100…599, so the label stays bounded whatever a record holds.
func statusLabel(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status)
}

// statusClass is "2xx" for 200 …; 499 (client went away) is "4xx".
func statusClass(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status/100) + "xx"
}

// activeGauge is the llmbridge_active_requests child of format and
// stream, resolved once (a request's Start and End then hash no labels;
// formats are the bridge's few client formats).
func (m *Metrics) activeGauge(format string, stream bool) prometheus.Gauge {
	k := activeKey{format, stream}
	m.mu.RLock()
	g := m.actives[k]
	m.mu.RUnlock()
	if g != nil {
		return g
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if g = m.actives[k]; g == nil {
		g = m.active.WithLabelValues(format, strconv.FormatBool(stream))
		m.actives[k] = g
	}
	return g
}

// lookup returns the series of provider, model and format, creating them
// the first time. Past MaxModels distinct models a new model's requests
// go to the "other" series, which is looked up without being cached under
// the model's own name (so the cache stays bounded too).
func (m *Metrics) lookup(provider, model, format string) *series {
	k := seriesKey{provider, model, format}
	m.mu.RLock()
	s := m.series[k]
	m.mu.RUnlock()
	if s != nil {
		return s
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k.model = m.admitModel(model)
	if s = m.series[k]; s != nil {
		return s
	}
	s = &series{
		model:    k.model,
		duration: m.duration.WithLabelValues(provider, k.model, format),
		ttft:     m.ttft.WithLabelValues(provider, k.model, format),
		cost:     m.cost.WithLabelValues(provider, k.model),
	}
	for _, class := range []int{2, 4, 5} {
		s.byClass[class] = m.requests.WithLabelValues(provider, k.model, format, statusClass(class*100))
	}
	for i, t := range tokenTypes {
		s.tokens[i] = m.tokens.WithLabelValues(provider, k.model, t)
	}
	m.series[k] = s
	return s
}

// admitModel returns model's label value: itself if it is admitted or
// there is room, "other" otherwise. m.mu is held for writing.
func (m *Metrics) admitModel(model string) string {
	if m.models[model] {
		return model
	}
	if len(m.models) >= m.opts.MaxModels {
		return "other"
	}
	m.models[model] = true
	return model
}

func (m *Metrics) lookupKey(id string) *keySeries {
	m.mu.RLock()
	k := m.keys[id]
	m.mu.RUnlock()
	if k != nil {
		return k
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	label := id
	if len(m.keys) >= m.opts.MaxKeys {
		label = "other"
	}
	if k = m.keys[label]; k != nil {
		return k
	}
	k = &keySeries{label: label, cost: m.key.WithLabelValues(label)}
	for _, class := range []int{2, 4, 5} {
		k.byClass[class] = m.keyRequests.WithLabelValues(label, statusClass(class*100))
	}
	for i, t := range tokenTypes {
		k.tokens[i] = m.keyTokens.WithLabelValues(label, t)
	}
	m.keys[label] = k
	return k
}

// ErrorKind names the upstream failure a finished request ended with, as
// llmbridge_upstream_errors_total counts it, or "" when it did not end
// with one (success, a refusal before routing, the client going away):
//
//   - stream_cut: the answer had started (status < 400) and ended with an
//     error — the upstream cut the stream, sent an error event, or fell
//     silent past the idle timeout;
//   - connect: upstream_unreachable or proxy_unreachable;
//   - timeout: upstream_timeout or upstream_idle_timeout before any answer;
//   - 429, 4xx, 5xx: the upstream's error status.
func ErrorKind(r *llmbridge.UsageRecord) string {
	if r.Provider == "" || r.Status == llmbridge.StatusClientClosedRequest {
		return ""
	}
	if r.Status < 400 {
		if r.Error != "" {
			return "stream_cut"
		}
		return ""
	}
	switch r.ErrorCode {
	case "upstream_unreachable", "proxy_unreachable":
		return "connect"
	case "upstream_timeout", "upstream_idle_timeout":
		return "timeout"
	case "request_build_failed":
		return "" // the bridge's own failure; nothing reached the upstream
	}
	switch {
	case r.Status == http.StatusTooManyRequests:
		return "429"
	case r.Status >= 500:
		return "5xx"
	}
	return "4xx"
}
