package crdt_test

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/flowstate/flowstate/crdt"
	"pgregory.net/rapid"
)

// ins is a text op of an expected delta, with attributes given as
// alternating keys and values.
func op(s any, kv ...any) crdt.RichOp {
	op := crdt.RichOp{Insert: s}
	if len(kv) > 0 {
		op.Attributes = map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			op.Attributes[kv[i].(string)] = kv[i+1]
		}
	}
	return op
}

// ok returns a function that fails t if an edit returns an error.
func ok(t testing.TB) func([]byte, error) {
	return func(_ []byte, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// sameDelta fails t unless got equals want.
func sameDelta(t rapid.TB, what string, got, want []crdt.RichOp) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: delta\n got  %v\n want %v", what, got, want)
	}
}

// TestRichLocal checks formatting on one replica: where typing at a mark's
// edges lands, removal, later marks beating earlier ones, embeds.
func TestRichLocal(t *testing.T) {
	tests := []struct {
		name string
		edit func(t *testing.T, x *crdt.Text)
		want []crdt.RichOp
	}{
		{"bold", func(t *testing.T, x *crdt.Text) {
			ok(t)(x.Format(0, 3, "bold", true))
		}, []crdt.RichOp{op("abc", "bold", true), op("def")}},
		{"typing at the end of bold is bold", func(t *testing.T, x *crdt.Text) {
			ok(t)(x.Format(0, 3, "bold", true))
			ok(t)(x.Insert(3, "X"))
		}, []crdt.RichOp{op("abcX", "bold", true), op("def")}},
		{"typing at the end of the text after bold is bold", func(t *testing.T, x *crdt.Text) {
			ok(t)(x.Format(3, 3, "bold", true))
			ok(t)(x.Insert(6, "X"))
		}, []crdt.RichOp{op("abc"), op("defX", "bold", true)}},
		{"typing at the start of bold is not bold", func(t *testing.T, x *crdt.Text) {
			ok(t)(x.Format(3, 3, "bold", true))
			ok(t)(x.Insert(3, "X"))
		}, []crdt.RichOp{op("abcX"), op("def", "bold", true)}},
		{"typing at the end of a link is not linked", func(t *testing.T, x *crdt.Text) {
			ok(t)(x.Format(0, 3, "link", "u"))
			ok(t)(x.Insert(3, "X"))
		}, []crdt.RichOp{op("abc", "link", "u"), op("Xdef")}},
		{"typing inside a link is linked", func(t *testing.T, x *crdt.Text) {
			ok(t)(x.Format(0, 3, "link", "u"))
			ok(t)(x.Insert(2, "X"))
		}, []crdt.RichOp{op("abXc", "link", "u"), op("def")}},
		{"bold and a link ending together", func(t *testing.T, x *crdt.Text) {
			ok(t)(x.Format(0, 3, "link", "u"))
			ok(t)(x.Format(0, 3, "bold", true))
			ok(t)(x.Insert(3, "X"))
		}, []crdt.RichOp{op("abc", "bold", true, "link", "u"), op("X", "bold", true), op("def")}},
		{"a link ending where bold starts", func(t *testing.T, x *crdt.Text) {
			ok(t)(x.Format(0, 3, "link", "u"))
			ok(t)(x.Format(3, 3, "bold", true))
			ok(t)(x.Insert(3, "X"))
		}, []crdt.RichOp{op("abc", "link", "u"), op("X"), op("def", "bold", true)}},
		{"unbold a middle part", func(t *testing.T, x *crdt.Text) {
			ok(t)(x.Format(0, 6, "bold", true))
			ok(t)(x.Format(2, 2, "bold", nil))
		}, []crdt.RichOp{op("ab", "bold", true), op("cd"), op("ef", "bold", true)}},
		{"a later value wins", func(t *testing.T, x *crdt.Text) {
			ok(t)(x.Format(0, 4, "link", "u"))
			ok(t)(x.Format(2, 4, "link", "v"))
		}, []crdt.RichOp{op("ab", "link", "u"), op("cdef", "link", "v")}},
		{"deleting formatted text keeps the rest formatted", func(t *testing.T, x *crdt.Text) {
			ok(t)(x.Format(1, 4, "italic", true))
			ok(t)(x.Delete(2, 2))
			ok(t)(x.Insert(2, "X"))
		}, []crdt.RichOp{op("a"), op("bXe", "italic", true), op("f")}},
		{"embed", func(t *testing.T, x *crdt.Text) {
			ok(t)(x.InsertEmbed(3, map[string]any{"image": "p.png"}))
			ok(t)(x.Format(2, 3, "bold", true))
		}, []crdt.RichOp{op("ab"), op("c", "bold", true), op(map[string]any{"image": "p.png"}, "bold", true), op("d", "bold", true), op("ef")}},
		{"deleted embed", func(t *testing.T, x *crdt.Text) {
			ok(t)(x.InsertEmbed(3, "e"))
			ok(t)(x.Delete(3, 1))
		}, []crdt.RichOp{op("abcdef")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := crdt.NewDocWithClient(1)
			x := d.Text("t")
			ok(t)(x.Insert(0, "abcdef"))
			tt.edit(t, x)
			sameDelta(t, "local", x.ToDelta(), tt.want)
			// The snapshot carries it all.
			e := crdt.NewDocWithClient(2)
			if err := e.Apply(d.Snapshot()); err != nil {
				t.Fatal(err)
			}
			sameDelta(t, "loaded", e.Text("t").ToDelta(), tt.want)
			if !bytes.Equal(e.Snapshot(), d.Snapshot()) {
				t.Fatal("snapshot of the loaded copy differs")
			}
		})
	}
}

