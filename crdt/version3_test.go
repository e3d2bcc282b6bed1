package crdt_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/flowstate/flowstate/crdt"
	"github.com/vmihailenco/msgpack/v5"
)

// Format version 3 (compact marks): the canonical choice between a compact
// mark and the version 2 pair, the continuation, the delete ranges across
// anchors, and every refusal of a decoder.

// columnRecords names the records of a version 3 record column in order:
// text, skip, parent, map, start, end, embed, mark (p = 8) and mark+text
// (p = 12), reading each record's operands by its header as FORMAT.md §4.3,
// RICH.md §R6 and the compact marks lay them out.
func columnRecords(t *testing.T, col []byte) []string {
	t.Helper()
	pos := 0
	next := func() uint64 {
		var x uint64
		for shift := uint(0); ; shift += 7 {
			if pos >= len(col) {
				t.Fatalf("column % x ends inside a varint", col)
			}
			c := col[pos]
			pos++
			x |= uint64(c&0x7f) << shift
			if c < 0x80 {
				return x
			}
		}
	}
	// Operands of an origin mode: none and after-left or prev take none,
	// delta one, explicit two.
	left := map[uint64]int{0: 0, 1: 1, 2: 2, 3: 0}
	right := map[uint64]int{0: 0, 1: 0, 2: 1, 3: 2}
	skip := func(n int) {
		for range n {
			next()
		}
	}
	var out []string
	for pos < len(col) {
		h := next()
		if h&1 == 0 {
			out = append(out, "text")
			skip(1 + int(h>>1&1))
			continue
		}
		p := h >> 3
		switch h >> 1 & 3 {
		case 0:
			out = append(out, "text")
			skip(left[p&3] + right[p>>2&3])
		case 2:
			out = append(out, "skip")
		case 3:
			out = append(out, "parent")
		case 1:
			switch {
			case p == 0:
				out = append(out, "map")
			case p&3 != 0:
				out = append(out, [...]string{1: "start", 2: "end", 3: "embed"}[p&3])
				skip(left[p>>2&3] + right[p>>4&3])
				if p&3 == 1 {
					skip(1) // seq
				}
			default:
				a := next()
				if a&7 == 7 {
					skip(1)
				}
				if a>>3&1 == 1 {
					skip(1)
				}
				if next()&3 == 2 {
					skip(1)
				}
				if p == 12 {
					skip(1)
					out = append(out, "mark+text")
				} else {
					out = append(out, "mark")
				}
			}
		}
	}
	return out
}

// v3Parts decodes an update's top level far enough for these tests: the
// record column of each block (by client) and the mark table's length.
type v3Parts struct {
	version int
	columns map[uint64][]byte
	entries map[uint64]int
	marks   int
	clients []uint64
}

func partsOf(t *testing.T, u []byte) v3Parts {
	t.Helper()
	var top []msgpack.RawMessage
	if err := msgpack.Unmarshal(u, &top); err != nil {
		t.Fatal(err)
	}
	var p v3Parts
	mustUnmarshal(t, top[0], &p.version)
	mustUnmarshal(t, top[2], &p.clients)
	var blocks [][]msgpack.RawMessage
	mustUnmarshal(t, top[4], &blocks)
	p.columns, p.entries = map[uint64][]byte{}, map[uint64]int{}
	for _, b := range blocks {
		var ci uint64
		var col []byte
		var entries []msgpack.RawMessage
		mustUnmarshal(t, b[0], &ci)
		mustUnmarshal(t, b[2], &col)
		mustUnmarshal(t, b[4], &entries)
		p.columns[p.clients[ci]] = col
		p.entries[p.clients[ci]] = len(entries)
	}
	if len(top) == 6 {
		var marks []msgpack.RawMessage
		mustUnmarshal(t, top[5], &marks)
		p.marks = len(marks)
	}
	return p
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := msgpack.Unmarshal(b, v); err != nil {
		t.Fatalf("% x: %v", b, err)
	}
}

