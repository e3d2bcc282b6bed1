package authcallback

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	docsync "github.com/flowstate/flowstate/sync"
)

// An app is a real HTTP server on 127.0.0.1 answering auth callbacks.
type app struct {
	srv *httptest.Server

	mu     sync.Mutex
	status int
	answer string
	delay  time.Duration
	asked  []question
}

func newApp(t *testing.T, answer string) *app {
	a := &app{status: http.StatusOK, answer: answer}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var q question
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &q) != nil {
			http.Error(w, "bad question", http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		a.asked = append(a.asked, q)
		status, answer, delay := a.status, a.answer, a.delay
		a.mu.Unlock()
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *app) calls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.asked)
}

func newCallback(t *testing.T, cfg Config) *Callback {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// request is a WebSocket upgrade for room with a cookie.
func request(room, cookie string) *docsync.AuthRequest {
	r := httptest.NewRequest(http.MethodGet, "/ws/"+room, nil)
	r.Header.Set("Cookie", cookie)
	r.Header.Set("Origin", "https://app.example")
	return &docsync.AuthRequest{Room: room, Token: "opaque", Request: r}
}

var answerTests = []struct {
	name    string
	status  int
	answer  string
	delay   time.Duration
	want    docsync.Grant
	errHas  string
	cachedN int // calls after asking twice
}{
	{name: "write", answer: `{"allow":"write","subject":"u1"}`, want: docsync.Grant{Perm: docsync.PermWrite, Subject: "u1"}, cachedN: 1},
	{name: "read", answer: `{"allow":"read","subject":"u2","extra":true}`, want: docsync.Grant{Perm: docsync.PermRead, Subject: "u2"}, cachedN: 1},
	{name: "read without subject", answer: `{"allow":"read"}`, want: docsync.Grant{Perm: docsync.PermRead}, cachedN: 1},
	{name: "none", answer: `{"allow":"none"}`, want: docsync.Grant{}, cachedN: 1},
	{name: "ttl 0 is not cached", answer: `{"allow":"read","ttl":0}`, want: docsync.Grant{Perm: docsync.PermRead}, cachedN: 2},
	{name: "write without subject", answer: `{"allow":"write"}`, errHas: "without a subject", cachedN: 2},
	{name: "unknown allow", answer: `{"allow":"admin","subject":"u"}`, errHas: `"admin"`, cachedN: 2},
	{name: "negative ttl", answer: `{"allow":"read","ttl":-1}`, errHas: "ttl", cachedN: 2},
	{name: "not JSON", answer: `yes`, errHas: "not the expected JSON", cachedN: 2},
	{name: "error status", status: http.StatusInternalServerError, answer: `{"allow":"write","subject":"u"}`, errHas: "500", cachedN: 2},
	{name: "forbidden status", status: http.StatusForbidden, answer: ``, errHas: "403", cachedN: 2},
	{name: "redirect", status: http.StatusFound, answer: ``, errHas: "302", cachedN: 2},
	{name: "too large", answer: `{"allow":"read","subject":"` + strings.Repeat("x", maxAnswer) + `"}`, errHas: "larger than", cachedN: 2},
	{name: "timeout", delay: time.Second, answer: `{"allow":"write","subject":"u"}`, errHas: "Timeout", cachedN: 2},
}

// Each answer gives its grant or an error that refuses, and only grants
// are cached.
func TestAnswers(t *testing.T) {
	for _, tt := range answerTests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, tt.answer)
			if tt.status != 0 {
				a.status = tt.status
			}
			a.delay = tt.delay
			c := newCallback(t, Config{URL: a.srv.URL, Timeout: 200 * time.Millisecond})
			for range 2 {
				g, err := c.Authorize(context.Background(), request("notes", "sid=1"))
				if tt.errHas != "" {
					if err == nil || !strings.Contains(err.Error(), tt.errHas) {
						t.Fatalf("err = %v, want one saying %q", err, tt.errHas)
					}
					continue
				}
				if err != nil || g != tt.want {
					t.Fatalf("Authorize = %+v, %v; want %+v", g, err, tt.want)
				}
			}
			if n := a.calls(); n != tt.cachedN {
				t.Fatalf("%d calls for two questions, want %d", n, tt.cachedN)
			}
		})
	}
}

