package crdt

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// checkTree fails t unless text's tree is consistent: parents and indexes
// point back, all leaves are at one depth and chained in order, every count
// of visible code points is the sum below it, no leaf or node is over full,
// and the cursor, when set, knows where its leaf starts.
func checkTree(tb rapid.TB, text *Text) {
	tb.Helper()
	var leaves []*leaf
	depth := -1
	var walk func(n *node, d int) int
	walk = func(n *node, d int) int {
		if len(n.leaves) > maxKids || len(n.kids) > maxKids || (n.leaves == nil) == (n.kids == nil) {
			tb.Fatalf("node with %d leaves and %d kids", len(n.leaves), len(n.kids))
		}
		if len(n.counts) != len(n.leaves)+len(n.kids) {
			tb.Fatalf("node with %d children keeps %d counts", len(n.leaves)+len(n.kids), len(n.counts))
		}
		sum := 0
		for j, k := range n.kids {
			if k.parent != n || k.pidx != j {
				tb.Fatalf("node %d: parent or index is wrong", j)
			}
			v := walk(k, d+1)
			if n.counts[j] != v {
				tb.Fatalf("node %d: its parent counts %d visible, it holds %d", j, n.counts[j], v)
			}
			sum += v
		}
		for j, lf := range n.leaves {
			if lf.parent != n || lf.pidx != j || lf.t != text {
				tb.Fatalf("leaf %d: parent, index or text is wrong", j)
			}
			if depth < 0 {
				depth = d
			} else if depth != d {
				tb.Fatalf("leaves at depths %d and %d", depth, d)
			}
			if len(lf.items) > maxLeaf {
				tb.Fatalf("leaf of %d items", len(lf.items))
			}
			if len(lf.vis) != len(lf.items) {
				tb.Fatalf("leaf of %d items keeps %d counts", len(lf.items), len(lf.vis))
			}
			v := 0
			for k, it := range lf.items {
				if it.leaf != lf {
					tb.Fatal("item points at another leaf")
				}
				if lf.vis[k] != it.visible() {
					tb.Fatalf("leaf counts %d visible for item %d, which shows %d", lf.vis[k], k, it.visible())
				}
				v += it.visible()
			}
			if v != lf.visible || v != n.counts[j] {
				tb.Fatalf("leaf counts %d visible and its node %d, holds %d", lf.visible, n.counts[j], v)
			}
			leaves = append(leaves, lf)
			sum += v
		}
		if sum != n.visible {
			tb.Fatalf("node counts %d visible, holds %d", n.visible, sum)
		}
		return sum
	}
	if text.root.parent != nil {
		tb.Fatal("root has a parent")
	}
	if total := walk(text.root, 0); total != text.length {
		tb.Fatalf("text length %d, tree holds %d", text.length, total)
	}
	if text.first != leaves[0] || text.last != leaves[len(leaves)-1] {
		tb.Fatal("first or last leaf is wrong")
	}
	for i, lf := range leaves {
		if i > 0 && (lf.prev != leaves[i-1] || leafKey(leaves[i-1]) >= leafKey(lf)) {
			tb.Fatalf("leaf %d: chain or key order is wrong", i)
		}
		if i+1 < len(leaves) && lf.next != leaves[i+1] {
			tb.Fatalf("leaf %d: chain is wrong", i)
		}
	}
	if c := text.cur; c != nil {
		start := 0
		for _, lf := range leaves {
			if lf == c {
				break
			}
			start += lf.visible
		}
		if start != text.curPos {
			tb.Fatalf("cursor says its leaf starts at %d, it starts at %d", text.curPos, start)
		}
	}
}

// withFanout runs fn with leaves and nodes of at most leafMax items and
// kidsMax children.
func withFanout(tb testing.TB, leafMax, kidsMax int, fn func()) {
	defer SetFanout(leafMax, kidsMax)()
	fn()
}

