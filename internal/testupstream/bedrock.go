package testupstream

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// Bedrock is the AWS Bedrock Runtime's Converse API, written from its
// API reference: POST /model/{modelId}/converse and /converse-stream,
// the model ID escaped as the AWS SDKs escape it (':' as %3A, '/' as
// %2F). A request is authenticated either by a SigV4 signature
// (AWS4-HMAC-SHA256, service "bedrock", region BedrockRegion) that the
// fake recomputes from the request it received with BedrockSecretKey —
// its own canonical request, not the SDK's signer — or by a Bedrock API
// key in "Authorization: Bearer" equal to Key. The body is checked as
// Bedrock does (messages alternating from user, exactly one member per
// content block, toolConfig whenever toolUse/toolResult blocks appear,
// image formats and base64, inferenceConfig). ConverseStream answers in
// binary event-stream frames (application/vnd.amazon.eventstream);
// exceptions carry their type in x-amzn-ErrorType and {"message"} in
// the body. A scripted error Reply's ErrorBody names the exception
// ("ModelNotReadyException"); otherwise its status picks one.
const Bedrock Flavor = 8

// The fake Bedrock's account: the credentials it verifies signatures
// with, and its region.
const (
	BedrockRegion       = "us-east-1"
	BedrockAccessKeyID  = "AKIAIOSFODNN7EXAMPLE"
	BedrockSecretKey    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	BedrockSessionToken = "IQoJb3JpZ2luX2VjEXAMPLE//session+token="
)

// bedrockExceptions are the exceptions a scripted status answers with,
// and each one's message as Bedrock words it.
var bedrockExceptions = map[int]string{400: "ValidationException", 401: "UnrecognizedClientException", 403: "AccessDeniedException",
	404: "ResourceNotFoundException", 408: "ModelTimeoutException", 424: "ModelErrorException", 429: "ThrottlingException",
	500: "InternalServerException", 503: "ServiceUnavailableException"}

var bedrockMessages = map[string]string{
	"ThrottlingException":         "Too many requests, please wait before trying again.",
	"AccessDeniedException":       "You don't have access to the model with the specified model ID.",
	"ServiceUnavailableException": "Bedrock is unable to process your request.",
	"ModelNotReadyException":      "Model is not ready for inference. Wait and try your request again.",
	"InternalServerException":     "The system encountered an unexpected error during processing. Try your request again.",
}