// The application hears the room, the token, the cookie, the origin and
// the request's method and path.
func TestQuestion(t *testing.T) {
	a := newApp(t, `{"allow":"read"}`)
	c := newCallback(t, Config{URL: a.srv.URL})
	if _, err := c.Authorize(context.Background(), request("notes", "sid=abc")); err != nil {
		t.Fatal(err)
	}
	want := question{Room: "notes", Token: "opaque", Cookie: "sid=abc", Origin: "https://app.example", Method: "GET", Path: "/ws/notes", Write: false}
	if a.asked[0] != want {
		t.Fatalf("asked %+v, want %+v", a.asked[0], want)
	}
}

// The cache is keyed by room, token and cookie, and expires.
func TestCache(t *testing.T) {
	a := newApp(t, `{"allow":"write","subject":"u","ttl":10}`)
	c := newCallback(t, Config{URL: a.srv.URL, CacheTTL: time.Hour})
	now := time.Unix(1000, 0)
	c.now = func() time.Time { return now }
	ask := func(room, token, cookie string) {
		t.Helper()
		r := request(room, cookie)
		r.Token = token
		if _, err := c.Authorize(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		room, token, cookie string
		advance             time.Duration
		calls               int
	}{
		{"a", "t", "c", 0, 1},
		{"a", "t", "c", 9 * time.Second, 1},
		{"b", "t", "c", 0, 2},
		{"a", "t2", "c", 0, 3},
		{"a", "t", "c2", 0, 4},
		{"a", "t", "c", 2 * time.Second, 5}, // the answer's 10 s passed
		{"a", "t", "c", 0, 5},
		{"a", "t", "c", 0, 6}, // the same, writing
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		if i == len(steps)-1 {
			r := request(s.room, s.cookie)
			r.Token, r.Write = s.token, true
			if _, err := c.Authorize(context.Background(), r); err != nil {
				t.Fatal(err)
			}
		} else {
			ask(s.room, s.token, s.cookie)
		}
		if n := a.calls(); n != s.calls {
			t.Fatalf("step %d: %d calls, want %d", i, n, s.calls)
		}
	}
}

// The cache holds at most MaxCache answers.
func TestCacheBound(t *testing.T) {
	a := newApp(t, `{"allow":"read"}`)
	c := newCallback(t, Config{URL: a.srv.URL, MaxCache: 3})
	for i := range 10 {
		if _, err := c.Authorize(context.Background(), request("r", string(rune('a'+i)))); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(c.cache); n > 3 {
		t.Fatalf("%d cached answers, want at most 3", n)
	}
}

func TestNewRefusesBadURLs(t *testing.T) {
	for _, u := range []string{"", "ftp://x/", "/auth", "http://"} {
		if _, err := New(Config{URL: u}); err == nil {
			t.Errorf("New(%q) succeeded", u)
		}
	}
}

// FuzzDecodeAnswer checks that no answer panics the decoder, and that a
// write grant always names a subject.
func FuzzDecodeAnswer(f *testing.F) {
	for _, tt := range answerTests {
		f.Add([]byte(tt.answer))
	}
	f.Add([]byte(`{"allow":"read","ttl":1e300}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, ttl, err := decodeAnswer(b)
		if err != nil {
			return
		}
		if g.Perm == docsync.PermWrite && g.Subject == "" {
			t.Fatalf("a write grant without a subject from %q", b)
		}
		if ttl > maxTTL {
			t.Fatalf("ttl %v from %q", ttl, b)
		}
	})
}
