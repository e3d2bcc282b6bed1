package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/store"
	docsync "github.com/flowstate/flowstate/sync"
	"github.com/flowstate/flowstate/web"
)

// serveWithDemo serves a real server with cfg, and the demo page at "/"
// as the binary mounts it, until the test ends; it returns host:port.
func serveWithDemo(t *testing.T, cfg docsync.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	st := store.NewMemory()
	srv := docsync.NewServer(cfg, st)
	srv.Mux.Handle("GET /", web.Handler())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
		st.Close()
	})
	return ln.Addr().String()
}

// Each message a new user meets in the first hour: the exit status, and
// words that say what is wrong and what to do.
func TestMessages(t *testing.T) {
	dir := t.TempDir()
	data, _ := seedData(t)
	snapshot := filepath.Join(dir, "notes.snapshot")
	if err := os.WriteFile(snapshot, crdt.NewDoc().Snapshot(), 0o600); err != nil {
		t.Fatal(err)
	}
	_, jsonExport, _ := runCmd("export", "notes", "--data", data, "--format", "json")
	jsonFile := filepath.Join(dir, "notes.json")
	if err := os.WriteFile(jsonFile, []byte(jsonExport), 0o600); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(dir, "fresh.db") // must never be created
	capped := serveWithDemo(t, docsync.Config{MaxConnsPerIP: 2})
	plain := serveWithDemo(t, docsync.Config{})

	tests := []struct {
		name   string
		args   []string
		status int
		out    []string // in stdout
		errOut []string // in stderr
	}{
		{"help help", []string{"help", "help"}, 0, []string{"Commands:", "help"}, nil},
		{"help bench load names the cap", []string{"help", "bench", "load"}, 0, []string{"--max-conns-per-ip 0", "429"}, nil},
		{"token --ttl forever", []string{"token", "--room", "notes", "--ttl", "forever", "--secret", cmdSecret}, 2,
			nil, []string{`"forever"`, "30m, 24h or 720h", "tokens always expire"}},
		{"import a room with spaces", []string{"import", "room with spaces", snapshot, "--data", fresh}, 2,
			nil, []string{`invalid room name "room with spaces"`, "A-Z a-z 0-9 . _ ~ -"}},
		{"import a room with a slash", []string{"import", "a/b", snapshot, "--data", fresh}, 2,
			nil, []string{`invalid room name "a/b"`}},
		{"import a JSON export", []string{"import", "notes", jsonFile, "--data", fresh}, 1,
			nil, []string{"export --format json", "--format snapshot"}},
		{"help import names the formats", []string{"help", "import"}, 0, []string{"export --format snapshot", "cannot be imported"}, nil},
		{"backup from a server without --admin-token", []string{"backup", filepath.Join(dir, "b.db"), "--url", "http://" + plain, "--admin-token", "x"}, 1,
			nil, []string{"404", "start it with --admin-token"}},
		{"healthcheck of a server's base URL", []string{"healthcheck", "--url", "http://" + plain}, 0,
			[]string{"http://" + plain + "/readyz", `"ready"`}, nil},
		{"healthcheck of a base URL with a slash", []string{"healthcheck", "--url", "http://" + plain + "/"}, 0,
			[]string{"/readyz", `"ready"`}, nil},
		{"bench load past the per-address cap", []string{"bench", "load", "--url", "ws://" + capped, "--rooms", "1", "--clients", "3", "--duration", "1s"}, 1,
			nil, []string{"connecting client 3 of 3", "429 Too Many Requests", "too many connections from your address", "--max-conns-per-ip 0"}},
		{"bench replay to a wrong path", []string{"bench", "replay", "--url", "ws://" + plain + "/ws", writeTrace(t, "tiny", map[string]any{
			"startContent": "", "endContent": "a", "txns": []any{map[string]any{"patches": []any{[]any{0, 0, "a"}}}}})}, 1,
			nil, []string{"404 Not Found", "ws://HOST:PORT/ws/ROOM"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out, errOut := runCmd(tt.args...)
			if status != tt.status {
				t.Errorf("exit status %d, want %d\nstdout: %s\nstderr: %s", status, tt.status, out, errOut)
			}
			for _, w := range tt.out {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.errOut {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
	if _, err := os.Stat(fresh); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused import created %s (%v)", fresh, err)
	}
}

// The server starts on an empty data file, as "touch" or a volume mount
// leaves it, and refuses a data file in a missing directory naming it.
func TestServeDataFileFirstRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := exec.Command(bin, "--addr", "127.0.0.1:0", "--log-format", "json", "--data", empty)
	stderr, err := srv.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	var rec struct{ Msg, Addr, Demo string }
	lines := bufio.NewScanner(stderr)
	for rec.Msg != "listening" && lines.Scan() {
		_ = json.Unmarshal(lines.Bytes(), &rec)
	}
	if rec.Msg != "listening" {
		t.Fatalf("the server exited before listening on an empty data file")
	}
	go io.Copy(io.Discard, stderr) // the server must not block on its log
	addr := rec.Addr
	// The startup log says where the demo is, for a first run.
	if want := "http://" + addr + "/"; rec.Demo != want {
		t.Errorf("the startup log names the demo %q, want %q", rec.Demo, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := docsync.Dial(ctx, "ws://"+addr+"/ws/notes", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Edit(func(d *crdt.Doc) error { _, err := d.Text("body").Insert(0, "hi"); return err }); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}

	missing := filepath.Join(dir, "no-such-dir")
	out, err := exec.CommandContext(ctx, bin, "--addr", "127.0.0.1:0", "--data", filepath.Join(missing, "flowstate.db")).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1\n%s", err, out)
	}
	if !strings.Contains(string(out), "the directory "+missing+" does not exist") {
		t.Errorf("output does not name the missing directory:\n%s", out)
	}
}

func TestDemoURL(t *testing.T) {
	for _, tt := range []struct{ addr, want string }{
		{"127.0.0.1:8080", "http://127.0.0.1:8080/"},
		{"0.0.0.0:8080", "http://localhost:8080/"},
		{"[::]:9000", "http://localhost:9000/"},
		{"[::1]:8080", "http://[::1]:8080/"},
		{"docs.example.com:80", "http://docs.example.com:80/"},
	} {
		if got := demoURL("http", tt.addr); got != tt.want {
			t.Errorf("demoURL(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}
