package crdt

import (
	"bytes"
	"slices"
	"strings"
)

// Format version 3 (RICH.md §R10): version 2 with a mark table as
// a sixth top-level element, compact mark records that stand for a start
// anchor and its end anchor (and, with continuation, the text record after
// them), and delete ranges that may run across the update's own anchors.
// A mark written as a v2 pair costs two headers, origin operands, a seq
// and an entries element with its key; most marks of a real document
// have both anchors near their creator's own recent clocks and a seq one
// above the previous mark's, which the compact record leaves implied.

// Header payloads of the compact mark records: a map header whose payload
// has its low two bits clear, which version 2 leaves unused.
const (
	compactMark = 8  // a mark: start anchor at k, end anchor at k+1
	compactCont = 12 // a mark followed by an implied text record
)

// maxOperand bounds every operand of a compact mark record, so that a
// JavaScript decoder holds each in a number exactly.
const maxOperand = 1<<53 - 1

// Roles of encoder records in a version 3 update.
const (
	cmNone     = iota // written as in version 2
	cmMark            // a start anchor written as a compact mark (p = 8)
	cmCont            // a start anchor written as a compact mark with continuation (p = 12)
	cmAbsorbed        // an end anchor or text record a compact mark stands for
)

// markKind is one entry of the mark table: what a start anchor carries
// besides its origins and seq.
type markKind struct {
	key    string
	expand ExpandRule
	value  []byte // nil: a removal (the 2-element form)
}

// cmpKind orders mark kinds as the table must list them: key bytes, then
// expand, then a removal before a value, then value bytes.
func cmpKind(a, b markKind) int {
	return cmpKindAfterKey(strings.Compare(a.key, b.key), a.expand, b.expand, a.value, b.value)
}

// cmpKindAfterKey completes the order of cmpKind given the comparison of
// the keys, so that decoded kinds (keys as bytes) sort alike.
func cmpKindAfterKey(keys int, ea, eb ExpandRule, va, vb []byte) int {
	switch {
	case keys != 0:
		return keys
	case ea != eb:
		return int(ea) - int(eb)
	case (va == nil) != (vb == nil):
		if va == nil {
			return -1
		}
		return 1
	}
	return bytes.Compare(va, vb)
}

// kindOf returns the mark kind of start anchor m. A value that is msgpack
// nil is a removal, as decoders of version 2 read it.
func kindOf(m *mark) markKind {
	v := m.value
	if len(v) == 1 && v[0] == 0xc0 {
		v = nil
	}
	return markKind{m.key, m.expand, v}
}

func zigzag(x int64) uint64 {
	if x >= 0 {
		return uint64(x) << 1
	}
	return uint64(-x)<<1 - 1
}

// zigzagDiff returns zigzag(a − b) for clocks below 2^53.
func zigzagDiff(a, b uint64) uint64 { return zigzag(int64(a) - int64(b)) }

// addUnzigzag returns base + unzigzag(z) and whether it lies in [0, limit].
func addUnzigzag(base, z, limit uint64) (uint64, bool) {
	if z&1 == 0 {
		d := z >> 1
		if d > limit || base > limit-d {
			return 0, false
		}
		return base + d, true
	}
	d := z>>1 + 1
	if d > base {
		return 0, false
	}
	return base - d, base-d <= limit
}

// planMarks decides, for each start anchor of each block, whether it is
// written as a compact mark (and with continuation), marks the records
// the compact ones stand for, and fills e.kinds with the mark table.
func (e *encoder) planMarks() {
	e.kinds = e.kinds[:0]
	for _, b := range e.blocks {
		recs := e.recs[b.from:b.to]
		prevSeq := uint64(0)
		for i := range recs {
			s := &recs[i]
			if s.kind != recStart {
				continue
			}
			if compactable(b.c, recs, e.extras, i, prevSeq) {
				s.cm = cmMark
				recs[i+1].cm = cmAbsorbed
				if continues(recs, i) {
					s.cm = cmCont
					recs[i+2].cm = cmAbsorbed
				}
				e.kinds = append(e.kinds, kindOf(e.extras[s.extra].mark))
			}
			prevSeq = e.extras[s.extra].mark.seq
		}
	}
	if len(e.kinds) > 1 {
		slices.SortFunc(e.kinds, cmpKind)
		e.kinds = slices.CompactFunc(e.kinds, func(a, b markKind) bool { return cmpKind(a, b) == 0 })
	}
}

