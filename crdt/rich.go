package crdt

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
)

// Rich text (RICH.md): marks are pairs of invisible anchor items in the
// Text's sequence, embeds are one-position items holding a msgpack value.
// Both are text items (kind kindText) told apart by item.rich, so that
// origins, lookups, validation and integration treat them like code
// points.

// richKind says what a text item holds.
type richKind uint8

const (
	richNone  richKind = iota // a run of code points
	richEmbed                 // one embedded value, shown as U+FFFC
	richStart                 // the start anchor of a mark (invisible)
	richEnd                   // the end anchor of a mark (invisible)
)

// embedContent is what an embed holds in the Text's arena, so that String
// shows it as one code point.
var embedContent = []byte("\uFFFC")

// An ExpandRule says whether text typed at the edge of a mark takes it
// (RICH.md §R3).
type ExpandRule uint8

const (
	// ExpandNone marks (links, comments) grow at neither end.
	ExpandNone ExpandRule = 0
	// ExpandAfter marks (bold, italic) take text typed at their end.
	ExpandAfter ExpandRule = 1
)

// A MarkSchema gives the expand rule of mark keys; keys it does not list
// take DefaultMarkSchema's rule, or ExpandNone.
type MarkSchema map[string]ExpandRule

// DefaultMarkSchema is the rule of the usual inline marks: character styles
// grow at their end, links and comments do not grow.
var DefaultMarkSchema = MarkSchema{
	"bold": ExpandAfter, "italic": ExpandAfter, "underline": ExpandAfter,
	"strike": ExpandAfter, "code": ExpandAfter,
	"link": ExpandNone, "comment": ExpandNone,
}

// A mark is what a start anchor carries; its end anchor is the next clock
// of the same client.
type mark struct {
	key    string
	value  []byte // msgpack; nil removes the key
	seq    uint64 // Lamport number: one more than the greatest seen
	expand ExpandRule
}

// beats reports whether mark a of client ca wins over mark b of client cb
// for the same key.
func (a *mark) beats(ca ClientID, b *mark, cb ClientID) bool {
	return a.seq > b.seq || a.seq == b.seq && ca > cb
}

// SetMarkSchema sets the expand rules of mark keys for later calls of
// Format. A rule is stored with each mark, so replicas with different
// schemas still agree on marks already made.
func (t *Text) SetMarkSchema(s MarkSchema) error {
	for k, r := range s {
		if r != ExpandNone && r != ExpandAfter {
			return fmt.Errorf("crdt: expand rule %d of mark %q is not ExpandNone or ExpandAfter", r, k)
		}
	}
	t.schema = make(MarkSchema, len(s))
	for k, r := range s {
		t.schema[k] = r
	}
	return nil
}

// expandRule returns the rule of key under t's schema.
func (t *Text) expandRule(key string) ExpandRule {
	if r, ok := t.schema[key]; ok {
		return r
	}
	return DefaultMarkSchema[key]
}

// setMark records the mark that the start anchor id carries.
func (t *Text) setMark(id ID, m *mark) {
	if t.marks == nil {
		t.marks = make(map[ID]*mark)
	}
	t.marks[id] = m
	t.maxSeq = max(t.maxSeq, m.seq)
}

// markOf returns the mark of anchor it (start or end).
func (t *Text) markOf(it *item) (*mark, ID) {
	id := ID{it.c.id, it.clock}
	if it.rich == richEnd {
		id.Clock--
	}
	return t.marks[id], id
}

// class orders siblings in the integration rule (RICH.md §R3): anchors
// attached to the item before their gap come first, anchors attached to
// the item after it last, code points and embeds between.
func (t *Text) class(it *item) int {
	switch it.rich {
	case richStart:
		return 2
	case richEnd:
		if m, _ := t.markOf(it); m.expand == ExpandAfter {
			return 2
		}
		return 0
	}
	return 1
}

// classOf is class for an item of kind rich that client c is about to
// place at clock.
func (t *Text) classOf(rich richKind, c *clientState, clock uint64) int {
	switch rich {
	case richStart:
		return 2
	case richEnd:
		if t.marks[ID{c.id, clock - 1}].expand == ExpandAfter {
			return 2
		}
		return 0
	}
	return 1
}

// typingGap moves a local insertion between leftItem and rightItem (at
// index i of lf) left past the anchors attached to what follows: start
// anchors and end anchors of marks that expand after. Typing at the end of
// a bold run thus lands inside it, at the start of any mark outside it.
func (t *Text) typingGap(lf *leaf, i int, leftItem, rightItem *item) (*leaf, int, *item, *item) {
	for leftItem != nil && leftItem.rich >= richStart && t.class(leftItem) == 2 {
		rightItem = leftItem
		lf, i = leftItem.leaf, indexIn(leftItem)
		leftItem = t.prev(lf, i)
	}
	return lf, i, leftItem, rightItem
}