var fanoutTests = []struct{ leaf, kids int }{
	{64, 64}, // as shipped
	{2, 3},   // a split at every third item, every fourth child: the deepest trees
	{3, 4},
	{8, 3},
}

var treePieces = []string{"a", "bc", "def", "😀", "é", "ghijklmnop"}

// Random local and remote edits, with trees deep enough for every kind of
// split, keep the tree consistent and the text equal to a model, and every
// replica converges to the same snapshot, which loads into the same text.
func TestTreeRandomEdits(t *testing.T) {
	for _, ft := range fanoutTests {
		t.Run(fmt.Sprintf("leaf%d_kids%d", ft.leaf, ft.kids), func(t *testing.T) {
			withFanout(t, ft.leaf, ft.kids, func() {
				for _, seed := range huntSeeds(t, uint64(ft.leaf*100+ft.kids)) {
					treeRandomEdits(t, seed)
				}
			})
		})
	}
}

// huntSeeds returns the seeds of a seeded random test: those given, or,
// when FLOWSTATE_HUNT_SEEDS=N is set, N fresh ones (each logged), for
// long hunts.
func huntSeeds(tb testing.TB, fixed ...uint64) []uint64 {
	tb.Helper()
	s := os.Getenv("FLOWSTATE_HUNT_SEEDS")
	if s == "" {
		return fixed
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		tb.Fatalf("bad FLOWSTATE_HUNT_SEEDS %q", s)
	}
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = rand.Uint64()
	}
	tb.Logf("seeds %v", seeds)
	return seeds
}

