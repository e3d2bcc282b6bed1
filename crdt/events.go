package crdt

import (
	"bytes"
	"math/bits"
	"slices"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
)

// A DeltaOp is one step of a Quill-shaped delta: keep Retain positions,
// insert the text Insert or the embed Embed, or remove Delete positions.
// Exactly one of Retain, Insert, Embed and Delete is set.
//
// Attributes is the formatting of an insert: the marks the inserted text
// carries, in a TextEvent after the transaction. On a retain it is a change
// of formatting: each key is set to its value over the retained positions,
// a nil value removing the key; keys it does not name are left as they
// are. A delete has none.
//
// In JSON an op has Quill's shape: {"insert": "text" or the embed's value,
// "attributes": {...}}, {"retain": n, "attributes": {...}}, {"delete": n}.
type DeltaOp struct {
	Retain int    `json:"retain,omitempty"`
	Insert string `json:"insert,omitempty"`
	// Embed is the value of an inserted embed (RICH.md §R5), which takes
	// one position; in JSON it is the op's "insert".
	Embed      any            `json:"-"`
	Delete     int            `json:"delete,omitempty"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

// A TextEvent tells an observer how a transaction changed a Text. Delta,
// applied from position 0 of the text as it was before, gives the text as
// it is now; positions count code points and embeds. In a Text with
// formatting or embeds, inserts carry the attributes the inserted text
// has after the transaction, embeds are inserted as Embed ops, and a
// retain with attributes tells that the formatting of the retained
// positions changed (DeltaOp), so that applying the delta to the
// Text's ToDelta from before gives its ToDelta after. Local is true for
// edits made on this replica.
type TextEvent struct {
	Delta []DeltaOp
	Local bool
}

// A MapEvent tells an observer which keys of a Map a transaction changed.
type MapEvent struct {
	Keys  []string
	Local bool
}

type textObserver struct{ fn func(TextEvent) }

type mapObserver struct{ fn func(MapEvent) }

// Observe calls fn after every transaction that changed t, local or remote,
// and returns a function that stops the calls. An editor binding uses the
// event's Delta to patch its view instead of re-reading the text.
func (t *Text) Observe(fn func(TextEvent)) (cancel func()) {
	o := &textObserver{fn}
	t.observers = append(t.observers, o)
	return func() {
		for i, x := range t.observers {
			if x == o {
				t.observers = append(t.observers[:i:i], t.observers[i+1:]...)
				return
			}
		}
	}
}

// Observe calls fn after every transaction that changed m and returns a
// function that stops the calls.
func (m *Map) Observe(fn func(MapEvent)) (cancel func()) {
	o := &mapObserver{fn}
	m.observers = append(m.observers, o)
	return func() {
		for i, x := range m.observers {
			if x == o {
				m.observers = append(m.observers[:i:i], m.observers[i+1:]...)
				return
			}
		}
	}
}

// change is one positional edit, in the coordinates of the text as it was
// right before it.
type change struct {
	pos    int
	insert string
	delete int
}

func (t *Text) observed() bool { return len(t.observers) > 0 }

// touch lists t among the texts the transaction changed, for the
// document's type observers.
func (t *Text) touch() {
	if t.doc.typeObservers != nil && !t.touched && t.doc.txn != nil {
		t.touched = true
		t.doc.txn.touchedTexts = append(t.doc.txn.touchedTexts, t)
	}
}

func (t *Text) record(ch change) {
	if !t.observed() {
		return
	}
	t.enlist()
	t.changes = append(t.changes, ch)
}

// enlist lists t among the texts whose observers the transaction calls.
func (t *Text) enlist() {
	if len(t.changes) == 0 && len(t.newAnchors) == 0 {
		t.doc.txn.texts = append(t.doc.txn.texts, t)
	}
}

// recordAnchor notes that the transaction placed anchor it, which may
// change the formatting of text it did not otherwise touch.
func (t *Text) recordAnchor(it *item) {
	if !t.observed() {
		return
	}
	t.enlist()
	if t.newAnchors == nil {
		t.newAnchors = make(map[*item]bool)
	}
	t.newAnchors[it] = true
}

func (t *Text) recordInsert(pos int, s string) { t.record(change{pos: pos, insert: s}) }

func (t *Text) recordDelete(pos, n int) { t.record(change{pos: pos, delete: n}) }

func (m *Map) recordChange(key string) {
	if m.doc.typeObservers != nil && !m.touched {
		m.touched = true
		m.doc.txn.touchedMaps = append(m.doc.txn.touchedMaps, m)
	}
	if len(m.observers) == 0 {
		return
	}
	if len(m.changed) == 0 {
		m.doc.txn.maps = append(m.doc.txn.maps, m)
	}
	m.changed = append(m.changed, key)
}

// flush composes the recorded changes into one delta and calls observers.
func (t *Text) flush(local bool) {
	if len(t.changes) == 0 && len(t.newAnchors) == 0 {
		return
	}
	delta := compose(t.changes)
	if len(t.newAnchors) > 0 || len(t.marks) > 0 || len(t.embeds) > 0 {
		delta = t.annotate(delta)
	}
	ev := TextEvent{Delta: delta, Local: local}
	t.changes, t.newAnchors = nil, nil
	if len(ev.Delta) == 0 {
		return // text inserted and deleted again: nothing to tell
	}
	for _, o := range append([]*textObserver(nil), t.observers...) {
		o.fn(ev)
	}
}

func (m *Map) flush(local bool) {
	if len(m.changed) == 0 {
		return
	}
	seen := make(map[string]bool, len(m.changed))
	var keys []string
	for _, k := range m.changed {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	m.changed = nil
	ev := MapEvent{Keys: keys, Local: local}
	for _, o := range append([]*mapObserver(nil), m.observers...) {
		o.fn(ev)
	}
}

// An attrRun is n visible positions of a Text after a transaction with
// the same formatting: now (after the transaction) and before it (for
// positions the transaction kept); embed is set for an embed, which is a
// run of its own.
type attrRun struct {
	n        int
	embed    *item
	now, was []attr
}

// attrRuns returns the formatting of the text's visible positions after
// the transaction, from the start of leaf lf (at position p) on, in one
// walk with two resolvers: one sees every anchor, the other only those
// that were there before the transaction (anchors never move or go, so
// the old formatting of a kept position is what the old anchors give).
// No anchor placed in the transaction may precede lf. The walk ends at
// position end, once it has passed every anchor the transaction placed
// and the two resolvers agree again: the formatting after that did not
// change.
func (t *Text) attrRuns(lf *leaf, p, end int) []attrRun {
	now, was := newResolver(t), newResolver(t)
	for _, s := range t.opensAt(lf) {
		now.anchor(s)
		was.anchor(s)
	}
	var out []attrRun
	if p > 0 {
		out = append(out, attrRun{n: p}) // kept positions before lf
	}
	seen, diverged := 0, 0 // new anchors passed; marks open in one resolver only
	for ; lf != nil; lf = lf.next {
		for _, it := range lf.items {
			if p >= end && seen == len(t.newAnchors) && diverged == 0 {
				return out
			}
			if it.rich >= richStart {
				now.anchor(it)
				if !t.newAnchors[it] {
					was.anchor(it)
					continue
				}
				seen++
				switch _, id := t.markOf(it); {
				case it.rich == richStart:
					diverged++
				case t.newAnchors[t.doc.clients[id.Client].find(id.Clock)]:
					diverged-- // closes a mark the transaction opened
				default:
					diverged++ // closes, in now only, a mark opened before
				}
				continue
			}
			v := it.visible()
			if v == 0 {
				continue
			}
			p += v
			r := attrRun{n: v, now: now.current(), was: was.current()}
			if it.rich == richEmbed {
				r.embed = it
			} else if k := len(out); k > 0 && out[k-1].embed == nil &&
				sameAttrs(out[k-1].now, r.now) && sameAttrs(out[k-1].was, r.was) {
				out[k-1].n += v
				continue
			}
			out = append(out, r)
		}
	}
	return out
}

// changed returns the keys whose value differs between was and now, with
// their value now (nil when removed), sorted.
func changed(was, now []attr) []attr {
	var out []attr
	i, j := 0, 0
	for i < len(was) || j < len(now) {
		switch {
		case j == len(now) || i < len(was) && was[i].key < now[j].key:
			out = append(out, attr{was[i].key, nil})
			i++
		case i == len(was) || now[j].key < was[i].key:
			out = append(out, now[j])
			j++
		default:
			if !bytes.Equal(was[i].value, now[j].value) {
				out = append(out, now[j])
			}
			i, j = i+1, j+1
		}
	}
	return out
}

// annotate adds formatting and embeds to the plain delta of a transaction
// on a rich text: inserts get the attributes they have now and embeds
// their value; when the transaction placed anchors, retains get the
// changes of formatting of the positions they keep, over the whole text.
func (t *Text) annotate(delta []DeltaOp) []DeltaOp {
	full := len(t.newAnchors) > 0
	// Walk from the first insert, or the first new anchor if before, to
	// the end of the last change.
	first := slices.IndexFunc(delta, func(op DeltaOp) bool { return op.Insert != "" })
	if first < 0 && !full {
		return delta // deletions only
	}
	from, end := -1, 0
	for i, op := range delta {
		if i == first {
			from = end
		}
		end += op.Retain + utf8.RuneCountInString(op.Insert)
	}
	var lf *leaf
	var p int
	if from >= 0 {
		lf, p = t.leafAt(from)
	}
	if full {
		var a *item // the first new anchor
		for it := range t.newAnchors {
			if a == nil || leafKey(it.leaf) < leafKey(a.leaf) || it.leaf == a.leaf && indexIn(it) < indexIn(a) {
				a = it
			}
		}
		if lf == nil || leafKey(a.leaf) < leafKey(lf) {
			lf, p = a.leaf, t.leafStart(a.leaf)
		}
	}
	runs := t.attrRuns(lf, p, end)
	type piece struct {
		op    DeltaOp
		attrs []attr // of an insert, or the changes of a retain
	}
	var out []piece
	push := func(p piece) {
		if k := len(out); k > 0 && p.op.Embed == nil && out[k-1].op.Embed == nil && sameAttrs(out[k-1].attrs, p.attrs) {
			last := &out[k-1].op
			switch {
			case p.op.Retain > 0 && last.Retain > 0:
				last.Retain += p.op.Retain
				return
			case p.op.Insert != "" && last.Insert != "":
				last.Insert += p.op.Insert
				return
			case p.op.Delete > 0 && last.Delete > 0:
				last.Delete += p.op.Delete
				return
			}
		}
		out = append(out, p)
	}
	ri, used := 0, 0 // the run at the cursor, and how much of it is consumed
	// take consumes n positions of the text as it is now, calling fn for
	// each piece of a run.
	take := func(n int, fn func(r *attrRun, k int)) {
		for n > 0 && ri < len(runs) {
			r := &runs[ri]
			k := min(n, r.n-used)
			fn(r, k)
			n -= k
			if used += k; used == r.n {
				ri, used = ri+1, 0
			}
		}
	}
	retain := func(r *attrRun, k int) {
		var ch []attr
		if full {
			ch = changed(r.was, r.now)
		}
		push(piece{DeltaOp{Retain: k}, ch})
	}
	for _, op := range delta {
		switch {
		case op.Delete > 0:
			push(piece{op: op})
		case op.Retain > 0:
			take(op.Retain, retain)
		default:
			s := op.Insert
			take(utf8.RuneCountInString(s), func(r *attrRun, k int) {
				b := 0
				for range k {
					_, size := utf8.DecodeRuneInString(s[b:])
					b += size
				}
				if r.embed != nil {
					push(piece{DeltaOp{Embed: t.embedValue(r.embed)}, r.now})
				} else {
					push(piece{DeltaOp{Insert: s[:b]}, r.now})
				}
				s = s[b:]
			})
		}
	}
	if full {
		take(t.length, retain)
	}
	for len(out) > 0 && out[len(out)-1].op.Retain > 0 && len(out[len(out)-1].attrs) == 0 {
		out = out[:len(out)-1]
	}
	ops := make([]DeltaOp, len(out))
	for i, p := range out {
		ops[i] = p.op
		if len(p.attrs) > 0 {
			ops[i].Attributes = make(map[string]any, len(p.attrs))
			for _, a := range p.attrs {
				var v any
				if a.value != nil {
					_ = msgpack.Unmarshal(a.value, &v)
				}
				ops[i].Attributes[a.key] = v
			}
		}
	}
	return ops
}

// span is a piece of a delta being built: n code points that are either
// kept from the old text (ins == nil, del false), removed from it (del), or
// inserted (ins holds them; emptied when deleted again).
type span struct {
	n   int
	del bool
	ins []rune
}

// width is the number of code points of the new text the span covers.
func (s *span) width() int {
	switch {
	case s.del:
		return 0
	case s.ins != nil:
		return len(s.ins)
	}
	return s.n
}

// compose turns a sequence of positional changes into one delta from the
// text before the first change to the text after the last.
func compose(changes []change) []DeltaOp {
	// A single retain of "the rest" is implicit at the end; spans cover
	// only the prefix of the text the changes reached.
	var l spanList
	for _, ch := range changes {
		if ch.insert != "" {
			l.insert(ch.pos, []rune(ch.insert))
		} else if ch.delete > 0 {
			l.delete(ch.pos, ch.delete)
		}
	}
	var out []DeltaOp
	var ins []rune // the insertion being gathered, pushed at the next other op
	push := func(op DeltaOp) {
		if len(ins) > 0 {
			out = append(out, DeltaOp{Insert: string(ins)})
			ins = ins[:0]
		}
		if n := len(out); n > 0 {
			last := &out[n-1]
			switch {
			case op.Retain > 0 && last.Retain > 0:
				last.Retain += op.Retain
				return
			case op.Delete > 0 && last.Delete > 0:
				last.Delete += op.Delete
				return
			}
		}
		out = append(out, op)
	}
	for _, c := range l.chunks {
		for _, s := range c.spans {
			switch {
			case s.ins != nil:
				ins = append(ins, s.ins...)
			case s.del:
				push(DeltaOp{Delete: s.n})
			default:
				push(DeltaOp{Retain: s.n})
			}
		}
	}
	push(DeltaOp{}) // flush the last insertion
	out = out[:len(out)-1]
	for len(out) > 0 && out[len(out)-1].Retain > 0 {
		out = out[:len(out)-1]
	}
	return out
}

// spanChunk is a run of consecutive spans: their total width and how many
// of them are not deleted.
type spanChunk struct {
	spans []span
	width int
	live  int
}

// maxChunk is the most spans a chunk holds before it splits in two.
const maxChunk = 128

// spanList is the sequence of spans of compose, cut into chunks whose
// widths a Fenwick tree sums, so that finding a position costs O(log n)
// plus a chunk or two of spans, and inserting one costs O(maxChunk): a
// transaction of many changes (a snapshot loaded into an observed Text)
// composes in O(n log n), not O(n²).
type spanList struct {
	chunks []*spanChunk
	tree   []int // Fenwick tree over chunk widths, 1-based
}

// add records that chunk ci grew by d code points.
func (l *spanList) add(ci, d int) {
	l.chunks[ci].width += d
	for k := ci + 1; k < len(l.tree); k += k & -k {
		l.tree[k] += d
	}
}

// rebuild recomputes the Fenwick tree after chunks moved.
func (l *spanList) rebuild() {
	l.tree = slices.Grow(l.tree[:0], len(l.chunks)+1)[:len(l.chunks)+1]
	clear(l.tree)
	for ci, c := range l.chunks {
		k := ci + 1
		l.tree[k] += c.width
		if j := k + k&-k; j < len(l.tree) {
			l.tree[j] += l.tree[k]
		}
	}
}

// before returns the index of the first chunk whose end is at or after pos,
// and where it starts.
func (l *spanList) before(pos int) (int, int) {
	// Walk down the tree to the last chunk that ends before pos.
	k, start := 0, 0
	for step := 1 << bits.Len(uint(len(l.tree))); step > 0; step >>= 1 {
		if j := k + step; j < len(l.tree) && start+l.tree[j] < pos {
			k, start = j, start+l.tree[j]
		}
	}
	return k, start
}

// seek splits spans so that a span boundary falls at new-text position pos
// and returns the chunk and index of the first span at or after it: the
// first span not deleted that starts at pos, or the second half of the one
// split there. A position past the covered prefix extends it with a kept
// span and returns the end.
func (l *spanList) seek(pos int) (int, int) {
	if len(l.chunks) == 0 {
		l.chunks = []*spanChunk{{}}
		l.rebuild()
	}
	ci, p := l.before(pos)
	for ; ci < len(l.chunks); ci++ {
		c := l.chunks[ci]
		if c.live == 0 {
			p += c.width // deleted spans only: width 0
			continue
		}
		for i := range c.spans {
			s := &c.spans[i]
			if s.del {
				continue
			}
			n := s.width()
			if pos == p {
				return ci, i
			}
			if pos < p+n {
				k := pos - p
				var a, b span
				if s.ins != nil {
					// Insertions are never appended to, so the halves may
					// share the runes.
					a, b = span{ins: s.ins[:k:k]}, span{ins: s.ins[k:]}
				} else {
					a, b = span{n: k}, span{n: n - k}
				}
				*s = a
				l.add(ci, -b.width()) // insertAt adds it back
				return l.insertAt(ci, i+1, b)
			}
			p += n
		}
	}
	ci = len(l.chunks) - 1
	end := len(l.chunks[ci].spans)
	if pos > p {
		ci, end = l.insertAt(ci, end, span{n: pos - p})
		end++
	}
	return ci, end
}

// insertAt puts s at index i of chunk ci and returns where it is, after
// splitting the chunk if it is full.
func (l *spanList) insertAt(ci, i int, s span) (int, int) {
	c := l.chunks[ci]
	c.spans = slices.Insert(c.spans, i, s)
	if !s.del {
		c.live++
	}
	l.add(ci, s.width())
	if len(c.spans) <= maxChunk {
		return ci, i
	}
	half := len(c.spans) / 2
	nc := &spanChunk{spans: slices.Clone(c.spans[half:])}
	c.spans = slices.Delete(c.spans, half, len(c.spans))
	c.width, c.live = 0, 0
	for k := range c.spans {
		c.width += c.spans[k].width()
		if !c.spans[k].del {
			c.live++
		}
	}
	for k := range nc.spans {
		nc.width += nc.spans[k].width()
		if !nc.spans[k].del {
			nc.live++
		}
	}
	l.chunks = slices.Insert(l.chunks, ci+1, nc)
	l.rebuild()
	if i >= half {
		return ci + 1, i - half
	}
	return ci, i
}

// insert inserts ins at new-text position pos: after any deleted spans
// there, before the span that starts there.
func (l *spanList) insert(pos int, ins []rune) {
	ci, i := l.seek(pos)
	if i > len(l.chunks[ci].spans) {
		i = len(l.chunks[ci].spans)
	}
	l.insertAt(ci, i, span{ins: ins})
}

// delete removes n code points of the new text from pos on.
func (l *spanList) delete(pos, n int) {
	l.seek(pos)
	// Cutting at the end may split the chunk of the start: look the start
	// up again, which finds the same span.
	l.seek(pos + n)
	ci, i := l.seek(pos)
	for n > 0 && ci < len(l.chunks) {
		c := l.chunks[ci]
		for ; n > 0 && i < len(c.spans); i++ {
			s := &c.spans[i]
			switch {
			case s.del:
			case s.ins != nil:
				n -= len(s.ins)
				l.add(ci, -len(s.ins))
				s.ins = s.ins[:0]
			default:
				n -= s.n
				l.add(ci, -s.n)
				s.del = true
				c.live--
			}
		}
		ci, i = ci+1, 0
	}
}

// A TypesEvent tells an observer of a Doc which of its shared types a
// transaction changed, by name: texts with characters inserted or
// deleted, maps with keys set or deleted.
type TypesEvent struct {
	Texts []string
	Maps  []string
	Local bool
}

type typesObserver struct{ fn func(TypesEvent) }

// ObserveTypes calls fn after every transaction, local or remote, that
// changed one of the document's texts or maps, including those the
// transaction created, and returns a function that stops the calls. A
// server uses it to learn what an update touched without observing
// every type.
func (d *Doc) ObserveTypes(fn func(TypesEvent)) (cancel func()) {
	o := &typesObserver{fn}
	d.typeObservers = append(d.typeObservers, o)
	return func() {
		for i, x := range d.typeObservers {
			if x == o {
				d.typeObservers = append(d.typeObservers[:i:i], d.typeObservers[i+1:]...)
				if len(d.typeObservers) == 0 {
					d.typeObservers = nil
				}
				return
			}
		}
	}
}

// flushTypes calls the type observers with the types tx touched, and
// clears their marks.
func (d *Doc) flushTypes(texts []*Text, maps []*Map, local bool) {
	if len(texts) == 0 && len(maps) == 0 {
		return
	}
	ev := TypesEvent{Local: local}
	for _, t := range texts {
		t.touched = false
		ev.Texts = append(ev.Texts, t.name)
	}
	for _, m := range maps {
		m.touched = false
		ev.Maps = append(ev.Maps, m.name)
	}
	for _, o := range append([]*typesObserver(nil), d.typeObservers...) {
		o.fn(ev)
	}
}
