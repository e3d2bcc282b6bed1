package store_test

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/flowstate/flowstate/store"
)

// stores lists every Store implementation; each must pass the contract.
var stores = []struct {
	name string
	open func(t *testing.T) store.Store
}{
	{"memory", func(*testing.T) store.Store { return store.NewMemory() }},
	{"bolt", func(t *testing.T) store.Store { return openBolt(t, store.BoltOptions{}) }},
	{"bolt/sync-each-append", func(t *testing.T) store.Store {
		return openBolt(t, store.BoltOptions{SyncEachAppend: true})
	}},
}

func TestStoreContract(t *testing.T) {
	for _, tt := range stores {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.open(t)

			snap, log, err := st.Load("empty")
			if err != nil || snap != nil || log != nil {
				t.Fatalf("Load of an unknown room = %v, %v, %v; want nil, nil, nil", snap, log, err)
			}

			for _, u := range []string{"u1", "u2", "u3"} {
				if err := st.Append("notes", []byte(u)); err != nil {
					t.Fatal(err)
				}
			}
			snap, log, err = st.Load("notes")
			if err != nil || snap != nil || !reflect.DeepEqual(log, [][]byte{[]byte("u1"), []byte("u2"), []byte("u3")}) {
				t.Fatalf("Load after appends = %q, %q, %v", snap, log, err)
			}

			if err := st.Compact("notes", []byte("snapshot")); err != nil {
				t.Fatal(err)
			}
			if err := st.Append("notes", []byte("u4")); err != nil {
				t.Fatal(err)
			}
			snap, log, err = st.Load("notes")
			if err != nil || string(snap) != "snapshot" || !reflect.DeepEqual(log, [][]byte{[]byte("u4")}) {
				t.Fatalf("Load after compaction = %q, %q, %v", snap, log, err)
			}

			if err := st.Append("attic", []byte("x")); err != nil {
				t.Fatal(err)
			}
			rooms, err := st.Rooms()
			if err != nil {
				t.Fatal(err)
			}
			if len(rooms) != 2 || rooms[0].Name != "attic" || rooms[1].Name != "notes" {
				t.Fatalf("Rooms = %+v, want attic and notes in order", rooms)
			}
			if r := rooms[1]; r.SnapshotBytes != len("snapshot") || r.LogEntries != 1 || r.LogBytes != 2 || r.LastChange.IsZero() {
				t.Errorf("RoomInfo of notes = %+v", r)
			}

			if err := st.Delete("attic"); err != nil {
				t.Fatal(err)
			}
			if snap, log, _ := st.Load("attic"); snap != nil || log != nil {
				t.Errorf("a deleted room still loads: %q, %q", snap, log)
			}

			ready, ok := st.(interface{ Ready() error })
			if !ok {
				t.Fatalf("%T has no Ready method", st)
			}
			if err := ready.Ready(); err != nil {
				t.Errorf("Ready of an open store: %v", err)
			}
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			if err := ready.Ready(); !errors.Is(err, store.ErrClosed) {
				t.Errorf("Ready after Close: %v, want ErrClosed", err)
			}
			if _, _, err := st.Load("notes"); !errors.Is(err, store.ErrClosed) {
				t.Errorf("Load after Close: %v, want ErrClosed", err)
			}
			if err := st.Append("notes", []byte("late")); !errors.Is(err, store.ErrClosed) {
				t.Errorf("Append after Close: %v, want ErrClosed", err)
			}
		})
	}
}