// TestRichPositionsSkipAnchors checks that anchors take no position and
// that an embed takes one.
func TestRichPositionsSkipAnchors(t *testing.T) {
	d := crdt.NewDocWithClient(1)
	x := d.Text("t")
	ok(t)(x.Insert(0, "abcd"))
	ok(t)(x.Format(1, 2, "bold", true))
	ok(t)(x.Format(0, 4, "link", "u"))
	ok(t)(x.InsertEmbed(2, 7))
	if x.Len() != 5 || x.String() != "ab\uFFFCcd" {
		t.Fatalf("Len %d, String %q", x.Len(), x.String())
	}
	ok(t)(x.Delete(1, 3))
	if x.Len() != 2 || x.String() != "ad" {
		t.Fatalf("after delete: Len %d, String %q", x.Len(), x.String())
	}
}

// TestRichErrors checks that bad calls change nothing.
func TestRichErrors(t *testing.T) {
	d := crdt.NewDocWithClient(1)
	x := d.Text("t")
	ok(t)(x.Insert(0, "abc"))
	snap := d.Snapshot()
	for _, tt := range []struct {
		name string
		call func() ([]byte, error)
	}{
		{"format past the end", func() ([]byte, error) { return x.Format(2, 2, "bold", true) }},
		{"format at a negative position", func() ([]byte, error) { return x.Format(-1, 1, "bold", true) }},
		{"invalid key", func() ([]byte, error) { return x.Format(0, 1, "\xff", true) }},
		{"value without a msgpack form", func() ([]byte, error) { return x.Format(0, 1, "bold", func() {}) }},
		{"embed past the end", func() ([]byte, error) { return x.InsertEmbed(4, 1) }},
		{"embed without a msgpack form", func() ([]byte, error) { return x.InsertEmbed(0, make(chan int)) }},
	} {
		if u, err := tt.call(); err == nil || u != nil {
			t.Errorf("%s: update %x, error %v", tt.name, u, err)
		}
	}
	if err := x.SetMarkSchema(crdt.MarkSchema{"x": 2}); err == nil {
		t.Error("SetMarkSchema accepted a reserved rule")
	}
	if !bytes.Equal(d.Snapshot(), snap) {
		t.Fatal("a refused call changed the document")
	}
}

