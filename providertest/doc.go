// Package providertest is the conformance suite for [llmbridge.Provider]
// implementations, in the spirit of net/http/httptest and
// testing/slogtest. Every built-in provider passes it; the author of a
// custom provider runs it from an ordinary test to check that the provider
// keeps the contract the Bridge relies on:
//
//   - the request carries the upstream model name and the provider's key
//     where the upstream's wire format wants them;
//   - a non-streamed response decodes to its content and usage, and its
//     body is closed exactly once;
//   - a stream yields its content deltas and its usage, and closes its body
//     exactly once;
//   - a stream whose consumer stops early still closes its body exactly
//     once;
//   - a stream cut off before its upstream's normal end ends with an error;
//   - a non-2xx response becomes an [*llmbridge.APIError] keeping the
//     upstream's status, a message and the Retry-After header.
//
// The suite runs the provider against fake upstreams (httptest servers)
// that speak the wire formats listed under [Wire]. A provider is tested
// against the one format it speaks; a provider for a wire format not
// listed there cannot be run through the suite.
//
// A custom provider that speaks the OpenAI Chat Completions format is
// checked like this:
//
//	func TestConformance(t *testing.T) {
//		providertest.Run(t, providertest.Harness{
//			Wire: providertest.WireOpenAI,
//			New: func(baseURL, key string) llmbridge.Provider {
//				return myprovider.New(myprovider.Config{BaseURL: baseURL, APIKey: key})
//			},
//		})
//	}
//
// and run with go test (-race is worth adding: the fakes run in other
// goroutines). Each check is a subtest of the test that calls [Run], so
// -run TestConformance/Stream selects one.
package providertest