// recordsOf returns the records of client c's block in u.
func recordsOf(t *testing.T, u []byte, c crdt.ClientID) string {
	t.Helper()
	p := partsOf(t, u)
	if p.version != 3 {
		t.Fatalf("version %d, want 3", p.version)
	}
	return strings.Join(columnRecords(t, p.columns[uint64(c)]), " ")
}

// sameAfterLoad checks that snapshot s loads into a document with the
// delta of d and the same snapshot bytes.
func sameAfterLoad(t *testing.T, d *crdt.Doc, s []byte) {
	t.Helper()
	e := crdt.NewDoc()
	if err := e.Apply(s); err != nil {
		t.Fatalf("snapshot does not load: %v", err)
	}
	sameDelta(t, "loaded", e.Text("t").ToDelta(), d.Text("t").ToDelta())
	if !bytes.Equal(e.Snapshot(), s) {
		t.Fatal("the loaded snapshot encodes otherwise")
	}
}

// snapshotRecords checks that the snapshot of d holds the records want in
// client 1's block, and loads to the same document (sameAfterLoad).
func snapshotRecords(t *testing.T, what string, d *crdt.Doc, want string) {
	t.Helper()
	snap := d.Snapshot()
	if got := recordsOf(t, snap, 1); got != want {
		t.Fatalf("%s: records %q", what, got)
	}
	sameAfterLoad(t, d, snap)
}

// TestCompactMarkChoice checks the canonical choice: a mark whose anchors
// meet conditions (i) to (v) is one compact record, and each condition
// failing alone gives the version 2 pair.
func TestCompactMarkChoice(t *testing.T) {
	type edit struct {
		client crdt.ClientID
		f      func(x *crdt.Text) ([]byte, error)
	}
	ins := func(c crdt.ClientID, pos int, s string) edit {
		return edit{c, func(x *crdt.Text) ([]byte, error) { return x.Insert(pos, s) }}
	}
	format := func(c crdt.ClientID, pos, n int, key string) edit {
		return edit{c, func(x *crdt.Text) ([]byte, error) { return x.Format(pos, n, key, true) }}
	}
	tests := []struct {
		name  string
		edits []edit
		// want: the records of the last edit's update, and of its
		// client's block in the snapshot.
		update, snapshot string
	}{
		{"all hold", []edit{ins(1, 0, "abcd"), format(1, 1, 2, "bold")},
			"parent mark", "parent text mark"},
		{"(i) no left origin", []edit{ins(1, 0, "abcd"), format(1, 0, 2, "bold")},
			"parent start end", "parent text start end"},
		{"(i) left origin of another client", []edit{ins(1, 0, "abcd"), format(2, 1, 2, "bold")},
			"parent start end", "parent start end"},
		// 2 types X between a and b, then bolds "b": the start anchor sits
		// after X (its own) and before b (client 1's).
		{"(ii) right origin of another client", []edit{ins(1, 0, "abc"), ins(2, 1, "X"), format(2, 2, 1, "bold")},
			"parent start end", "parent text start end"},
		// 2 types XY before client 1's b and bolds "Yb": the end anchor's
		// left origin is b.
		{"(iii) end left origin of another client", []edit{ins(1, 0, "b"), ins(2, 0, "XY"), format(2, 1, 2, "bold")},
			"parent start end", "parent text start end"},
		// 2 types WXY before client 1's b and bolds "XY" (expand after):
		// the end anchor's right origin is b.
		{"(iv) end right origin of another client", []edit{ins(1, 0, "b"), ins(2, 0, "WXY"), format(2, 1, 2, "bold")},
			"parent start end", "parent text start end"},
		// A link (expand none) over the same: its end anchor's right origin
		// is b too.
		{"(iv) end right origin of another client, expand none", []edit{ins(1, 0, "b"), ins(2, 0, "WXY"), format(2, 1, 2, "link")},
			"parent start end", "parent text start end"},
		// Client 1's second mark in its own update has seq 2: prevSeq is
		// 0 there. In the snapshot it follows seq 1.
		{"(v) seq in a later update", []edit{ins(1, 0, "abcd"), format(1, 1, 1, "bold"), format(1, 2, 1, "italic")},
			"parent start end", "parent text mark mark"},
		// Client 2's mark in between makes client 1's next seq 3: in the
		// snapshot it follows client 1's seq 1.
		{"(v) seq after another client's mark", []edit{ins(1, 0, "abcd"), format(1, 1, 1, "bold"), format(2, 2, 1, "italic"), format(1, 3, 1, "link")},
			"parent start end", "parent text mark start end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs := map[crdt.ClientID]*crdt.Doc{}
			var all [][]byte
			var last []byte
			var lastClient crdt.ClientID
			for _, e := range tt.edits {
				d := docs[e.client]
				if d == nil {
					d = crdt.NewDocWithClient(e.client)
					docs[e.client] = d
				}
				for _, u := range all {
					mustApply(t, d, u)
				}
				u, err := e.f(d.Text("t"))
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, u)
				last, lastClient = u, e.client
			}
			if got := recordsOf(t, last, lastClient); got != tt.update {
				t.Errorf("update: records %q, want %q", got, tt.update)
			}
			d := docs[lastClient]
			snap := d.Snapshot()
			if got := recordsOf(t, snap, lastClient); got != tt.snapshot {
				t.Errorf("snapshot: records %q, want %q", got, tt.snapshot)
			}
			sameAfterLoad(t, d, snap)
			// Every update in any order gives the same document.
			m := crdt.NewDoc()
			for i := len(all) - 1; i >= 0; i-- {
				mustApply(t, m, all[i])
			}
			if !bytes.Equal(m.Snapshot(), snap) {
				t.Fatal("the updates in reverse give another snapshot")
			}
		})
	}
}

