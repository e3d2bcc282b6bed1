package store_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/flowstate/flowstate/store"
)

// goodFile writes a store file of several pages and returns its path and
// bytes.
func goodFile(t *testing.T) (string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flowstate.db")
	fill(t, openBoltAt(t, path, store.BoltOptions{}), 60, 30)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, data
}

// rewriteBolt edits the bbolt file at path directly, as a foreign or
// damaged writer would.
func rewriteBolt(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// damagedFiles each turn a good file into one OpenBolt must refuse with
// an error wrapping want.
var damagedFiles = []struct {
	name   string
	damage func(t *testing.T, path string, data []byte)
	want   error
	says   string
}{
	{"not a bolt file", func(t *testing.T, path string, _ []byte) {
		writeFile(t, path, []byte(strings.Repeat("these are not the pages you are looking for\n", 200)))
	}, store.ErrFormat, "not a FlowState data file"},
	{"truncated in the middle", func(t *testing.T, path string, data []byte) {
		writeFile(t, path, data[:len(data)/2])
	}, store.ErrCorrupt, "truncated"},
	{"truncated inside the meta pages", func(t *testing.T, path string, data []byte) {
		writeFile(t, path, data[:5000])
	}, store.ErrCorrupt, "truncated"},
	{"random bytes over the second half", func(t *testing.T, path string, data []byte) {
		rng := rand.New(rand.NewPCG(1, 2))
		d := clone(data)
		for i := len(d) / 2; i < len(d); i++ {
			d[i] = byte(rng.Uint32())
		}
		writeFile(t, path, d)
	}, store.ErrCorrupt, "damaged"},
	{"page headers in the middle zeroed", func(t *testing.T, path string, data []byte) {
		d := clone(data)
		for p := 2; p*4096 < len(d); p++ {
			clear(d[p*4096 : p*4096+16])
		}
		writeFile(t, path, d)
	}, store.ErrCorrupt, "damaged"},
	{"both meta pages zeroed", func(t *testing.T, path string, data []byte) {
		d := clone(data)
		clear(d[:2*4096])
		writeFile(t, path, d)
	}, store.ErrFormat, "no valid bbolt meta page"},
	{"newer format version", func(t *testing.T, path string, _ []byte) {
		rewriteBolt(t, path, func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("meta")).Put([]byte("format"), binary.BigEndian.AppendUint64(nil, 2))
		})
	}, store.ErrFormat, "newer than this flowstate understands"},
	{"malformed format version", func(t *testing.T, path string, _ []byte) {
		rewriteBolt(t, path, func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("meta")).Put([]byte("format"), []byte("one"))
		})
	}, store.ErrCorrupt, "format version"},
	{"rooms bucket missing", func(t *testing.T, path string, _ []byte) {
		rewriteBolt(t, path, func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("rooms")) })
	}, store.ErrCorrupt, "rooms"},
	{"a foreign bbolt file", func(t *testing.T, path string, _ []byte) {
		os.Remove(path)
		rewriteBolt(t, path, func(tx *bolt.Tx) error {
			_, err := tx.CreateBucket([]byte("widgets"))
			return err
		})
	}, store.ErrFormat, "not a FlowState data file"},
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// TestBoltRefusesDamagedFiles checks that OpenBolt refuses every kind of
// damage with a clear error naming the file, never a panic, in both
// modes, with and without the page walk where the damage is in the meta
// pages or the file's length.
func TestBoltRefusesDamagedFiles(t *testing.T) {
	_, data := goodFile(t)
	for _, tt := range damagedFiles {
		for _, ro := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/read-only=%v", tt.name, ro), func(t *testing.T) {
				if ro {
					// Read-only opens check page by page, as for a
					// large file; read-write ones read it whole.
					defer store.SetWholeFileLimit(0)()
				}
				path := filepath.Join(t.TempDir(), "flowstate.db")
				writeFile(t, path, data)
				tt.damage(t, path, data)
				st, err := store.OpenBolt(path, store.BoltOptions{ReadOnly: ro})
				if err == nil {
					st.Close()
					t.Fatal("OpenBolt accepted the file")
				}
				if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.says) {
					t.Fatalf("OpenBolt: %v; want an error wrapping %v, naming the file and saying %q", err, tt.want, tt.says)
				}
			})
		}
	}
}

// An empty file, as "touch" or a volume mount leaves it, is initialised
// by a writer and keeps what is stored in it; a reader, which cannot
// initialise it, says it is empty rather than damaged.
func TestBoltEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flowstate.db")
	writeFile(t, path, nil)
	ro, err := store.OpenBolt(path, store.BoltOptions{ReadOnly: true})
	if err == nil {
		ro.Close()
		t.Fatal("a read-only open accepted an empty file")
	}
	if !strings.Contains(err.Error(), "empty (0 bytes)") || strings.Contains(err.Error(), "damaged") {
		t.Errorf("read-only: %v; want it to say the file is empty, not damaged", err)
	}
	st, err := store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		t.Fatalf("OpenBolt on an empty file: %v", err)
	}
	if err := st.Compact("notes", []byte("snapshot")); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openBoltAt(t, path, store.BoltOptions{ReadOnly: true})
	if snap, _, err := st.Load("notes"); err != nil || string(snap) != "snapshot" {
		t.Errorf("after reopening: %q, %v", snap, err)
	}
}

