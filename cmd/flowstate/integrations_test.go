package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

var integrationFlagErrors = []struct {
	args   []string
	errHas string
}{
	{[]string{"--webhook", "ftp://x/h", "--webhook-secret", cmdSecret}, "http:// or https://"},
	{[]string{"--webhook", "http://127.0.0.1:1/h;events=room.renamed", "--webhook-secret", cmdSecret}, `unknown event "room.renamed"`},
	{[]string{"--webhook", "http://127.0.0.1:1/h"}, "--webhook-secret is 0 bytes"},
	{[]string{"--webhook", "http://127.0.0.1:1/h", "--webhook-secret", "short"}, "at least 32 bytes"},
	{[]string{"--webhook", "http://127.0.0.1:1/h", "--webhook-secret", cmdSecret, "--webhook-secret-file", "/nonexistent"}, "not both"},
	{[]string{"--webhook", "http://127.0.0.1:1/h", "--webhook-secret-file", "/nonexistent/secret"}, "no such file"},
	{[]string{"--webhook", "http://127.0.0.1:1/h", "--webhook-secret", cmdSecret, "--webhook-debounce", "0s"}, "must be positive"},
	{[]string{"--auth-url", "mailto:auth@example.com"}, "--auth-url"},
	{[]string{"--auth-url", "http://127.0.0.1:1/auth", "--auth-timeout", "0s"}, "--auth-timeout must be positive"},
}

// Bad webhook and auth callback settings stop the server before it
// starts, with a message that says what is wrong, and no secret.
func TestIntegrationFlagErrors(t *testing.T) {
	for _, tt := range integrationFlagErrors {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stderr bytes.Buffer
			if code := runServe(append(tt.args, "--data", t.TempDir()+"/x.db", "--addr", "127.0.0.1:0"), io.Discard, &stderr); code != 2 {
				t.Fatalf("exit status %d, want 2\n%s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.errHas) {
				t.Fatalf("stderr %q does not say %q", stderr.String(), tt.errHas)
			}
			if strings.Contains(stderr.String(), cmdSecret) {
				t.Fatalf("stderr shows the secret: %q", stderr.String())
			}
		})
	}
}

// FLOWSTATE_WEBHOOK lists receivers; --webhook flags replace them.
func TestWebhookEnvironment(t *testing.T) {
	t.Setenv("FLOWSTATE_WEBHOOK", "http://a/h https://b/h;events=room.idle")
	var f serveFlags
	fs := newServeFlagSet(&f, io.Discard)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if len(f.webhooks.endpoints) != 2 || f.webhooks.endpoints[1].Events[0] != "room.idle" {
		t.Fatalf("from the environment: %+v", f.webhooks.endpoints)
	}
	f = serveFlags{}
	fs = newServeFlagSet(&f, io.Discard)
	if err := fs.Parse([]string{"--webhook", "http://c/h", "--webhook", "http://d/h"}); err != nil {
		t.Fatal(err)
	}
	if e := f.webhooks.endpoints; len(e) != 2 || e[0].URL != "http://c/h" || e[1].URL != "http://d/h" {
		t.Fatalf("flags over the environment: %+v", e)
	}
}
