package crdt

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"
)

// A session replica: its document, its undo manager, the updates sent to it
// and not yet delivered, and the snapshots it saved, to restart from.
type sessionReplica struct {
	doc         *Doc
	undo        *UndoManager
	inbox       [][]byte
	saved       [][]byte
	svs         []StateVector // its state vectors when it saved
	partitioned bool
}

var sessionPieces = []string{"a", "b", " ", "\n", "é", "中", "😀", "ab", "xyz"}
var sessionKeys = []string{"bold", "italic", "link", "header"}

// sessionFanouts are the tree shapes TestRandomSessions runs under: as
// shipped, and leaves and nodes small enough that a session's few dozen
// items split leaves, split nodes and grow the tree several levels deep.
var sessionFanouts = []struct{ leaf, kids int }{{64, 64}, {2, 3}, {3, 4}}

// TestRandomSessions has 2–4 replicas edit a rich text, sometimes a second
// one and a map, through every local operation (inserts, deletes, formats,
// block attributes, embeds, ApplyDelta, transactions, undo and redo) while
// updates arrive late, out of order and twice, and replicas catch up by
// state vector, reload their own snapshot and keep editing, or restart
// from an older snapshot under a new client ID, losing what they wrote
// since; half the sessions load even small updates into an empty Text by
// the loader, and half observe the Texts, checking each event's delta
// against the length. After every step each replica's trees and client index are
// consistent; at the end all replicas, the server, a document fed every
// update shuffled, and the snapshot reloaded agree on texts, marks, map
// and snapshot bytes. -rapid.checks sets the sessions per tree shape;
// FLOWSTATE_SESSION_STEPS=N makes every session take N/2 to N steps, for
// long hunts.
func TestRandomSessions(t *testing.T) {
	for _, ft := range sessionFanouts {
		t.Run(fmt.Sprintf("leaf%d_kids%d", ft.leaf, ft.kids), func(t *testing.T) {
			withFanout(t, ft.leaf, ft.kids, func() {
				rapid.Check(t, runSession)
			})
		})
	}
}

