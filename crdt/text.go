package crdt

import (
	"fmt"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// A bound is a code point at or before the left origin of every item of a
// leaf or of a subtree of the Text's tree: the conflict scan passes over them without
// looking at their items when the bound lies right of the new run's left
// origin. Code points never change order, so a bound stays one while items
// only leave.
type bound struct {
	r     ref   // with state boundAt; none is before all
	at    *item // the item that held r when last looked up
	state uint8
}

// States of a bound.
const (
	boundUnknown = iota // to be computed from the items
	boundAt             // r
	boundEmpty          // no items
)

// A Text is a named sequence of Unicode code points shared by all replicas
// of a Doc. Positions and lengths count code points, so an emoji is one
// position and is never split.
//
// A Text belongs to its Doc and, like the Doc, is not safe for concurrent use.
type Text struct {
	doc  *Doc
	name string
	// root is the top of the B-tree of items (tree.go); first and last
	// are its first and last leaves.
	root        *node
	first, last *leaf
	length      int // visible code points
	// arena holds the UTF-8 content of the live items, addressed by
	// item.start/end; content is appended, and moved only by compact.
	arena []byte
	// dead counts the bytes of arena that hold deleted text.
	dead int
	// cursor caches where the last lookup landed: leaf cur (nil for none)
	// starts at visible position curPos. Typing is mostly sequential, so
	// most lookups start next to their answer.
	cur    *leaf
	curPos int

	observers []*textObserver
	changes   []change // recorded during a transaction when observed
	// newAnchors are the anchors placed during a transaction when observed
	newAnchors map[*item]bool
	// anchorGen counts the anchors placed, so that the marks open at the
	// start of a leaf, cached in it, are known to be stale (opensAt).
	anchorGen uint64
	touched   bool // listed in the transaction's touchedTexts

	// Rich content (rich.go): the marks carried by start anchors and the
	// values of embeds, by the ID of their item; maxSeq is the greatest
	// mark seq seen; schema gives the expand rules of local marks.
	marks  map[ID]*mark
	embeds map[ID][]byte
	maxSeq uint64
	schema MarkSchema
	// blockKeys are the keys ApplyDelta applies to newlines only; nil
	// means DefaultBlockKeys.
	blockKeys map[string]bool
}

func newText(d *Doc, name string) *Text {
	t := &Text{doc: d, name: name}
	t.newTree()
	return t
}

// Name returns the text's name in its Doc.
func (t *Text) Name() string { return t.name }

// Len returns the number of code points in the text.
func (t *Text) Len() int { return t.length }

// String returns the text's content.
func (t *Text) String() string {
	var b strings.Builder
	b.Grow(t.length)
	for lf := t.first; lf != nil; lf = lf.next {
		for _, it := range lf.items {
			if !it.deleted {
				b.Write(t.arena[it.start:it.end])
			}
		}
	}
	return b.String()
}

// Insert inserts s at code-point position pos and returns the update that
// describes the edit, to be sent to other replicas. Inside Doc.Transact it
// returns a nil update; Transact returns the combined one.
func (t *Text) Insert(pos int, s string) ([]byte, error) {
	if pos < 0 || pos > t.length {
		return nil, fmt.Errorf("%w: insert at %d in a text of length %d", ErrOutOfRange, pos, t.length)
	}
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("crdt: insert of invalid UTF-8")
	}
	if s == "" {
		return nil, nil
	}
	return t.doc.local(func() { t.insert(pos, s) })
}

// Delete deletes n code points starting at position pos and returns the
// update that describes the edit. Inside Doc.Transact it returns a nil
// update; Transact returns the combined one.
func (t *Text) Delete(pos, n int) ([]byte, error) {
	if pos < 0 || n < 0 || pos > t.length || n > t.length-pos {
		return nil, fmt.Errorf("%w: delete of %d at %d in a text of length %d", ErrOutOfRange, n, pos, t.length)
	}
	if n == 0 {
		return nil, nil
	}
	return t.doc.local(func() { t.delete(pos, n) })
}

// posOf returns the visible position of the first code point of it.
func (t *Text) posOf(it *item) int {
	p := t.leafStart(it.leaf)
	for _, x := range it.leaf.items {
		if x == it {
			return p
		}
		p += x.visible()
	}
	panic("crdt: item missing from its leaf")
}

