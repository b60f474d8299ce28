package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/usage"
)

// Every price in force is listed with its source and age; the admin key
// is needed.
func TestPricesEndpoint(t *testing.T) {
	synced := usage.Prices{"openai/gpt-4o": {Input: 3, Output: 12}}.MarkSource("https://prices.example/list.json", time.Now().Add(-49*time.Hour))
	yaml := usage.Prices{"openai/gpt-4o-mini": {Input: 9, Output: 9}}.MarkSource("LLMBRIDGE_CONFIG c.yaml", time.Time{})
	a := NewAPI(nil, "admin-secret").SetPrices(usage.DefaultPrices().Merge(synced).Merge(yaml))
	do := func(method, key string) (int, PricesPage) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(method, "/admin/api/prices", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		a.ServeHTTP(rec, req)
		var page PricesPage
		_ = json.Unmarshal(rec.Body.Bytes(), &page)
		return rec.Code, page
	}
	if code, _ := do(http.MethodGet, "wrong"); code != 401 {
		t.Errorf("without the admin key: %d", code)
	}
	if code, _ := do(http.MethodPost, "admin-secret"); code != 405 {
		t.Errorf("POST: %d", code)
	}
	code, page := do(http.MethodGet, "admin-secret")
	if code != 200 || len(page.Prices) != len(usage.DefaultPrices()) || len(page.Sources) != 3 {
		t.Fatalf("%d: %d prices, sources %+v", code, len(page.Prices), page.Sources)
	}
	for _, row := range page.Prices {
		switch row.Model {
		case "openai/gpt-4o":
			if row.Source != "https://prices.example/list.json" || row.AgeDays == nil || *row.AgeDays != 2 || row.Input != 3 {
				t.Errorf("synced row %+v", row)
			}
		case "openai/gpt-4o-mini":
			if row.Source != "LLMBRIDGE_CONFIG c.yaml" || row.AgeDays != nil {
				t.Errorf("YAML row %+v", row)
			}
		case "openai/o3":
			if row.Source != usage.BuiltinSource || row.AgeDays == nil {
				t.Errorf("built-in row %+v", row)
			}
		}
	}
}
