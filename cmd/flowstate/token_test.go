package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
	docsync "github.com/flowstate/flowstate/sync"
)

const cmdSecret = "0123456789abcdef0123456789abcdef"

var tokenCommandTests = []struct {
	name   string
	args   []string
	env    map[string]string
	status int
	room   string             // a room the token must grant
	perm   docsync.Permission // and its permission
	sub    string             // and its subject
}{
	{name: "write by default", args: []string{"--room", "notes", "--sub", "alice", "--secret", cmdSecret}, room: "notes", perm: docsync.PermWrite, sub: "alice"},
	{name: "read prefix", args: []string{"--room", "team-*", "--perm", "read", "--ttl", "5m", "--secret", cmdSecret}, room: "team-a", perm: docsync.PermRead},
	{name: "read with a subject", args: []string{"--room", "notes", "--perm", "read", "--sub", "bob", "--secret", cmdSecret}, room: "notes", perm: docsync.PermRead, sub: "bob"},
	{name: "secret from the environment", args: []string{"--room", "notes", "--sub", "alice"}, env: map[string]string{"FLOWSTATE_AUTH_SECRET": cmdSecret}, room: "notes", perm: docsync.PermWrite, sub: "alice"},
	{name: "secret file", args: []string{"--room", "notes", "--sub", "alice", "--secret-file", "SECRET_FILE"}, room: "notes", perm: docsync.PermWrite, sub: "alice"},
	{name: "write without a subject", args: []string{"--room", "notes", "--secret", cmdSecret}, status: 2},
	{name: "no room", args: []string{"--secret", cmdSecret}, status: 2},
	{name: "no secret", args: []string{"--room", "notes"}, status: 2},
	{name: "short secret", args: []string{"--room", "notes", "--secret", "short"}, status: 2},
	{name: "secret inline and in a file", args: []string{"--room", "notes", "--secret", cmdSecret, "--secret-file", "SECRET_FILE"}, status: 2},
	{name: "bad permission", args: []string{"--room", "notes", "--perm", "admin", "--secret", cmdSecret}, status: 2},
	{name: "bad room", args: []string{"--room", "a/b", "--secret", cmdSecret}, status: 2},
	{name: "negative ttl", args: []string{"--room", "notes", "--ttl", "-1h", "--secret", cmdSecret}, status: 2},
	{name: "stray argument", args: []string{"--room", "notes", "--secret", cmdSecret, "extra"}, status: 2},
}

func TestTokenCommand(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(cmdSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	auth, err := docsync.NewAuthenticator([]byte(cmdSecret))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tokenCommandTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("FLOWSTATE_AUTH_SECRET", "")
			os.Unsetenv("FLOWSTATE_AUTH_SECRET")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = strings.ReplaceAll(a, "SECRET_FILE", secretFile)
			}
			var stdout, stderr bytes.Buffer
			status := run(append([]string{"token"}, args...), &stdout, &stderr)
			if status != tt.status {
				t.Fatalf("exit status %d, want %d\nstderr: %s", status, tt.status, stderr.String())
			}
			if tt.status != 0 {
				if stderr.Len() == 0 || stdout.Len() != 0 {
					t.Errorf("stdout %q, stderr %q: want only a message on stderr", stdout.String(), stderr.String())
				}
				return
			}
			token := strings.TrimSpace(stdout.String())
			claims, err := auth.Verify(token, tt.room)
			if err != nil {
				t.Fatalf("the printed token does not verify: %v", err)
			}
			if claims.Perm != tt.perm || claims.Subject != tt.sub {
				t.Errorf("perm %v, sub %q; want %v, %q", claims.Perm, claims.Subject, tt.perm, tt.sub)
			}
		})
	}
}