// bedrockException writes an exception response as Bedrock does.
func bedrockException(w http.ResponseWriter, status int, name, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", name+":http://internal.amazon.com/coral/com.amazon.bedrock/")
	w.Header().Set("X-Amzn-Requestid", "7f0c6a40-5c7b-4a3e-9f63-1d1e2b3c4d5e")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"message":%s}`, jsonString(msg))
}

func (s *Server) serveBedrock(w http.ResponseWriter, r *http.Request, body []byte) {
	_, op, ok := bedrockPath(r)
	if !ok || r.Method != http.MethodPost {
		bedrockException(w, 404, "UnknownOperationException", "")
		return
	}
	if status, name, msg := s.bedrockAuth(r, body); status != 0 {
		bedrockException(w, status, name, msg)
		return
	}
	if msg := checkConverse(body); msg != "" {
		bedrockException(w, 400, "ValidationException", msg)
		return
	}
	rep := s.next()
	if rep.Status >= 400 {
		name := rep.ErrorBody
		if name == "" {
			name = bedrockExceptions[rep.Status]
		}
		if rep.RetryAfter != "" {
			w.Header().Set("Retry-After", rep.RetryAfter)
		}
		bedrockException(w, rep.Status, name, cmpOr(bedrockMessages[name], "fake bedrock "+name))
		return
	}
	w.Header().Set("X-Amzn-Requestid", "1c2d3e4f-aaaa-bbbb-cccc-0123456789ab")
	if op == "converse" {
		s.bedrockComplete(w, rep)
		return
	}
	s.bedrockStream(w, r, rep)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// bedrockPath reads /model/{modelId}/{op} from the path as sent, and
// insists the model ID is escaped exactly as the AWS SDKs escape it.
func bedrockPath(r *http.Request) (model, op string, ok bool) {
	raw, _, _ := strings.Cut(r.RequestURI, "?")
	rest, found := strings.CutPrefix(raw, "/model/")
	if !found {
		return "", "", false
	}
	seg, op, found := strings.Cut(rest, "/")
	if !found || (op != "converse" && op != "converse-stream") {
		return "", "", false
	}
	model, err := url.PathUnescape(seg)
	if err != nil || awsURIEncode(model, true) != seg {
		return "", "", false
	}
	return model, op, true
}

// awsURIEncode is SigV4's UriEncode: every byte but A-Z a-z 0-9 - . _ ~
// percent-encoded with upper-case hex; '/' too when encodeSlash.
func awsURIEncode(s string, encodeSlash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' || c == '/' && !encodeSlash {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// bedrockAuth checks the bearer key or the SigV4 signature; a non-zero
// status is the exception to answer with.
func (s *Server) bedrockAuth(r *http.Request, body []byte) (int, string, string) {
	auth := r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(auth, "Bearer "):
		if s.Key == "" || auth != "Bearer "+s.Key {
			return 403, "UnrecognizedClientException", "The security token included in the request is invalid."
		}
		return 0, "", ""
	case strings.HasPrefix(auth, "AWS4-HMAC-SHA256 "):
		if msg := VerifySigV4(r, body, BedrockSecretKey, time.Now()); msg != "" {
			return 403, "InvalidSignatureException", msg
		}
		return 0, "", ""
	}
	return 403, "MissingAuthenticationTokenException", "Missing Authentication Token"
}

// VerifySigV4 checks the AWS Signature Version 4 of r (body being its
// body) against secret, as AWS does: the credential scope (access key
// BedrockAccessKeyID, today's date, BedrockRegion, "bedrock"), X-Amz-Date
// within five minutes of now, host and x-amz-date and every x-amz-*
// header signed, a session token equal to BedrockSessionToken when one is
// sent, and the signature recomputed from the canonical request built
// from what was received — the path as sent, URI-encoded once more. It
// returns "" when the signature holds, else what is wrong.
func VerifySigV4(r *http.Request, body []byte, secret string, now time.Time) string {
	fields := map[string]string{}
	for _, f := range strings.Split(strings.TrimPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 "), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[0] != BedrockAccessKeyID || scope[2] != BedrockRegion || scope[3] != "bedrock" || scope[4] != "aws4_request" {
		return "Credential should be scoped to a valid region, service and key: " + strings.Join(scope[min(1, len(scope)):], "/")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil || !strings.HasPrefix(amzDate, scope[1]) {
		return "X-Amz-Date is missing or does not match the credential scope"
	}
	if d := now.Sub(t); d > 5*time.Minute || d < -5*time.Minute {
		return "Signature expired: " + amzDate + " is not within five minutes of the server's time"
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	if !sort.StringsAreSorted(signed) || !contains(signed, "host") || !contains(signed, "x-amz-date") {
		return "SignedHeaders must be sorted and include host and x-amz-date"
	}
	for name := range r.Header {
		if l := strings.ToLower(name); strings.HasPrefix(l, "x-amz-") && !contains(signed, l) {
			return "header " + l + " is not signed"
		}
	}
	if tok := r.Header.Get("X-Amz-Security-Token"); tok != "" && tok != BedrockSessionToken {
		return "The security token included in the request is invalid."
	}
	canonical := canonicalRequest(r, body, signed)
	sum := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + strings.Join(scope[1:], "/") + "\n" + hex.EncodeToString(sum[:])
	key := hmacSHA256([]byte("AWS4"+secret), scope[1])
	for _, part := range scope[2:] {
		key = hmacSHA256(key, part)
	}
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."
	}
	return ""
}

// canonicalRequest builds SigV4's canonical request from what the server
// received.
func canonicalRequest(r *http.Request, body []byte, signed []string) string {
	path, query, _ := strings.Cut(r.RequestURI, "?")
	var headers strings.Builder
	for _, h := range signed {
		var v string
		switch h {
		case "host":
			v = r.Host
		case "content-length":
			v = strconv.FormatInt(r.ContentLength, 10)
		default:
			vals := append([]string(nil), r.Header.Values(h)...)
			for i := range vals {
				vals[i] = strings.Join(strings.Fields(vals[i]), " ")
			}
			v = strings.Join(vals, ",")
		}
		headers.WriteString(h + ":" + v + "\n")
	}
	sum := sha256.Sum256(body)
	return strings.Join([]string{r.Method, awsURIEncode(path, false), canonicalQuery(query), headers.String(),
		strings.Join(signed, ";"), hex.EncodeToString(sum[:])}, "\n")
}

// canonicalQuery sorts and re-encodes a query string.
func canonicalQuery(raw string) string {
	vals, _ := url.ParseQuery(raw)
	var pairs []string
	for k, vs := range vals {
		for _, v := range vs {
			pairs = append(pairs, awsURIEncode(k, true)+"="+awsURIEncode(v, true))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// converseRequest is the Converse body as the fake checks it; unknown
// members are refused.
type converseRequest struct {
	Messages []struct {
		Role    string                       `json:"role"`
		Content []map[string]json.RawMessage `json:"content"`
	} `json:"messages"`
	System          []map[string]json.RawMessage `json:"system"`
	InferenceConfig *struct {
		MaxTokens     *int     `json:"maxTokens"`
		Temperature   *float64 `json:"temperature"`
		TopP          *float64 `json:"topP"`
		StopSequences []string `json:"stopSequences"`
	} `json:"inferenceConfig"`
	ToolConfig *struct {
		Tools []struct {
			ToolSpec struct {
				Name        string `json:"name"`
				Description string `json:"description"`
				InputSchema struct {
					JSON json.RawMessage `json:"json"`
				} `json:"inputSchema"`
			} `json:"toolSpec"`
		} `json:"tools"`
		ToolChoice map[string]json.RawMessage `json:"toolChoice"`
	} `json:"toolConfig"`
	AdditionalModelRequestFields json.RawMessage `json:"additionalModelRequestFields"`
}

// checkConverse validates a Converse body as Bedrock does; "" when it
// passes, else the ValidationException's message.
func checkConverse(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req converseRequest
	if err := dec.Decode(&req); err != nil {
		return "Malformed input request: " + err.Error()
	}
	if len(req.Messages) == 0 {
		return "A conversation must start with a user message. Try again with a conversation that starts with a user message."
	}
	toolBlocks := false
	for i, m := range req.Messages {
		if want := []string{"user", "assistant"}[i%2]; m.Role != want {
			return "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again."
		}
		if len(m.Content) == 0 {
			return fmt.Sprintf("The content field in the Message object at messages.%d is empty. Add a ContentBlock object to the content field and try again.", i)
		}
		for j, b := range m.Content {
			if len(b) != 1 {
				return fmt.Sprintf("messages.%d.content.%d: a ContentBlock must have exactly one member", i, j)
			}
			if msg := checkBlock(b, i, j); msg != "" {
				return msg
			}
			_, tu := b["toolUse"]
			_, tr := b["toolResult"]
			toolBlocks = toolBlocks || tu || tr
		}
	}
	if toolBlocks && req.ToolConfig == nil {
		return "The toolConfig field must be defined when using toolUse and toolResult content blocks."
	}
	if ic := req.InferenceConfig; ic != nil && ic.MaxTokens != nil && *ic.MaxTokens < 1 {
		return "The maximum tokens you requested exceeds the model limit or is below 1."
	}
	if tc := req.ToolConfig; tc != nil {
		if len(tc.Tools) == 0 {
			return "toolConfig.tools must not be empty"
		}
		for _, t := range tc.Tools {
			var schema map[string]any
			if t.ToolSpec.Name == "" || json.Unmarshal(t.ToolSpec.InputSchema.JSON, &schema) != nil {
				return "toolConfig.tools: every toolSpec needs a name and an inputSchema.json object"
			}
		}
		if tc.ToolChoice != nil && len(tc.ToolChoice) != 1 {
			return "toolConfig.toolChoice must have exactly one of auto, any, tool"
		}
	}
	return ""
}

// checkBlock checks one content block of messages[i].content[j].
func checkBlock(b map[string]json.RawMessage, i, j int) string {
	for kind, raw := range b {
		switch kind {
		case "text":
			var t string
			if json.Unmarshal(raw, &t) != nil || strings.TrimSpace(t) == "" {
				return fmt.Sprintf("The text field in the ContentBlock object at messages.%d.content.%d is blank. Add text to the text field, and try again.", i, j)
			}
		case "image":
			var img struct {
				Format string `json:"format"`
				Source struct {
					Bytes string `json:"bytes"`
				} `json:"source"`
			}
			_ = json.Unmarshal(raw, &img)
			if _, err := base64.StdEncoding.DecodeString(img.Source.Bytes); err != nil || img.Source.Bytes == "" {
				return fmt.Sprintf("messages.%d.content.%d.image.source.bytes is not valid base64", i, j)
			}
			if !contains([]string{"png", "jpeg", "gif", "webp"}, img.Format) {
				return fmt.Sprintf("messages.%d.content.%d.image.format %q is not one of png, jpeg, gif, webp", i, j, img.Format)
			}
		case "toolUse":
			var tu struct {
				ToolUseID string         `json:"toolUseId"`
				Name      string         `json:"name"`
				Input     map[string]any `json:"input"`
			}
			if json.Unmarshal(raw, &tu) != nil || tu.ToolUseID == "" || tu.Name == "" || tu.Input == nil {
				return fmt.Sprintf("messages.%d.content.%d.toolUse needs toolUseId, name and an input object", i, j)
			}
		case "toolResult":
			var tr struct {
				ToolUseID string            `json:"toolUseId"`
				Content   []json.RawMessage `json:"content"`
			}
			if json.Unmarshal(raw, &tr) != nil || tr.ToolUseID == "" || len(tr.Content) == 0 {
				return fmt.Sprintf("messages.%d.content.%d.toolResult needs toolUseId and content", i, j)
			}
		case "reasoningContent", "cachePoint", "document":
		default:
			return fmt.Sprintf("messages.%d.content.%d: unknown ContentBlock member %q", i, j, kind)
		}
	}
	return ""
}

// bedrockUsage is the usage of a reply in Bedrock's terms.
func bedrockUsage(u Usage) string {
	in := u.Prompt - u.Cached - u.CacheWrite
	return fmt.Sprintf(`{"inputTokens":%d,"outputTokens":%d,"totalTokens":%d,"cacheReadInputTokens":%d,"cacheWriteInputTokens":%d}`,
		in, u.Completion, u.Prompt+u.Completion, u.Cached, u.CacheWrite)
}

func bedrockStop(rep Reply) string {
	if len(rep.ToolCalls) > 0 {
		return "tool_use"
	}
	return "end_turn"
}

func (s *Server) bedrockComplete(w http.ResponseWriter, rep Reply) {
	var blocks []string
	if len(rep.Reasoning) > 0 {
		blocks = append(blocks, fmt.Sprintf(`{"reasoningContent":{"reasoningText":{"text":%s,"signature":"EqoBCkgIARAB-sig"}}}`, jsonString(strings.Join(rep.Reasoning, ""))))
	}
	if len(rep.Content) > 0 {
		blocks = append(blocks, fmt.Sprintf(`{"text":%s}`, jsonString(strings.Join(rep.Content, ""))))
	}
	for _, tc := range rep.ToolCalls {
		blocks = append(blocks, fmt.Sprintf(`{"toolUse":{"toolUseId":%q,"name":%q,"input":%s}}`, tc.ID, tc.Name, cmpOr(strings.Join(tc.Args, ""), "{}")))
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"output":{"message":{"role":"assistant","content":[%s]}},"stopReason":%q,"usage":%s,"metrics":{"latencyMs":412}}`,
		strings.Join(blocks, ","), bedrockStop(rep), bedrockUsage(rep.Usage))
}

