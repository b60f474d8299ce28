package gemini

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// NewModelsRequest builds GET {base}/models?pageSize=1000 (models.list's
// largest page), pageToken=page for the pages after the first, with the
// key in x-goog-api-key (never in the URL).
func (p *Provider) NewModelsRequest(ctx context.Context, page string) (*http.Request, error) {
	q := url.Values{"pageSize": {"1000"}}
	if page != "" {
		q.Set("pageToken", page)
	}
	return p.NewGet(ctx, p.Base()+"/models?"+q.Encode())
}

// DecodeModels reads one page of models.list (DecodeModelPage).
func (p *Provider) DecodeModels(body []byte) ([]string, string, error) { return DecodeModelPage(body) }

// DecodeModelPage reads one page of models.list, {"models":[{"name":
// "models/gemini-2.5-flash","supportedGenerationMethods":[…],…}],
// "nextPageToken":…}: the names without "models/", of the models the
// bridge can call (generateContent, or embedContent/batchEmbedContents for
// embeddings; all when the methods are not given), and the next page's
// token ("" on the last page). An empty page is a valid answer.
func DecodeModelPage(body []byte) ([]string, string, error) {
	var page struct {
		Models []struct {
			Name    string   `json:"name"`
			Methods []string `json:"supportedGenerationMethods"`
		} `json:"models"`
		Next string `json:"nextPageToken"`
	}
	if err := json.Unmarshal(body, &page); err != nil || !json.Valid(body) || body[firstByte(body)] != '{' {
		return nil, "", errors.New("the answer is not a Gemini model list ({\"models\":[…]})")
	}
	ids := make([]string, 0, len(page.Models))
	for _, m := range page.Models {
		name, ok := strings.CutPrefix(m.Name, "models/")
		if !ok || name == "" {
			continue
		}
		if m.Methods == nil || slices.ContainsFunc(m.Methods, callable) {
			ids = append(ids, name)
		}
	}
	return ids, page.Next, nil
}

// callable reports whether the bridge serves a model with method.
func callable(method string) bool {
	return method == "generateContent" || method == "embedContent" || method == "batchEmbedContents"
}

// firstByte is the index of body's first non-space byte (0 when none).
func firstByte(body []byte) int {
	for i, c := range body {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return i
		}
	}
	return 0
}