// split cuts it after n code points (0 < n < it.length) and returns the
// second piece, which follows it both in the text and in clock order.
func (t *Text) split(it *item, n uint64) *item {
	b := it.start
	if !it.deleted {
		b += uint32(byteOffset(t.arena[it.start:it.end], it.length, n))
	}
	nx := t.doc.newItem()
	*nx = item{
		clock:   it.clock + n,
		length:  it.length - n,
		c:       it.c,
		next:    it.next,
		left:    ref{it.c, it.clock + n - 1},
		right:   it.right,
		start:   b,
		end:     it.end,
		kind:    kindText,
		deleted: it.deleted,
	}
	it.next = nx
	it.length = n
	it.end = b
	lf := it.leaf
	// The visible count of the leaf does not change: the pieces together
	// hold what it held.
	i := indexIn(it)
	lf.vis[i] = it.visible()
	if v := nx.visible(); v > 0 {
		t.addVisible(lf, -v)
	}
	t.insertItem(lf, i+1, nx, lf)
	return nx
}

// maxRun is the most code points typing adds to one item: past it, typing
// on starts a new item (with the same origins, so updates and snapshots
// are the same bytes). A local update that starts inside an item finds
// its first byte by counting code points from the item's start, which
// costs the item's length when the text is not ASCII; without the bound,
// every keystroke after a long run (a paste, or a long stretch of typing)
// would cost as much.
const maxRun = 1024

// locate returns the leaf, index and offset of the visible code point at
// pos (pos < t.length).
func (t *Text) locate(pos int) (*leaf, int, uint64) {
	lf, p := t.seekLeaf(pos)
	for i, v := range lf.vis {
		if pos < p+v {
			return lf, i, uint64(pos - p)
		}
		p += v
	}
	panic("crdt: leaf visible count is wrong")
}

// insert performs a local insertion of s (valid, non-empty UTF-8) at pos.
//
// The new text goes right before the visible code point at pos, after any
// deleted code points in front of it: its left origin is whatever stands
// immediately left (deleted or not), its right origin the code point at
// pos. Going after the deleted ones lets typing after a backspace continue
// the run it deleted from.
func (t *Text) insert(pos int, s string) {
	lf, i, leftItem, rightItem := t.gapAt(pos)
	left, right := gapRefs(leftItem, rightItem)
	content := unsafe.Slice(unsafe.StringData(s), len(s)) // only read
	t.place(t.doc.me, uint64(utf8.RuneCountInString(s)), leftItem, left, right, lf, i, content, richNone)
}

// gapAt returns where a local insertion at pos goes: index i of lf,
// between leftItem and rightItem (nil for the ends of the text). See
// insert and typingGap.
func (t *Text) gapAt(pos int) (lf *leaf, i int, leftItem, rightItem *item) {
	if pos == t.length {
		lf = t.last
		i = len(lf.items)
		leftItem = t.prev(lf, i)
	} else {
		var off uint64
		lf, i, off = t.locate(pos)
		rightItem = lf.items[i]
		if off > 0 {
			rightItem = t.split(rightItem, off)
			lf, i = rightItem.leaf, indexIn(rightItem)
		}
		leftItem = t.prev(lf, i)
	}
	return t.typingGap(lf, i, leftItem, rightItem)
}

// gapRefs returns the origins of an item placed between leftItem and
// rightItem (nil for the ends of the text).
func gapRefs(leftItem, rightItem *item) (left, right ref) {
	if leftItem != nil {
		left = leftItem.lastRef()
	}
	if rightItem != nil {
		right = rightItem.firstRef()
	}
	return left, right
}