// TestCompactMarkContinuation checks that a compact mark takes the text
// record after its end anchor exactly when that record continues the text
// record before the mark (left origin its last clock, the same right
// origin), also when that one is itself a continuation.
func TestCompactMarkContinuation(t *testing.T) {
	// "wxy", "a" typed between x and y, bold x, "b" typed after a: b
	// continues a (left a, right y) across the mark.
	d := crdt.NewDocWithClient(1)
	x := d.Text("t")
	ok(t)(x.Insert(0, "wxy"))
	ok(t)(x.Insert(2, "a"))
	ok(t)(x.Format(1, 1, "bold", true))
	ok(t)(x.Insert(3, "b"))
	snapshotRecords(t, "continued", d, "parent text text mark+text")
	// Another mark, then "c" typed after b: the implied record of the first
	// mark is the second's text record before.
	ok(t)(x.Format(1, 1, "italic", true))
	ok(t)(x.Insert(4, "c"))
	snapshotRecords(t, "chained", d, "parent text text mark+text mark+text")
	sameDelta(t, "chained", x.ToDelta(), []crdt.RichOp{op("w"), op("x", "bold", true, "italic", true), op("abcy")})

	// The same, but client 2 typed Z at the end first: "c" after "b" has
	// right origin Z, not b's none.
	d = crdt.NewDocWithClient(1)
	x = d.Text("t")
	ok(t)(x.Insert(0, "xab"))
	z := crdt.NewDocWithClient(2)
	mustApply(t, z, d.Snapshot())
	uz, _ := z.Text("t").Insert(3, "Z")
	mustApply(t, d, uz)
	ok(t)(x.Format(1, 1, "bold", true))
	ok(t)(x.Insert(3, "c"))
	snapshotRecords(t, "another right origin", d, "parent text mark text")
	// Without Z, "c" continues "xab".
	d = crdt.NewDocWithClient(1)
	x = d.Text("t")
	ok(t)(x.Insert(0, "xab"))
	ok(t)(x.Format(1, 1, "bold", true))
	ok(t)(x.Insert(3, "c"))
	snapshotRecords(t, "same right origin", d, "parent text mark+text")

	// Text typed right after its own mark's end anchor (a link, so after
	// the end anchor) has the anchor as left origin: no continuation.
	d = crdt.NewDocWithClient(1)
	x = d.Text("t")
	ok(t)(x.Insert(0, "abc"))
	ok(t)(x.Format(1, 2, "link", "u"))
	ok(t)(x.Insert(3, "d"))
	snapshotRecords(t, "after the end anchor", d, "parent text mark text")

	// A text record of another Text before the mark is no P: a parent
	// stands between.
	d = crdt.NewDocWithClient(1)
	ok(t)(d.Text("t").Insert(0, "wxy"))
	ok(t)(d.Text("t").Insert(2, "a"))
	ok(t)(d.Text("other").Insert(0, "o"))
	ok(t)(d.Text("t").Format(1, 1, "bold", true))
	ok(t)(d.Text("t").Insert(3, "b"))
	if got := recordsOf(t, d.Snapshot(), 1); got != "parent text text parent text parent mark text" {
		t.Fatalf("after another Text: records %q", got)
	}
}

