package crdt

import (
	"bytes"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"
)

// formatVersion is the first element of every update (FORMAT.md) that
// holds no rich content; compactVersion that of one that does (RICH.md
// §R10). richVersion, the rich format without compact marks (RICH.md §R6),
// is still read but no longer written.
const (
	formatVersion  = 1
	richVersion    = 2
	compactVersion = 3
)

// Record kinds (FORMAT.md). A header with bit 0 clear is a short text
// record; with bit 0 set, bits 1-2 hold one of these kinds.
const (
	recText   = 0
	recMap    = 1
	recSkip   = 2
	recParent = 3
)

// Encoder-side kinds of the rich records, which version 2 writes as map
// headers with a non-zero payload (RICH.md §R6): the payload's low two
// bits are these minus richBase.
const (
	recStart = 4 + iota
	recEnd
	recEmbed
	richBase = recStart - 1
)

// Header builders for the long forms: kind k with payload p.
func longHeader(k, p uint64) uint64 { return 1 | k<<1 | p<<3 }

// Origin modes of a text record header.
const (
	leftNone     = 0 // no left origin: the start of the text
	leftDelta    = 1 // same client, clock - delta
	leftExplicit = 2 // client index and clock
	leftPrev     = 3 // same client, clock - 1

	rightNone     = 0 // no right origin: the end of the text
	rightAfterL   = 1 // the code point after the left origin: left.client, left.clock + 1
	rightDelta    = 2 // same client, clock - delta
	rightExplicit = 3 // client index and clock
)

// Type kinds in the types table.
const (
	typeText = 0
	typeMap  = 1
)

// ---------------------------------------------------------------------------
// Encoding

// typeKey names a shared type.
type typeKey struct {
	kind int
	name string
}

// encRec is one record gathered for an encoded block. A snapshot gathers
// one per run, and the document's encoder keeps their room for its next
// update, so an encRec is small and holds no pointer: the collector never
// scans them. What the rare records carry that is a pointer (a map entry,
// a mark, an embed's value) is in encoder.extras.
type encRec struct {
	clock, n    uint64
	left, right encRef
	kind        int32
	typ         int32 // index in encoder.typeKeys
	extra       int32 // index in encoder.extras; -1 for none
	cm          uint8 // role in a version 3 update: cmNone, cmMark…
}

// encRef is an origin of a gathered record: ok is false for none, and
// then the rest is zero, so that two origins are equal as values exactly
// when they are the same origin.
type encRef struct {
	client ClientID
	clock  uint64
	ok     bool
}

// encRefOf returns r as an encRef.
func encRefOf(r ref) encRef {
	if r.c == nil {
		return encRef{}
	}
	return encRef{r.c.id, r.clock, true}
}

func (r encRef) none() bool { return !r.ok }

// of reports whether r is an origin of client c.
func (r encRef) of(c *clientState) bool { return r.ok && r.client == c.id }

// encExtra is what a map record (entry), a start anchor (mark) or a live
// embed (value) carries.
type encExtra struct {
	entry *mapEntry
	mark  *mark
	value []byte
}

// encBlock is one client's records, encoder.recs[from:to], and their
// text, encoder.text[textFrom:textTo].
type encBlock struct {
	c                *clientState
	clock            uint64
	from, to         int
	textFrom, textTo int
}

type encDeletes struct {
	c      *clientState
	ranges []clockRange
}

// encoder gathers blocks and delete ranges, then writes the update. Client
// and type tables are sorted, so equal documents encode to equal bytes. An
// encoder may be reused after finish.
type encoder struct {
	blocks []encBlock
	recs   []encRec
	extras []encExtra
	// typeKeys are the types the records name, in the order they came
	// (encRec.typ); typeSlot gives each its index in the sorted types
	// table, types. lastText and lastTyp remember the last Text's.
	typeKeys []typeKey
	typeSlot []int
	lastText *Text
	lastTyp  int32
	text     []byte
	deletes  []encDeletes
	clients  []ClientID
	types    []typeKey
	col      []byte
	kinds    []markKind // the mark table of a version 3 update
	anchors  []uint64   // scratch: anchor clocks of one block
	buf      bytes.Buffer
	enc      *msgpack.Encoder
	// only is the document's one Text when it has no other, set by Diff:
	// then every text item is its, and add need not read the item's leaf
	// to learn it, a cache miss per item in a large document, whose items
	// in clock order lie all over the text.
	only *Text
}

func (e *encoder) reset() {
	// The slices keep pointers into this document only, so they need no
	// clearing to let the document be collected. The extras are cleared
	// all the same: they hold embed values and map entries, which the
	// document itself may let go of later.
	e.blocks = e.blocks[:0]
	e.recs = e.recs[:0]
	clear(e.extras)
	e.extras = e.extras[:0]
	e.typeKeys = e.typeKeys[:0]
	e.lastText = nil
	e.text = e.text[:0]
	e.deletes = e.deletes[:0]
	e.clients = e.clients[:0]
	e.types = e.types[:0]
	e.kinds = e.kinds[:0]
	e.buf.Reset()
	e.only = nil
}

// addBlock adds the changes of client c from clock on.
func (e *encoder) addBlock(c *clientState, clock uint64) {
	e.gather(c, clock, nil)
}

// addWholeBlock adds all of client c's changes and returns its deleted
// ranges, merged: a snapshot walks each client's items once, not once for
// the block and again for the delete set.
func (e *encoder) addWholeBlock(c *clientState) []clockRange {
	var dels []clockRange
	e.gather(c, 0, &dels)
	return dels
}