// place puts a run of n code points of client c, at clock c.next, at index
// i of lf, right after leftItem (nil at the start of the text). The run
// grows leftItem when it continues it, which is what typing does;
// otherwise it becomes a new item. content is nil for a run that arrives
// deleted. An embed or an anchor (rich) is one clock and always an item of
// its own; an embed's content is U+FFFC, an anchor's is nil.
func (t *Text) place(c *clientState, n uint64, leftItem *item, left, right ref, lf *leaf, i int, content []byte, rich richKind) {
	deleted := content == nil && rich < richStart
	if !deleted && rich < richStart {
		t.touch()
	}
	if !deleted && rich == richNone && leftItem != nil && leftItem.length < maxRun && leftItem.rich == richNone && leftItem.c == c && leftItem.clock+leftItem.length == c.next &&
		!leftItem.deleted && leftItem.right == right && int(leftItem.end) == len(t.arena) &&
		t.prev(lf, i) == leftItem {
		if t.observed() {
			t.recordInsert(t.posOf(leftItem)+int(leftItem.length), string(content))
		}
		t.arena = append(t.arena, content...)
		leftItem.end = uint32(len(t.arena))
		leftItem.length += n
		c.next += n
		// leftItem is what prev found: item i-1 of lf, or the last of
		// its own leaf.
		if i > 0 {
			lf.vis[i-1] += int(n)
		} else {
			lp := leftItem.leaf
			lp.vis[len(lp.vis)-1] += int(n)
		}
		t.addVisible(leftItem.leaf, int(n))
		return
	}
	it := t.doc.newItem()
	*it = item{clock: c.next, length: n, c: c, left: left, right: right, kind: kindText, deleted: deleted, rich: rich}
	if !deleted {
		it.start = uint32(len(t.arena))
		t.arena = append(t.arena, content...)
		it.end = uint32(len(t.arena))
	}
	c.next += n
	c.addHead(it)
	var leftLeaf *leaf
	if leftItem != nil {
		leftLeaf = leftItem.leaf
	}
	t.insertItem(lf, i, it, leftLeaf)
	if !deleted && rich < richStart && t.observed() {
		t.recordInsert(t.posOf(it), string(content))
	}
	if rich >= richStart {
		t.anchorGen++
		t.recordAnchor(it)
	}
}

// delete performs a local deletion of n code points at pos.
func (t *Text) delete(pos, n int) {
	for n > 0 {
		lf, i, off := t.locate(pos)
		it := lf.items[i]
		if off > 0 {
			it = t.split(it, off)
		}
		if it.length > uint64(n) {
			t.split(it, uint64(n))
		}
		t.touch()
		t.recordDelete(pos, int(it.length))
		if cp := t.doc.txn.capture; cp != nil {
			cp.deleted(t, it)
		}
		c, clock, length := it.c, it.clock, it.length
		t.markDeleted(it)
		if !t.doc.txn.quiet {
			t.doc.txn.addDelete(c, clock, length)
		}
		n -= int(length)
	}
}

// markDeleted deletes it and merges it with deleted neighbours of the same
// run, so that a document with many deletions does not keep one item per
// deleted code point. It returns the item that now holds it.
func (t *Text) markDeleted(it *item) *item {
	t.dead += int(it.end - it.start)
	v, i := it.visible(), indexIn(it)
	it.deleted = true
	it.leaf.vis[i] = 0
	t.addVisible(it.leaf, -v)
	if p := t.prev(it.leaf, i); p != nil && p.absorbs(it) {
		t.absorb(p, it)
		it = p
	}
	if _, _, nx := t.nextFrom(it.leaf, indexIn(it)+1); nx != nil && it.absorbs(nx) {
		t.absorb(it, nx)
	}
	if t.dead >= compactMin && t.dead >= len(t.arena)/2 {
		t.compact()
	}
	return it
}

// compactMin is the least number of bytes of deleted text that make a
// Text compact its arena.
const compactMin = 64 << 10

// compact copies the text of the live items to a new arena, so that a
// document's memory follows the text it holds, not all the text ever typed
// into it. It runs once deleted text is half the arena, so its cost, a walk
// over the items, is paid for by the deletions since the last one.
func (t *Text) compact() {
	old := t.arena
	arena := make([]byte, 0, len(old)-t.dead)
	var tail *item // the item whose text ends the arena
	for lf := t.first; lf != nil; lf = lf.next {
		for _, it := range lf.items {
			switch {
			case it.deleted:
				it.start, it.end = 0, 0
			case int(it.end) == len(old):
				tail = it
			default:
				arena = moveContent(arena, old, it)
			}
		}
	}
	if tail != nil {
		// Still last, so that typing on at the end of it grows it.
		arena = moveContent(arena, old, tail)
	}
	t.arena, t.dead = arena, 0
}

// moveContent appends the text of it from old to arena and points it there.
func moveContent(arena, old []byte, it *item) []byte {
	start := len(arena)
	arena = append(arena, old[it.start:it.end]...)
	it.start, it.end = uint32(start), uint32(len(arena))
	return arena
}

// absorbs reports whether deleted item b can join deleted item a: b
// follows a in the text and in clock order, and continues a's run.
func (a *item) absorbs(b *item) bool {
	if !a.deleted || !b.deleted || a.rich != richNone || b.rich != richNone || a.c != b.c || a.clock+a.length != b.clock ||
		b.left != a.lastRef() || b.right != a.right {
		return false
	}
	// b must follow a in a's chain, or be the client's newest head.
	return a.next == b || a.next == nil && b.c.newest() == b
}

