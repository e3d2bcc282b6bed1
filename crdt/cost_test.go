package crdt_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowstate/flowstate/crdt"
)

// craftedRec is one text record of a hand-built update: n code points of
// content (or a tombstone run when text is empty) with explicit origins.
type craftedRec struct {
	text        string
	n           uint64
	left, right *crdt.ID
	// rich makes it a one-clock record of RICH.md §R6 instead: 1 a start
	// anchor of key, value (raw msgpack, nil for none) and seq, expanding
	// after when expand; 2 an end anchor; 3 an embed of value.
	rich   int
	key    string
	value  []byte
	seq    uint64
	expand bool
}

// craftCostUpdate encodes one block of client at clock holding recs, every
// origin explicit, in text "t", plus delete ranges of other clients. It
// writes what FORMAT.md §4 allows, not what an encoder would choose, so
// that a test can say what a hostile peer may send.
func craftCostUpdate(client crdt.ClientID, clock uint64, recs []craftedRec, deletes map[crdt.ClientID][][2]uint64) []byte {
	ids := map[crdt.ClientID]bool{}
	if len(recs) > 0 {
		ids[client] = true
	}
	for _, r := range recs {
		if r.left != nil {
			ids[r.left.Client] = true
		}
		if r.right != nil {
			ids[r.right.Client] = true
		}
	}
	for c := range deletes {
		ids[c] = true
	}
	var clients []crdt.ClientID
	for c := range ids {
		clients = append(clients, c)
	}
	slicesSortIDs(clients)
	index := func(c crdt.ClientID) uint64 {
		for i, x := range clients {
			if x == c {
				return uint64(i)
			}
		}
		panic("unknown client")
	}
	version := byte(1)
	for _, r := range recs {
		if r.rich != 0 {
			version = 2
		}
	}
	var b []byte
	b = append(b, 0x95, version)
	if len(recs) > 0 {
		b = append(b, 0x91, 0x92, 0x00, 0xa1, 't')
	} else {
		b = append(b, 0x90)
	}
	b = mpArrayLen(b, len(clients))
	for _, c := range clients {
		b = mpUint(b, uint64(c))
	}
	b = mpArrayLen(b, len(deletes))
	for _, c := range clients {
		rs, ok := deletes[c]
		if !ok {
			continue
		}
		var col []byte
		end := uint64(0)
		for _, r := range rs {
			col = appendVarint(col, r[0]-end)
			col = appendVarint(col, r[1]-r[0])
			end = r[1]
		}
		b = append(b, 0x92)
		b = mpUint(b, index(c))
		b = mpBin(b, col)
	}
	if len(recs) == 0 {
		return append(b, 0x90)
	}
	col := appendVarint(nil, 7) // parent: type 0
	var text []byte
	entries := mp{}
	nEntries := 0
	for _, r := range recs {
		lm, rm := uint64(0), uint64(0)
		if r.left != nil {
			lm = 2
		}
		if r.right != nil {
			rm = 3
		}
		if r.rich != 0 {
			p := uint64(r.rich) | lm<<2 | rm<<4
			if r.expand {
				p |= 1 << 6
			}
			col = appendVarint(col, 3|p<<3)
		} else {
			col = appendVarint(col, 1|lm<<3|rm<<5|(r.n-1)<<7)
		}
		if r.left != nil {
			col = appendVarint(col, index(r.left.Client))
			col = appendVarint(col, r.left.Clock)
		}
		if r.right != nil {
			col = appendVarint(col, index(r.right.Client))
			col = appendVarint(col, r.right.Clock)
		}
		switch r.rich {
		case 0:
			text = append(text, r.text...)
		case 1:
			col = appendVarint(col, r.seq)
			if r.value == nil {
				entries = entries.arr(1).str(r.key)
			} else {
				entries = append(entries.arr(2).str(r.key), r.value...)
			}
			nEntries++
		case 3:
			entries = append(entries.arr(1), r.value...)
			nEntries++
		}
	}
	b = append(b, 0x91, 0x95)
	b = mpUint(b, index(client))
	b = mpUint(b, clock)
	b = mpBin(b, col)
	b = mpStr(b, text)
	b = mpArrayLen(b, nEntries)
	return append(b, entries...)
}

