package crdt_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/flowstate/flowstate/crdt"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkSound fails unless d's texts agree with their lengths and its
// snapshot loads into a document with the same contents.
func checkSound(t *testing.T, d *crdt.Doc) {
	t.Helper()
	for _, name := range d.TextNames() {
		txt := d.Text(name)
		if n := len([]rune(txt.String())); n != txt.Len() {
			t.Fatalf("text %q: Len()=%d but String() has %d code points", name, txt.Len(), n)
		}
	}
	sameState(t, "snapshot reload", stateOf(t, d), stateOf(t, loadSnapshot(t, d.Snapshot())))
}

// applyChecked applies u to d; a refusal must be an ErrInvalidUpdate or a
// *DecodeError and leave d's snapshot and state vector as they were.
func applyChecked(t *testing.T, d *crdt.Doc, u []byte) error {
	t.Helper()
	snap, sv := d.Snapshot(), d.StateVector()
	err := d.Apply(u)
	if err != nil {
		var de *crdt.DecodeError
		if !errors.Is(err, crdt.ErrInvalidUpdate) && !errors.As(err, &de) {
			t.Fatalf("Apply: %v, neither ErrInvalidUpdate nor *DecodeError", err)
		}
		if !bytes.Equal(d.Snapshot(), snap) || !d.StateVector().Equal(sv) {
			t.Fatalf("a refused update (%v) changed the document", err)
		}
	}
	checkSound(t, d)
	return err
}

// The three updates of the issue: text of client 6 ("Q"); a map history of
// client 5 (clocks 0-4); text of client 5 from clock 3, next to "Q". The
// receiver is client 6.
var issueUpdates = []string{
	"9501919200a16191069091950000c4020701a15190",
	"9501919201a16d91059091950000c406070303030303a09593a26b30010093a26b31010193a26b32010293a26b33010393a26b340104",
	"9501919200a1619205069091950003c4080791020100610100a44142434490",
}

// In every order: no panic, nothing broken, the second history of client 5
// refused.
func TestIssueThreeUpdates(t *testing.T) {
	updates := issueUpdates
	orders := [][]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}
	for _, order := range orders {
		d := crdt.NewDocWithClient(6)
		refused := 0
		for _, i := range order {
			if err := applyChecked(t, d, mustHex(t, updates[i])); err != nil {
				if !errors.Is(err, crdt.ErrInvalidUpdate) {
					t.Fatalf("order %v, update %d: %v, want ErrInvalidUpdate", order, i, err)
				}
				refused++
			}
		}
		if refused != 1 {
			t.Errorf("order %v: %d updates refused, want exactly 1 (the second history)", order, refused)
		}
		if got := d.Text("a").String(); got != "Q" {
			t.Errorf("order %v: text %q, want %q", order, got, "Q")
		}
	}
}

// twin returns two documents with the same client ID, as a replica and its
// stale restart would be.
func twin(id crdt.ClientID) (*crdt.Doc, *crdt.Doc) {
	return crdt.NewDocWithClient(id), crdt.NewDocWithClient(id)
}

// must returns the update of a local edit that cannot fail.
func must(u []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return u
}

