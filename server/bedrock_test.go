package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// A kind: bedrock provider from the YAML file signs with the AWS default
// chain (here the AWS_* variables) for its region, or sends the key of
// api_key_env as a Bedrock API key.
func TestYAMLBedrock(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{"AWS_CONFIG_FILE": dir + "/c", "AWS_SHARED_CREDENTIALS_FILE": dir + "/k", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_PROFILE": "", "AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": testupstream.BedrockAccessKeyID,
		"AWS_SECRET_ACCESS_KEY": testupstream.BedrockSecretKey, "AWS_SESSION_TOKEN": ""} {
		t.Setenv(k, v)
	}
	up := testupstream.New(t, testupstream.Bedrock)
	path := filepath.Join(dir, "providers.yaml")
	os.WriteFile(path, []byte(`providers:
  - name: bedrock
    kind: bedrock
    region: us-east-1
    base_url: `+up.BaseURL()+`
    models: [anthropic.claude-3-5-haiku-20241022-v1:0, amazon.nova-lite-v1:0]
  - name: bedrock-key
    kind: bedrock
    region: us-east-1
    base_url: `+up.BaseURL()+`
    api_key_env: AWS_BEARER_TOKEN_BEDROCK
`), 0o600)
	c, err := loadConfig(map[string]string{"LLMBRIDGE_CONFIG": path, "AWS_BEARER_TOKEN_BEDROCK": up.Key})
	if err != nil {
		t.Fatal(err)
	}
	b, err := llmbridge.New(c.options(slog.New(slog.NewTextHandler(io.Discard, nil)))...)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, model := range []string{"bedrock/anthropic.claude-3-5-haiku-20241022-v1:0", "bedrock-key/amazon.nova-lite-v1:0"} {
		r, err := b.ChatCompletion(context.Background(), &llmbridge.ChatRequest{Model: model, Messages: []llmbridge.Message{llmbridge.UserMessage("hi")}})
		if err != nil || r.Choices[0].Message.Content.String() != "Hello world" {
			t.Fatalf("%s: %v", model, err)
		}
	}
	reqs := up.Requests()
	if a := reqs[0].Header.Get("Authorization"); !strings.HasPrefix(a, "AWS4-HMAC-SHA256 Credential="+testupstream.BedrockAccessKeyID+"/") || !strings.Contains(a, "/us-east-1/bedrock/") {
		t.Errorf("signed request: %s", a)
	}
	if a := reqs[1].Header.Get("Authorization"); a != "Bearer "+up.Key {
		t.Errorf("API key request: %s", a)
	}
}
