package crdt

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"unicode/utf8"
)

// ErrApplyInTransaction is returned by Apply when called from inside
// Transact: remote changes cannot join a local transaction.
var ErrApplyInTransaction = errors.New("crdt: Apply called inside Transact")

// A Doc is one replica of a collaborative document: a set of named Texts
// and Maps that converge with every other replica that has seen the same
// updates, in whatever order they arrived.
//
// A Doc is not safe for concurrent use; one goroutine owns it.
type Doc struct {
	me      *clientState
	clients map[ClientID]*clientState
	texts   map[string]*Text
	maps    map[string]*Map
	txn     *txn
	// foreignOwn is set when an update held changes under me that this
	// document did not make: it takes a fresh ID before its next edit.
	foreignOwn bool

	// pendingClients counts the clients whose pending records wait for
	// dependencies, deleteClients those with pending deletes (of clocks
	// not yet seen); pendingBytes counts both against MaxPendingBytes.
	pendingClients int
	deleteClients  int
	pendingBytes   int
	// waiters lists, by client, the clients whose lowest pending record
	// waits for that client's clocks; retry the clients retryPending is to
	// try; advanced the clients whose clocks moved since it last ran.
	waiters   map[ClientID][]*clientState
	retry     []*clientState
	advanced  []*clientState
	scanSteps int      // items conflict scans examined, for tests
	simNext   []uint64 // scratch of pendingCost
	simAt     []int    // scratch of pendingCost

	enc      encoder       // reused by commit and Diff
	tx       txn           // the storage behind txn
	cursors  []blockCursor // reused by integrateUpdate
	lastText *Text         // the text the last update named
	loading  *loader       // the Text integrateUpdate fills as a list, if any
	slab     []item        // items are allocated from here in blocks
	free     *item         // items merged away, for reuse, linked through next

	undoers []*UndoManager // told of every local transaction (undo.go)

	typeObservers []*typesObserver // told of the types each transaction touched
}

// maxSlab is the number of items in a full slab.
const maxSlab = 256

// newItem returns a zeroed item. Allocating items in blocks keeps loading
// and replaying large documents from spending its time in the allocator.
func (d *Doc) newItem() *item {
	if it := d.free; it != nil {
		d.free = it.next
		it.next = nil
		return it
	}
	if len(d.slab) == cap(d.slab) {
		// Slabs double from a few items up to maxSlab, so that a small
		// document (a server holds thousands) stays small.
		d.slab = make([]item, 0, min(max(2*cap(d.slab), 4), maxSlab))
	}
	d.slab = d.slab[:len(d.slab)+1]
	return &d.slab[len(d.slab)-1]
}

// NewDoc returns an empty document with a random client ID.
func NewDoc() *Doc { return NewDocWithClient(randomClientID()) }

// NewDocWithClient returns an empty document whose local edits carry the
// given client ID. Two replicas must never share a client ID. It panics if
// id exceeds MaxClientID. The document still switches to a fresh ID when it
// receives changes under id that it did not make (ResumeClientID).
func NewDocWithClient(id ClientID) *Doc {
	if id > MaxClientID {
		panic("crdt: client ID exceeds 2^53-1")
	}
	d := &Doc{
		clients: make(map[ClientID]*clientState),
		texts:   make(map[string]*Text),
		maps:    make(map[string]*Map),
	}
	d.me = d.client(id)
	return d
}

// ClientID returns the ID this replica's local edits carry. It changes when
// the document takes a fresh ID before a local edit (see ResumeClientID),
// so read it after the edit whose ID matters.
func (d *Doc) ClientID() ClientID { return d.me.id }

// client returns the state of client id, creating it if needed.
func (d *Doc) client(id ClientID) *clientState {
	c := d.clients[id]
	if c == nil {
		c = &clientState{id: id}
		d.clients[id] = c
	}
	return c
}

// freeItem takes an item no longer referenced for reuse. Items are never
// freed one by one, since slabs go only when all their items do; reuse keeps
// a document that merges many deleted items from growing.
func (d *Doc) freeItem(it *item) {
	*it = item{next: d.free}
	d.free = it
}

// checkName panics if name cannot travel in an update (FORMAT.md): names
// are chosen by the program, not by users, so a bad one is a bug.
func checkName(name string) {
	if len(name) > maxNameBytes || !utf8.ValidString(name) {
		panic(fmt.Sprintf("crdt: type name %.40q is not valid UTF-8 of at most %d bytes", name, maxNameBytes))
	}
}

