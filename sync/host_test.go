package sync_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowstate/flowstate/protocol"
	docsync "github.com/flowstate/flowstate/sync"
)

// hostTests pair allowed hosts with the Host headers a server answers.
// PORT stands for the server's port. A rebinding attack sends its own
// name, with the server's port, and a matching Origin.
var hostTests = []struct {
	name    string
	hosts   []string // Config.AllowedHosts
	origins []string // Config.AllowedOrigins
	host    string
	ok      bool
}{
	{"rebinding", nil, nil, "evil.example:PORT", false},
	{"rebinding without port", nil, nil, "evil.example", false},
	{"loopback IPv4", nil, nil, "127.0.0.1:PORT", true},
	{"loopback IPv6", nil, nil, "[::1]:PORT", true},
	{"localhost", nil, nil, "localhost:PORT", true},
	{"localhost in capitals with a final dot", nil, nil, "LocalHost.:PORT", true},
	{"another IP address", nil, nil, "192.0.2.7:PORT", true},
	{"subdomain of localhost", nil, nil, "evil.localhost:PORT", false},
	{"listed name", []string{"sync.example.com"}, nil, "sync.example.com:PORT", true},
	{"listed name in capitals", []string{"sync.example.com"}, nil, "SYNC.Example.com", true},
	{"listed name, other name", []string{"sync.example.com"}, nil, "evil.example:PORT", false},
	{"listed name and port", []string{"sync.example.com:443"}, nil, "sync.example.com:443", true},
	{"listed name and port, other port", []string{"sync.example.com:443"}, nil, "sync.example.com:PORT", false},
	{"wildcard, subdomain", []string{"*.example.com"}, nil, "a.b.example.com:PORT", true},
	{"wildcard, the name itself", []string{"*.example.com"}, nil, "example.com:PORT", false},
	{"wildcard, look-alike", []string{"*.example.com"}, nil, "evilexample.com:PORT", false},
	{"star", []string{"*"}, nil, "evil.example:PORT", true},
	{"host of an allowed origin", nil, []string{"https://app.example.com"}, "app.example.com", true},
	{"allowed origin, other host", nil, []string{"https://app.example.com"}, "evil.example:PORT", false},
}

// TestHostCheck sends each Host to the WebSocket upgrade, the read API,
// /metrics and /healthz: a Host the server does not answer gets 421 on
// all of them, with a body that says what to do.
func TestHostCheck(t *testing.T) {
	for _, tt := range hostTests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.AllowedHosts, cfg.AllowedOrigins = tt.hosts, tt.origins
			ts, _ := openServer(t, cfg, "notes")
			_, port, _ := strings.Cut(ts.addr, ":")
			host := strings.ReplaceAll(tt.host, "PORT", port)

			// The upgrade, from a page of the Host's own origin.
			h := http.Header{"Host": {host}, "Origin": {"http://" + host}}
			if tt.origins != nil {
				h.Set("Origin", tt.origins[0])
			}
			conn, resp, err := websocket.DefaultDialer.Dial(ts.url("notes"), h)
			if tt.ok {
				if err != nil {
					t.Fatalf("upgrade with Host %s: %v", host, err)
				}
				conn.Close()
			} else {
				if err == nil {
					conn.Close()
					t.Fatalf("upgrade with Host %s accepted", host)
				}
				checkMisdirected(t, "upgrade", resp)
			}

			for _, path := range []string{"/api/rooms/notes", "/api/rooms", "/metrics", "/healthz", "/readyz"} {
				req, err := http.NewRequest(http.MethodGet, "http://"+ts.addr+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Host = host
				req.Header.Set("Origin", "http://"+host)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatalf("GET %s: %v", path, err)
				}
				if tt.ok {
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						t.Errorf("GET %s with Host %s: %s, want 200", path, host, resp.Status)
					}
					continue
				}
				checkMisdirected(t, "GET "+path, resp)
			}
		})
	}
}

// checkMisdirected checks for a 421 whose body names the flag that would
// let the host in, and which tells nothing of the server's content.
func checkMisdirected(t *testing.T, what string, resp *http.Response) {
	t.Helper()
	if resp == nil {
		t.Fatalf("%s: no response", what)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("%s: %s %q, want 421", what, resp.Status, body)
	}
	if !strings.Contains(string(body), "--allowed-hosts") || strings.Contains(string(body), "seed") {
		t.Errorf("%s: body %q", what, body)
	}
}

