package crdt_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/flowstate/flowstate/crdt"
)

// A map value nested far deeper than any real one must be refused with an
// error, not exhaust the stack while it is skipped.
func TestApplyRejectsDeeplyNestedValue(t *testing.T) {
	src := crdt.NewDocWithClient(7)
	update, err := src.Map("m").Set("k", 1)
	if err != nil {
		t.Fatal(err)
	}
	// The value is the update's last byte (fixint 1): wrap it in arrays.
	const depth = 1_000_000
	hostile := append(bytes.Clone(update[:len(update)-1]), bytes.Repeat([]byte{0x91}, depth)...)
	hostile = append(hostile, 0x01)

	dst := crdt.NewDocWithClient(8)
	before := dst.Snapshot()
	err = dst.Apply(hostile)
	var de *crdt.DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("Apply of a value nested %d deep: got %v, want a *DecodeError", depth, err)
	}
	if !bytes.Equal(dst.Snapshot(), before) {
		t.Fatal("the document changed after a rejected update")
	}
	// The same value within the limit goes in.
	ok := append(bytes.Clone(update[:len(update)-1]), bytes.Repeat([]byte{0x91}, 10)...)
	ok = append(ok, 0x01)
	if err := dst.Apply(ok); err != nil {
		t.Fatalf("value nested 10 deep: %v", err)
	}
}

// Map.Set refuses values that no replica could decode.
func TestMapSetRejectsUndecodableValues(t *testing.T) {
	d := crdt.NewDoc()
	var v any = 1
	for range 100 {
		v = []any{v}
	}
	if _, err := d.Map("m").Set("k", v); err == nil {
		t.Fatal("Set of a value nested 100 deep succeeded")
	}
	if _, err := d.Map("m").Set("\xff", 1); err == nil {
		t.Fatal("Set with an invalid UTF-8 key succeeded")
	}
	if d.Map("m").Len() != 0 || len(d.StateVector()) != 0 {
		t.Fatal("a refused Set changed the document")
	}
}

// An update whose text run names a map entry as its origin decodes, but
// cannot be applied: ErrInvalidUpdate, and nothing changes.
func TestApplyRejectsOriginInAnotherType(t *testing.T) {
	src := crdt.NewDocWithClient(5)
	setUpdate, err := src.Map("m").Set("k", 1) // client 5, clock 0
	if err != nil {
		t.Fatal(err)
	}
	crafted := []byte{
		0x95, 0x01, // [version 1,
		0x91, 0x92, 0x00, 0xa1, 't', //  types [[text, "t"]],
		0x91, 0x05, //  clients [5],
		0x90,                   //  deletes [],
		0x91, 0x95, 0x00, 0x01, //  blocks [[client #0, clock 1,
		0xc4, 0x03, 0x07, 0x09, 0x01, //    records: parent #0; text run of 1, left origin clock 1 - 1 = 0 (the map entry)
		0xa1, 'a', 0x90, //    text "a", entries []]]]
	}
	dst := crdt.NewDocWithClient(9)
	if err := dst.Apply(setUpdate); err != nil {
		t.Fatal(err)
	}
	before := dst.Snapshot()
	err = dst.Apply(crafted)
	if !errors.Is(err, crdt.ErrInvalidUpdate) {
		t.Fatalf("got %v, want ErrInvalidUpdate", err)
	}
	if !bytes.Equal(dst.Snapshot(), before) || dst.Text("t").Len() != 0 {
		t.Fatal("the document changed after a rejected update")
	}
}

func TestNamesMustTravel(t *testing.T) {
	for _, name := range []string{"\xff", string(bytes.Repeat([]byte{'a'}, 1025))} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Text(%.10q...) did not panic", name)
				}
			}()
			crdt.NewDoc().Text(name)
		}()
	}
}

// The same Map.Set encodes to the same bytes, whatever Go's map order.
func TestMapSetBytesDeterministic(t *testing.T) {
	var first []byte
	for i := range 50 {
		u, err := crdt.NewDocWithClient(1).Map("m").Set("k", map[string]any{"a": 1, "b": 2, "c": 3})
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = u
		} else if !bytes.Equal(u, first) {
			t.Fatalf("run %d: same edit, different update bytes:\n%x\n%x", i, first, u)
		}
	}
}

// A transaction whose inserts were all deleted again tells observers nothing,
// whether it was local, remote in one update, or remote across pending.
func TestNoEmptyDeltaEvents(t *testing.T) {
	a := crdt.NewDocWithClient(1)
	ins, _ := a.Text("t").Insert(0, "x")
	del, _ := a.Text("t").Delete(0, 1)
	b := crdt.NewDocWithClient(2)
	var evs []crdt.TextEvent
	b.Text("t").Observe(func(e crdt.TextEvent) { evs = append(evs, e) })
	if err := b.Apply(del); err != nil { // held: its insert has not arrived
		t.Fatal(err)
	}
	if err := b.Apply(ins); err != nil {
		t.Fatal(err)
	}
	c := crdt.NewDocWithClient(3)
	c.Text("t").Observe(func(e crdt.TextEvent) { evs = append(evs, e) })
	if _, err := c.Transact(func() error {
		if _, err := c.Text("t").Insert(0, "yz"); err != nil {
			return err
		}
		_, err := c.Text("t").Delete(0, 2)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 0 {
		t.Fatalf("events with nothing changed: %+v", evs)
	}
}

// A diff can hold nothing but skip records (map entries that lost), and so
// name no type at all.
func TestApplySkipOnlyUpdate(t *testing.T) {
	a, b := crdt.NewDocWithClient(1), crdt.NewDocWithClient(2)
	if _, err := a.Map("m").Set("k", 1); err != nil {
		t.Fatal(err)
	}
	u, err := b.Map("m").Set("k", 2) // b's entry wins: same seq, higher client
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Apply(u); err != nil {
		t.Fatal(err)
	}
	// What b lacks of a is a's losing entry: a lone skip record.
	diff := a.Diff(b.StateVector())
	if err := b.Apply(diff); err != nil {
		t.Fatal(err)
	}
	if !a.StateVector().Equal(b.StateVector()) {
		t.Fatalf("state vectors differ: %v vs %v", a.StateVector(), b.StateVector())
	}
	if v, _ := b.Map("m").Get("k"); v != int8(2) {
		t.Fatalf("k = %#v, want 2", v)
	}
}
