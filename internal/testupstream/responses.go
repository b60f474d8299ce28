package testupstream

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
)

// The OpenAI flavor also serves the Responses API (POST /v1/responses) and
// embeddings (POST /v1/embeddings), in the shapes of the recordings in
// pydantic-ai's test_openai_responses cassettes: named SSE events
// (event: + data:) with sequence_number, obfuscation on deltas, no [DONE],
// and the whole response in response.completed.

// serveOpenAIExtra answers the Responses and embeddings paths of the
// OpenAI flavor; it reports false for any other path.
func (s *Server) serveOpenAIExtra(w http.ResponseWriter, r *http.Request, body []byte) bool {
	if r.Method != http.MethodPost || (r.URL.Path != "/v1/responses" && r.URL.Path != "/v1/embeddings") {
		return false
	}
	if s.Key != "" && r.Header.Get("Authorization") != "Bearer "+s.Key {
		s.writeError(w, Reply{Status: 401})
		return true
	}
	var req struct {
		Model          string          `json:"model"`
		Stream         bool            `json:"stream"`
		Input          json.RawMessage `json:"input"`
		EncodingFormat string          `json:"encoding_format"`
		Dimensions     int             `json:"dimensions"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Model == "" || len(req.Input) == 0 {
		s.writeError(w, Reply{Status: 400, ErrorBody: `{"error":{"message":"We could not parse the JSON body of your request.","type":"invalid_request_error","param":null,"code":null}}`})
		return true
	}
	rep := s.next()
	if rep.Status >= 400 {
		s.writeError(w, rep)
		return true
	}
	if r.URL.Path == "/v1/embeddings" {
		s.embeddings(w, req.Model, req.Input, req.EncodingFormat == "base64", req.Dimensions, rep)
		return true
	}
	rs := newResponseScript(req.Model, rep)
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, rs.response("completed", true))
		return true
	}
	s.streamResponses(w, r.Context(), rs, rep)
	return true
}

// responseScript builds a scripted reply's Responses objects.
type responseScript struct {
	id, model string
	rep       Reply
	items     []string // output items, whole, in order
}

const respBase = "0e9d73f2a1a362c000697ccca2351c8194aec0dbaa7fe670cf"

func newResponseScript(model string, rep Reply) *responseScript {
	rs := &responseScript{id: "resp_" + respBase, model: model, rep: rep}
	if len(rep.Reasoning) > 0 {
		rs.items = append(rs.items, rs.reasoningItem("completed"))
	}
	if len(rep.Content) > 0 || len(rep.ToolCalls) == 0 {
		rs.items = append(rs.items, rs.messageItem("completed", strings.Join(rep.Content, "")))
	}
	for i, tc := range rep.ToolCalls {
		rs.items = append(rs.items, rs.callItem(i, "completed", strings.Join(tc.Args, "")))
	}
	return rs
}

func (rs *responseScript) reasoningItem(status string) string {
	summary := "[]"
	if status == "completed" {
		summary = fmt.Sprintf(`[{"type":"summary_text","text":%s}]`, jsonString(strings.Join(rs.rep.Reasoning, "")))
	}
	return fmt.Sprintf(`{"id":"rs_%s","type":"reasoning","summary":%s}`, respBase, summary)
}

func (rs *responseScript) messageItem(status, text string) string {
	content := "[]"
	if status == "completed" {
		content = `[{"type":"output_text","annotations":[],"logprobs":[],"text":` + jsonString(text) + `}]`
	}
	return fmt.Sprintf(`{"id":"msg_%s","type":"message","status":%q,"content":%s,"role":"assistant"}`, respBase, status, content)
}

func (rs *responseScript) callItem(i int, status, args string) string {
	tc := rs.rep.ToolCalls[i]
	return fmt.Sprintf(`{"id":"fc_%s_%d","type":"function_call","status":%q,"arguments":%s,"call_id":%q,"name":%q}`, respBase, i, status, jsonString(args), tc.ID, tc.Name)
}

// response is the Response object; final ones carry output and usage.
func (rs *responseScript) response(status string, final bool) string {
	output, usage, completedAt := "[]", "null", "null"
	if final {
		output = "[" + strings.Join(rs.items, ",") + "]"
		if !rs.rep.NoUsage {
			u := rs.rep.Usage
			usage = fmt.Sprintf(`{"input_tokens":%d,"input_tokens_details":{"cached_tokens":%d},"output_tokens":%d,"output_tokens_details":{"reasoning_tokens":%d},"total_tokens":%d}`,
				u.Prompt, u.Cached, u.Completion, u.Reasoning, u.Prompt+u.Completion)
		}
		if status == "completed" {
			completedAt = "1769786531"
		}
	}
	return fmt.Sprintf(`{"id":%q,"object":"response","created_at":1769786530,"status":%q,"background":false,"completed_at":%s,"error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,"max_tool_calls":null,"model":%q,"output":%s,"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"service_tier":"default","store":true,"temperature":1.0,"text":{"format":{"type":"text"},"verbosity":"medium"},"tool_choice":"auto","tools":[],"top_p":1.0,"truncation":"disabled","usage":%s,"user":null,"metadata":{}}`,
		rs.id, status, completedAt, rs.model, output, usage)
}

// events is the documented event stream for the script, each as
// [name, data without sequence_number's closing].
func (rs *responseScript) events() [][2]string {
	var evs [][2]string
	add := func(name, body string) { evs = append(evs, [2]string{name, body}) }
	add("response.created", `"response":`+rs.response("in_progress", false))
	add("response.in_progress", `"response":`+rs.response("in_progress", false))
	out := 0
	if len(rs.rep.Reasoning) > 0 {
		id := "rs_" + respBase
		add("response.output_item.added", fmt.Sprintf(`"item":%s,"output_index":%d`, rs.reasoningItem("in_progress"), out))
		add("response.reasoning_summary_part.added", fmt.Sprintf(`"item_id":%q,"output_index":%d,"part":{"type":"summary_text","text":""},"summary_index":0`, id, out))
		for _, d := range rs.rep.Reasoning {
			add("response.reasoning_summary_text.delta", fmt.Sprintf(`"delta":%s,"item_id":%q,"obfuscation":"Wmxd0zSg","output_index":%d,"summary_index":0`, jsonString(d), id, out))
		}
		text := jsonString(strings.Join(rs.rep.Reasoning, ""))
		add("response.reasoning_summary_text.done", fmt.Sprintf(`"item_id":%q,"output_index":%d,"summary_index":0,"text":%s`, id, out, text))
		add("response.reasoning_summary_part.done", fmt.Sprintf(`"item_id":%q,"output_index":%d,"part":{"type":"summary_text","text":%s},"summary_index":0`, id, out, text))
		add("response.output_item.done", fmt.Sprintf(`"item":%s,"output_index":%d`, rs.reasoningItem("completed"), out))
		out++
	}
	if len(rs.rep.Content) > 0 || len(rs.rep.ToolCalls) == 0 {
		id := "msg_" + respBase
		add("response.output_item.added", fmt.Sprintf(`"item":%s,"output_index":%d`, rs.messageItem("in_progress", ""), out))
		add("response.content_part.added", fmt.Sprintf(`"content_index":0,"item_id":%q,"output_index":%d,"part":{"type":"output_text","annotations":[],"logprobs":[],"text":""}`, id, out))
		for _, d := range rs.rep.Content {
			add("response.output_text.delta", fmt.Sprintf(`"content_index":0,"delta":%s,"item_id":%q,"logprobs":[],"obfuscation":"f54SLWtfn3GFg","output_index":%d`, jsonString(d), id, out))
		}
		text := jsonString(strings.Join(rs.rep.Content, ""))
		add("response.output_text.done", fmt.Sprintf(`"content_index":0,"item_id":%q,"logprobs":[],"output_index":%d,"text":%s`, id, out, text))
		add("response.content_part.done", fmt.Sprintf(`"content_index":0,"item_id":%q,"output_index":%d,"part":{"type":"output_text","annotations":[],"logprobs":[],"text":%s}`, id, out, text))
		add("response.output_item.done", fmt.Sprintf(`"item":%s,"output_index":%d`, rs.messageItem("completed", strings.Join(rs.rep.Content, "")), out))
		out++
	}
	for i, tc := range rs.rep.ToolCalls {
		id := fmt.Sprintf("fc_%s_%d", respBase, i)
		add("response.output_item.added", fmt.Sprintf(`"item":%s,"output_index":%d`, rs.callItem(i, "in_progress", ""), out))
		for _, a := range tc.Args {
			add("response.function_call_arguments.delta", fmt.Sprintf(`"delta":%s,"item_id":%q,"obfuscation":"NlnKNeZaa","output_index":%d`, jsonString(a), id, out))
		}
		args := strings.Join(tc.Args, "")
		add("response.function_call_arguments.done", fmt.Sprintf(`"arguments":%s,"item_id":%q,"output_index":%d`, jsonString(args), id, out))
		add("response.output_item.done", fmt.Sprintf(`"item":%s,"output_index":%d`, rs.callItem(i, "completed", args), out))
		out++
	}
	add("response.completed", `"response":`+rs.response("completed", true))
	return evs
}

// streamResponses writes the script's event stream, with the Reply's
// faults: Delay before each event, StallAfter, CutAfter, and ErrorEvent
// (response.failed halfway, as a failing upstream ends).
func (s *Server) streamResponses(w http.ResponseWriter, ctx context.Context, rs *responseScript, rep Reply) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Openai-Version", "2020-10-01")
	w.WriteHeader(200)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	if rep.FailFirst == "error" { // an error event before anything else
		fmt.Fprint(w, "event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"The server had an error.\",\"param\":null,\"sequence_number\":0}\n\n")
		_ = rc.Flush()
		return
	}
	evs := rs.events()
	if rep.ErrorEvent {
		failed := strings.Replace(rs.response("failed", false), `"error":null`, `"error":{"code":"server_error","message":"The server had an error while processing your request."}`, 1)
		evs = append(evs[:len(evs)/2], [2]string{"response.failed", `"response":` + failed})
	}
	for i, ev := range evs {
		if i == 2 {
			for _, raw := range rep.RawEvents { // after response.in_progress, as new event types would come
				fmt.Fprint(w, raw)
			}
		}
		if rep.CutAfter > 0 && i == rep.CutAfter {
			s.cut(w)
			return
		}
		if rep.StallAfter > 0 && i == rep.StallAfter {
			<-ctx.Done()
			s.cancelled <- struct{}{}
			return
		}
		if rep.Delay > 0 {
			select {
			case <-time.After(rep.Delay):
			case <-ctx.Done():
				s.cancelled <- struct{}{}
				return
			}
		}
		fmt.Fprintf(w, "event: %s\ndata: {\"type\":%q,%s,\"sequence_number\":%d}\n\n", ev[0], ev[0], ev[1], i)
		if rc.Flush() != nil {
			s.cancelled <- struct{}{}
			return
		}
	}
}

// fakeEmbedding is a deterministic unit-scale vector for a text.
func fakeEmbedding(text string, index, dims int) []float32 {
	v := make([]float32, dims)
	for i := range v {
		v[i] = float32(math.Sin(float64(len(text)+index*7+i))) / 2
	}
	return v
}

// embeddings answers POST /v1/embeddings: input a string, strings or
// token arrays; 8 dimensions unless asked otherwise; base64 of
// little-endian float32 when asked; usage.prompt_tokens from the Reply
// (or one per whitespace-separated word).
func (s *Server) embeddings(w http.ResponseWriter, model string, input json.RawMessage, b64 bool, dims int, rep Reply) {
	if dims <= 0 {
		dims = 8
	}
	var texts []string
	var one string
	if json.Unmarshal(input, &one) == nil {
		texts = []string{one}
	} else if json.Unmarshal(input, &texts) != nil {
		var tokens [][]int
		if json.Unmarshal(input, &tokens) != nil {
			var flat []int
			if json.Unmarshal(input, &flat) != nil {
				s.writeError(w, Reply{Status: 400, ErrorBody: `{"error":{"message":"'input' is invalid.","type":"invalid_request_error","param":"input","code":null}}`})
				return
			}
			tokens = [][]int{flat}
		}
		for _, t := range tokens {
			texts = append(texts, strings.Repeat("x ", len(t)))
		}
	}
	prompt := rep.Usage.Prompt
	if prompt == 0 {
		for _, t := range texts {
			prompt += len(strings.Fields(t))
		}
	}
	var data []string
	for i, t := range texts {
		v := fakeEmbedding(t, i, dims)
		var emb string
		if b64 {
			buf := make([]byte, 0, 4*len(v))
			for _, f := range v {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(f))
			}
			emb = `"` + base64.StdEncoding.EncodeToString(buf) + `"`
		} else {
			b, _ := json.Marshal(v)
			emb = string(b)
		}
		data = append(data, fmt.Sprintf(`{"object":"embedding","index":%d,"embedding":%s}`, i, emb))
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"object":"list","data":[%s],"model":%q,"usage":{"prompt_tokens":%d,"total_tokens":%d}}`, strings.Join(data, ","), model, prompt, prompt)
}

