package webhook

import (
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/store"
	docsync "github.com/flowstate/flowstate/sync"
)

// edit appends an insert into text of room to st, as a room would, and
// returns the room's document after it.
func edit(t *testing.T, st store.Store, room, text, s string) *crdt.Doc {
	t.Helper()
	doc, _, err := load(st, room)
	if err != nil {
		t.Fatal(err)
	}
	u, err := doc.Text(text).Insert(0, s)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Append(room, u); err != nil {
		t.Fatal(err)
	}
	return doc
}

// Recover announces what a crash swallowed: a durable change that never
// reached the outbox, and a deletion, but neither a room notified up to
// date nor one that has not changed since webhooks were enabled; a room
// merely compacted since its notification is not announced either.
func TestRecover(t *testing.T) {
	st, _ := openBolt(t)
	edit(t, st, "before", "body", "old") // predates webhooks

	r := newReceiver(t)
	cfg := fastConfig(Endpoint{URL: r.srv.URL})
	d := start(t, cfg, st)
	if err := d.Recover(st); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // the rooms' changes come after the start
	notify := func(room string, doc *crdt.Doc) {
		d.OnChange(docsync.ChangeEvent{Room: room, StateVector: doc.StateVector().Encode(), Size: 1, Texts: []string{"body"}})
	}
	notify("uptodate", edit(t, st, "uptodate", "body", "a"))
	notify("compacted", edit(t, st, "compacted", "body", "b"))
	notify("deleted", edit(t, st, "deleted", "body", "c"))
	notify("lost", edit(t, st, "lost", "body", "d"))
	waitFor(t, "four room.changed", func() bool { return len(r.events()) == 4 })
	d.Close()

	// What the crash swallowed: a change to "lost" and a new room, a
	// deletion, and a compaction that changed nothing.
	lost := edit(t, st, "lost", "title", "e")
	fresh := edit(t, st, "fresh", "notes", "f")
	if err := st.Delete("deleted"); err != nil {
		t.Fatal(err)
	}
	doc, _, _ := load(st, "compacted")
	if err := st.Compact("compacted", doc.Snapshot()); err != nil {
		t.Fatal(err)
	}

	r2 := newReceiver(t)
	d2 := start(t, fastConfig(Endpoint{URL: r2.srv.URL}), st)
	if err := d2.Recover(st); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three events", func() bool { return len(r2.events()) == 3 })
	time.Sleep(100 * time.Millisecond)
	evs := r2.events()
	sort.Slice(evs, func(i, j int) bool { return evs[i].Room < evs[j].Room })
	if want := []string{"room.deleted deleted", "room.changed fresh", "room.changed lost"}; !reflect.DeepEqual(types(evs), want) {
		t.Fatalf("recovered %q, want %q", types(evs), want)
	}
	for i, want := range []*crdt.Doc{fresh, lost} {
		ev := evs[i+1]
		if !reflect.DeepEqual(ev.StateVector, want.StateVector().Encode()) {
			t.Errorf("%s: state vector %x, want %x", ev.Room, ev.StateVector, want.StateVector().Encode())
		}
		if !reflect.DeepEqual(ev.Texts, want.TextNames()) || ev.Size == 0 {
			t.Errorf("%s: texts %q, size %d; want %q and the stored size", ev.Room, ev.Texts, ev.Size, want.TextNames())
		}
	}
	d2.Close()

	// A third start finds nothing more to announce.
	r3 := newReceiver(t)
	d3 := start(t, fastConfig(Endpoint{URL: r3.srv.URL}), st)
	if err := d3.Recover(st); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if evs := r3.events(); len(evs) != 0 {
		t.Fatalf("a start after a clean stop announced %q", types(evs))
	}
}
