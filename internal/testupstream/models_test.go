package testupstream

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
)

// TestAnthropicModelPages pins the fake's Models API paging: after_id and
// before_id cursors, has_more in the direction asked, and the headers the
// real API requires.
func TestAnthropicModelPages(t *testing.T) {
	s := New(t, Anthropic)
	s.SetModelList(&ModelList{IDs: []string{"a", "b", "c", "d", "e"}})
	page := func(query string, hdr ...string) (int, []string, bool) {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/v1/models?"+query, nil)
		req.Header.Set("X-Api-Key", s.Key)
		req.Header.Set("Anthropic-Version", "2023-06-01")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
			HasMore bool `json:"has_more"`
		}
		json.NewDecoder(resp.Body).Decode(&p)
		var ids []string
		for _, m := range p.Data {
			ids = append(ids, m.ID)
		}
		return resp.StatusCode, ids, p.HasMore
	}
	for _, c := range []struct {
		query string
		ids   []string
		more  bool
	}{
		{"limit=2", []string{"a", "b"}, true},
		{"limit=2&after_id=b", []string{"c", "d"}, true},
		{"limit=2&after_id=d", []string{"e"}, false},
		{"limit=2&before_id=e", []string{"c", "d"}, true},
		{"limit=2&before_id=b", []string{"a"}, false},
	} {
		if st, ids, more := page(c.query); st != 200 || !slices.Equal(ids, c.ids) || more != c.more {
			t.Errorf("%s: %d %v %v", c.query, st, ids, more)
		}
	}
	for _, bad := range []string{"limit=0", "limit=1001", "after_id=zz", "after_id=a&before_id=c"} {
		if st, _, _ := page(bad); st != 400 {
			t.Errorf("%s: %d", bad, st)
		}
	}
	if st, _, _ := page("", "X-Api-Key", "wrong"); st != 401 {
		t.Errorf("wrong key: %d", st)
	}
	if st, _, _ := page("", "Anthropic-Version", ""); st != 400 {
		t.Errorf("no version: %d", st)
	}
}
