package crdt_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/flowstate/flowstate/crdt"
	"pgregory.net/rapid"
)

// TestForgedOriginsConverge lets a writer name any origins it likes:
// besides two honest replicas typing and deleting, a hostile one sends
// runs under two client IDs whose left and right origins are any code
// points it knows (or none), in either order, neighbours or not. Every
// update some replica accepted is then delivered to every replica in its
// own random order, and all must end with the same text and the same
// snapshot, which must load into the same text again. Origins that no
// honest author could have named are dropped by every replica alike
// (FORMAT.md §5.3); the rest must converge by §7.
func TestForgedOriginsConverge(t *testing.T) { rapid.Check(t, forgedSession) }

// TestForgedOriginsConvergeFanouts runs the sessions in deep trees of tiny
// leaves, where the origins' positions compare across leaves and nodes.
func TestForgedOriginsConvergeFanouts(t *testing.T) {
	defer crdt.SetFanout(2, 3)()
	rapid.Check(t, forgedSession)
}

func forgedSession(rt *rapid.T) {
	{
		honest := []*crdt.Doc{crdt.NewDocWithClient(1), crdt.NewDocWithClient(2)}
		hostile := crdt.NewDocWithClient(5)
		all := append(append([]*crdt.Doc{}, honest...), hostile)
		writers := []crdt.ClientID{5, 6} // the hostile replica's IDs
		fresh := crdt.ClientID(20)
		var log [][]byte
		seen := make([]int, len(all)) // how much of log each replica has had
		steps := rapid.IntRange(1, 60).Draw(rt, "steps")
		for s := 0; s < steps; s++ {
			switch rapid.IntRange(0, 3).Draw(rt, "kind") {
			case 0: // honest edit
				d := honest[rapid.IntRange(0, 1).Draw(rt, "replica")]
				txt := d.Text("t")
				n := txt.Len()
				var u []byte
				var err error
				switch op := rapid.IntRange(0, 3).Draw(rt, "op"); {
				case n > 0 && op == 1:
					pos := rapid.IntRange(0, n-1).Draw(rt, "pos")
					u, err = txt.Delete(pos, 1)
				case n > 0 && op == 2: // anchors take part in the rule too
					pos := rapid.IntRange(0, n-1).Draw(rt, "pos")
					k := rapid.IntRange(1, n-pos).Draw(rt, "len")
					u, err = txt.Format(pos, k, "bold", rapid.SampledFrom([]any{true, nil}).Draw(rt, "value"))
				case op == 3:
					u, err = txt.InsertEmbed(rapid.IntRange(0, n).Draw(rt, "pos"), "img")
				default:
					pos := rapid.IntRange(0, n).Draw(rt, "pos")
					s := string(rune('a' + rapid.IntRange(0, 25).Draw(rt, "letter")))
					u, err = txt.Insert(pos, s)
				}
				if err != nil {
					rt.Fatalf("honest edit: %v", err)
				}
				log = append(log, u)
			case 1: // forged run, mark or embed
				ids := crdt.SequenceIDs(hostile.Text("t"))
				pick := func(label string) *crdt.ID {
					k := rapid.IntRange(-1, len(ids)-1).Draw(rt, label)
					if k < 0 {
						return nil
					}
					return &ids[k]
				}
				w := rapid.IntRange(0, 1).Draw(rt, "client")
				client := writers[w]
				var recs []craftedRec
				switch rapid.IntRange(0, 3).Draw(rt, "forged") {
				case 0: // a mark whose anchors may lie anywhere, end before start too
					start := craftedRec{rich: 1, key: "bold", value: []byte{0xc3}, seq: uint64(rapid.IntRange(1, 9).Draw(rt, "seq")), expand: true, left: pick("left"), right: pick("right")}
					if rapid.Bool().Draw(rt, "link") {
						start.key, start.value, start.expand = "link", []byte{0xa1, 'u'}, false
					}
					if rapid.Bool().Draw(rt, "unformat") {
						start.value = nil
					}
					recs = []craftedRec{start, {rich: 2, left: pick("end left"), right: pick("end right")}}
				case 1:
					recs = []craftedRec{{rich: 3, value: []byte{0xa3, 'i', 'm', 'g'}, left: pick("left"), right: pick("right")}}
				default:
					size := rapid.IntRange(1, 2).Draw(rt, "size")
					recs = []craftedRec{{text: "XY"[:size], n: uint64(size), left: pick("left"), right: pick("right")}}
				}
				clocks := uint64(0)
				for _, r := range recs {
					clocks += max(r.n, 1)
				}
				k := hostile.Clock(client)
				u := craftCostUpdate(client, k, recs, nil)
				if err := hostile.Apply(u); err != nil {
					continue // refused whole: nobody sees it
				}
				log = append(log, u)
				if hostile.Clock(client) != k+clocks {
					// Dropped, in part or whole: its clocks are spent, and
					// the writer goes on under a fresh ID, as a reuse would
					// be a second history (§5.2).
					writers[w] = fresh
					fresh++
				}
			default: // a replica catches up with part of the log
				r := rapid.IntRange(0, len(all)-1).Draw(rt, "to")
				upto := rapid.IntRange(seen[r], len(log)).Draw(rt, "upto")
				for _, u := range log[seen[r]:upto] {
					if err := all[r].Apply(u); err != nil {
						rt.Fatalf("replica %d refused an update another accepted: %v", r, err)
					}
				}
				seen[r] = upto
			}
		}
		// Everyone gets everything, in an order of its own.
		rng := rand.New(rand.NewPCG(rapid.Uint64().Draw(rt, "order"), 1))
		late := []*crdt.Doc{crdt.NewDocWithClient(7), crdt.NewDocWithClient(8)}
		for i, d := range append(all, late...) {
			order := rng.Perm(len(log))
			if i == len(all) {
				for k := range order {
					order[k] = k
				}
			}
			for _, k := range order {
				if err := d.Apply(log[k]); err != nil {
					rt.Fatalf("replica %d refused an update another accepted: %v", i, err)
				}
			}
		}
		want := hostile.Text("t").String()
		wantSnap := hostile.Snapshot()
		for i, d := range append(all, late...) {
			if got := d.Text("t").String(); got != want {
				rt.Fatalf("replica %d reads %q, the hostile one %q\n%s", i, got, want, hexLog(log))
			}
			if snap := d.Snapshot(); !bytes.Equal(snap, wantSnap) {
				rt.Fatalf("replica %d's snapshot differs\n%s", i, hexLog(log))
			}
			sameDelta(rt, fmt.Sprintf("replica %d", i), d.Text("t").ToDelta(), hostile.Text("t").ToDelta())
		}
		loaded := loadSnapshot(rt, wantSnap)
		sameDelta(rt, "loaded", loaded.Text("t").ToDelta(), hostile.Text("t").ToDelta())
		if got := loaded.Text("t").String(); got != want {
			rt.Fatalf("the snapshot loads as %q, the document reads %q\n%s", got, want, hexLog(log))
		}
	}
}

