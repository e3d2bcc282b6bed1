package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowstate/flowstate/store"
)

// TestBoltReopen checks that everything survives closing and reopening
// the file, including what Rooms reports.
func TestBoltReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flowstate.db")
	want := fill(t, openBoltAt(t, path, store.BoltOptions{}), 20, 10)
	st := openBoltAt(t, path, store.BoltOptions{})
	sameRooms(t, dump(t, st), want)
	rooms, err := st.Rooms()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rooms {
		w := want[r.Name]
		logBytes := 0
		for _, u := range w.log {
			logBytes += len(u)
		}
		if r.SnapshotBytes != len(w.snapshot) || r.LogEntries != len(w.log) || r.LogBytes != logBytes || r.LastChange.IsZero() {
			t.Errorf("RoomInfo %+v; want %d snapshot bytes, %d entries, %d log bytes", r, len(w.snapshot), len(w.log), logBytes)
		}
	}
}

// TestBoltConcurrentAppends runs one writer per room, all at once, as the
// server's rooms do, and checks that every room's log holds its updates
// in order, before and after reopening.
func TestBoltConcurrentAppends(t *testing.T) {
	const rooms = 100
	for _, opts := range []store.BoltOptions{{}, {SyncEachAppend: true}} {
		t.Run(fmt.Sprintf("SyncEachAppend=%v", opts.SyncEachAppend), func(t *testing.T) {
			// A transaction per Append is slow by design: fewer of them.
			perRoom := 40
			if opts.SyncEachAppend || testing.Short() {
				perRoom = 8
			}
			path := filepath.Join(t.TempDir(), "flowstate.db")
			st := openBoltAt(t, path, opts)
			var wg sync.WaitGroup
			errs := make(chan error, rooms)
			for r := range rooms {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range perRoom {
						// Every third call appends two updates at once.
						u := fmt.Appendf(nil, "%d", i)
						var err error
						if i%3 == 0 {
							err = st.Append(fmt.Sprint("room-", r), u, append(u, '+'))
						} else {
							err = st.Append(fmt.Sprint("room-", r), u)
						}
						if err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			check := func(st store.Store) {
				t.Helper()
				for r := range rooms {
					_, log, err := st.Load(fmt.Sprint("room-", r))
					if err != nil {
						t.Fatal(err)
					}
					var want [][]byte
					for i := range perRoom {
						u := fmt.Appendf(nil, "%d", i)
						want = append(want, u)
						if i%3 == 0 {
							want = append(want, append(u, '+'))
						}
					}
					if fmt.Sprintf("%q", log) != fmt.Sprintf("%q", want) {
						t.Fatalf("room-%d log = %q, want %q", r, log, want)
					}
				}
			}
			check(st)
			st.Close()
			check(openBoltAt(t, path, store.BoltOptions{}))
		})
	}
}

// TestBoltCloseWhileAppending checks that Close waits for the writes in
// flight: each Append either returns nil and is stored, or returns
// ErrClosed.
func TestBoltCloseWhileAppending(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flowstate.db")
	st := openBoltAt(t, path, store.BoltOptions{})
	const writers = 20
	var wg sync.WaitGroup
	acked := make([]int, writers) // updates acknowledged per room
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				err := st.Append(fmt.Sprint("room-", w), fmt.Appendf(nil, "%d", i))
				if errors.Is(err, store.ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				acked[w]++
			}
		}()
	}
	// Let every writer get some appends in before closing.
	for {
		rooms, err := st.Rooms()
		if err != nil {
			t.Fatal(err)
		}
		if len(rooms) == writers {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	st = openBoltAt(t, path, store.BoltOptions{})
	for w := range writers {
		_, log, err := st.Load(fmt.Sprint("room-", w))
		if err != nil {
			t.Fatal(err)
		}
		if len(log) != acked[w] {
			t.Errorf("room-%d holds %d updates, %d were acknowledged", w, len(log), acked[w])
		}
	}
}

// TestBoltLock checks that a second open of a file, in this process as in
// another, fails after the lock timeout with a message naming the file,
// and that read-only opens share a file with each other but not with a
// writer.
func TestBoltLock(t *testing.T) {
	tests := []struct {
		name          string
		first, second bool // read-only?
		wantLocked    bool
	}{
		{"writer then writer", false, false, true},
		{"writer then reader", false, true, true},
		{"reader then writer", true, false, true},
		{"reader then reader", true, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "flowstate.db")
			openBoltAt(t, path, store.BoltOptions{}).Close()
			first := openBoltAt(t, path, store.BoltOptions{ReadOnly: tt.first})
			start := time.Now()
			second, err := store.OpenBolt(path, store.BoltOptions{ReadOnly: tt.second})
			t.Logf("second open returned after %v", time.Since(start))
			if !tt.wantLocked {
				if err != nil {
					t.Fatal(err)
				}
				second.Close()
				return
			}
			if !errors.Is(err, store.ErrLocked) {
				t.Fatalf("second open: %v, want ErrLocked", err)
			}
			for _, want := range []string{path, "locked by another process", "another flowstate server"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			first.Close()
			again, err := store.OpenBolt(path, store.BoltOptions{ReadOnly: tt.second})
			if err != nil {
				t.Fatalf("open after the holder closed: %v", err)
			}
			again.Close()
		})
	}
}

// TestBoltReadOnly checks that a read-only store reads and refuses
// writes, and that it needs an existing file.
func TestBoltReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flowstate.db")
	want := fill(t, openBoltAt(t, path, store.BoltOptions{}), 3, 3)
	st := openBoltAt(t, path, store.BoltOptions{ReadOnly: true})
	sameRooms(t, dump(t, st), want)
	writes := map[string]error{
		"Append":  st.Append("room-0000", []byte("x")),
		"Compact": st.Compact("room-0000", []byte("x")),
		"Delete":  st.Delete("room-0000"),
	}
	for name, err := range writes {
		if !errors.Is(err, store.ErrReadOnly) {
			t.Errorf("%s on a read-only store: %v, want ErrReadOnly", name, err)
		}
	}
	if _, err := store.OpenBolt(filepath.Join(t.TempDir(), "missing.db"), store.BoltOptions{ReadOnly: true}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("read-only open of a missing file: %v, want ErrNotExist", err)
	}
}

