package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/flowstate/flowstate/store"
	docsync "github.com/flowstate/flowstate/sync"
	"github.com/flowstate/flowstate/sync/client"
)

// A program that only syncs documents must not link the server's
// dependencies: the package's imports, followed to the end, hold none of
// them, nor the server packages themselves.
func TestDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/flowstate/flowstate/sync/client").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps listed only %q", deps)
	}
	forbidden := []string{
		"github.com/prometheus/", "go.etcd.io/bbolt", "github.com/golang-jwt/",
		"github.com/flowstate/flowstate/store", "github.com/flowstate/flowstate/sync\n",
	}
	for _, dep := range deps {
		for _, f := range forbidden {
			if strings.HasPrefix(dep+"\n", f) {
				t.Errorf("sync/client depends on %s", dep)
			}
		}
	}
}

// startServer serves a real FlowState server on loopback until the test
// ends and returns its host:port.
func startServer(t *testing.T, cfg docsync.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	st := store.NewMemory()
	srv := docsync.NewServer(cfg, st)
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

// A refused handshake says which status the server answered, why, and
// what to change, instead of a bare "bad handshake".
func TestDial_Refused(t *testing.T) {
	capped := startServer(t, docsync.Config{MaxConnsPerIP: 1})
	addr := startServer(t, docsync.Config{AllowedOrigins: []string{"https://app.example.com"}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first, err := client.Dial(ctx, "ws://"+capped+"/ws/held", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()

	tests := []struct {
		name   string
		url    string
		origin string
		status int
		want   []string // in the error's text
	}{
		{"per-address cap", "ws://" + capped + "/ws/more", "", http.StatusTooManyRequests,
			[]string{"429 Too Many Requests", "too many connections from your address", "--max-conns-per-ip"}},
		{"wrong path", "ws://" + addr + "/rooms/notes", "", http.StatusNotFound,
			[]string{"404 Not Found", "ws://HOST:PORT/ws/ROOM"}},
		{"refused origin", "ws://" + addr + "/ws/notes", "https://evil.example.com", http.StatusForbidden,
			[]string{"403 Forbidden", "--allowed-origins"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := &client.Options{}
			if tt.origin != "" {
				opts.Header = http.Header{"Origin": {tt.origin}}
			}
			c, err := client.Dial(ctx, tt.url, opts)
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded")
			}
			var ue *client.UpgradeError
			if !errors.As(err, &ue) {
				t.Fatalf("Dial: %v (%T), want an *UpgradeError", err, err)
			}
			if ue.StatusCode != tt.status {
				t.Errorf("StatusCode %d, want %d", ue.StatusCode, tt.status)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
