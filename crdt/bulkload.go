package crdt

import "math/bits"

// Loading a large update into an empty Text, a snapshot above all, places
// most runs right after their left origin with their right origin next:
// records come in clock order, and a client's run was typed into the state
// its earlier clocks made, which is what the document holds when it is
// integrated. Such a run needs no conflict scan, and keeping the items in
// a tree while they arrive costs a leaf search, a shift of the leaf and a
// count update per run for nothing: the loader keeps them in a linked list
// instead and builds the tree in one pass at the end.
//
// The loader takes only what the tree would do the same way: a plain run
// whose right origin is the code point right after its left one. A record
// of the Text that is anything else (a conflict, an anchor, an embed) first
// turns the list into the tree (finishLoad), and the tree's path takes it
// from there; so do the update's deletes and pending records, which come
// after its records. The document is thus the one the tree alone would
// build, for any input (bulkload_test.go compares the two).
//
// In a large document, origins lie anywhere, and most of a load's time is
// cache misses: finding an origin's item, its link, the item after it. warm
// takes those misses for several records at once.

// bulkLoad is cleared by tests to load every update through the tree, the
// path the loader must agree with; bulkMin is the least number of records
// that makes an update worth a loader, lowered by tests.
var (
	bulkLoad = true
	bulkMin  = 256
)

// A loader holds the items of one Text, empty when the update began, as a
// list in document order.
type loader struct {
	t *Text
	// Items are allocated here in chunks of 1<<shift and numbered from 1
	// (item.idx), so that the list links them by number in links, where
	// following it touches a few bytes a step: the item after item k is
	// links[k] (0 for none), the first is links[0].
	chunks [][]item
	shift  uint
	links  []uint32
	// leaf is the leaf of every listed item until finishLoad: it holds no
	// items, but names t, which is what Text.holds asks.
	leaf *leaf
	sink uint64 // what warm read, so that the reads are not dropped
}

// startLoad gives t a loader when it is empty and nothing watches it; n is
// about the number of its runs to come.
func (d *Doc) startLoad(t *Text, n int) {
	if !bulkLoad || n < bulkMin || t.observed() || t.length != 0 || t.first != t.last || len(t.first.items) != 0 {
		return
	}
	// Chunks of a quarter to a half of the runs expected: an update leaves
	// at most one chunk partly unused, and a large one takes few chunks.
	shift := uint(bits.Len(uint(n / 4)))
	d.loading = &loader{t: t, shift: min(max(shift, 4), 14), links: make([]uint32, 1, n+1), leaf: &leaf{t: t}}
}

// item returns item number k (not 0).
func (l *loader) item(k uint32) *item {
	k--
	return &l.chunks[k>>l.shift][k&(1<<l.shift-1)]
}

// newItem returns a new item, zeroed but for its number, linked after
// item number after (0: first).
func (l *loader) newItem(after uint32) *item {
	k := uint32(len(l.links))
	if k == 1<<32-1 {
		panic("crdt: too many items for a loader")
	}
	if int((k-1)>>l.shift) == len(l.chunks) {
		l.chunks = append(l.chunks, make([]item, 1<<l.shift))
	}
	l.links = append(l.links, l.links[after])
	l.links[after] = k
	it := l.item(k)
	it.idx = k
	return it
}

// warmBatch is the number of records warm looks ahead.
const warmBatch = 16

// warm reads, for the next records, the memory that finding their left
// origins and the code point after it will read, and returns how many
// records it looked at. A large update's origins are scattered over the
// whole document, so each lookup is a chain of cache misses: the entry
// of the client's index, the item, its link, the next item. Integrating records
// one by one pays each miss in turn; here each step of the chain is taken
// for a batch of records at once, in loops whose loads do not wait for one
// another, so their misses overlap, and the integration that follows finds
// the memory in the cache. It changes nothing: what it reads may be stale
// by the time a record is integrated, which only costs a miss then.
func (l *loader) warm(d *Doc, recs []record) int {
	n := min(len(recs), warmBatch)
	var cs [warmBatch]*clientState
	var its [warmBatch]*item
	var links [warmBatch]uint32
	var sink uint64
	var last *clientState
	for j := range n {
		r := &recs[j]
		if r.kind != kindText || !r.hasLeft {
			continue
		}
		c := last
		if c == nil || c.id != r.left.Client {
			if c = d.clients[r.left.Client]; c == nil {
				continue
			}
			last = c
		}
		if r.left.Clock >= c.next || len(c.heads) == 0 {
			continue
		}
		cs[j] = c
		sink += c.heads[c.firstGuess(r.left.Clock)].clock
	}
	for j := range n {
		if c := cs[j]; c != nil {
			its[j] = c.heads[c.search(recs[j].left.Clock)].it
		}
	}
	for j := range n {
		if it := its[j]; it != nil {
			sink += it.clock
			if k := it.idx; k != 0 && k < uint32(len(l.links)) {
				links[j] = k
			}
		}
	}
	for j := range n {
		if k := links[j]; k != 0 {
			links[j] = l.links[k]
		}
	}
	for j := range n {
		if k := links[j]; k != 0 {
			sink += l.item(k).clock
		}
	}
	l.sink = sink
	return n
}