// gather adds the changes of c from clock on and, given dels (only with
// clock 0), appends c's deleted ranges to *dels.
func (e *encoder) gather(c *clientState, clock uint64, dels *[]clockRange) {
	e.blocks = append(e.blocks, encBlock{c: c, clock: clock, from: len(e.recs), textFrom: len(e.text)})
	if clock == 0 && len(c.heads) > 64 {
		// Most of a client's history (a snapshot): at most one record per
		// head follows, room for them saves regrowing.
		e.recs = slices.Grow(e.recs, len(c.heads))
	}
	// Heads are in clock order and each chain covers the clocks up to the
	// next head: walking them in turn needs no lookup per head.
	for _, h := range c.heads[c.search(clock):] {
		for it := h.it; it != nil; it = it.next {
			if dels != nil && it.deleted {
				*dels = appendDeleted(*dels, it)
			}
			if end := it.clock + it.length; end > clock {
				e.add(it, clock-min(clock, it.clock))
			}
		}
	}
	b := &e.blocks[len(e.blocks)-1]
	b.to, b.textTo = len(e.recs), len(e.text)
}

// add appends the clocks of it from offset off to the current block.
func (e *encoder) add(it *item, off uint64) {
	clock, n := it.clock+off, it.length-off
	var last *encRec
	if k := len(e.recs); k > e.blocks[len(e.blocks)-1].from {
		last = &e.recs[k-1]
	}
	switch it.kind {
	case kindText:
		t := e.only
		if t == nil {
			t = it.leaf.t
		}
		if t != e.lastText {
			e.lastText, e.lastTyp = t, e.typeIndex(typeKey{typeText, t.name})
		}
		typ := e.lastTyp
		right := encRefOf(it.right)
		if it.rich != richNone {
			r := encRec{kind: recStart, clock: clock, n: 1, typ: typ, left: encRefOf(it.left), right: right, extra: -1}
			switch it.rich {
			case richStart:
				r.extra = e.addExtra(encExtra{mark: t.marks[ID{it.c.id, it.clock}]})
			case richEnd:
				r.kind = recEnd
			case richEmbed:
				r.kind = recEmbed
				if !it.deleted {
					if v := t.embeds[ID{it.c.id, it.clock}]; v != nil {
						r.extra = e.addExtra(encExtra{value: v})
					}
				}
			}
			e.recs = append(e.recs, r)
			return
		}
		prev := encRef{it.c.id, clock - 1, true}
		left := prev
		if off == 0 {
			left = encRefOf(it.left)
		}
		if !it.deleted {
			s := t.arena[it.start:it.end]
			e.text = append(e.text, s[byteOffset(s, it.length, off):]...)
		}
		if last != nil && last.kind == recText && last.typ == typ && last.clock+last.n == clock &&
			left == prev && last.right == right {
			last.n += n
			return
		}
		e.recs = append(e.recs, encRec{kind: recText, clock: clock, n: n, typ: typ, left: left, right: right, extra: -1})
	case kindMap:
		typ := e.typeIndex(typeKey{typeMap, it.entry.m.name})
		e.recs = append(e.recs, encRec{kind: recMap, clock: clock, n: 1, typ: typ, extra: e.addExtra(encExtra{entry: it.entry})})
	case kindSkip:
		if last != nil && last.kind == recSkip {
			last.n += n
			return
		}
		e.recs = append(e.recs, encRec{kind: recSkip, clock: clock, n: n, typ: -1, extra: -1})
	}
}

// typeIndex returns the index of type k in e.typeKeys, adding it if new;
// an update names a handful of types at most.
func (e *encoder) typeIndex(k typeKey) int32 {
	for i, x := range e.typeKeys {
		if x == k {
			return int32(i)
		}
	}
	e.typeKeys = append(e.typeKeys, k)
	return int32(len(e.typeKeys) - 1)
}

// addExtra appends x to e.extras and returns its index.
func (e *encoder) addExtra(x encExtra) int32 {
	e.extras = append(e.extras, x)
	return int32(len(e.extras) - 1)
}

// addDeletes adds client c's deleted ranges (sorted, merged).
func (e *encoder) addDeletes(c *clientState, ranges []clockRange) {
	if len(ranges) > 0 {
		e.deletes = append(e.deletes, encDeletes{c, ranges})
	}
}

func cmpType(a, b typeKey) int {
	if a.kind != b.kind {
		return a.kind - b.kind
	}
	return strings.Compare(a.name, b.name)
}

func (e *encoder) clientIdx(id ClientID) uint64 {
	i, _ := slices.BinarySearch(e.clients, id)
	return uint64(i)
}

