package crdt

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// withBulk runs fn with the loader on for every update (bulkMin 0) or off.
func withBulk(on bool, fn func()) {
	oldOn, oldMin := bulkLoad, bulkMin
	bulkLoad, bulkMin = on, 0
	defer func() { bulkLoad, bulkMin = oldOn, oldMin }()
	fn()
}

// docDigest is everything of a document that the way it was loaded must
// not change.
func docDigest(tb testing.TB, d *Doc) string {
	tb.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "snapshot %x\nsv %v pending %v %d\n", d.Snapshot(), d.StateVector(), d.HasPending(), d.pendingBytes)
	for _, name := range d.TextNames() {
		t := d.Text(name)
		checkTree(tb, t)
		fmt.Fprintf(&b, "text %q %d %q %v\n", name, t.Len(), t.String(), t.ToDelta())
	}
	return b.String()
}

// applyBoth applies updates in turn to two documents of client id, base
// first, one loading through the loader and one through the tree only,
// and fails unless every Apply gives the same error and leaves the same
// document; it returns the two documents.
func applyBoth(tb testing.TB, id ClientID, updates [][]byte) (bulk, tree *Doc) {
	tb.Helper()
	bulk, tree = NewDocWithClient(id), NewDocWithClient(id)
	for i, u := range updates {
		var errB, errT error
		withBulk(true, func() { errB = bulk.Apply(u) })
		withBulk(false, func() { errT = tree.Apply(u) })
		if fmt.Sprint(errB) != fmt.Sprint(errT) {
			tb.Fatalf("update %d: loader says %v, tree says %v", i, errB, errT)
		}
		if a, b := docDigest(tb, bulk), docDigest(tb, tree); a != b {
			tb.Fatalf("update %d (%x): loader and tree differ:\n%s\n%s", i, u, a, b)
		}
	}
	return bulk, tree
}

// editBoth makes the same random edits on both documents and checks they
// stay equal: the tree the loader built must serve as well as the other.
func editBoth(tb testing.TB, rng *rand.Rand, a, b *Doc) {
	tb.Helper()
	for range 40 {
		for _, name := range a.TextNames() {
			ta, tx := a.Text(name), b.Text(name)
			pos := rng.IntN(ta.Len() + 1)
			if n := ta.Len(); n > 0 && rng.IntN(3) == 0 {
				pos = rng.IntN(n)
				k := 1 + rng.IntN(min(n-pos, 5))
				ua, _ := ta.Delete(pos, k)
				ub, _ := tx.Delete(pos, k)
				if !bytes.Equal(ua, ub) {
					tb.Fatal("a deletion after loading differs")
				}
				continue
			}
			s := treePieces[rng.IntN(len(treePieces))]
			ua, _ := ta.Insert(pos, s)
			ub, _ := tx.Insert(pos, s)
			if !bytes.Equal(ua, ub) {
				tb.Fatal("an insertion after loading differs")
			}
		}
	}
	if da, db := docDigest(tb, a), docDigest(tb, b); da != db {
		tb.Fatalf("after edits, loader and tree differ:\n%s\n%s", da, db)
	}
}

// randomReplicas lets n replicas edit concurrently (texts, rich text, a
// map), with updates delivered late and out of order, and returns every
// update made and the replicas.
func randomReplicas(tb testing.TB, rng *rand.Rand, n, steps int) ([][]byte, []*Doc) {
	tb.Helper()
	docs := make([]*Doc, n)
	for i := range docs {
		docs[i] = NewDocWithClient(ClientID(i*7 + 1 + rng.IntN(3)))
	}
	var all, queue [][]byte
	for range steps {
		d := docs[rng.IntN(n)]
		name := "t"
		if rng.IntN(5) == 0 {
			name = "u"
		}
		txt := d.Text(name)
		var u []byte
		var err error
		switch k := rng.IntN(20); {
		case k < 4 && txt.Len() > 0:
			pos := rng.IntN(txt.Len())
			u, err = txt.Delete(pos, 1+rng.IntN(min(txt.Len()-pos, 6)))
		case k == 4 && txt.Len() > 0:
			pos := rng.IntN(txt.Len())
			u, err = txt.Format(pos, 1+rng.IntN(min(txt.Len()-pos, 6)), "bold", true)
		case k == 5:
			u, err = txt.InsertEmbed(rng.IntN(txt.Len()+1), map[string]any{"img": "x"})
		case k == 6:
			u, err = d.Map("m").Set(strconv.Itoa(rng.IntN(3)), rng.IntN(100))
		default:
			pos := rng.IntN(txt.Len() + 1)
			switch rng.IntN(4) {
			case 0:
				pos = txt.Len() // typing on at the end
			case 1:
				pos = min(txt.Len(), 3) // a hot spot: concurrent runs between the same origins
			}
			u, err = txt.Insert(pos, treePieces[rng.IntN(len(treePieces))])
		}
		if err != nil {
			tb.Fatal(err)
		}
		if u == nil {
			continue
		}
		all = append(all, u)
		queue = append(queue, u)
		for len(queue) > 0 && rng.IntN(3) == 0 {
			i := rng.IntN(len(queue))
			for _, e := range docs {
				if rng.IntN(2) == 0 {
					if err := e.Apply(queue[i]); err != nil {
						tb.Fatal(err)
					}
				}
			}
			queue = slices.Delete(queue, i, i+1)
		}
	}
	return all, docs
}

