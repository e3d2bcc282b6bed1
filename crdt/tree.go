package crdt

import "math/bits"

// The items of a Text sit in the leaves of a B-tree in document order.
// Every leaf and inner node knows how many visible code points it holds, so
// a position is found by one descent, O(log n); an insertion or a deletion
// updates the counts on the path to the root. A full leaf or node splits in
// two and only its parent's list of children changes: nothing is
// renumbered beyond one node. Leaves are also chained in document order,
// which serves the walks from one item to the next.

// maxLeaf is the most items a leaf holds before it splits in two, and
// maxKids the most children an inner node holds. Small enough that
// scanning a leaf or a node's counts is cheap, large enough that the tree
// stays shallow: four levels of nodes hold billions of items. Tests lower
// them to build deep trees out of few items.
var (
	maxLeaf = 64
	maxKids = 64
)

// A leaf is a block of consecutive items of a Text.
type leaf struct {
	items []*item
	// vis[i] is items[i].visible(), kept beside the items so that finding
	// a position in the leaf reads one array: reading each item's own
	// fields would touch as many items, and in a large text, where items
	// lie all over the heap, each would be a cache miss.
	vis     []int
	visible int   // visible code points in items
	parent  *node // never nil: the root is always a node
	pidx    int   // index in parent.leaves
	// prev and next chain the leaves in document order.
	prev, next *leaf
	t          *Text // the text the leaf belongs to
	// minLeft bounds the left origins of the items, for the conflict scan.
	minLeft bound
	// anchors are the rich anchors among items, in order, unless
	// anchorsStale says they must be listed again (leafAnchors).
	anchors      []*item
	anchorsStale bool
	// opens are the start anchors of the marks open where the leaf
	// starts, valid while opensGen equals the text's anchorGen (opensAt).
	opens    []*item
	opensGen uint64
	// itemBuf and visBuf hold items and vis (newLeaf), so that a leaf and
	// its items are one block of memory: a lookup that reaches the leaf
	// finds them next to it rather than at two more cache misses.
	itemBuf [leafCap]*item
	visBuf  [leafCap]int
}

// leafCap is the room in a leaf: the most items it holds (maxLeaf, which
// tests only lower), plus the one that makes it split.
const leafCap = 65

// newLeaf returns a leaf of t with room for n items in its buffers.
func newLeaf(t *Text, n int) *leaf {
	lf := &leaf{t: t}
	lf.useBuffers(n)
	return lf
}

// useBuffers makes the leaf's items and vis of length n, in its buffers.
// A leaf must not be copied once it has: the copy's slices would point
// into the original.
func (lf *leaf) useBuffers(n int) {
	lf.items, lf.vis = lf.itemBuf[:n], lf.visBuf[:n]
}

// A node is an inner node of a Text's tree. Nodes of the lowest level hold
// leaves, the others hold nodes; all leaves are at the same depth.
type node struct {
	parent  *node // nil for the root
	pidx    int   // index in parent.kids
	visible int   // visible code points in the subtree
	leaves  []*leaf
	kids    []*node
	// counts[j] is the visible count of child j (leaves[j] or kids[j]),
	// kept beside the children so that a descent reads one array per
	// level: reading each child's own count would touch as many children,
	// and in a large text those are cache misses.
	counts []int
	// minLeft bounds the left origins of the items of the subtree.
	minLeft bound
}

// newTree gives t an empty tree: a root holding one empty leaf.
func (t *Text) newTree() {
	t.root = &node{counts: []int{0}}
	lf := newLeaf(t, 0)
	lf.parent = t.root
	t.root.leaves = []*leaf{lf}
	t.first, t.last = lf, lf
}

// leafKey orders leaves: of two leaves, the one that comes first in the
// text has the smaller key. It is the path from the root, the index at each
// level in as many bits as maxKids takes, so it costs the depth of the tree.
// A node other than the root holds at least maxKids/2 children, so the key
// stays below 1<<62 (positionOf's end of the text) for any tree that fits
// in memory: seven bits a level leave room for eight levels.
func leafKey(lf *leaf) int {
	bitsPer := bits.Len(uint(maxKids))
	k, shift := lf.pidx, bitsPer
	for n := lf.parent; n.parent != nil; n = n.parent {
		k |= n.pidx << shift
		shift += bitsPer
	}
	return k
}