// Format applies key = value to the n positions from pos and returns the
// update. A nil value removes the key from those positions. value is
// stored in canonical msgpack form like a Map value. The mark's expand
// rule comes from the Text's schema (SetMarkSchema, DefaultMarkSchema).
// Inside Doc.Transact it returns a nil update.
func (t *Text) Format(pos, n int, key string, value any) ([]byte, error) {
	if pos < 0 || n < 0 || pos > t.length || n > t.length-pos {
		return nil, fmt.Errorf("%w: format of %d at %d in a text of length %d", ErrOutOfRange, n, pos, t.length)
	}
	b, err := markValue(key, value)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	rule := t.expandRule(key)
	return t.doc.local(func() { t.format(pos, n, key, b, rule) })
}

// markValue checks a mark's key and returns its value in canonical
// msgpack form, nil for a removal.
func markValue(key string, value any) ([]byte, error) {
	if !utf8.ValidString(key) {
		return nil, fmt.Errorf("crdt: mark key %q is not valid UTF-8", key)
	}
	if value == nil {
		return nil, nil
	}
	b, err := canonicalValue(value)
	if err == nil {
		err = checkValue(b)
	}
	if err != nil {
		return nil, fmt.Errorf("crdt: mark value for %q: %w", key, err)
	}
	if len(b) == 1 && b[0] == 0xc0 {
		b = nil // msgpack nil: a removal
	}
	return b, nil
}

// format places a mark's two anchors (RICH.md §R3).
func (t *Text) format(pos, n int, key string, value []byte, rule ExpandRule) {
	if cp := t.doc.txn.capture; cp != nil {
		cp.formatted(t, pos, n, key, value, rule)
	}
	c := t.doc.me
	t.touch()
	t.setMark(ID{c.id, c.next}, &mark{key: key, value: value, seq: t.maxSeq + 1, expand: rule})

	// The start anchor goes right before the first formatted item.
	lf, i, right := t.splitAt(pos)
	left := t.prev(lf, i)
	l, r := gapRefs(left, right)
	t.place(c, 1, left, l, r, lf, i, nil, richStart)

	if rule == ExpandAfter {
		// Right before the next visible item: the whole gap is inside.
		lf, i, right = t.splitAt(pos + n)
		left = t.prev(lf, i)
	} else {
		// Right after the last formatted item.
		var off uint64
		lf, i, off = t.locate(pos + n - 1)
		left = lf.items[i]
		if off > 0 {
			left = t.split(left, off)
		}
		if left.length > 1 {
			t.split(left, 1)
		}
		lf, i = left.leaf, indexIn(left)+1
		_, _, right = t.nextFrom(lf, i)
	}
	l, r = gapRefs(left, right)
	t.place(c, 1, left, l, r, lf, i, nil, richEnd)
}

// SetBlock sets block attribute key (heading level, list kind, ...) of
// the block holding position pos to value, nil removing it, and returns the
// update. As in Quill, a block's attributes are carried by the newline that
// ends it: SetBlock formats the first "\n" at or after pos with a mark
// that never expands, so text typed in the block does not take it. It is an
// error when no newline follows pos.
func (t *Text) SetBlock(pos int, key string, value any) ([]byte, error) {
	if pos < 0 || pos > t.length {
		return nil, fmt.Errorf("%w: block at %d in a text of length %d", ErrOutOfRange, pos, t.length)
	}
	nl := t.newlineFrom(pos)
	if nl < 0 {
		return nil, fmt.Errorf("%w: no newline ends the block at %d", ErrOutOfRange, pos)
	}
	b, err := markValue(key, value)
	if err != nil {
		return nil, err
	}
	return t.doc.local(func() { t.format(nl, 1, key, b, ExpandNone) })
}

// newlineFrom returns the position of the first visible "\n" at or after
// pos, or -1.
func (t *Text) newlineFrom(pos int) int {
	if pos == t.length {
		return -1
	}
	lf, i, off := t.locate(pos)
	p := pos - int(off)
	for ; lf != nil; lf, i = lf.next, 0 {
		for _, it := range lf.items[i:] {
			if it.visible() == 0 {
				continue
			}
			s := t.arena[it.start:it.end]
			from := 0
			if p < pos {
				from = byteOffset(s, it.length, off)
			}
			if k := bytes.IndexByte(s[from:], '\n'); k >= 0 {
				return p + utf8.RuneCount(s[:from+k])
			}
			p += int(it.length)
		}
	}
	return -1
}

