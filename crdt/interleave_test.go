package crdt_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/flowstate/flowstate/crdt"
)

// typeWord types word into txt at pos one code point per edit, forwards
// (appending) or backwards (always inserting at pos), returning the updates.
func typeWord(t *testing.T, txt *crdt.Text, pos int, word string, backwards bool) [][]byte {
	t.Helper()
	rs := []rune(word)
	var us [][]byte
	for i := range rs {
		var u []byte
		var err error
		if backwards {
			u, err = txt.Insert(pos, string(rs[len(rs)-1-i]))
		} else {
			u, err = txt.Insert(pos+i, string(rs[i]))
		}
		if err != nil {
			t.Fatal(err)
		}
		us = append(us, u)
	}
	return us
}

// checkNoInterleave fails unless got is base[:pos] + a permutation of words
// (each contiguous) + base[pos:].
func checkNoInterleave(t *testing.T, got, base string, pos int, words []string) {
	t.Helper()
	br := []rune(base)
	pre, post := string(br[:pos]), string(br[pos:])
	if !strings.HasPrefix(got, pre) || !strings.HasSuffix(got, post) || len(got) < len(pre)+len(post) {
		t.Fatalf("result %q does not keep %q ... %q around the insertion point", got, pre, post)
	}
	mid := got[len(pre) : len(got)-len(post)]
	for _, p := range permutations(len(words)) {
		var b strings.Builder
		for _, i := range p {
			b.WriteString(words[i])
		}
		if b.String() == mid {
			return
		}
	}
	t.Fatalf("concurrently typed words %q interleave: inserted region is %q (full text %q)", words, mid, got)
}

func TestNoInterleaving(t *testing.T) {
	words := []string{"hello", "wörld😀", "日本語", "𝄞e\u0301👍🏽"}
	type scenario struct {
		name string
		base string
		pos  int
		dirs string // per replica: F forwards, B backwards
	}
	var scenarios []scenario
	for n := 2; n <= 4; n++ {
		for _, dirs := range []string{"FFFF", "BBBB", "FBFB", "BFBF"} {
			scenarios = append(scenarios, scenario{fmt.Sprintf("empty/%d/%s", n, dirs[:n]), "", 0, dirs[:n]})
		}
		for _, pos := range []int{0, 4, 11} {
			scenarios = append(scenarios, scenario{fmt.Sprintf("inside@%d/%d/FBBF", pos, n), "The quick 🦊 jumps", pos, "FBBF"[:n]})
		}
	}
	rng := rand.New(rand.NewPCG(testSeed(t), 2))
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			n := len(sc.dirs)
			ws := words[:n]
			// Shared starting text, made by a separate client and synced.
			origin := crdt.NewDocWithClient(500)
			if _, err := origin.Text("t").Insert(0, sc.base); err != nil {
				t.Fatal(err)
			}
			var base []byte
			if sc.base != "" {
				base = origin.Snapshot()
			}
			fresh := func() *crdt.Doc {
				d := crdt.NewDocWithClient(600)
				mustApply(t, d, base)
				return d
			}

			reps := make([]*crdt.Doc, n)
			updates := make([][][]byte, n)
			for i := range reps {
				reps[i] = crdt.NewDocWithClient(replicaIDs[i])
				mustApply(t, reps[i], base)
				updates[i] = typeWord(t, reps[i].Text("t"), sc.pos, ws[i], sc.dirs[i] == 'B')
				if got, want := reps[i].Text("t").String(), insertAt(sc.base, sc.pos, ws[i]); got != want {
					t.Fatalf("replica %d typed %q, want %q", i, got, want)
				}
			}

			var want string
			agree := func(what string, d *crdt.Doc) {
				t.Helper()
				if d.HasPending() {
					t.Fatalf("%s: pending updates", what)
				}
				got := d.Text("t").String()
				checkNoInterleave(t, got, sc.base, sc.pos, ws)
				if want == "" {
					want = got
				} else if got != want {
					t.Fatalf("%s: %q, but another order gave %q", what, got, want)
				}
			}
			// Every order of whole per-replica streams, in order and reversed.
			for _, p := range permutations(n) {
				for _, rev := range []bool{false, true} {
					f := fresh()
					for _, i := range p {
						us := updates[i]
						for k := range us {
							if rev {
								k = len(us) - 1 - k
							}
							mustApply(t, f, us[k])
						}
					}
					agree(fmt.Sprintf("order %v reversed=%v", p, rev), f)
				}
			}
			// Random interleavings of single keystrokes.
			var flat [][]byte
			for _, us := range updates {
				flat = append(flat, us...)
			}
			for k := range 20 {
				f := fresh()
				for _, j := range rng.Perm(len(flat)) {
					mustApply(t, f, flat[j])
				}
				agree(fmt.Sprintf("shuffle %d", k), f)
			}
			// The replicas themselves, each receiving the others.
			for i, d := range reps {
				for _, j := range rng.Perm(n) {
					if j != i {
						for _, u := range updates[j] {
							mustApply(t, d, u)
						}
					}
				}
				agree(fmt.Sprintf("replica %d", i), d)
			}
		})
	}
}

func insertAt(s string, pos int, w string) string {
	r := []rune(s)
	return string(r[:pos]) + w + string(r[pos:])
}