// seekLeaf returns the leaf holding visible position pos (pos < t.length)
// and the position where that leaf starts. Typing is mostly sequential, so
// it first looks at the leaf of the last lookup and its neighbours when
// pos is near it; a position farther away takes the descent at once, as
// each neighbour looked at would cost a cache miss in a large text.
func (t *Text) seekLeaf(pos int) (*leaf, int) {
	if lf := t.cur; lf != nil && nearLeaf(pos, t.curPos, lf.visible) {
		start := t.curPos
		for range 4 {
			if pos < start {
				if lf = lf.prev; lf == nil {
					break
				}
				start -= lf.visible
			} else if pos >= start+lf.visible {
				start += lf.visible
				if lf = lf.next; lf == nil {
					break
				}
			} else {
				t.cur, t.curPos = lf, start
				return lf, start
			}
		}
	}
	n, start := t.root, 0
	for {
		j := 0
		for ; j < len(n.counts); j++ {
			if pos < start+n.counts[j] {
				break
			}
			start += n.counts[j]
		}
		if j == len(n.counts) {
			panic("crdt: tree visible counts are wrong")
		}
		if n.leaves != nil {
			lf := n.leaves[j]
			t.cur, t.curPos = lf, start
			return lf, start
		}
		n = n.kids[j]
	}
}

// nearLeaf reports whether pos is within a leaf's width (at least 64 code
// points) of the leaf of visible code points [start, start+visible).
func nearLeaf(pos, start, visible int) bool {
	w := max(visible, 64)
	return pos >= start-w && pos < start+visible+w
}

// leafStart returns the visible position where lf starts.
func (t *Text) leafStart(lf *leaf) int {
	switch {
	case lf == t.cur:
		return t.curPos
	case t.cur != nil && lf == t.cur.next:
		t.cur, t.curPos = lf, t.curPos+t.cur.visible
		return t.curPos
	case t.cur != nil && lf == t.cur.prev:
		t.cur, t.curPos = lf, t.curPos-lf.visible
		return t.curPos
	}
	start := 0
	for _, v := range lf.parent.counts[:lf.pidx] {
		start += v
	}
	for n := lf.parent; n.parent != nil; n = n.parent {
		for _, v := range n.parent.counts[:n.pidx] {
			start += v
		}
	}
	t.cur, t.curPos = lf, start
	return start
}

// indexIn returns the index of it in its leaf.
func indexIn(it *item) int {
	for i, x := range it.leaf.items {
		if x == it {
			return i
		}
	}
	panic("crdt: item missing from its leaf")
}

// addVisible records that lf gained delta visible code points.
func (t *Text) addVisible(lf *leaf, delta int) {
	lf.visible += delta
	lf.parent.counts[lf.pidx] += delta
	for n := lf.parent; n != nil; n = n.parent {
		n.visible += delta
		if n.parent != nil {
			n.parent.counts[n.pidx] += delta
		}
	}
	t.length += delta
	if c := t.cur; c != nil && c != lf && leafKey(lf) < leafKey(c) {
		t.curPos += delta
	}
}

// insertItem puts it at index i of lf and splits lf when it is full.
// leftLeaf is the leaf holding it's left origin, if the caller knows it.
func (t *Text) insertItem(lf *leaf, i int, it *item, leftLeaf *leaf) {
	if leftLeaf != lf || it.left.none() {
		// An origin inside lf lies right of the left origin of lf's first
		// item, so only one from elsewhere can lower the bounds.
		t.lowerBounds(lf, bound{r: it.left, state: boundAt})
	}
	it.leaf = lf
	if it.rich >= richStart {
		lf.anchorsStale = true
	}
	lf.items = insertAt(lf.items, i, it)
	v := it.visible()
	lf.vis = insertAt(lf.vis, i, v)
	if v > 0 {
		t.addVisible(lf, v)
	}
	if len(lf.items) > maxLeaf {
		t.splitLeaf(lf)
	}
}

// lowerBounds lowers the bounds of lf and of the nodes above it to b. A
// known bound of a node is at or before those of its subtree, so the walk
// stops at the first known one that b does not lower.
func (t *Text) lowerBounds(lf *leaf, b bound) {
	lf.minLeft = lower(lf.minLeft, b)
	for n := lf.parent; n != nil; n = n.parent {
		old := n.minLeft
		if old.state == boundUnknown {
			continue
		}
		if n.minLeft = lower(old, b); n.minLeft.r == old.r && n.minLeft.state == old.state {
			return
		}
	}
}

