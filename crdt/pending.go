package crdt

import (
	"bytes"
	"slices"
	"sort"
)

// MaxPendingBytes bounds the changes a Doc holds as pending (received, but
// waiting for changes they depend on): records count their content, key
// and value bytes plus pendingRecordCost, delete ranges pendingRangeCost
// each. Apply refuses with ErrTooMuchPending an update whose pending part
// would take a Doc past it; identical pending records and delete ranges
// already held count once.
const MaxPendingBytes = 16 << 20

// Costs of one pending record and one pending delete range beyond their
// bytes, about what they take in memory.
const (
	pendingRecordCost = 160
	pendingRangeCost  = 32
)

// recordCost is what a pending copy of r counts against MaxPendingBytes.
func recordCost(r *record) int {
	return pendingRecordCost + len(r.content) + len(r.key) + len(r.value)
}

// pendingQueue holds one client's pending records, lowest clock first and,
// for equal clocks, in the order they arrived (FORMAT.md §5.3). They are
// sorted in chunks of at most maxPendingChunk, so that a record arriving in
// any order costs O(log n + maxPendingChunk + n/maxPendingChunk) to place,
// and the records covering a clock range can be found without looking at
// the others (duplicates here, conflicting histories in validation).
type pendingQueue struct {
	chunks  [][]pendingRec
	n       int
	arrived uint64
	maxLen  uint64 // the longest record queued since the queue was empty
}

// maxPendingChunk is the most records a chunk of a pendingQueue holds.
const maxPendingChunk = 128

// A pendingRec is a record with the clock it arrived with (integration
// may trim its head while it waits) and its place in arrival order.
type pendingRec struct {
	r            *record
	clock, order uint64
	cost         int // counted against MaxPendingBytes
}

// Len returns the number of records held.
func (q *pendingQueue) Len() int { return q.n }

// first returns the lowest pending record.
func (q *pendingQueue) first() *record { return q.chunks[0][0].r }

// holds reports whether a record identical to r waits already.
func (q *pendingQueue) holds(r *record) bool {
	return q.findAt(r.clock, func(p *record) bool { return sameRecord(p, r) })
}

// holdsAnyType is holds for a record whose type is not resolved yet.
func (q *pendingQueue) holdsAnyType(r *record) bool {
	return q.findAt(r.clock, func(p *record) bool {
		x := *r
		x.text, x.m = p.text, p.m
		return sameRecord(p, &x)
	})
}

// findAt reports whether a record that arrived with the given clock
// satisfies ok.
func (q *pendingQueue) findAt(clock uint64, ok func(*record) bool) bool {
	found := false
	q.before(clock+1, func(p pendingRec) bool {
		if p.clock < clock {
			return false
		}
		found = ok(p.r)
		return !found
	})
	return found
}

// before calls fn for the records that arrived with a clock below end,
// highest first, until fn returns false.
func (q *pendingQueue) before(end uint64, fn func(pendingRec) bool) {
	ci := sort.Search(len(q.chunks), func(i int) bool { return q.chunks[i][0].clock >= end })
	for ci--; ci >= 0; ci-- {
		ch := q.chunks[ci]
		i := sort.Search(len(ch), func(i int) bool { return ch[i].clock >= end })
		for i--; i >= 0; i-- {
			if !fn(ch[i]) {
				return
			}
		}
	}
}

// overlapping calls fn for each pending record that covers a clock of
// [lo, end), until fn returns false.
func (q *pendingQueue) overlapping(lo, end uint64, fn func(*record) bool) {
	q.before(end, func(p pendingRec) bool {
		if p.clock+q.maxLen <= lo {
			return false // no record is longer: none further back reaches lo
		}
		if r := p.r; r.clock < end && r.clock+r.length > lo {
			return fn(r)
		}
		return true
	})
}

