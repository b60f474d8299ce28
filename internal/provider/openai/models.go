package openai

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// NewModelsRequest builds GET {base}/models, OpenAI's model list (one
// page: page is ignored), with the provider's key.
func (p *Provider) NewModelsRequest(ctx context.Context, _ string) (*http.Request, error) {
	return p.NewGet(ctx, p.Base()+"/models")
}

// DecodeModels reads an OpenAI model list (DecodeModelList).
func (p *Provider) DecodeModels(body []byte) ([]string, string, error) { return DecodeModelList(body) }

// DecodeModelList reads an OpenAI model list, {"object":"list","data":
// [{"id":"gpt-4o","object":"model",…}]}: the ids, in order, and no next
// page. A body without a "data" array of objects is an error; entries
// without a string id are skipped.
func DecodeModelList(body []byte) ([]string, string, error) {
	var list struct {
		Data *[]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil || list.Data == nil {
		return nil, "", errors.New("the answer is not an OpenAI model list ({\"data\":[…]})")
	}
	ids := make([]string, 0, len(*list.Data))
	for _, raw := range *list.Data {
		var m struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(raw, &m) == nil && m.ID != "" {
			ids = append(ids, m.ID)
		}
	}
	return ids, "", nil
}

// NewModelsRequest builds GET {base}/models of the compatibility
// endpoint ({BaseURL}/openai/models), with the key as a bearer token.
func (c *Compat) NewModelsRequest(ctx context.Context, page string) (*http.Request, error) {
	return c.p.NewModelsRequest(ctx, page)
}

// DecodeModels reads the compatibility endpoint's OpenAI model list,
// whose ids may carry Gemini's "models/" resource prefix; it is removed,
// as clients send the bare name.
func (c *Compat) DecodeModels(body []byte) ([]string, string, error) {
	ids, next, err := DecodeModelList(body)
	for i, id := range ids {
		ids[i] = strings.TrimPrefix(id, "models/")
	}
	return ids, next, err
}

// ModelPatterns returns the configured model name patterns.
func (c *Compat) ModelPatterns() []string { return c.p.ModelPatterns() }
