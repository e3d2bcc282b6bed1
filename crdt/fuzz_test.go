package crdt_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/flowstate/flowstate/crdt"
)

// populatedEdits builds two replicas (clients 1 and 2) that edit, delete and
// sync with a fixed seed until the text holds 1200 code points (a few KB),
// and returns client 1's doc plus every update made, in order.
func populatedEdits() (*crdt.Doc, [][]byte) {
	rng := rand.New(rand.NewPCG(1, 2)) // fixed: fuzz baselines must be stable
	pieces := []string{"lorem ", "ipsum", "😀", "👍🏽", "𝄞", "e\u0301", "日本語", "\n", "ß"}
	docs := []*crdt.Doc{crdt.NewDocWithClient(1), crdt.NewDocWithClient(2)}
	var all [][]byte
	var unsent [2][][]byte
	for i := 0; docs[0].Text("t").Len() < 1200; i++ {
		w := rng.IntN(2)
		txt := docs[w].Text("t")
		var u []byte
		var err error
		switch k := rng.IntN(10); {
		case k < 6 || txt.Len() < 10:
			u, err = txt.Insert(rng.IntN(txt.Len()+1), pieces[rng.IntN(len(pieces))])
		case k < 9:
			u, err = txt.Delete(rng.IntN(txt.Len()-5), 1+rng.IntN(5))
		default:
			u, err = docs[w].Map("m").Set(fmt.Sprint("k", rng.IntN(4)), i)
		}
		if err != nil {
			panic(err)
		}
		all = append(all, u)
		unsent[w] = append(unsent[w], u)
		if rng.IntN(8) == 0 { // sync both ways now and then
			for w := range 2 {
				for _, u := range unsent[w] {
					if err := docs[1-w].Apply(u); err != nil {
						panic(err)
					}
				}
				unsent[w] = nil
			}
		}
	}
	for _, u := range unsent[1] {
		if err := docs[0].Apply(u); err != nil {
			panic(err)
		}
	}
	return docs[0], all
}

var populated = sync.OnceValues(func() ([]byte, [][]byte) {
	d, all := populatedEdits()
	return d.Snapshot(), all
})

// fuzzSeeds returns named seed inputs for each fuzz target, all produced by
// the API itself.
func fuzzSeeds() map[string]map[string][]byte {
	apply := map[string][]byte{}
	d := crdt.NewDocWithClient(1)
	t := d.Text("t")
	add := func(name string, u []byte, err error) {
		if err != nil {
			panic(err)
		}
		apply[name] = u
	}
	apply["empty-snapshot"] = crdt.NewDocWithClient(9).Snapshot()
	u, err := t.Insert(0, "hello 😀👍🏽 𝄞 e\u0301 日本語")
	add("insert", u, err)
	u, err = t.Delete(2, 5)
	add("delete", u, err)
	u, err = d.Map("m").Set("k", "v")
	add("map-set-string", u, err)
	u, err = d.Map("m").Set("n", 12345)
	add("map-set-int", u, err)
	u, err = d.Map("m").Delete("k")
	add("map-delete", u, err)
	u, err = d.Transact(func() error {
		if _, err := t.Insert(1, "txn"); err != nil {
			return err
		}
		_, err := t.Delete(0, 1)
		return err
	})
	add("transact", u, err)
	apply["snapshot"] = d.Snapshot()
	apply["state-vector"] = d.StateVector().Encode()

	snap, all := populated()
	apply["populated-snapshot"] = snap
	apply["populated-update"] = all[len(all)/2]

	// Updates that build on the populated doc: a third client editing it,
	// and client 1 continuing where it left off.
	pop := populatedOn(4)
	pt := pop.Text("t")
	onPop := map[string][]byte{}
	for _, e := range []struct {
		name string
		edit
	}{{"pop-insert-mid", ins(600, "中😀x")}, {"pop-delete-start", del(0, 3)}, {"pop-delete-span", del(10, 500)}} {
		u, err := e.do(pt)
		if err != nil {
			panic(err)
		}
		onPop[e.name] = u
	}
	own := populatedOn(1)
	u, err = own.Transact(func() error {
		if _, err := own.Text("t").Delete(5, 50); err != nil {
			return err
		}
		if _, err := own.Map("m").Set("k0", "x"); err != nil {
			return err
		}
		_, err := own.Text("t").Insert(7, "𝄞")
		return err
	})
	if err != nil {
		panic(err)
	}
	onPop["pop-client1-continues"] = u
	for k, v := range apply {
		onPop[k] = v
	}

	sv := map[string][]byte{
		"empty":     crdt.StateVector{}.Encode(),
		"one":       crdt.StateVector{1: 10}.Encode(),
		"max":       crdt.StateVector{crdt.MaxClientID: 1 << 53, 0: 1, 7: 3}.Encode(),
		"populated": pop.StateVector().Encode(),
	}
	return map[string]map[string][]byte{
		"FuzzApplyUpdate":       apply,
		"FuzzApplyPopulated":    onPop,
		"FuzzDecodeStateVector": sv,
	}
}

