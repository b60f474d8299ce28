package corpus

import (
	"strconv"
	"strings"
)

// Case is one generated request body.
type Case struct {
	// Name says how the body was made, enough to find it again.
	Name string
	Body []byte
	// Param is the member at fault in OpenAI's notation
	// ("messages[2].content[0].text"), empty when the body as a whole is
	// at fault (not JSON, not an object) and for valid bodies.
	Param string
}

// Good messages of every role, used to build conversations.
var goodMessages = []string{
	`{"role":"system","content":"You are terse."}`,
	`{"role":"developer","content":[{"type":"text","text":"Answer in French."}]}`,
	`{"role":"user","content":"What is the capital of the UK?","name":"ann"}`,
	`{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"low"}}]}`,
	`{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}},{"type":"file","file":{"file_id":"file-abc","filename":"a.pdf"}}]}`,
	`{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_capital","arguments":"{\"country\":\"UK\"}"}}]}`,
	`{"role":"tool","tool_call_id":"call_1","content":"London"}`,
	`{"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"Paris"}]}`,
	`{"role":"assistant","content":"London.","refusal":null,"name":"bot"}`,
	`{"role":"assistant","content":[{"type":"text","text":"No."},{"type":"refusal","refusal":"I cannot."}]}`,
	`{"role":"assistant","content":null,"refusal":"I cannot help with that."}`,
	`{"role":"assistant","content":null,"audio":{"id":"audio_abc"}}`,
	`{"role":"assistant","content":null,"function_call":{"name":"f","arguments":"{}"}}`,
	`{"role":"function","name":"f","content":"42"}`,
	`{"role":"function","name":"f","content":null}`,
	`{"role":"assistant","tool_calls":[{"id":"c9","type":"custom","custom":{"name":"sql","input":"SELECT 1"}}]}`,
	`{"role":"user","content":"Ünïcødé ✓ 世界 \ud83d\ude00 \"quoted\" \\ back\nslash","reasoning_content":"unknown member"}`,
}

// Good tools, for tools arrays.
var goodTools = []string{
	`{"type":"function","function":{"name":"get_capital","description":"Capital of a country","parameters":{"type":"object","properties":{"country":{"type":"string"}},"required":["country"]},"strict":true}}`,
	`{"type":"function","function":{"name":"now"}}`,
	`{"type":"function","function":{"name":"f-2_x","description":null,"parameters":{},"strict":null}}`,
	`{"type":"custom","custom":{"name":"sql","description":"Run SQL","format":{"type":"text"}}}`,
	`{"type":"web_search_preview","future":true}`,
}

// Good content parts of a user message.
var goodParts = []string{
	`{"type":"text","text":"Look:"}`,
	`{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}`,
	`{"type":"input_audio","input_audio":{"data":"UklGRg==","format":"mp3"}}`,
	`{"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0=","filename":"a.pdf"}}`,
	`{"type":"video_url","video_url":{"url":"https://example.com/v.mp4"}}`,
}

