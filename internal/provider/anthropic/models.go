package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
)

// NewModelsRequest builds GET {base}/models?limit=1000 (the Models API's
// largest page), after_id=page for the pages after the first, with
// x-api-key and anthropic-version.
func (p *Provider) NewModelsRequest(ctx context.Context, page string) (*http.Request, error) {
	q := url.Values{"limit": {"1000"}}
	if page != "" {
		q.Set("after_id", page)
	}
	req, err := p.NewGet(ctx, p.Base()+"/models?"+q.Encode())
	if err != nil {
		return nil, err
	}
	req.Header.Set("Anthropic-Version", Version)
	return req, nil
}

// DecodeModels reads one page of the Models API, {"data":[{"type":
// "model","id":…,"display_name":…,"created_at":…}],"has_more":…,
// "first_id":…,"last_id":…}: the ids, and last_id as the next page's
// after_id while has_more is true.
func (p *Provider) DecodeModels(body []byte) ([]string, string, error) { return DecodeModelPage(body) }

// DecodeModelPage is DecodeModels.
func DecodeModelPage(body []byte) ([]string, string, error) {
	var page struct {
		Data *[]json.RawMessage `json:"data"`
		More bool               `json:"has_more"`
		Last *string            `json:"last_id"`
	}
	if err := json.Unmarshal(body, &page); err != nil || page.Data == nil {
		return nil, "", errors.New("the answer is not an Anthropic model list ({\"data\":[…],\"has_more\":…})")
	}
	ids := make([]string, 0, len(*page.Data))
	for _, raw := range *page.Data {
		var m struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(raw, &m) == nil && m.ID != "" {
			ids = append(ids, m.ID)
		}
	}
	if !page.More {
		return ids, "", nil
	}
	if page.Last == nil || *page.Last == "" {
		return nil, "", errors.New("the model list says has_more without a last_id")
	}
	return ids, *page.Last, nil
}