// TestRichMarkSchema checks that a key's rule comes from the Text's schema
// and travels with the mark.
func TestRichMarkSchema(t *testing.T) {
	d := crdt.NewDocWithClient(1)
	x := d.Text("t")
	ok(t)(x.Insert(0, "ab"))
	if err := x.SetMarkSchema(crdt.MarkSchema{"bold": crdt.ExpandNone, "hl": crdt.ExpandAfter}); err != nil {
		t.Fatal(err)
	}
	ok(t)(x.Format(0, 1, "bold", true))
	ok(t)(x.Format(1, 1, "hl", "y"))
	e := crdt.NewDocWithClient(2)
	if err := e.Apply(d.Snapshot()); err != nil {
		t.Fatal(err)
	}
	y := e.Text("t") // default schema: the rules stored in the marks count
	ok(t)(y.Insert(2, "Y"))
	ok(t)(y.Insert(1, "X"))
	sameDelta(t, "delta", y.ToDelta(), []crdt.RichOp{op("a", "bold", true), op("X"), op("bY", "hl", "y")})
}

// TestRichVersion checks the version switch: plain updates stay version 1,
// rich ones are version 3, the same records under version 2 (5 elements,
// no mark table) still apply, and a version 1 update holding a rich record
// is refused.
func TestRichVersion(t *testing.T) {
	d := crdt.NewDocWithClient(1)
	x := d.Text("t")
	u1, _ := x.Insert(0, "ab")
	if u1[1] != 1 {
		t.Fatalf("plain update has version %d", u1[1])
	}
	u2, _ := x.Format(0, 2, "bold", true)
	if u2[0] != 0x96 || u2[1] != 3 || u2[len(u2)-1] != 0x90 {
		t.Fatalf("rich update % x: want version 3 and an empty mark table (no compact mark from the text's start)", u2)
	}
	// The same records without the mark table, as versions 1 and 2 frame them.
	asV := func(v byte) []byte {
		b := bytes.Clone(u2[:len(u2)-1])
		b[0], b[1] = 0x95, v
		return b
	}
	e := crdt.NewDocWithClient(2)
	if err := e.Apply(u1); err != nil {
		t.Fatal(err)
	}
	var de *crdt.DecodeError
	if err := e.Apply(asV(1)); !errors.As(err, &de) {
		t.Fatalf("version 1 update with a rich record: %v", err)
	}
	if err := e.Apply(asV(2)); err != nil {
		t.Fatalf("version 2 update: %v", err)
	}
	if !bytes.Equal(e.Snapshot(), d.Snapshot()) {
		t.Fatal("the version 2 update does not give the document the version 3 one does")
	}
	if err := e.Apply(u2); err != nil {
		t.Fatal(err)
	}
	sameDelta(t, "after the good update", e.Text("t").ToDelta(), []crdt.RichOp{op("ab", "bold", true)})
}

// richEdit draws and performs one edit of a rich text: inserts, deletes,
// formats, unformats and embeds.
func richEdit(t *rapid.T, d *crdt.Doc) []byte {
	x := d.Text("t")
	var u []byte
	var err error
	switch k := rapid.IntRange(0, 9).Draw(t, "edit"); {
	case k <= 3 || x.Len() == 0:
		u, err = x.Insert(rapid.IntRange(0, x.Len()).Draw(t, "pos"), textGen.Draw(t, "text"))
	case k <= 5:
		pos := rapid.IntRange(0, x.Len()-1).Draw(t, "pos")
		u, err = x.Delete(pos, rapid.IntRange(1, min(x.Len()-pos, 4)).Draw(t, "n"))
	case k <= 7:
		pos := rapid.IntRange(0, x.Len()-1).Draw(t, "pos")
		n := rapid.IntRange(1, x.Len()-pos).Draw(t, "n")
		key := rapid.SampledFrom([]string{"bold", "italic", "link", "comment"}).Draw(t, "key")
		var v any = rapid.SampledFrom([]string{"a", "b"}).Draw(t, "value")
		if k == 7 {
			v = nil
		}
		u, err = x.Format(pos, n, key, v)
	default:
		u, err = x.InsertEmbed(rapid.IntRange(0, x.Len()).Draw(t, "pos"), map[string]any{"img": rapid.IntRange(0, 3).Draw(t, "img")})
	}
	if err != nil {
		t.Fatalf("edit: %v", err)
	}
	return u
}