// Text returns the text with the given name, creating it if needed. The
// name must be valid UTF-8 of at most 1024 bytes; Text panics otherwise.
func (d *Doc) Text(name string) *Text {
	t := d.texts[name]
	if t == nil {
		checkName(name)
		t = newText(d, name)
		d.texts[name] = t
	}
	return t
}

// textNamed returns the text with the given name, creating it if create
// is set (else nil if there is none). Updates nearly always name the text
// the previous one named, so that one is compared before the map lookup.
func (d *Doc) textNamed(name []byte, create bool) *Text {
	if t := d.lastText; t != nil && t.name == string(name) {
		return t
	}
	t := d.texts[string(name)]
	if t == nil && create {
		t = d.Text(string(name))
	}
	if t != nil {
		d.lastText = t
	}
	return t
}

// Map returns the map with the given name, creating it if needed. The
// name must be valid UTF-8 of at most 1024 bytes; Map panics otherwise.
func (d *Doc) Map(name string) *Map {
	m := d.maps[name]
	if m == nil {
		checkName(name)
		m = newMap(d, name)
		d.maps[name] = m
	}
	return m
}

// TextNames returns the names of the texts the document holds, sorted.
func (d *Doc) TextNames() []string { return slices.Sorted(maps.Keys(d.texts)) }

// MapNames returns the names of the maps the document holds, sorted.
func (d *Doc) MapNames() []string { return slices.Sorted(maps.Keys(d.maps)) }

// StateVector returns, for every client whose changes the document holds,
// the next clock it expects from that client.
func (d *Doc) StateVector() StateVector {
	sv := make(StateVector, len(d.clients))
	for id, c := range d.clients {
		if c.next > 0 {
			sv[id] = c.next
		}
	}
	return sv
}

// Clock returns the next clock the document expects from client: the
// client's entry of StateVector, without building the whole vector.
func (d *Doc) Clock(client ClientID) uint64 {
	if c := d.clients[client]; c != nil {
		return c.next
	}
	return 0
}

// Diff returns an update holding exactly what a replica at state vector sv
// lacks: every change past sv, plus the document's whole delete set. A nil
// or empty sv gives a snapshot of the whole document.
func (d *Doc) Diff(sv StateVector) []byte {
	e := &d.enc
	e.adopt()
	if len(d.texts) == 1 {
		for _, t := range d.texts {
			e.only = t
		}
	}
	for _, c := range d.sortedClients() {
		from := sv[c.id]
		if from == 0 && c.next > 0 {
			e.addDeletes(c, e.addWholeBlock(c))
			continue
		}
		if c.next > from {
			e.addBlock(c, from)
		}
		e.addDeletes(c, d.deletedRanges(c))
	}
	return e.finish()
}

// Snapshot returns an update holding the whole document. Loading a snapshot
// is applying it to an empty Doc.
func (d *Doc) Snapshot() []byte { return d.Diff(nil) }

// HasPending reports whether the document holds changes it received but
// cannot apply yet because changes they depend on have not arrived.
func (d *Doc) HasPending() bool {
	return d.pendingClients > 0 || d.deleteClients > 0
}