// TestCompactMarkTable checks the mark table: one entry per kind used,
// sorted, and kind indexes past 7 (the operand x).
func TestCompactMarkTable(t *testing.T) {
	d := crdt.NewDocWithClient(1)
	x := d.Text("t")
	ok(t)(x.Insert(0, strings.Repeat("abcdefghij", 3)))
	keys := []string{"k9", "k8", "k7", "k6", "k5", "k4", "k3", "k2", "k1", "k0", "k1", "k9"}
	for i, k := range keys {
		var v any = i % 3
		if i%3 == 2 {
			v = nil
		}
		ok(t)(x.Format(1+2*i, 1, k, v))
	}
	snap := d.Snapshot()
	p := partsOf(t, snap)
	// One kind per distinct (key, value).
	distinct := map[string]bool{}
	for i, k := range keys {
		distinct[fmt.Sprint(k, i%3)] = true
	}
	if p.marks != len(distinct) || p.entries[1] != 0 {
		t.Fatalf("mark table of %d kinds, %d entries; want %d kinds, no entry", p.marks, p.entries[1], len(distinct))
	}
	if got := recordsOf(t, snap, 1); got != "parent text"+strings.Repeat(" mark", len(keys)) {
		t.Fatalf("records %q", got)
	}
	sameAfterLoad(t, d, snap)
	// The table as written: sorted by key, then value form, then value.
	var top []msgpack.RawMessage
	mustUnmarshal(t, snap, &top)
	var table [][]msgpack.RawMessage
	mustUnmarshal(t, top[5], &table)
	var got []string
	for _, e := range table {
		var key string
		mustUnmarshal(t, e[0], &key)
		v := "nil"
		if len(e) == 3 {
			v = hex.EncodeToString(e[2])
		}
		got = append(got, key+"="+v)
	}
	// k1 and k9 have a removal and a value: the removal first.
	want := []string{"k0=00", "k1=nil", "k1=01", "k2=01", "k3=00", "k4=nil", "k5=01", "k6=00", "k7=nil", "k8=01", "k9=nil", "k9=00"}
	if !slices.Equal(got, want) {
		t.Fatalf("table %v, want %v", got, want)
	}
}

