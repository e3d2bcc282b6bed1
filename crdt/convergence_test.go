package crdt_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/flowstate/flowstate/crdt"
	"pgregory.net/rapid"
)

// replicaIDs are the fixed, distinct client IDs of the simulated replicas.
var replicaIDs = []crdt.ClientID{7, 3, 1<<32 + 5, 42, crdt.MaxClientID}

var pieceGen = rapid.SampledFrom([]string{
	"a", "b", "z", " ", "\n", "é", "ß", "中", "文", "😀", "👍🏽", "𝄞", "e\u0301", "ab", "日本語",
})

// textGen draws a short string made of single and multi-code-point pieces.
var textGen = rapid.Custom(func(t *rapid.T) string {
	return strings.Join(rapid.SliceOfN(pieceGen, 1, 3).Draw(t, "pieces"), "")
})

// opSize picks step counts: smaller under -short.
func opSize(short, long int) int {
	if testing.Short() {
		return short
	}
	return long
}

// randomEdit draws and performs one text or map edit on d.
func randomEdit(t *rapid.T, d *crdt.Doc) []byte {
	txt := d.Text("t")
	var u []byte
	var err error
	switch k := rapid.IntRange(0, 9).Draw(t, "edit"); {
	case k <= 4 || txt.Len() == 0:
		pos := rapid.IntRange(0, txt.Len()).Draw(t, "pos")
		u, err = txt.Insert(pos, textGen.Draw(t, "text"))
	case k <= 7:
		pos := rapid.IntRange(0, txt.Len()-1).Draw(t, "pos")
		n := rapid.IntRange(1, min(txt.Len()-pos, 6)).Draw(t, "n")
		u, err = txt.Delete(pos, n)
	case k == 8:
		key := rapid.SampledFrom([]string{"a", "b", "c"}).Draw(t, "key")
		if rapid.Bool().Draw(t, "string") {
			u, err = d.Map("m").Set(key, textGen.Draw(t, "value"))
		} else {
			u, err = d.Map("m").Set(key, rapid.IntRange(-1000, 1<<20).Draw(t, "value"))
		}
	default:
		key := rapid.SampledFrom([]string{"a", "b", "c"}).Draw(t, "key")
		if _, ok := d.Map("m").Get(key); ok {
			u, err = d.Map("m").Delete(key)
		}
	}
	if err != nil {
		t.Fatalf("edit: %v", err)
	}
	return u
}