// finish writes the update and returns a copy of it.
func (e *encoder) finish() []byte {
	// Tables: every client and type the update mentions, sorted.
	for _, b := range e.blocks {
		e.clients = append(e.clients, b.c.id)
	}
	version := uint64(formatVersion)
	for i := range e.recs {
		r := &e.recs[i]
		if r.kind >= recStart {
			version = compactVersion
		}
		// Origins mostly name the client of the last one: listing a
		// client once per run of them keeps the table to sort short.
		if r.left.ok && r.left.client != e.clients[len(e.clients)-1] {
			e.clients = append(e.clients, r.left.client)
		}
		if r.right.ok && r.right.client != e.clients[len(e.clients)-1] {
			e.clients = append(e.clients, r.right.client)
		}
	}
	// Every type in typeKeys is some record's, and each is there once.
	e.types = append(e.types, e.typeKeys...)
	for _, d := range e.deletes {
		e.clients = append(e.clients, d.c.id)
	}
	slices.Sort(e.clients)
	e.clients = slices.Compact(e.clients)
	if len(e.types) > 1 {
		slices.SortFunc(e.types, cmpType)
	}
	e.typeSlot = e.typeSlot[:0]
	for _, k := range e.typeKeys {
		i, _ := slices.BinarySearchFunc(e.types, k, cmpType)
		e.typeSlot = append(e.typeSlot, i)
	}

	if e.enc == nil {
		e.enc = msgpack.NewEncoder(&e.buf)
	}
	enc := e.enc
	if version == compactVersion {
		e.planMarks()
		_ = enc.EncodeArrayLen(6)
	} else {
		_ = enc.EncodeArrayLen(5)
	}
	_ = enc.EncodeUint(version)
	_ = enc.EncodeArrayLen(len(e.types))
	for _, t := range e.types {
		_ = enc.EncodeArrayLen(2)
		_ = enc.EncodeUint(uint64(t.kind))
		_ = enc.EncodeString(t.name)
	}
	_ = enc.EncodeArrayLen(len(e.clients))
	for _, c := range e.clients {
		_ = enc.EncodeUint(uint64(c))
	}
	_ = enc.EncodeArrayLen(len(e.deletes))
	for _, d := range e.deletes {
		col := e.col[:0]
		if version == compactVersion {
			col = appendMergedDeletes(col, d.ranges, e.anchorClocks(d.c))
		} else {
			prev := uint64(0)
			for _, r := range d.ranges {
				col = appendVar(col, r.start-prev)
				col = appendVar(col, r.end-r.start)
				prev = r.end
			}
		}
		e.col = col
		_ = enc.EncodeArrayLen(2)
		_ = enc.EncodeUint(e.clientIdx(d.c.id))
		_ = enc.EncodeBytes(col)
	}
	_ = enc.EncodeArrayLen(len(e.blocks))
	for _, b := range e.blocks {
		col := e.col[:0]
		cur := -1
		entries := 0
		recs := e.recs[b.from:b.to]
		for i := range recs {
			r := &recs[i]
			if r.cm == cmAbsorbed {
				continue
			}
			if r.kind != recSkip {
				ti := e.typeSlot[r.typ]
				if ti != cur {
					cur = ti
					col = appendVar(col, longHeader(recParent, uint64(ti)))
				}
			}
			switch r.kind {
			case recText:
				col = e.appendTextRec(col, b.c, r)
			case recMap:
				col = appendVar(col, longHeader(recMap, 0))
				entries++
			case recSkip:
				col = appendVar(col, longHeader(recSkip, r.n-1))
			case recStart:
				switch r.cm {
				case cmMark:
					col = e.appendMarkRec(col, r, &recs[i+1], nil)
				case cmCont:
					col = e.appendMarkRec(col, r, &recs[i+1], &recs[i+2])
				default:
					col = e.appendRichRec(col, b.c, r)
					entries++
				}
			default:
				col = e.appendRichRec(col, b.c, r)
				if r.kind != recEnd {
					entries++
				}
			}
		}
		e.col = col
		_ = enc.EncodeArrayLen(5)
		_ = enc.EncodeUint(e.clientIdx(b.c.id))
		_ = enc.EncodeUint(b.clock)
		_ = enc.EncodeBytes(col)
		_ = enc.EncodeString(bytesAsString(e.text[b.textFrom:b.textTo]))
		_ = enc.EncodeArrayLen(entries)
		for i := range recs {
			r := &recs[i]
			switch r.kind {
			case recStart:
				if r.cm != cmNone {
					continue // a compact mark: its kind is in the mark table
				}
				m := e.extras[r.extra].mark
				if m.value == nil {
					_ = enc.EncodeArrayLen(1)
					_ = enc.EncodeString(m.key)
				} else {
					_ = enc.EncodeArrayLen(2)
					_ = enc.EncodeString(m.key)
					e.buf.Write(m.value)
				}
				continue
			case recEmbed:
				if r.extra < 0 {
					_ = enc.EncodeArrayLen(0)
				} else {
					_ = enc.EncodeArrayLen(1)
					e.buf.Write(e.extras[r.extra].value)
				}
				continue
			case recMap:
			default:
				continue
			}
			en := e.extras[r.extra].entry
			if en.deleted {
				_ = enc.EncodeArrayLen(2)
			} else {
				_ = enc.EncodeArrayLen(3)
			}
			_ = enc.EncodeString(en.key)
			_ = enc.EncodeUint(en.seq)
			if !en.deleted {
				e.buf.Write(en.value)
			}
		}
	}
	if version == compactVersion {
		_ = enc.EncodeArrayLen(len(e.kinds))
		for _, k := range e.kinds {
			if k.value == nil {
				_ = enc.EncodeArrayLen(2)
			} else {
				_ = enc.EncodeArrayLen(3)
			}
			_ = enc.EncodeString(k.key)
			_ = enc.EncodeUint(uint64(k.expand))
			e.buf.Write(k.value)
		}
	}
	out := bytes.Clone(e.buf.Bytes())
	e.reset()
	if e.large() {
		e.shed()
	}
	return out
}