func runSession(t *rapid.T) {
	n := rapid.IntRange(2, 4).Draw(t, "replicas")
	twoTexts := rapid.Bool().Draw(t, "two texts")
	if rapid.Bool().Draw(t, "loader for small updates") {
		// Snapshots and catch-ups of a few runs go through the loader
		// too, and leave to the tree in the middle at every kind of
		// record it does not take.
		old := bulkMin
		bulkMin = 0
		defer func() { bulkMin = old }()
	}
	nextID := ClientID(100) // restarted replicas take 100, 101, …
	var all [][]byte
	// Half the sessions start from a run of 300 code points typed in one
	// go and split by 60 insertions and deletions, applied update by
	// update: its pieces are one long chain of the client index, which
	// lookups cut into shorter ones (promote).
	var base [][]byte
	if rapid.Bool().Draw(t, "long run") {
		base = splitRun(rapid.Uint64().Draw(t, "long run seed"))
		all = append(all, base...)
	}
	// The server gets every update sent, in order, as a relay would, and
	// keeps what a replica loses by restarting.
	server := NewDocWithClient(999)
	for _, u := range base {
		if err := server.Apply(u); err != nil {
			t.Fatal(err)
		}
	}
	reps := make([]*sessionReplica, n)
	// Observed Texts take the paths that record events (and no loader):
	// each event's delta must take the text from its length before to
	// its length after.
	observed := rapid.Bool().Draw(t, "observed")
	observe := func(x *Text) {
		length := x.Len()
		x.Observe(func(e TextEvent) {
			pos, n := 0, length
			for _, op := range e.Delta {
				switch {
				case op.Retain > 0:
					pos += op.Retain
				case op.Delete > 0:
					pos += op.Delete
					n -= op.Delete
				case op.Embed != nil:
					n++
				default:
					n += utf8.RuneCountInString(op.Insert)
				}
			}
			if pos > length || n != x.Len() {
				t.Fatalf("an event's delta %v takes %d positions of %d to %d, the text has %d", e.Delta, pos, length, n, x.Len())
			}
			length = n
		})
	}
	newUndo := func(d *Doc) *UndoManager {
		if observed {
			observe(d.Text("t"))
			if twoTexts {
				observe(d.Text("u"))
			}
		}
		scope := []Shared{d.Text("t"), d.Map("m")}
		if twoTexts {
			scope = append(scope, d.Text("u"))
		}
		return NewUndoManager(UndoOptions{CaptureTimeout: -1}, scope...)
	}
	for i := range reps {
		d := NewDocWithClient(ClientID(3*i + 1))
		for _, u := range base {
			if err := d.Apply(u); err != nil {
				t.Fatal(err)
			}
		}
		reps[i] = &sessionReplica{doc: d, undo: newUndo(d)}
	}
	check := func(d *Doc) {
		checkHeads(t, d)
		for _, x := range d.texts {
			checkTree(t, x)
		}
	}
	apply := func(d *Doc, u []byte) {
		if u == nil {
			return
		}
		if err := d.Apply(u); err != nil {
			t.Fatalf("apply: %v", err)
		}
	}
	broadcast := func(from int, u []byte) {
		if u == nil {
			return
		}
		all = append(all, u)
		apply(server, u)
		for j, r := range reps {
			if j != from {
				r.inbox = append(r.inbox, u)
			}
		}
	}
	least, most := 1, 120
	if testing.Short() {
		most = 40
	}
	if s := os.Getenv("FLOWSTATE_SESSION_STEPS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 2 {
			t.Fatalf("bad FLOWSTATE_SESSION_STEPS %q", s)
		}
		least, most = n/2, n
	}
	steps := rapid.IntRange(least, most).Draw(t, "steps")
	for range steps {
		i := rapid.IntRange(0, n-1).Draw(t, "replica")
		r := reps[i]
		switch k := rapid.IntRange(0, 15).Draw(t, "action"); {
		case k <= 5:
			broadcast(i, sessionEdit(t, r.doc, twoTexts))
		case k == 6:
			u, err := r.doc.Transact(func() error {
				for range rapid.IntRange(1, 3).Draw(t, "txn size") {
					if sessionEdit(t, r.doc, twoTexts) != nil {
						t.Fatal("an edit inside Transact returned an update")
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			broadcast(i, u)
		case k == 7:
			var u []byte
			if rapid.IntRange(0, 2).Draw(t, "redo") == 0 {
				u, _ = r.undo.Redo()
			} else {
				u, _ = r.undo.Undo()
			}
			broadcast(i, u)
		case k <= 10:
			if !r.partitioned && len(r.inbox) > 0 {
				idx := rapid.IntRange(0, len(r.inbox)-1).Draw(t, "msg")
				u := r.inbox[idx]
				if rapid.IntRange(0, 3).Draw(t, "dup") > 0 {
					r.inbox = slices.Delete(r.inbox, idx, idx+1)
				}
				apply(r.doc, u)
			}
		case k == 11:
			r.partitioned = !r.partitioned
		case k == 12:
			j := rapid.IntRange(-1, n-1).Draw(t, "peer")
			from := server
			if j >= 0 {
				from = reps[j].doc
			}
			if r.partitioned || from == r.doc {
				continue
			}
			if len(r.svs) == 0 || rapid.Bool().Draw(t, "fresh") {
				apply(r.doc, from.Diff(r.doc.StateVector()))
				break
			}
			// A catch-up from a state vector the replica sent earlier
			// arrives after the updates sent since: it overlaps them.
			sv := r.svs[rapid.IntRange(0, len(r.svs)-1).Draw(t, "old state vector")]
			r.inbox = append(r.inbox, from.Diff(sv))
		case k == 13:
			r.saved = append(r.saved, r.doc.Snapshot())
			r.svs = append(r.svs, r.doc.StateVector())
		case k == 14: // reload its own snapshot and keep its ID: it lost nothing
			id := r.doc.ClientID()
			d := NewDocWithClient(id)
			apply(d, r.doc.Snapshot())
			if err := d.ResumeClientID(id); err != nil {
				t.Fatal(err)
			}
			r.doc, r.undo = d, newUndo(d)
		default: // restart from an older snapshot, under a new ID
			if len(r.saved) == 0 {
				continue
			}
			snap := r.saved[rapid.IntRange(0, len(r.saved)-1).Draw(t, "snapshot")]
			d := NewDocWithClient(r.doc.ClientID())
			apply(d, snap)
			if err := d.ResumeClientID(nextID); err != nil {
				t.Fatal(err)
			}
			nextID++
			r.doc, r.undo = d, newUndo(d)
		}
		check(r.doc)
	}

	// Heal: deliver what is in flight, then catch every replica up with
	// the server and every other replica (a restarted replica lost what
	// it wrote and received after its snapshot).
	seed := rapid.Uint64().Draw(t, "drain seed")
	rng := rand.New(rand.NewPCG(seed, 0))
	for _, r := range reps {
		for _, k := range rng.Perm(len(r.inbox)) {
			apply(r.doc, r.inbox[k])
			check(r.doc)
		}
		r.inbox = nil
	}
	for _, r := range reps {
		apply(r.doc, server.Diff(r.doc.StateVector()))
	}
	for range 2 {
		for _, r := range reps {
			for _, p := range reps {
				if p != r {
					apply(r.doc, p.doc.Diff(r.doc.StateVector()))
				}
			}
			check(r.doc)
		}
	}

	want := sessionStateOf(t, reps[0].doc)
	wantSnap := reps[0].doc.Snapshot()
	for i, r := range reps {
		if r.doc.HasPending() {
			t.Fatalf("replica %d still has pending updates", i)
		}
		sameSession(t, fmt.Sprint("replica ", i), want, sessionStateOf(t, r.doc))
		if !bytes.Equal(r.doc.Snapshot(), wantSnap) {
			t.Fatalf("replica %d: snapshot differs", i)
		}
	}
	sameSession(t, "the server", want, sessionStateOf(t, server))
	// Every update ever made, shuffled, into a fresh document, gives the
	// server's document.
	f := NewDocWithClient(1000)
	for _, k := range rng.Perm(len(all)) {
		apply(f, all[k])
		check(f)
	}
	if f.HasPending() {
		t.Fatal("a fresh document fed every update still has pending ones")
	}
	sameSession(t, "every update shuffled", want, sessionStateOf(t, f))
	if !bytes.Equal(f.Snapshot(), wantSnap) {
		t.Fatal("every update shuffled: snapshot differs")
	}

	loaded := NewDocWithClient(1002)
	apply(loaded, wantSnap)
	check(loaded)
	sameSession(t, "loaded snapshot", want, sessionStateOf(t, loaded))
	if !bytes.Equal(loaded.Snapshot(), wantSnap) {
		t.Fatal("the reloaded snapshot differs")
	}
	// The loaded document and a replica keep editing and exchange edits.
	for range 3 {
		u := sessionEdit(t, loaded, twoTexts)
		v := sessionEdit(t, reps[0].doc, twoTexts)
		apply(reps[0].doc, u)
		apply(loaded, v)
		check(loaded)
		check(reps[0].doc)
	}
	sameSession(t, "loaded and edited", sessionStateOf(t, reps[0].doc), sessionStateOf(t, loaded))
}

// splitRun returns the updates of client 2 typing 300 code points in one
// insertion, then of client 5 inserting into and deleting from it at
// random, with rng seeded by seed.
func splitRun(seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	a := NewDocWithClient(2)
	u, err := a.Text("t").Insert(0, strings.Repeat("abcdé", 60))
	if err != nil {
		panic(err)
	}
	out := [][]byte{u}
	b := NewDocWithClient(5)
	if err := b.Apply(u); err != nil {
		panic(err)
	}
	x := b.Text("t")
	for range 60 {
		if rng.IntN(3) == 0 {
			u, err = x.Delete(rng.IntN(x.Len()), 1)
		} else {
			u, err = x.Insert(rng.IntN(x.Len()+1), "x")
		}
		if err != nil {
			panic(err)
		}
		out = append(out, u)
	}
	return out
}

// sessionEdit draws and makes one local edit of d.
func sessionEdit(t *rapid.T, d *Doc, twoTexts bool) []byte {
	x := d.Text("t")
	if twoTexts && rapid.IntRange(0, 3).Draw(t, "text u") == 0 {
		x = d.Text("u")
	}
	var u []byte
	var err error
	pos := func() int { return rapid.IntRange(0, x.Len()).Draw(t, "pos") }
	span := func(p, most int) int { return rapid.IntRange(1, min(x.Len()-p, most)).Draw(t, "n") }
	switch k := rapid.IntRange(0, 13).Draw(t, "edit"); {
	case k <= 4 || x.Len() == 0:
		u, err = x.Insert(pos(), rapid.SampledFrom(sessionPieces).Draw(t, "text"))
	case k <= 6:
		p := rapid.IntRange(0, x.Len()-1).Draw(t, "pos")
		u, err = x.Delete(p, span(p, 5))
	case k <= 8:
		p := rapid.IntRange(0, x.Len()-1).Draw(t, "pos")
		var v any = rapid.SampledFrom([]any{nil, true, "a", "b"}).Draw(t, "value")
		u, err = x.Format(p, span(p, 8), rapid.SampledFrom(sessionKeys).Draw(t, "key"), v)
	case k == 9:
		u, err = x.InsertEmbed(pos(), map[string]any{"img": rapid.IntRange(0, 2).Draw(t, "img")})
	case k == 10:
		u, err = x.ApplyDelta(sessionDelta(t, x.Len()))
	case k == 11:
		key := rapid.SampledFrom([]string{"a", "b"}).Draw(t, "map key")
		u, err = d.Map("m").Set(key, rapid.IntRange(0, 9).Draw(t, "map value"))
	case k == 12:
		key := rapid.SampledFrom([]string{"a", "b"}).Draw(t, "map key")
		if _, ok := d.Map("m").Get(key); ok {
			u, err = d.Map("m").Delete(key)
		}
	default:
		var v any = rapid.SampledFrom([]any{nil, 1, "x"}).Draw(t, "block value")
		u, err = x.SetBlock(pos(), rapid.SampledFrom([]string{"header", "list"}).Draw(t, "block key"), v)
		if errors.Is(err, ErrOutOfRange) {
			u, err = nil, nil // no newline after pos
		}
	}
	if err != nil {
		t.Fatalf("edit: %v", err)
	}
	return u
}

// sessionDelta draws a valid delta for a text of length n: retains with
// and without attributes, inserts of text and embeds with attributes, and
// deletes.
func sessionDelta(t *rapid.T, n int) []DeltaOp {
	var ops []DeltaOp
	pos := 0
	attrs := func() map[string]any {
		if rapid.Bool().Draw(t, "no attrs") {
			return nil
		}
		key := rapid.SampledFrom(sessionKeys).Draw(t, "delta key")
		return map[string]any{key: rapid.SampledFrom([]any{nil, true, "a"}).Draw(t, "delta value")}
	}
	for range rapid.IntRange(1, 4).Draw(t, "ops") {
		switch k := rapid.IntRange(0, 3).Draw(t, "op"); {
		case k == 0 && pos < n:
			r := rapid.IntRange(1, n-pos).Draw(t, "retain")
			ops = append(ops, DeltaOp{Retain: r, Attributes: attrs()})
			pos += r
		case k == 1 && pos < n:
			d := rapid.IntRange(1, min(n-pos, 3)).Draw(t, "delete")
			ops = append(ops, DeltaOp{Delete: d})
			n -= d
		case k == 2:
			ops = append(ops, DeltaOp{Embed: map[string]any{"img": 1}, Attributes: attrs()})
		default:
			ops = append(ops, DeltaOp{Insert: rapid.SampledFrom(sessionPieces).Draw(t, "insert"), Attributes: attrs()})
		}
	}
	return ops
}

// sessionState is what a session compares: every Text's rich delta and
// the map.
type sessionState struct {
	Texts map[string][]RichOp
	Map   map[string]any
	SV    StateVector
}

func sessionStateOf(tb rapid.TB, d *Doc) sessionState {
	tb.Helper()
	s := sessionState{Texts: map[string][]RichOp{}, Map: map[string]any{}, SV: d.StateVector()}
	for name, x := range d.texts {
		if x.length > 0 {
			s.Texts[name] = x.ToDelta()
		}
	}
	if m, ok := d.maps["m"]; ok {
		for _, k := range m.Keys() {
			v, _ := m.Get(k)
			s.Map[k] = v
		}
	}
	return s
}

func sameSession(tb rapid.TB, what string, a, b sessionState) {
	tb.Helper()
	if !reflect.DeepEqual(a.Texts, b.Texts) {
		tb.Fatalf("%s: texts differ:\n  %v\n  %v", what, a.Texts, b.Texts)
	}
	if !reflect.DeepEqual(a.Map, b.Map) {
		tb.Fatalf("%s: maps differ: %v vs %v", what, a.Map, b.Map)
	}
	if !a.SV.Equal(b.SV) {
		tb.Fatalf("%s: state vectors differ: %v vs %v", what, a.SV, b.SV)
	}
}
