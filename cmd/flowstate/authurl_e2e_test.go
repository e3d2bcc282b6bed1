package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowstate/flowstate/crdt"
	docsync "github.com/flowstate/flowstate/sync"
)

// An authApp is an application's auth endpoint on 127.0.0.1: it answers
// by the caller's token, and counts the questions about each.
type authApp struct {
	srv *httptest.Server

	mu    sync.Mutex
	asked map[string]int
}

// authAnswers are the app's answers by token; "slow" never answers in
// time, "broken" fails.
var authAnswers = map[string]string{
	"alice":  `{"allow":"write","subject":"alice"}`,
	"reader": `{"allow":"read","subject":"rita"}`,
	"nobody": `{"allow":"none"}`,
}

func newAuthApp(t *testing.T) *authApp {
	a := &authApp{asked: make(map[string]int)}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var q struct{ Room, Token, Cookie string }
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &q); err != nil {
			http.Error(w, "bad question", http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		a.asked[q.Token]++
		a.mu.Unlock()
		switch q.Token {
		case "slow":
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
			return
		case "broken":
			http.Error(w, "database down", http.StatusInternalServerError)
			return
		}
		answer, ok := authAnswers[q.Token]
		if !ok {
			answer = `{"allow":"none"}`
		}
		io.WriteString(w, answer)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *authApp) count(token string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.asked[token]
}

// dialAs joins room with token; it returns the client or the error.
func dialAs(addr, room, token string) (*docsync.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return docsync.Dial(ctx, "ws://"+addr+"/ws/"+room, &docsync.ClientOptions{Token: token, MinBackoff: time.Hour})
}

// apiStatus returns the status of GET /api/rooms/{room} with a bearer
// token.
func apiStatus(t *testing.T, addr, room, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/api/rooms/"+room, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAuthURL runs the real binary with --auth-url beside --auth-secret:
// the application's answers decide over WebSocket sessions and API calls
// (write, read-only, refused), its timeouts and errors refuse with
// 1013 / 503, answers are cached, and a token the server signed is
// checked without asking the application.
func TestAuthURL(t *testing.T) {
	t.Parallel() // waits mostly on its server and the app's timeouts
	bin := buildBinary(t)
	app := newAuthApp(t)
	_, addr, logs := startBinary(t, bin, "--auth-url", app.srv.URL, "--auth-timeout", "300ms", "--auth-cache-ttl", "1m",
		"--auth-secret", cmdSecret)

	alice, err := dialAs(addr, "notes", "alice")
	if err != nil {
		t.Fatalf("alice: %v\n%s", err, logs)
	}
	defer alice.Close()
	if err := alice.Edit(func(d *crdt.Doc) error { _, err := d.Text("body").Insert(0, "hello"); return err }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := alice.WaitSynced(ctx); err != nil {
		t.Fatalf("alice's write: %v", err)
	}

	reader, err := dialAs(addr, "notes", "reader")
	if err != nil {
		t.Fatalf("reader: %v", err)
	}
	defer reader.Close()
	if got := reader.Text("body"); got != "hello" {
		t.Fatalf("the reader sees %q", got)
	}
	_ = reader.Edit(func(d *crdt.Doc) error { _, err := d.Text("body").Insert(0, "x"); return err })
	waitUntil(t, "the reader's write refused", func() bool {
		var se *docsync.ServerError
		return errors.As(reader.Err(), &se) && se.Code == 4403
	})

	refusals := []struct {
		token string
		code  string
	}{
		{"nobody", "4401"},
		{"stranger", "4401"},
		{"slow", "1013"},
		{"broken", "1013"},
	}
	for _, r := range refusals {
		c, err := dialAs(addr, "notes", r.token)
		if err == nil {
			c.Close()
			t.Fatalf("%s was let in", r.token)
		}
		if !strings.Contains(err.Error(), r.code) {
			t.Errorf("%s: %v, want %s", r.token, err, r.code)
		}
	}

	apiTests := []struct {
		token string
		want  int
	}{
		{"alice", http.StatusOK}, {"reader", http.StatusOK}, {"nobody", http.StatusUnauthorized},
		{"broken", http.StatusServiceUnavailable}, {"slow", http.StatusServiceUnavailable},
	}
	for _, tt := range apiTests {
		if got := apiStatus(t, addr, "notes", tt.token); got != tt.want {
			t.Errorf("GET /api/rooms/notes as %s: %d, want %d", tt.token, got, tt.want)
		}
	}

	// Cached: alice's session and API call, and a second session, asked
	// once; errors are not cached.
	if c, err := dialAs(addr, "notes", "alice"); err != nil {
		t.Fatal(err)
	} else {
		c.Close()
	}
	if n := app.count("alice"); n != 1 {
		t.Errorf("the application was asked %d times about alice, want 1 (cached)", n)
	}
	if n := app.count("broken"); n != 2 {
		t.Errorf("the application was asked %d times about the broken token, want 2 (errors are not cached)", n)
	}

	// A token the server signed is checked without the application.
	a, err := docsync.NewAuthenticator([]byte(cmdSecret))
	if err != nil {
		t.Fatal(err)
	}
	signed, err := a.Mint("sam", "notes", docsync.PermWrite, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dialAs(addr, "notes", signed)
	if err != nil {
		t.Fatalf("a signed token: %v", err)
	}
	c.Close()
	if n := app.count(signed); n != 0 {
		t.Errorf("the application was asked about a signed token")
	}
	if t.Failed() {
		t.Log(fmt.Sprint(logs))
	}
}
