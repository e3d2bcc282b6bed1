package crdt_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/flowstate/flowstate/crdt"
)

// edit is one local text operation used by table tests.
type edit struct {
	del bool
	pos int
	n   int    // delete count
	s   string // inserted text
}

func ins(pos int, s string) edit { return edit{pos: pos, s: s} }
func del(pos, n int) edit        { return edit{del: true, pos: pos, n: n} }

func (e edit) String() string {
	if e.del {
		return fmt.Sprintf("Delete(%d,%d)", e.pos, e.n)
	}
	return fmt.Sprintf("Insert(%d,%q)", e.pos, e.s)
}

func (e edit) do(t *crdt.Text) ([]byte, error) {
	if e.del {
		return t.Delete(e.pos, e.n)
	}
	return t.Insert(e.pos, e.s)
}

// noop reports whether e must change nothing and return a nil update.
func (e edit) noop() bool { return (e.del && e.n == 0) || (!e.del && e.s == "") }

// applyModel applies e to a []rune model.
func (e edit) applyModel(m []rune) []rune {
	if e.del {
		return slices.Delete(m, e.pos, e.pos+e.n)
	}
	return slices.Insert(m, e.pos, []rune(e.s)...)
}

func checkLen(t testing.TB, txt *crdt.Text) {
	t.Helper()
	if s := txt.String(); txt.Len() != utf8.RuneCountInString(s) {
		t.Fatalf("Len()=%d, but String() %q has %d code points", txt.Len(), s, utf8.RuneCountInString(s))
	}
}

func TestTextEdits(t *testing.T) {
	tests := []struct {
		name  string
		edits []edit
		want  string
	}{
		{"ascii", []edit{ins(0, "hello"), ins(5, " world"), ins(0, ">")}, ">hello world"},
		{"emoji inserted between ascii", []edit{ins(0, "ab"), ins(1, "😀👍🏽")}, "a😀👍🏽b"},
		{"insert after emoji", []edit{ins(0, "😀👍🏽"), ins(3, "!"), ins(1, "-")}, "😀-👍🏽!"},
		{"delete skin-tone modifier only", []edit{ins(0, "😀👍🏽x"), del(2, 1)}, "😀👍x"},
		{"delete emoji", []edit{ins(0, "a😀b"), del(1, 1)}, "ab"},
		{"musical symbol G clef", []edit{ins(0, "𝄞𝄞"), ins(1, "a"), del(0, 1)}, "a𝄞"},
		{"combining mark split", []edit{ins(0, "cafe\u0301"), del(4, 1), ins(4, "\u0301!")}, "cafe\u0301!"},
		{"insert between base and combining mark", []edit{ins(0, "e\u0301"), ins(1, "x")}, "ex\u0301"},
		{"cjk", []edit{ins(0, "日本語"), ins(1, "中文"), del(0, 1)}, "中文本語"},
		{"delete across mixed widths", []edit{ins(0, "a😀中e\u0301𝄞z"), del(1, 5)}, "az"},
		{"delete everything", []edit{ins(0, "xyz😀"), del(0, 4)}, ""},
		{"empty inserts", []edit{ins(0, ""), ins(0, "ab"), ins(2, ""), ins(1, "")}, "ab"},
		{"zero-length deletes", []edit{ins(0, "a😀c"), del(0, 0), del(1, 0), del(3, 0)}, "a😀c"},
		{"insert into deleted region", []edit{ins(0, "abcdef"), del(1, 4), ins(1, "😀"), ins(3, "中")}, "a😀f中"},
		{"delete then append", []edit{ins(0, "abc"), del(1, 1), ins(2, "d")}, "acd"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := crdt.NewDocWithClient(1)
			remote := crdt.NewDocWithClient(2)
			txt := d.Text("t")
			var model []rune
			for _, e := range tc.edits {
				before := d.StateVector()
				u, err := e.do(txt)
				if err != nil {
					t.Fatalf("%v: %v", e, err)
				}
				if e.noop() {
					if u != nil {
						t.Errorf("%v: want nil update for a no-op, got %d bytes", e, len(u))
					}
					if !d.StateVector().Equal(before) {
						t.Errorf("%v: no-op changed the state vector %v -> %v", e, before, d.StateVector())
					}
				} else if u == nil {
					t.Fatalf("%v: nil update for a real edit", e)
				}
				model = e.applyModel(model)
				if got := txt.String(); got != string(model) {
					t.Fatalf("after %v: got %q, want %q", e, got, string(model))
				}
				checkLen(t, txt)
				mustApply(t, remote, u)
			}
			if got := txt.String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if got := remote.Text("t").String(); got != tc.want {
				t.Errorf("remote got %q, want %q", got, tc.want)
			}
			if !remote.StateVector().Equal(d.StateVector()) {
				t.Errorf("remote state vector %v, local %v", remote.StateVector(), d.StateVector())
			}
		})
	}
}

func TestDeleteSpanningManyRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 1))
	pieces := []string{"a", "bc", "😀", "👍🏽", "𝄞", "e\u0301", "日本", "xyz"}
	for round := range 20 {
		a, b := crdt.NewDocWithClient(11), crdt.NewDocWithClient(22)
		ta, tb := a.Text("t"), b.Text("t")
		var model []rune
		// Alternate authors so runs come from two clients and interleave.
		for i := range 60 {
			txt, other := ta, b
			if i%3 == 2 {
				txt, other = tb, a
			}
			e := ins(rng.IntN(len(model)+1), pieces[rng.IntN(len(pieces))])
			u, err := e.do(txt)
			if err != nil {
				t.Fatalf("round %d %v: %v", round, e, err)
			}
			model = e.applyModel(model)
			mustApply(t, other, u)
		}
		// Punch a few small holes so tombstones sit inside the span.
		for range 5 {
			e := del(rng.IntN(len(model)), 1)
			u, err := e.do(ta)
			if err != nil {
				t.Fatalf("round %d %v: %v", round, e, err)
			}
			model = e.applyModel(model)
			mustApply(t, b, u)
		}
		pos := rng.IntN(len(model) / 4)
		n := len(model) - pos - rng.IntN(len(model)/4)
		if round%5 == 0 {
			pos, n = 0, len(model)
		}
		e := del(pos, n)
		u, err := e.do(tb)
		if err != nil {
			t.Fatalf("round %d big %v (len %d): %v", round, e, len(model), err)
		}
		model = e.applyModel(model)
		if got := tb.String(); got != string(model) {
			t.Fatalf("round %d after %v: got %q, want %q", round, e, got, string(model))
		}
		checkLen(t, tb)
		mustApply(t, a, u)
		if got := ta.String(); got != string(model) {
			t.Fatalf("round %d remote after %v: got %q, want %q", round, e, got, string(model))
		}
		checkLen(t, ta)
		if !a.StateVector().Equal(b.StateVector()) {
			t.Fatalf("round %d: state vectors differ: %v vs %v", round, a.StateVector(), b.StateVector())
		}
	}
}

func TestOutOfRange(t *testing.T) {
	const base = "a😀中" // 3 code points
	tests := []struct {
		base string
		e    edit
	}{
		{base, ins(-1, "x")},
		{base, ins(4, "x")},
		{base, ins(100, "😀")},
		{base, del(-1, 1)},
		{base, del(3, 1)},
		{base, del(2, 2)},
		{base, del(0, 4)},
		{base, del(4, 1)},
		{base, del(1, -1)},
		{"", ins(1, "x")},
		{"", ins(-1, "x")},
		{"", del(0, 1)},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q/%v", tc.base, tc.e), func(t *testing.T) {
			d := crdt.NewDocWithClient(1)
			txt := d.Text("t")
			if _, err := txt.Insert(0, tc.base); err != nil {
				t.Fatal(err)
			}
			// A tombstone makes sure hidden items are not counted.
			at := min(1, txt.Len())
			if _, err := txt.Insert(at, "zz"); err != nil {
				t.Fatal(err)
			}
			if _, err := txt.Delete(at, 2); err != nil {
				t.Fatal(err)
			}
			s, n, sv := txt.String(), txt.Len(), d.StateVector()
			check := func(what string, u []byte, err error) {
				t.Helper()
				if !errors.Is(err, crdt.ErrOutOfRange) {
					t.Errorf("%s: err = %v, want ErrOutOfRange", what, err)
				}
				if u != nil {
					t.Errorf("%s: got a %d-byte update with the error", what, len(u))
				}
				if txt.String() != s || txt.Len() != n || !d.StateVector().Equal(sv) {
					t.Errorf("%s: doc changed: %q/%d/%v -> %q/%d/%v", what, s, n, sv, txt.String(), txt.Len(), d.StateVector())
				}
			}
			u, err := tc.e.do(txt)
			check("direct", u, err)

			// The same through Transact: the edit error is passed through.
			var inner error
			u, err = d.Transact(func() error {
				_, inner = tc.e.do(txt)
				return inner
			})
			check("inner", nil, inner)
			check("Transact", u, err)
		})
	}
}