// Snapshots of random documents, with several clients' concurrent edits,
// deletions, marks, embeds and a map, load by the loader into exactly the
// document the tree builds; so do snapshots applied to a document that
// already holds part of them, and the raw updates in shuffled order.
func TestBulkLoadMatchesTree(t *testing.T) {
	for _, ft := range fanoutTests {
		t.Run(fmt.Sprintf("leaf%d_kids%d", ft.leaf, ft.kids), func(t *testing.T) {
			withFanout(t, ft.leaf, ft.kids, func() {
				for _, seed := range huntSeeds(t, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11) {
					rng := rand.New(rand.NewPCG(seed, 77))
					all, docs := randomReplicas(t, rng, 1+int(seed%4), 150+rng.IntN(400))
					for _, d := range docs {
						a, b := applyBoth(t, 99, [][]byte{d.Snapshot()})
						editBoth(t, rng, a, b)
						// Another replica's snapshot on top, and a diff.
						other := docs[rng.IntN(len(docs))]
						applyBoth(t, 99, [][]byte{d.Snapshot(), other.Snapshot(), other.Diff(d.StateVector())})
					}
					// The updates one by one in a shuffled order: pending
					// records, partial overlaps, deletes of clocks not seen.
					shuffled := slices.Clone(all)
					rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
					applyBoth(t, 99, shuffled[:len(shuffled)/2])
					// The updates merged into one, as a server compacts them.
					applyBoth(t, 99, [][]byte{mergeAll(t, shuffled)})
				}
			})
		})
	}
}

// One author's long history, then (for even seeds) concurrent runs of
// other clients between the same origins as the author's last ones, and
// runs of the author that continue its own after another client's landed
// in between: the loader takes the author's block and must hand the first
// conflict to the tree.
func TestBulkLoadConflictAfterAuthor(t *testing.T) {
	for _, ft := range fanoutTests {
		withFanout(t, ft.leaf, ft.kids, func() {
			for _, seed := range huntSeeds(t, 0, 1, 2, 3, 4, 5, 6, 7) {
				rng := rand.New(rand.NewPCG(seed, 9))
				author := NewDocWithClient(ClientID(1 + seed%2*100))
				txt := author.Text("t")
				for range 300 {
					if _, err := txt.Insert(rng.IntN(txt.Len()+1), treePieces[rng.IntN(len(treePieces))]); err != nil {
						t.Fatal(err)
					}
				}
				others := []*Doc{NewDocWithClient(50), NewDocWithClient(200)}
				var updates [][]byte
				for _, o := range others {
					if err := o.Apply(author.Snapshot()); err != nil {
						t.Fatal(err)
					}
				}
				for range 30 * (1 - seed%2) {
					pos := min(txt.Len(), 5+rng.IntN(3))
					for _, d := range append([]*Doc{author}, others...) {
						u, err := d.Text("t").Insert(pos, treePieces[rng.IntN(len(treePieces))])
						if err != nil {
							t.Fatal(err)
						}
						updates = append(updates, u)
					}
				}
				all := append([]*Doc{author}, others...)
				sync := func(us ...[]byte) {
					for _, u := range us {
						for _, d := range all {
							if err := d.Apply(u); err != nil {
								t.Fatal(err)
							}
						}
					}
				}
				sync(updates...)
				// The author types on after a run of another client landed
				// between its last run and that run's right origin.
				for range 20 {
					pos := rng.IntN(txt.Len() + 1)
					ua, err := txt.Insert(pos, "a")
					if err != nil {
						t.Fatal(err)
					}
					sync(ua)
					uo, err := others[0].Text("t").Insert(pos+1, "Z")
					if err != nil {
						t.Fatal(err)
					}
					sync(uo)
					uz, err := txt.Insert(pos+1, "z")
					if err != nil {
						t.Fatal(err)
					}
					sync(uz)
					if rng.IntN(2) == 0 {
						// Z arrives as a tombstone: the author's a is
						// still the end of the loaded text, yet z may not
						// grow it, since their right origins differ.
						ud, err := txt.Delete(pos+2, 1)
						if err != nil {
							t.Fatal(err)
						}
						sync(ud)
					}
				}
				for _, d := range all {
					applyBoth(t, 99, [][]byte{d.Snapshot()})
				}
			}
		})
	}
}