// Two histories under one client ID: whichever arrives second is refused
// whole, whether its clocks overlap integrated or pending records.
func TestConflictingHistoriesRefused(t *testing.T) {
	tests := []struct {
		name string
		// first and second build the two histories; each returns its
		// updates in order.
		first, second func(t *testing.T, d *crdt.Doc) [][]byte
		// firstPending applies the first history's updates but its first:
		// they wait in pending when the second history arrives.
		firstPending bool
	}{
		{
			name:   "other content",
			first:  func(t *testing.T, d *crdt.Doc) [][]byte { return [][]byte{must(d.Text("t").Insert(0, "hello"))} },
			second: func(t *testing.T, d *crdt.Doc) [][]byte { return [][]byte{must(d.Text("t").Insert(0, "world"))} },
		},
		{
			name: "same content, other origins",
			first: func(t *testing.T, d *crdt.Doc) [][]byte {
				return [][]byte{must(d.Text("t").Insert(0, "ab")), must(d.Text("t").Insert(0, "x"))}
			},
			second: func(t *testing.T, d *crdt.Doc) [][]byte {
				return [][]byte{must(d.Text("t").Insert(0, "ab")), must(d.Text("t").Insert(2, "x"))}
			},
		},
		{
			name:   "other text",
			first:  func(t *testing.T, d *crdt.Doc) [][]byte { return [][]byte{must(d.Text("t").Insert(0, "hi"))} },
			second: func(t *testing.T, d *crdt.Doc) [][]byte { return [][]byte{must(d.Text("u").Insert(0, "hi"))} },
		},
		{
			name:   "map entry where text was",
			first:  func(t *testing.T, d *crdt.Doc) [][]byte { return [][]byte{must(d.Text("t").Insert(0, "hi"))} },
			second: func(t *testing.T, d *crdt.Doc) [][]byte { return [][]byte{must(d.Map("m").Set("k", 1))} },
		},
		{
			name:   "other map value",
			first:  func(t *testing.T, d *crdt.Doc) [][]byte { return [][]byte{must(d.Map("m").Set("k", 1))} },
			second: func(t *testing.T, d *crdt.Doc) [][]byte { return [][]byte{must(d.Map("m").Set("k", 2))} },
		},
		{
			name:   "other map key",
			first:  func(t *testing.T, d *crdt.Doc) [][]byte { return [][]byte{must(d.Map("m").Set("k", 1))} },
			second: func(t *testing.T, d *crdt.Doc) [][]byte { return [][]byte{must(d.Map("m").Set("j", 1))} },
		},
		{
			name: "deletion for a value",
			first: func(t *testing.T, d *crdt.Doc) [][]byte {
				return [][]byte{must(d.Map("m").Set("k", 1)), must(d.Map("m").Set("k", 2))}
			},
			second: func(t *testing.T, d *crdt.Doc) [][]byte {
				return [][]byte{must(d.Map("m").Set("k", 1)), must(d.Map("m").Delete("k"))}
			},
		},
		{
			name: "partial overlap with other content",
			first: func(t *testing.T, d *crdt.Doc) [][]byte {
				return [][]byte{must(d.Text("t").Insert(0, "hello"))}
			},
			second: func(t *testing.T, d *crdt.Doc) [][]byte {
				must(d.Text("t").Insert(0, "hel"))
				must(d.Text("t").Insert(3, "xyz"))
				return [][]byte{d.Snapshot()}
			},
		},
		{
			name: "tail only, overlapping",
			first: func(t *testing.T, d *crdt.Doc) [][]byte {
				return [][]byte{must(d.Text("t").Insert(0, "hello"))}
			},
			second: func(t *testing.T, d *crdt.Doc) [][]byte {
				must(d.Text("t").Insert(0, "hel"))
				return [][]byte{must(d.Text("t").Insert(3, "xyz"))}
			},
		},
		{
			name: "pending text against other text",
			first: func(t *testing.T, d *crdt.Doc) [][]byte {
				return [][]byte{must(d.Text("t").Insert(0, "ab")), must(d.Text("t").Insert(2, "cd"))}
			},
			second: func(t *testing.T, d *crdt.Doc) [][]byte {
				return [][]byte{must(d.Text("t").Insert(0, "abxy"))}
			},
			firstPending: true,
		},
		{
			name: "pending text against a map entry",
			first: func(t *testing.T, d *crdt.Doc) [][]byte {
				return [][]byte{must(d.Text("t").Insert(0, "a")), must(d.Text("t").Insert(1, "b"))}
			},
			second: func(t *testing.T, d *crdt.Doc) [][]byte {
				must(d.Text("t").Insert(0, "a"))
				must(d.Map("m").Set("k", 1))
				return [][]byte{d.Snapshot()}
			},
			firstPending: true,
		},
		{
			name: "pending map entry against another",
			first: func(t *testing.T, d *crdt.Doc) [][]byte {
				return [][]byte{must(d.Map("m").Set("k", 1)), must(d.Map("m").Set("k", 2))}
			},
			second: func(t *testing.T, d *crdt.Doc) [][]byte {
				must(d.Map("m").Set("k", 1))
				must(d.Map("m").Set("k", 3))
				return [][]byte{d.Snapshot()}
			},
			firstPending: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := twin(7)
			first, second := tc.first(t, a), tc.second(t, b)
			r := crdt.NewDocWithClient(100)
			toApply := first
			if tc.firstPending {
				toApply = first[1:]
			}
			for _, u := range toApply {
				if err := applyChecked(t, r, u); err != nil {
					t.Fatalf("first history: %v", err)
				}
			}
			refused := false
			for _, u := range second {
				if err := applyChecked(t, r, u); err != nil {
					if !errors.Is(err, crdt.ErrInvalidUpdate) {
						t.Fatalf("second history: %v, want ErrInvalidUpdate", err)
					}
					refused = true
				}
			}
			if !refused {
				t.Fatal("the second history was accepted")
			}
			if tc.firstPending {
				if err := applyChecked(t, r, first[0]); err != nil {
					t.Fatalf("first history's first update: %v", err)
				}
			}
			if r.HasPending() {
				t.Fatal("the first history is still pending")
			}
			sameState(t, "receiver against the first history", stateOf(t, a), stateOf(t, r))
		})
	}
}