// add queues r, which must not be held already.
func (q *pendingQueue) add(r *record, cost int) {
	p := pendingRec{r: r, clock: r.clock, order: q.arrived, cost: cost}
	q.arrived++
	q.n++
	q.maxLen = max(q.maxLen, r.length)
	// The last chunk whose first record is at or below p: p goes after
	// the records of its clock, which arrived before it.
	ci := sort.Search(len(q.chunks), func(i int) bool { return q.chunks[i][0].clock > p.clock }) - 1
	if ci < 0 {
		if len(q.chunks) == 0 {
			q.chunks = append(q.chunks, nil)
		}
		ci = 0
	}
	ch := q.chunks[ci]
	i := sort.Search(len(ch), func(i int) bool { return ch[i].clock > p.clock })
	ch = slices.Insert(ch, i, p)
	if len(ch) > maxPendingChunk {
		half := len(ch) / 2
		q.chunks = slices.Insert(q.chunks, ci+1, slices.Clone(ch[half:]))
		clear(ch[half:])
		ch = ch[:half]
	}
	q.chunks[ci] = ch
}

// pop removes the lowest pending record.
func (q *pendingQueue) pop() pendingRec {
	ch := q.chunks[0]
	p := ch[0]
	ch[0] = pendingRec{}
	if len(ch) == 1 {
		q.chunks[0] = nil
		q.chunks = q.chunks[1:]
	} else {
		q.chunks[0] = ch[1:]
	}
	if q.n--; q.n == 0 {
		*q = pendingQueue{}
	}
	return p
}

// pendingOverlapping calls fn for each pending record of c that covers a
// clock of [lo, end), until fn returns false.
func (c *clientState) pendingOverlapping(lo, end uint64, fn func(*record) bool) {
	c.pending.overlapping(lo, end, fn)
}

// sameRecord reports whether two records of one client say the same thing,
// so that holding both would change nothing. (Whether validation found
// their origins does not matter: the same origins in the same text pass
// or fail integration's check alike.)
func sameRecord(a, b *record) bool {
	return a.kind == b.kind && a.clock == b.clock && a.length == b.length &&
		a.left == b.left && a.right == b.right && a.hasLeft == b.hasLeft && a.hasRight == b.hasRight &&
		a.text == b.text && a.m == b.m &&
		(a.content == nil) == (b.content == nil) && bytes.Equal(a.content, b.content) &&
		bytes.Equal(a.key, b.key) && a.seq == b.seq && bytes.Equal(a.value, b.value) && a.del == b.del &&
		a.rich == b.rich && a.expand == b.expand
}

// pendingRanges holds one client's pending delete ranges: merged ranges in
// ascending order, plus ranges added since they were last merged in. Merging
// in batches keeps both repeated and reverse-ordered deletes at O(log n)
// amortized per range.
type pendingRanges struct {
	merged []clockRange
	recent []clockRange
	low    uint64 // the lowest start of all ranges
}

func (p *pendingRanges) len() int { return len(p.merged) + len(p.recent) }

// covers reports whether the merged ranges hold all of r.
func (p *pendingRanges) covers(r clockRange) bool {
	i, _ := slices.BinarySearchFunc(p.merged, r.start, func(x clockRange, s uint64) int {
		switch {
		case x.end <= s:
			return -1
		case x.start > s:
			return 1
		}
		return 0
	})
	return i < len(p.merged) && p.merged[i].start <= r.start && r.end <= p.merged[i].end
}

// add holds r unless the merged ranges cover it.
func (p *pendingRanges) add(r clockRange) {
	if p.covers(r) {
		return
	}
	if p.len() == 0 || r.start < p.low {
		p.low = r.start
	}
	p.recent = append(p.recent, r)
	if len(p.recent) > 64+len(p.merged)/4 {
		p.merge()
	}
}

func (p *pendingRanges) merge() {
	if len(p.recent) == 0 {
		return
	}
	all := append(p.merged, p.recent...)
	slices.SortFunc(all, func(a, b clockRange) int {
		switch {
		case a.start < b.start:
			return -1
		case a.start > b.start:
			return 1
		}
		return 0
	})
	p.merged = mergeRanges(all)
	clear(p.recent)
	p.recent = p.recent[:0]
}

