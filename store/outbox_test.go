package store_test

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/flowstate/flowstate/store"
)

// outboxes lists every Outbox implementation.
var outboxes = []struct {
	name string
	open func(t *testing.T) store.Outbox
}{
	{"memory", func(*testing.T) store.Outbox { return store.NewMemory() }},
	{"bolt", func(t *testing.T) store.Outbox { return openBolt(t, store.BoltOptions{}) }},
	{"bolt/sync-each-append", func(t *testing.T) store.Outbox {
		return openBolt(t, store.BoltOptions{SyncEachAppend: true})
	}},
}

// outboxSteps are writes and what a read of a prefix gives after each.
var outboxSteps = []struct {
	put    []store.OutboxRecord
	del    []string
	prefix string
	want   []string // key=value
}{
	{prefix: "", want: nil},
	{put: []store.OutboxRecord{{"d/b", []byte("2")}, {"d/a", []byte("1")}, {"s/x", []byte("sv")}}, prefix: "d/", want: []string{"d/a=1", "d/b=2"}},
	{put: []store.OutboxRecord{{"d/a", []byte("1'")}}, prefix: "", want: []string{"d/a=1'", "d/b=2", "s/x=sv"}},
	{put: []store.OutboxRecord{{"d/c", []byte("3")}}, del: []string{"d/a", "d/c", "d/none"}, prefix: "d/", want: []string{"d/b=2"}},
	{del: []string{"s/x"}, prefix: "s/", want: nil},
}

func outboxDump(recs []store.OutboxRecord) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Key+"="+string(r.Value))
	}
	return out
}

// TestOutbox checks the contract of both stores: puts replace, deletes
// win over puts of the same call, reads are by prefix and in key order.
func TestOutbox(t *testing.T) {
	for _, tt := range outboxes {
		t.Run(tt.name, func(t *testing.T) {
			ob := tt.open(t)
			for i, s := range outboxSteps {
				if err := ob.WriteOutbox(s.put, s.del); err != nil {
					t.Fatalf("step %d: WriteOutbox: %v", i, err)
				}
				got, err := ob.ReadOutbox(s.prefix)
				if err != nil {
					t.Fatalf("step %d: ReadOutbox: %v", i, err)
				}
				if g := outboxDump(got); !reflect.DeepEqual(g, s.want) {
					t.Fatalf("step %d: ReadOutbox(%q) = %q, want %q", i, s.prefix, g, s.want)
				}
			}
		})
	}
}

// Bad keys are refused whole: nothing of the call is written.
func TestOutboxBadKeys(t *testing.T) {
	bad := []struct {
		name string
		put  []store.OutboxRecord
		del  []string
	}{
		{"empty key", []store.OutboxRecord{{"ok", []byte("v")}, {"", []byte("v")}}, nil},
		{"long key", []store.OutboxRecord{{"ok", []byte("v")}, {strings.Repeat("k", 40000), nil}}, nil},
		{"empty delete", []store.OutboxRecord{{"ok", []byte("v")}}, []string{""}},
	}
	for _, tt := range outboxes {
		for _, b := range bad {
			t.Run(tt.name+"/"+b.name, func(t *testing.T) {
				ob := tt.open(t)
				if err := ob.WriteOutbox(b.put, b.del); err == nil {
					t.Fatal("WriteOutbox succeeded")
				}
				if got, _ := ob.ReadOutbox(""); len(got) != 0 {
					t.Fatalf("a refused write stored %q", outboxDump(got))
				}
			})
		}
	}
}

// The outbox survives a reopen, stays apart from the rooms, and a closed
// store refuses it.
func TestBoltOutboxPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flowstate.db")
	st, err := store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Append("room", []byte("u")); err != nil {
		t.Fatal(err)
	}
	if err := st.WriteOutbox([]store.OutboxRecord{{"d/1", []byte("event")}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.WriteOutbox([]store.OutboxRecord{{"d/2", nil}}, nil); !errors.Is(err, store.ErrClosed) {
		t.Errorf("WriteOutbox after Close = %v, want ErrClosed", err)
	}
	st = openBoltAt(t, path, store.BoltOptions{})
	got, err := st.ReadOutbox("")
	if err != nil || !reflect.DeepEqual(outboxDump(got), []string{"d/1=event"}) {
		t.Fatalf("after reopen: %q, %v", outboxDump(got), err)
	}
	rooms, err := st.Rooms()
	if err != nil || len(rooms) != 1 || rooms[0].Name != "room" {
		t.Fatalf("Rooms = %+v, %v; want just the room", rooms, err)
	}
	ro := openBoltAt(t, filepath.Join(t.TempDir(), "x.db"), store.BoltOptions{})
	if got, err := ro.ReadOutbox(""); err != nil || got != nil {
		t.Fatalf("a file without an outbox: %v, %v", got, err)
	}
}