// The ordinary duplicates — re-sent updates, diffs from old state vectors,
// snapshots taken after deletions, and all of them while parts wait in
// pending — are accepted and change nothing twice.
func TestResendsAccepted(t *testing.T) {
	a := crdt.NewDocWithClient(1)
	b := crdt.NewDocWithClient(2)
	var updates [][]byte
	var svs []crdt.StateVector
	for i, s := range []string{"hello ", "wörld ", "😀x", "done"} {
		updates = append(updates, must(a.Text("t").Insert(a.Text("t").Len(), s)))
		svs = append(svs, a.StateVector())
		u := must(b.Map("m").Set("k", i))
		if err := a.Apply(u); err != nil {
			t.Fatal(err)
		}
		updates = append(updates, u)
	}
	updates = append(updates, must(a.Text("t").Delete(2, 5)))
	updates = append(updates, must(a.Map("m").Set("k", "a's")))
	var resends [][]byte
	resends = append(resends, a.Snapshot())
	for _, sv := range svs {
		resends = append(resends, a.Diff(sv))
	}
	// Every update, then every resend, in several orders; the last ones
	// first leaves records pending that the resends overlap.
	orders := [][]int{}
	n := len(updates) + len(resends)
	fwd, rev := make([]int, n), make([]int, n)
	for i := range n {
		fwd[i], rev[i] = i, n-1-i
	}
	orders = append(orders, fwd, rev)
	all := append(append([][]byte{}, updates...), resends...)
	for _, order := range orders {
		r := crdt.NewDocWithClient(3)
		for _, i := range order {
			if err := applyChecked(t, r, all[i]); err != nil {
				t.Fatalf("order %v, item %d: %v", order, i, err)
			}
		}
		for _, u := range all { // all again: idempotent
			if err := applyChecked(t, r, u); err != nil {
				t.Fatal(err)
			}
		}
		sameState(t, "receiver", stateOf(t, a), stateOf(t, r))
	}
}

// An update that moves the receiver's own clock to 2^53 (a skip under its
// client ID) makes it take a fresh ID: its next edits still encode, and its
// snapshot still loads.
func TestOwnClockAtLimitSwitchesClient(t *testing.T) {
	d := crdt.NewDocWithClient(12345)
	if _, err := d.Text("t").Insert(0, "ab"); err != nil {
		t.Fatal(err)
	}
	// Client 12345 from clock 5: one skip record reaching 2^53 (held until
	// clocks 2-4 come, or, from clock 2, applied at once).
	for _, hx := range []string{
		"95019091cd30399091950005c408d5ffffffffffff7fa090",
		"95019091cd30399091950002c408edffffffffffff7fa090",
	} {
		if err := applyChecked(t, d, mustHex(t, hx)); err != nil {
			t.Fatalf("%s: %v", hx, err)
		}
	}
	if d.Clock(12345) != 1<<53 {
		t.Fatalf("client 12345 at clock %d, want 2^53", d.Clock(12345))
	}
	u, err := d.Text("t").Insert(2, "c")
	if err != nil {
		t.Fatal(err)
	}
	if d.ClientID() == 12345 {
		t.Fatal("the document kept writing under its exhausted client ID")
	}
	if err := crdt.NewDoc().Apply(u); err != nil {
		t.Fatalf("the edit's update does not decode: %v", err)
	}
	checkSound(t, d)
	if got := d.Text("t").String(); got != "abc" {
		t.Fatalf("text %q", got)
	}
}