// absorb merges b into a.
func (t *Text) absorb(a, b *item) {
	if a.next != b {
		b.c.popHead()
	}
	a.length += b.length
	a.next = b.next
	lf := b.leaf
	i := indexIn(b)
	copy(lf.items[i:], lf.items[i+1:])
	lf.items[len(lf.items)-1] = nil
	lf.items = lf.items[:len(lf.items)-1]
	copy(lf.vis[i:], lf.vis[i+1:])
	lf.vis = lf.vis[:len(lf.vis)-1]
	t.doc.freeItem(b)
}

// integrate places a remote run of code points in the text following the
// FugueMax rule (the list form of Weidner & Kleppmann's FugueMax, as in
// Gentle's YjsMod): between its left and right origins, concurrent
// insertions are ordered so that no two interleave.
//
// The run starts at clock c.next; leftItem and rightItem hold its origins
// (nil for none); content is its UTF-8 text, or nil when it arrives
// deleted; rich says whether it is an embed or an anchor instead (RICH.md).
func (t *Text) integrate(c *clientState, n uint64, left, right ref, leftItem, rightItem *item, content []byte, rich richKind) {
	if leftItem != nil {
		if end := leftItem.clock + leftItem.length - 1; left.clock < end {
			t.split(leftItem, left.clock-leftItem.clock+1)
		}
	}
	if rightItem != nil {
		// Splitting the left item may have moved the right origin into the
		// piece after it.
		for rightItem.clock+rightItem.length <= right.clock {
			rightItem = rightItem.next
		}
		if right.clock > rightItem.clock {
			rightItem = t.split(rightItem, right.clock-rightItem.clock)
		}
	}
	lf, i, o := t.after(leftItem)
	if o != rightItem {
		lf, i = t.resolveConflict(c, t.classOf(rich, c, c.next), leftItem, rightItem, left, right, lf, i, o)
	}
	t.place(c, n, leftItem, left, right, lf, i, content, rich)
}

// originsFit reports whether a run's origins could have been neighbours
// for its author (FORMAT.md §5.3): left comes before right, right's own
// left origin is not after left, and left's own right origin is not
// before right. The author had integrated its origins and so their
// origins too, and these keep their order in every replica; origins that
// break it skip code points their author had, and the rule of §7 does not
// converge for them. Origins that name each other (right is left's own
// right origin, or left is right's own left origin) fit in every document
// whose runs all fit, and cost no lookup: typing after one's own last
// character meets this.
func (t *Text) originsFit(left, right ref, leftItem, rightItem *item) bool {
	if leftItem != nil && leftItem.right == right ||
		rightItem != nil && right.clock == rightItem.clock && rightItem.left == left {
		return true
	}
	if leftItem != nil && left.clock < leftItem.clock+leftItem.length-1 {
		if rightItem == leftItem && right.clock == left.clock+1 {
			return true
		}
	} else if _, _, o := t.after(leftItem); o == rightItem && (o == nil || right.clock == o.clock) {
		return true
	}
	leftPos, rightPos := posBeforeAll, posAfterAll
	if leftItem != nil {
		leftPos = positionIn(leftItem, left.clock)
	}
	if rightItem != nil {
		rightPos = positionIn(rightItem, right.clock)
	}
	if !leftPos.less(rightPos) {
		return false
	}
	if rightItem != nil {
		// A code point inside its item has its predecessor as left
		// origin, which is not left (they are not neighbours) and lies
		// after it.
		if right.clock > rightItem.clock || leftPos.less(positionOf(rightItem.left, false)) {
			return false
		}
	}
	return leftItem == nil || !positionOf(leftItem.right, true).less(rightPos)
}

// positionIn returns the position of clock, a code point of it.
func positionIn(it *item, clock uint64) position {
	return position{leafKey(it.leaf), indexIn(it), clock - it.clock}
}

// position orders code points by their place in the text: leaf index, index
// in the leaf, offset in the item.
type position struct {
	leaf, index int
	off         uint64
}

func (p position) less(q position) bool {
	if p.leaf != q.leaf {
		return p.leaf < q.leaf
	}
	if p.index != q.index {
		return p.index < q.index
	}
	return p.off < q.off
}