// compactable reports whether the start anchor recs[i] of client c and its
// end anchor, the next record, can be one compact mark: conditions (i) to
// (vi) of the canonical choice.
func compactable(c *clientState, recs []encRec, extras []encExtra, i int, prevSeq uint64) bool {
	if i+1 >= len(recs) {
		return false
	}
	s, en := &recs[i], &recs[i+1]
	k := s.clock
	if en.kind != recEnd || en.typ != s.typ ||
		!s.left.of(c) || s.left.clock >= k || // (i)
		!s.right.of(c) || s.right.clock >= k || // (ii)
		!en.left.of(c) || en.left.clock > k || // (iii)
		!en.right.none() && (!en.right.of(c) || en.right.clock > k) || // (iv)
		extras[s.extra].mark.seq != prevSeq+1 { // (v)
		return false
	}
	// (vi): A = d<<4 | s<<3 | q, the start right offset, B = z<<2 | erm.
	j := s.left.clock
	if (k-j)<<4|15 > maxOperand {
		return false
	}
	if s.right.clock != j+1 && zigzagDiff(s.right.clock, j+1) > maxOperand {
		return false
	}
	return zigzagDiff(en.left.clock, s.right.clock)<<2|3 <= maxOperand
}

// continues reports whether the compact mark at recs[i] (its end anchor at
// i+1) takes the text record after it as its implied text record: the
// record before the mark is a text record P of the same Text, and the one
// after the end anchor continues P (left origin P's last clock, P's right
// origin).
func continues(recs []encRec, i int) bool {
	if i == 0 || i+2 >= len(recs) {
		return false
	}
	p, s, t := &recs[i-1], &recs[i], &recs[i+2]
	return p.kind == recText && p.typ == s.typ && t.kind == recText && t.typ == s.typ &&
		t.left.ok == s.left.ok && t.left.client == s.left.client && t.left.clock == s.clock-1 && t.right == p.right
}

// appendMarkRec appends the compact mark record of start anchor s (its
// end anchor en, and t the text record it absorbs when s.cm is cmCont).
func (e *encoder) appendMarkRec(col []byte, s, en, t *encRec) []byte {
	k, j, r := s.clock, s.left.clock, s.right.clock
	idx, _ := slices.BinarySearchFunc(e.kinds, kindOf(e.extras[s.extra].mark), cmpKind)
	p, sb, q := uint64(compactMark), uint64(1), uint64(min(idx, 7))
	if s.cm == cmCont {
		p = compactCont
	}
	if r == j+1 {
		sb = 0
	}
	col = appendVar(col, longHeader(recMap, p))
	col = appendVar(col, (k-j)<<4|sb<<3|q)
	if q == 7 {
		col = appendVar(col, uint64(idx-7))
	}
	if sb == 1 {
		col = appendVar(col, zigzagDiff(r, j+1))
	}
	erm := uint64(2)
	switch {
	case en.right.none():
		erm = 0
	case en.right.clock == en.left.clock+1:
		erm = 1
	}
	col = appendVar(col, zigzagDiff(en.left.clock, r)<<2|erm)
	if erm == 2 {
		col = appendVar(col, k+1-en.right.clock)
	}
	if t != nil {
		col = appendVar(col, t.n-1)
	}
	return col
}

// appendMergedDeletes appends the delete column of ranges, merging two
// ranges whose gap holds only clocks in anchors: the sorted clocks of the
// start and end anchors of the client's block in this update.
func appendMergedDeletes(col []byte, ranges []clockRange, anchors []uint64) []byte {
	prev := uint64(0)
	for i := 0; i < len(ranges); {
		start, end := ranges[i].start, ranges[i].end
		for i++; i < len(ranges) && anchorsFill(anchors, end, ranges[i].start); i++ {
			end = ranges[i].end
		}
		col = appendVar(col, start-prev)
		col = appendVar(col, end-start)
		prev = end
	}
	return col
}