// Valid returns valid bodies for model (a name the bridge routes) that
// together use every documented member with good values, the edges of
// every range, null for every optional member, and members and
// discriminator values the API does not document.
func Valid(model string) []Case {
	m := strconv.Quote(model)
	long := strconv.Quote(model + "-" + strings.Repeat("x", 255-len(model)))
	bodies := []struct{ name, body string }{
		{"minimal", `{"model":` + m + `,"messages":[{"role":"user","content":"hi"}]}`},
		{"every member", `{"model":` + m + `,"messages":[{"role":"developer","content":"Be brief."},{"role":"user","name":"ann","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"}},{"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}}]},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_capital","arguments":"{\"country\":\"UK\"}"},"extra_content":{"google":{"thought_signature":"EpwICpkI"}}}],"refusal":null,"reasoning_content":"thinking"},{"role":"tool","tool_call_id":"call_1","content":"London"}],` +
			`"stream":true,"stream_options":{"include_usage":true,"include_obfuscation":false},"max_completion_tokens":100,"max_tokens":100,"temperature":0.2,"top_p":1,"n":1,"stop":["\n\n"],"seed":42,"presence_penalty":0,"frequency_penalty":0.5,"logit_bias":{"50256":-100},"logprobs":true,"top_logprobs":2,` +
			`"tools":[{"type":"function","function":{"name":"get_capital","description":"Capital of a country","parameters":{"type":"object","properties":{"country":{"type":"string"}},"required":["country"],"additionalProperties":false},"strict":true}}],"tool_choice":{"type":"function","function":{"name":"get_capital"}},"parallel_tool_calls":false,` +
			`"response_format":{"type":"json_schema","json_schema":{"name":"x","description":"d","schema":{"type":"object"},"strict":true}},"reasoning_effort":"low","service_tier":"flex","store":false,"metadata":{"k":"v"},"prompt_cache_key":"abc","safety_identifier":"u1","verbosity":"low",` +
			`"web_search_options":{"search_context_size":"low","user_location":{"type":"approximate","approximate":{"city":"Paris","country":"FR","region":"IDF","timezone":"Europe/Paris"}}},"modalities":["text","audio"],"audio":{"voice":"alloy","format":"wav"},"prediction":{"type":"content","content":"x"},"user":"legacy","future_field":{"nested":[1,2,{"deep":true}]}}`},
		{"every role", `{"model":` + m + `,"messages":[` + strings.Join(goodMessages, ",") + `]}`},
		{"every tool", `{"model":` + m + `,"messages":[{"role":"user","content":"hi"}],"tools":[` + strings.Join(goodTools, ",") + `],"tool_choice":"required"}`},
		{"every part", `{"model":` + m + `,"messages":[{"role":"user","content":[` + strings.Join(goodParts, ",") + `]}]}`},
		{"nulls", `{"model":` + m + `,"messages":[{"role":"user","content":"hi","name":null}],"stream":null,"stream_options":null,"max_tokens":null,"max_completion_tokens":null,"temperature":null,"top_p":null,"n":null,"stop":null,"seed":null,"presence_penalty":null,"frequency_penalty":null,"logit_bias":null,"logprobs":null,"top_logprobs":null,"tools":null,"tool_choice":null,"parallel_tool_calls":null,"response_format":null,"reasoning_effort":null,"service_tier":null,"store":null,"metadata":null,"prompt_cache_key":null,"safety_identifier":null,"verbosity":null,"web_search_options":null,"modalities":null,"audio":null,"prediction":null,"user":null,"functions":null,"function_call":null}`},
		{"lower edges", `{"model":` + m + `,"messages":[{"role":"user","content":""}],"temperature":0,"top_p":0,"n":1,"max_tokens":1,"max_completion_tokens":1,"presence_penalty":-2,"frequency_penalty":-2.0,"top_logprobs":0,"seed":-9223372036854775808,"logit_bias":{"1":-100,"2":-99.5},"stop":[],"metadata":{},"tools":[],"modalities":[]}`},
		{"upper edges", `{"model":` + long + `,"messages":[{"role":"user","content":"hi"}],"temperature":2,"top_p":1.0,"n":128,"max_tokens":9223372036854775807,"presence_penalty":2,"frequency_penalty":2e0,"top_logprobs":20,"seed":9223372036854775807,"logit_bias":{"1":100},"stop":["a","b","c","d"],"metadata":` + metadataOf(16, 64, 512) + `}`},
		{"unknown members", `{"model":` + m + `,"messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}},{"type":"audio_url","audio_url":"x"},{"type":"text","text":"x","text2":5}],"x-extra":[null]},{"role":"assistant","content":"a","tool_calls":[{"id":"c","type":"mcp_call","whatever":1}],"annotations":[]}],` +
			`"tools":[{"type":"builtin_function","function":5}],"tool_choice":{"type":"mcp","server":"x"},"response_format":{"type":"structural_tag","structures":[]},"reasoning":{"effort":"high"},"thinking":{"type":"enabled","budget_tokens":1024},"top_k":40,"min_p":0.1,"repetition_penalty":1.1,"extra_body":{"a":[1,{"b":null}]},"a\u0062c":1}`},
		{"legacy functions", `{"model":` + m + `,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":null,"function_call":{"name":"f","arguments":"{}"}},{"role":"function","name":"f","content":"1"}],"functions":[{"name":"f","description":"d","parameters":{"type":"object"}}],"function_call":{"name":"f"}}`},
		{"legacy function_call string", `{"model":` + m + `,"messages":[{"role":"user","content":"hi"}],"functions":[{"name":"f"}],"function_call":"auto"}`},
		{"stream", `{"model":` + m + `,"messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":false}}`},
		{"stream false", `{"model":` + m + `,"messages":[{"role":"user","content":"hi"}],"stream":false}`},
		{"stop string", `{"model":` + m + `,"messages":[{"role":"user","content":"hi"}],"stop":"END"}`},
		{"tool_choice none", `{"model":` + m + `,"messages":[{"role":"user","content":"hi"}],"tool_choice":"none"}`},
		{"tool_choice any (Mistral)", `{"model":` + m + `,"messages":[{"role":"user","content":"hi"}],"tool_choice":"any"}`},
		{"tool_choice allowed_tools", `{"model":` + m + `,"messages":[{"role":"user","content":"hi"}],"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[{"type":"function","function":{"name":"f"}}]}}}`},
		{"tool_choice custom", `{"model":` + m + `,"messages":[{"role":"user","content":"hi"}],"tool_choice":{"type":"custom","custom":{"name":"sql"}}}`},
		{"response_format text", `{"model":` + m + `,"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"text"}}`},
		{"response_format json_object", `{"model":` + m + `,"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}}`},
		{"audio voice object", `{"model":` + m + `,"messages":[{"role":"user","content":"hi"}],"modalities":["text","audio"],"audio":{"voice":{"id":"voice_123"},"format":"pcm16"}}`},
		{"prediction parts", `{"model":` + m + `,"messages":[{"role":"user","content":"hi"}],"prediction":{"type":"content","content":[{"type":"text","text":"x"}]}}`},
		{"whitespace and escapes", " \n{ \"model\" : " + m + " ,\t\"messages\" : [ { \"role\" : \"u\\u0073er\" , \"content\" : \"\\u00e9\\n\" } ] , \"temperature\" : 1.5e0 }\n"},
		{"integer-valued members as integers", `{"model":` + m + `,"messages":[{"role":"user","content":"hi"}],"temperature":1,"top_p":0,"n":2,"seed":0,"max_tokens":4096}`},
	}
	out := make([]Case, len(bodies))
	for i, b := range bodies {
		out[i] = Case{Name: "valid/" + b.name, Body: []byte(b.body)}
	}
	return out
}

// metadataOf returns a metadata object of n pairs with keys of keyLen and
// values of valLen characters (n ≥ 1, keyLen ≥ 3).
func metadataOf(n, keyLen, valLen int) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		k := strconv.Itoa(100 + i)
		b.WriteString(strconv.Quote(k + strings.Repeat("k", keyLen-len(k))))
		b.WriteByte(':')
		b.WriteString(strconv.Quote(strings.Repeat("é", valLen)))
	}
	b.WriteByte('}')
	return b.String()
}
