// Package metrics exports the bridge's Prometheus metrics. A Metrics is an
// llmbridge.Observer (Start, FirstByte, End) that counts every request into
// its own prometheus.Registry, and Handler serves that registry in the
// Prometheus text format behind the token-or-loopback rule of Guard.
//
// The series:
//
//	llmbridge_requests_total{provider,model,format,status_class}
//	llmbridge_request_duration_seconds{provider,model,format}        histogram
//	llmbridge_time_to_first_token_seconds{provider,model,format}     histogram, streams only
//	llmbridge_tokens_total{provider,model,type}                      type: prompt|completion|cached|cache_write|reasoning
//	llmbridge_cost_usd_total{provider,model}                         priced models only
//	llmbridge_upstream_errors_total{provider,kind}                   kind: connect|timeout|4xx|429|5xx|stream_cut
//	llmbridge_retries_total{provider}
//	llmbridge_active_requests{format,stream}
//	llmbridge_unauthenticated_requests_total{status}                 refused before the caller was known: 401, 429
//	llmbridge_request_log_dropped_total, llmbridge_usage_queue_records (when their sources are given)
//	llmbridge_key_requests_total{key_id,status_class}, llmbridge_key_tokens_total{key_id,type},
//	llmbridge_key_cost_usd_total{key_id}                             only with Options.KeyLabels
//
// plus the Go runtime and process collectors. Label values are bounded:
// past Options.MaxModels distinct model names (and MaxKeys key ids) new
// ones are counted under "other", so a client inventing model names cannot
// grow the registry without end.
package metrics
