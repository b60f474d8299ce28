package azure

import (
	"testing"
)

func TestParseError(t *testing.T) {
	for _, tc := range []struct {
		status          int
		body            string
		typ, code, want string
	}{
		{404, `{"error":{"code":"404","message":"Resource not found"}}`, "invalid_request_error", "404", "Resource not found"},
		{400, `{"error":{"code":"BadRequest","message":"API version not supported"}}`, "invalid_request_error", "BadRequest", "API version not supported"},
		{400, `{"error":{"message":"filtered","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":true,"severity":"high"},"violence":{"filtered":false}}}}}`,
			"invalid_request_error", "content_filter", "filtered (ResponsibleAIPolicyViolation: filtered hate)"},
		{500, `upstream connect error`, "upstream_error", "", "Azure OpenAI returned HTTP 500: upstream connect error"},
		{429, `{"error":{"code":429,"message":"Rate limit"}}`, "invalid_request_error", "429", "Rate limit"},
	} {
		e := parseError(tc.status, []byte(tc.body))
		if e.Type != tc.typ || e.Code != tc.code || e.Message != tc.want || e.Status != tc.status {
			t.Errorf("%s: %+v", tc.body, e)
		}
	}
}

func FuzzParseError(f *testing.F) {
	f.Add(400, []byte(`{"error":{"code":"content_filter","innererror":{"code":"X","content_filter_result":{"a":{"filtered":true}}}}}`))
	f.Add(404, []byte(`{"error":{"code":"404","message":"Resource not found"}}`))
	f.Add(500, []byte(``))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := parseError(status, body)
		if e.Message == "" || e.Type == "" {
			t.Fatalf("empty error for %q: %+v", body, e)
		}
	})
}