// serveGeminiEmbed answers :batchEmbedContents with one vector per
// request (8 dimensions unless outputDimensionality says otherwise). Like
// the real API it wants each request's model to be the one in the path.
func (s *Server) serveGeminiEmbed(w http.ResponseWriter, model string, body []byte) {
	var req struct {
		Requests []struct {
			Model   string `json:"model"`
			Content struct {
				Parts []struct {
					Text string `json:"text"`
				} `json:"parts"`
			} `json:"content"`
			OutputDimensionality int `json:"outputDimensionality"`
		} `json:"requests"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.Requests) == 0 {
		geminiError(w, 400, "Invalid JSON payload received.", "")
		return
	}
	rep := s.next()
	if rep.Status >= 400 {
		geminiError(w, rep.Status, fmt.Sprintf("fake gemini error %d", rep.Status), "")
		return
	}
	var out []string
	for i, r := range req.Requests {
		if r.Model != "models/"+model {
			geminiError(w, 400, fmt.Sprintf("requests[%d].model %q does not match the model in the URL", i, r.Model), "")
			return
		}
		dims := r.OutputDimensionality
		if dims <= 0 {
			dims = 8
		}
		var text strings.Builder
		for _, p := range r.Content.Parts {
			text.WriteString(p.Text)
		}
		b, _ := json.Marshal(fakeEmbedding(text.String(), i, dims))
		out = append(out, `{"values":`+string(b)+`}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	fmt.Fprintf(w, `{"embeddings":[%s]}`, strings.Join(out, ","))
}