// splitAt returns the leaf and index of the visible item at pos, split so
// that it starts there, or the end of the text (item nil) at t.length.
func (t *Text) splitAt(pos int) (*leaf, int, *item) {
	if pos == t.length {
		return t.last, len(t.last.items), nil
	}
	lf, i, off := t.locate(pos)
	it := lf.items[i]
	if off > 0 {
		it = t.split(it, off)
		lf, i = it.leaf, indexIn(it)
	}
	return lf, i, it
}

// InsertEmbed inserts one position holding value (an image, a mention) at
// pos and returns the update. value is stored in canonical msgpack form;
// String shows the embed as U+FFFC. Inside Doc.Transact it returns a nil
// update.
func (t *Text) InsertEmbed(pos int, value any) ([]byte, error) {
	if pos < 0 || pos > t.length {
		return nil, fmt.Errorf("%w: insert at %d in a text of length %d", ErrOutOfRange, pos, t.length)
	}
	b, err := canonicalValue(value)
	if err == nil {
		err = checkValue(b)
	}
	if err != nil {
		return nil, fmt.Errorf("crdt: embed value: %w", err)
	}
	return t.doc.local(func() { t.insertEmbed(pos, b) })
}

// setEmbed records the value of embed id.
func (t *Text) setEmbed(id ID, value []byte) {
	if t.embeds == nil {
		t.embeds = make(map[ID][]byte)
	}
	t.embeds[id] = value
}

// A RichOp is one insert of a Quill-shaped delta: a run of text, or one
// embed, with the formatting it carries. (DeltaOp, the op of change
// events, carries plain text only.)
type RichOp struct {
	// Insert is a string, or the decoded msgpack value of an embed.
	Insert any `json:"insert"`
	// Attributes maps mark keys to their decoded values; nil when none.
	Attributes map[string]any `json:"attributes,omitempty"`
}

// attr is one resolved mark key of a run.
type attr struct {
	key   string
	value []byte
}

// open is a mark whose start anchor a walk has passed and whose end anchor
// it has not.
type open struct {
	id ID
	m  *mark
}

// A resolver follows a walk over a Text's sequence, anchor by anchor, and
// gives the formatting in effect (RICH.md §R4): for each key, the open
// mark with the greatest (seq, client) wins. It keeps for each key the set
// of open marks and its current winner; an end anchor recomputes the
// winner only when it closes it.
type resolver struct {
	t         *Text
	openByKey map[string][]open
	winner    map[string]open
	dirty     bool
	attrs     []attr // the formatting in effect, sorted by key; never mutated
}

func newResolver(t *Text) *resolver {
	return &resolver{t: t, openByKey: map[string][]open{}, winner: map[string]open{}}
}

// anchor takes the start or end anchor it into account.
func (r *resolver) anchor(it *item) {
	m, id := r.t.markOf(it)
	if it.rich == richStart {
		r.openByKey[m.key] = append(r.openByKey[m.key], open{id, m})
		if w, ok := r.winner[m.key]; !ok || m.beats(id.Client, w.m, w.id.Client) {
			r.winner[m.key] = open{id, m}
			r.dirty = true
		}
		return
	}
	os := slices.DeleteFunc(r.openByKey[m.key], func(o open) bool { return o.id == id })
	r.openByKey[m.key] = os
	if w, ok := r.winner[m.key]; ok && w.id == id {
		delete(r.winner, m.key)
		for _, o := range os {
			if w, ok := r.winner[m.key]; !ok || o.m.beats(o.id.Client, w.m, w.id.Client) {
				r.winner[m.key] = o
			}
		}
		r.dirty = true
	}
}

// current returns the formatting in effect, without removals. The slice
// stays valid after later anchors.
func (r *resolver) current() []attr {
	if r.dirty {
		r.attrs = nil
		for k, w := range r.winner {
			if w.m.value != nil {
				r.attrs = append(r.attrs, attr{k, w.m.value})
			}
		}
		slices.SortFunc(r.attrs, func(a, b attr) int { return strings.Compare(a.key, b.key) })
		r.dirty = false
	}
	return r.attrs
}

// leafAnchors returns the anchors of lf, in order.
func leafAnchors(lf *leaf) []*item {
	if lf.anchorsStale {
		lf.anchors = lf.anchors[:0]
		for _, it := range lf.items {
			if it.rich >= richStart {
				lf.anchors = append(lf.anchors, it)
			}
		}
		lf.anchorsStale = false
	}
	return lf.anchors
}

// skipTo finds the leaf holding visible position from (the last leaf at
// the end of the text), passes the start anchors of the marks open where
// it starts to anchor, and returns it and the position where it starts.
// A walk that resolves formatting from position from on starts there.
func (t *Text) skipTo(from int, anchor func(*item)) (*leaf, int) {
	lf, p := t.leafAt(from)
	for _, s := range t.opensAt(lf) {
		anchor(s)
	}
	return lf, p
}