// TestRichConvergence has 2–5 replicas make random rich edits and exchange
// their updates in random order, some twice, and diffs by state vector:
// after a full exchange every replica has
// the same delta and the same snapshot bytes, and the snapshot reloads to
// them.
func TestRichConvergence(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(2, 5).Draw(t, "replicas")
		docs := make([]*crdt.Doc, n)
		inbox := make([][][]byte, n) // updates not yet delivered to each replica
		for i := range docs {
			docs[i] = crdt.NewDocWithClient(replicaIDs[i])
		}
		for range rapid.IntRange(1, opSize(20, 60)).Draw(t, "steps") {
			i := rapid.IntRange(0, n-1).Draw(t, "replica")
			switch rapid.IntRange(0, 7).Draw(t, "action") {
			case 0, 1: // deliver one update, sometimes keeping it to deliver again
				if len(inbox[i]) == 0 {
					continue
				}
				k := rapid.IntRange(0, len(inbox[i])-1).Draw(t, "which")
				if err := docs[i].Apply(inbox[i][k]); err != nil {
					t.Fatalf("apply: %v", err)
				}
				if rapid.Bool().Draw(t, "again") {
					inbox[i] = append(inbox[i][:k], inbox[i][k+1:]...)
				}
				continue
			case 2: // catch up with another replica by state vector
				j := rapid.IntRange(0, n-1).Draw(t, "from")
				if err := docs[i].Apply(docs[j].Diff(docs[i].StateVector())); err != nil {
					t.Fatalf("apply diff: %v", err)
				}
				continue
			}
			if u := richEdit(t, docs[i]); u != nil {
				for j := range docs {
					if j != i {
						inbox[j] = append(inbox[j], u)
					}
				}
			}
		}
		for i := range docs {
			for _, u := range inbox[i] {
				if err := docs[i].Apply(u); err != nil {
					t.Fatalf("apply: %v", err)
				}
			}
		}
		want, snap := docs[0].Text("t").ToDelta(), docs[0].Snapshot()
		for i, d := range docs[1:] {
			sameDelta(t, fmt.Sprint("replica ", i+1), d.Text("t").ToDelta(), want)
			if !bytes.Equal(d.Snapshot(), snap) {
				t.Fatalf("replica %d: snapshot differs", i+1)
			}
		}
		e := crdt.NewDocWithClient(9)
		if err := e.Apply(snap); err != nil {
			t.Fatalf("reload: %v", err)
		}
		sameDelta(t, "reloaded", e.Text("t").ToDelta(), want)
		if !bytes.Equal(e.Snapshot(), snap) {
			t.Fatal("reloaded snapshot differs")
		}
	})
}

// richSeeds returns updates and snapshots holding every rich record shape.
func richSeeds(t testing.TB) [][]byte {
	d := crdt.NewDocWithClient(1)
	x := d.Text("t")
	var out [][]byte
	add := func(u []byte, err error) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	add(x.Insert(0, "hello world"))
	add(x.Format(0, 5, "bold", true))
	add(x.Format(6, 5, "link", "https://x"))
	add(x.Format(2, 2, "bold", nil))
	add(x.InsertEmbed(5, map[string]any{"image": "a.png"}))
	add(x.Delete(4, 3))
	add(d.Transact(func() error {
		if _, err := x.InsertEmbed(0, 1); err != nil {
			return err
		}
		_, err := x.Delete(0, 1)
		return err
	}))
	// Version 3 shapes: marks chained by seq in one update, the second
	// with a kind index past 7; text typed after a run across a mark
	// (a continuation in the snapshot); a delete range over the
	// update's own anchors.
	add(d.Transact(func() error {
		for i := range 9 {
			if _, err := x.Format(1+i%4, 1, fmt.Sprint("k", i), i); err != nil {
				return err
			}
		}
		return nil
	}))
	add(x.Insert(3, "ab"))
	add(x.Format(2, 1, "italic", true))
	add(x.Insert(5, "c"))
	add(d.Transact(func() error {
		if _, err := x.Insert(0, "uv"); err != nil {
			return err
		}
		if _, err := x.Format(1, 1, "bold", true); err != nil {
			return err
		}
		if _, err := x.Insert(2, "w"); err != nil {
			return err
		}
		_, err := x.Delete(1, 2)
		return err
	}))
	out = append(out, d.Snapshot())
	return out
}