func hexLog(log [][]byte) string {
	var b bytes.Buffer
	for _, u := range log {
		fmt.Fprintf(&b, "%x\n", u)
	}
	return b.String()
}

// forgedCase is a sequence of updates naming origins no honest author
// could have named together, or ones it could; want is the text every
// delivery order ends with.
type forgedCase struct {
	name string
	ups  [][]byte
	want string
}

// forgedCases are the hand-made cases of FORMAT.md §5.3's origin check;
// the hostile corpus records them for the other implementations.
func forgedCases() []forgedCase {
	rec := func(text string, left, right *crdt.ID) craftedRec {
		return craftedRec{text: text, n: uint64(len(text)), left: left, right: right}
	}
	h := must(crdt.NewDocWithClient(9).Text("t").Insert(0, "h"))
	// Client 9's "b" between client 1's "a" and "c": the forged runs of
	// the last case skip it as an author that had not seen it would.
	base := crdt.NewDocWithClient(1)
	ac := must(base.Text("t").Insert(0, "ac"))
	b := crdt.NewDocWithClient(2)
	if err := b.Apply(ac); err != nil {
		panic(err)
	}
	between := must(b.Text("t").Insert(1, "b"))
	return []forgedCase{{
		// FORMAT.md §5.3's example: x's origins skip a, which its author
		// wrote; before the check, "axbh" or "ahxb" by delivery order.
		name: "right origin's left origin after the left origin (own code point skipped)",
		ups: [][]byte{h, craftCostUpdate(5, 0, []craftedRec{
			rec("a", nil, nil), rec("b", id(5, 0), nil), rec("x", nil, id(5, 1))}, nil)},
		want: "abh",
	}, {
		name: "left origin after the right origin",
		ups: [][]byte{craftCostUpdate(5, 0, []craftedRec{rec("ab", nil, nil)}, nil),
			craftCostUpdate(5, 2, []craftedRec{rec("x", id(5, 1), id(5, 0))}, nil)},
		want: "ab",
	}, {
		name: "right origin inside a run, not after the left origin",
		ups: [][]byte{h, craftCostUpdate(5, 0, []craftedRec{rec("abc", nil, nil)}, nil),
			craftCostUpdate(5, 3, []craftedRec{rec("x", nil, id(5, 1))}, nil)},
		want: "abch",
	}, {
		name: "left origin's right origin before the right origin",
		ups: [][]byte{h, craftCostUpdate(5, 0, []craftedRec{
			rec("b", nil, nil), rec("a", nil, id(5, 0)), rec("x", id(5, 1), nil)}, nil)},
		want: "abh",
	}, {
		name: "the records after a dropped one wait for good",
		ups: [][]byte{craftCostUpdate(5, 0, []craftedRec{
			rec("a", nil, nil), rec("b", id(5, 0), nil), rec("x", nil, id(5, 1)), rec("y", id(5, 2), nil)}, nil)},
		want: "ab",
	}, {
		name: "origins that were neighbours before a concurrent insertion fit",
		ups: [][]byte{ac, between, craftCostUpdate(5, 0, []craftedRec{rec("x", id(1, 0), id(1, 1))}, nil),
			craftCostUpdate(8, 0, []craftedRec{rec("y", id(2, 0), id(1, 1))}, nil)},
		want: "abyxc",
	}}
}