// TestCompactDeleteRangeMerge checks the merge of delete ranges across
// anchors in bytes: a transaction that types "ab", bolds "b" and types
// "c" after it (clocks a 0, b 1, anchors 2 and 3, c 4) then deletes b and
// c writes one range [1, 5) over the anchors; the same ranges in a
// version 2 update are refused as a deleted anchor.
func TestCompactDeleteRangeMerge(t *testing.T) {
	d := crdt.NewDocWithClient(1)
	x := d.Text("t")
	u, err := d.Transact(func() error {
		if _, err := x.Insert(0, "ab"); err != nil {
			return err
		}
		if _, err := x.Format(1, 1, "bold", true); err != nil {
			return err
		}
		if _, err := x.Insert(2, "c"); err != nil {
			return err
		}
		_, err := x.Delete(1, 2)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// deletes: [[0, bin(gap 1, len 4)]].
	if !bytes.Contains(u, []byte{0x91, 0x92, 0x00, 0xc4, 0x02, 0x01, 0x04}) {
		t.Fatalf("update % x: want the one delete range [1, 5)", u)
	}
	e := crdt.NewDoc()
	mustApply(t, e, u)
	if !bytes.Equal(e.Snapshot(), d.Snapshot()) {
		t.Fatal("the update gives another document")
	}
	sameDelta(t, "merged", e.Text("t").ToDelta(), []crdt.RichOp{op("a")})
	// Its snapshot keeps the one range: the anchors are in the block.
	if !bytes.Contains(d.Snapshot(), []byte{0x91, 0x92, 0x00, 0xc4, 0x02, 0x01, 0x04}) {
		t.Fatalf("snapshot % x: want the one delete range [1, 5)", d.Snapshot())
	}
	// A diff from clock 4 on carries no anchor: the ranges stay apart.
	diff := d.Diff(crdt.StateVector{1: 4})
	if !bytes.Contains(diff, []byte{0x91, 0x92, 0x00, 0xc4, 0x04, 0x01, 0x01, 0x02, 0x01}) {
		t.Fatalf("diff % x: want the ranges [1, 2) and [4, 5)", diff)
	}
}

// craft builds an update of client 1 in text "t" with one block at clock
// of column col and text text: version 3 with the mark table kinds, or
// version v with 5 elements when v < 3. dels is the delete column of
// client 1, nil for none.
func craft(v byte, clock byte, col []byte, text string, dels []byte, kinds ...[]byte) []byte {
	b := []byte{0x95, v}
	if v == 3 {
		b[0] = 0x96
	}
	b = append(b, 0x91, 0x92, 0x00, 0xa1, 't', 0x91, 0x01)
	if dels == nil {
		b = append(b, 0x90)
	} else {
		b = append(b, 0x91, 0x92, 0x00, 0xc4, byte(len(dels)))
		b = append(b, dels...)
	}
	b = append(b, 0x91, 0x95, 0x00, clock, 0xc4, byte(len(col)))
	b = append(b, col...)
	b = append(b, 0xa0|byte(len(text)))
	b = append(b, text...)
	b = append(b, 0x90)
	if v == 3 {
		b = append(b, 0x90|byte(len(kinds)))
		for _, k := range kinds {
			b = append(b, k...)
		}
	}
	return b
}

// kind returns a mark table entry: [key, expand] or [key, expand, value].
func kind(key string, expand byte, value ...byte) []byte {
	b := []byte{0x92}
	if value != nil {
		b[0] = 0x93
	}
	b = append(b, 0xa0|byte(len(key)))
	b = append(b, key...)
	b = append(b, expand)
	return append(b, value...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// varint returns x as a LEB128 varint.
func varint(x uint64) []byte {
	var b []byte
	for x >= 0x80 {
		b = append(b, byte(x)|0x80)
		x >>= 7
	}
	return append(b, byte(x))
}

// TestCompactMarkDecode checks the decoding of compact marks against the
// encoder: client 1 types "abcd" (clocks 0-3) and bolds "bc", a mark at 4
// whose start anchor lies between a (1:0) and b (1:1) (d = 4, after
// left) and whose end anchor between c (1:2) and d (1:3): j − r = 1,
// zigzag 2, erm 1 (after its left origin).
func TestCompactMarkDecode(t *testing.T) {
	d := crdt.NewDocWithClient(1)
	x := d.Text("t")
	ok(t)(x.Insert(0, "abcd"))
	base := d.Snapshot()
	u, err := x.Format(1, 2, "bold", true)
	if err != nil {
		t.Fatal(err)
	}
	bold := kind("bold", 1, 0xc3)
	want := craft(3, 4, []byte{0x07, 0x43, 0x40, 0x09}, "", nil, bold)
	if !bytes.Equal(u, want) {
		t.Fatalf("Format gives % x, want % x", u, want)
	}
	e := crdt.NewDocWithClient(2)
	mustApply(t, e, base)
	mustApply(t, e, want)
	sameDelta(t, "decoded", e.Text("t").ToDelta(), []crdt.RichOp{op("a"), op("bc", "bold", true), op("d")})

	// The same mark with every operand a decoder may meet: s = 1 with e =
	// zigzag(0), erm = 2 with f = 2 (right origin 1:3), and bold the eighth
	// kind of the table, index 7 + x with x = 0.
	var kinds [][]byte
	for i := range 7 {
		kinds = append(kinds, kind(fmt.Sprint("a", i), 0))
	}
	kinds = append(kinds, bold)
	long := craft(3, 4, cat([]byte{0x07, 0x43}, varint(4<<4|1<<3|7), varint(0), varint(0), varint(2<<2|2), varint(2)), "", nil, kinds...)
	e = crdt.NewDocWithClient(2)
	mustApply(t, e, base)
	mustApply(t, e, long)
	sameDelta(t, "explicit operands", e.Text("t").ToDelta(), []crdt.RichOp{op("a"), op("bc", "bold", true), op("d")})
	if !bytes.Equal(e.Snapshot(), d.Snapshot()) {
		t.Fatal("explicit operands give another document")
	}

	// A continuation: X typed after d (prev left, no right), the mark
	// bolding X (start after d, before X; end after X), then YZ typed
	// after X: implied from the continuation.
	cont := craft(3, 4, []byte{0x07, 0x19, 0x63, 0x20, 0x00, 0x01}, "XYZ", nil, bold)
	e = crdt.NewDocWithClient(2)
	mustApply(t, e, base)
	mustApply(t, e, cont)
	if got := e.Text("t").String(); got != "abcdXYZ" {
		t.Fatalf("continuation gives %q", got)
	}
	sameAfterLoad(t, e, e.Snapshot())
}

// TestCompactMarkRefusals checks that each malformed version 3 update is
// refused as a decode error, leaving the document as it was.
func TestCompactMarkRefusals(t *testing.T) {
	bold := kind("bold", 1, 0xc3)
	italic := kind("italic", 1, 0xc3)
	good := []byte{0x07, 0x43, 0x40, 0x09}
	mark := func(ops ...[]byte) []byte { return cat(append([][]byte{{0x07, 0x43}}, ops...)...) }
	big := uint64(1) << 53
	tests := []struct {
		name string
		u    []byte
	}{
		{"version 3 with 5 elements", func() []byte {
			u := craft(3, 4, good, "", nil, bold)
			u = u[:len(u)-len(bold)-1]
			u[0] = 0x95
			return u
		}()},
		{"version 2 with 6 elements", func() []byte { u := craft(3, 4, good, "", nil, bold); u[1] = 2; return u }()},
		{"marks not sorted", craft(3, 4, good, "", nil, italic, bold)},
		{"marks duplicate", craft(3, 4, good, "", nil, bold, bold)},
		{"marks: removal after a value of the key", craft(3, 4, good, "", nil, bold, kind("bold", 1))},
		{"marks: expand 2", craft(3, 4, good, "", nil, kind("bold", 2, 0xc3))},
		{"marks: expand 3", craft(3, 4, good, "", nil, kind("bold", 3))},
		{"marks: nil value", craft(3, 4, good, "", nil, kind("bold", 1, 0xc0))},
		{"marks: key not UTF-8", craft(3, 4, good, "", nil, kind("\xff", 1, 0xc3))},
		{"marks: entry of 1 element", craft(3, 4, good, "", nil, []byte{0x91, 0xa1, 'b'})},
		{"marks: entry of 4 elements", craft(3, 4, good, "", nil, []byte{0x94, 0xa1, 'b', 0x01, 0xc3, 0xc3})},
		{"p = 4", craft(3, 4, []byte{0x07, 0x23, 0x40, 0x09}, "", nil, bold)},
		{"p = 16", craft(3, 4, []byte{0x07, 0x83, 0x01, 0x40, 0x09}, "", nil, bold)},
		{"p = 20", craft(3, 4, []byte{0x07, 0xa3, 0x01, 0x40, 0x09}, "", nil, bold)},
		{"p = 12 at the block's start", craft(3, 4, []byte{0x07, 0x63, 0x40, 0x09, 0x00}, "X", nil, bold)},
		{"p = 12 after a parent", craft(3, 4, []byte{0x07, 0x19, 0x07, 0x63, 0x20, 0x00, 0x00}, "XY", nil, bold)},
		{"p = 12 after a mark", craft(3, 4, []byte{0x07, 0x43, 0x40, 0x09, 0x63, 0x40, 0x00, 0x00}, "X", nil, bold)},
		{"p = 8 in version 2", craft(2, 4, good, "", nil)},
		{"p = 8 in version 1", craft(1, 4, good, "", nil)},
		{"p = 4 in version 2", craft(2, 4, []byte{0x07, 0x23, 0x40, 0x09}, "", nil)},
		{"mark outside a text", craft(3, 4, []byte{0x43, 0x40, 0x09}, "", nil, bold)},
		{"d = 0", craft(3, 4, mark(varint(0<<4|1<<3), varint(0), varint(9)), "", nil, bold)},
		{"d > k", craft(3, 4, mark(varint(5<<4), varint(9)), "", nil, bold)},
		{"s = 0 with d = 1", craft(3, 4, mark(varint(1<<4), varint(9)), "", nil, bold)},
		{"kind index = len(marks)", craft(3, 4, mark(varint(4<<4|1), varint(9)), "", nil, bold)},
		{"kind index past 7 = len(marks)", craft(3, 4, mark(varint(4<<4|7), varint(0), varint(9)), "", nil, bold)},
		{"kind index and no table", craft(3, 4, good, "", nil)},
		{"start right = k", craft(3, 4, mark(varint(4<<4|1<<3), varint(6), varint(9)), "", nil, bold)},
		{"start right < 0", craft(3, 4, mark(varint(4<<4|1<<3), varint(3), varint(9)), "", nil, bold)},
		{"end left > k", craft(3, 4, mark(varint(4<<4), varint(8<<2)), "", nil, bold)},
		{"end left < 0", craft(3, 4, mark(varint(4<<4), varint(3<<2)), "", nil, bold)},
		{"erm = 3", craft(3, 4, mark(varint(4<<4), varint(2<<2|3)), "", nil, bold)},
		{"erm = 1 with end left = k", craft(3, 4, mark(varint(4<<4), varint(6<<2|1)), "", nil, bold)},
		{"f = 0", craft(3, 4, mark(varint(4<<4), varint(2<<2|2), varint(0)), "", nil, bold)},
		{"f = k + 2", craft(3, 4, mark(varint(4<<4), varint(2<<2|2), varint(6)), "", nil, bold)},
		{"implied text runs out", craft(3, 4, []byte{0x07, 0x19, 0x63, 0x20, 0x00, 0x01}, "XY", nil, bold)},
		{"implied text left over", craft(3, 4, []byte{0x07, 0x19, 0x63, 0x20, 0x00, 0x00}, "XYZ", nil, bold)},
		{"A = 2^53", craft(3, 4, mark(varint(big), varint(9)), "", nil, bold)},
		{"B = 2^53", craft(3, 4, mark(varint(4<<4), varint(big)), "", nil, bold)},
		{"operands cut", craft(3, 4, mark(varint(4<<4)), "", nil, bold)},
		// A skip of clocks 4 to 2^53 − 2, then a mark needing two clocks.
		{"mark past 2^53", craft(3, 4, cat(varint(5|(big-1-4-1)<<3), good), "", nil, bold)},
		// A version 2 rule kept: an embed (prev left, no right) that the
		// update deletes carries no value.
		{"deleted embed with a value", func() []byte {
			u := craft(3, 4, []byte{0x07, 0x7b}, "", []byte{0x04, 0x01})
			// entries [[7]] in place of [], before the empty mark table.
			return cat(u[:len(u)-2], []byte{0x91, 0x91, 0x07, 0x90})
		}()},
	}
	d := crdt.NewDocWithClient(2)
	mustApply(t, d, craft(1, 0, []byte{0x07, 0x81, 0x03}, "abcd", nil))
	if d.Text("t").String() != "abcd" {
		t.Fatalf("base: %q", d.Text("t").String())
	}
	before := d.Snapshot()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := d.Apply(tt.u)
			var de *crdt.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("% x: %v, want a decode error", tt.u, err)
			}
			if !bytes.Equal(d.Snapshot(), before) {
				t.Fatal("the refused update changed the document")
			}
			t.Log(err)
		})
	}
}

