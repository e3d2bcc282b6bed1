package store_test

import (
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/flowstate/flowstate/store"
)

// openBolt opens a store on a new file in t.TempDir and closes it when
// the test ends.
func openBolt(t testing.TB, opts store.BoltOptions) *store.Bolt {
	t.Helper()
	return openBoltAt(t, filepath.Join(t.TempDir(), "flowstate.db"), opts)
}

// openBoltAt opens the store at path and closes it when the test ends.
func openBoltAt(t testing.TB, path string, opts store.BoltOptions) *store.Bolt {
	t.Helper()
	st, err := store.OpenBolt(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// roomState is what Load returns for one room.
type roomState struct {
	snapshot []byte
	log      [][]byte
}

// dump loads every room of st.
func dump(t testing.TB, st store.Store) map[string]roomState {
	t.Helper()
	rooms, err := st.Rooms()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]roomState, len(rooms))
	for _, r := range rooms {
		snap, log, err := st.Load(r.Name)
		if err != nil {
			t.Fatalf("Load(%q): %v", r.Name, err)
		}
		out[r.Name] = roomState{snap, log}
	}
	return out
}

// sameRooms fails t unless a and b hold the same rooms and bytes.
func sameRooms(t testing.TB, a, b map[string]roomState) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d rooms, want %d", len(a), len(b))
	}
	for name, ra := range a {
		rb, ok := b[name]
		if !ok {
			t.Fatalf("room %q is missing", name)
		}
		if string(ra.snapshot) != string(rb.snapshot) || !reflect.DeepEqual(ra.log, rb.log) {
			t.Fatalf("room %q differs: snapshot %d vs %d bytes, log %d vs %d entries",
				name, len(ra.snapshot), len(rb.snapshot), len(ra.log), len(rb.log))
		}
	}
}

// fill writes rooms rooms of entries updates each (every fifth room
// compacted half-way), closes st and returns what it holds. It appends
// each half of a room's updates in one call, to keep tests fast.
func fill(t testing.TB, st *store.Bolt, rooms, entries int) map[string]roomState {
	t.Helper()
	for r := range rooms {
		name := fmt.Sprintf("room-%04d", r)
		var updates [][]byte
		for i := range entries {
			updates = append(updates, fmt.Appendf(nil, "%s update %d", name, i))
		}
		half := entries / 2
		if err := st.Append(name, updates[:half]...); err != nil {
			t.Fatal(err)
		}
		if r%5 == 0 {
			if err := st.Compact(name, fmt.Appendf(nil, "snapshot of %s at %d", name, half)); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Append(name, updates[half:]...); err != nil {
			t.Fatal(err)
		}
	}
	want := dump(t, st)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return want
}