// bedrockFrame is one event-stream message to send.
type bedrockFrame struct {
	kind, name, payload string // kind: event or exception
}

// bedrockEvents scripts a ConverseStream answer: reasoning, text and tool
// blocks each closed by contentBlockStop, messageStop, then metadata.
// Payloads carry the "p" padding member Bedrock adds.
func bedrockEvents(rep Reply) []bedrockFrame {
	const pad = `,"p":"abcdefghijklmnopqrstu"`
	ev := func(name, format string, args ...any) bedrockFrame {
		return bedrockFrame{"event", name, strings.TrimSuffix(fmt.Sprintf(format, args...), "}") + pad + "}"}
	}
	frames := []bedrockFrame{ev("messageStart", `{"role":"assistant"}`)}
	idx := 0
	if len(rep.Reasoning) > 0 {
		for _, t := range rep.Reasoning {
			frames = append(frames, ev("contentBlockDelta", `{"contentBlockIndex":%d,"delta":{"reasoningContent":{"text":%s}}}`, idx, jsonString(t)))
		}
		frames = append(frames, ev("contentBlockDelta", `{"contentBlockIndex":%d,"delta":{"reasoningContent":{"signature":"EqoBCkgIARAB-sig"}}}`, idx),
			ev("contentBlockStop", `{"contentBlockIndex":%d}`, idx))
		idx++
	}
	if len(rep.Content) > 0 {
		for _, t := range rep.Content {
			frames = append(frames, ev("contentBlockDelta", `{"contentBlockIndex":%d,"delta":{"text":%s}}`, idx, jsonString(t)))
		}
		frames = append(frames, ev("contentBlockStop", `{"contentBlockIndex":%d}`, idx))
		idx++
	}
	for _, tc := range rep.ToolCalls {
		frames = append(frames, ev("contentBlockStart", `{"contentBlockIndex":%d,"start":{"toolUse":{"toolUseId":%q,"name":%q}}}`, idx, tc.ID, tc.Name))
		for _, a := range tc.Args {
			frames = append(frames, ev("contentBlockDelta", `{"contentBlockIndex":%d,"delta":{"toolUse":{"input":%s}}}`, idx, jsonString(a)))
		}
		frames = append(frames, ev("contentBlockStop", `{"contentBlockIndex":%d}`, idx))
		idx++
	}
	frames = append(frames, ev("messageStop", `{"stopReason":%q}`, bedrockStop(rep)))
	if !rep.NoUsage {
		frames = append(frames, ev("metadata", `{"usage":%s,"metrics":{"latencyMs":412}}`, bedrockUsage(rep.Usage)))
	}
	switch {
	case rep.FailFirst == "error":
		frames = []bedrockFrame{{"exception", "throttlingException", `{"message":"Too many requests, please wait before trying again."}`}}
	case rep.ErrorEvent:
		frames = append(frames[:len(frames)/2], bedrockFrame{"exception", "modelStreamErrorException",
			`{"message":"The model stream failed.","originalStatusCode":500,"originalMessage":"Internal error"}`})
	}
	return frames
}