// splitLeaf moves the second half of lf's items to a new leaf after it.
func (t *Text) splitLeaf(lf *leaf) {
	half := len(lf.items) / 2
	nl := newLeaf(t, len(lf.items)-half)
	nl.parent, nl.prev, nl.next = lf.parent, lf, lf.next
	// lf keeps its bound: it only lost items; nl's is computed when needed.
	// The nodes above hold the same items as before, so theirs stay.
	copy(nl.items, lf.items[half:])
	copy(nl.vis, lf.vis[half:])
	clear(lf.items[half:])
	lf.items, lf.vis = lf.items[:half], lf.vis[:half]
	for j, it := range nl.items {
		it.leaf = nl
		nl.visible += nl.vis[j]
	}
	lf.visible -= nl.visible
	if len(lf.anchors) > 0 || lf.anchorsStale {
		lf.anchorsStale, nl.anchorsStale = true, true
	}
	if lf.next != nil {
		lf.next.prev = nl
	} else {
		t.last = nl
	}
	lf.next = nl
	p := lf.parent
	p.leaves = insertAt(p.leaves, lf.pidx+1, nl)
	p.counts[lf.pidx] = lf.visible
	p.counts = insertAt(p.counts, lf.pidx+1, nl.visible)
	for j := lf.pidx + 1; j < len(p.leaves); j++ {
		p.leaves[j].pidx = j
	}
	if len(p.leaves) > maxKids {
		t.splitNode(p)
	}
}

// splitNode moves the second half of n's children to a new node after it,
// and gives the tree a new root when n was the root.
func (t *Text) splitNode(n *node) {
	nn := &node{parent: n.parent, minLeft: n.minLeft} // a bound of n bounds its parts
	half := len(n.counts) / 2
	nn.counts = make([]int, len(n.counts)-half, maxKids+1)
	copy(nn.counts, n.counts[half:])
	n.counts = n.counts[:half]
	if n.leaves != nil {
		half := len(n.leaves) / 2
		nn.leaves = make([]*leaf, len(n.leaves)-half, maxKids+1)
		copy(nn.leaves, n.leaves[half:])
		clear(n.leaves[half:])
		n.leaves = n.leaves[:half]
		for j, lf := range nn.leaves {
			lf.parent, lf.pidx = nn, j
			nn.visible += lf.visible
		}
	} else {
		half := len(n.kids) / 2
		nn.kids = make([]*node, len(n.kids)-half, maxKids+1)
		copy(nn.kids, n.kids[half:])
		clear(n.kids[half:])
		n.kids = n.kids[:half]
		for j, k := range nn.kids {
			k.parent, k.pidx = nn, j
			nn.visible += k.visible
		}
	}
	n.visible -= nn.visible
	p := n.parent
	if p == nil {
		p = &node{kids: make([]*node, 0, maxKids+1), visible: n.visible + nn.visible, minLeft: n.minLeft}
		p.kids = append(p.kids, n)
		p.counts = append(make([]int, 0, maxKids+1), n.visible)
		n.parent, nn.parent = p, p
		t.root = p
	}
	p.kids = insertAt(p.kids, n.pidx+1, nn)
	p.counts[n.pidx] = n.visible
	p.counts = insertAt(p.counts, n.pidx+1, nn.visible)
	for j := n.pidx + 1; j < len(p.kids); j++ {
		p.kids[j].pidx = j
	}
	if len(p.kids) > maxKids {
		t.splitNode(p)
	}
}

// insertAt inserts v at index i of s.
func insertAt[T any](s []T, i int, v T) []T {
	var zero T
	s = append(s, zero)
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}

// prev returns the item before index i of lf in document order, or nil.
func (t *Text) prev(lf *leaf, i int) *item {
	if i > 0 {
		return lf.items[i-1]
	}
	for l := lf.prev; l != nil; l = l.prev {
		if n := len(l.items); n > 0 {
			return l.items[n-1]
		}
	}
	return nil
}

// after returns the leaf and index just after it (the index may equal the
// leaf's length), and the item there, or nil at the end of the text.
func (t *Text) after(it *item) (*leaf, int, *item) {
	if it == nil {
		return t.nextFrom(t.first, 0)
	}
	return t.nextFrom(it.leaf, indexIn(it)+1)
}

// nextFrom returns the first item at or after index i of lf.
func (t *Text) nextFrom(lf *leaf, i int) (*leaf, int, *item) {
	if i < len(lf.items) {
		return lf, i, lf.items[i]
	}
	for l := lf.next; l != nil; l = l.next {
		if len(l.items) > 0 {
			return l, 0, l.items[0]
		}
	}
	return lf, i, nil
}

// lastLeaf returns the last leaf of n's subtree.
func lastLeaf(n *node) *leaf {
	for n.leaves == nil {
		n = n.kids[len(n.kids)-1]
	}
	return n.leaves[len(n.leaves)-1]
}

// holdsLeaf reports whether lf is in n's subtree.
func holdsLeaf(n *node, lf *leaf) bool {
	if lf == nil {
		return false
	}
	for p := lf.parent; p != nil; p = p.parent {
		if p == n {
			return true
		}
	}
	return false
}