func slicesSortIDs(s []crdt.ClientID) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func appendVarint(b []byte, x uint64) []byte {
	for x >= 0x80 {
		b = append(b, byte(x)|0x80)
		x >>= 7
	}
	return append(b, byte(x))
}

func mpUint(b []byte, x uint64) []byte {
	switch {
	case x < 0x80:
		return append(b, byte(x))
	case x <= 0xff:
		return append(b, 0xcc, byte(x))
	case x <= 0xffff:
		return append(b, 0xcd, byte(x>>8), byte(x))
	case x <= 0xffffffff:
		return append(b, 0xce, byte(x>>24), byte(x>>16), byte(x>>8), byte(x))
	}
	return append(b, 0xcf, byte(x>>56), byte(x>>48), byte(x>>40), byte(x>>32), byte(x>>24), byte(x>>16), byte(x>>8), byte(x))
}

func mpArrayLen(b []byte, n int) []byte {
	if n < 16 {
		return append(b, 0x90|byte(n))
	}
	return append(b, 0xdc, byte(n>>8), byte(n))
}

func mpBin(b, p []byte) []byte {
	switch {
	case len(p) <= 0xff:
		b = append(b, 0xc4, byte(len(p)))
	case len(p) <= 0xffff:
		b = append(b, 0xc5, byte(len(p)>>8), byte(len(p)))
	default:
		b = append(b, 0xc6, byte(len(p)>>24), byte(len(p)>>16), byte(len(p)>>8), byte(len(p)))
	}
	return append(b, p...)
}

func mpStr(b, p []byte) []byte {
	switch {
	case len(p) < 32:
		b = append(b, 0xa0|byte(len(p)))
	case len(p) <= 0xff:
		b = append(b, 0xd9, byte(len(p)))
	case len(p) <= 0xffff:
		b = append(b, 0xda, byte(len(p)>>8), byte(len(p)))
	default:
		b = append(b, 0xdb, byte(len(p)>>24), byte(len(p)>>16), byte(len(p)>>8), byte(len(p)))
	}
	return append(b, p...)
}

// fragmentedDoc returns a document of about n code points typed by client
// 1 at random positions, so that it holds many items, and a snapshot.
func fragmentedDoc(n, chunk int, seed uint64) (*crdt.Doc, []byte) {
	rng := rand.New(rand.NewPCG(seed, seed))
	d := crdt.NewDocWithClient(1)
	txt := d.Text("t")
	for txt.Len() < n {
		err := d.Change(func() error {
			_, err := txt.Insert(rng.IntN(txt.Len()+1), strings.Repeat("a", chunk))
			return err
		})
		if err != nil {
			panic(err) // positions are in range
		}
	}
	return d, d.Snapshot()
}

func id(c crdt.ClientID, clock uint64) *crdt.ID { return &crdt.ID{Client: c, Clock: clock} }

// costDoc is the 100,000-code-point document of the cost benchmarks: typed
// one code point at a time at random positions, so that it holds about as
// many items as code points, with the snapshot that loads it.
var costDoc = sync.OnceValues(func() (*crdt.Doc, []byte) { return fragmentedDoc(100_000, 1, 1) })

// loadCostDoc returns a fresh copy of costDoc.
func loadCostDoc(b *testing.B) *crdt.Doc {
	b.Helper()
	_, snap := costDoc()
	d := crdt.NewDocWithClient(2)
	if err := d.Apply(snap); err != nil {
		b.Fatal(err)
	}
	return d
}