// TestForgedOriginsDropped delivers each case in every order: origins that
// do not fit are dropped wherever the run arrives, before or after what it
// skips, and every order ends with the same document.
func TestForgedOriginsDropped(t *testing.T) {
	for _, c := range forgedCases() {
		t.Run(c.name, func(t *testing.T) {
			var want []byte
			for _, order := range permutations(len(c.ups)) {
				d := crdt.NewDocWithClient(100)
				for _, k := range order {
					if err := d.Apply(c.ups[k]); err != nil {
						t.Fatalf("order %v: update %d refused: %v", order, k, err)
					}
				}
				if got := d.Text("t").String(); got != c.want {
					t.Errorf("order %v: %q, want %q", order, got, c.want)
				}
				snap := d.Snapshot()
				if want == nil {
					want = snap
				} else if !bytes.Equal(snap, want) {
					t.Errorf("order %v: snapshot %s, first order's %s", order, hex.EncodeToString(snap), hex.EncodeToString(want))
				}
			}
		})
	}
}

// forgedLog returns the updates of a random session like forgedSession's
// (runs, marks and embeds with forged origins, some dropped),
// drawn from seed, in a shuffled delivery order: the hostile corpus
// records how a replica takes them, for the other implementations.
func forgedLog(seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	honest := []*crdt.Doc{crdt.NewDocWithClient(1), crdt.NewDocWithClient(2)}
	hostile := crdt.NewDocWithClient(5)
	writers := []crdt.ClientID{5, 6}
	fresh := crdt.ClientID(20)
	var log [][]byte
	deliver := func(d *crdt.Doc, u []byte) {
		if err := d.Apply(u); err != nil {
			panic(err)
		}
	}
	for range 40 {
		switch rng.IntN(3) {
		case 0:
			w := rng.IntN(2)
			txt := honest[w].Text("t")
			var u []byte
			var err error
			if n := txt.Len(); n > 0 && rng.IntN(3) == 0 {
				u, err = txt.Delete(rng.IntN(n), 1)
			} else {
				u, err = txt.Insert(rng.IntN(n+1), string(rune('a'+rng.IntN(26))))
			}
			if err != nil {
				panic(err)
			}
			log = append(log, u)
			deliver(honest[1-w], u)
			deliver(hostile, u)
		case 1:
			ids := crdt.SequenceIDs(hostile.Text("t"))
			pick := func() *crdt.ID {
				if k := rng.IntN(len(ids) + 1); k < len(ids) {
					return &ids[k]
				}
				return nil
			}
			w := rng.IntN(2)
			client := writers[w]
			var recs []craftedRec
			clocks := uint64(1)
			switch rng.IntN(3) {
			case 0:
				recs = []craftedRec{{rich: 1, key: "bold", value: []byte{0xc3}, seq: uint64(1 + rng.IntN(5)), expand: true, left: pick(), right: pick()},
					{rich: 2, left: pick(), right: pick()}}
				clocks = 2
			case 1:
				recs = []craftedRec{{rich: 3, value: []byte{0xa3, 'i', 'm', 'g'}, left: pick(), right: pick()}}
			default:
				recs = []craftedRec{{text: "X", n: 1, left: pick(), right: pick()}}
			}
			k := hostile.Clock(client)
			u := craftCostUpdate(client, k, recs, nil)
			if hostile.Apply(u) != nil {
				continue
			}
			log = append(log, u)
			if hostile.Clock(client) != k+clocks {
				writers[w] = fresh // dropped: its clocks are spent
				fresh++
			}
		default:
			for _, d := range honest {
				deliver(d, hostile.Diff(d.StateVector()))
			}
		}
	}
	rng.Shuffle(len(log), func(i, j int) { log[i], log[j] = log[j], log[i] })
	return log
}