// takeBelow removes and returns the parts of the ranges below clock.
func (p *pendingRanges) takeBelow(clock uint64) []clockRange {
	p.merge()
	var out []clockRange
	k := 0
	for ; k < len(p.merged) && p.merged[k].start < clock; k++ {
		r := p.merged[k]
		if r.end > clock {
			out = append(out, clockRange{r.start, clock})
			p.merged[k].start = clock
			break
		}
		out = append(out, r)
	}
	p.merged = slices.Delete(p.merged, 0, k)
	if len(p.merged) > 0 {
		p.low = p.merged[0].start
	}
	return out
}

// addPending holds a copy of r, which must outlive the input bytes, unless
// an identical record waits already.
func (d *Doc) addPending(c *clientState, r *record) {
	if c.pending.holds(r) {
		return
	}
	cp := *r
	cp.content = bytes.Clone(r.content)
	if r.content != nil && cp.content == nil {
		cp.content = []byte{}
	}
	cp.value = bytes.Clone(r.value)
	cp.key = bytes.Clone(r.key)
	if c.pending.Len() == 0 {
		d.pendingClients++
	}
	cost := recordCost(&cp)
	c.pending.add(&cp, cost)
	d.pendingBytes += cost
	d.toRetry(c)
}

// addPendingDelete holds the delete range r of client c, whose clocks
// have not all arrived.
func (d *Doc) addPendingDelete(c *clientState, r clockRange) {
	p := &c.pendingDeletes
	before := p.len()
	if before == 0 {
		d.deleteClients++
	}
	p.add(r)
	d.pendingBytes += (p.len() - before) * pendingRangeCost
}

// applyDelete deletes the part of r already integrated and keeps the rest
// pending.
func (d *Doc) applyDelete(r deleteRange) {
	c := r.c
	if known := min(r.end, c.next); known > r.start {
		d.deleteRange(c, r.start, known-r.start)
		r.start = known
	}
	if r.start < r.end {
		d.addPendingDelete(c, r.clockRange)
	}
}

// retryPending integrates pending records and deletions until no more can
// go in. It tries only the clients that may have been unblocked: those that
// received records, and those waiting for a client that advanced (in this
// Apply or by local edits since the last one); and it applies the pending
// deletes of the clients that advanced. Each Apply thus costs what it
// unblocks, not the number of clients with pending data.
func (d *Doc) retryPending() {
	for len(d.retry) > 0 {
		c := d.retry[len(d.retry)-1]
		d.retry[len(d.retry)-1] = nil
		d.retry = d.retry[:len(d.retry)-1]
		c.inRetry = false
		for c.pending.Len() > 0 {
			r := c.pending.first()
			if d.tryIntegrate(c, r) == blocked {
				d.waitFor(c, d.blocker(c, r))
				break
			}
			d.pendingBytes -= c.pending.pop().cost
			if c.pending.Len() == 0 {
				c.pending = pendingQueue{}
				d.pendingClients--
			}
		}
	}
	for _, c := range d.advanced {
		p := &c.pendingDeletes
		if p.len() == 0 || c.next <= p.low {
			continue
		}
		before := p.len()
		for _, r := range p.takeBelow(c.next) {
			d.deleteRange(c, r.start, r.end-r.start)
		}
		d.pendingBytes += (p.len() - before) * pendingRangeCost
		if p.len() == 0 {
			c.pendingDeletes = pendingRanges{}
			d.deleteClients--
		}
	}
}

// advance notes that client c's clock moved: the clients waiting for it
// are to be retried, and its pending deletes may apply.
func (d *Doc) advance(c *clientState) {
	if len(d.waiters) > 0 {
		d.wakeWaiters(c.id)
	}
	if !c.advanced && d.deleteClients > 0 {
		c.advanced = true
		d.advanced = append(d.advanced, c)
	}
}

// endRetry forgets which clients advanced, once retryPending has seen them.
func (d *Doc) endRetry() {
	for _, c := range d.advanced {
		c.advanced = false
	}
	clear(d.advanced)
	d.advanced = d.advanced[:0]
}

// toRetry queues client c for retryPending.
func (d *Doc) toRetry(c *clientState) {
	if !c.inRetry {
		c.inRetry = true
		d.retry = append(d.retry, c)
	}
}