// farApartUpdate is the k-th update of 100 one-code-point records of client
// whose origins are far apart in costDoc: each names one of the first of
// client 1's clocks and that code point's own right origin, neighbours when
// it was typed, with most of the text typed between them since, so that
// the FORMAT.md §7 scan between them covers much of it. Such origins fit
// (§5.3): an author that saw nothing typed since may name them. Each
// update names other origins, so that the records do not pile up as
// siblings of one origin.
func farApartUpdate(client crdt.ClientID, k int) []byte {
	d, _ := costDoc()
	recs := make([]craftedRec, 100)
	for i := range recs {
		left := id(1, uint64(k*len(recs)+i))
		_, right := crdt.OriginsOf(d, *left)
		recs[i] = craftedRec{text: "x", n: 1, left: left, right: right}
	}
	return craftCostUpdate(client, 0, recs, nil)
}

// BenchmarkCostFarApartOrigins applies updates of 100 records with far-apart
// origins to a 100,000-code-point document, and, for comparison, honest
// keystrokes at random positions of the same document. Compare ns/record.
func BenchmarkCostFarApartOrigins(b *testing.B) {
	b.Run("hostile", func(b *testing.B) {
		d := loadCostDoc(b)
		updates := make([][]byte, 0, 256)
		for i := range cap(updates) {
			updates = append(updates, farApartUpdate(crdt.ClientID(1000+i), i))
		}
		if err := d.Apply(updates[0]); err != nil { // the first computes what later ones reuse
			b.Fatal(err)
		}
		i := 1
		for b.Loop() {
			if i == len(updates) {
				b.StopTimer()
				d, i = loadCostDoc(b), 0
				b.StartTimer()
			}
			if err := d.Apply(updates[i]); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/record")
	})
	b.Run("keystroke", func(b *testing.B) {
		src := loadCostDoc(b)
		rng := rand.New(rand.NewPCG(3, 3))
		updates := make([][]byte, 10_000)
		for i := range updates {
			u, err := src.Text("t").Insert(rng.IntN(src.Text("t").Len()+1), "k")
			if err != nil {
				b.Fatal(err)
			}
			updates[i] = u
		}
		d := loadCostDoc(b)
		i := 0
		for b.Loop() {
			if i == len(updates) {
				b.StopTimer()
				d, i = loadCostDoc(b), 0
				b.StartTimer()
			}
			if err := d.Apply(updates[i]); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/record")
	})
}

// keystrokes returns the updates of 20,000 keystrokes typed at the end of a
// text, a fifth of them backspaces.
func keystrokes(tb testing.TB) [][]byte {
	d := crdt.NewDocWithClient(5)
	txt := d.Text("t")
	rng := rand.New(rand.NewPCG(4, 4))
	updates := make([][]byte, 0, 20_000)
	for len(updates) < cap(updates) {
		var u []byte
		var err error
		if rng.IntN(5) == 0 && txt.Len() > 0 {
			u, err = txt.Delete(txt.Len()-1, 1)
		} else {
			u, err = txt.Insert(txt.Len(), string(rune('a'+rng.IntN(26))))
		}
		if err != nil {
			tb.Fatal(err)
		}
		updates = append(updates, u)
	}
	return updates
}

// BenchmarkCostOutOfOrder applies 20,000 keystrokes (a fifth of them
// backspaces) in the order they were typed and in reverse, when every one
// but the last waits for those before it.
func BenchmarkCostOutOfOrder(b *testing.B) {
	updates := keystrokes(b)
	for _, order := range []string{"in-order", "reversed"} {
		b.Run(order, func(b *testing.B) {
			for b.Loop() {
				d := crdt.NewDocWithClient(6)
				for i := range updates {
					u := updates[i]
					if order == "reversed" {
						u = updates[len(updates)-1-i]
					}
					if err := d.Apply(u); err != nil {
						b.Fatal(err)
					}
				}
				if d.HasPending() {
					b.Fatal("updates still pending")
				}
			}
		})
	}
}

// pendingDeletesUpdate deletes 1,000 ranges of clocks of a client nobody has
// seen, so that all of them wait.
func pendingDeletesUpdate() []byte {
	rs := make([][2]uint64, 1000)
	for i := range rs {
		rs[i] = [2]uint64{uint64(2 * i), uint64(2*i + 1)}
	}
	return craftCostUpdate(0, 0, nil, map[crdt.ClientID][][2]uint64{77: rs})
}

// BenchmarkCostPendingDeletes applies an update of 1,000 delete ranges that
// must wait, once to a fresh document and 1,000 times to the same one. Compare
// ns/apply.
func BenchmarkCostPendingDeletes(b *testing.B) {
	u := pendingDeletesUpdate()
	for _, times := range []int{1, 1000} {
		b.Run(fmt.Sprintf("times=%d", times), func(b *testing.B) {
			for b.Loop() {
				d := crdt.NewDocWithClient(8)
				for range times {
					if err := d.Apply(u); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*times), "ns/apply")
		})
	}
}

// BenchmarkCostWaitingClients applies keystrokes of one client to a
// document where 10,000 other clients each have a record waiting for a
// clock that never comes, and to one where none waits. Compare ns/apply:
// an update costs what it unblocks, not what waits.
func BenchmarkCostWaitingClients(b *testing.B) {
	src := crdt.NewDocWithClient(7)
	keys := make([][]byte, 1000)
	for i := range keys {
		keys[i] = must(src.Text("t").Insert(i, "k"))
	}
	for _, waiting := range []int{0, 10_000} {
		b.Run(fmt.Sprintf("waiting=%d", waiting), func(b *testing.B) {
			fresh := func() *crdt.Doc {
				d := crdt.NewDocWithClient(8)
				for i := range waiting {
					rec := []craftedRec{{text: "w", n: 1}}
					if err := d.Apply(craftCostUpdate(crdt.ClientID(1000+i), 1, rec, nil)); err != nil {
						b.Fatal(err)
					}
				}
				return d
			}
			d, i := fresh(), 0
			for b.Loop() {
				if i == len(keys) {
					b.StopTimer()
					d, i = fresh(), 0
					b.StartTimer()
				}
				if err := d.Apply(keys[i]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/apply")
		})
	}
}

// BenchmarkCostObservedLoad loads the snapshot of a fragmented document of
// 50,000 code points into a Doc whose Text is observed, and into one whose
// Text is not.
func BenchmarkCostObservedLoad(b *testing.B) {
	_, snap := fragmentedDoc(50_000, 1, 2)
	for _, observed := range []bool{false, true} {
		b.Run(fmt.Sprintf("observed=%v", observed), func(b *testing.B) {
			for b.Loop() {
				d := crdt.NewDocWithClient(9)
				if observed {
					d.Text("t").Observe(func(crdt.TextEvent) {})
				}
				if err := d.Apply(snap); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The conflict scan passes over leaves and groups of leaves by their bounds
// on left origins; records with random origins, most of them far apart,
// must land exactly where the plain scan of FORMAT.md §7 puts them.
func TestScanSkipsChangeNothing(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	_, snap := fragmentedDoc(20_000, 1, seed)
	skipping, plain := crdt.NewDocWithClient(2), crdt.NewDocWithClient(2)
	for _, d := range []*crdt.Doc{skipping, plain} {
		if err := d.Apply(snap); err != nil {
			t.Fatal(err)
		}
	}
	known := []crdt.ID{}
	for c := 0; c < 20_000; c++ {
		known = append(known, crdt.ID{Client: 1, Clock: uint64(c)})
	}
	pick := func() *crdt.ID {
		if rng.IntN(20) == 0 {
			return nil
		}
		x := known[rng.IntN(len(known))]
		return &x
	}
	integrated := 0
	for k := range 200 {
		// A client of its own per update: origins that could not have
		// been neighbours are dropped (FORMAT.md §5.3), and the records
		// after a dropped one wait for good.
		client := crdt.ClientID(1000 + k)
		var recs []craftedRec
		for range 1 + rng.IntN(20) {
			n := uint64(1 + rng.IntN(3))
			// Origins as an author may name them that has not seen what
			// was inserted between them since: a code point and its own
			// right origin, or a code point's left origin and it.
			x := pick()
			var left, right *crdt.ID
			switch {
			case x == nil:
			case rng.IntN(2) == 0:
				left = x
				_, right = crdt.OriginsOf(skipping, *x)
			default:
				right = x
				left, _ = crdt.OriginsOf(skipping, *x)
			}
			recs = append(recs, craftedRec{text: strings.Repeat("h", int(n)), n: n, left: left, right: right})
		}
		u := craftCostUpdate(client, 0, recs, nil)
		crdt.SetScanSkips(true)
		errS := skipping.Apply(u)
		crdt.SetScanSkips(false)
		errP := plain.Apply(u)
		crdt.SetScanSkips(true)
		if (errS == nil) != (errP == nil) {
			t.Fatalf("update %d: skipping: %v, plain: %v", k, errS, errP)
		}
		if errS != nil {
			t.Fatalf("update %d: %v", k, errS)
		}
		if a, b := skipping.Clock(client), plain.Clock(client); a != b {
			t.Fatalf("update %d: skipping integrated %d clocks, plain %d", k, a, b)
		}
		for c := range skipping.Clock(client) {
			known = append(known, crdt.ID{Client: client, Clock: c})
		}
		if skipping.Clock(client) > 0 {
			integrated++
		}
	}
	t.Logf("%d of 200 updates integrated a run", integrated)
	if integrated < 20 {
		t.Fatalf("only %d of 200 updates integrated a run: the test no longer scans", integrated)
	}
	if !bytes.Equal(skipping.Snapshot(), plain.Snapshot()) || skipping.Text("t").String() != plain.Text("t").String() {
		t.Fatal("the scan with skips and the plain scan disagree")
	}
}

// Delivering the same waiting records and delete ranges again holds nothing
// more, and costs no more than a few allocations.
func TestPendingDeduplicated(t *testing.T) {
	src := crdt.NewDocWithClient(40)
	first, _ := src.Text("t").Insert(0, "ab")
	second, _ := src.Text("t").Insert(2, "cd") // waits for first
	del, _ := src.Text("t").Delete(1, 2)       // deletes clocks of both
	tests := []struct {
		name    string
		updates [][]byte
	}{
		{"record", [][]byte{second}},
		{"deletes", [][]byte{del}},
		{"unseen delete ranges", [][]byte{pendingDeletesUpdate()}},
		{"record and deletes", [][]byte{second, del}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := crdt.NewDocWithClient(41)
			for _, u := range tt.updates {
				mustApply(t, d, u)
			}
			held := crdt.PendingBytes(d)
			if held == 0 || !d.HasPending() {
				t.Fatal("nothing pending")
			}
			allocs := testing.AllocsPerRun(100, func() {
				for _, u := range tt.updates {
					mustApply(t, d, u)
				}
			})
			if got := crdt.PendingBytes(d); got != held {
				t.Errorf("pending bytes after 100 more deliveries: %d, want %d", got, held)
			}
			if max := 8 * float64(len(tt.updates)); allocs > max {
				t.Errorf("a repeated delivery allocates %.0f times, want at most %.0f", allocs, max)
			}
			if tt.name != "unseen delete ranges" {
				for _, u := range [][]byte{first, second, del} {
					mustApply(t, d, u)
				}
				if d.HasPending() || crdt.PendingBytes(d) != 0 || d.Text("t").String() != src.Text("t").String() {
					t.Fatalf("after the missing update: pending %v (%d bytes), text %q, want %q",
						d.HasPending(), crdt.PendingBytes(d), d.Text("t").String(), src.Text("t").String())
				}
			}
		})
	}
}

// A peer that sends more waiting data than MaxPendingBytes gets
// ErrTooMuchPending and changes nothing; updates that do not wait still go
// in, and the held data drains once what it waits for arrives.
func TestTooMuchPending(t *testing.T) {
	d := crdt.NewDocWithClient(50)
	mustApply(t, d, mustInsert(t, crdt.NewDocWithClient(51), "hello"))
	var err error
	var sent int
	for k := 0; err == nil; k++ {
		// 1,000 ranges of clocks of client 77 that nobody has sent, each
		// update its own ranges.
		rs := make([][2]uint64, 1000)
		for i := range rs {
			start := uint64(2*(k*1000+i)) + 1
			rs[i] = [2]uint64{start, start + 1}
		}
		u := craftCostUpdate(0, 0, nil, map[crdt.ClientID][][2]uint64{77: rs})
		before := d.Snapshot()
		held := crdt.PendingBytes(d)
		if err = d.Apply(u); err == nil {
			sent++
			continue
		}
		if !errors.Is(err, crdt.ErrTooMuchPending) || !errors.Is(err, crdt.ErrInvalidUpdate) {
			t.Fatalf("got %v, want ErrTooMuchPending wrapping ErrInvalidUpdate", err)
		}
		if !bytes.Equal(d.Snapshot(), before) || crdt.PendingBytes(d) != held {
			t.Fatal("a refused update changed the document")
		}
		if held > crdt.MaxPendingBytes {
			t.Fatalf("%d bytes held, more than MaxPendingBytes", held)
		}
	}
	if sent == 0 {
		t.Fatal("the first update was refused")
	}
	// An update that does not wait still goes in.
	other := crdt.NewDocWithClient(52)
	mustApply(t, other, d.Snapshot())
	u, _ := other.Text("t").Insert(5, "!")
	if err := d.Apply(u); err != nil {
		t.Fatalf("an update that waits for nothing: %v", err)
	}
	// Client 77's clocks arrive: the deletes apply and nothing is held.
	c77 := crdt.NewDocWithClient(77)
	u, _ = c77.Text("t").Insert(0, strings.Repeat("z", 2*sent*1000+2))
	if err := d.Apply(u); err != nil {
		t.Fatal(err)
	}
	if d.HasPending() || crdt.PendingBytes(d) != 0 {
		t.Fatalf("still pending after the deleted clocks arrived: %d bytes", crdt.PendingBytes(d))
	}
	if got, want := strings.Count(d.Text("t").String(), "z"), sent*1000+2; got != want {
		t.Fatalf("%d z left, want %d", got, want)
	}
}

func mustInsert(t *testing.T, d *crdt.Doc, s string) []byte {
	t.Helper()
	u, err := d.Text("t").Insert(0, s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Keystrokes delivered in reverse, each waiting for those before it, end in
// the same document as in order.
func TestOutOfOrderMatchesInOrder(t *testing.T) {
	updates := keystrokes(t)[:3000]
	inOrder, reversed := crdt.NewDocWithClient(6), crdt.NewDocWithClient(6)
	for i := range updates {
		mustApply(t, inOrder, updates[i])
		mustApply(t, reversed, updates[len(updates)-1-i])
	}
	if reversed.HasPending() || !bytes.Equal(inOrder.Snapshot(), reversed.Snapshot()) {
		t.Fatal("reversed delivery differs from delivery in order")
	}
}

// A record whose origins lie at the two ends of a 100,000-item text makes
// the conflict scan examine a few hundred items, not the text: it passes
// over groups of leaves and leaves by their bounds.
func TestFarApartOriginsScanFew(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 100,000-item text")
	}
	_, snap := costDoc()
	d := crdt.NewDocWithClient(2)
	mustApply(t, d, snap)
	for k := range 3 {
		u := farApartUpdate(crdt.ClientID(1000+k), k)
		before := crdt.ScanSteps(d)
		mustApply(t, d, u)
		if d.Clock(crdt.ClientID(1000+k)) != 100 {
			t.Fatalf("update %d: %d of 100 records integrated", k, d.Clock(crdt.ClientID(1000+k)))
		}
		// Per record: the rest of the left origin's leaf and the leaves of
		// two groups, the right origin's leaf, and leaves with siblings.
		if steps := crdt.ScanSteps(d) - before; steps > 100*600 {
			t.Errorf("update %d: the scans examined %d items for 100 records", k, steps)
		} else {
			t.Logf("update %d: %d items examined for 100 records", k, steps)
		}
	}
}