// An encoder's room for records, text, columns and output grows to the
// size of the largest update it wrote and is kept, so that a keystroke's
// update allocates nothing. A snapshot grows it to the snapshot's size
// (80 bytes per run: 98 MiB beside a 135 MiB document of 1M runs), and a
// server takes snapshots of every room. So an encoder keeps small room
// only; large room goes to one spare shared by every document of the
// process, which the next large encode, of any document, takes
// (Doc.Diff): the process keeps one snapshot's room, not one per
// document, and a repeated snapshot still finds its memory ready
// (dropping the room made the next snapshot of the 1M-run document 4-6x
// slower: fresh memory costs page faults).
const (
	keptRecs  = 1 << 10  // records an encoder keeps room for (80 KiB)
	keptBytes = 32 << 10 // bytes of each buffer it keeps
)

// spare is the large room encoders shed (encScratch), or nil. Two
// encodes at once: one takes it, the other grows its own, and the
// larger is kept.
var spare struct {
	mu sync.Mutex
	s  *encScratch
}

// encScratch is an encoder's large room: its records, text, column and
// output buffers, empty.
type encScratch struct {
	recs           []encRec
	text, col, out []byte
}

func (s *encScratch) size() int {
	return cap(s.recs)*int(unsafe.Sizeof(encRec{})) + cap(s.text) + cap(s.col) + cap(s.out)
}

// large reports whether e holds more room than an encoder keeps.
func (e *encoder) large() bool {
	return cap(e.recs) > keptRecs || cap(e.text) > keptBytes || cap(e.col) > keptBytes || e.buf.Cap() > keptBytes
}

// shed gives e's room to spare, or drops it if spare holds more.
func (e *encoder) shed() {
	s := &encScratch{recs: e.recs[:0], text: e.text[:0], col: e.col[:0], out: e.buf.Bytes()[:0]}
	e.recs, e.text, e.col = nil, nil, nil
	e.buf = bytes.Buffer{} // the msgpack encoder writes to &e.buf, which stays
	spare.mu.Lock()
	if spare.s == nil || spare.s.size() < s.size() {
		spare.s = s
	}
	spare.mu.Unlock()
}

// adopt takes spare's room, if any, before a large encode.
func (e *encoder) adopt() {
	spare.mu.Lock()
	s := spare.s
	spare.s = nil
	spare.mu.Unlock()
	if s == nil {
		return
	}
	if cap(s.recs) > cap(e.recs) {
		e.recs = s.recs
	}
	if cap(s.text) > cap(e.text) {
		e.text = s.text
	}
	if cap(s.col) > cap(e.col) {
		e.col = s.col
	}
	if cap(s.out) > e.buf.Cap() {
		e.buf = *bytes.NewBuffer(s.out)
	}
}

// appendRichRec appends a start anchor, end anchor or embed record.
func (e *encoder) appendRichRec(col []byte, c *clientState, r *encRec) []byte {
	lm, rm := originModes(c, r)
	p := uint64(r.kind-richBase) | lm<<2 | rm<<4
	if r.kind == recStart {
		p |= uint64(e.extras[r.extra].mark.expand) << 6
	}
	col = appendVar(col, longHeader(recMap, p))
	col = e.appendOrigins(col, c, r, lm, rm)
	if r.kind == recStart {
		col = appendVar(col, e.extras[r.extra].mark.seq)
	}
	return col
}

// originModes chooses the origin modes of a record by FORMAT.md §4.4.
func originModes(c *clientState, r *encRec) (lm, rm uint64) {
	lm, rm = leftNone, rightNone
	switch {
	case r.left.none():
	case r.left.of(c) && r.left.clock+1 == r.clock:
		lm = leftPrev
	case r.left.of(c) && r.left.clock < r.clock:
		lm = leftDelta
	default:
		lm = leftExplicit
	}
	switch {
	case r.right.none():
	case r.left.ok && r.right.client == r.left.client && r.right.clock == r.left.clock+1:
		rm = rightAfterL
	case r.right.of(c) && r.right.clock < r.clock:
		rm = rightDelta
	default:
		rm = rightExplicit
	}
	return lm, rm
}

func (e *encoder) appendTextRec(col []byte, c *clientState, r *encRec) []byte {
	lm, rm := originModes(c, r)
	if lm == leftDelta && (rm == rightAfterL || rm == rightDelta) {
		// The short form: by far the most common shape of a run.
		bit := uint64(0)
		if rm == rightDelta {
			bit = 1
		}
		col = appendVar(col, bit<<1|(r.n-1)<<2)
	} else {
		col = appendVar(col, longHeader(recText, lm|rm<<2|(r.n-1)<<4))
	}
	return e.appendOrigins(col, c, r, lm, rm)
}

// appendOrigins appends the origin operands of modes lm and rm.
func (e *encoder) appendOrigins(col []byte, c *clientState, r *encRec, lm, rm uint64) []byte {
	switch lm {
	case leftDelta:
		col = appendVar(col, r.clock-r.left.clock)
	case leftExplicit:
		col = appendVar(col, e.clientIdx(r.left.client))
		col = appendVar(col, r.left.clock)
	}
	switch rm {
	case rightDelta:
		col = appendVar(col, r.clock-r.right.clock)
	case rightExplicit:
		col = appendVar(col, e.clientIdx(r.right.client))
		col = appendVar(col, r.right.clock)
	}
	return col
}

// bytesAsString views b as a string without copying; the string must not
// outlive the next change to b.
func bytesAsString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// ---------------------------------------------------------------------------
// Decoding