// EncodeBedrockFrame encodes one event-stream message as ConverseStream
// sends it: kind "event" with :event-type name, or "exception" with
// :exception-type name.
func EncodeBedrockFrame(kind, name string, payload []byte) []byte {
	m := eventstream.Message{Payload: payload}
	m.Headers.Set(":message-type", eventstream.StringValue(kind))
	m.Headers.Set(":"+kind+"-type", eventstream.StringValue(name))
	m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	var buf bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&buf, m); err != nil {
		panic(err) // only on a header over the format's limits: a fault of the test
	}
	return buf.Bytes()
}

func (s *Server) bedrockStream(w http.ResponseWriter, r *http.Request, rep Reply) {
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	rc := http.NewResponseController(w)
	for i, f := range bedrockEvents(rep) {
		if rep.CutAfter > 0 && i == rep.CutAfter {
			s.cut(w)
			return
		}
		if rep.StallAfter > 0 && i == rep.StallAfter {
			_ = rc.Flush()
			<-r.Context().Done()
			s.cancelled <- struct{}{}
			return
		}
		if rep.Delay > 0 {
			time.Sleep(rep.Delay)
		}
		if _, err := w.Write(EncodeBedrockFrame(f.kind, f.name, []byte(f.payload))); err != nil || rc.Flush() != nil {
			return
		}
	}
}