// anchorsFill reports whether every clock of [lo, hi) is in anchors.
func anchorsFill(anchors []uint64, lo, hi uint64) bool {
	if len(anchors) == 0 {
		return false
	}
	a, _ := slices.BinarySearch(anchors, lo)
	b, _ := slices.BinarySearch(anchors, hi)
	return uint64(b-a) == hi-lo
}

// anchorClocks returns the clocks of the anchors among the records of
// client c's block, in ascending order, in e.anchors.
func (e *encoder) anchorClocks(c *clientState) []uint64 {
	e.anchors = e.anchors[:0]
	i, ok := slices.BinarySearchFunc(e.blocks, c.id, func(b encBlock, id ClientID) int { return cmpClient(b.c.id, id) })
	if !ok {
		return nil
	}
	b := e.blocks[i]
	for _, r := range e.recs[b.from:b.to] {
		if r.kind == recStart || r.kind == recEnd {
			e.anchors = append(e.anchors, r.clock)
		}
	}
	return e.anchors
}

// ---------------------------------------------------------------------------
// Decoding

// pendingKind is a start anchor of a compact mark whose kind is read from
// the mark table, which follows the blocks.
type pendingKind struct {
	rec    int    // index in decoded.recs
	index  uint64 // into the mark table
	offset int    // of the operand, for the error
}

// textTail is what a continuation needs of the record before it: set when
// the last record of the column was a text record (or an implied one).
type textTail struct {
	ok       bool
	hasRight bool
	right    ID
}

// decodeMark decodes a compact mark record of payload p at clock k of the
// text type typ, appending the start anchor, the end anchor and the
// implied text record (taking its content from text, its delete ranges
// from deleted[di:], as splitText); it returns the clock after them and
// what is left of text and deleted.
func (u *decoded) decodeMark(vr *varReader, p, k uint64, typ int, prevSeq *uint64, tail *textTail, deleted []clockRange, di int, text []byte, textEnd int) (clock uint64, _ []byte, _ int, err error) {
	clock, err = u.decodeMarkRecs(vr, p, k, typ, prevSeq, tail)
	if err != nil || p != compactCont {
		return clock, text, di, err
	}
	m, err := vr.next(maxOperand)
	if err != nil {
		return 0, text, di, err
	}
	n := m + 1
	if clock+n > maxClock {
		return 0, text, di, vr.errorf("clock past 2^53")
	}
	rec := record{kind: kindText, clock: clock, length: n, typ: typ, left: ID{u.cur, k - 1}, hasLeft: true,
		right: tail.right, hasRight: tail.hasRight}
	if text, di, err = u.splitText(rec, deleted, di, text, textEnd); err != nil {
		return 0, text, di, err
	}
	return clock + n, text, di, nil
}

