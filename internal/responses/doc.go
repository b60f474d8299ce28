// Package responses translates OpenAI's Responses API (POST /v1/responses,
// the API of Codex CLI and the Agents SDK) to and from the bridge's
// canonical Chat Completions types, for upstreams that do not speak it
// natively (OpenAI-compatible vendors, DeepSeek, Gemini, Anthropic).
//
// Three pieces, each usable alone:
//
//   - Decode and ToChat read a Responses request, validate every member by
//     type and range (a 400 *openai.APIError whose Param names the member,
//     e.g. "input[2].content[0].image_url") and build the canonical
//     *openai.ChatRequest. Hosted tools a chat target cannot run
//     (web_search, file_search, code_interpreter, computer_use,
//     image_generation, mcp, …) are dropped and listed in the Translation,
//     for the X-LLMBridge-Dropped-Tools header. previous_response_id and
//     other server-side state are refused: the bridge stores nothing, so the
//     client must send the full history (store: false, as Codex does).
//   - FromChat encodes a canonical *openai.ChatResponse as a Response object.
//   - StreamEncoder turns canonical chunks into the Responses event stream
//     (response.created … response.completed, with sequence numbers and
//     consistent output_index, item_id and content_index).
//
// Reasoning round-trips: reasoning_content becomes a reasoning item's
// summary, and a reasoning signature (Anthropic's, carried beside
// reasoning_content in the "reasoning_signature" member) travels in the
// item's encrypted_content with a "llmbridge:" prefix, so that a client
// sending its history back gives the target what it needs. Encrypted
// content from anywhere else (OpenAI's own) means nothing to a chat target
// and is dropped.
//
// The package does no I/O and keeps no state between requests; a
// StreamEncoder belongs to one stream and is not safe for concurrent use.
package responses