// TestCompactDeletedAnchors checks rule 3 of the delete set: in version 3
// a delete range may cover the update's own anchors, which are not
// deleted; in version 2 that is still a decode error.
func TestCompactDeletedAnchors(t *testing.T) {
	d := crdt.NewDocWithClient(2)
	mustApply(t, d, craft(1, 0, []byte{0x07, 0x81, 0x03}, "abcd", nil))
	before := d.Snapshot()
	// The bold mark of TestCompactMarkDecode with a delete range [4, 6)
	// over both its anchors.
	u := craft(3, 4, []byte{0x07, 0x43, 0x40, 0x09}, "", []byte{0x04, 0x02}, kind("bold", 1, 0xc3))
	mustApply(t, d, u)
	sameDelta(t, "covered anchors", d.Text("t").ToDelta(), []crdt.RichOp{op("a"), op("bc", "bold", true), op("d")})
	// As version 2 records: start [bold, true] and end.
	e := crdt.NewDocWithClient(2)
	mustApply(t, e, before)
	v2 := craft(2, 4, []byte{0x07, 0xab, 0x05, 0x04, 0x01, 0xb3, 0x01, 0x03}, "", []byte{0x04, 0x02})
	v2 = cat(v2[:len(v2)-1], []byte{0x91, 0x92, 0xa4, 'b', 'o', 'l', 'd', 0xc3})
	var de *crdt.DecodeError
	if err := e.Apply(v2); !errors.As(err, &de) {
		t.Fatalf("version 2 deleting its own anchors: %v", err)
	}
	// Without the delete range the version 2 update applies, to the same
	// document.
	ok2 := craft(2, 4, []byte{0x07, 0xab, 0x05, 0x04, 0x01, 0xb3, 0x01, 0x03}, "", nil)
	ok2 = cat(ok2[:len(ok2)-1], []byte{0x91, 0x92, 0xa4, 'b', 'o', 'l', 'd', 0xc3})
	mustApply(t, e, ok2)
	if !bytes.Equal(e.Snapshot(), d.Snapshot()) {
		t.Fatal("version 2 and version 3 marks give other documents")
	}
}