// A record is one decoded change: a text run (split where the update's
// delete set starts or stops deleting it), a map entry, or a skip.
type record struct {
	clock, length uint64
	typ           int // index in decoded.types
	left, right   ID
	content       []byte // text: UTF-8 of the run, nil when it arrives deleted
	key           []byte // map
	seq           uint64
	value         []byte
	// Resolved when integrated.
	text *Text
	m    *Map
	// The small fields share a word: a snapshot decodes a record per run.
	kind     itemKind
	hasLeft  bool
	hasRight bool
	del      bool
	rich     richKind   // text: an embed or an anchor instead of code points
	expand   ExpandRule // start anchor
}

type decType struct {
	kind int
	name []byte
	// The document's Text or Map of that name, once looked up.
	text *Text
	m    *Map
}

// decBlock is one client's records: decoded.recs[from:to].
type decBlock struct {
	client     ClientID
	from, to   int
	textLen    int    // bytes in the block's text column
	start, end uint64 // the clocks the block covers
	// textType is the type of all the block's records when they are all
	// text records of one type (the usual case), else -1.
	textType int
}

// decDeletes is one client's delete ranges: decoded.ranges[from:to].
type decDeletes struct {
	client   ClientID
	from, to int
}

// decoded is an update decoded into plain values; its slices are reused
// between calls and point into the input bytes.
type decoded struct {
	r       reader
	types   []decType
	clients []ClientID
	deletes []decDeletes
	ranges  []clockRange
	blocks  []decBlock
	recs    []record
	cur     ClientID // client of the block being decoded
	version uint64
	// Version 3: the compact marks' start anchors awaiting their kind,
	// and the mark table.
	kinds []pendingKind
	table []decKind
}

// release drops references to the input bytes, so that pooled scratch
// space keeps no update alive.
func (u *decoded) release() {
	u.r.reset(nil)
	// Cleared once here, and emptied, so that the next decode does not
	// clear them again: after a large snapshot that would be a second
	// pass over hundreds of megabytes, paid by the next small update.
	clear(u.recs)
	u.recs = u.recs[:0]
	clear(u.types)
	clear(u.table)
}

// recordBytes is what decodeBlock expects a record to take in the column,
// to make room for a block's records at once: a run with its origins takes
// a header and one or two deltas of two or three bytes each, so most
// blocks fit; a block of smaller records grows the room by doubling. (The
// room stays with the pooled scratch: clearing it for the next large
// update costs far less than the page faults of new memory.)
const recordBytes = 6

// textTypeOf returns the type of the text record holding id, -1 if the
// record is not a text record, and found false if the update does not
// hold id. Blocks are sorted by client and records by clock, so both are
// found by binary search: validation asks once per record.
func (u *decoded) textTypeOf(id ID) (typ int, found bool) {
	bi, ok := slices.BinarySearchFunc(u.blocks, id.Client, func(b decBlock, c ClientID) int {
		return cmpClient(b.client, c)
	})
	if !ok {
		return 0, false
	}
	b := &u.blocks[bi]
	if id.Clock < b.start || id.Clock >= b.end {
		return 0, false
	}
	if b.textType >= 0 {
		return b.textType, true
	}
	r := u.recordAt(b, id.Clock)
	if r.kind == kindText {
		return r.typ, true
	}
	return -1, true
}

// firstText returns the first Text the update's types name, resolved.
func (u *decoded) firstText() *Text {
	for _, t := range u.types {
		if t.text != nil {
			return t.text
		}
	}
	return nil
}

// recordAt returns the record of block b holding clock, which must lie in
// [b.start, b.end).
func (u *decoded) recordAt(b *decBlock, clock uint64) *record {
	recs := u.recs[b.from:b.to]
	i := sort.Search(len(recs), func(i int) bool { return recs[i].clock+recs[i].length > clock })
	return &recs[i]
}

func cmpClient(a, b ClientID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Limits that keep hostile input from costing more than its size.
const (
	maxNameBytes = 1024 // bytes in a type name
)

func (u *decoded) decode(b []byte) error {
	r := &u.r
	r.reset(b)
	u.types = u.types[:0]
	u.clients = u.clients[:0]
	u.deletes = u.deletes[:0]
	u.ranges = u.ranges[:0]
	u.blocks = u.blocks[:0]
	u.kinds = u.kinds[:0]
	clear(u.recs)
	u.recs = u.recs[:0]

	v, err := openUpdate(r)
	if err != nil {
		return err
	}
	u.version = v
	var n int
	// Types.
	if n, err = r.arrayLen(); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := r.tuple(2, "a type [kind, name]"); err != nil {
			return err
		}
		kind, err := r.uint(typeMap)
		if err != nil {
			return err
		}
		name, err := r.str()
		if err != nil {
			return err
		}
		if len(name) > maxNameBytes {
			return r.errorf("type name longer than %d bytes", maxNameBytes)
		}
		t := decType{kind: int(kind), name: name}
		if i > 0 {
			p := u.types[i-1]
			if p.kind > t.kind || p.kind == t.kind && bytes.Compare(p.name, t.name) >= 0 {
				return r.errorf("types not sorted")
			}
		}
		u.types = append(u.types, t)
	}
	// Clients.
	if n, err = r.arrayLen(); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		c, err := r.clientID()
		if err != nil {
			return err
		}
		if i > 0 && c <= u.clients[i-1] {
			return r.errorf("clients not in ascending order")
		}
		u.clients = append(u.clients, c)
	}
	// Deletes.
	if n, err = r.arrayLen(); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := r.tuple(2, "a delete entry [client, ranges]"); err != nil {
			return err
		}
		client, err := u.clientAt()
		if err != nil {
			return err
		}
		if i > 0 && client <= u.deletes[i-1].client {
			return r.errorf("delete entries not in ascending client order")
		}
		col, err := r.raw(false)
		if err != nil {
			return err
		}
		vr := varReader{b: col, base: r.offset() - len(col)}
		from := len(u.ranges)
		prev := uint64(0)
		for vr.more() {
			gap, err := vr.next(maxClock)
			if err != nil {
				return err
			}
			ln, err := vr.next(maxClock)
			if err != nil {
				return err
			}
			if ln == 0 || len(u.ranges) > from && gap == 0 {
				return vr.errorf("empty or unmerged delete range")
			}
			start := prev + gap
			if start+ln > maxClock {
				return vr.errorf("delete range past 2^53")
			}
			u.ranges = append(u.ranges, clockRange{start, start + ln})
			prev = start + ln
		}
		if len(u.ranges) == from {
			return r.errorf("delete entry with no ranges")
		}
		u.deletes = append(u.deletes, decDeletes{client, from, len(u.ranges)})
	}
	// Blocks.
	if n, err = r.arrayLen(); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := u.decodeBlock(i); err != nil {
			return err
		}
	}
	if v == compactVersion {
		if err := u.decodeMarks(); err != nil {
			return err
		}
	}
	return r.end()
}