// FuzzApplyRich applies arbitrary bytes to a document holding rich
// content: a refused update changes nothing; an accepted one leaves a
// document whose snapshot reloads to the same delta and bytes.
func FuzzApplyRich(f *testing.F) {
	seeds := richSeeds(f)
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := crdt.NewDocWithClient(2)
		if err := d.Apply(seeds[len(seeds)-1]); err != nil {
			t.Fatal(err)
		}
		before := d.Snapshot()
		if err := d.Apply(data); err != nil {
			if !bytes.Equal(d.Snapshot(), before) {
				t.Fatalf("refused update (%v) changed the document", err)
			}
			return
		}
		snap := d.Snapshot()
		e := crdt.NewDocWithClient(3)
		if err := e.Apply(snap); err != nil {
			t.Fatalf("snapshot does not reload: %v", err)
		}
		sameDelta(t, "reloaded", e.Text("t").ToDelta(), d.Text("t").ToDelta())
		if !bytes.Equal(e.Snapshot(), snap) {
			t.Fatal("reloaded snapshot differs")
		}
	})
}

// TestRichCorruptedUpdates runs FuzzApplyRich's check on every single-byte
// change and truncation of the rich seeds.
func TestRichCorruptedUpdates(t *testing.T) {
	seeds := richSeeds(t)
	base := seeds[len(seeds)-1]
	for si, seed := range seeds {
		for i := range seed {
			for _, v := range []byte{seed[i] ^ 0x01, seed[i] ^ 0x80, seed[i] + 1, 0x00, 0xc0, 0x93} {
				mut := bytes.Clone(seed)
				mut[i] = v
				d := crdt.NewDocWithClient(2)
				if si < len(seeds)-1 {
					_ = d.Apply(base)
				}
				before := d.Snapshot()
				if err := d.Apply(mut); err != nil {
					if !bytes.Equal(d.Snapshot(), before) {
						t.Fatalf("seed %d byte %d = %#x: refused update (%v) changed the document", si, i, v, err)
					}
					continue
				}
				e := crdt.NewDocWithClient(3)
				if err := e.Apply(d.Snapshot()); err != nil {
					t.Fatalf("seed %d byte %d = %#x: snapshot does not reload: %v", si, i, v, err)
				}
				sameDelta(t, "reloaded", e.Text("t").ToDelta(), d.Text("t").ToDelta())
			}
		}
	}
}

// TestRichBlocks checks block attributes: carried by the newline ending the
// block, not taken by text typed in the block, concurrently too.
func TestRichBlocks(t *testing.T) {
	d := crdt.NewDocWithClient(1)
	x := d.Text("t")
	ok(t)(x.Insert(0, "Title\nBody\nEnd"))
	ok(t)(x.SetBlock(2, "header", "h1"))
	ok(t)(x.SetBlock(6, "list", "bullet"))
	if _, err := x.SetBlock(12, "list", "bullet"); !errors.Is(err, crdt.ErrOutOfRange) {
		t.Fatalf("SetBlock in the last block without a newline: %v", err)
	}
	sameDelta(t, "set", x.ToDelta(), []crdt.RichOp{op("Title"), op("\n", "header", "h1"), op("Body"), op("\n", "list", "bullet"), op("End")})

	e := crdt.NewDocWithClient(2)
	if err := e.Apply(d.Snapshot()); err != nil {
		t.Fatal(err)
	}
	ua, _ := x.Insert(5, "!")          // typing at the end of the title
	ub, _ := e.Text("t").Delete(10, 1) // joining Body and End: the list item goes
	uc, _ := e.Text("t").Insert(2, "\n")
	for _, u := range [][]byte{ub, uc} {
		if err := d.Apply(u); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Apply(ua); err != nil {
		t.Fatal(err)
	}
	want := []crdt.RichOp{op("Ti\ntle!"), op("\n", "header", "h1"), op("BodyEnd")}
	sameDelta(t, "here", x.ToDelta(), want)
	sameDelta(t, "there", e.Text("t").ToDelta(), want)
	ok(t)(x.Insert(8, ">")) // typing at the start of the next block
	sameDelta(t, "next block", x.ToDelta(), []crdt.RichOp{op("Ti\ntle!"), op("\n", "header", "h1"), op(">BodyEnd")})
	ok(t)(x.SetBlock(3, "header", nil))
	sameDelta(t, "removed", x.ToDelta(), []crdt.RichOp{op("Ti\ntle!\n>BodyEnd")})
}