// randomTransact performs 1–4 edits in one Transact.
func randomTransact(t *rapid.T, d *crdt.Doc) []byte {
	n := rapid.IntRange(1, 4).Draw(t, "txn size")
	u, err := d.Transact(func() error {
		for range n {
			if inner := randomEdit(t, d); inner != nil {
				t.Fatalf("edit inside Transact returned a %d-byte update", len(inner))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Transact: %v", err)
	}
	return u
}

type replica struct {
	doc         *crdt.Doc
	inbox       [][]byte
	partitioned bool
}

func TestConvergence(t *testing.T) {
	rapid.Check(t, convergenceSession)
}

// TestConvergenceFanouts runs the sessions of TestConvergence with leaves
// of two items and nodes of three, where a session's edits split leaves
// and nodes and grow the tree several levels deep. (TestRandomSessions
// runs its own sessions in more shapes.)
func TestConvergenceFanouts(t *testing.T) {
	defer crdt.SetFanout(2, 3)()
	rapid.Check(t, convergenceSession)
}

func convergenceSession(t *rapid.T) {
	n := rapid.IntRange(2, 5).Draw(t, "replicas")
	// Half the runs start from a shared, fragmented doc of 1200 code
	// points so that edits split and merge many items and leaves.
	var base []byte
	if rapid.Bool().Draw(t, "populated base") {
		base, _ = populated()
	}
	fresh := func(id crdt.ClientID) *crdt.Doc {
		d := crdt.NewDocWithClient(id)
		mustApply(t, d, base)
		return d
	}
	reps := make([]*replica, n)
	for i := range reps {
		reps[i] = &replica{doc: fresh(replicaIDs[i])}
	}
	var all [][]byte // every local update, in creation order
	broadcast := func(from int, u []byte) {
		if u == nil {
			return
		}
		all = append(all, u)
		for j, r := range reps {
			if j != from {
				r.inbox = append(r.inbox, u)
			}
		}
	}
	// deliver applies one message from r's inbox; dup keeps it queued.
	deliver := func(r *replica, idx int, dup bool) {
		u := r.inbox[idx]
		if !dup {
			r.inbox = slices.Delete(r.inbox, idx, idx+1)
		}
		mustApply(t, r.doc, u)
	}

	steps := rapid.IntRange(1, opSize(80, 200)).Draw(t, "steps")
	for range steps {
		i := rapid.IntRange(0, n-1).Draw(t, "replica")
		r := reps[i]
		switch k := rapid.IntRange(0, 11).Draw(t, "action"); {
		case k <= 4:
			broadcast(i, randomEdit(t, r.doc))
		case k == 5:
			broadcast(i, randomTransact(t, r.doc))
		case k <= 8:
			if !r.partitioned && len(r.inbox) > 0 {
				idx := rapid.IntRange(0, len(r.inbox)-1).Draw(t, "msg")
				deliver(r, idx, rapid.IntRange(0, 3).Draw(t, "dup") == 0)
			}
		case k <= 10:
			r.partitioned = !r.partitioned
		default:
			j := rapid.IntRange(0, n-1).Draw(t, "peer")
			if j != i && !r.partitioned {
				mustApply(t, r.doc, reps[j].doc.Diff(r.doc.StateVector()))
			}
		}
	}

	// Heal and drain all inboxes in random order, with duplicates.
	seed := rapid.Uint64().Draw(t, "drain seed")
	t.Logf("math/rand drain seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for {
		var busy []*replica
		for _, r := range reps {
			if len(r.inbox) > 0 {
				busy = append(busy, r)
			}
		}
		if len(busy) == 0 {
			break
		}
		r := busy[rng.IntN(len(busy))]
		deliver(r, rng.IntN(len(r.inbox)), rng.IntN(5) == 0)
	}

	want := stateOf(t, reps[0].doc)
	for i, r := range reps {
		if r.doc.HasPending() {
			t.Fatalf("replica %d still has pending updates", i)
		}
		sameState(t, "replica 0 vs other", want, stateOf(t, r.doc))
	}

	// A fresh doc fed every update, shuffled, ends up the same.
	f := fresh(1000)
	for _, k := range rng.Perm(len(all)) {
		mustApply(t, f, all[k])
	}
	if f.HasPending() {
		t.Fatal("fresh doc fed all updates still has pending ones")
	}
	sameState(t, "shuffled fresh doc", want, stateOf(t, f))

	// Snapshot load, and re-load of the loaded doc's snapshot.
	loaded := loadSnapshot(t, reps[rng.IntN(n)].doc.Snapshot())
	sameState(t, "loaded snapshot", want, stateOf(t, loaded))
	sameState(t, "reloaded snapshot", want, stateOf(t, loadSnapshot(t, loaded.Snapshot())))
}

// TestSingleReplicaModel mirrors random edits on a []rune model.
func TestSingleReplicaModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d := crdt.NewDocWithClient(1)
		remote := crdt.NewDocWithClient(2)
		txt := d.Text("t")
		var model []rune
		check := func(what string) {
			if got := txt.String(); got != string(model) {
				t.Fatalf("after %s: text %q, model %q", what, got, string(model))
			}
			if txt.Len() != len(model) {
				t.Fatalf("after %s: Len()=%d, model %d", what, txt.Len(), len(model))
			}
		}
		steps := rapid.IntRange(1, opSize(100, 300)).Draw(t, "steps")
		for range steps {
			var e edit
			switch k := rapid.IntRange(0, 9).Draw(t, "op"); {
			case k <= 5 || len(model) == 0:
				e = ins(rapid.IntRange(0, len(model)).Draw(t, "pos"), textGen.Draw(t, "text"))
			case k <= 8:
				pos := rapid.IntRange(0, len(model)-1).Draw(t, "pos")
				e = del(pos, rapid.IntRange(1, len(model)-pos).Draw(t, "n"))
			default:
				// Out of range: must fail and change nothing.
				bad := []edit{ins(-1, "x"), ins(len(model)+1, "x"), del(len(model), 1), del(0, len(model)+1)}
				e = rapid.SampledFrom(bad).Draw(t, "bad")
				u, err := e.do(txt)
				if err == nil || u != nil {
					t.Fatalf("%v: got %d bytes, %v; want ErrOutOfRange", e, len(u), err)
				}
				check(e.String())
				continue
			}
			u, err := e.do(txt)
			if err != nil {
				t.Fatalf("%v: %v", e, err)
			}
			model = e.applyModel(model)
			check(e.String())
			mustApply(t, remote, u)
		}
		if got := remote.Text("t").String(); got != string(model) {
			t.Fatalf("remote text %q, model %q", got, string(model))
		}
	})
}