// A data file in a directory that does not exist gets an error naming the
// directory, and nothing is created.
func TestBoltMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "no", "such")
	path := filepath.Join(dir, "flowstate.db")
	st, err := store.OpenBolt(path, store.BoltOptions{})
	if err == nil {
		st.Close()
		t.Fatal("OpenBolt succeeded")
	}
	for _, want := range []string{"the directory " + dir + " does not exist", "mkdir -p " + dir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := os.Stat(filepath.Dir(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("something was created: %v", err)
	}
}

// TestBoltDamagedPagesNeverPanic overwrites one page-sized block in the
// middle of a good file with random bytes, for many seeds. The damage may
// land where no check can see it (inside an update's bytes, on a free
// page), so the store may open; then every call must still return rather
// than crash.
func TestBoltDamagedPagesNeverPanic(t *testing.T) {
	_, data := goodFile(t)
	seeds := 40
	if testing.Short() {
		seeds = 10
	}
	refused := 0
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		d := clone(data)
		page := 2 + rng.IntN(len(d)/4096-2)
		for i := page * 4096; i < (page+1)*4096; i++ {
			d[i] = byte(rng.Uint32())
		}
		path := filepath.Join(t.TempDir(), "flowstate.db")
		writeFile(t, path, d)
		st, err := store.OpenBolt(path, store.BoltOptions{})
		if err != nil {
			if !errors.Is(err, store.ErrCorrupt) {
				t.Errorf("seed %d, page %d: %v, want ErrCorrupt", seed, page, err)
			}
			refused++
			continue
		}
		rooms, _ := st.Rooms()
		for _, r := range rooms {
			st.Load(r.Name)
		}
		st.Append("room-0001", []byte("after the damage"))
		st.Close()
	}
	t.Logf("%d of %d damaged files refused at open", refused, seeds)
}

// TestBoltFirstMetaPageDamaged checks that, as in bbolt, a file whose
// newest meta page is damaged opens from the other one.
func TestBoltFirstMetaPageDamaged(t *testing.T) {
	path, data := goodFile(t)
	d := clone(data)
	for i := 16; i < 80; i++ {
		d[i] ^= 0xFF
	}
	writeFile(t, path, d)
	st := openBoltAt(t, path, store.BoltOptions{})
	if _, err := st.Rooms(); err != nil {
		t.Fatal(err)
	}
}

// damagedRooms are rooms whose records have the wrong shape, each made
// by edit on the file's top-level buckets.
var damagedRooms = []struct {
	room string
	edit func(tx *bolt.Tx, room []byte) error
	says string
}{
	{"info-is-a-bucket", func(tx *bolt.Tx, room []byte) error {
		_, err := tx.Bucket([]byte("rooms")).CreateBucket(room)
		return err
	}, "info record is a bucket"},
	{"snapshot-is-a-bucket", func(tx *bolt.Tx, room []byte) error {
		_, err := tx.Bucket([]byte("snapshots")).CreateBucket(room)
		return err
	}, "snapshot is a bucket"},
	{"log-is-a-value", func(tx *bolt.Tx, room []byte) error {
		return tx.Bucket([]byte("logs")).Put(room, []byte("junk"))
	}, "log is a value"},
	{"short-log-key", func(tx *bolt.Tx, room []byte) error {
		b, err := tx.Bucket([]byte("logs")).CreateBucket(room)
		if err == nil {
			err = b.Put([]byte{1, 2, 3}, []byte("update"))
		}
		return err
	}, "not 8 bytes"},
	{"log-entry-is-a-bucket", func(tx *bolt.Tx, room []byte) error {
		b, err := tx.Bucket([]byte("logs")).CreateBucket(room)
		if err == nil {
			_, err = b.CreateBucket(make([]byte, 8))
		}
		return err
	}, "is a bucket"},
}