func (d *Doc) sortedClients() []*clientState {
	cs := make([]*clientState, 0, len(d.clients))
	for _, c := range d.clients {
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(a, b *clientState) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	return cs
}

// deletedRanges returns the deleted clock ranges of client c, merged and in
// ascending order.
func (d *Doc) deletedRanges(c *clientState) []clockRange {
	var out []clockRange
	for _, h := range c.heads {
		for it := h.it; it != nil; it = it.next {
			if it.deleted {
				out = appendDeleted(out, it)
			}
		}
	}
	return out
}

// appendDeleted appends the clocks of it, a deleted item that follows the
// ranges of out in clock order, merging it into the last range it touches.
func appendDeleted(out []clockRange, it *item) []clockRange {
	if n := len(out); n > 0 && out[n-1].end == it.clock {
		out[n-1].end += it.length
		return out
	}
	return append(out, clockRange{it.clock, it.clock + it.length})
}

// A clockRange is the clocks [start, end) of one client.
type clockRange struct{ start, end uint64 }

// A deleteRange is a clockRange of a given client.
type deleteRange struct {
	c *clientState
	clockRange
}

// txn collects what one transaction (a local edit or one Apply) changed.
type txn struct {
	local   bool
	quiet   bool          // produce no update (Change)
	start   uint64        // d.me.next when a local transaction began
	deletes []deleteRange // local deletions, for the update
	texts   []*Text       // observed texts with recorded changes
	maps    []*Map        // observed maps with changed keys
	// touchedTexts and touchedMaps list the types changed, while the
	// document has type observers.
	touchedTexts []*Text
	touchedMaps  []*Map
	capture      *undoCapture // what an undo manager needs, when there is one
}

func (tx *txn) addDelete(c *clientState, clock, n uint64) {
	if k := len(tx.deletes); k > 0 {
		last := &tx.deletes[k-1]
		if last.c == c && last.end == clock {
			last.end += n
			return
		}
	}
	tx.deletes = append(tx.deletes, deleteRange{c, clockRange{clock, clock + n}})
}

// Transact runs fn and returns one update holding every local edit fn made.
// Inside fn, the edit methods of Text and Map return nil updates. If fn
// returns an error, the edits it made stay applied and are in the returned
// update, so that replicas stay in step. Transact calls do not nest: an
// inner call just runs its fn inside the outer transaction and returns a
// nil update.
func (d *Doc) Transact(fn func() error) ([]byte, error) {
	if d.txn != nil {
		return nil, fn()
	}
	d.begin(true)
	err := fn()
	return d.commit(), err
}

// Change runs fn like Transact but produces no update: the edits are in the
// document, and peers receive them through Diff of their state vector. It
// suits replicas that sync by state vector rather than forwarding every
// transaction, and skips the cost of encoding one update per transaction.
func (d *Doc) Change(fn func() error) error {
	if d.txn != nil {
		return fn()
	}
	d.begin(true)
	d.txn.quiet = true
	err := fn()
	d.commit()
	return err
}

// local runs one local edit in its own transaction, or in the open one.
func (d *Doc) local(fn func()) ([]byte, error) {
	if d.txn != nil {
		fn()
		return nil, nil
	}
	d.begin(true)
	fn()
	return d.commit(), nil
}

func (d *Doc) begin(local bool) {
	if local {
		d.freshClientIfNeeded()
	}
	tx := &d.tx
	*tx = txn{local: local, start: d.me.next, deletes: tx.deletes[:0], texts: tx.texts[:0], maps: tx.maps[:0],
		touchedTexts: tx.touchedTexts[:0], touchedMaps: tx.touchedMaps[:0]}
	if local && len(d.undoers) > 0 {
		tx.capture = &undoCapture{}
	}
	d.txn = tx
}

// commit closes the transaction, notifies observers and, for a local
// transaction, returns its update (nil when nothing changed).
func (d *Doc) commit() []byte {
	tx := d.txn
	d.txn = nil
	if tx.local && d.me.next > tx.start {
		// Pending records may wait for these clocks (only a hostile peer
		// sends that): the next Apply retries them.
		d.advance(d.me)
	}
	// Observers may start transactions that reuse tx: keep what undo needs.
	capture, me, start, end := tx.capture, d.me, tx.start, d.me.next
	var update []byte
	if tx.local && !tx.quiet && (d.me.next > tx.start || len(tx.deletes) > 0) {
		e := &d.enc
		if d.me.next > tx.start {
			e.addBlock(d.me, tx.start)
		}
		slices.SortFunc(tx.deletes, func(a, b deleteRange) int {
			if a.c.id != b.c.id {
				if a.c.id < b.c.id {
					return -1
				}
				return 1
			}
			if a.start < b.start {
				return -1
			}
			if a.start > b.start {
				return 1
			}
			return 0
		})
		for i := 0; i < len(tx.deletes); {
			j := i
			rs := make([]clockRange, 0, 4)
			for ; j < len(tx.deletes) && tx.deletes[j].c == tx.deletes[i].c; j++ {
				rs = append(rs, tx.deletes[j].clockRange)
			}
			e.addDeletes(tx.deletes[i].c, mergeRanges(rs))
			i = j
		}
		update = e.finish()
	}
	var touchedTexts []*Text
	var touchedMaps []*Map
	if len(tx.touchedTexts) > 0 || len(tx.touchedMaps) > 0 {
		// Cloned before any observer runs: observers may start
		// transactions of their own, which reuse tx.
		touchedTexts, touchedMaps = slices.Clone(tx.touchedTexts), slices.Clone(tx.touchedMaps)
	}
	local := tx.local
	if len(tx.texts) > 0 || len(tx.maps) > 0 {
		// Observers may start transactions of their own, which reuse tx.
		texts, maps := slices.Clone(tx.texts), slices.Clone(tx.maps)
		for _, t := range texts {
			t.flush(local)
		}
		for _, m := range maps {
			m.flush(local)
		}
	}
	d.flushTypes(touchedTexts, touchedMaps, local)
	if capture != nil {
		d.captured(capture, me, start, end)
	}
	return update
}

// mergeRanges merges sorted ranges that touch or overlap.
func mergeRanges(rs []clockRange) []clockRange {
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && r.start <= out[n-1].end {
			out[n-1].end = max(out[n-1].end, r.end)
			continue
		}
		out = append(out, r)
	}
	return out
}

