package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
	"github.com/flowstate/flowstate/store"
	docsync "github.com/flowstate/flowstate/sync"
)

// built is the flowstate command built once for every test of the
// package: each build relinks a binary of some 30 MB, a second or more.
// TestMain removes its directory.
var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// releaseBuildFlags are the Dockerfile's compile settings: a static
// binary (CGO_ENABLED=0) without local paths (-trimpath). buildBinary,
// TestReleaseBuild and the Makefile's test server use them all, so the
// packages are compiled once and the other builds only link: with other
// settings each compiled the whole server and its dependencies again.
// -ldflags only change the link. -buildvcs=false: the Docker build has no
// .git; the flag changes only the link too.
var releaseBuildFlags = []string{"-trimpath", "-buildvcs=false"}

// goBuild returns the command "go build" with releaseBuildFlags, then args.
func goBuild(args ...string) *exec.Cmd {
	cmd := exec.Command("go", append(append([]string{"build"}, releaseBuildFlags...), args...)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	return cmd
}

// buildBinary returns the flowstate command, built on first use, as the
// Dockerfile builds it but for -ldflags. The tests only run it, so they
// can share it.
func buildBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "flowstate-test-"); built.err != nil {
			return
		}
		bin := filepath.Join(built.dir, "flowstate")
		if out, err := goBuild("-o", bin, ".").CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		built.bin = bin
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// startBinary runs the server binary on a free port and returns the
// address it listens on, read from its JSON "listening" log line.
func startBinary(t *testing.T, bin string, args ...string) (*exec.Cmd, string, *serverLog) {
	t.Helper()
	// A data file of its own, unless args name one (the last flag wins).
	defaults := []string{"--addr", "127.0.0.1:0", "--log-format", "json", "--data", filepath.Join(t.TempDir(), "flowstate.db")}
	cmd := exec.Command(bin, append(defaults, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	logs := &serverLog{}
	lines := bufio.NewScanner(stderr)
	addr := make(chan string, 1)
	go func() {
		for lines.Scan() {
			logs.add(lines.Text())
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(lines.Bytes(), &rec) == nil && rec.Msg == "listening" {
				addr <- rec.Addr
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatalf("server exited before listening:\n%s", logs)
		}
		return cmd, a, logs
	case <-time.After(20 * time.Second):
		t.Fatalf("server did not log its address:\n%s", logs)
	}
	return nil, "", nil
}

// A serverLog collects a server's log lines as they come, while the test
// reads them.
type serverLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *serverLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.WriteString(line)
	l.buf.WriteByte('\n')
}

// String returns the lines so far.
func (l *serverLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestServe_HealthSyncAndGracefulShutdown runs the real binary: /healthz
// answers, two clients converge through it, and SIGTERM closes their
// sessions with "going away" and exits 0.
func TestServe_HealthSyncAndGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	cmd, addr, logs := startBinary(t, buildBinary(t))

	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var h docsync.Health
	err = json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if err != nil || h.Status != "ok" || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("healthz: %+v, %v", h, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := "ws://" + addr + "/ws/notes"
	a, err := docsync.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Edit(func(d *crdt.Doc) error { _, err := d.Text("body").Insert(0, "hello"); return err }); err != nil {
		t.Fatal(err)
	}
	if err := a.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := docsync.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := b.Text("body"); got != "hello" {
		t.Fatalf("late joiner reads %q, want %q", got, "hello")
	}

	// A raw connection sees the close code of the shutdown.
	raw, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	hello, _ := protocol.Encode(&protocol.Hello{Version: protocol.Version, Room: "notes", Client: 7, StateVector: crdt.StateVector{}.Encode()})
	if err := raw.WriteMessage(websocket.BinaryMessage, hello); err != nil {
		t.Fatal(err)
	}
	if _, _, err := raw.ReadMessage(); err != nil { // the Welcome
		t.Fatal(err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = raw.SetReadDeadline(time.Now().Add(10 * time.Second))
	var closeErr *websocket.CloseError
	for {
		_, _, err := raw.ReadMessage()
		if err != nil {
			if !errors.As(err, &closeErr) {
				t.Fatalf("read after SIGTERM: %v, want a close frame", err)
			}
			break
		}
	}
	if closeErr.Code != int(protocol.CodeGoingAway) {
		t.Errorf("close code %d, want %d", closeErr.Code, protocol.CodeGoingAway)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, logs)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("server still running 15 s after SIGTERM\n%s", logs)
	}
}

func TestServe_FlagsAndEnvironment(t *testing.T) {
	var out bytes.Buffer
	t.Setenv("FLOWSTATE_ADDR", "127.0.0.1:9999")
	var f serveFlags
	fs := newServeFlagSet(&f, &out)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if f.addr != "127.0.0.1:9999" || f.data != "./flowstate.db" || f.logFormat != "text" {
		t.Errorf("defaults with FLOWSTATE_ADDR set: %+v", f)
	}
	if err := fs.Parse([]string{"--addr", "127.0.0.1:1"}); err != nil || f.addr != "127.0.0.1:1" {
		t.Errorf("--addr does not override the environment: %+v, %v", f, err)
	}
	for _, bad := range [][]string{{"--log-format", "xml"}, {"--log-level", "loud"}, {"stray"}} {
		var stderr bytes.Buffer
		if code := runServe(bad, io.Discard, &stderr); code != 2 {
			t.Errorf("serve %v: exit status %d, want 2", bad, code)
		}
		if stderr.Len() == 0 {
			t.Errorf("serve %v: no message", bad)
		}
	}
}

// TestBenchLoad runs the load generator against an in-process server and
// checks its report.
func TestBenchLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a load")
	}
	srv := docsync.NewServer(docsync.Config{}, store.NewMemory())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	var stdout, stderr bytes.Buffer
	args := []string{"--url", "ws://" + ln.Addr().String(), "--rooms", "3", "--clients", "4", "--rate", "20", "--duration", "1s", "--json"}
	if code := runBenchLoad(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit status %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
	var res map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout.String())
	}
	keys := []string{"p50_ms", "p99_ms", "max_ms", "deliveries_per_s", "errors", "converged", "connections"}
	if runtime.GOOS == "linux" {
		keys = append(keys, "server_pid", "server_cpu_us_per_delivery", "server_voluntary_switches_per_delivery")
	}
	for _, k := range keys {
		if _, ok := res[k]; !ok {
			t.Errorf("output lacks %q: %s", k, stdout.String())
		}
	}
	// The server runs in this process; /healthz names it.
	if runtime.GOOS == "linux" && res["server_pid"] != float64(os.Getpid()) {
		t.Errorf("server_pid %v, want %d", res["server_pid"], os.Getpid())
	}
	if res["converged"] != true || res["errors"] != float64(0) || res["connections"] != float64(12) {
		t.Errorf("unexpected result: %s", stdout.String())
	}
	// 12 clients, about 20 edits each, each delivered to 3 others.
	if d, _ := res["deliveries"].(float64); d < 12*3*5 {
		t.Errorf("only %v deliveries: %s", d, stdout.String())
	}
	if !strings.Contains(stderr.String(), "connected 12 clients") {
		t.Errorf("no progress output: %s", stderr.String())
	}
}

// The server refuses to start on a data file it cannot use, at once and
// naming the file: one that another server holds, and one that is not a
// data file at all. The file is left as it was.
func TestServeRefusesUnusableDataFile(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	held := filepath.Join(dir, "held.db")
	startBinary(t, bin, "--data", held)
	garbage := filepath.Join(dir, "garbage.db")
	junk := bytes.Repeat([]byte("not a bbolt file "), 4096)
	if err := os.WriteFile(garbage, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	// A real data file, cut short as a full disk or a bad copy would.
	truncated := filepath.Join(dir, "truncated.db")
	st, err := store.OpenBolt(truncated, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if err := st.Compact(fmt.Sprintf("room-%d", i), bytes.Repeat([]byte{byte(i)}, 2000)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(truncated); err != nil || os.Truncate(truncated, fi.Size()/2) != nil {
		t.Fatalf("truncate: %v", err)
	}

	tests := []struct {
		name, data string
		want       []string
	}{
		{"held by another server", held, []string{"locked by another process", "another flowstate server"}},
		{"not a data file", garbage, []string{"not a FlowState data file"}},
		{"truncated", truncated, []string{"damaged"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			out, err := exec.CommandContext(ctx, bin, "--addr", "127.0.0.1:0", "--data", tt.data).CombinedOutput()
			t.Logf("refused after %v", time.Since(start).Round(time.Millisecond))
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1\n%s", err, out)
			}
			for _, want := range append([]string{tt.data}, tt.want...) {
				if !strings.Contains(string(out), want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
	if got, err := os.ReadFile(garbage); err != nil || !bytes.Equal(got, junk) {
		t.Errorf("the refused file changed (err %v)", err)
	}
}

// TestServeHostCheck runs the binary on every interface: without
// --allowed-hosts it warns at start-up, answers IP addresses and
// localhost, and refuses a DNS name with 421 (DNS rebinding); with the
// name listed, it answers it and does not warn.
func TestServeHostCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	for _, tt := range []struct {
		args []string
		warn bool
		want map[string]int // Host -> status
	}{
		{nil, true, map[string]int{"127.0.0.1": 200, "localhost": 200, "sync.example.com": 421, "evil.example": 421}},
		{[]string{"--allowed-hosts", "sync.example.com"}, false, map[string]int{"127.0.0.1": 200, "sync.example.com": 200, "evil.example": 421}},
	} {
		_, addr, logs := startBinary(t, bin, append([]string{"--addr", "0.0.0.0:0", "--data", ":memory:"}, tt.args...)...)
		_, port, _ := net.SplitHostPort(addr)
		for host, status := range tt.want {
			req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+port+"/api/rooms", nil)
			req.Host = net.JoinHostPort(host, port)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != status {
				t.Errorf("%v: GET /api/rooms with Host %s: %s, want %d", tt.args, req.Host, resp.Status, status)
			}
		}
		if warned := strings.Contains(logs.String(), "without --allowed-hosts"); warned != tt.warn {
			t.Errorf("%v: start-up warning %v, want %v:\n%s", tt.args, warned, tt.warn, logs)
		}
	}
}

func TestWithListenHost(t *testing.T) {
	for _, tt := range []struct {
		hosts []string
		addr  string
		want  string
	}{
		{nil, "127.0.0.1:8080", ""},
		{nil, ":8080", ""},
		{nil, "[::]:8080", ""},
		{nil, "Sync.Internal:8080", "sync.internal"},
		{[]string{"a.example"}, "sync.internal:8080", "a.example,sync.internal"},
		{[]string{"*"}, "sync.internal:8080", "*"},
	} {
		if got := strings.Join(withListenHost(tt.hosts, tt.addr), ","); got != tt.want {
			t.Errorf("withListenHost(%q, %q) = %q, want %q", tt.hosts, tt.addr, got, tt.want)
		}
	}
}
