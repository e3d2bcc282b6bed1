package crdt_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/flowstate/flowstate/crdt"
	"pgregory.net/rapid"
)

// A deltaModel is a rich text as a plain list of positions, each a code
// point or an embed with its attributes: what an editor's view holds. It
// replays deltas by Quill's rules, independently of the CRDT.
type deltaModel []modelCell

type modelCell struct {
	ins   any // a one-code-point string, or an embed value
	attrs map[string]any
}

// modelOf builds a model from a ToDelta.
func modelOf(ops []crdt.RichOp) deltaModel {
	var m deltaModel
	for _, op := range ops {
		if s, ok := op.Insert.(string); ok {
			for _, r := range s {
				m = append(m, modelCell{string(r), op.Attributes})
			}
			continue
		}
		m = append(m, modelCell{op.Insert, op.Attributes})
	}
	return m
}

// withAttrs returns attrs changed by ch (nil values remove keys), nil when
// empty. For an insert (replace set) the result is ch without removals.
func withAttrs(attrs, ch map[string]any, replace bool) map[string]any {
	out := map[string]any{}
	if !replace {
		for k, v := range attrs {
			out[k] = v
		}
	}
	for k, v := range ch {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// apply replays delta on m. With blockKeys, those keys apply to newlines
// only, as ApplyDelta does; event deltas are replayed without.
func (m deltaModel) apply(delta []crdt.DeltaOp, blockKeys []string) (deltaModel, error) {
	var out deltaModel
	pos := 0
	for i, op := range delta {
		attrsFor := func(c modelCell) map[string]any {
			if c.ins == "\n" || blockKeys == nil {
				return op.Attributes
			}
			ch := map[string]any{}
			for k, v := range op.Attributes {
				if !slices.Contains(blockKeys, k) {
					ch[k] = v
				}
			}
			return ch
		}
		switch {
		case op.Retain > 0:
			if pos+op.Retain > len(m) {
				return nil, fmt.Errorf("op %d: retain past the end", i)
			}
			for _, c := range m[pos : pos+op.Retain] {
				out = append(out, modelCell{c.ins, withAttrs(c.attrs, attrsFor(c), false)})
			}
			pos += op.Retain
		case op.Delete > 0:
			if pos+op.Delete > len(m) {
				return nil, fmt.Errorf("op %d: delete past the end", i)
			}
			pos += op.Delete
		case op.Embed != nil:
			c := modelCell{ins: op.Embed}
			c.attrs = withAttrs(nil, attrsFor(c), true)
			out = append(out, c)
		case op.Insert != "":
			for _, r := range op.Insert {
				c := modelCell{ins: string(r)}
				c.attrs = withAttrs(nil, attrsFor(c), true)
				out = append(out, c)
			}
		default:
			return nil, fmt.Errorf("op %d: empty", i)
		}
	}
	return append(out, m[pos:]...), nil
}

// json returns the model as the JSON of a ToDelta, so that values decoded
// from msgpack and Go values compare alike.
func (m deltaModel) json() string {
	var ops []crdt.RichOp
	for _, c := range m {
		s, isText := c.ins.(string)
		if n := len(ops); isText && n > 0 {
			last := &ops[n-1]
			if ls, ok := last.Insert.(string); ok && jsonOf(last.Attributes) == jsonOf(c.attrs) {
				last.Insert = ls + s
				continue
			}
		}
		ops = append(ops, crdt.RichOp{Insert: c.ins, Attributes: c.attrs})
	}
	return jsonOf(ops)
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// richText returns a Doc of client 1 and its Text "t" built by steps.
func richText(t *testing.T, steps ...richStep) (*crdt.Doc, *crdt.Text) {
	t.Helper()
	d := crdt.NewDocWithClient(1)
	for _, s := range steps {
		if _, err := s.run(d.Text("t")); err != nil {
			t.Fatal(err)
		}
	}
	return d, d.Text("t")
}

func attrs(kv ...any) map[string]any { return op("", kv...).Attributes }

var applyDeltaTests = []struct {
	name  string
	base  []richStep
	delta []crdt.DeltaOp
	want  []crdt.RichOp
}{
	{"insert with attributes", nil,
		[]crdt.DeltaOp{{Insert: "Hello", Attributes: attrs("bold", true)}, {Insert: " world"}},
		[]crdt.RichOp{op("Hello", "bold", true), op(" world")}},
	{"typing at the end of bold without bold is plain", steps(insStep(0, "abc"), formatStep(0, 3, "bold", true)),
		[]crdt.DeltaOp{{Retain: 3}, {Insert: "d"}},
		[]crdt.RichOp{op("abc", "bold", true), op("d")}},
	{"insert inside a link with other attributes", steps(insStep(0, "abcd"), formatStep(0, 4, "link", "x")),
		[]crdt.DeltaOp{{Retain: 2}, {Insert: "Z", Attributes: attrs("italic", true)}},
		[]crdt.RichOp{op("ab", "link", "x"), op("Z", "italic", true), op("cd", "link", "x")}},
	{"retain with attributes formats", steps(insStep(0, "abcdef")),
		[]crdt.DeltaOp{{Retain: 1}, {Retain: 3, Attributes: attrs("bold", true, "link", "u")}},
		[]crdt.RichOp{op("a"), op("bcd", "bold", true, "link", "u"), op("ef")}},
	{"retain with nil removes", steps(insStep(0, "abcdef"), formatStep(0, 6, "bold", true)),
		[]crdt.DeltaOp{{Retain: 2}, {Retain: 2, Attributes: attrs("bold", nil)}},
		[]crdt.RichOp{op("ab", "bold", true), op("cd"), op("ef", "bold", true)}},
	{"delete", steps(insStep(0, "abcdef")),
		[]crdt.DeltaOp{{Retain: 1}, {Delete: 2}, {Insert: "X"}},
		[]crdt.RichOp{op("aXdef")}},
	{"embed with attributes", steps(insStep(0, "ab")),
		[]crdt.DeltaOp{{Retain: 1}, {Embed: map[string]any{"image": "a.png"}, Attributes: attrs("link", "u")}},
		[]crdt.RichOp{op("a"), op(map[string]any{"image": "a.png"}, "link", "u"), op("b")}},
	{"block key on a retained newline", steps(insStep(0, "Title\nBody\n")),
		[]crdt.DeltaOp{{Retain: 5}, {Retain: 1, Attributes: attrs("header", 1)}},
		[]crdt.RichOp{op("Title"), op("\n", "header", 1), op("Body\n")}},
	{"block key over a whole line goes on its newline only", steps(insStep(0, "Title\nBody\n")),
		[]crdt.DeltaOp{{Retain: 11, Attributes: attrs("list", "bullet", "bold", true)}},
		[]crdt.RichOp{op("Title", "bold", true), op("\n", "bold", true, "list", "bullet"), op("Body", "bold", true), op("\n", "bold", true, "list", "bullet")}},
	{"inserted newline with a block key", steps(insStep(0, "ab\n")),
		[]crdt.DeltaOp{{Retain: 1}, {Insert: "\n", Attributes: attrs("header", 2)}},
		[]crdt.RichOp{op("a"), op("\n", "header", 2), op("b\n")}},
	{"inserted text takes no block key", steps(insStep(0, "ab\n")),
		[]crdt.DeltaOp{{Insert: "x\ny", Attributes: attrs("header", 2)}},
		[]crdt.RichOp{op("x"), op("\n", "header", 2), op("yab\n")}},
	{"removing a block key", steps(insStep(0, "ab\ncd\n"), richStep{Op: "block", Pos: 0, Key: "header", Value: 1}, richStep{Op: "block", Pos: 3, Key: "header", Value: 1}),
		[]crdt.DeltaOp{{Retain: 6, Attributes: attrs("header", nil)}},
		[]crdt.RichOp{op("ab\ncd\n")}},
	{"a Quill document from scratch", nil,
		[]crdt.DeltaOp{{Insert: "Title"}, {Insert: "\n", Attributes: attrs("header", 1)}, {Insert: "Some "},
			{Insert: "bold", Attributes: attrs("bold", true)}, {Insert: " text "}, {Embed: map[string]any{"image": "x.png"}},
			{Insert: "\n"}, {Insert: "item", Attributes: attrs("link", "https://a")}, {Insert: "\n", Attributes: attrs("list", "bullet", "indent", 1)}},
		[]crdt.RichOp{op("Title"), op("\n", "header", 1), op("Some "), op("bold", "bold", true), op(" text "),
			op(map[string]any{"image": "x.png"}), op("\n"), op("item", "link", "https://a"), op("\n", "indent", 1, "list", "bullet")}},
	{"a retain of what is already so makes no mark", steps(insStep(0, "abc"), formatStep(0, 3, "bold", true)),
		[]crdt.DeltaOp{{Retain: 3, Attributes: attrs("bold", true)}},
		[]crdt.RichOp{op("abc", "bold", true)}},
	{"code points, not bytes", steps(insStep(0, "日本😀語")),
		[]crdt.DeltaOp{{Retain: 2}, {Retain: 1, Attributes: attrs("bold", true)}, {Delete: 1}, {Insert: "é"}},
		[]crdt.RichOp{op("日本"), op("😀", "bold", true), op("é")}},
}

// TestApplyDelta applies deltas to small texts: the result matches the
// expected delta and the delta replayed on the old ToDelta, the update
// carries the same change to another replica, and a retain of values
// already set makes no update at all.
func TestApplyDelta(t *testing.T) {
	for _, tt := range applyDeltaTests {
		t.Run(tt.name, func(t *testing.T) {
			d, x := richText(t, tt.base...)
			before := d.Snapshot()
			old := modelOf(x.ToDelta())
			u, err := x.ApplyDelta(tt.delta)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := jsonOf(x.ToDelta()), jsonOf(tt.want); got != want {
				t.Fatalf("delta\n got  %s\n want %s", got, want)
			}
			replayed, err := old.apply(tt.delta, crdt.DefaultBlockKeys)
			if err != nil {
				t.Fatal(err)
			}
			if got := jsonOf(x.ToDelta()); got != replayed.json() {
				t.Fatalf("delta %s, replayed on the old one %s", got, replayed.json())
			}
			r := crdt.NewDocWithClient(2)
			mustApply(t, r, before)
			if u != nil {
				mustApply(t, r, u)
			}
			if got := jsonOf(r.Text("t").ToDelta()); got != jsonOf(tt.want) {
				t.Fatalf("remote delta %s", got)
			}
			if u2, err := x.ApplyDelta(tt.delta[:0]); err != nil || u2 != nil {
				t.Fatalf("empty delta: %x, %v", u2, err)
			}
		})
	}
	_, x := richText(t, insStep(0, "abc"), formatStep(0, 3, "bold", true))
	if u, err := x.ApplyDelta([]crdt.DeltaOp{{Retain: 3, Attributes: attrs("bold", true)}}); err != nil || u != nil {
		t.Fatalf("retain of values already set: update %x, %v", u, err)
	}
}

// TestApplyDeltaOneTransaction checks that a delta is one update and one
// event, inside Transact too.
func TestApplyDeltaOneTransaction(t *testing.T) {
	d, x := richText(t, insStep(0, "abc\n"))
	var events int
	x.Observe(func(crdt.TextEvent) { events++ })
	u, err := x.ApplyDelta([]crdt.DeltaOp{{Insert: "X", Attributes: attrs("bold", true)}, {Retain: 1}, {Delete: 1},
		{Retain: 2, Attributes: attrs("header", 1, "italic", true)}})
	if err != nil {
		t.Fatal(err)
	}
	if events != 1 {
		t.Fatalf("%d events, want 1", events)
	}
	r := crdt.NewDocWithClient(2)
	base, _ := richText(t, insStep(0, "abc\n"))
	mustApply(t, r, base.Snapshot())
	mustApply(t, r, u)
	if got, want := jsonOf(r.Text("t").ToDelta()), jsonOf(x.ToDelta()); got != want {
		t.Fatalf("remote %s, local %s", got, want)
	}
	u, err = d.Transact(func() error {
		u, err := x.ApplyDelta([]crdt.DeltaOp{{Retain: 1, Attributes: attrs("bold", nil)}})
		if u != nil {
			t.Errorf("update inside Transact")
		}
		return err
	})
	if err != nil || u == nil {
		t.Fatalf("Transact: %x, %v", u, err)
	}
}

var badDeltaTests = []struct {
	name  string
	delta []crdt.DeltaOp
	err   error
}{
	{"retain past the end", []crdt.DeltaOp{{Retain: 5}}, crdt.ErrOutOfRange},
	{"retain past the end after a delete", []crdt.DeltaOp{{Delete: 1}, {Retain: 3, Attributes: attrs("bold", true)}}, crdt.ErrOutOfRange},
	{"delete past the end", []crdt.DeltaOp{{Retain: 2}, {Delete: 3}}, crdt.ErrOutOfRange},
	{"empty op", []crdt.DeltaOp{{Insert: "a"}, {}}, crdt.ErrInvalidDelta},
	{"attributes alone", []crdt.DeltaOp{{Attributes: attrs("bold", true)}}, crdt.ErrInvalidDelta},
	{"two kinds", []crdt.DeltaOp{{Retain: 1, Insert: "a"}}, crdt.ErrInvalidDelta},
	{"text and embed", []crdt.DeltaOp{{Insert: "a", Embed: 1}}, crdt.ErrInvalidDelta},
	{"negative retain", []crdt.DeltaOp{{Retain: -1}}, crdt.ErrInvalidDelta},
	{"negative delete", []crdt.DeltaOp{{Delete: -1}}, crdt.ErrInvalidDelta},
	{"delete with attributes", []crdt.DeltaOp{{Delete: 1, Attributes: attrs("bold", true)}}, crdt.ErrInvalidDelta},
	{"invalid UTF-8 text", []crdt.DeltaOp{{Insert: "a\xff"}}, crdt.ErrInvalidDelta},
	{"invalid UTF-8 key", []crdt.DeltaOp{{Retain: 1, Attributes: attrs("b\xffold", true)}}, crdt.ErrInvalidDelta},
	{"value with no canonical form", []crdt.DeltaOp{{Insert: "x", Attributes: attrs("bold", make(chan int))}}, crdt.ErrInvalidDelta},
	{"embed with no canonical form", []crdt.DeltaOp{{Insert: "x"}, {Embed: func() {}}}, crdt.ErrInvalidDelta},
	{"bad op after good ones", []crdt.DeltaOp{{Insert: "x", Attributes: attrs("bold", true)}, {Retain: 1, Attributes: attrs("link", "u")}, {Delete: 9}}, crdt.ErrOutOfRange},
}

// TestApplyDeltaErrors checks that a bad delta returns its error and
// changes nothing: no update, no event, the same snapshot.
func TestApplyDeltaErrors(t *testing.T) {
	for _, tt := range badDeltaTests {
		t.Run(tt.name, func(t *testing.T) {
			d, x := richText(t, insStep(0, "ab\n"), formatStep(0, 2, "bold", true))
			before := d.Snapshot()
			x.Observe(func(e crdt.TextEvent) { t.Errorf("event %+v", e) })
			u, err := x.ApplyDelta(tt.delta)
			if !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if u != nil {
				t.Fatalf("update %x", u)
			}
			if !bytes.Equal(d.Snapshot(), before) {
				t.Fatal("the document changed")
			}
		})
	}
}

// TestDeltaOpJSON checks Quill's JSON shape both ways, embeds included.
func TestDeltaOpJSON(t *testing.T) {
	const in = `[{"insert":"Hi","attributes":{"bold":true}},{"insert":{"image":"a.png"}},{"retain":3,"attributes":{"header":1,"link":null}},{"delete":2},{"insert":"\n"}]`
	var ops []crdt.DeltaOp
	if err := json.Unmarshal([]byte(in), &ops); err != nil {
		t.Fatal(err)
	}
	want := []crdt.DeltaOp{{Insert: "Hi", Attributes: attrs("bold", true)}, {Embed: map[string]any{"image": "a.png"}},
		{Retain: 3, Attributes: map[string]any{"header": 1.0, "link": nil}}, {Delete: 2}, {Insert: "\n"}}
	if fmt.Sprint(ops) != fmt.Sprint(want) {
		t.Fatalf("decoded %v, want %v", ops, want)
	}
	if out := jsonOf(ops); out != in {
		t.Fatalf("encoded %s, want %s", out, in)
	}
	for _, bad := range []string{`{"retain":{"image":1}}`, `{"insert":null}`, `{"insert":"a","foo":1}`, `{"delete":"x"}`} {
		var op crdt.DeltaOp
		if err := json.Unmarshal([]byte(bad), &op); err == nil {
			t.Errorf("%s: decoded as %+v", bad, op)
		}
	}
	// Numbers from JSON are canonical integers, as Format makes them.
	d, x := richText(t, insStep(0, "ab\n"))
	e, y := richText(t, insStep(0, "ab\n"))
	if _, err := x.ApplyDelta(ops[2:3]); err != nil {
		t.Fatal(err)
	}
	ok(t)(y.SetBlock(0, "header", 1))
	if !bytes.Equal(d.Snapshot(), e.Snapshot()) {
		t.Fatal("header 1.0 from JSON and header 1 from Go make different bytes")
	}
}

// TestSetBlockKeys checks that a Text's block keys decide which keys go on
// newlines only.
func TestSetBlockKeys(t *testing.T) {
	_, x := richText(t, insStep(0, "ab\n"))
	if err := x.SetBlockKeys([]string{"bold"}); err != nil {
		t.Fatal(err)
	}
	ok(t)(x.ApplyDelta([]crdt.DeltaOp{{Retain: 3, Attributes: attrs("bold", true, "header", 1)}}))
	if got, want := jsonOf(x.ToDelta()), jsonOf([]crdt.RichOp{op("ab", "header", 1), op("\n", "bold", true, "header", 1)}); got != want {
		t.Fatalf("delta %s, want %s", got, want)
	}
	if err := x.SetBlockKeys([]string{"\xff"}); err == nil {
		t.Fatal("invalid key accepted")
	}
	if err := x.SetBlockKeys(nil); err != nil {
		t.Fatal(err)
	}
}

// deltaKeys are the attribute keys random deltas use: inline ones with
// both expand rules and block ones.
var deltaKeys = []string{"bold", "italic", "link", "header", "list"}

// randomDelta draws a delta valid on a text of n positions.
func randomDelta(t *rapid.T, n int) []crdt.DeltaOp {
	var ops []crdt.DeltaOp
	pos := 0
	randomAttrs := func(nilOK bool) map[string]any {
		var a map[string]any
		for _, k := range deltaKeys {
			switch rapid.IntRange(0, 5).Draw(t, "attr") {
			case 0:
				if a == nil {
					a = map[string]any{}
				}
				a[k] = rapid.SampledFrom([]any{true, "a", 2}).Draw(t, "value")
			case 1:
				if nilOK {
					if a == nil {
						a = map[string]any{}
					}
					a[k] = nil
				}
			}
		}
		return a
	}
	for range rapid.IntRange(1, 4).Draw(t, "ops") {
		switch k := rapid.IntRange(0, 5).Draw(t, "op"); {
		case k <= 1 && pos < n:
			m := rapid.IntRange(1, n-pos).Draw(t, "retain")
			ops = append(ops, crdt.DeltaOp{Retain: m, Attributes: randomAttrs(true)})
			pos += m
		case k == 2 && pos < n:
			m := rapid.IntRange(1, min(n-pos, 4)).Draw(t, "delete")
			ops = append(ops, crdt.DeltaOp{Delete: m})
			n -= m
		case k == 3:
			ops = append(ops, crdt.DeltaOp{Embed: map[string]any{"img": rapid.IntRange(0, 2).Draw(t, "img")}, Attributes: randomAttrs(false)})
			pos, n = pos+1, n+1
		default:
			s := textGen.Draw(t, "text")
			ops = append(ops, crdt.DeltaOp{Insert: s, Attributes: randomAttrs(false)})
			m := len([]rune(s))
			pos, n = pos+m, n+m
		}
	}
	return ops
}

// TestApplyDeltaModel applies random deltas to random rich texts: the
// result is always the delta replayed on the old ToDelta by Quill's rules.
func TestApplyDeltaModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d := crdt.NewDocWithClient(1)
		x := d.Text("t")
		for range rapid.IntRange(1, opSize(10, 30)).Draw(t, "steps") {
			if rapid.Bool().Draw(t, "delta") {
				old := modelOf(x.ToDelta())
				delta := randomDelta(t, x.Len())
				if _, err := x.ApplyDelta(delta); err != nil {
					t.Fatalf("ApplyDelta(%v): %v", delta, err)
				}
				want, err := old.apply(delta, crdt.DefaultBlockKeys)
				if err != nil {
					t.Fatal(err)
				}
				if got := jsonOf(x.ToDelta()); got != want.json() {
					t.Fatalf("ApplyDelta(%v)\n got  %s\n want %s", jsonOf(delta), got, want.json())
				}
			} else {
				richEdit(t, d)
			}
		}
	})
}