// Apply merges an update (or a snapshot) from another replica. Applying
// the same update twice, or updates in any order, gives the same document.
// Changes whose dependencies have not arrived are held and applied as soon
// as they do. Bytes that are not a valid update return an error (a
// *DecodeError, or one wrapping ErrInvalidUpdate) and leave the document
// unchanged.
func (d *Doc) Apply(update []byte) error {
	if d.txn != nil {
		return ErrApplyInTransaction
	}
	u := decodedPool.Get().(*decoded)
	defer func() {
		u.release()
		decodedPool.Put(u)
	}()
	if err := u.decode(update); err != nil {
		return err
	}
	// Every update is checked whole before anything changes, so that a
	// bad record cannot leave half an update applied (validate.go).
	if err := d.validate(u); err != nil {
		return err
	}
	if cost := d.pendingCost(u); cost > 0 && d.pendingBytes+cost > MaxPendingBytes {
		return fmt.Errorf("%w: %d bytes held, %d more", ErrTooMuchPending, d.pendingBytes, cost)
	}
	d.noteOwnClient(u)
	d.begin(false)
	err := d.integrateUpdate(u)
	d.commit()
	return err
}

// integrateUpdate integrates a validated update: records whose
// dependencies are present go in now, the others wait in pending. Records
// that depend on other records of the same update (a snapshot's blocks
// refer to each other) are retried in place until no block can advance,
// so only what truly waits for another update is copied into pending.
func (d *Doc) integrateUpdate(u *decoded) error {
	cursors := d.cursors[:0]
	defer func() {
		clear(cursors)
		d.cursors = cursors[:0]
	}()
	for bi := range u.blocks {
		b := &u.blocks[bi]
		c := d.client(b.client)
		recs := u.recs[b.from:b.to]
		for i := range recs {
			d.resolve(u, &recs[i])
		}
		if len(recs) > 16 {
			// A large update (a snapshot, a catch-up): make room at once.
			c.heads = slices.Grow(c.heads, len(recs))
			if len(u.types) == 1 && u.types[0].text != nil {
				t := u.types[0].text // resolved above
				t.arena = slices.Grow(t.arena, b.textLen)
			}
		}
		cursors = append(cursors, blockCursor{c, recs})
	}
	if t := u.firstText(); t != nil {
		d.startLoad(t, len(u.recs))
	}
	for progress := true; progress; {
		progress = false
		for k := range cursors {
			cur := &cursors[k]
			if cur.c.pending.Len() > 0 {
				continue // behind older pending records: retryPending orders them
			}
			for warmed := 0; len(cur.recs) > 0; warmed-- {
				if l := d.loading; l != nil && warmed == 0 {
					warmed = l.warm(d, cur.recs)
				}
				st := d.tryIntegrate(cur.c, &cur.recs[0])
				if st == blocked {
					break
				}
				cur.recs = cur.recs[1:]
				progress = true
			}
		}
	}
	if d.loading != nil {
		d.finishLoad()
	}
	for _, cur := range cursors {
		for i := range cur.recs {
			d.addPending(cur.c, &cur.recs[i])
		}
	}
	for _, dc := range u.deletes {
		c := d.client(dc.client)
		for _, r := range u.ranges[dc.from:dc.to] {
			d.applyDelete(deleteRange{c, r})
		}
	}
	if d.HasPending() {
		d.retryPending()
	}
	d.endRetry()
	return nil
}

// blockCursor is the records of one block not integrated yet.
type blockCursor struct {
	c    *clientState
	recs []record
}

// resolve points a decoded record at the Text or Map it belongs to.
func (d *Doc) resolve(u *decoded, r *record) {
	switch r.kind {
	case kindText:
		t := &u.types[r.typ]
		if t.text == nil {
			t.text = d.textNamed(t.name, true)
		}
		r.text = t.text
	case kindMap:
		t := &u.types[r.typ]
		if t.m == nil {
			t.m = d.Map(string(t.name))
		}
		r.m = t.m
	}
}

// decodedPool recycles decoding scratch space between Apply calls of all
// documents: loading many small documents (a server opening rooms) would
// otherwise allocate it afresh for each.
var decodedPool = sync.Pool{New: func() any { return new(decoded) }}

// integration outcomes.
type status int

const (
	integrated status = iota // in the document (or already was)
	blocked                  // waits for a missing dependency
	dropped                  // refers to something it may not; discarded
)