// A document that receives changes under its own client ID it did not make
// switches to a fresh ID before its next edit; one that only sees its own
// changes echoed back keeps its ID.
func TestForeignChangesUnderOwnID(t *testing.T) {
	old := crdt.NewDocWithClient(42)
	must(old.Text("t").Insert(0, "written before the restart"))
	snap := old.Snapshot()

	// An echo of what it made: no switch.
	d := crdt.NewDocWithClient(42)
	u := must(d.Text("t").Insert(0, "x"))
	if err := d.Apply(u); err != nil {
		t.Fatal(err)
	}
	must(d.Text("t").Insert(1, "y"))
	if d.ClientID() != 42 {
		t.Fatal("an echo of its own update made the document switch")
	}

	// Its own snapshot, loaded into a document with the same ID: switch.
	restored := crdt.NewDocWithClient(42)
	if err := restored.Apply(snap); err != nil {
		t.Fatal(err)
	}
	edit := must(restored.Text("t").Insert(0, "new "))
	if restored.ClientID() == 42 {
		t.Fatal("a document that loaded its own snapshot kept writing under the old ID")
	}
	if err := old.Apply(edit); err != nil {
		t.Fatalf("the restored replica's edit is refused: %v", err)
	}

	// A deletion of its own clocks it has not reached: switch.
	del := crdt.NewDocWithClient(42)
	if err := del.Apply(must(old.Text("t").Delete(4, 3))); err != nil {
		t.Fatal(err)
	}
	must(del.Map("m").Set("k", 1))
	if del.ClientID() == 42 {
		t.Fatal("a deletion of its future clocks did not make the document switch")
	}

	// The caller can assert it holds everything written under an ID.
	resumed := crdt.NewDocWithClient(1)
	if err := resumed.Apply(snap); err != nil {
		t.Fatal(err)
	}
	if err := resumed.ResumeClientID(42); err != nil {
		t.Fatal(err)
	}
	if err := old.Apply(must(resumed.Text("t").Insert(0, "more "))); err != nil {
		t.Fatalf("the resumed replica's edit is refused: %v", err)
	}
	if resumed.ClientID() != 42 {
		t.Fatal("ResumeClientID did not keep the ID")
	}
}

// A map entry with the largest seq an update may carry does not make the
// next local write of its key undecodable.
func TestMapSeqAtLimit(t *testing.T) {
	src := crdt.NewDocWithClient(7)
	u := must(src.Map("m").Set("k", 1))
	// The entry's seq is the fixint 1 before the value: make it 2^53.
	i := bytes.LastIndex(u, []byte{0xa1, 'k', 0x01})
	hostile := append(bytes.Clone(u[:i+2]), 0xcf, 0, 0x20, 0, 0, 0, 0, 0, 0)
	hostile = append(hostile, u[i+3:]...)
	for _, id := range []crdt.ClientID{3, 9} { // below and above the writer
		d := crdt.NewDocWithClient(id)
		if err := applyChecked(t, d, hostile); err != nil {
			t.Fatal(err)
		}
		w := must(d.Map("m").Set("k", 2))
		if err := applyChecked(t, crdt.NewDoc(), w); err != nil {
			t.Fatalf("client %d: its write does not decode: %v", id, err)
		}
		checkSound(t, d)
		want := any(int8(1)) // the same seq: the greater client wins
		if id > 7 {
			want = int8(2)
		}
		if v, _ := d.Map("m").Get("k"); v != want {
			t.Errorf("client %d: k = %v, want %v", id, v, want)
		}
	}
}

// A refused update leaves no trace: no pending record, no pending delete,
// no client-ID switch.
func TestRefusedUpdateLeavesNoTrace(t *testing.T) {
	d := crdt.NewDocWithClient(7)
	must(d.Text("t").Insert(0, "hello"))
	// Another history of client 7 reaching past d's clock (which would
	// make d switch), with a record of client 8 that would wait in pending
	// and a deletion of a clock of client 8 that d has not seen.
	other := crdt.NewDocWithClient(7)
	must(other.Text("t").Insert(0, "world, and more"))
	third := crdt.NewDocWithClient(8)
	must(third.Text("t").Insert(0, "ab"))
	must(third.Text("t").Insert(2, "cd"))
	must(third.Text("t").Delete(0, 1))
	if err := other.Apply(third.Snapshot()); err != nil {
		t.Fatal(err)
	}
	// A diff without client 8's first clock: its records wait in pending.
	u := other.Diff(crdt.StateVector{8: 1})
	if err := applyChecked(t, d, u); !errors.Is(err, crdt.ErrInvalidUpdate) {
		t.Fatalf("got %v, want ErrInvalidUpdate", err)
	}
	if d.HasPending() {
		t.Fatal("a refused update left pending changes")
	}
	must(d.Text("t").Insert(5, "!"))
	if d.ClientID() != 7 {
		t.Fatal("a refused update made the document switch its client ID")
	}
}