// place integrates plain run r of c, clocks [c.next, c.next+r.length), with
// origins left and right, both integrated, and reports whether it could:
// false, with nothing changed, when the tree must take it.
func (l *loader) place(c *clientState, r *record, left, right ref) bool {
	t := l.t
	var leftItem *item
	if !left.none() {
		leftItem = left.c.find(left.clock)
		if !t.holds(leftItem) {
			return false // the tree drops it
		}
	}
	// The code point after left: inside its item, or the next item's first.
	var o *item
	mid := false
	at := uint32(0) // the number of leftItem, 0 for none
	if leftItem != nil {
		at = leftItem.idx
	}
	if leftItem != nil && left.clock < leftItem.clock+leftItem.length-1 {
		mid = true
	} else if k := l.links[at]; k != 0 {
		o = l.item(k)
	}
	switch {
	case right.none():
		if mid || o != nil {
			return false
		}
	case mid:
		if right.c != leftItem.c || right.clock != left.clock+1 {
			return false
		}
	case o == nil || right.c != o.c || right.clock != o.clock:
		return false
	}
	if mid {
		l.split(leftItem, left.clock-leftItem.clock+1)
	}
	content := r.content
	deleted := content == nil
	if !deleted {
		t.touch()
		t.length += int(r.length)
	}
	// As Text.place: a run that continues its left item's grows it.
	if !deleted && leftItem != nil && leftItem.clock+leftItem.length == c.next && leftItem.c == c && leftItem.rich == richNone &&
		!leftItem.deleted && leftItem.right == right && int(leftItem.end) == len(t.arena) {
		t.arena = append(t.arena, content...)
		leftItem.end = uint32(len(t.arena))
		leftItem.length += r.length
		c.next += r.length
		return true
	}
	it := l.newItem(at)
	it.clock, it.length, it.c, it.left, it.right, it.kind, it.deleted, it.leaf = c.next, r.length, c, left, right, kindText, deleted, l.leaf
	if !deleted {
		it.start = uint32(len(t.arena))
		t.arena = append(t.arena, content...)
		it.end = uint32(len(t.arena))
	}
	c.next += r.length
	c.addHead(it)
	return true
}

// split is Text.split for a listed item.
func (l *loader) split(it *item, n uint64) {
	b := it.start
	if !it.deleted {
		b += uint32(byteOffset(l.t.arena[it.start:it.end], it.length, n))
	}
	nx := l.newItem(it.idx)
	nx.clock, nx.length, nx.c, nx.next, nx.leaf = it.clock+n, it.length-n, it.c, it.next, l.leaf
	nx.left, nx.right = ref{it.c, it.clock + n - 1}, it.right
	nx.start, nx.end, nx.kind, nx.deleted = b, it.end, kindText, it.deleted
	it.next = nx
	it.length = n
	it.end = b
}

// finishLoad builds the loading Text's tree from its list: leaves and
// nodes filled evenly, so that none is over full and every node but the
// root holds at least half its fanout, as splits leave them.
func (d *Doc) finishLoad() {
	l := d.loading
	d.loading = nil
	t := l.t
	items := make([]*item, 0, len(l.links)-1)
	for k := l.links[0]; k != 0; k = l.links[k] {
		items = append(items, l.item(k))
	}
	// Leaves three quarters full, as splits leave them on average: full
	// ones would each split at the first edit that lands in them.
	fill := max(1, maxLeaf*3/4)
	nLeaves := max(1, (len(items)+fill-1)/fill)
	leaves := make([]leaf, nLeaves)
	level := make([]*leaf, nLeaves)
	for j := range leaves {
		lf := &leaves[j]
		lo, hi := j*len(items)/nLeaves, (j+1)*len(items)/nLeaves
		lf.useBuffers(hi - lo)
		copy(lf.items, items[lo:hi])
		for k, it := range lf.items {
			it.leaf, it.idx = lf, 0
			lf.vis[k] = it.visible()
			lf.visible += lf.vis[k]
		}
		lf.t = t
		if j > 0 {
			lf.prev, leaves[j-1].next = &leaves[j-1], lf
		}
		level[j] = lf
	}
	t.first, t.last = &leaves[0], &leaves[nLeaves-1]
	t.cur, t.curPos = nil, 0
	// The lowest nodes hold the leaves; each level above holds the one
	// below, until one node, the root, holds them all.
	nodes := groupNodes(len(level), func(n *node, lo, hi int) {
		n.leaves = make([]*leaf, hi-lo, maxKids+1)
		n.counts = make([]int, hi-lo, maxKids+1)
		for j, lf := range level[lo:hi] {
			lf.parent, lf.pidx = n, j
			n.leaves[j], n.counts[j] = lf, lf.visible
			n.visible += lf.visible
		}
	})
	for len(nodes) > 1 {
		below := nodes
		nodes = groupNodes(len(below), func(n *node, lo, hi int) {
			n.kids = make([]*node, hi-lo, maxKids+1)
			n.counts = make([]int, hi-lo, maxKids+1)
			for j, k := range below[lo:hi] {
				k.parent, k.pidx = n, j
				n.kids[j], n.counts[j] = k, k.visible
				n.visible += k.visible
			}
		})
	}
	t.root = nodes[0]
}

// groupNodes returns the nodes that hold n children, at most maxKids
// each, spread evenly; fill gives node n the children [lo, hi).
func groupNodes(n int, fill func(nd *node, lo, hi int)) []*node {
	k := max(1, (n+maxKids-1)/maxKids)
	nodes := make([]*node, k)
	for j := range nodes {
		nodes[j] = &node{}
		fill(nodes[j], j*n/k, (j+1)*n/k)
	}
	return nodes
}
