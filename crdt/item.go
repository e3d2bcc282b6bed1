package crdt

import (
	"slices"
	"sort"
)

// itemKind says what an item holds.
type itemKind uint8

const (
	kindText itemKind = iota // a run of code points in a Text
	kindMap                  // one Map entry (always length 1)
	kindSkip                 // clocks that carry nothing any more (superseded map entries)
)

// ref points at one clock of one client; c == nil means "no origin".
type ref struct {
	c     *clientState
	clock uint64
}

func (r ref) none() bool { return r.c == nil }

// An item is a piece of one client's clock range: [clock, clock+length).
//
// Text items are also pieces of their Text's sequence: they sit in a leaf of
// the Text's two-level list, in document order. A run typed in one go is one
// item until an insertion or deletion inside it splits it; the pieces of a
// split stay chained in clock order through next.
type item struct {
	clock  uint64
	length uint64
	c      *clientState
	next   *item // next piece in clock order within the same head's chain
	leaf   *leaf // text items only
	// left is the origin of the first code point: the code point that stood
	// immediately left of it when it was inserted. Later code points of the
	// item have the previous code point as their left origin. right is the
	// right origin shared by all code points of the item.
	left, right ref
	// start and end are byte offsets of the content in the Text's arena.
	start, end uint32
	kind       itemKind
	deleted    bool
	rich       richKind // text items only: code points, an embed or an anchor
	// idx numbers the item while a loader holds its text as a list
	// (bulkload.go); it fits in the padding before entry.
	idx   uint32
	entry *mapEntry // map items only
}

// lastRef is a ref to the item's last clock.
func (it *item) lastRef() ref { return ref{it.c, it.clock + it.length - 1} }

// firstRef is a ref to the item's first clock.
func (it *item) firstRef() ref { return ref{it.c, it.clock} }

// visible is the number of positions the item contributes to its text:
// its code points, or one for an embed, unless deleted; none for an anchor.
func (it *item) visible() int {
	if it.deleted || it.rich >= richStart {
		return 0
	}
	return int(it.length)
}

// clientState is everything a Doc knows of one client.
type clientState struct {
	id ClientID
	// next is the next clock expected from the client: clocks [0, next) are
	// integrated.
	next uint64
	// heads are items in ascending clock order; each head starts a chain of
	// pieces (through item.next) that covers the clocks up to the next head.
	heads []head
	// pending holds decoded records of this client that wait for missing
	// dependencies; pendingDeletes the delete ranges of its clocks that
	// have not arrived.
	pending        pendingQueue
	pendingDeletes pendingRanges
	// Marks of the Doc's retry lists: in Doc.retry; in Doc.advanced;
	// listed in Doc.waiters under waitsFor.
	inRetry, advanced, waiting bool
	waitsFor                   ClientID
	// hint and hint2 are the heads the last two searches of find landed
	// on: lookups cluster, and validation and integration look up the same
	// two origins of a record in turn.
	hint, hint2 headHint
}

// A headHint is head i and the clocks [lo, hi) its chain covers, kept
// beside the index so that trying a hint reads no memory of a large
// document's heads: those reads would miss the cache as often as the
// search they are meant to save. The zero hint covers nothing.
type headHint struct {
	i      int
	lo, hi uint64
}

// covers reports whether head h.i holds clock, when last is the index of
// the newest head. Only promote cuts a chain, and it resets the hints;
// otherwise a head's chain can only grow (popHead merges the newest head
// into the one before, and drops a hint of the head it removes, whose
// index a later head takes), so a hint can miss but never mislead.
func (h headHint) covers(clock uint64, last int) bool {
	return h.lo <= clock && clock < h.hi && h.i < last
}

// A head is one entry of a client's index: its first clock beside the
// item, so that the search reads the clocks of the index without touching
// the items, whose clocks are scattered over the heap, and the entry it
// lands on already holds the item: in a large document, where the index
// is far larger than the cache, that is one cache miss less per lookup
// than a separate array of clocks and one of items.
type head struct {
	clock uint64
	it    *item
}

func (c *clientState) addHead(it *item) {
	c.heads = append(c.heads, head{it.clock, it})
}

// popHead removes the newest head, which has been merged into the item
// before it.
func (c *clientState) popHead() {
	k := len(c.heads) - 1
	c.heads[k] = head{}
	c.heads = c.heads[:k]
	if c.hint.i >= k {
		c.hint = headHint{}
	}
	if c.hint2.i >= k {
		c.hint2 = headHint{}
	}
}

// newest returns the item of the newest head.
func (c *clientState) newest() *item { return c.heads[len(c.heads)-1].it }

