package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowstate/flowstate/store"
	docsync "github.com/flowstate/flowstate/sync"
)

// TestBenchReplay replays a small trace into several rooms of an
// in-process server backed by a real bbolt file, and checks what each
// room stored.
func TestBenchReplay(t *testing.T) {
	dir := t.TempDir()
	tracePath := writeTinyTrace(t)

	st, err := store.OpenBolt(filepath.Join(dir, "replay.db"), store.BoltOptions{})
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
	url := "ws://" + ln.Addr().String()

	tests := []struct {
		name, room string
		args       []string
		wantOut    string
		wantRooms  map[string]string // room → stored text
	}{
		{"whole trace, three rooms", "all", []string{"--rooms", "3"}, "39 updates into 3 room(s)",
			map[string]string{"all-1": "hello there", "all-2": "hello there", "all-3": "hello there"}},
		{"first five updates", "five", []string{"--updates", "5"}, "5 updates into 1 room(s)",
			map[string]string{"five": "hello"}},
		{"one update at a time", "one", []string{"--window", "1"}, "13 updates into 1 room(s)",
			map[string]string{"one": "hello there"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"--url", url, "--room", tt.room}, tt.args...)
			if code := runBenchReplay(append(args, tracePath), &stdout, &stderr); code != 0 {
				t.Fatalf("exit status %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantOut) || !strings.Contains(stdout.String(), "all acknowledged; ack latency p50") {
				t.Errorf("output %q, want %q", stdout.String(), tt.wantOut)
			}
			// Acknowledged means stored: each room's log already holds the
			// text, before any room closed and saved.
			for room, want := range tt.wantRooms {
				if got := storedText(t, st, room); got != want {
					t.Errorf("room %s stores %q, want %q", room, got, want)
				}
			}
		})
	}
}

// writeTinyTrace writes a trace of 13 updates: "hello world", typed,
// then "world" replaced by "there".
func writeTinyTrace(t *testing.T) string {
	t.Helper()
	var txns []map[string]any
	for i, r := range "hello world" {
		txns = append(txns, map[string]any{"patches": [][]any{{i, 0, string(r)}}})
	}
	txns = append(txns, map[string]any{"patches": [][]any{{6, 5, ""}, {6, 0, "there"}}})
	raw, err := json.Marshal(map[string]any{"startContent": "", "endContent": "hello there", "txns": txns})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tiny.json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// storedText returns the bench text of room as st holds it.
func storedText(t *testing.T, st store.Store, room string) string {
	t.Helper()
	doc, _, err := loadDoc(st, room)
	if err != nil {
		t.Fatal(err)
	}
	return doc.Text(benchTextName).String()
}

// The store behind --fsync-each-update keeps every update of an Append,
// in order, though it commits them one by one.
func TestFsyncEachUpdateStore(t *testing.T) {
	st, bolt, err := openServeStore(filepath.Join(t.TempDir(), "each.db"), true, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer bolt.Close()
	if err := st.Append("r", []byte("a"), []byte("b"), []byte("c")); err != nil {
		t.Fatal(err)
	}
	_, log, err := st.Load("r")
	if err != nil || len(log) != 3 || string(bytes.Join(log, nil)) != "abc" {
		t.Errorf("log %q, %v; want a, b, c", log, err)
	}
}