var richEventTests = []struct {
	name string
	base []richStep
	edit func(x *crdt.Text) ([]byte, error)
	want []crdt.DeltaOp
}{
	{"format", steps(insStep(0, "abcdef")),
		func(x *crdt.Text) ([]byte, error) { return x.Format(1, 3, "bold", true) },
		[]crdt.DeltaOp{{Retain: 1}, {Retain: 3, Attributes: attrs("bold", true)}}},
	{"unformat part of a mark", steps(insStep(0, "abcdef"), formatStep(0, 6, "bold", true)),
		func(x *crdt.Text) ([]byte, error) { return x.Format(2, 2, "bold", nil) },
		[]crdt.DeltaOp{{Retain: 2}, {Retain: 2, Attributes: attrs("bold", nil)}}},
	{"format over a mark changes only what differs", steps(insStep(0, "abcdef"), formatStep(0, 2, "bold", true)),
		func(x *crdt.Text) ([]byte, error) { return x.Format(0, 4, "bold", true) },
		[]crdt.DeltaOp{{Retain: 2}, {Retain: 2, Attributes: attrs("bold", true)}}},
	{"typing at the end of bold", steps(insStep(0, "abc"), formatStep(0, 3, "bold", true)),
		func(x *crdt.Text) ([]byte, error) { return x.Insert(3, "d") },
		[]crdt.DeltaOp{{Retain: 3}, {Insert: "d", Attributes: attrs("bold", true)}}},
	{"embed", steps(insStep(0, "ab")),
		func(x *crdt.Text) ([]byte, error) { return x.InsertEmbed(1, map[string]any{"image": "a.png"}) },
		[]crdt.DeltaOp{{Retain: 1}, {Embed: map[string]any{"image": "a.png"}}}},
	{"block", steps(insStep(0, "ab\ncd")),
		func(x *crdt.Text) ([]byte, error) { return x.SetBlock(0, "header", 1) },
		[]crdt.DeltaOp{{Retain: 2}, {Retain: 1, Attributes: attrs("header", 1)}}},
	{"delete in a rich text", steps(insStep(0, "abc"), formatStep(0, 3, "bold", true)),
		func(x *crdt.Text) ([]byte, error) { return x.Delete(1, 1) },
		[]crdt.DeltaOp{{Retain: 1}, {Delete: 1}}},
	{"a delta", steps(insStep(0, "abc\n")),
		func(x *crdt.Text) ([]byte, error) {
			return x.ApplyDelta([]crdt.DeltaOp{{Insert: "X", Attributes: attrs("link", "u")}, {Retain: 1}, {Delete: 1},
				{Embed: 7, Attributes: attrs("bold", true)}, {Retain: 2, Attributes: attrs("header", 1)}})
		},
		[]crdt.DeltaOp{{Insert: "X", Attributes: attrs("link", "u")}, {Retain: 1}, {Delete: 1}, {Embed: 7, Attributes: attrs("bold", true)},
			{Retain: 1}, {Retain: 1, Attributes: attrs("header", 1)}}},
	{"plain text unchanged", steps(insStep(0, "abc")),
		func(x *crdt.Text) ([]byte, error) { return x.Insert(1, "X") },
		[]crdt.DeltaOp{{Retain: 1}, {Insert: "X"}}},
}