// openUpdate reads the top-level array header and the version of an
// update: 5 elements for versions 1 and 2, 6 for version 3.
func openUpdate(r *reader) (uint64, error) {
	n, err := r.arrayLen()
	if err != nil {
		return 0, err
	}
	if n != 5 && n != 6 {
		return 0, r.errorf("an update is an array of 5 or 6 elements, not %d", n)
	}
	v, err := r.uint(1 << 32)
	if err != nil {
		return 0, err
	}
	switch {
	case v != formatVersion && v != richVersion && v != compactVersion:
		return 0, r.errorf("unsupported format version %d", v)
	case v == compactVersion && n != 6:
		return 0, r.errorf("a version 3 update is an array of 6 elements, not %d", n)
	case v != compactVersion && n != 5:
		return 0, r.errorf("a version %d update is an array of 5 elements, not %d", v, n)
	}
	return v, nil
}

// clientAt reads an index into the clients table and returns that client.
func (u *decoded) clientAt() (ClientID, error) {
	ci, err := u.r.uint(uint64(len(u.clients)))
	if err != nil {
		return 0, err
	}
	if ci >= uint64(len(u.clients)) {
		return 0, u.r.errorf("client index %d out of range", ci)
	}
	return u.clients[ci], nil
}

// deletedIn returns the delete ranges of client in this update.
func (u *decoded) deletedIn(client ClientID) []clockRange {
	// Delete entries are sorted by client: a linear scan per block would
	// cost blocks × entries.
	i, ok := slices.BinarySearchFunc(u.deletes, client, func(d decDeletes, c ClientID) int {
		return cmpClient(d.client, c)
	})
	if !ok {
		return nil
	}
	return u.ranges[u.deletes[i].from:u.deletes[i].to]
}