// TestAccessFlags checks the Config the serve flags make, and the
// warnings logged for settings that leave the server open.
func TestAccessFlags(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		err   bool
		warns []string // substrings of the warnings logged
		check func(t *testing.T, cfg docsync.Config)
	}{
		{name: "defaults", warns: []string{"no auth secret: the server is open"},
			check: func(t *testing.T, cfg docsync.Config) {
				if cfg.Auth != nil || cfg.AllowedOrigins != nil || cfg.MaxConnsPerIP != docsync.DefaultMaxConnsPerIP ||
					cfg.MaxRooms != docsync.DefaultMaxRooms || cfg.MaxDocBytes != docsync.DefaultMaxDocBytes ||
					cfg.MaxMessageSize != docsync.DefaultMaxMessageSize || cfg.RateMessages != docsync.DefaultRateMessages {
					t.Errorf("config %+v", cfg)
				}
			}},
		{name: "secret and limits", args: []string{"--auth-secret", cmdSecret, "--max-rooms", "5", "--max-conns-per-ip", "0",
			"--rate-messages", "0", "--max-doc-bytes", "1000", "--max-message-bytes", "2048", "--trust-proxy",
			"--allowed-origins", "https://a.example,https://b.example"},
			check: func(t *testing.T, cfg docsync.Config) {
				if cfg.Auth == nil || cfg.MaxRooms != 5 || cfg.MaxConnsPerIP != -1 || cfg.RateMessages != -1 ||
					cfg.MaxDocBytes != 1000 || cfg.MaxMessageSize != 2048 || !cfg.TrustProxy || len(cfg.AllowedOrigins) != 2 {
					t.Errorf("config %+v", cfg)
				}
			}},
		{name: "environment", env: map[string]string{"FLOWSTATE_AUTH_SECRET": cmdSecret, "FLOWSTATE_MAX_ROOMS": "7",
			"FLOWSTATE_TRUST_PROXY": "true", "FLOWSTATE_RATE_MESSAGES": "12.5"},
			check: func(t *testing.T, cfg docsync.Config) {
				if cfg.Auth == nil || cfg.MaxRooms != 7 || !cfg.TrustProxy || cfg.RateMessages != 12.5 {
					t.Errorf("config %+v", cfg)
				}
			}},
		{name: "flag over environment", args: []string{"--max-rooms", "3"}, env: map[string]string{"FLOWSTATE_MAX_ROOMS": "7"},
			warns: []string{"no auth secret"},
			check: func(t *testing.T, cfg docsync.Config) {
				if cfg.MaxRooms != 3 {
					t.Errorf("MaxRooms %d, want 3", cfg.MaxRooms)
				}
			}},
		{name: "any origin", args: []string{"--auth-secret", cmdSecret, "--allowed-origins", "*"}, warns: []string{"--allowed-origins is *"}},
		{name: "bad origin", args: []string{"--allowed-origins", "example.com"}, err: true},
		{name: "short secret", args: []string{"--auth-secret", "short"}, err: true},
		{name: "negative limit", args: []string{"--max-rooms", "-1"}, err: true},
		{name: "zero message size", args: []string{"--max-message-bytes", "0"}, err: true},
		{name: "bad environment", env: map[string]string{"FLOWSTATE_MAX_ROOMS": "many"}, err: true},
		{name: "slow consumers", args: []string{"--auth-secret", cmdSecret, "--slow-consumer-lag", "3s", "--send-buffer-bytes", "0"},
			check: func(t *testing.T, cfg docsync.Config) {
				if cfg.SlowConsumerLag != 3*time.Second || cfg.SendBuffer != -1 {
					t.Errorf("SlowConsumerLag %v, SendBuffer %d; want 3s and -1 (the kernel's)", cfg.SlowConsumerLag, cfg.SendBuffer)
				}
			}},
		{name: "slow consumers from the environment", env: map[string]string{"FLOWSTATE_AUTH_SECRET": cmdSecret,
			"FLOWSTATE_SLOW_CONSUMER_LAG": "1500ms", "FLOWSTATE_SEND_BUFFER_BYTES": "8192"},
			check: func(t *testing.T, cfg docsync.Config) {
				if cfg.SlowConsumerLag != 1500*time.Millisecond || cfg.SendBuffer != 8192 {
					t.Errorf("SlowConsumerLag %v, SendBuffer %d", cfg.SlowConsumerLag, cfg.SendBuffer)
				}
			}},
		{name: "zero lag", args: []string{"--slow-consumer-lag", "0s"}, err: true},
		{name: "bad lag in the environment", env: map[string]string{"FLOWSTATE_SLOW_CONSUMER_LAG": "10"}, err: true},
		{name: "negative send buffer", args: []string{"--send-buffer-bytes", "-1"}, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"FLOWSTATE_AUTH_SECRET", "FLOWSTATE_AUTH_SECRET_FILE"} {
				t.Setenv(k, "")
				os.Unsetenv(k)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var f serveFlags
			fs := newServeFlagSet(&f, io.Discard)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			err := f.access.apply(&f.config, logger)
			if (err != nil) != tt.err {
				t.Fatalf("apply: %v, want error %v", err, tt.err)
			}
			var warnings []string
			for line := range strings.Lines(logs.String()) {
				if strings.Contains(line, "level=WARN") {
					warnings = append(warnings, line)
				}
			}
			if len(warnings) != len(tt.warns) {
				t.Errorf("warnings %q, want %d", warnings, len(tt.warns))
			}
			for i, w := range tt.warns {
				if i < len(warnings) && !strings.Contains(warnings[i], w) {
					t.Errorf("warning %q, want one about %q", warnings[i], w)
				}
			}
			if tt.check != nil && err == nil {
				tt.check(t, f.config)
			}
		})
	}
	var stderr bytes.Buffer
	if status := runServe([]string{"--max-rooms", "-3"}, io.Discard, &stderr); status != 2 || !strings.Contains(stderr.String(), "max-rooms") {
		t.Errorf("serve --max-rooms -3: status %d, stderr %q", status, stderr.String())
	}
}