// TestRichSeedsHoldVersion3 checks that the fuzz seeds of FuzzApplyRich
// (and of TestRichCorruptedUpdates) hold every version 3 shape: compact
// marks with and without continuation, a kind index past 7, and a delete
// range merged over anchors.
func TestRichSeedsHoldVersion3(t *testing.T) {
	seeds := richSeeds(t)
	var all []string
	for _, s := range seeds {
		if v, _ := crdt.UpdateVersion(s); v == 3 {
			all = append(all, recordsOf(t, s, 1))
		}
	}
	joined := strings.Join(all, " | ")
	for _, want := range []string{"mark", "mark+text", "start end"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no seed holds %q: %s", want, joined)
		}
	}
	// 9 kinds in one update: its mark table goes past 7.
	if p := partsOf(t, seeds[len(seeds)-6]); p.marks < 8 {
		t.Errorf("the seed of 9 marks has a mark table of %d kinds", p.marks)
	}
	// The last transaction deletes v and w, whose clocks its own bold
	// anchors separate: one range of 4 clocks.
	var top []msgpack.RawMessage
	mustUnmarshal(t, seeds[len(seeds)-2], &top)
	var dels [][]msgpack.RawMessage
	mustUnmarshal(t, top[3], &dels)
	var col []byte
	if len(dels) == 1 {
		mustUnmarshal(t, dels[0][1], &col)
	}
	if len(col) != 2 || col[1] != 4 {
		t.Fatalf("delete column % x, want one range of 4 clocks", col)
	}
}