func treeRandomEdits(t *testing.T, seed uint64) {
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	docs := []*Doc{NewDocWithClient(1), NewDocWithClient(2), NewDocWithClient(3)}
	var model []rune // of docs[0]
	var queue [][]byte
	steps := 3000
	if testing.Short() {
		steps = 600
	}
	for step := range steps {
		k := rng.IntN(len(docs))
		d := docs[k]
		txt := d.Text("t")
		var u []byte
		var err error
		if n := txt.Len(); n > 0 && rng.IntN(4) == 0 {
			pos := rng.IntN(n)
			del := 1 + rng.IntN(min(n-pos, 8))
			u, err = txt.Delete(pos, del)
			if k == 0 {
				model = append(model[:pos], model[pos+del:]...)
			}
		} else {
			pos := rng.IntN(n + 1)
			if rng.IntN(3) == 0 && n > 0 {
				pos = n // typing at the end
			}
			s := treePieces[rng.IntN(len(treePieces))]
			u, err = txt.Insert(pos, s)
			if k == 0 {
				model = append(model[:pos], append([]rune(s), model[pos:]...)...)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		queue = append(queue, u)
		// Deliver some queued updates to docs[0] in random order, the rest
		// later: docs[0] integrates remote runs between its own.
		for len(queue) > 0 && rng.IntN(3) == 0 {
			i := rng.IntN(len(queue))
			if err := docs[0].Apply(queue[i]); err != nil {
				t.Fatal(err)
			}
			queue = append(queue[:i], queue[i+1:]...)
			model = []rune(docs[0].Text("t").String())
		}
		checkTree(t, docs[0].Text("t"))
		if got := docs[0].Text("t").String(); got != string(model) {
			t.Fatalf("step %d: text %q, model %q", step, got, string(model))
		}
	}
	for _, d := range docs {
		for _, e := range docs {
			if err := e.Apply(d.Snapshot()); err != nil {
				t.Fatal(err)
			}
		}
	}
	snap := docs[0].Snapshot()
	for i, d := range docs {
		checkTree(t, d.Text("t"))
		if !bytes.Equal(d.Snapshot(), snap) {
			t.Fatalf("replica %d differs", i)
		}
	}
	l := NewDoc()
	if err := l.Apply(snap); err != nil {
		t.Fatal(err)
	}
	checkTree(t, l.Text("t"))
	if l.Text("t").String() != docs[0].Text("t").String() {
		t.Fatal("the loaded snapshot reads differently")
	}
}

// The conflict scan's passing over whole subtrees, at every depth, places
// every run where the plain scan does: concurrent runs between far-apart
// and near origins give the same snapshots with and without it.
func TestTreeScanSkips(t *testing.T) {
	for _, ft := range fanoutTests {
		t.Run(fmt.Sprintf("leaf%d_kids%d", ft.leaf, ft.kids), func(t *testing.T) {
			withFanout(t, ft.leaf, ft.kids, func() {
				rng := rand.New(rand.NewPCG(uint64(ft.leaf), uint64(ft.kids)))
				base := NewDocWithClient(1)
				for range 2000 {
					if _, err := base.Text("t").Insert(rng.IntN(base.Text("t").Len()+1), "x"); err != nil {
						t.Fatal(err)
					}
				}
				snap := base.Snapshot()
				// Replicas that saw the base make edits concurrently.
				var updates [][]byte
				for c := ClientID(10); c < 40; c++ {
					r := NewDocWithClient(c)
					if err := r.Apply(snap); err != nil {
						t.Fatal(err)
					}
					for range 5 {
						u, err := r.Text("t").Insert(rng.IntN(r.Text("t").Len()+1), strings.Repeat("y", 1+rng.IntN(3)))
						if err != nil {
							t.Fatal(err)
						}
						updates = append(updates, u)
					}
				}
				var got [2][]byte
				for k, skips := range []bool{true, false} {
					scanSkips = skips
					d := NewDocWithClient(2)
					if err := d.Apply(snap); err != nil {
						t.Fatal(err)
					}
					for _, u := range updates {
						if err := d.Apply(u); err != nil {
							t.Fatal(err)
						}
					}
					checkTree(t, d.Text("t"))
					got[k] = d.Snapshot()
				}
				scanSkips = true
				if !bytes.Equal(got[0], got[1]) {
					t.Fatal("skipping subtrees changed where runs went")
				}
			})
		})
	}
}

// A Text through which far more text is typed and deleted than it holds
// keeps an arena of about what it holds, reads right, and keeps growing the
// run typed last after a compaction.
func TestTextArenaFollowsLiveText(t *testing.T) {
	d := NewDocWithClient(1)
	txt := d.Text("t")
	rng := rand.New(rand.NewPCG(3, 3))
	var model []rune
	line := strings.Repeat("é", 300) + "\n"
	for range 2000 {
		pos := rng.IntN(len(model) + 1)
		if _, err := txt.Insert(pos, line); err != nil {
			t.Fatal(err)
		}
		model = append(model[:pos], append([]rune(line), model[pos:]...)...)
		del := rng.IntN(len(model) - 300)
		if _, err := txt.Delete(del, 301); err != nil {
			t.Fatal(err)
		}
		model = append(model[:del], model[del+301:]...)
		if live := len(txt.String()); len(txt.arena) > 2*live+compactMin {
			t.Fatalf("arena of %d bytes for %d bytes of text", len(txt.arena), live)
		}
	}
	if txt.String() != string(model) {
		t.Fatal("text differs from the model after compactions")
	}
	// Type at the end one code point at a time, across a compaction.
	end := txt.Len()
	for i := range 200 {
		if _, err := txt.Insert(end+i, "z"); err != nil {
			t.Fatal(err)
		}
		if i == 100 {
			txt.compact()
		}
	}
	if it := txt.prev(txt.last, len(txt.last.items)); it.length != 200 {
		t.Fatalf("the run typed at the end is in pieces: last one holds %d code points", it.length)
	}
	checkTree(t, txt)
	l := NewDoc()
	if err := l.Apply(d.Snapshot()); err != nil {
		t.Fatal(err)
	}
	if l.Text("t").String() != txt.String() {
		t.Fatal("snapshot after compactions reads differently")
	}
}
