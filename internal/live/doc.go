// Package live is the bridge's live request feed: a Hub is an
// llmbridge.Observer that fans every request's start and end out to
// subscribers, and serves them as a Server-Sent Events stream
// (GET /admin/api/live, mounted behind the admin key by the server):
//
//	event: start
//	data: {"type":"start","time":…,"request_id":…,"provider":…,…}
//
//	event: end
//	data: {"type":"end",…,"status":200,"prompt_tokens":9,…,"cost_usd":0.0000425,"ttft_ms":…,"duration_ms":…}
//
// Each subscriber has a bounded buffer, in which an event is encoded once
// and waits as its frame until the subscriber takes what gathered (an
// HTTP subscriber at most once per FlushInterval while the feed is busy).
// Publishing never waits: a subscriber whose buffer is full is dropped
// (its subscription ends, and an HTTP subscriber gets a last "dropped"
// event), so a slow consumer never slows the request path. With no subscribers a record costs one atomic
// load. Requests refused before their caller was known
// (llmbridge.UsageRecord.Unauthenticated: no key, a wrong one, a throttled
// source) are not published; metrics count them.
package live
