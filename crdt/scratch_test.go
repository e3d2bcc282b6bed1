package crdt

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"unsafe"
)

// TestEncoderShedsLargeRoom checks that a document keeps no snapshot-sized
// room after a snapshot: the room goes to the process's one spare, which
// the next large encode of any document takes, so that the heap grows by
// one snapshot's room however many documents take snapshots, and every
// snapshot is what a fresh encoder writes.
func TestEncoderShedsLargeRoom(t *testing.T) {
	spare.mu.Lock()
	spare.s = nil
	spare.mu.Unlock()
	const runs = 40_000
	var docs []*Doc
	for i := range 3 {
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		d := NewDocWithClient(ClientID(i + 1))
		txt := d.Text("t")
		err := d.Change(func() error {
			for range runs {
				if _, err := txt.Insert(rng.IntN(txt.Len()+1), "é"); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d)
	}
	heapBefore := liveHeapBytes()
	var snaps [][]byte
	for i, d := range docs {
		s := d.Snapshot()
		if d.enc.large() {
			t.Errorf("document %d keeps %d records' room after its snapshot", i, cap(d.enc.recs))
		}
		// The same bytes as a new encoder's: another document loaded
		// from the snapshot writes it afresh, with no spare to take.
		spare.mu.Lock()
		kept := spare.s
		spare.s = nil
		spare.mu.Unlock()
		e := NewDoc()
		if err := e.Apply(s); err != nil {
			t.Fatal(err)
		}
		if again := e.Snapshot(); string(again) != string(s) {
			t.Fatalf("document %d: a fresh encoder writes another snapshot", i)
		}
		spare.mu.Lock()
		spare.s = kept
		spare.mu.Unlock()
		snaps = append(snaps, s)
	}
	spare.mu.Lock()
	kept := spare.s
	spare.mu.Unlock()
	if kept == nil {
		t.Fatal("no encoder shed its room")
	}
	room := kept.size()
	if room < runs*int(unsafe.Sizeof(encRec{})) {
		t.Fatalf("the spare holds %d bytes, less than a snapshot's records", room)
	}
	grown := int(liveHeapBytes()) - int(heapBefore)
	for _, s := range snaps {
		grown -= cap(s)
	}
	// Each document kept its room before: three rooms. One now, and the
	// snapshots (subtracted) of course.
	if grown > room*3/2 {
		t.Errorf("the heap grew by %d bytes beside the snapshots; one encoder's room is %d", grown, room)
	}
	// A keystroke after it still encodes from the document's own room.
	u, err := docs[0].Text("t").Insert(0, "x")
	if err != nil || len(u) == 0 {
		t.Fatalf("keystroke: %x, %v", u, err)
	}
	runtime.KeepAlive(docs)
}

func liveHeapBytes() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