// adminTokenTests are --admin-token values serve refuses: like the auth
// secret, the token guards every document and must not be guessable.
var adminTokenTests = []string{"zq", "s3cret", strings.Repeat("Q", docsync.MinSecretBytes-1)}

func TestServeRefusesShortAdminToken(t *testing.T) {
	for _, token := range adminTokenTests {
		var stderr bytes.Buffer
		status := runServe([]string{"--admin-token", token, "--data", ":memory:", "--addr", "127.0.0.1:0"}, io.Discard, &stderr)
		if status != 2 || !strings.Contains(stderr.String(), "--admin-token is") || !strings.Contains(stderr.String(), "at least 32 bytes") {
			t.Errorf("serve --admin-token %q: status %d, stderr %q", token, status, stderr.String())
		}
		if strings.Contains(stderr.String(), token) {
			t.Errorf("the refusal repeats the token: %q", stderr.String())
		}
	}
}

// TestServeWithAuthSecret runs the binary with a secret file: it starts
// without the open-server warning, refuses a client without a token with
// 4401, and lets in one with a token from "flowstate token".
func TestServeWithAuthSecret(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(cmdSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	_, addr, logs := startBinary(t, buildBinary(t), "--auth-secret-file", secretFile)
	url := "ws://" + addr + "/ws/notes"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	_, err := docsync.Dial(ctx, url, nil)
	var se *docsync.ServerError
	if !errors.As(err, &se) || se.Code != protocol.CodeUnauthorized {
		t.Errorf("Dial without a token: %v, want 4401", err)
	}

	var stdout bytes.Buffer
	if status := run([]string{"token", "--room", "notes", "--sub", "alice", "--secret-file", secretFile}, &stdout, io.Discard); status != 0 {
		t.Fatalf("token: exit status %d", status)
	}
	c, err := docsync.Dial(ctx, url, &docsync.ClientOptions{Token: strings.TrimSpace(stdout.String())})
	if err != nil {
		t.Fatalf("Dial with a token: %v", err)
	}
	defer c.Close()
	if err := c.Edit(func(d *crdt.Doc) error { _, err := d.Text("body").Insert(0, "hi"); return err }); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "no auth secret") {
		t.Errorf("the server warns that it is open although it has a secret:\n%s", logs)
	}
}