// waitFor records that c's lowest pending record waits for client id.
func (d *Doc) waitFor(c *clientState, id ClientID) {
	if c.waiting && c.waitsFor == id {
		return
	}
	c.waiting, c.waitsFor = true, id
	if d.waiters == nil {
		d.waiters = make(map[ClientID][]*clientState)
	}
	d.waiters[id] = append(d.waiters[id], c)
}

// wakeWaiters queues for retryPending the clients waiting for client id.
func (d *Doc) wakeWaiters(id ClientID) {
	ws, ok := d.waiters[id]
	if !ok {
		return
	}
	delete(d.waiters, id)
	for _, c := range ws {
		if c.waiting && c.waitsFor == id { // else it waits for another since
			c.waiting = false
			d.toRetry(c)
		}
	}
}

// blocker returns the client whose clocks record r of client c, which
// tryIntegrate found blocked, waits for.
func (d *Doc) blocker(c *clientState, r *record) ClientID {
	if r.clock > c.next || r.kind != kindText {
		return c.id
	}
	if _, ok := d.knownRef(r.hasLeft, r.left); !ok {
		return r.left.Client
	}
	return r.right.Client
}

// pendingCost returns, at most, what applying u would add to the pending
// data: it follows integrateUpdate's order without changing anything and
// counts the records that would wait and the delete ranges past the clocks
// their clients would reach, less what is held already. A record that
// integration drops for a bad origin leaves its client's later records
// waiting, which this does not foresee; only hostile input does that, and
// the next update that adds pending data is refused, so a Doc passes
// MaxPendingBytes by at most one update's worth.
func (d *Doc) pendingCost(u *decoded) int {
	if len(u.blocks) == 0 && len(u.deletes) == 0 {
		return 0
	}
	next := slices.Grow(d.simNext[:0], len(u.blocks))[:len(u.blocks)]
	at := slices.Grow(d.simAt[:0], len(u.blocks))[:len(u.blocks)]
	d.simNext, d.simAt = next, at
	for bi, b := range u.blocks {
		next[bi] = 0
		if c := d.clients[b.client]; c != nil {
			next[bi] = c.next
		}
		at[bi] = b.from
	}
	clockOf := func(id ClientID) uint64 {
		if i, ok := slices.BinarySearchFunc(u.blocks, id, func(b decBlock, id ClientID) int {
			return cmpClient(b.client, id)
		}); ok {
			return next[i]
		}
		if c := d.clients[id]; c != nil {
			return c.next
		}
		return 0
	}
	for progress := true; progress; {
		progress = false
		for bi, b := range u.blocks {
			if c := d.clients[b.client]; c != nil && c.pending.Len() > 0 {
				continue // waits behind older pending records
			}
			for ; at[bi] < b.to; at[bi]++ {
				r := &u.recs[at[bi]]
				if r.clock > next[bi] {
					break
				}
				if r.clock+r.length <= next[bi] {
					continue // a duplicate
				}
				if r.kind == kindText {
					leftKnown := r.clock < next[bi] || !r.hasLeft || r.left.Clock < clockOf(r.left.Client)
					rightKnown := !r.hasRight || r.right.Clock < clockOf(r.right.Client)
					if !leftKnown || !rightKnown {
						break
					}
				}
				next[bi] = r.clock + r.length
				progress = true
			}
		}
	}
	cost := 0
	for bi, b := range u.blocks {
		c := d.clients[b.client]
		for k := at[bi]; k < b.to; k++ {
			// Types are not resolved yet: a record that differs from a
			// held one only by its type is taken for a duplicate.
			if r := &u.recs[k]; c == nil || !c.pending.holdsAnyType(r) {
				cost += recordCost(r)
			}
		}
	}
	for _, dc := range u.deletes {
		c := d.clients[dc.client]
		known := clockOf(dc.client)
		for _, r := range u.ranges[dc.from:dc.to] {
			if r.end <= known {
				continue
			}
			if rest := (clockRange{max(r.start, known), r.end}); c == nil || !c.pendingDeletes.covers(rest) {
				cost += pendingRangeCost
			}
		}
	}
	return cost
}