// mergeAll returns the snapshot of a document that applied updates.
func mergeAll(tb testing.TB, updates [][]byte) []byte {
	d := NewDocWithClient(12345)
	for _, u := range updates {
		if err := d.Apply(u); err != nil {
			tb.Fatal(err)
		}
	}
	return d.Snapshot()
}

// Snapshots built by single-client typing at random positions, the shape
// of the large-document benchmark, and by typing runs, load the same way.
func TestBulkLoadTyping(t *testing.T) {
	for _, ft := range fanoutTests {
		withFanout(t, ft.leaf, ft.kids, func() {
			rng := rand.New(rand.NewPCG(uint64(ft.leaf), 5))
			d := NewDocWithClient(1)
			txt := d.Text("t")
			for range 3000 {
				s := treePieces[rng.IntN(len(treePieces))]
				if rng.IntN(3) == 0 {
					s = "a"
				}
				if _, err := txt.Insert(rng.IntN(txt.Len()+1), s); err != nil {
					t.Fatal(err)
				}
				if rng.IntN(10) == 0 && txt.Len() > 3 {
					if _, err := txt.Delete(rng.IntN(txt.Len()-3), 3); err != nil {
						t.Fatal(err)
					}
				}
			}
			a, b := applyBoth(t, 2, [][]byte{d.Snapshot()})
			editBoth(t, rng, a, b)
		})
	}
}

// Mutated snapshots, the fuzz corpora and the hostile corpus give the same
// verdicts and documents through the loader as through the tree.
func TestBulkLoadHostile(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	_, docs := randomReplicas(t, rng, 3, 300)
	base := docs[0].Snapshot()
	for range 3000 {
		m := bytes.Clone(base)
		for range 1 + rng.IntN(3) {
			m[rng.IntN(len(m))] = byte(rng.IntN(256))
		}
		applyBoth(t, 5, [][]byte{m})
		applyBoth(t, 5, [][]byte{docs[1].Snapshot(), m})
	}
	for _, target := range []string{"FuzzApplyUpdate", "FuzzApplyPopulated", "FuzzApplyRich", "FuzzBulkLoad"} {
		for _, data := range fuzzCorpus(t, target) {
			applyBoth(t, 1, [][]byte{data})
			applyBoth(t, 1, [][]byte{base, data})
		}
	}
	var corpus struct {
		Cases []struct {
			Client  uint64
			Base    string
			Updates []struct{ Update string }
		}
	}
	raw, err := os.ReadFile("testdata/hostile.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &corpus); err != nil {
		t.Fatal(err)
	}
	for _, c := range corpus.Cases {
		var updates [][]byte
		for _, u := range append([]struct{ Update string }{{c.Base}}, c.Updates...) {
			b, err := hex.DecodeString(u.Update)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > 0 {
				updates = append(updates, b)
			}
		}
		applyBoth(t, ClientID(c.Client), updates)
	}
}

// fuzzCorpus returns the byte inputs of a fuzz target's seed corpus.
func fuzzCorpus(tb testing.TB, target string) [][]byte {
	files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", target, "*"))
	var out [][]byte
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		for _, line := range strings.Split(string(raw), "\n") {
			if s, ok := strings.CutPrefix(line, "[]byte("); ok {
				v, err := strconv.Unquote(strings.TrimSuffix(s, ")"))
				if err != nil {
					tb.Fatalf("%s: %v", f, err)
				}
				out = append(out, []byte(v))
			}
		}
	}
	return out
}

// FuzzBulkLoad applies any bytes to an empty document and to one holding
// a snapshot, through the loader and through the tree: same verdict, same
// document.
func FuzzBulkLoad(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 2))
	_, docs := randomReplicas(f, rng, 2, 120)
	for _, d := range docs {
		f.Add(d.Snapshot())
	}
	base := docs[0].Snapshot()
	f.Fuzz(func(t *testing.T, data []byte) {
		applyBoth(t, 1, [][]byte{data})
		applyBoth(t, 1, [][]byte{base, data})
	})
}