// TestBoltRoomName checks the names a bbolt key cannot hold.
func TestBoltRoomName(t *testing.T) {
	st := openBolt(t, store.BoltOptions{})
	for _, name := range []string{"", strings.Repeat("n", 32769)} {
		if err := st.Append(name, []byte("x")); !errors.Is(err, store.ErrRoomName) {
			t.Errorf("Append to a room named %d bytes: %v, want ErrRoomName", len(name), err)
		}
		if snap, log, err := st.Load(name); snap != nil || log != nil || err != nil {
			t.Errorf("Load of a room named %d bytes = %q, %q, %v", len(name), snap, log, err)
		}
	}
}

// TestBoltWriteTo checks that the hot copy opens as a store holding the
// same rooms, and that a copy taken while rooms are written holds, per
// room, a prefix of the final log.
func TestBoltWriteTo(t *testing.T) {
	dir := t.TempDir()
	st := openBoltAt(t, filepath.Join(dir, "flowstate.db"), store.BoltOptions{})
	for r := range 10 {
		for i := range 20 {
			if err := st.Append(fmt.Sprint("room-", r), fmt.Appendf(nil, "%d", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := dump(t, st)
	copyTo := func(name string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		writeCopy(t, st, path)
		return path
	}
	sameRooms(t, dump(t, openBoltAt(t, copyTo("quiet.db"), store.BoltOptions{ReadOnly: true})), want)

	var wg sync.WaitGroup
	for r := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 20; i < 60; i++ {
				if err := st.Append(fmt.Sprint("room-", r), fmt.Appendf(nil, "%d", i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	busy := copyTo("busy.db")
	wg.Wait()
	final := dump(t, st)
	for name, got := range dump(t, openBoltAt(t, busy, store.BoltOptions{ReadOnly: true})) {
		log := final[name].log
		if len(got.log) < 20 || len(got.log) > len(log) || fmt.Sprintf("%q", got.log) != fmt.Sprintf("%q", log[:len(got.log)]) {
			t.Errorf("room %q in the copy: %d entries, not a prefix of the %d stored", name, len(got.log), len(log))
		}
	}
}

// writeCopy writes st's hot copy to path.
func writeCopy(t *testing.T, st *store.Bolt, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := st.WriteTo(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Size() != n {
		t.Fatalf("WriteTo reported %d bytes, wrote %d", n, fi.Size())
	}
}

// TestCompactFile checks that rewriting a file that many appends and
// compactions left fragmented shrinks it and keeps every room.
func TestCompactFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flowstate.db")
	st := openBoltAt(t, path, store.BoltOptions{})
	big := bytes.Repeat([]byte("update "), 300)
	for r := range 10 {
		room := fmt.Sprint("room-", r)
		for i := range 30 {
			if err := st.Append(room, big); err != nil {
				t.Fatal(err)
			}
			if i%10 == 9 {
				if err := st.Compact(room, fmt.Appendf(nil, "snapshot %d", i)); err != nil {
					t.Fatal(err)
				}
			}
		}
		if r%2 == 0 {
			if err := st.Delete(room); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := dump(t, st)

	// A file in use cannot be rewritten.
	if _, _, err := store.CompactFile(path, store.BoltOptions{LockTimeout: 100 * time.Millisecond}); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("CompactFile of an open file: %v, want ErrLocked", err)
	}
	st.Close()

	before, after, err := store.CompactFile(path, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d bytes before, %d after", before, after)
	if after >= before {
		t.Errorf("CompactFile: %d bytes before, %d after; want smaller", before, after)
	}
	if fi, _ := os.Stat(path); fi.Size() != after {
		t.Errorf("the file holds %d bytes, CompactFile reported %d", fi.Size(), after)
	}
	if _, err := os.Stat(path + ".compact"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the temporary copy is left behind: %v", err)
	}
	st = openBoltAt(t, path, store.BoltOptions{})
	sameRooms(t, dump(t, st), want)
	if err := st.Append("room-1", []byte("after")); err != nil {
		t.Fatal(err)
	}
}