func (u *decoded) decodeBlock(i int) error {
	r := &u.r
	if err := r.tuple(5, "a block [client, clock, records, text, entries]"); err != nil {
		return err
	}
	client, err := u.clientAt()
	if err != nil {
		return err
	}
	if i > 0 && client <= u.blocks[i-1].client {
		return r.errorf("blocks not in ascending client order")
	}
	u.cur = client
	clock, err := r.uint(maxClock)
	if err != nil {
		return err
	}
	col, err := r.raw(false)
	if err != nil {
		return err
	}
	colBase := r.offset() - len(col)
	text, err := r.str()
	if err != nil {
		return err
	}
	textBase := r.offset() - len(text)
	textLen := len(text)
	nEntries, err := r.arrayLen()
	if err != nil {
		return err
	}
	deleted := u.deletedIn(client)
	// Records take two or three bytes on average, and deletions may cut
	// text records in pieces: room for them up front saves regrowing.
	// Growing by at least the length so far keeps an update of many small
	// blocks from copying its records over and over.
	if need := len(col)/recordBytes + len(deleted); cap(u.recs)-len(u.recs) < need {
		u.recs = slices.Grow(u.recs, max(need, len(u.recs)))
	}
	di := 0 // the first delete range that may overlap the next record
	vr := varReader{b: col, base: colBase}
	from := len(u.recs)
	typ := -1
	var tail textTail    // the record before, for a continuation
	prevSeq := uint64(0) // of the block's last start anchor
	for vr.more() {
		h, err := vr.next(1<<62 - 1)
		if err != nil {
			return err
		}
		var lm, rm, n uint64
		if h&1 == 0 {
			lm, rm, n = leftDelta, rightAfterL, h>>2+1
			if h&2 != 0 {
				rm = rightDelta
			}
		} else {
			p := h >> 3
			switch (h >> 1) & 3 {
			case recParent:
				if p >= uint64(len(u.types)) {
					return vr.errorf("type index %d out of range", p)
				}
				typ = int(p)
				tail.ok = false
				continue
			case recSkip:
				n := p + 1
				if clock+n > maxClock {
					return vr.errorf("clock past 2^53")
				}
				u.recs = append(u.recs, record{kind: kindSkip, clock: clock, length: n})
				clock += n
				tail.ok = false
				continue
			case recMap:
				if p != 0 && u.version >= richVersion {
					if typ < 0 || u.types[typ].kind != typeText {
						return vr.errorf("rich text record outside a text")
					}
					if p&3 == 0 && u.version == compactVersion {
						if clock, text, di, err = u.decodeMark(&vr, p, clock, typ, &prevSeq, &tail, deleted, di, text, textBase+textLen); err != nil {
							return err
						}
						continue
					}
					if err := u.decodeRich(&vr, p, clock, typ, &nEntries, deleted); err != nil {
						return err
					}
					if rec := &u.recs[len(u.recs)-1]; rec.rich == richStart {
						prevSeq = rec.seq
					}
					clock++
					tail.ok = false
					continue
				}
				if p != 0 {
					return vr.errorf("bad map record header")
				}
				if typ < 0 || u.types[typ].kind != typeMap {
					return vr.errorf("map record outside a map")
				}
				if nEntries == 0 {
					return r.errorf("fewer entries than map records")
				}
				nEntries--
				rec, err := u.decodeEntry(clock, typ)
				if err != nil {
					return err
				}
				if clock+1 > maxClock {
					return vr.errorf("clock past 2^53")
				}
				u.recs = append(u.recs, rec)
				clock++
				tail.ok = false
				continue
			}
			lm, rm, n = p&3, (p>>2)&3, p>>4+1
			if lm == leftDelta && (rm == rightAfterL || rm == rightDelta) {
				return vr.errorf("long text header for a short-form record")
			}
		}
		// A text record.
		if typ < 0 || u.types[typ].kind != typeText {
			return vr.errorf("text record outside a text")
		}
		if clock+n > maxClock {
			return vr.errorf("clock past 2^53")
		}
		rec := record{kind: kindText, clock: clock, length: n, typ: typ}
		if err := u.decodeOrigins(&vr, lm, rm, &rec); err != nil {
			return err
		}
		// Split the run where this update's delete set starts or stops
		// deleting it; only the live parts carry text.
		var derr error
		text, di, derr = u.splitText(rec, deleted, di, text, textBase+textLen)
		if derr != nil {
			return derr
		}
		clock += n
		tail = textTail{ok: true, hasRight: rec.hasRight, right: rec.right}
	}
	if nEntries != 0 {
		return r.errorf("more entries than map records")
	}
	if len(text) != 0 {
		return &DecodeError{Offset: textBase, Msg: "text longer than its records"}
	}
	if from == len(u.recs) {
		return r.errorf("block with no records")
	}
	b := decBlock{client: client, from: from, to: len(u.recs), textLen: textLen, start: u.recs[from].clock, end: clock, textType: u.recs[from].typ}
	for _, r := range u.recs[from:] {
		if r.kind != kindText || r.typ != b.textType {
			b.textType = -1
			break
		}
	}
	u.blocks = append(u.blocks, b)
	return nil
}

// decodeOrigins reads the origin operands of modes lm and rm of rec, a
// record of the current block's client.
func (u *decoded) decodeOrigins(vr *varReader, lm, rm uint64, rec *record) error {
	client, clock := u.cur, rec.clock
	var err error
	switch lm {
	case leftPrev, leftDelta:
		delta := uint64(1)
		if lm == leftDelta {
			if delta, err = vr.next(clock); err != nil {
				return err
			}
			if delta == 0 {
				return vr.errorf("zero origin delta")
			}
		}
		if delta > clock {
			return vr.errorf("origin before clock 0")
		}
		rec.left, rec.hasLeft = ID{client, clock - delta}, true
	case leftExplicit:
		if rec.left, err = u.explicitID(vr); err != nil {
			return err
		}
		rec.hasLeft = true
	}
	switch rm {
	case rightAfterL:
		if !rec.hasLeft {
			return vr.errorf("right origin relative to a missing left origin")
		}
		rec.right, rec.hasRight = ID{rec.left.Client, rec.left.Clock + 1}, true
	case rightDelta:
		delta, err := vr.next(clock)
		if err != nil {
			return err
		}
		if delta == 0 {
			return vr.errorf("zero origin delta")
		}
		rec.right, rec.hasRight = ID{client, clock - delta}, true
	case rightExplicit:
		if rec.right, err = u.explicitID(vr); err != nil {
			return err
		}
		rec.hasRight = true
	}
	if rec.hasLeft && rec.left.Client == client && rec.left.Clock >= clock ||
		rec.hasRight && rec.right.Client == client && rec.right.Clock >= clock {
		return vr.errorf("origin not before the record")
	}
	return nil
}