// TestDiffSync checks that Diff(peer.StateVector()) brings a peer up to date.
func TestDiffSync(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		docs := []*crdt.Doc{crdt.NewDocWithClient(replicaIDs[0]), crdt.NewDocWithClient(replicaIDs[1])}
		if rapid.Bool().Draw(t, "populated base") {
			snap, _ := populated()
			mustApply(t, docs[0], snap)
			mustApply(t, docs[1], snap)
		}
		steps := rapid.IntRange(1, opSize(60, 150)).Draw(t, "steps")
		for range steps {
			i := rapid.IntRange(0, 1).Draw(t, "replica")
			u := randomEdit(t, docs[i])
			if rapid.IntRange(0, 2).Draw(t, "send") == 0 {
				mustApply(t, docs[1-i], u) // some updates get through
			}
		}
		a, b := docs[0], docs[1]
		if rapid.Bool().Draw(t, "b catches up first") {
			mustApply(t, b, a.Diff(b.StateVector()))
			if b.HasPending() {
				t.Fatal("b has pending updates after Diff")
			}
			for c, k := range a.StateVector() {
				if b.StateVector()[c] < k {
					t.Fatalf("after Diff b is behind on client %d: %v vs %v", c, b.StateVector(), a.StateVector())
				}
			}
			// Now b ⊇ a: one Diff makes a equal to b.
			mustApply(t, a, b.Diff(a.StateVector()))
		} else {
			da, db := b.Diff(a.StateVector()), a.Diff(b.StateVector())
			mustApply(t, a, da)
			mustApply(t, b, db)
		}
		if a.HasPending() || b.HasPending() {
			t.Fatal("pending updates after Diff exchange")
		}
		sameState(t, "after diff sync", stateOf(t, a), stateOf(t, b))
		// A Diff against an up-to-date peer changes nothing.
		before := stateOf(t, a)
		mustApply(t, a, b.Diff(a.StateVector()))
		sameState(t, "redundant diff", before, stateOf(t, a))
	})
}

// TestObserveDeltas checks that local and remote TextEvents, replayed on the
// old text, always give the new text, across random edits, Transact batches
// and concurrent edits on the receiving side.
func TestObserveDeltas(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		docs := []*crdt.Doc{crdt.NewDocWithClient(replicaIDs[0]), crdt.NewDocWithClient(replicaIDs[1])}
		type watch struct {
			text        string
			local, seen int
		}
		if rapid.Bool().Draw(t, "populated base") {
			snap, _ := populated()
			mustApply(t, docs[0], snap)
			mustApply(t, docs[1], snap)
		}
		ws := make([]*watch, 2)
		for i, d := range docs {
			w := &watch{text: d.Text("t").String()}
			ws[i] = w
			cancel := d.Text("t").Observe(func(e crdt.TextEvent) {
				s, err := applyDelta(w.text, e.Delta)
				if err != nil {
					t.Fatalf("replica %d: delta %+v on %q: %v", i, e.Delta, w.text, err)
				}
				w.text = s
				w.seen++
				if e.Local {
					w.local++
				}
			})
			defer cancel()
		}
		var inbox [2][][]byte
		steps := rapid.IntRange(1, opSize(60, 150)).Draw(t, "steps")
		for range steps {
			i := rapid.IntRange(0, 1).Draw(t, "replica")
			d, w := docs[i], ws[i]
			before := d.Text("t").String()
			seen, local := w.seen, w.local
			var u []byte
			switch rapid.IntRange(0, 3).Draw(t, "kind") {
			case 0:
				u = randomEdit(t, d)
			case 1:
				u = randomTransact(t, d)
			default:
				if len(inbox[i]) == 0 {
					continue
				}
				k := rapid.IntRange(0, len(inbox[i])-1).Draw(t, "msg")
				mustApply(t, d, inbox[i][k])
				inbox[i] = slices.Delete(inbox[i], k, k+1)
				if w.local != local {
					t.Fatalf("replica %d: remote Apply fired a Local event", i)
				}
			}
			after := d.Text("t").String()
			if w.text != after {
				t.Fatalf("replica %d: events give %q, text is %q (before %q)", i, w.text, after, before)
			}
			if after != before && w.seen == seen {
				t.Fatalf("replica %d: text changed %q -> %q without an event", i, before, after)
			}
			if u != nil {
				inbox[1-i] = append(inbox[1-i], u)
				if after != before && w.local == local {
					t.Fatalf("replica %d: local edit fired no Local event", i)
				}
			}
		}
	})
}