// find returns the item holding clock, which must be below c.next.
func (c *clientState) find(clock uint64) *item {
	it, _ := c.walk(c.headOf(clock), clock)
	return it
}

// headOf returns the index of the head whose chain holds clock, which
// must be below c.next.
func (c *clientState) headOf(clock uint64) int {
	h := c.heads
	i := len(h) - 1
	if h[i].clock > clock {
		if c.hint.covers(clock, i) {
			i = c.hint.i
		} else if c.hint2.covers(clock, i) {
			i = c.hint2.i
		} else {
			i = c.search(clock)
			c.hint, c.hint2 = headHint{i, h[i].clock, h[i+1].clock}, c.hint
		}
	}
	return i
}

// walk returns the item holding clock on the chain of head i, and whether
// the walk cut the chain (promote), which moves the heads after i.
func (c *clientState) walk(i int, clock uint64) (*item, bool) {
	it := c.heads[i].it
	steps := 0
	for it.clock+it.length <= clock {
		it = it.next
		steps++
	}
	if steps > maxChain {
		c.promote(i, it)
		return it, true
	}
	return it, false
}

// findPair returns the items holding a and b (both integrated), as find
// does for each. In a large document each lookup is a chain of cache
// misses (the head, then the item); taking the heads of both before the
// items of either lets the two chains' misses overlap instead of adding up.
func findPair(a, b ref) (*item, *item) {
	ia, ib := a.c.headOf(a.clock), b.c.headOf(b.clock)
	ita, moved := a.c.walk(ia, a.clock)
	if moved && a.c == b.c {
		return ita, b.c.find(b.clock)
	}
	itb, _ := b.c.walk(ib, b.clock)
	return ita, itb
}

// search returns the index of the last head that starts at or before
// clock. Clocks spread over the heads about evenly, so a few guesses by
// interpolation land next to the answer with a cache miss each, where a
// binary search over a large document's heads would take a dozen; a
// binary search of what is left keeps the worst case logarithmic.
func (c *clientState) search(clock uint64) int {
	h := c.heads
	lo, hi := 0, len(h)-1 // h[lo].clock <= clock (h[0].clock is 0), and the answer is in [lo, hi]
	for range 3 {
		if lo == hi {
			return lo
		}
		m := guess(h, lo, hi, clock)
		if h[m].clock > clock {
			hi = m - 1
			continue
		}
		if m == hi || h[m+1].clock > clock {
			return m
		}
		lo = m + 1
	}
	return lo + sort.Search(hi-lo+1, func(i int) bool { return h[lo+i].clock > clock }) - 1
}

// guess interpolates where clock lies between heads lo and hi.
func guess(h []head, lo, hi int, clock uint64) int {
	if span := h[hi].clock - h[lo].clock; clock-h[lo].clock < span {
		return lo + int(float64(clock-h[lo].clock)/float64(span)*float64(hi-lo))
	}
	return hi
}

// firstGuess is the first head search looks at for clock.
func (c *clientState) firstGuess(clock uint64) int {
	return guess(c.heads, 0, len(c.heads)-1, clock)
}

// maxChain is the longest walk along a chain that find accepts before it
// cuts the chain into shorter ones. A run typed in one go and then split
// by many insertions is one head with a long chain; without the cut, every
// lookup of its clocks would walk the chain, which is as long as the text.
const maxChain = 16

// promote cuts the chain of heads[i] up to and including target into
// chains of maxChain/2 pieces, each new chain a head of its own, so that
// find walks at most maxChain/2 pieces there from now on. Its cost, one
// insertion into heads, is paid for by the walk that found the chain long.
func (c *clientState) promote(i int, target *item) {
	var cut []*item
	prev, n := c.heads[i].it, 0
	for it := prev.next; prev != target; prev, it = it, it.next {
		if n++; n%(maxChain/2) == 0 {
			prev.next = nil
			cut = append(cut, it)
		}
	}
	heads := make([]head, len(cut))
	for k, it := range cut {
		heads[k] = head{it.clock, it}
	}
	c.heads = slices.Insert(c.heads, i+1, heads...)
	// The heads after i moved: the hints are stale but for the head
	// holding target, which the next lookup is likely to want.
	c.hint, c.hint2 = headHint{}, headHint{}
	if j := i + len(cut); j+1 < len(c.heads) {
		c.hint = headHint{j, c.heads[j].clock, c.heads[j+1].clock}
	}
}

// byteOffset returns the byte offset of code point n in b, which holds
// runes code points.
func byteOffset(b []byte, runes, n uint64) int {
	if uint64(len(b)) == runes {
		return int(n) // all ASCII
	}
	return takeRunes(b, n)
}