var (
	posBeforeAll = position{leaf: -1}
	posAfterAll  = position{leaf: 1 << 62}
)

// positionOf returns the position of a left origin (none = before all) or,
// with isRight, of a right origin (none = after all).
func positionOf(r ref, isRight bool) position {
	if r.none() {
		if isRight {
			return posAfterAll
		}
		return posBeforeAll
	}
	return positionIn(r.c.find(r.clock), r.clock)
}

// resolveConflict scans the items between the new run's origins, which were
// inserted concurrently with it, and returns where the run goes. It is the
// YjsMod loop over items instead of code points: a code point after the
// first in an item has its predecessor as left origin, which lies inside the
// scanned range, so only an item's first code point can stop the scan.
// Siblings (same origins) are ordered by class, then client (RICH.md §R3).
func (t *Text) resolveConflict(c *clientState, cls int, leftItem, rightItem *item, left, right ref, lf *leaf, i int, o *item) (*leaf, int) {
	leftPos := positionOf(left, false)
	rightPos := positionOf(right, true)
	destLeaf, destIdx := lf, i
	scanning := false
	for {
		if !scanning {
			destLeaf, destIdx = lf, i
		}
		if o == nil || o == rightItem {
			break
		}
		t.doc.scanSteps++
		ol := 0 // o.left compared with left
		if o.left != left {
			ol = cmpLeft(o.left, leftPos)
		}
		if ol < 0 {
			break
		}
		if ol == 0 {
			oright := positionOf(o.right, true)
			switch {
			case oright.less(rightPos):
				scanning = true
			case oright == rightPos:
				if oc := t.class(o); cls < oc || cls == oc && c.id < o.c.id {
					goto done
				}
				scanning = false
			default:
				scanning = false
			}
		}
		lf, i, o = t.nextCandidate(lf, i+1, leftPos, rightItem)
	}
done:
	return destLeaf, destIdx
}

// scanSkips is cleared by tests to check nextCandidate against nextFrom.
var scanSkips = true

// nextCandidate is nextFrom for resolveConflict: it passes over whole
// subtrees and whole leaves whose items all have their left origin right of
// leftPos, since such items neither end the scan nor are siblings of the
// new run; the scan over them would only move its destination past them. A
// scan between far-apart origins, which only a hostile peer sends, then
// costs a few subtrees per level of the tree plus two leaves' worth of
// items, instead of the number of items between them.
func (t *Text) nextCandidate(lf *leaf, i int, leftPos position, rightItem *item) (*leaf, int, *item) {
	if i < len(lf.items) {
		return lf, i, lf.items[i]
	}
	if !scanSkips {
		return t.nextFrom(lf, i)
	}
	var rightLeaf *leaf
	if rightItem != nil {
		rightLeaf = rightItem.leaf
	}
	cur := lf // the last leaf passed
	for {
		// The next subtree: the sibling after cur, or after the lowest
		// node above it that has one.
		var l *leaf
		var n *node
		if p := cur.parent; cur.pidx+1 < len(p.leaves) {
			l = p.leaves[cur.pidx+1]
		} else {
			for p.parent != nil && p.pidx+1 == len(p.parent.kids) {
				p = p.parent
			}
			if p.parent == nil {
				return lf, i, nil // the end of the text
			}
			n = p.parent.kids[p.pidx+1]
		}
		// Pass over it whole if its bound allows, else go down into it.
		for n != nil {
			if !holdsLeaf(n, rightLeaf) && t.nodeBound(n).rightOf(leftPos) {
				break
			}
			if n.leaves != nil {
				l, n = n.leaves[0], nil
			} else {
				n = n.kids[0]
			}
		}
		if n != nil {
			cur = lastLeaf(n)
			lf, i = cur, len(cur.items) // as if the scan had walked it
			continue
		}
		cur = l
		if len(l.items) == 0 {
			continue
		}
		if l != rightLeaf && t.leafBound(l).rightOf(leftPos) {
			lf, i = l, len(l.items) // as if the scan had walked it
			continue
		}
		return l, 0, l.items[0]
	}
}

// leafBound returns lf's bound, computing it from the items if unknown.
func (t *Text) leafBound(lf *leaf) *bound {
	if lf.minLeft.state == boundUnknown {
		lf.minLeft = minBound(len(lf.items), func(k int) bound {
			it := lf.items[k]
			if !it.left.none() && it.left.c.find(it.left.clock).leaf == lf {
				return bound{state: boundEmpty} // right of the origin of lf's first item
			}
			return bound{r: it.left, state: boundAt}
		})
	}
	return &lf.minLeft
}

