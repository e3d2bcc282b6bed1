package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/flowstate/flowstate/store"
)

// appendAsync calls AppendAsync and waits for its result.
func appendAsync(t *testing.T, st *store.Bolt, room string, updates ...[]byte) error {
	t.Helper()
	res := make(chan error, 1)
	st.AppendAsync(room, updates, func(err error) { res <- err })
	select {
	case err := <-res:
		return err
	case <-time.After(10 * time.Second):
		return errors.New("test: AppendAsync did not report within 10 s")
	}
}

// TestBoltAppendAsync checks that AppendAsync appends as Append does, with
// and without a committer, surviving a reopen, and reports what Append
// would refuse.
func TestBoltAppendAsync(t *testing.T) {
	for _, opts := range []store.BoltOptions{{}, {SyncEachAppend: true}} {
		t.Run(fmt.Sprintf("SyncEachAppend=%v", opts.SyncEachAppend), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "flowstate.db")
			st := openBoltAt(t, path, opts)
			// Rooms appending at once share commits, and each room's
			// updates stay in order.
			var wg sync.WaitGroup
			for r := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 20 {
						if err := appendAsync(t, st, fmt.Sprintf("room%d", r), []byte{byte(r), byte(i)}); err != nil {
							t.Errorf("room%d, update %d: %v", r, i, err)
						}
					}
				}()
			}
			wg.Wait()
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			st = openBoltAt(t, path, opts)
			for r := range 8 {
				_, updates, err := st.Load(fmt.Sprintf("room%d", r))
				if err != nil || len(updates) != 20 {
					t.Fatalf("room%d: %d updates, %v; want 20", r, len(updates), err)
				}
				for i, u := range updates {
					if !bytes.Equal(u, []byte{byte(r), byte(i)}) {
						t.Errorf("room%d, update %d: %x", r, i, u)
					}
				}
			}
		})
	}
}

var appendAsyncRefusals = []struct {
	name    string
	room    string
	updates [][]byte
	want    func(error) bool
}{
	{"no room name", "", [][]byte{{1}}, func(err error) bool { return errors.Is(err, store.ErrRoomName) }},
	{"room name too long", strings.Repeat("r", bolt.MaxKeySize+1), [][]byte{{1}}, func(err error) bool { return errors.Is(err, store.ErrRoomName) }},
	{"more than one value holds", "big", [][]byte{make([]byte, bolt.MaxValueSize)}, func(err error) bool { return err != nil }},
}

// TestBoltAppendAsyncRefused checks that AppendAsync reports what Append
// refuses, and ErrClosed once the store is closed, and stores nothing.
func TestBoltAppendAsyncRefused(t *testing.T) {
	st := openBolt(t, store.BoltOptions{})
	for _, tt := range appendAsyncRefusals {
		if err := appendAsync(t, st, tt.room, tt.updates...); !tt.want(err) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	if rooms, err := st.Rooms(); err != nil || len(rooms) != 0 {
		t.Errorf("rooms after refusals: %v, %v", rooms, err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := appendAsync(t, st, "late", []byte{1}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}

// TestBoltAppendLater checks that AppendLater waits for the commit
// interval to gather more writes, that any write whose caller waits, and
// Close, end the wait, and that what it reports written is durable.
func TestBoltAppendLater(t *testing.T) {
	tests := []struct {
		name     string
		interval time.Duration
		trigger  func(*testing.T, *store.Bolt) // ends the wait; nil: nothing waits
	}{
		{"no interval", -1, nil},
		{"Append", time.Hour, func(t *testing.T, st *store.Bolt) {
			if err := st.Append("c", []byte{3}); err != nil {
				t.Error(err)
			}
		}},
		{"AppendAsync", time.Hour, func(t *testing.T, st *store.Bolt) {
			if err := appendAsync(t, st, "c", []byte{3}); err != nil {
				t.Error(err)
			}
		}},
		{"Close", time.Hour, func(t *testing.T, st *store.Bolt) {
			if err := st.Close(); err != nil {
				t.Error(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "flowstate.db")
			st := openBoltAt(t, path, store.BoltOptions{CommitInterval: tt.interval})
			// The first commit in a while starts at once.
			first := make(chan error, 1)
			st.AppendLater("a", [][]byte{{1}}, func(err error) { first <- err })
			if err := wait(first); err != nil {
				t.Fatalf("first AppendLater: %v", err)
			}
			held := make(chan error, 1)
			st.AppendLater("b", [][]byte{{2}}, func(err error) { held <- err })
			if tt.trigger != nil {
				select {
				case err := <-held:
					t.Fatalf("second AppendLater reported %v within the commit interval", err)
				case <-time.After(200 * time.Millisecond):
				}
				tt.trigger(t, st)
			}
			if err := wait(held); err != nil {
				t.Fatalf("second AppendLater: %v", err)
			}
			st.Close()
			st = openBoltAt(t, path, store.BoltOptions{})
			for room, want := range map[string][]byte{"a": {1}, "b": {2}} {
				if _, updates, err := st.Load(room); err != nil || len(updates) != 1 || !bytes.Equal(updates[0], want) {
					t.Errorf("room %s after reopening: %x, %v; want [%x]", room, updates, err, want)
				}
			}
		})
	}
}

// wait returns what res reports, or an error after 10 s.
func wait(res <-chan error) error {
	select {
	case err := <-res:
		return err
	case <-time.After(10 * time.Second):
		return errors.New("test: no report within 10 s")
	}
}
