package crdt

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// checkHeads fails unless every client's index of heads is consistent:
// each entry's clock is its item's, the heads ascend from clock 0, and
// each chain covers exactly the clocks up to the next head (the last one
// up to the client's next clock).
func checkHeads(tb rapid.TB, d *Doc) {
	tb.Helper()
	for id, c := range d.clients {
		if len(c.heads) == 0 {
			if c.next != 0 {
				tb.Fatalf("client %d: clocks up to %d and no heads", id, c.next)
			}
			continue
		}
		clock := uint64(0)
		for i, h := range c.heads {
			if h.it == nil || h.clock != h.it.clock || h.clock != clock {
				tb.Fatalf("client %d head %d: entry at %d, expected %d", id, i, h.clock, clock)
			}
			for it := h.it; it != nil; it = it.next {
				if it.clock != clock || it.c != c {
					tb.Fatalf("client %d head %d: chain breaks at clock %d", id, i, clock)
				}
				clock += it.length
			}
		}
		if clock != c.next {
			tb.Fatalf("client %d: heads cover clocks up to %d, next is %d", id, clock, c.next)
		}
		// A hint find would take must lie inside its head's chain.
		last := len(c.heads) - 1
		for _, h := range []headHint{c.hint, c.hint2} {
			if h.lo < h.hi && h.i < last && (c.heads[h.i].clock > h.lo || c.heads[h.i+1].clock < h.hi) {
				tb.Fatalf("client %d: hint of head %d says [%d, %d), the head holds [%d, %d)",
					id, h.i, h.lo, h.hi, c.heads[h.i].clock, c.heads[h.i+1].clock)
			}
		}
	}
}

// A hint of a head that merged away must not point at the head that
// takes its index. Client 1<<32+5 types "a", a code point it deletes and
// "👍🏽" (clocks 0–3), then "aa" between clocks 1 and 2 (4–5), "a" between
// 4 and 5 (6) and "aa" between 1 and 4 (7–8); a fresh replica gets these
// out of order, with deletes of clocks 0 and 2. Looking up the origins of
// 0–3 leaves a hint on the head of clock 1; the deleted heads of clocks 2
// and 1 then merge into the tombstone of clock 0, and the heads of clocks
// 4 and 6 take their indexes. The stale hint sent the lookup of clock 1,
// the left origin of 7–8, to the head of clock 4: the split that followed
// gave an item a length of 2⁶⁴−2, and String panicked (found by
// TestConvergence).
func TestHintOfMergedHead(t *testing.T) {
	updates := []string{
		"95019091cf0000000100000005919200c402020190",                                               // delete 2
		"9501919200a17491cf0000000100000005919200c402010191950000c403078103a961f09f918df09f8fbd90", // 0–3, delete 1
		"95019092cf0000000100000005cf001fffffffffffff929200c404000101019201c4020a0190",             // delete 0 and 2, and a clock not yet seen
		"9501919200a17491cf00000001000000059091950007c40407060603a2616190",                         // 7–8
		"9501919200a17491cf00000001000000059091950006c403070002a16190",                             // 6
		"9501919200a17491cf00000001000000059091950004c403070403a2616190",                           // 4–5
	}
	d := NewDocWithClient(1000)
	for i, h := range updates {
		u, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Apply(u); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		checkHeads(t, d)
		checkTree(t, d.Text("t"))
	}
	if got, want := d.Text("t").String(), "aaaaa🏽"; got != want {
		t.Fatalf("text %q, want %q", got, want)
	}
}

// docItems returns every item of d's clients, in clock order per client.
func docItems(d *Doc) []*item {
	var items []*item
	for _, c := range d.sortedClients() {
		for _, h := range c.heads {
			for it := h.it; it != nil; it = it.next {
				items = append(items, it)
			}
		}
	}
	return items
}

// findNear gives, for any clock and any item tried first, the item the
// client's index gives: on random sessions of several clients (deletes,
// marks, embeds, a map, late delivery), for every clock of every client,
// with no item tried first, with the item holding the clock, the one
// before it in the text (the usual left origin), the one after it, a
// piece of the same chain, and a random one.
func TestFindNear(t *testing.T) {
	for _, ft := range fanoutTests {
		t.Run(fmt.Sprintf("leaf%d_kids%d", ft.leaf, ft.kids), func(t *testing.T) {
			withFanout(t, ft.leaf, ft.kids, func() {
				for _, seed := range huntSeeds(t, 0, 1, 2, 3, 4, 5) {
					rng := rand.New(rand.NewPCG(seed, 41))
					_, docs := randomReplicas(t, rng, 3, 300)
					for _, d := range docs {
						checkHeads(t, d)
						checkFindNear(t, rng, d)
					}
				}
			})
		})
	}
}