// tryIntegrate integrates record r of client c if its dependencies are
// present.
func (d *Doc) tryIntegrate(c *clientState, r *record) status {
	if r.clock+r.length <= c.next {
		return integrated // a duplicate
	}
	if r.clock > c.next {
		return blocked
	}
	if r.clock < c.next {
		// Part of the record is known: keep only the new tail.
		off := c.next - r.clock
		if r.kind == kindText {
			if r.content != nil {
				r.content = r.content[byteOffset(r.content, r.length, off):]
			}
			r.left = ID{c.id, c.next - 1}
			r.hasLeft = true
		}
		r.clock += off
		r.length -= off
	}
	switch r.kind {
	case kindText:
		left, ok := d.knownRef(r.hasLeft, r.left)
		if !ok {
			return blocked
		}
		right, ok := d.knownRef(r.hasRight, r.right)
		if !ok {
			return blocked
		}
		if l := d.loading; l != nil && l.t == r.text {
			if r.rich == richNone && l.place(c, r, left, right) {
				d.advance(c)
				return integrated
			}
			d.finishLoad() // and the tree takes the record
		}
		var leftItem, rightItem *item
		if !left.none() {
			leftItem = left.c.find(left.clock)
		}
		if !right.none() {
			rightItem = findNear(leftItem, right)
		}
		// Validation checked the origins it could see; one that was
		// unknown then (the record waited in pending) is checked here.
		if !r.text.holds(leftItem) || !r.text.holds(rightItem) {
			return dropped
		}
		if !r.text.originsFit(left, right, leftItem, rightItem) {
			return dropped
		}
		switch r.rich {
		case richStart:
			r.text.setMark(ID{c.id, r.clock}, &mark{key: string(r.key), value: bytes.Clone(r.value), seq: r.seq, expand: r.expand})
		case richEnd:
			// Its start anchor is the clock before, in the same text.
			if s := c.find(r.clock - 1); s.rich != richStart || s.leaf.t != r.text {
				return dropped
			}
		case richEmbed:
			r.text.setEmbed(ID{c.id, r.clock}, bytes.Clone(r.value))
		}
		r.text.integrate(c, r.length, left, right, leftItem, rightItem, r.content, r.rich)
	case kindMap:
		r.m.integrate(c, r.clock, string(r.key), r.seq, bytes.Clone(r.value), r.del)
	case kindSkip:
		d.integrateSkip(c, r.clock, r.length)
	}
	d.advance(c)
	return integrated
}

// knownRef resolves an origin ID; ok is false when it is not integrated yet.
func (d *Doc) knownRef(has bool, id ID) (ref, bool) {
	if !has {
		return ref{}, true
	}
	c := d.clients[id.Client]
	if c == nil || id.Clock >= c.next {
		return ref{}, false
	}
	return ref{c, id.Clock}, true
}

// findNear returns the item holding r (integrated). A right origin is
// mostly the code point after the left one, so near, the left origin's
// item (or nil), is tried first: the code point is in near, in the piece
// after it in clock order, or in the item after it in the text. In a large
// document each of these reads memory the integration reads anyway, where
// the client's index would cost cache misses of its own. An item holding
// r's clock is the one: clocks of a client are never in two items.
func findNear(near *item, r ref) *item {
	if near != nil {
		if r.c == near.c {
			if near.clock <= r.clock && r.clock < near.clock+near.length {
				return near
			}
			if it := near.next; it != nil && it.clock <= r.clock && r.clock < it.clock+it.length {
				return it
			}
		}
		// A listed item's leaf holds none of its items (bulkload.go).
		if near.kind == kindText && near.idx == 0 {
			lf, i := near.leaf, indexIn(near)+1
			if i == len(lf.items) {
				lf, i = lf.next, 0
			}
			if lf != nil && i < len(lf.items) {
				if it := lf.items[i]; it.c == r.c && it.clock <= r.clock && r.clock < it.clock+it.length {
					return it
				}
			}
		}
	}
	return r.c.find(r.clock)
}

// holds reports whether it, the item of an origin (nil for none), may
// serve a run of t: it must be a code point of t itself.
func (t *Text) holds(it *item) bool {
	return it == nil || it.kind == kindText && it.leaf.t == t
}

// integrateSkip records clocks [clock, clock+n) of c as carrying nothing.
func (d *Doc) integrateSkip(c *clientState, clock, n uint64) {
	if k := len(c.heads); k > 0 {
		last := c.heads[k-1].it
		if last.kind == kindSkip && last.next == nil && last.clock+last.length == clock {
			last.length += n
			c.next += n
			return
		}
	}
	it := d.newItem()
	*it = item{clock: clock, length: n, c: c, kind: kindSkip}
	c.addHead(it)
	c.next += n
}