// decodeMarkRecs reads the operands of a compact mark record up to its
// continuation's length and appends its start and end anchors.
func (u *decoded) decodeMarkRecs(vr *varReader, p, k uint64, typ int, prevSeq *uint64, tail *textTail) (uint64, error) {
	if p != compactMark && p != compactCont {
		return 0, vr.errorf("reserved record header payload %d", p)
	}
	if p == compactCont && !tail.ok {
		return 0, vr.errorf("mark with continuation not after a text record")
	}
	if k+2 > maxClock {
		return 0, vr.errorf("clock past 2^53")
	}
	c := u.cur
	a, err := vr.next(maxOperand)
	if err != nil {
		return 0, err
	}
	d, sb, idx := a>>4, a>>3&1, a&7
	switch {
	case d == 0 || d > k:
		return 0, vr.errorf("mark left origin delta %d at clock %d", d, k)
	case sb == 0 && d == 1:
		return 0, vr.errorf("mark right origin after left at clock %d", k)
	}
	if idx == 7 {
		off := vr.base + vr.pos
		x, err := vr.next(maxOperand)
		if err != nil {
			return 0, err
		}
		if x > maxOperand-7 {
			return 0, &DecodeError{Offset: off, Msg: "mark kind index past 2^53"}
		}
		idx += x
	}
	kindOff := vr.base + vr.pos
	left := k - d
	r := left + 1
	if sb == 1 {
		e, err := vr.next(maxOperand)
		if err != nil {
			return 0, err
		}
		var ok bool
		if r, ok = addUnzigzag(left+1, e, k-1); !ok {
			return 0, vr.errorf("mark start right origin outside [0, %d)", k)
		}
	}
	b, err := vr.next(maxOperand)
	if err != nil {
		return 0, err
	}
	erm := b & 3
	j, ok := addUnzigzag(r, b>>2, k)
	switch {
	case !ok:
		return 0, vr.errorf("mark end left origin outside [0, %d]", k)
	case erm == 3:
		return 0, vr.errorf("reserved end right origin mode")
	case erm == 1 && j+1 > k:
		return 0, vr.errorf("mark end right origin after the start anchor")
	}
	start := record{kind: kindText, clock: k, length: 1, typ: typ, rich: richStart,
		left: ID{c, left}, hasLeft: true, right: ID{c, r}, hasRight: true}
	end := record{kind: kindText, clock: k + 1, length: 1, typ: typ, rich: richEnd, left: ID{c, j}, hasLeft: true}
	switch erm {
	case 1:
		end.right, end.hasRight = ID{c, j + 1}, true
	case 2:
		f, err := vr.next(k + 1)
		if err != nil {
			return 0, err
		}
		if f == 0 {
			return 0, vr.errorf("mark end right origin delta 0")
		}
		end.right, end.hasRight = ID{c, k + 1 - f}, true
	}
	if *prevSeq >= maxClock {
		return 0, vr.errorf("mark seq past 2^53")
	}
	*prevSeq++
	start.seq = *prevSeq
	u.kinds = append(u.kinds, pendingKind{len(u.recs), idx, kindOff})
	u.recs = append(u.recs, start, end)
	if p != compactCont {
		tail.ok = false
	}
	return k + 2, nil
}

// decodeMarks reads the mark table of a version 3 update and gives each
// compact mark's start anchor its kind.
func (u *decoded) decodeMarks() error {
	r := &u.r
	n, err := r.arrayLen()
	if err != nil {
		return err
	}
	u.table = u.table[:0]
	for i := 0; i < n; i++ {
		k, err := r.arrayLen()
		if err != nil {
			return err
		}
		if k != 2 && k != 3 {
			return r.errorf("a mark kind is [key, expand] or [key, expand, value]")
		}
		key, err := r.str()
		if err != nil {
			return err
		}
		ex, err := r.uint(1 << 32)
		if err != nil {
			return err
		}
		if ex != uint64(ExpandNone) && ex != uint64(ExpandAfter) {
			return r.errorf("reserved expand rule %d", ex)
		}
		mk := decKind{key: key, expand: ExpandRule(ex)}
		if k == 3 {
			if mk.value, err = r.value(); err != nil {
				return err
			}
			if len(mk.value) == 1 && mk.value[0] == 0xc0 {
				return r.errorf("a mark kind's value is nil: a removal has no value")
			}
		}
		if i > 0 && cmpDecKind(u.table[i-1], mk) >= 0 {
			return r.errorf("mark kinds not in ascending order")
		}
		u.table = append(u.table, mk)
	}
	for _, pk := range u.kinds {
		if pk.index >= uint64(len(u.table)) {
			return &DecodeError{Offset: pk.offset, Msg: "mark kind index out of range"}
		}
		mk := &u.table[pk.index]
		rec := &u.recs[pk.rec]
		rec.key, rec.value, rec.expand = mk.key, mk.value, mk.expand
	}
	return nil
}

// decKind is a decoded mark table entry; its slices point into the input.
type decKind struct {
	key    []byte
	expand ExpandRule
	value  []byte
}

func cmpDecKind(a, b decKind) int {
	return cmpKindAfterKey(bytes.Compare(a.key, b.key), a.expand, b.expand, a.value, b.value)
}
