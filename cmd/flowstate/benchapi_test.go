package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowstate/flowstate/store"
	docsync "github.com/flowstate/flowstate/sync"
)

// TestBenchAPI drives an in-process server backed by a real bbolt file
// for a moment and checks that every edit it counted is stored.
func TestBenchAPI(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "api.db"), store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := docsync.NewServer(docsync.Config{}, st)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	var out, errOut bytes.Buffer
	code := run([]string{"bench", "api", "--url", "http://" + ln.Addr().String(), "--clients", "3", "--rooms", "2", "--duration", "300ms"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "durable edits from 3 clients into 2 room(s)") || !strings.Contains(out.String(), "p99") {
		t.Errorf("output %q", out.String())
	}
	var n int
	for _, room := range []string{"bench-api-1", "bench-api-2"} {
		c, err := srv.Hub().Content(context.Background(), room)
		if err != nil {
			t.Fatal(err)
		}
		n += strings.Count(c.Texts["body"], " ")
	}
	var edits int
	if _, err := fmt.Sscan(out.String(), &edits); err != nil || edits != n {
		t.Errorf("reported %d edits (%v), the rooms hold %d", edits, err, n)
	}

	// Refused writes are reported, with the server's reason.
	out.Reset()
	errOut.Reset()
	if code := run([]string{"bench", "api", "--url", "http://" + ln.Addr().String(), "--room", "bad!room", "--duration", "50ms"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "no edit succeeded") {
		t.Errorf("bad room: exit %d, %q", code, errOut.String())
	}
}