// TestBoltDamagedRoomIsolation checks that a room with damaged records
// fails to load with ErrCorrupt naming it, fails to be written while
// writes to good rooms in the same group commit succeed, can be deleted
// and then reused, and that other rooms are untouched.
func TestBoltDamagedRoomIsolation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flowstate.db")
	want := fill(t, openBoltAt(t, path, store.BoltOptions{}), 10, 5)
	rewriteBolt(t, path, func(tx *bolt.Tx) error {
		for _, d := range damagedRooms {
			if err := d.edit(tx, []byte(d.room)); err != nil {
				return err
			}
		}
		return nil
	})
	st := openBoltAt(t, path, store.BoltOptions{})
	for _, d := range damagedRooms {
		_, _, err := st.Load(d.room)
		if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), d.room) || !strings.Contains(err.Error(), d.says) {
			t.Errorf("Load(%q): %v; want ErrCorrupt naming the room and saying %q", d.room, err, d.says)
		}
	}
	for name, w := range want {
		snap, log, err := st.Load(name)
		if err != nil {
			t.Fatalf("Load(%q) of an intact room: %v", name, err)
		}
		sameRooms(t, map[string]roomState{name: {snap, log}}, map[string]roomState{name: w})
	}
	rooms, err := st.Rooms()
	if err != nil || len(rooms) != len(want)+len(damagedRooms) {
		t.Fatalf("Rooms lists %d rooms (%v); want %d, damaged ones included", len(rooms), err, len(want)+len(damagedRooms))
	}

	// Writes to damaged and intact rooms at once, so that they share
	// group commits: only the damaged rooms' writes fail.
	var wg sync.WaitGroup
	for _, d := range damagedRooms[:3] {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := st.Append(d.room, []byte("x")); !errors.Is(err, store.ErrCorrupt) {
				t.Errorf("Append to %q: %v, want ErrCorrupt", d.room, err)
			}
		}()
		go func() {
			defer wg.Done()
			if err := st.Compact(d.room, []byte("x")); !errors.Is(err, store.ErrCorrupt) {
				t.Errorf("Compact of %q: %v, want ErrCorrupt", d.room, err)
			}
		}()
	}
	for name := range want {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := st.Append(name, []byte("late")); err != nil {
				t.Errorf("Append to the intact %q: %v", name, err)
			}
		}()
	}
	wg.Wait()
	for name, w := range want {
		_, log, _ := st.Load(name)
		if len(log) != len(w.log)+1 || string(log[len(log)-1]) != "late" {
			t.Errorf("room %q lost its late append: %d entries", name, len(log))
		}
	}

	for _, d := range damagedRooms {
		if err := st.Delete(d.room); err != nil {
			t.Fatalf("Delete(%q): %v", d.room, err)
		}
		if err := st.Append(d.room, []byte("fresh")); err != nil {
			t.Fatalf("Append to %q after deleting it: %v", d.room, err)
		}
		if _, log, err := st.Load(d.room); err != nil || len(log) != 1 {
			t.Errorf("Load(%q) after deleting it = %q, %v", d.room, log, err)
		}
	}
}

// TestBoltJournalDamage checks the journal's damage handling: a room
// damaged while appends for it wait in the journal keeps them there
// (reported by Load) until it is deleted, and a journal entry that does
// not decode is skipped by reads and never folded away.
func TestBoltJournalDamage(t *testing.T) {
	dir := t.TempDir()
	st := openBolt(t, store.BoltOptions{})
	for _, room := range []string{"damaged", "intact"} {
		if err := st.Append(room, []byte("folded")); err != nil {
			t.Fatal(err)
		}
	}
	// Close folds; the copy of a reopened store keeps later appends in
	// the journal, as a crash would.
	path := st.Path()
	st.Close()
	st = openBoltAt(t, path, store.BoltOptions{})
	for _, room := range []string{"damaged", "intact"} {
		if err := st.Append(room, []byte("journaled")); err != nil {
			t.Fatal(err)
		}
	}
	copyPath := filepath.Join(dir, "copy.db")
	writeCopy(t, st, copyPath)
	rewriteBolt(t, copyPath, func(tx *bolt.Tx) error {
		if _, err := tx.Bucket([]byte("snapshots")).CreateBucket([]byte("damaged")); err != nil {
			return err
		}
		return tx.Bucket([]byte("journal")).Put([]byte("zzzzzzzz"), []byte("not an entry"))
	})

	for range 2 { // before and after the fold on Close
		st := openBoltAt(t, copyPath, store.BoltOptions{})
		if _, _, err := st.Load("damaged"); !errors.Is(err, store.ErrCorrupt) {
			t.Fatalf("Load of the damaged room: %v, want ErrCorrupt", err)
		}
		_, log, err := st.Load("intact")
		if err != nil || len(log) != 2 || string(log[1]) != "journaled" {
			t.Fatalf("Load of the intact room = %q, %v", log, err)
		}
		if rooms, err := st.Rooms(); err != nil || len(rooms) != 2 {
			t.Fatalf("Rooms = %+v, %v", rooms, err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	rewriteBolt(t, copyPath, func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("journal")).Get([]byte("zzzzzzzz")) == nil {
			t.Error("the fold dropped an entry it could not read")
		}
		return nil
	})
	st = openBoltAt(t, copyPath, store.BoltOptions{})
	if err := st.Delete("damaged"); err != nil {
		t.Fatal(err)
	}
	if err := st.Append("damaged", []byte("fresh")); err != nil {
		t.Fatal(err)
	}
	if _, log, err := st.Load("damaged"); err != nil || len(log) != 1 || string(log[0]) != "fresh" {
		t.Fatalf("Load after Delete = %q, %v; the journal kept stale entries", log, err)
	}
}