// eachVisible calls fn for each visible item of t that overlaps the n
// positions from pos, in order, with the position p where the item
// starts, the part [lo, hi) of it inside the range, and the formatting
// in force there.
func (t *Text) eachVisible(pos, n int, fn func(it *item, p, lo, hi int, attrs []attr)) {
	end := pos + n
	r := newResolver(t)
	lf, p := t.skipTo(pos, r.anchor)
	for ; lf != nil && p < end; lf = lf.next {
		for _, it := range lf.items {
			if p >= end {
				break
			}
			if it.rich >= richStart {
				r.anchor(it)
				continue
			}
			v := it.visible()
			if v == 0 {
				continue
			}
			if lo, hi := max(pos, p), min(end, p+v); lo < hi {
				fn(it, p, lo, hi, r.current())
			}
			p += v
		}
	}
}

// leafAt returns the leaf holding visible position from, or the last leaf
// at the end of the text, and the position where it starts.
func (t *Text) leafAt(from int) (*leaf, int) {
	if from >= t.length {
		return t.last, t.length - t.last.visible
	}
	return t.seekLeaf(from)
}

// opensAt returns the start anchors of the marks open where lf starts:
// started before it and not ended. Each leaf caches its set; placing an
// anchor anywhere makes every cache stale, and a stale one is computed
// from the nearest leaf before it whose cache holds, adding and removing
// the anchors of the leaves between. Resolving formatting at a position
// thus costs a lookup, not a walk from the start of the text, while no
// anchor comes; after one, the first lookup pays a walk over the leaves
// and their anchors.
func (t *Text) opensAt(lf *leaf) []*item {
	var chain []*leaf
	p := lf
	for p != nil && p.opensGen != t.anchorGen {
		chain = append(chain, p)
		p = p.prev
	}
	var opens []*item // open where the earliest stale leaf starts
	if p != nil {
		opens = nextOpens(p.opens, leafAnchors(p))
	}
	for i := len(chain) - 1; i >= 0; i-- {
		l := chain[i]
		l.opens, l.opensGen = opens, t.anchorGen
		if i > 0 {
			opens = nextOpens(opens, leafAnchors(l))
		}
	}
	return lf.opens
}

// nextOpens returns the open start anchors after anchors, given those open
// before them; opens itself is not changed.
func nextOpens(opens, anchors []*item) []*item {
	if len(anchors) == 0 {
		return opens
	}
	out := slices.Clone(opens)
	for _, a := range anchors {
		if a.rich == richStart {
			out = append(out, a)
			continue
		}
		out = slices.DeleteFunc(out, func(s *item) bool { return s.c == a.c && s.clock == a.clock-1 })
	}
	return slices.Clip(out)
}

// ToDelta returns the text as a Quill-shaped delta of inserts: runs of
// text with equal formatting are one op, each embed is one op. For each
// key, the mark covering a position with the greatest (seq, client) gives
// its value; a removal (nil) gives none (RICH.md §R4).
func (t *Text) ToDelta() []RichOp {
	var ops []RichOp
	var runAttrs []attr
	var run strings.Builder
	flush := func() {
		if run.Len() > 0 {
			ops = append(ops, RichOp{Insert: run.String(), Attributes: decodeAttrs(runAttrs)})
			run.Reset()
		}
	}
	r := newResolver(t)
	for lf := t.first; lf != nil; lf = lf.next {
		for _, it := range lf.items {
			switch {
			case it.rich >= richStart:
				r.anchor(it)
			case it.deleted:
			case it.rich == richEmbed:
				flush()
				ops = append(ops, RichOp{Insert: t.embedValue(it), Attributes: decodeAttrs(r.current())})
			default:
				attrs := r.current()
				if run.Len() > 0 && !sameAttrs(attrs, runAttrs) {
					flush()
				}
				runAttrs = attrs
				run.Write(t.arena[it.start:it.end])
			}
		}
	}
	flush()
	return ops
}

// embedValue returns the decoded value of embed item it.
func (t *Text) embedValue(it *item) any {
	var v any
	_ = msgpack.Unmarshal(t.embeds[ID{it.c.id, it.clock}], &v) // checked when made or decoded
	return v
}

func sameAttrs(a, b []attr) bool {
	return slices.EqualFunc(a, b, func(x, y attr) bool { return x.key == y.key && bytes.Equal(x.value, y.value) })
}

// decodeAttrs returns the attributes map of a delta op.
func decodeAttrs(as []attr) map[string]any {
	if len(as) == 0 {
		return nil
	}
	m := make(map[string]any, len(as))
	for _, a := range as {
		var v any
		_ = msgpack.Unmarshal(a.value, &v) // values passed checkValue or the decoder
		m[a.key] = v
	}
	return m
}
