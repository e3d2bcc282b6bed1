package crdt_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/flowstate/flowstate/crdt"
)

// A splitPair is two replicas of one client that hold the same document
// and make the same local edits, each with an UndoManager: b's items may
// be split where a's are not, as happens between replicas and between Go
// and JavaScript. Every update either makes must be the same bytes.
type splitPair struct {
	t            *testing.T
	a, b         *crdt.Doc
	undoA, undoB *crdt.UndoManager
}

func newSplitPair(t *testing.T) *splitPair {
	p := &splitPair{t: t, a: crdt.NewDocWithClient(1), b: crdt.NewDocWithClient(1)}
	p.undoA = crdt.NewUndoManager(crdt.UndoOptions{CaptureTimeout: -1}, p.a.Text("t"))
	p.undoB = crdt.NewUndoManager(crdt.UndoOptions{CaptureTimeout: -1}, p.b.Text("t"))
	return p
}

// apply applies a remote update to both.
func (p *splitPair) apply(u []byte) {
	p.t.Helper()
	if err := p.a.Apply(u); err != nil {
		p.t.Fatal(err)
	}
	if err := p.b.Apply(u); err != nil {
		p.t.Fatal(err)
	}
}

// do makes the same local edit on both and checks they made the same
// update; it returns it.
func (p *splitPair) do(what string, edit func(t *crdt.Text) ([]byte, error)) []byte {
	p.t.Helper()
	ua, errA := edit(p.a.Text("t"))
	ub, errB := edit(p.b.Text("t"))
	if errA != nil || errB != nil {
		p.t.Fatalf("%s: %v, %v", what, errA, errB)
	}
	p.same(what, ua, ub)
	return ua
}

// undo undoes (or redoes) on both and checks they made the same update.
func (p *splitPair) undo(what string, redo bool) []byte {
	p.t.Helper()
	f, g := p.undoA.Undo, p.undoB.Undo
	if redo {
		f, g = p.undoA.Redo, p.undoB.Redo
	}
	ua, _ := f()
	ub, _ := g()
	p.same(what, ua, ub)
	return ua
}

func (p *splitPair) same(what string, ua, ub []byte) {
	p.t.Helper()
	if ta, tb := p.a.Text("t").String(), p.b.Text("t").String(); ta != tb {
		p.t.Fatalf("%s: the texts differ: %q (items as made) and %q (items split)", what, ta, tb)
	}
	if !bytes.Equal(ua, ub) {
		p.t.Fatalf("%s: the updates differ:\n%x (items as made)\n%x (items split)", what, ua, ub)
	}
	if !bytes.Equal(p.a.Snapshot(), p.b.Snapshot()) {
		p.t.Fatalf("%s: the snapshots differ", what)
	}
}

// splitAll splits every item of b's text in front of each position of at.
func (p *splitPair) splitAll(at ...int) {
	for _, pos := range at {
		crdt.SplitAt(p.b.Text("t"), pos)
	}
}

// A remoteEdit inserts s at pos, or deletes n code points at pos.
type remoteEdit struct {
	pos int
	s   string
	n   int
}

var undoSplitTests = []struct {
	name  string
	text  string // typed by the local client in one insert
	split []int  // where b's items are split
	del   [2]int // the local deletion: position and length
	// edits another client makes concurrently with the deletion, on the
	// text before it
	remote []remoteEdit
	want   string // the text after the undo
}{
	{name: "deleted text split in two", text: "abcdef", split: []int{3}, del: [2]int{1, 4}, want: "abcdef"},
	{name: "deleted text split in many", text: "abcdefgh", split: []int{2, 3, 5, 6}, del: [2]int{1, 6}, want: "abcdefgh"},
	{name: "remote text typed into the split deleted text", text: "abcdef", split: []int{3}, del: [2]int{1, 4},
		remote: []remoteEdit{{pos: 3, s: "X"}}, want: "abcXdef"},
	{name: "remote text typed into the deleted text elsewhere than the split", text: "abcdef", split: []int{2}, del: [2]int{1, 4},
		remote: []remoteEdit{{pos: 4, s: "XY"}}, want: "abcdXYef"},
	{name: "remote text typed around the split deleted text", text: "abcdefgh", split: []int{4}, del: [2]int{2, 4},
		remote: []remoteEdit{{pos: 2, s: "<"}, {pos: 7, s: ">"}}, want: "ab<cdef>gh"},
	{name: "a remote deletion inside the split deleted text", text: "abcdef", split: []int{3}, del: [2]int{1, 4},
		remote: []remoteEdit{{pos: 2, n: 2}}, want: "abcdef"},
}