// decodeRich decodes a start anchor, end anchor or embed record of header
// payload p (RICH.md §R6) at clock of text type typ, taking its entries
// element; deleted are the block client's delete ranges in this update.
func (u *decoded) decodeRich(vr *varReader, p, clock uint64, typ int, nEntries *int, deleted []clockRange) error {
	sub, lm, rm, ex := p&3, (p>>2)&3, (p>>4)&3, ExpandRule((p>>6)&3)
	switch {
	case p>>8 != 0 || sub == 0:
		return vr.errorf("bad rich record header")
	case sub != recStart-richBase && ex != 0:
		return vr.errorf("expand rule on a record other than a start anchor")
	case ex != ExpandNone && ex != ExpandAfter:
		return vr.errorf("reserved expand rule %d", ex)
	case clock+1 > maxClock:
		return vr.errorf("clock past 2^53")
	}
	rec := record{kind: kindText, clock: clock, length: 1, typ: typ, rich: [...]richKind{1: richStart, 2: richEnd, 3: richEmbed}[sub], expand: ex}
	if err := u.decodeOrigins(vr, lm, rm, &rec); err != nil {
		return err
	}
	i := sort.Search(len(deleted), func(i int) bool { return deleted[i].end > clock })
	dead := i < len(deleted) && deleted[i].start <= clock
	r := &u.r
	switch rec.rich {
	case richStart:
		if dead && u.version < compactVersion {
			return vr.errorf("deleted anchor")
		}
		seq, err := vr.next(maxClock)
		if err != nil {
			return err
		}
		if seq == 0 {
			return vr.errorf("start anchor with seq 0")
		}
		rec.seq = seq
	case richEnd:
		if dead && u.version < compactVersion || clock == 0 {
			return vr.errorf("end anchor deleted or at clock 0")
		}
	}
	if rec.rich != richEnd {
		if *nEntries == 0 {
			return r.errorf("fewer entries than map and rich records")
		}
		*nEntries--
		k, err := r.arrayLen()
		if err != nil {
			return err
		}
		if rec.rich == richStart {
			if k != 1 && k != 2 {
				return r.errorf("a start anchor entry is [key] or [key, value]")
			}
			if rec.key, err = r.str(); err != nil {
				return err
			}
			if k == 2 {
				if rec.value, err = r.value(); err != nil {
					return err
				}
				if len(rec.value) == 1 && rec.value[0] == 0xc0 {
					rec.value = nil // msgpack nil: a removal
				}
			}
		} else {
			if k != 0 && k != 1 || dead != (k == 0) {
				return r.errorf("an embed entry is [value], or [] when deleted")
			}
			if k == 1 {
				if rec.value, err = r.value(); err != nil {
					return err
				}
				rec.content = embedContent
			}
		}
	}
	u.recs = append(u.recs, rec)
	return nil
}

// splitText appends rec, cut into live and deleted parts by the delete
// ranges, taking the live parts' content from text; it returns the text
// left over.
func (u *decoded) splitText(rec record, deleted []clockRange, i int, text []byte, textEnd int) ([]byte, int, error) {
	end := rec.clock + rec.length
	for i < len(deleted) && deleted[i].end <= rec.clock {
		i++
	}
	for clock := rec.clock; clock < end; {
		// The part is written in place, field by field: copying a whole
		// record costs a write barrier per pointer field while the
		// collector runs, which it does through most of a large load.
		k := len(u.recs)
		if k == cap(u.recs) {
			u.recs = slices.Grow(u.recs, max(k, 8)) // doubling: a copy per record at most
		}
		u.recs = u.recs[:k+1]
		part := &u.recs[k] // zero: recs are cleared before reuse
		part.kind, part.clock, part.typ = kindText, clock, rec.typ
		part.left, part.hasLeft = rec.left, rec.hasLeft
		part.right, part.hasRight = rec.right, rec.hasRight
		if clock > rec.clock {
			part.left, part.hasLeft = ID{u.cur, clock - 1}, true
		}
		var stop uint64
		if i < len(deleted) && deleted[i].start <= clock {
			stop = min(end, deleted[i].end)
			if deleted[i].end == stop {
				i++ // used up; a range reaching past the record serves the next one too
			}
		} else {
			stop = end
			if i < len(deleted) {
				stop = min(end, deleted[i].start)
			}
			k := takeRunes(text, stop-clock)
			if k < 0 {
				return nil, i, &DecodeError{Offset: textEnd - len(text), Msg: "text shorter than its records"}
			}
			part.content = text[:k:k]
			text = text[k:]
		}
		part.length = stop - clock
		clock = stop
	}
	return text, i, nil
}

// takeRunes returns the byte length of the first n code points of b, or -1
// if b holds fewer.
func takeRunes(b []byte, n uint64) int {
	off := 0
	for ; n > 0; n-- {
		if off >= len(b) {
			return -1
		}
		if b[off] < utf8.RuneSelf {
			off++
			continue
		}
		_, size := utf8.DecodeRune(b[off:])
		off += size
	}
	return off
}

func (u *decoded) explicitID(vr *varReader) (ID, error) {
	ci, err := vr.next(uint64(len(u.clients)))
	if err != nil {
		return ID{}, err
	}
	if ci >= uint64(len(u.clients)) {
		return ID{}, vr.errorf("client index out of range")
	}
	clock, err := vr.next(maxClock - 1)
	if err != nil {
		return ID{}, err
	}
	return ID{u.clients[ci], clock}, nil
}

func (u *decoded) decodeEntry(clock uint64, typ int) (record, error) {
	r := &u.r
	k, err := r.arrayLen()
	if err != nil {
		return record{}, err
	}
	if k != 2 && k != 3 {
		return record{}, r.errorf("a map entry is [key, seq] or [key, seq, value]")
	}
	key, err := r.str()
	if err != nil {
		return record{}, err
	}
	seq, err := r.uint(maxClock)
	if err != nil {
		return record{}, err
	}
	rec := record{kind: kindMap, clock: clock, length: 1, typ: typ, key: key, seq: seq, del: k == 2}
	if k == 3 {
		if rec.value, err = r.value(); err != nil {
			return record{}, err
		}
	}
	return rec, nil
}