// TestStoreAppendBatch checks that one Append of several updates logs
// them in order, and that the store does not keep the caller's slices.
func TestStoreAppendBatch(t *testing.T) {
	for _, tt := range stores {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.open(t)
			defer st.Close()
			buf := []byte("a")
			if err := st.Append("r", buf, []byte("b"), []byte("c")); err != nil {
				t.Fatal(err)
			}
			buf[0] = 'X'
			if err := st.Append("r"); err != nil {
				t.Fatalf("an empty Append: %v", err)
			}
			if err := st.Append("r", []byte("d")); err != nil {
				t.Fatal(err)
			}
			_, log, err := st.Load("r")
			if err != nil || !reflect.DeepEqual(log, [][]byte{[]byte("a"), []byte("b"), []byte("c"), []byte("d")}) {
				t.Fatalf("Load = %q, %v; want a b c d", log, err)
			}
			rooms, _ := st.Rooms()
			if len(rooms) != 1 || rooms[0].LogEntries != 4 || rooms[0].LogBytes != 4 {
				t.Errorf("Rooms = %+v, want one room of 4 entries, 4 bytes", rooms)
			}
		})
	}
}

// TestMemory_LoadReturnsACopyOfTheLog checks that appending after a Load
// does not change the log the caller holds.
func TestMemory_LoadReturnsACopyOfTheLog(t *testing.T) {
	st := store.NewMemory()
	_ = st.Append("r", []byte("a"))
	_, log, _ := st.Load("r")
	_ = st.Append("r", []byte("b"))
	if len(log) != 1 {
		t.Fatalf("the loaded log changed under the caller: %q", log)
	}
}

// Client IDs bound to identities: the first binding of an ID stays,
// Compact keeps them, Delete removes them, and other rooms are apart.
func TestStoreOwners(t *testing.T) {
	for _, tt := range stores {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.open(t)
			if got, err := st.Owners("notes"); err != nil || got != nil {
				t.Fatalf("Owners of a new room = %v, %v; want nil, nil", got, err)
			}
			steps := []struct {
				set  map[uint64]string
				want map[uint64]string
			}{
				{map[uint64]string{1: "alice"}, map[uint64]string{1: "alice"}},
				{map[uint64]string{1: "mallory", 2: "bob"}, map[uint64]string{1: "alice", 2: "bob"}},
				{nil, map[uint64]string{1: "alice", 2: "bob"}},
				{map[uint64]string{1 << 52: "carol"}, map[uint64]string{1: "alice", 2: "bob", 1 << 52: "carol"}},
			}
			for i, step := range steps {
				if err := st.SetOwners("notes", step.set); err != nil {
					t.Fatalf("step %d: SetOwners: %v", i, err)
				}
				if got, err := st.Owners("notes"); err != nil || !reflect.DeepEqual(got, step.want) {
					t.Fatalf("step %d: Owners = %v, %v; want %v", i, got, err, step.want)
				}
			}
			if err := st.Append("notes", []byte("u1")); err != nil {
				t.Fatal(err)
			}
			if err := st.Compact("notes", []byte("snapshot")); err != nil {
				t.Fatal(err)
			}
			if got, _ := st.Owners("notes"); len(got) != 3 {
				t.Errorf("Owners after Compact = %v", got)
			}
			if got, _ := st.Owners("other"); got != nil {
				t.Errorf("Owners of another room = %v", got)
			}
			if err := st.Delete("notes"); err != nil {
				t.Fatal(err)
			}
			if got, err := st.Owners("notes"); err != nil || got != nil {
				t.Errorf("Owners after Delete = %v, %v", got, err)
			}
		})
	}
}

// Owners survive a restart, and a file written before owners existed
// (no owners bucket) opens, read-only too, and takes them.
func TestBoltOwnersPersist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flowstate.db")
	st, err := store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Append("notes", []byte("u1")); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := store.OpenBolt(path, store.BoltOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ro.Owners("notes"); err != nil || got != nil {
		t.Errorf("read-only Owners of a file without owners = %v, %v", got, err)
	}
	ro.Close()
	st, err = store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetOwners("notes", map[uint64]string{7: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openBoltAt(t, path, store.BoltOptions{})
	if got, err := st.Owners("notes"); err != nil || !reflect.DeepEqual(got, map[uint64]string{7: "alice"}) {
		t.Errorf("Owners after reopening = %v, %v", got, err)
	}
}