// populatedOn loads the populated snapshot into a doc with the given client.
// For client 1 or 2 it continues that client's history (ResumeClientID), as
// the replica itself would.
func populatedOn(id crdt.ClientID) *crdt.Doc {
	snap, _ := populated()
	d := crdt.NewDocWithClient(id)
	if err := d.Apply(snap); err != nil {
		panic(err)
	}
	if err := d.ResumeClientID(id); err != nil {
		panic(err)
	}
	return d
}

func addSeeds(f *testing.F, target string) {
	seeds := fuzzSeeds()[target]
	names := make([]string, 0, len(seeds))
	for n := range seeds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f.Add(seeds[n])
	}
}

// TestWriteFuzzCorpus regenerates testdata/fuzz/* from fuzzSeeds when
// FLOWSTATE_WRITE_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("FLOWSTATE_WRITE_CORPUS") != "1" {
		t.Skip("set FLOWSTATE_WRITE_CORPUS=1 to rewrite testdata/fuzz seed files")
	}
	for target, seeds := range fuzzSeeds() {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range seeds {
			data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// checkLoads checks that d's snapshot loads into a fresh doc with equal text,
// map and state vector.
func checkLoads(t *testing.T, d *crdt.Doc) {
	t.Helper()
	txt := d.Text("t")
	if n := len([]rune(txt.String())); n != txt.Len() {
		t.Fatalf("Len()=%d but text has %d code points", txt.Len(), n)
	}
	want := stateOf(t, d)
	sameState(t, "snapshot reload", want, stateOf(t, loadSnapshot(t, d.Snapshot())))
}

// checkApplyFresh applies data to a fresh doc: an error must leave it
// unchanged, success must leave a doc whose snapshot reloads equal.
func checkApplyFresh(t *testing.T, data []byte) {
	t.Helper()
	d := crdt.NewDocWithClient(5)
	snap, sv := d.Snapshot(), d.StateVector()
	if err := d.Apply(data); err != nil {
		if !bytes.Equal(d.Snapshot(), snap) || !d.StateVector().Equal(sv) {
			t.Fatalf("failed Apply (%v) changed the doc", err)
		}
		return
	}
	checkLoads(t, d)
}

// populatedBefore is what populatedOn(3) holds before anything is applied
// to it: taken once, as every check starts from the same document.
var populatedBefore = sync.OnceValues(func() (string, []byte) {
	d := populatedOn(3)
	return d.Text("t").String(), d.Snapshot()
})

// checkApplyPopulated is checkApplyFresh on the populated doc.
func checkApplyPopulated(t *testing.T, data []byte) {
	t.Helper()
	text, snap := populatedBefore()
	d := populatedOn(3)
	sv := d.StateVector()
	if err := d.Apply(data); err != nil {
		if d.Text("t").String() != text || !d.StateVector().Equal(sv) || !bytes.Equal(d.Snapshot(), snap) {
			t.Fatalf("failed Apply (%v) changed the doc", err)
		}
		return
	}
	checkLoads(t, d)
}

func FuzzApplyUpdate(f *testing.F) {
	addSeeds(f, "FuzzApplyUpdate")
	f.Fuzz(checkApplyFresh)
}

func FuzzApplyPopulated(f *testing.F) {
	addSeeds(f, "FuzzApplyPopulated")
	f.Fuzz(checkApplyPopulated)
}

// TestCorruptedUpdates runs the fuzz checks on systematic corruptions of
// the seed updates: single-byte changes and truncations.
func TestCorruptedUpdates(t *testing.T) {
	seeds := fuzzSeeds()
	for _, target := range []string{"FuzzApplyUpdate", "FuzzApplyPopulated"} {
		check := checkApplyFresh
		if target == "FuzzApplyPopulated" {
			check = checkApplyPopulated
		}
		names := make([]string, 0, len(seeds[target]))
		for n := range seeds[target] {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, name := range names {
			seed := seeds[target][name]
			if target == "FuzzApplyPopulated" && seeds["FuzzApplyUpdate"][name] != nil {
				continue // already covered on a fresh doc; keep the run short
			}
			t.Run(target+"/"+name, func(t *testing.T) {
				// About 10 checks per position; cap the positions per seed.
				stride := 1 + len(seed)/opSize(5, 80)
				if target == "FuzzApplyUpdate" && len(seed) < 256 {
					stride = 1
				}
				for i := 0; i < len(seed); i += stride {
					b := seed[i]
					for _, v := range []byte{b ^ 0x01, b ^ 0x80, b + 1, b - 1, 0x00, 0xff, 0xc0, 0x7f, 0x93} {
						if v == b {
							continue
						}
						mut := bytes.Clone(seed)
						mut[i] = v
						check(t, mut)
					}
					check(t, seed[:i])
				}
			})
		}
	}
}

func FuzzDecodeStateVector(f *testing.F) {
	addSeeds(f, "FuzzDecodeStateVector")
	f.Fuzz(func(t *testing.T, data []byte) {
		sv, err := crdt.DecodeStateVector(data)
		if err != nil {
			return
		}
		enc := sv.Encode()
		again, err := crdt.DecodeStateVector(enc)
		if err != nil {
			t.Fatalf("re-decoding Encode() of %v: %v", sv, err)
		}
		if !again.Equal(sv) {
			t.Fatalf("round trip %v -> %v", sv, again)
		}
		if !bytes.Equal(again.Encode(), enc) {
			t.Fatalf("Encode not stable: %x vs %x", enc, again.Encode())
		}
	})
}

// TestForeignOrigin feeds updates whose origins name a code point of another
// text or a map entry, as produced by two docs that (wrongly) share a client
// ID. Apply must not panic; it may reject the update, leaving the doc
// unchanged, or accept it and stay consistent.
func TestForeignOrigin(t *testing.T) {
	tests := map[string]struct {
		victim, attacker func(d *crdt.Doc) error
	}{
		"origin in another text": {
			func(d *crdt.Doc) error { _, err := d.Text("a").Insert(0, "xyz"); return err },
			func(d *crdt.Doc) error { _, err := d.Text("b").Insert(0, "xyz"); return err },
		},
		"origin is a map entry": {
			func(d *crdt.Doc) error { _, err := d.Map("m").Set("k", 1); return err },
			func(d *crdt.Doc) error { _, err := d.Text("b").Insert(0, "xyz"); return err },
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			victim, attacker := crdt.NewDocWithClient(1), crdt.NewDocWithClient(1)
			if err := tc.victim(victim); err != nil {
				t.Fatal(err)
			}
			if err := tc.attacker(attacker); err != nil {
				t.Fatal(err)
			}
			u, err := attacker.Text("b").Insert(1, "!")
			if err != nil {
				t.Fatal(err)
			}
			texts := func(d *crdt.Doc) [2]string { return [2]string{d.Text("a").String(), d.Text("b").String()} }
			before, sv, snap := texts(victim), victim.StateVector(), victim.Snapshot()
			if err := victim.Apply(u); err != nil {
				if texts(victim) != before || !victim.StateVector().Equal(sv) || !bytes.Equal(victim.Snapshot(), snap) {
					t.Fatalf("rejected update (%v) changed the doc", err)
				}
				return
			}
			for _, n := range []string{"a", "b"} {
				txt := victim.Text(n)
				if txt.Len() != len([]rune(txt.String())) {
					t.Fatalf("text %s: Len()=%d for %q", n, txt.Len(), txt.String())
				}
			}
			if got := texts(loadSnapshot(t, victim.Snapshot())); got != texts(victim) {
				t.Fatalf("snapshot reloads as %q, doc has %q", got, texts(victim))
			}
		})
	}
}