// TestUndoDeletionWhateverTheSplits checks that undoing a deletion, and
// redoing and undoing it again, makes the same updates on two replicas
// whose items are split at different places: where a replica splits its
// items is invisible in the document and must stay invisible in what its
// UndoManager makes. (The undo cases of testdata/undo.json check the same
// between Go and JavaScript, whose items split differently by themselves.)
func TestUndoDeletionWhateverTheSplits(t *testing.T) {
	for _, tt := range undoSplitTests {
		t.Run(tt.name, func(t *testing.T) {
			p := newSplitPair(t)
			base := p.do("insert", func(x *crdt.Text) ([]byte, error) { return x.Insert(0, tt.text) })
			p.undoA.Clear()
			p.undoB.Clear()
			other := crdt.NewDocWithClient(2)
			if err := other.Apply(base); err != nil {
				t.Fatal(err)
			}
			var remote [][]byte
			for _, r := range tt.remote {
				var u []byte
				var err error
				if r.s != "" {
					u, err = other.Text("t").Insert(r.pos, r.s)
				} else {
					u, err = other.Text("t").Delete(r.pos, r.n)
				}
				if err != nil {
					t.Fatal(err)
				}
				remote = append(remote, u)
			}
			p.splitAll(tt.split...)
			p.do("delete", func(x *crdt.Text) ([]byte, error) { return x.Delete(tt.del[0], tt.del[1]) })
			for _, u := range remote {
				p.apply(u)
			}
			p.undo("undo", false)
			if got := p.a.Text("t").String(); got != tt.want {
				t.Errorf("after the undo: %q, want %q", got, tt.want)
			}
			p.undo("redo", true)
			p.undo("undo again", false)
			if got := p.a.Text("t").String(); got != tt.want {
				t.Errorf("after the second undo: %q, want %q", got, tt.want)
			}
		})
	}
}

// TestUndoWhateverTheSplitsRandom makes random sessions of a local replica
// (kept twice, one with its items split at random places) and a remote
// one, with deletions, inserts, formats and undo and redo: both copies
// must make the same updates throughout. Half the sessions run in the
// deepest tree shape, where runs cross many leaves.
func TestUndoWhateverTheSplitsRandom(t *testing.T) {
	seed := testSeed(t)
	runs := 300
	if testing.Short() {
		runs = 60
	}
	for k := range runs {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			if k%2 == 1 {
				defer crdt.SetFanout(2, 3)()
			}
			undoSplitSession(t, rand.New(rand.NewPCG(seed, uint64(k))))
		})
	}
}

func undoSplitSession(t *testing.T, rng *rand.Rand) {
	p := newSplitPair(t)
	other := crdt.NewDocWithClient(2)
	var toOther [][]byte
	send := func(u []byte) {
		if u != nil {
			toOther = append(toOther, u)
		}
	}
	words := []string{"abc", "de", "fghij", "k", "lmno", "é€", "😀x", "\n"}
	send(p.do("insert", func(x *crdt.Text) ([]byte, error) { return x.Insert(0, "the quick brown fox") }))
	for step := range 40 {
		what := fmt.Sprintf("step %d", step)
		n := p.a.Text("t").Len()
		switch r := rng.IntN(12); {
		case r < 3:
			pos, s := rng.IntN(n+1), words[rng.IntN(len(words))]
			send(p.do(what+" insert", func(x *crdt.Text) ([]byte, error) { return x.Insert(pos, s) }))
		case r < 6 && n > 0:
			pos := rng.IntN(n)
			m := 1 + rng.IntN(min(n-pos, 8))
			send(p.do(what+" delete", func(x *crdt.Text) ([]byte, error) { return x.Delete(pos, m) }))
		case r < 7 && n > 0:
			pos := rng.IntN(n)
			m := 1 + rng.IntN(n-pos)
			var v any = true
			if rng.IntN(3) == 0 {
				v = nil
			}
			send(p.do(what+" format", func(x *crdt.Text) ([]byte, error) { return x.Format(pos, m, "bold", v) }))
		case r < 9:
			send(p.undo(what+" undo", rng.IntN(3) == 0))
		case r < 11:
			// The remote replica catches up, edits, and sends its edits.
			for _, u := range toOther {
				if err := other.Apply(u); err != nil {
					t.Fatal(err)
				}
			}
			toOther = nil
			o := other.Text("t")
			var u []byte
			var err error
			if m := o.Len(); m > 0 && rng.IntN(3) == 0 {
				pos := rng.IntN(m)
				u, err = o.Delete(pos, 1+rng.IntN(min(m-pos, 4)))
			} else {
				u, err = o.Insert(rng.IntN(m+1), words[rng.IntN(len(words))])
			}
			if err != nil {
				t.Fatal(err)
			}
			p.apply(u)
		default:
			// Split b's items somewhere: nothing visible changes.
			if n > 1 {
				p.splitAll(1 + rng.IntN(n-1))
			}
		}
	}
}