func checkFindNear(t *testing.T, rng *rand.Rand, d *Doc) {
	t.Helper()
	items := docItems(d)
	if len(items) == 0 {
		return
	}
	tried := 0
	for _, it := range items {
		var before, after *item
		if it.kind == kindText {
			lf, i := it.leaf, indexIn(it)
			before = d.texts[lf.t.name].prev(lf, i)
			_, _, after = lf.t.nextFrom(lf, i+1)
		}
		for clock := it.clock; clock < it.clock+it.length; clock++ {
			r := ref{it.c, clock}
			for _, near := range []*item{nil, it, before, after, it.next, items[rng.IntN(len(items))]} {
				if got := findNear(near, r); got != it {
					t.Fatalf("findNear(%v, %d:%d) gives the item at %d:%d, the index %d:%d",
						near != nil, it.c.id, clock, got.c.id, got.clock, it.c.id, it.clock)
				}
				tried++
			}
			if got := it.c.find(clock); got != it {
				t.Fatalf("find(%d:%d) gives the item at %d", it.c.id, clock, got.clock)
			}
			other := items[rng.IntN(len(items))]
			o := ref{other.c, other.clock + uint64(rng.IntN(int(other.length)))}
			for _, pair := range [][2]ref{{r, o}, {o, r}, {r, r}} {
				checkFindPair(t, pair[0], pair[1])
			}
		}
	}
	if tried == 0 {
		t.Fatal("no lookups tried")
	}
}

// checkFindPair checks that findPair(a, b) gives the items holding a and b.
func checkFindPair(t *testing.T, a, b ref) {
	t.Helper()
	holds := func(it *item, r ref) bool {
		return it.c == r.c && it.clock <= r.clock && r.clock < it.clock+it.length
	}
	if ia, ib := findPair(a, b); !holds(ia, a) || !holds(ib, b) {
		t.Fatalf("findPair(%d:%d, %d:%d) gives the items at %d:%d and %d:%d",
			a.c.id, a.clock, b.c.id, b.clock, ia.c.id, ia.clock, ib.c.id, ib.clock)
	}
}

// findPair finds both items when the first lookup cuts a long chain
// (promote), which moves the heads the second lookup had found, and when
// both lie on one chain.
func TestFindPairLongChain(t *testing.T) {
	for _, cut := range []bool{false, true} {
		d := NewDocWithClient(1)
		txt := d.Text("t")
		if _, err := txt.Insert(0, strings.Repeat("a", 200)); err != nil {
			t.Fatal(err)
		}
		other := NewDocWithClient(2)
		if err := other.Apply(d.Snapshot()); err != nil {
			t.Fatal(err)
		}
		// Client 2 types between every two code points of the run, so
		// that client 1's run is one head with a chain of 200 pieces.
		for i := 199; i > 0; i-- {
			u, err := other.Text("t").Insert(i, "b")
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Apply(u); err != nil {
				t.Fatal(err)
			}
		}
		c1, c2 := d.clients[1], d.clients[2]
		if cut {
			c1.find(150) // cuts the chain before the pairs below
		}
		for _, pair := range [][2]ref{
			{{c1, 180}, {c1, 190}}, // one chain, the first deep in it
			{{c1, 190}, {c1, 5}},
			{{c1, 120}, {c2, 50}},
			{{c2, 10}, {c1, 199}},
			{{c1, 60}, {c1, 60}},
		} {
			checkFindPair(t, pair[0], pair[1])
		}
		checkHeads(t, d)
	}
}

// Releasing a decoded update leaves no records behind, so that the next
// decode, however small its update, does not clear a large one's again.
func TestDecodedReleaseEmpties(t *testing.T) {
	d := NewDocWithClient(1)
	txt := d.Text("t")
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		if _, err := txt.Insert(rng.IntN(txt.Len()+1), "ab"); err != nil {
			t.Fatal(err)
		}
	}
	u := new(decoded)
	if err := u.decode(d.Snapshot()); err != nil {
		t.Fatal(err)
	}
	if len(u.recs) < 400 {
		t.Fatalf("the snapshot decoded into %d records", len(u.recs))
	}
	u.release()
	if len(u.recs) != 0 {
		t.Fatalf("released with %d records", len(u.recs))
	}
}

// A snapshot of a document of one Text, whose encoder takes every text
// item to be that Text's without reading its leaf, is the one the encoder
// writes reading every leaf; documents of two Texts and a Map (where
// encoder.only stays unset) are checked the same way.
func TestSnapshotOneTextShortcut(t *testing.T) {
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 43))
		_, docs := randomReplicas(t, rng, 3, 200)
		one := NewDocWithClient(99)
		txt := one.Text("t")
		for range 300 {
			if n := txt.Len(); n > 0 && rng.IntN(4) == 0 {
				pos := rng.IntN(n)
				if _, err := txt.Delete(pos, 1+rng.IntN(min(n-pos, 3))); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if _, err := txt.Insert(rng.IntN(txt.Len()+1), treePieces[rng.IntN(len(treePieces))]); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := txt.Format(0, txt.Len()/2, "bold", true); err != nil {
			t.Fatal(err)
		}
		for _, d := range append(docs, one) {
			var e encoder
			clients := d.sortedClients()
			for _, c := range clients {
				if c.next > 0 {
					e.addBlock(c, 0)
				}
			}
			for _, c := range clients {
				e.addDeletes(c, d.deletedRanges(c))
			}
			want := e.finish()
			if got := d.Snapshot(); !bytes.Equal(got, want) {
				t.Fatalf("seed %d: %d texts: the snapshot differs from the one read through leaves", seed, len(d.texts))
			}
			if d.enc.only != nil {
				t.Fatal("the encoder keeps the document's Text after a snapshot")
			}
		}
	}
}
