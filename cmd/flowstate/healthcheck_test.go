package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flowstate/flowstate/store"
	docsync "github.com/flowstate/flowstate/sync"
)

var defaultReadyURLTests = []struct {
	addr, want string
}{
	{"127.0.0.1:8080", "http://127.0.0.1:8080/readyz"},
	{"0.0.0.0:8080", "http://127.0.0.1:8080/readyz"},
	{":9000", "http://127.0.0.1:9000/readyz"},
	{"[::]:8080", "http://127.0.0.1:8080/readyz"},
	{"[::1]:8080", "http://[::1]:8080/readyz"},
	{"docs.example.com:443", "http://docs.example.com:443/readyz"},
}

func TestDefaultReadyURL(t *testing.T) {
	for _, tt := range defaultReadyURLTests {
		if got := defaultReadyURL(tt.addr); got != tt.want {
			t.Errorf("defaultReadyURL(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

// startHealthServer serves a real server on loopback until the test ends.
func startHealthServer(t *testing.T) (*docsync.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	st := store.NewMemory()
	srv := docsync.NewServer(docsync.Config{}, st)
	srv.Version = readBuildInfo().String()
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
	return srv, ln.Addr().String()
}

// The healthcheck exits 0 while the server is ready and 1 once it shuts
// down or cannot be reached.
func TestHealthcheck(t *testing.T) {
	srv, addr := startHealthServer(t)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := closed.Addr().String()
	closed.Close()

	steps := []struct {
		name   string
		before func()
		args   []string
		code   int
		want   string // in the output
	}{
		{"ready", nil, []string{"--url", "http://" + addr + "/readyz"}, 0, `"ready"`},
		{"liveness, with the version", nil, []string{"--url", "http://" + addr + "/healthz"}, 0, `"version":"flowstate ` + version},
		{"from FLOWSTATE_ADDR", func() { t.Setenv("FLOWSTATE_ADDR", addr) }, nil, 0, `"ready"`},
		{"nobody listening", nil, []string{"--url", "http://" + deadAddr + "/readyz"}, 1, "connection refused"},
		{"bad flag", nil, []string{"--nope"}, 2, "flag provided but not defined"},
		{"shutting down", func() {
			if err := srv.Hub().Shutdown(t.Context()); err != nil {
				t.Fatal(err)
			}
		}, []string{"--url", "http://" + addr + "/readyz"}, 1, "503"},
	}
	for _, step := range steps {
		if step.before != nil {
			step.before()
		}
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"healthcheck"}, step.args...), &stdout, &stderr)
		out := stdout.String() + stderr.String()
		if code != step.code || !strings.Contains(out, step.want) {
			t.Errorf("%s: exit %d, output %q; want %d and %q", step.name, code, out, step.code, step.want)
		}
	}
}