func TestTransact(t *testing.T) {
	t.Run("batch", func(t *testing.T) {
		d := crdt.NewDocWithClient(5)
		txt := d.Text("t")
		first, err := txt.Insert(0, "start ")
		if err != nil {
			t.Fatal(err)
		}
		edits := []edit{ins(6, "😀"), ins(0, "日本"), del(2, 3), ins(1, "e\u0301"), ins(0, ""), del(0, 0), ins(5, "𝄞👍🏽"), del(0, 1)}
		model := []rune("start ")
		u, err := d.Transact(func() error {
			for _, e := range edits {
				inner, err := e.do(txt)
				if err != nil {
					return fmt.Errorf("%v: %w", e, err)
				}
				if inner != nil {
					t.Errorf("%v inside Transact returned a %d-byte update, want nil", e, len(inner))
				}
				model = e.applyModel(model)
				if got := txt.String(); got != string(model) {
					t.Errorf("inside Transact after %v: %q, want %q", e, got, string(model))
				}
			}
			if _, err := d.Map("m").Set("k", "v"); err != nil {
				return err
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if u == nil {
			t.Fatal("Transact returned a nil update")
		}
		remote := crdt.NewDocWithClient(6)
		mustApply(t, remote, first)
		mustApply(t, remote, u)
		sameState(t, "remote vs local", stateOf(t, remote), stateOf(t, d))
		if got := remote.Text("t").String(); got != string(model) {
			t.Errorf("remote text %q, want %q", got, string(model))
		}
		if v, ok := remote.Map("m").Get("k"); !ok || v != "v" {
			t.Errorf("remote map k = %v, %v; want v", v, ok)
		}
	})
	t.Run("same as individual updates", func(t *testing.T) {
		a, b := crdt.NewDocWithClient(1), crdt.NewDocWithClient(1)
		edits := []edit{ins(0, "hello"), ins(5, " 世界"), del(0, 1), ins(0, "H"), ins(8, "😀")}
		var singles [][]byte
		for _, e := range edits {
			u, err := e.do(a.Text("t"))
			if err != nil {
				t.Fatal(err)
			}
			singles = append(singles, u)
		}
		batch, err := b.Transact(func() error {
			for _, e := range edits {
				if _, err := e.do(b.Text("t")); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil || batch == nil {
			t.Fatalf("Transact: %d bytes, %v", len(batch), err)
		}
		ra, rb := crdt.NewDocWithClient(3), crdt.NewDocWithClient(4)
		for _, u := range singles {
			mustApply(t, ra, u)
		}
		mustApply(t, rb, batch)
		sameState(t, "singles vs batch", stateOf(t, ra), stateOf(t, rb))
		sameState(t, "batch vs origin", stateOf(t, rb), stateOf(t, b))
	})
	t.Run("nothing changed", func(t *testing.T) {
		d := crdt.NewDocWithClient(1)
		if _, err := d.Text("t").Insert(0, "x"); err != nil {
			t.Fatal(err)
		}
		sv := d.StateVector()
		u, err := d.Transact(func() error { return nil })
		if u != nil || err != nil {
			t.Errorf("empty Transact = %d bytes, %v; want nil, nil", len(u), err)
		}
		u, err = d.Transact(func() error {
			if _, err := d.Text("t").Insert(1, ""); err != nil {
				return err
			}
			_, err := d.Text("t").Delete(0, 0)
			return err
		})
		if u != nil || err != nil {
			t.Errorf("no-op Transact = %d bytes, %v; want nil, nil", len(u), err)
		}
		if !d.StateVector().Equal(sv) {
			t.Errorf("state vector changed %v -> %v", sv, d.StateVector())
		}
	})
	t.Run("fn error keeps edits", func(t *testing.T) {
		d := crdt.NewDocWithClient(1)
		boom := errors.New("boom")
		u, err := d.Transact(func() error {
			if _, err := d.Text("t").Insert(0, "kept😀"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Errorf("err = %v, want boom", err)
		}
		if got := d.Text("t").String(); got != "kept😀" {
			t.Errorf("text %q, want kept😀", got)
		}
		if u == nil {
			t.Fatal("nil update although an edit was made")
		}
		r := crdt.NewDocWithClient(2)
		mustApply(t, r, u)
		sameState(t, "remote", stateOf(t, r), stateOf(t, d))
	})
}

// textMirror follows a Text through its events alone.
type textMirror struct {
	text   string
	events []crdt.TextEvent
	err    error
}

func mirror(txt *crdt.Text) (*textMirror, func()) {
	m := &textMirror{text: txt.String()}
	cancel := txt.Observe(func(e crdt.TextEvent) {
		m.events = append(m.events, e)
		s, err := applyDelta(m.text, e.Delta)
		if err != nil && m.err == nil {
			m.err = fmt.Errorf("event %d %+v on %q: %w", len(m.events), e.Delta, m.text, err)
		}
		m.text = s
	})
	return m, cancel
}

// take checks the mirror against txt and returns and clears the events.
func (m *textMirror) take(t *testing.T, what string, txt *crdt.Text) []crdt.TextEvent {
	t.Helper()
	if m.err != nil {
		t.Fatalf("%s: %v", what, m.err)
	}
	if got := txt.String(); m.text != got {
		t.Fatalf("%s: events give %q, text is %q (events %+v)", what, m.text, got, m.events)
	}
	ev := m.events
	m.events = nil
	return ev
}

func TestObserve(t *testing.T) {
	a, b := crdt.NewDocWithClient(1), crdt.NewDocWithClient(2)
	ta, tb := a.Text("t"), b.Text("t")
	ma, cancelA := mirror(ta)
	mb, cancelB := mirror(tb)
	defer cancelB()

	send := func(what string, u []byte, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		evA := ma.take(t, what+" (local)", ta)
		if len(evA) == 0 {
			t.Fatalf("%s: no local event", what)
		}
		for _, e := range evA {
			if !e.Local {
				t.Errorf("%s: local edit fired Local=false", what)
			}
		}
		mustApply(t, b, u)
		evB := mb.take(t, what+" (remote)", tb)
		if len(evB) == 0 {
			t.Fatalf("%s: no remote event", what)
		}
		for _, e := range evB {
			if e.Local {
				t.Errorf("%s: remote Apply fired Local=true", what)
			}
		}
	}
	u, err := ta.Insert(0, "hello world")
	send("insert", u, err)
	u, err = ta.Insert(5, ",😀👍🏽")
	send("insert emoji", u, err)
	u, err = ta.Delete(2, 6)
	send("delete", u, err)
	u, err = ta.Insert(ta.Len(), "e\u0301𝄞")
	send("append", u, err)
	u, err = a.Transact(func() error {
		for _, e := range []edit{ins(0, "日本"), del(4, 2), ins(6, "x"), ins(ta.Len(), "!")} {
			if _, err := e.do(ta); err != nil {
				return err
			}
		}
		return nil
	})
	send("transact", u, err)
	// Text inserted and removed in the same transaction leaves no trace in
	// the delta, and later edits keep their positions.
	u, err = a.Transact(func() error {
		for _, e := range []edit{ins(2, "XY"), del(2, 2), ins(5, "Z"), ins(1, "W"), del(1, 1), del(4, 1)} {
			if _, err := e.do(ta); err != nil {
				return err
			}
		}
		return nil
	})
	send("transact insert-delete", u, err)

	// Remote changes merged around concurrent local ones: the delta must
	// account for b's own unsent text.
	if _, err := tb.Insert(0, "[b]"); err != nil {
		t.Fatal(err)
	}
	ev := mb.take(t, "b local", tb)
	if len(ev) == 0 || !ev[0].Local {
		t.Fatalf("b local: events %+v", ev)
	}
	u, err = ta.Insert(3, "中文")
	send("concurrent insert", u, err)
	u, err = ta.Delete(0, 2)
	send("concurrent delete", u, err)

	// Out-of-order delivery: the pending update fires nothing that
	// disagrees with the text, and everything has arrived at the end.
	u1, err := ta.Insert(1, "first")
	if err != nil {
		t.Fatal(err)
	}
	u2, err := ta.Delete(2, 3)
	if err != nil {
		t.Fatal(err)
	}
	ma.take(t, "a pending setup", ta)
	mustApply(t, b, u2)
	mb.take(t, "pending", tb)
	mustApply(t, b, u1)
	if len(mb.take(t, "resolved", tb)) == 0 {
		t.Fatal("no event once the pending update integrated")
	}
	if b.HasPending() {
		t.Fatal("b still has pending updates")
	}

	// Cancelled observers stay quiet.
	cancelA()
	if _, err := ta.Insert(0, "quiet"); err != nil {
		t.Fatal(err)
	}
	if len(ma.events) != 0 {
		t.Errorf("cancelled observer got %d events", len(ma.events))
	}
}

func TestApplyPendingAndIdempotent(t *testing.T) {
	a := crdt.NewDocWithClient(1)
	ta := a.Text("t")
	var us [][]byte
	for _, e := range []edit{ins(0, "abc"), ins(1, "😀"), del(0, 2), ins(2, "中")} {
		u, err := e.do(ta)
		if err != nil {
			t.Fatal(err)
		}
		us = append(us, u)
	}
	want := stateOf(t, a)

	b := crdt.NewDocWithClient(2)
	for i := len(us) - 1; i >= 1; i-- {
		mustApply(t, b, us[i])
		if !b.HasPending() {
			t.Fatalf("update %d applied before its dependencies: HasPending false", i)
		}
		if got := b.Text("t").String(); got != "" {
			t.Fatalf("text %q visible before dependencies arrived", got)
		}
	}
	mustApply(t, b, us[0])
	if b.HasPending() {
		t.Fatal("HasPending after all dependencies arrived")
	}
	sameState(t, "out of order", stateOf(t, b), want)
	for _, u := range us {
		mustApply(t, b, u)
	}
	mustApply(t, b, a.Snapshot())
	sameState(t, "after duplicates", stateOf(t, b), want)
}

func TestApplyMalformed(t *testing.T) {
	src := crdt.NewDocWithClient(1)
	u, err := src.Text("t").Insert(0, "hello 😀 world")
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string][]byte{
		"never-used msgpack code": {0xc1},
		"truncated update":        u[:len(u)/2],
		"truncated by one":        u[:len(u)-1],
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			d := crdt.NewDocWithClient(2)
			if _, err := d.Text("t").Insert(0, "mine"); err != nil {
				t.Fatal(err)
			}
			before, snap := stateOf(t, d), d.Snapshot()
			err := d.Apply(in)
			if err == nil {
				t.Fatal("Apply accepted malformed bytes")
			}
			var de *crdt.DecodeError
			if !errors.As(err, &de) {
				t.Errorf("err %v (%T) is not a *DecodeError", err, err)
			}
			sameState(t, "after failed Apply", stateOf(t, d), before)
			if string(d.Snapshot()) != string(snap) {
				t.Error("Snapshot changed after a failed Apply")
			}
		})
	}
}

func TestStateVectorEncoding(t *testing.T) {
	d := crdt.NewDocWithClient(crdt.MaxClientID)
	if sv := d.StateVector(); len(sv) != 0 {
		t.Errorf("fresh doc state vector %v, want empty", sv)
	}
	if !crdt.StateVector(nil).Equal(crdt.StateVector{}) {
		t.Error("nil and empty state vectors differ")
	}
	for i, id := range []crdt.ClientID{1, 300, 1 << 40} {
		o := crdt.NewDocWithClient(id)
		u, err := o.Text("t").Insert(0, strings.Repeat("😀", i+1))
		if err != nil {
			t.Fatal(err)
		}
		mustApply(t, d, u)
	}
	before := d.StateVector()
	if _, err := d.Text("t").Insert(0, "x"); err != nil {
		t.Fatal(err)
	}
	sv := d.StateVector()
	if len(sv) != 4 || sv[crdt.MaxClientID] == 0 || sv.Equal(before) {
		t.Fatalf("state vector %v (before own edit %v)", sv, before)
	}
	for c, k := range before {
		if sv[c] != k {
			t.Errorf("own edit changed client %d: %d -> %d", c, k, sv[c])
		}
	}
	got, err := crdt.DecodeStateVector(sv.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(sv) {
		t.Errorf("round trip %v -> %v", sv, got)
	}
	if e, err := crdt.DecodeStateVector(crdt.StateVector{}.Encode()); err != nil || len(e) != 0 {
		t.Errorf("empty round trip: %v, %v", e, err)
	}
	enc := sv.Encode()
	for _, bad := range [][]byte{{0xc1}, enc[:len(enc)-1], append(slices.Clone(enc), 0)} {
		if v, err := crdt.DecodeStateVector(bad); err == nil {
			t.Errorf("DecodeStateVector(%x) = %v, want error", bad, v)
		}
	}
}

func TestClientIDs(t *testing.T) {
	if got := crdt.NewDocWithClient(crdt.MaxClientID).ClientID(); got != crdt.MaxClientID {
		t.Errorf("ClientID() = %d", got)
	}
	a, b := crdt.NewDoc(), crdt.NewDoc()
	if a.ClientID() > crdt.MaxClientID || b.ClientID() > crdt.MaxClientID || a.ClientID() == b.ClientID() {
		t.Errorf("random client IDs %d, %d", a.ClientID(), b.ClientID())
	}
	defer func() {
		if recover() == nil {
			t.Error("NewDocWithClient(MaxClientID+1) did not panic")
		}
	}()
	crdt.NewDocWithClient(crdt.MaxClientID + 1)
}

func TestNamedTextsAreIndependent(t *testing.T) {
	d := crdt.NewDocWithClient(1)
	u1, err := d.Text("a").Insert(0, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	u2, err := d.Text("b").Insert(0, "βeta")
	if err != nil {
		t.Fatal(err)
	}
	if d.Text("a").String() != "alpha" || d.Text("b").String() != "βeta" {
		t.Fatalf("texts %q, %q", d.Text("a").String(), d.Text("b").String())
	}
	r := loadSnapshot(t, d.Snapshot())
	if r.Text("a").String() != "alpha" || r.Text("b").String() != "βeta" {
		t.Errorf("snapshot texts %q, %q", r.Text("a").String(), r.Text("b").String())
	}
	r2 := crdt.NewDocWithClient(2)
	mustApply(t, r2, u2)
	mustApply(t, r2, u1)
	if r2.Text("a").String() != "alpha" || r2.Text("b").String() != "βeta" {
		t.Errorf("remote texts %q, %q", r2.Text("a").String(), r2.Text("b").String())
	}
}

func TestEmptySnapshotLoads(t *testing.T) {
	d := crdt.NewDocWithClient(1)
	r := loadSnapshot(t, d.Snapshot())
	sameState(t, "empty", stateOf(t, r), stateOf(t, d))
	// An up-to-date peer's Diff must be applicable too.
	if _, err := d.Text("t").Insert(0, "x"); err != nil {
		t.Fatal(err)
	}
	mustApply(t, r, d.Snapshot())
	if u := d.Diff(r.StateVector()); u != nil {
		if err := r.Apply(u); err != nil {
			t.Errorf("applying an up-to-date Diff (%d bytes): %v", len(u), err)
		}
	}
	sameState(t, "diff", stateOf(t, r), stateOf(t, d))
}

func TestMapBasics(t *testing.T) {
	d := crdt.NewDocWithClient(1)
	m := d.Map("m")
	remote := crdt.NewDocWithClient(2)
	values := map[string]any{
		"str":   "värde 😀",
		"int":   42,
		"neg":   -7,
		"big":   int64(1) << 40,
		"bool":  true,
		"float": 2.5,
		"empty": "",
	}
	keys := make([]string, 0, len(values))
	for k, v := range values {
		u, err := m.Set(k, v)
		if err != nil || u == nil {
			t.Fatalf("Set(%q): %d bytes, %v", k, len(u), err)
		}
		mustApply(t, remote, u)
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if got := m.Keys(); !slices.Equal(got, keys) {
		t.Errorf("Keys() = %q, want %q", got, keys)
	}
	for _, doc := range []*crdt.Doc{d, remote} {
		got := mapContents(t, doc.Map("m"))
		for k, v := range values {
			if got[k] != normValue(v) {
				t.Errorf("client %d: Get(%q) = %#v, want %#v", doc.ClientID(), k, got[k], v)
			}
		}
		if len(got) != len(values) {
			t.Errorf("client %d: %d entries, want %d", doc.ClientID(), len(got), len(values))
		}
	}
	if v, ok := m.Get("missing"); ok || v != nil {
		t.Errorf("Get(missing) = %v, %v", v, ok)
	}
	u, err := m.Set("int", "now a string")
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, remote, u)
	u, err = m.Delete("bool")
	if err != nil || u == nil {
		t.Fatalf("Delete: %d bytes, %v", len(u), err)
	}
	mustApply(t, remote, u)
	for _, doc := range []*crdt.Doc{d, remote} {
		mm := doc.Map("m")
		if v, ok := mm.Get("int"); !ok || v != "now a string" {
			t.Errorf("client %d: overwritten int = %v, %v", doc.ClientID(), v, ok)
		}
		if v, ok := mm.Get("bool"); ok {
			t.Errorf("client %d: deleted key still there: %v", doc.ClientID(), v)
		}
		if mm.Len() != len(values)-1 || slices.Contains(mm.Keys(), "bool") {
			t.Errorf("client %d: Keys() = %q", doc.ClientID(), mm.Keys())
		}
	}
	sameState(t, "snapshot", stateOf(t, loadSnapshot(t, d.Snapshot())), stateOf(t, d))
	sameState(t, "remote", stateOf(t, remote), stateOf(t, d))
}

// permutations returns all orderings of 0..n-1.
func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			out = append(out, slices.Insert(slices.Clone(p), i, n-1))
		}
	}
	return out
}

func TestMapConcurrentSetsConverge(t *testing.T) {
	for _, ids := range [][]crdt.ClientID{{10, 20, 30}, {30, 20, 10}, {crdt.MaxClientID, 1, 1 << 32}} {
		t.Run(fmt.Sprint(ids), func(t *testing.T) {
			docs := make([]*crdt.Doc, len(ids))
			for i, id := range ids {
				docs[i] = crdt.NewDocWithClient(id)
			}
			// exchange runs one concurrent round: every replica's edit, then
			// delivery in every order to fresh docs and to the replicas.
			exchange := func(round string, edits []func(d *crdt.Doc) error) map[string]any {
				t.Helper()
				base := docs[0].Snapshot()
				updates := make([][]byte, len(docs))
				for i, d := range docs {
					u, err := d.Transact(func() error { return edits[i](d) })
					if err != nil || u == nil {
						t.Fatalf("%s: replica %d: %d bytes, %v", round, i, len(u), err)
					}
					updates[i] = u
				}
				var want map[string]any
				for _, p := range permutations(len(docs)) {
					f := loadSnapshot(t, base)
					for _, i := range p {
						mustApply(t, f, updates[i])
					}
					got := mapContents(t, f.Map("m"))
					if want == nil {
						want = got
					} else if !reflect.DeepEqual(got, want) {
						t.Fatalf("%s: order %v gives %v, another order %v", round, p, got, want)
					}
				}
				for i, d := range docs {
					for j, u := range updates {
						if i != j {
							mustApply(t, d, u)
						}
					}
					if got := mapContents(t, d.Map("m")); !reflect.DeepEqual(got, want) {
						t.Fatalf("%s: replica %d has %v, want %v", round, i, got, want)
					}
				}
				return want
			}
			vals := []any{"from-0", 1, "from-2"}
			got := exchange("sets", []func(*crdt.Doc) error{
				func(d *crdt.Doc) error { _, err := d.Map("m").Set("k", vals[0]); return err },
				func(d *crdt.Doc) error {
					if _, err := d.Map("m").Set("k", vals[1]); err != nil {
						return err
					}
					_, err := d.Map("m").Set("only1", true)
					return err
				},
				func(d *crdt.Doc) error { _, err := d.Map("m").Set("k", vals[2]); return err },
			})
			if !slices.ContainsFunc(vals, func(v any) bool { return normValue(v) == got["k"] }) {
				t.Fatalf("winner %v is none of the written values", got["k"])
			}
			if got["only1"] != true {
				t.Fatalf("uncontested key lost: %v", got)
			}
			// Concurrent set, delete and set of a key everyone has.
			got = exchange("set/delete", []func(*crdt.Doc) error{
				func(d *crdt.Doc) error { _, err := d.Map("m").Set("k", "again"); return err },
				func(d *crdt.Doc) error { _, err := d.Map("m").Delete("k"); return err },
				func(d *crdt.Doc) error { _, err := d.Map("m").Set("only1", "x"); return err },
			})
			if got["only1"] != "x" {
				t.Fatalf("uncontested set lost: %v", got)
			}
		})
	}
}

func TestMapCausallyLaterWins(t *testing.T) {
	for _, ids := range [][2]crdt.ClientID{{1, 2}, {2, 1}} {
		t.Run(fmt.Sprint(ids), func(t *testing.T) {
			a, b := crdt.NewDocWithClient(ids[0]), crdt.NewDocWithClient(ids[1])
			u1, err := a.Map("m").Set("k", "first")
			if err != nil {
				t.Fatal(err)
			}
			mustApply(t, b, u1)
			u2, err := b.Map("m").Set("k", "second")
			if err != nil {
				t.Fatal(err)
			}
			mustApply(t, a, u2)
			u3, err := a.Map("m").Set("gone", 1)
			if err != nil {
				t.Fatal(err)
			}
			mustApply(t, b, u3)
			u4, err := b.Map("m").Delete("gone")
			if err != nil {
				t.Fatal(err)
			}
			mustApply(t, a, u4)
			u5, err := a.Map("m").Delete("k")
			if err != nil {
				t.Fatal(err)
			}
			mustApply(t, b, u5)
			u6, err := b.Map("m").Set("k", "third")
			if err != nil {
				t.Fatal(err)
			}
			mustApply(t, a, u6)
			all := [][]byte{u1, u2, u3, u4, u5, u6}
			for _, order := range [][]int{{0, 1, 2, 3, 4, 5}, {5, 4, 3, 2, 1, 0}, {1, 3, 5, 0, 2, 4}} {
				f := crdt.NewDocWithClient(3)
				for _, i := range order {
					mustApply(t, f, all[i])
				}
				if f.HasPending() {
					t.Errorf("order %v: pending updates left", order)
				}
				for name, d := range map[string]*crdt.Doc{"a": a, "b": b, fmt.Sprint(order): f} {
					m := d.Map("m")
					if v, ok := m.Get("k"); !ok || v != "third" {
						t.Errorf("%s: k = %v, %v; want the causally last value", name, v, ok)
					}
					if v, ok := m.Get("gone"); ok {
						t.Errorf("%s: deleted key = %v", name, v)
					}
				}
			}
		})
	}
}

// TestApplyDoesNotRetainInput overwrites every update buffer right after
// Apply (as a network read loop reusing its buffer would) and checks that the
// document did not keep pointers into it, for integrated and pending changes.
func TestApplyDoesNotRetainInput(t *testing.T) {
	a := crdt.NewDocWithClient(1)
	var us [][]byte
	for _, f := range []func() ([]byte, error){
		func() ([]byte, error) { return a.Map("m").Set("key1", "value1") },
		func() ([]byte, error) { return a.Text("t").Insert(0, "text1😀") },
		func() ([]byte, error) { return a.Map("m").Set("key2", "value2") },
		func() ([]byte, error) { return a.Text("t").Insert(2, "text2中") },
	} {
		u, err := f()
		if err != nil {
			t.Fatal(err)
		}
		us = append(us, u)
	}
	want := stateOf(t, a)
	for name, order := range map[string][]int{"in order": {0, 1, 2, 3}, "pending first": {3, 2, 1, 0}} {
		t.Run(name, func(t *testing.T) {
			b := crdt.NewDocWithClient(2)
			for _, i := range order {
				buf := slices.Clone(us[i])
				mustApply(t, b, buf)
				for j := range buf {
					buf[j] = 'X'
				}
			}
			sameState(t, "after reusing the buffers", stateOf(t, b), want)
		})
	}
}

// Typing on past the most code points one item takes (a new item then
// begins) changes no byte: a run typed one code point at a time gives the
// updates and the snapshot of the same run inserted at once, on both sides
// of the bound and in text of one to four bytes per code point.
func TestTypingLongRun(t *testing.T) {
	for _, ch := range []string{"x", "é", "語", "🙂"} {
		for _, n := range []int{1023, 1024, 1025, 3000} {
			typed := crdt.NewDocWithClient(1)
			txt := typed.Text("t")
			receiver := crdt.NewDocWithClient(3)
			for i := range n {
				u, err := txt.Insert(i, ch)
				if err != nil {
					t.Fatal(err)
				}
				if err := receiver.Apply(u); err != nil {
					t.Fatal(err)
				}
			}
			whole := crdt.NewDocWithClient(1)
			if _, err := whole.Text("t").Insert(0, strings.Repeat(ch, n)); err != nil {
				t.Fatal(err)
			}
			snap := whole.Snapshot()
			if got := typed.Snapshot(); string(got) != string(snap) {
				t.Fatalf("%q ×%d: typed snapshot %d bytes differs from the inserted one's %d", ch, n, len(got), len(snap))
			}
			if got := receiver.Snapshot(); string(got) != string(snap) {
				t.Fatalf("%q ×%d: the receiver's snapshot differs", ch, n)
			}
			// A keystroke after the run, where a local update starts
			// inside an item, still holds only that keystroke.
			u, err := txt.Insert(n, "!")
			if err != nil {
				t.Fatal(err)
			}
			if err := receiver.Apply(u); err != nil || receiver.Text("t").String() != strings.Repeat(ch, n)+"!" {
				t.Fatalf("%q ×%d: receiver reads %d code points, %v", ch, n, receiver.Text("t").Len(), err)
			}
		}
	}
}