// TestRichEvents checks the deltas of local and remote events of rich
// edits.
func TestRichEvents(t *testing.T) {
	for _, tt := range richEventTests {
		t.Run(tt.name, func(t *testing.T) {
			d, x := richText(t, tt.base...)
			r := crdt.NewDocWithClient(2)
			mustApply(t, r, d.Snapshot())
			var local, remote []crdt.TextEvent
			x.Observe(func(e crdt.TextEvent) { local = append(local, e) })
			r.Text("t").Observe(func(e crdt.TextEvent) { remote = append(remote, e) })
			u, err := tt.edit(x)
			if err != nil {
				t.Fatal(err)
			}
			mustApply(t, r, u)
			for _, evs := range [][]crdt.TextEvent{local, remote} {
				if len(evs) != 1 {
					t.Fatalf("%d events, want 1", len(evs))
				}
				if got, want := jsonOf(evs[0].Delta), jsonOf(tt.want); got != want {
					t.Fatalf("event (local %v) %s, want %s", evs[0].Local, got, want)
				}
			}
		})
	}
}

// TestRichEventsReplay has 2–3 replicas make random rich edits, deltas,
// blocks, undos and redos, in transactions of one or more, and exchange updates in
// random order and by state vector. Each replica keeps a model of its
// text fed only by its events: after every transaction, local or remote,
// the model equals ToDelta.
func TestRichEventsReplay(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(2, 3).Draw(t, "replicas")
		docs := make([]*crdt.Doc, n)
		models := make([]deltaModel, n)
		inbox := make([][][]byte, n)
		undo := make([]*crdt.UndoManager, n)
		broadcast := func(from int, u []byte) {
			for j := range docs {
				if j != from && u != nil {
					inbox[j] = append(inbox[j], u)
				}
			}
		}
		for i := range docs {
			i := i
			docs[i] = crdt.NewDocWithClient(replicaIDs[i])
			undo[i] = crdt.NewUndoManager(crdt.UndoOptions{CaptureTimeout: -1}, docs[i].Text("t"))
			docs[i].Text("t").Observe(func(e crdt.TextEvent) {
				m, err := models[i].apply(e.Delta, nil)
				if err != nil {
					t.Fatalf("replica %d: event %s on %s: %v", i, jsonOf(e.Delta), models[i].json(), err)
				}
				models[i] = m
			})
		}
		check := func(i int, what string) {
			if got, want := models[i].json(), jsonOf(docs[i].Text("t").ToDelta()); got != want {
				t.Fatalf("replica %d after %s: events give\n %s\nToDelta is\n %s", i, what, got, want)
			}
		}
		for range rapid.IntRange(1, opSize(20, 50)).Draw(t, "steps") {
			i := rapid.IntRange(0, n-1).Draw(t, "replica")
			d := docs[i]
			switch rapid.IntRange(0, 8).Draw(t, "action") {
			case 3, 4:
				f := undo[i].Undo
				if rapid.Bool().Draw(t, "redo") {
					f = undo[i].Redo
				}
				u, _ := f()
				check(i, "an undo or redo")
				broadcast(i, u)
				continue
			case 0, 1:
				if len(inbox[i]) == 0 {
					continue
				}
				k := rapid.IntRange(0, len(inbox[i])-1).Draw(t, "which")
				mustApply(t, d, inbox[i][k])
				inbox[i] = append(inbox[i][:k], inbox[i][k+1:]...)
				check(i, "an update")
				continue
			case 2:
				j := rapid.IntRange(0, n-1).Draw(t, "from")
				mustApply(t, d, docs[j].Diff(d.StateVector()))
				check(i, "a diff")
				continue
			}
			u, err := d.Transact(func() error {
				for range rapid.IntRange(1, 3).Draw(t, "edits") {
					x := d.Text("t")
					switch rapid.IntRange(0, 3).Draw(t, "kind") {
					case 0:
						if _, err := x.ApplyDelta(randomDelta(t, x.Len())); err != nil {
							return err
						}
					case 1:
						if x.Len() > 0 {
							pos := rapid.IntRange(0, x.Len()-1).Draw(t, "pos")
							key := rapid.SampledFrom([]string{"header", "list"}).Draw(t, "key")
							var v any = rapid.SampledFrom([]any{nil, 1, "x"}).Draw(t, "value")
							if _, err := x.SetBlock(pos, key, v); err != nil && !errors.Is(err, crdt.ErrOutOfRange) {
								return err
							}
						}
					default:
						richEdit(t, d)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			check(i, "a local transaction")
			broadcast(i, u)
		}
		for i := range docs {
			for _, u := range inbox[i] {
				mustApply(t, docs[i], u)
				check(i, "the last updates")
			}
		}
		for i := range docs[1:] {
			if got, want := jsonOf(docs[i+1].Text("t").ToDelta()), jsonOf(docs[0].Text("t").ToDelta()); got != want {
				t.Fatalf("replica %d: %s, replica 0: %s", i+1, got, want)
			}
		}
	})
}

// FuzzApplyDelta decodes JSON deltas and applies them to a small rich
// text: decoding never panics, a decoded delta encodes and decodes again,
// and ApplyDelta either applies it, giving the same text on a replica that
// applies its update, or returns an error and changes nothing.
func FuzzApplyDelta(f *testing.F) {
	for _, tt := range applyDeltaTests {
		f.Add([]byte(jsonOf(tt.delta)))
	}
	for _, tt := range badDeltaTests {
		if b, err := json.Marshal(tt.delta); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`[{"insert":{"image":"a.png"},"attributes":{"link":null}},{"retain":{"x":1}}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var delta []crdt.DeltaOp
		if json.Unmarshal(b, &delta) != nil {
			return
		}
		again, err := json.Marshal(delta)
		if err != nil {
			return // values JSON cannot hold, such as NaN, never decode
		}
		var back []crdt.DeltaOp
		if err := json.Unmarshal(again, &back); err != nil {
			t.Fatalf("%s re-encoded as %s does not decode: %v", b, again, err)
		}
		d, x := richText(t, insStep(0, "ab\ncd\n"), formatStep(1, 3, "bold", true), embedStep(4, 1))
		before := d.Snapshot()
		r := crdt.NewDocWithClient(2)
		mustApply(t, r, before)
		u, err := x.ApplyDelta(delta)
		if err != nil {
			if !bytes.Equal(d.Snapshot(), before) {
				t.Fatalf("%s: error %v, but the document changed", b, err)
			}
			return
		}
		if u != nil {
			mustApply(t, r, u)
		}
		if got, want := jsonOf(r.Text("t").ToDelta()), jsonOf(x.ToDelta()); got != want {
			t.Fatalf("%s: replica %s, local %s", b, got, want)
		}
	})
}
