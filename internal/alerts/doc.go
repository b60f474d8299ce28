// Package alerts evaluates the YAML alert rules of the server's
// configuration (the alerts: section) in process and sends what fires to
// webhooks. An Alerter is an llmbridge.Observer: it keeps its own sliding
// windows of requests per provider (errors, times to first token), so it
// needs no Prometheus. Every Interval (30s) it evaluates the rules:
//
//	error_rate         a provider's failed requests above a percentage over a window
//	ttft_p95           a provider's 95th-percentile time to first token above a duration
//	request_log_drops  request log records dropped over a window
//	key_budget         a key's spend at a percentage of its budget (Options.Budgets)
//	target_ejected     a routing target taken out of service (Options.Ejected)
//
// An alert is one rule and one instance (a provider, a key, a target). It
// is sent when it starts firing, again at most once per cooldown while it
// keeps firing, and a "resolved" message follows when it stops. Webhooks
// get JSON ({"status":"firing",…}), or Slack's {"text":…} with
// format: slack. Webhook URLs are secrets (Slack's carry a token): they
// never appear in logs or errors, only the webhook's name and host.
package alerts