// nodeBound returns n's bound, computing it from its children's if
// unknown.
func (t *Text) nodeBound(n *node) *bound {
	if n.minLeft.state == boundUnknown {
		if n.leaves != nil {
			n.minLeft = minBound(len(n.leaves), func(k int) bound { return *t.leafBound(n.leaves[k]) })
		} else {
			n.minLeft = minBound(len(n.kids), func(k int) bound { return *t.nodeBound(n.kids[k]) })
		}
	}
	return &n.minLeft
}

// minBound returns the least of the known bounds at(0) ... at(n-1).
func minBound(n int, at func(int) bound) bound {
	best, bestPos := bound{state: boundEmpty}, posAfterAll
	for k := range n {
		b := at(k)
		if b.state == boundEmpty {
			continue
		}
		if p := b.pos(); p.less(bestPos) {
			best, bestPos = b, p
			if b.r.none() {
				break // before all
			}
		}
	}
	return best
}

// pos returns the position of a known bound.
func (b *bound) pos() position {
	switch {
	case b.state == boundEmpty:
		return posAfterAll
	case b.r.none():
		return posBeforeAll
	}
	it := b.holder()
	return position{leafKey(it.leaf), indexIn(it), b.r.clock - it.clock}
}

// rightOf reports whether a known bound lies right of p.
func (b *bound) rightOf(p position) bool {
	switch {
	case b.state == boundEmpty:
		return true
	case b.r.none():
		return false // before all
	}
	it := b.holder()
	li := leafKey(it.leaf)
	if li != p.leaf {
		return li > p.leaf
	}
	return p.less(position{li, indexIn(it), b.r.clock - it.clock})
}

// holder returns the item holding the bound's code point: the one it held
// when last looked up if it still does. Freed items are reused, but only
// one item of a client holds a given clock, so one that matches holds it.
func (b *bound) holder() *item {
	if it := b.at; it != nil && it.c == b.r.c && it.kind == kindText && it.clock <= b.r.clock && b.r.clock < it.clock+it.length {
		return it
	}
	b.at = b.r.c.find(b.r.clock)
	return b.at
}

// cmpLeft compares the position of left origin r (none: before all) with
// p, like positionOf(r, false) with p but looking into r's leaf only when
// p is in it.
func cmpLeft(r ref, p position) int {
	if r.none() {
		if p == posBeforeAll {
			return 0
		}
		return -1
	}
	it := r.c.find(r.clock)
	li := leafKey(it.leaf)
	if li != p.leaf {
		if li < p.leaf {
			return -1
		}
		return 1
	}
	q := position{li, indexIn(it), r.clock - it.clock}
	switch {
	case q.less(p):
		return -1
	case p.less(q):
		return 1
	}
	return 0
}

// lower returns the lesser of two bounds: unknown if either is.
func lower(a, b bound) bound {
	switch {
	case a.state == boundUnknown || b.state == boundUnknown:
		return bound{}
	case a.state == boundEmpty:
		return b
	case b.state == boundEmpty || a.r.none():
		return a
	case b.r.none():
		return b
	}
	if b.pos().less(a.pos()) {
		return b
	}
	return a
}

// deleteRange marks the code points [clock, clock+n) of client c deleted;
// all of them must be integrated.
func (d *Doc) deleteRange(c *clientState, clock, n uint64) {
	end := clock + n
	it := c.find(clock)
	for clock < end {
		if it.clock+it.length <= clock {
			it = it.next
			if it == nil {
				it = c.find(clock)
			}
			continue
		}
		if it.kind != kindText || it.deleted || it.rich >= richStart {
			// Anchors are never deleted (RICH.md §R1).
			clock = it.clock + it.length
			continue
		}
		t := it.leaf.t
		if clock > it.clock {
			it = t.split(it, clock-it.clock)
		}
		if it.clock+it.length > end {
			t.split(it, end-it.clock)
		}
		t.touch()
		if t.observed() {
			t.recordDelete(t.posOf(it), int(it.length))
		}
		clock = it.clock + it.length
		if next := it.next; t.markDeleted(it) != it || it.next != next {
			// it was merged with a neighbour: look the next clock up again.
			it = c.find(clock - 1)
		}
	}
}