func TestParseHosts(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
		err  bool
	}{
		{in: "", want: nil},
		{in: " Sync.Example.com , *.example.org:8443,10.0.0.1", want: []string{"sync.example.com", "*.example.org:8443", "10.0.0.1"}},
		{in: "*", want: []string{"*"}},
		{in: "*,a.example", err: true},
		{in: "https://a.example", err: true},
		{in: "a.example/path", err: true},
		{in: "a..example", err: true},
		{in: "a.example:", err: true},
		{in: "a b", err: true},
	} {
		got, err := docsync.ParseHosts(tt.in)
		if (err != nil) != tt.err || !tt.err && !slicesEqual(got, tt.want) {
			t.Errorf("ParseHosts(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A logBuffer collects a server's log lines; the server writes from
// many goroutines while the test reads.
type logBuffer struct {
	mu  stdsync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the lines logged so far that contain every one of subs.
func (b *logBuffer) lines(subs ...string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for line := range strings.Lines(b.buf.String()) {
		match := true
		for _, s := range subs {
			match = match && strings.Contains(line, s)
		}
		if match {
			out = append(out, line)
		}
	}
	return out
}

// refusalTests make the server refuse a request in each way it can
// before a session begins.
var refusalTests = []struct {
	reason, code, level string
	refuse              func(t *testing.T, ts *testServer)
}{
	{"host", "421", "WARN", func(t *testing.T, ts *testServer) {
		dialRefused(t, ts.url("notes?token=SECRET"), http.Header{"Host": {"evil.example"}}, http.StatusMisdirectedRequest)
	}},
	{"origin", "403", "WARN", func(t *testing.T, ts *testServer) {
		dialRefused(t, ts.url("notes?token=SECRET"), http.Header{"Origin": {"https://evil.example"}}, http.StatusForbidden)
	}},
	{"conns_per_ip", "429", "INFO", func(t *testing.T, ts *testServer) {
		dialRaw(t, ts.url("notes")) // the one connection allowed
		dialRefused(t, ts.url("notes?token=SECRET"), nil, http.StatusTooManyRequests)
	}},
	{"bad_handshake", "400", "INFO", func(t *testing.T, ts *testServer) {
		resp, err := http.Get("http://" + ts.addr + "/ws/notes?token=SECRET")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain GET of /ws/notes: %s, want 400", resp.Status)
		}
	}},
	{"invalid_room", "4002", "INFO", func(t *testing.T, ts *testServer) {
		dialRaw(t, ts.url("bad%20room?token=SECRET")).expectClosed(protocol.CodeInvalidRoom)
	}},
}

// TestRefusalsAreLoggedAndCounted checks that every refusal before a
// session begins is counted in flowstate_refused_requests_total and
// logged with its reason, status and address, without the URL's token.
func TestRefusalsAreLoggedAndCounted(t *testing.T) {
	for _, tt := range refusalTests {
		t.Run(tt.reason, func(t *testing.T) {
			logs := &logBuffer{}
			cfg := testConfig()
			cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
			cfg.MaxConnsPerIP = 1
			ts := startServer(t, cfg, nil)
			tt.refuse(t, ts)
			waitMetric(t, ts, 1, "flowstate_refused_requests_total", "reason", tt.reason, "code", tt.code)
			lines := logs.lines(`msg="request refused"`, "reason="+tt.reason, "status="+tt.code, "level="+tt.level, "ip=127.0.0.1", "remote=127.0.0.1:")
			if len(lines) != 1 {
				t.Errorf("log lines for %s: %q\nall: %q", tt.reason, lines, logs.lines(""))
			}
			if secret := logs.lines("SECRET"); len(secret) > 0 {
				t.Errorf("the log holds the URL's token: %q", secret)
			}
			for _, other := range refusalTests {
				if other.reason != tt.reason {
					if got := metric(t, ts, "flowstate_refused_requests_total", "reason", other.reason); got != 0 {
						t.Errorf("%s counted %v times", other.reason, got)
					}
				}
			}
		})
	}
}

// TestRefusalLogIsRateLimited floods the server with refused requests:
// the metric counts every one, the log holds a burst of lines, and the
// next line written says how many were left out.
func TestRefusalLogIsRateLimited(t *testing.T) {
	logs := &logBuffer{}
	cfg := testConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	ts := startServer(t, cfg, nil)
	const n = 100
	for range n {
		dialRefused(t, ts.url("notes"), http.Header{"Host": {"evil.example"}}, http.StatusMisdirectedRequest)
	}
	if got := metric(t, ts, "flowstate_refused_requests_total", "reason", "host"); got != n {
		t.Errorf("counted %v refusals, want %d", got, n)
	}
	logged := len(logs.lines(`msg="request refused"`))
	if logged >= n/2 {
		t.Errorf("%d log lines for %d refusals: not rate-limited", logged, n)
	}
	// The limit lets a line through again a second later, with the
	// count of the lines left out.
	waitFor(t, deadline, func() error {
		dialRefused(t, ts.url("notes"), http.Header{"Host": {"evil.example"}}, http.StatusMisdirectedRequest)
		if len(logs.lines("suppressed=")) == 0 {
			return io.EOF
		}
		return nil
	})
	t.Logf("%d lines for %d refusals; then %q", logged, n, logs.lines("suppressed="))
}

// dialRefused dials url with header and requires the upgrade to be
// refused with status.
func dialRefused(t *testing.T, url string, header http.Header, status int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	d := websocket.Dialer{HandshakeTimeout: time.Duration(deadline)}
	conn, resp, err := d.DialContext(ctx, url, header)
	if err == nil {
		conn.Close()
		t.Fatalf("dial %s accepted, want %d", url, status)
	}
	if resp == nil || resp.StatusCode != status {
		t.Fatalf("dial %s: %v (%v), want %d", url, err, resp, status)
	}
	resp.Body.Close()
}
