package crdt_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"sync"
	"testing"

	"github.com/flowstate/flowstate/crdt"
)

// seqPool returns updates to draw from when fuzzing sequences applied to
// the populated document (clients 1 and 2): a third client's edits, two
// different continuations of client 1 (two histories under one ID), a
// history of client 2 from scratch that clashes with the populated one, a
// map history of client 1, snapshots and diffs of all of these, and a few
// of the populated document's own updates (duplicates).
var seqPool = sync.OnceValue(func() [][]byte {
	var pool [][]byte
	add := func(u []byte, err error) {
		if err != nil {
			panic(err)
		}
		if u != nil {
			pool = append(pool, u)
		}
	}
	base := populatedOn(9).StateVector()

	third := populatedOn(4)
	for _, e := range []edit{ins(600, "中😀x"), del(0, 3), del(10, 500), ins(3, "ab"), ins(4, "c"), del(2, 3)} {
		add(e.do(third.Text("t")))
	}
	add(third.Map("m").Set("k1", []any{1, "x"}))

	for i, edits := range [][]edit{
		{ins(5, "first"), ins(10, "again"), del(0, 2)},
		{ins(5, "other"), del(1, 2), ins(0, "😀")},
	} {
		c1 := populatedOn(1)
		for _, e := range edits {
			add(e.do(c1.Text("t")))
		}
		add(c1.Map("m").Set("k0", i))
		add(c1.Diff(base), nil)
		add(c1.Snapshot(), nil)
	}

	scratch := crdt.NewDocWithClient(2)
	add(scratch.Text("t").Insert(0, "clash"))
	add(scratch.Text("u").Insert(0, "elsewhere"))
	add(scratch.Snapshot(), nil)

	m1 := crdt.NewDocWithClient(1)
	add(m1.Map("m").Set("k0", "map history"))
	add(m1.Map("m").Set("k0", "map history 2"))

	for _, hx := range issueUpdates { // the issue's crash: clients 5 and 6
		add(hexBytes(hx), nil)
	}

	_, all := populated()
	for i := 0; i < len(all); i += len(all) / 4 {
		add(all[i], nil)
	}
	return pool
})

// FuzzApplySequence reads its input as a script of up to 8 steps applied to
// the populated document. Each step is a byte picking an update of
// seqPool, a byte giving the number of byte changes (0-3), and each change
// as a 2-byte position and a value. After every step: a refused update
// changed nothing (snapshot and state vector), and an accepted one left a
// document whose texts agree with their lengths and whose snapshot
// reloads to the same contents. At the end, every accepted update applied
// again is accepted and changes nothing.
func FuzzApplySequence(f *testing.F) {
	// Pool indices: 0-6 the third client, 7-12 and 13-18 the two
	// continuations of client 1 (three edits, a map write, a diff, a
	// snapshot), 19-21 client 2's clash, 22-23 client 1's map history,
	// 24-26 the issue's three updates.
	f.Add([]byte{0, 0, 1, 0, 2, 0})
	f.Add([]byte{7, 0, 13, 0, 8, 0})  // two histories of client 1
	f.Add([]byte{8, 0, 17, 0, 7, 0})  // the first pending, the second's diff
	f.Add([]byte{9, 0, 16, 0, 14, 0}) // pending records under either history
	f.Add([]byte{10, 0, 23, 0, 17, 0, 7, 0, 8, 0})
	f.Add([]byte{20, 0, 2, 0, 21, 0}) // client 2's clash
	f.Add([]byte{24, 0, 25, 0, 26, 0})
	f.Add([]byte{26, 0, 24, 0, 25, 0})
	f.Add([]byte{4, 1, 0, 30, 0x01, 8, 0})
	f.Add([]byte{10, 2, 0, 12, 0x02, 0, 40, 0xff, 1, 0})
	f.Fuzz(runApplySequence)
}

func runApplySequence(t *testing.T, script []byte) {
	pool := seqPool()
	d := populatedOn(3)
	next := func() int {
		if len(script) == 0 {
			return 0
		}
		b := script[0]
		script = script[1:]
		return int(b)
	}
	var accepted [][]byte
	for step := 0; step < 8 && len(script) > 0; step++ {
		u := bytes.Clone(pool[next()%len(pool)])
		for n := next() % 4; n > 0; n-- {
			pos := (next()<<8 | next()) % len(u)
			u[pos] = byte(next())
		}
		snap, sv := d.Snapshot(), d.StateVector()
		err := d.Apply(u)
		if err != nil {
			var de *crdt.DecodeError
			if !errors.Is(err, crdt.ErrInvalidUpdate) && !errors.As(err, &de) {
				t.Fatalf("step %d: error of an unknown kind: %v", step, err)
			}
			if !bytes.Equal(d.Snapshot(), snap) || !d.StateVector().Equal(sv) {
				t.Fatalf("step %d: refused update (%v) changed the document", step, err)
			}
			continue
		}
		// A run dropped for origins that do not fit (FORMAT.md §5.3) leaves
		// its clocks to whatever record comes next: sent again after
		// another took them, the update is a second history and refused.
		// The check below is for updates whose every run integrated.
		if whole(t, d, u) {
			accepted = append(accepted, u)
		}
		for _, name := range d.TextNames() {
			txt := d.Text(name)
			if n := len([]rune(txt.String())); n != txt.Len() {
				t.Fatalf("step %d: text %q: Len()=%d, String() has %d code points", step, name, txt.Len(), n)
			}
		}
		sameState(t, "snapshot reload", stateOf(t, d), stateOf(t, loadSnapshot(t, d.Snapshot())))
	}
	// Whatever was accepted whole agrees with the document it built:
	// applied again, every such update is accepted and changes nothing.
	snap := d.Snapshot()
	for i, u := range accepted {
		if err := d.Apply(u); err != nil {
			t.Fatalf("accepted update %d refused when applied again: %v", i, err)
		}
	}
	if !bytes.Equal(d.Snapshot(), snap) {
		t.Fatal("applying the accepted updates again changed the document")
	}
}

// hexBytes decodes hex that is known to be valid.
func hexBytes(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// whole reports whether d holds every clock u writes (crdt.Writes): none
// of u's records was dropped or waits.
func whole(t *testing.T, d *crdt.Doc, u []byte) bool {
	runs, err := crdt.Writes(u)
	if err != nil {
		t.Fatalf("an accepted update does not decode: %v", err)
	}
	for _, r := range runs {
		if d.Clock(r.Client) < r.End {
			return false
		}
	}
	return true
}
