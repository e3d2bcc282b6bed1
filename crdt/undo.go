package crdt

import (
	"bytes"
	"slices"
	"time"
	"unicode/utf8"
)

// DefaultCaptureTimeout is how close in time local edits must follow each
// other to be undone as one step, unless UndoOptions says otherwise.
const DefaultCaptureTimeout = 500 * time.Millisecond

// A Shared is a type of a Doc an UndoManager can watch: a *Text or a *Map.
type Shared interface {
	// Name returns the type's name in its Doc.
	Name() string
	owner() *Doc
}

func (t *Text) owner() *Doc { return t.doc }
func (m *Map) owner() *Doc  { return m.doc }

// UndoOptions configures an UndoManager.
type UndoOptions struct {
	// CaptureTimeout is the longest pause between two local edits that are
	// still undone together. Zero means DefaultCaptureTimeout; a negative
	// value puts every transaction in a step of its own.
	CaptureTimeout time.Duration
	// Now returns the current time; nil means time.Now. Tests set it to
	// a clock of their own.
	Now func() time.Time
}

// An UndoManager undoes and redoes the local edits of a Doc in a chosen
// set of Texts and Maps, its scope, the way an editor's undo does, in a
// document that others edit too: only this replica's own edits are taken
// back, and edits that arrived from other replicas meanwhile stay.
//
// Every local transaction that changes the scope becomes a StackItem on the
// undo stack, or joins the item on top when it follows the previous edit
// within the capture timeout and StopCapturing was not called in between.
// A new local edit clears the redo stack.
//
// Undo and Redo make ordinary local edits, whose updates go to other
// replicas like any other: the update format knows nothing of undo. Undoing
// an insertion deletes the inserted code points still there; undoing a
// deletion inserts the deleted text again, as new code points, each piece
// right where its tombstones stand (the place a RelativePosition anchored
// to them resolves to): one insertion per stretch of one client's
// consecutive clocks with nothing between them in the text, so that text
// typed into the gap since stays where it was typed, and what is made
// never depends on how the replica's items happen to be split; undoing a
// Map Set or Delete writes the key's previous value back, unless another
// replica has written the key since.
// Undoing a Format (or SetBlock, or the attributes of ApplyDelta) makes a
// new mark per stretch of the characters it covered that gives them back
// the value they had before, where they still have the value it set:
// where another replica has set the key since, or on text typed into the
// mark since, formatting stays as it is. An embed is inserted, deleted
// and brought back like a code point, with its value.
// Redo takes back an Undo the same way. Text that another replica deleted
// is never brought back: Undo of a deletion restores only what this
// replica deleted, and Redo of an insertion only what Undo deleted, so
// nothing comes back twice.
//
// Items are tracked by the IDs of the code points and entries they touch,
// so an UndoManager keeps working when the Doc takes a new client ID.
//
// An UndoManager belongs to its Doc's goroutine. Give a Doc at most one
// per scope: a second manager would record the first one's undos as edits.
type UndoManager struct {
	doc       *Doc
	texts     map[*Text]bool
	maps      map[*Map]bool
	timeout   time.Duration
	now       func() time.Time
	undoStack []*StackItem
	redoStack []*StackItem
	// lastChange is when the last edit joined the undo stack; zero makes
	// the next edit start a new item.
	lastChange time.Time
	// reverting is the item Undo or Redo is taking back, or nil; stack is
	// UndoStack or RedoStack, the stack it came from.
	reverting *StackItem
	stack     Stack
	observers []*undoObserver
	// moves are the deleted code points (and overwritten map entries)
	// Undo and Redo brought back, so that later steps find the copies.
	moves moveIndex
}

// A Stack names one of an UndoManager's two stacks.
type Stack int

// The stacks of an UndoManager.
const (
	UndoStack Stack = iota // what Undo takes back
	RedoStack              // what Redo takes back
)

// String returns "undo" or "redo".
func (s Stack) String() string {
	if s == RedoStack {
		return "redo"
	}
	return "undo"
}

// A StackItem is one step of undo or redo: the changes of one or more local
// transactions, and the selection around them.
//
// SelectionBefore and SelectionAfter are for the editor binding: it sets
// them when an edit adds an item (UndoEvent.Edit) and restores
// SelectionBefore when the item is popped, so the caret goes back to where
// the step began. Undo and Redo fill them in on the items they add, swapped
// from the item they took back. The manager does not use them itself, but
// before it reports a popped item it moves their anchors onto the text it
// brought back, so they resolve to the restored text, not its tombstones.
type StackItem struct {
	SelectionBefore *Selection
	SelectionAfter  *Selection

	inserted []idRange    // text code points inserted
	deleted  []deletedRun // text deleted, with its content
	writes   []mapWrite   // map keys written
	formats  []formatRun  // text formatted, with the values it had
}

// An idRange is the clocks [start, end) of one client.
type idRange struct {
	client     ClientID
	start, end uint64
}

// A deletedRun is one piece of text deleted locally: length code points
// from id on, which were content, or the embed holding value embed.
type deletedRun struct {
	text    *Text
	id      ID
	length  uint64
	content string
	embed   []byte
}

// A formatRun is one piece of text a local Format (or SetBlock, or
// ApplyDelta) set key of: length code points from id on, where key had
// the value prev (nil for none) before the mark, which set it to set with
// rule.
type formatRun struct {
	text      *Text
	id        ID
	length    uint64
	key       string
	prev, set []byte
	rule      ExpandRule
}

// A mapWrite is a local write of key of m: entry is the ID of the entry it
// made, prev the value it replaced (had is false when there was none), and
// prevEntry the entry it replaced (replaced is false when there was none).
type mapWrite struct {
	m         *Map
	key       string
	entry     ID
	prev      []byte
	had       bool
	prevEntry ID
	replaced  bool
}

// An UndoEventKind says what happened to a StackItem.
type UndoEventKind int

// The kinds of UndoEvent.
const (
	StackItemAdded   UndoEventKind = iota // pushed on a stack
	StackItemUpdated                      // grew by an edit within the capture timeout
	StackItemPopped                       // taken back by Undo or Redo
)

// An UndoEvent tells an observer of an UndoManager that an item was added
// to a stack, updated or popped from it.
type UndoEvent struct {
	Kind  UndoEventKind
	Stack Stack // the stack the item is on, or was popped from
	Item  *StackItem
	// Edit is true when a local edit added or updated the item, and false
	// for the items Undo and Redo add.
	Edit bool
}

type undoObserver struct{ fn func(UndoEvent) }

// undoCapture is what a local transaction did, as an UndoManager needs it:
// the text it deleted, with the content, the text it formatted, with the
// values it had, and the map keys it wrote. The code points it inserted
// are the clocks the transaction took.
type undoCapture struct {
	deletes []deletedRun
	writes  []mapWrite
	formats []formatRun
}

// deleted records that the live text item it is about to be deleted.
func (cp *undoCapture) deleted(t *Text, it *item) {
	r := deletedRun{
		text:    t,
		id:      ID{it.c.id, it.clock},
		length:  it.length,
		content: string(t.arena[it.start:it.end]),
	}
	if it.rich == richEmbed {
		r.embed = t.embeds[r.id]
	}
	cp.deletes = append(cp.deletes, r)
}

// formatted records the values key has on the n positions from pos of t,
// which a mark setting it to value with rule is about to cover.
func (cp *undoCapture) formatted(t *Text, pos, n int, key string, value []byte, rule ExpandRule) {
	t.eachVisible(pos, n, func(it *item, p, lo, hi int, attrs []attr) {
		// Characters that already have the value need nothing back.
		prev := valueOf(attrs, key)
		if bytes.Equal(prev, value) {
			return
		}
		id := ID{it.c.id, it.clock + uint64(lo-p)}
		// A run goes on across items: where one replica's items are split
		// is not another's, and the undo's marks must not depend on it.
		if k := len(cp.formats) - 1; k >= 0 {
			if last := &cp.formats[k]; last.text == t && last.id.Client == id.Client && last.id.Clock+last.length == id.Clock &&
				last.key == key && last.rule == rule && bytes.Equal(last.prev, prev) && bytes.Equal(last.set, value) {
				last.length += uint64(hi - lo)
				return
			}
		}
		cp.formats = append(cp.formats, formatRun{
			text: t, id: id, length: uint64(hi - lo),
			key: key, prev: prev, set: value, rule: rule,
		})
	})
}

// wrote records a local write of key of m, which replaces cur (nil if none)
// with an entry of ID entry.
func (cp *undoCapture) wrote(m *Map, key string, cur *mapEntry, entry ID) {
	w := mapWrite{m: m, key: key, entry: entry}
	if cur != nil {
		w.prevEntry, w.replaced = ID{cur.it.c.id, cur.it.clock}, true
		if !cur.deleted {
			w.prev, w.had = cur.value, true
		}
	}
	cp.writes = append(cp.writes, w)
}

// NewUndoManager returns an UndoManager for the local edits of the given
// Texts and Maps, which must belong to one Doc. It panics if scope is empty
// or spans several Docs: both are bugs of the caller.
func NewUndoManager(opts UndoOptions, scope ...Shared) *UndoManager {
	if len(scope) == 0 {
		panic("crdt: NewUndoManager needs at least one Text or Map")
	}
	u := &UndoManager{
		doc:     scope[0].owner(),
		texts:   make(map[*Text]bool),
		maps:    make(map[*Map]bool),
		timeout: opts.CaptureTimeout,
		now:     opts.Now,
	}
	if u.timeout == 0 {
		u.timeout = DefaultCaptureTimeout
	}
	if u.now == nil {
		u.now = time.Now
	}
	for _, s := range scope {
		if s.owner() != u.doc {
			panic("crdt: NewUndoManager scope spans several Docs")
		}
		switch x := s.(type) {
		case *Text:
			u.texts[x] = true
		case *Map:
			u.maps[x] = true
		}
	}
	u.doc.undoers = append(u.doc.undoers, u)
	return u
}

// Destroy stops the manager from recording edits and drops its stacks.
func (u *UndoManager) Destroy() {
	u.doc.undoers = slices.DeleteFunc(u.doc.undoers, func(x *UndoManager) bool { return x == u })
	u.Clear()
}

// Clear empties both stacks.
func (u *UndoManager) Clear() {
	u.undoStack, u.redoStack, u.moves = nil, nil, moveIndex{}
	u.lastChange = time.Time{}
}

// StopCapturing makes the next local edit start a new item, however soon it
// comes: an editor calls it at a boundary the user sees, such as a click
// that moves the caret.
func (u *UndoManager) StopCapturing() { u.lastChange = time.Time{} }

// CanUndo reports whether the undo stack holds an item.
func (u *UndoManager) CanUndo() bool { return len(u.undoStack) > 0 }

// CanRedo reports whether the redo stack holds an item.
func (u *UndoManager) CanRedo() bool { return len(u.redoStack) > 0 }

// UndoStackLen returns the number of items on the undo stack.
func (u *UndoManager) UndoStackLen() int { return len(u.undoStack) }

// RedoStackLen returns the number of items on the redo stack.
func (u *UndoManager) RedoStackLen() int { return len(u.redoStack) }

// Observe calls fn whenever an item is added to a stack, updated or popped,
// and returns a function that stops the calls.
func (u *UndoManager) Observe(fn func(UndoEvent)) (cancel func()) {
	o := &undoObserver{fn}
	u.observers = append(u.observers, o)
	return func() {
		u.observers = slices.DeleteFunc(u.observers, func(x *undoObserver) bool { return x == o })
	}
}

func (u *UndoManager) emit(ev UndoEvent) {
	for _, o := range slices.Clone(u.observers) {
		o.fn(ev)
	}
}

// Undo takes back the item on top of the undo stack and moves it to the
// redo stack. It returns the update of the edits it made, for the caller to
// send, and whether it changed anything. An item whose changes are all gone
// already (others deleted everything it inserted, say) changes nothing and
// is dropped, and the next one is tried. Inside Doc.Transact, Undo does
// nothing and returns false: its edits would join the caller's.
func (u *UndoManager) Undo() (update []byte, changed bool) { return u.pop(UndoStack) }

// Redo takes back the last Undo, like Undo does with edits, and returns
// the same.
func (u *UndoManager) Redo() (update []byte, changed bool) { return u.pop(RedoStack) }

func (u *UndoManager) pop(from Stack) ([]byte, bool) {
	if u.doc.txn != nil {
		return nil, false
	}
	stack := &u.undoStack
	if from == RedoStack {
		stack = &u.redoStack
	}
	for len(*stack) > 0 {
		n := len(*stack) - 1
		item := (*stack)[n]
		(*stack)[n] = nil
		*stack = (*stack)[:n]
		u.reverting, u.stack = item, from
		changed := false
		update, _ := u.doc.Transact(func() error {
			changed = u.revert(item)
			return nil
		})
		u.reverting = nil
		if changed {
			item.SelectionBefore = u.followSelection(item.SelectionBefore)
			item.SelectionAfter = u.followSelection(item.SelectionAfter)
			u.lastChange = time.Time{}
			u.emit(UndoEvent{Kind: StackItemPopped, Stack: from, Item: item})
			return update, true
		}
	}
	return nil, false
}

// revert takes back the changes of item inside the open transaction and
// reports whether it changed anything.
func (u *UndoManager) revert(item *StackItem) bool {
	d := u.doc
	changed := false
	// Delete what the item inserted and is still there, or came back
	// since: find every piece first, then delete from the end, so that
	// positions stay right.
	var pieces []textPiece
	for _, r := range item.inserted {
		pieces = u.visible(r, pieces)
	}
	pieces = joinRuns(sortPieces(pieces))
	for i := len(pieces) - 1; i >= 0; i-- {
		p := pieces[i]
		p.t.delete(p.pos, p.n)
		changed = true
	}
	// Bring back what it deleted, but not what it had inserted itself.
	for i := len(item.deleted) - 1; i >= 0; i-- {
		for _, piece := range item.notInserted(item.deleted[i]) {
			for _, r := range piece.stretches() {
				to := ID{d.me.id, d.me.next}
				r.text.insertBefore(r.id, r.content, r.embed)
				u.moves.add(move{idRange{r.id.Client, r.id.Clock, r.id.Clock + r.length}, to})
				changed = true
			}
		}
	}
	// Give back the values formats replaced, latest first.
	for i := len(item.formats) - 1; i >= 0; i-- {
		if u.restore(item.formats[i]) {
			changed = true
		}
	}
	for i := len(item.writes) - 1; i >= 0; i-- {
		w := item.writes[i]
		e := w.m.entries[w.key]
		if e == nil || (ID{e.it.c.id, e.it.clock}) != u.followID(w.entry) {
			continue // written since by another replica
		}
		to := ID{d.me.id, d.me.next}
		switch {
		case w.had:
			w.m.write(w.key, w.prev, false)
		case !e.deleted:
			w.m.write(w.key, nil, true)
		default:
			continue
		}
		if w.replaced {
			// The value is back, as a new entry: a step that wrote the
			// key before this one finds it there.
			u.moves.add(move{idRange{w.prevEntry.Client, w.prevEntry.Clock, w.prevEntry.Clock + 1}, to})
		}
		changed = true
	}
	return changed
}

// restore sets the key of the characters r names, or of the copies Undo
// or Redo made of them, back to the value they had before r's mark, where
// they still have the value the mark set: where another replica has set
// the key since, its value stays. It reports whether it made a mark.
func (u *UndoManager) restore(r formatRun) bool {
	made := false
	for _, p := range joinPieces(u.visible(idRange{r.id.Client, r.id.Clock, r.id.Clock + r.length}, nil)) {
		at, from := p.pos, -1
		end := func() {
			if from >= 0 {
				p.t.format(from, at-from, r.key, r.prev, r.rule)
				from, made = -1, true
			}
		}
		for _, c := range p.t.cells(p.pos, p.n) {
			if !bytes.Equal(valueOf(c.attrs, r.key), r.set) {
				end()
			} else if from < 0 {
				from = at
			}
			at += c.n
		}
		end()
	}
	return made
}

// joinPieces joins pieces that follow each other in their text, so that
// what is made of them does not depend on where items are split, which
// differs between replicas and implementations.
func joinPieces(pieces []textPiece) []textPiece {
	var out []textPiece
	for _, p := range pieces {
		if k := len(out) - 1; k >= 0 && out[k].t == p.t && out[k].pos+out[k].n == p.pos {
			out[k].n += p.n
			continue
		}
		out = append(out, p)
	}
	return out
}

// sortPieces sorts pieces by text, in the order the texts first appear,
// then by position.
func sortPieces(pieces []textPiece) []textPiece {
	rank := map[*Text]int{}
	for _, p := range pieces {
		if _, ok := rank[p.t]; !ok {
			rank[p.t] = len(rank)
		}
	}
	slices.SortStableFunc(pieces, func(a, b textPiece) int {
		if a.t != b.t {
			return rank[a.t] - rank[b.t]
		}
		return a.pos - b.pos
	})
	return pieces
}

// joinRuns joins sorted pieces that are one run: consecutive clocks of
// one client with nothing between them in the text. The deletions made
// of them, and so what a Redo brings back, are then the same whatever
// the items they came from.
func joinRuns(pieces []textPiece) []textPiece {
	var out []textPiece
	for _, p := range pieces {
		if k := len(out) - 1; k >= 0 && out[k].t == p.t && out[k].pos+out[k].n == p.pos &&
			out[k].id.Client == p.id.Client && out[k].id.Clock+uint64(out[k].n) == p.id.Clock &&
			p.t.continues(p.t.doc.clients[p.id.Client], p.id.Clock-1) {
			out[k].n += p.n
			continue
		}
		out = append(out, p)
	}
	return out
}

// A textPiece is n visible code points at pos of t, from id on.
type textPiece struct {
	t      *Text
	pos, n int
	id     ID
}

// A move records that Undo or Redo brought the deleted code points from
// back as new ones, from to on.
type move struct {
	from idRange
	to   ID
}

// visible appends to out the visible pieces of the code points r names:
// those still there, and the copies Undo or Redo made of those deleted.
func (u *UndoManager) visible(r idRange, out []textPiece) []textPiece {
	c := u.doc.clients[r.client]
	for clock := r.start; clock < r.end; {
		it := c.find(clock)
		stop := min(r.end, it.clock+it.length)
		switch {
		case it.kind != kindText || it.rich >= richStart:
		case !it.deleted:
			out = append(out, textPiece{it.leaf.t, it.leaf.t.posOf(it) + int(clock-it.clock), int(stop - clock), ID{r.client, clock}})
		default:
			for _, m := range u.moves.overlapping(idRange{r.client, clock, stop}) {
				f := m.from
				lo, hi := max(f.start, clock), min(f.end, stop)
				to := m.to.Clock + lo - f.start
				out = u.visible(idRange{m.to.Client, to, to + hi - lo}, out)
			}
		}
		clock = stop
	}
	return out
}

// followID returns the ID of the copy Undo or Redo made of the code point
// or map entry id, if they brought it back after it was deleted or
// overwritten, and id itself otherwise.
func (u *UndoManager) followID(id ID) ID {
	for {
		ms := u.moves.overlapping(idRange{id.Client, id.Clock, id.Clock + 1})
		if len(ms) == 0 {
			return id
		}
		m := ms[0]
		id = ID{m.to.Client, m.to.Clock + id.Clock - m.from.start}
	}
}

// A moveIndex finds moves by the clocks they moved, which never overlap
// (a code point is deleted, and so brought back, at most once): sorted by
// client and first clock, plus the newest few unsorted, merged in once
// they outnumber the square root of the rest. Adding and finding then stay
// cheap however many steps a session undoes.
type moveIndex struct {
	sorted []move
	recent []move
}

func (x *moveIndex) add(m move) {
	x.recent = append(x.recent, m)
	if len(x.recent)*len(x.recent) <= max(len(x.sorted), 1024) {
		return
	}
	slices.SortFunc(x.recent, compareMoves)
	merged := make([]move, 0, len(x.sorted)+len(x.recent))
	i, j := 0, 0
	for i < len(x.sorted) && j < len(x.recent) {
		if compareMoves(x.sorted[i], x.recent[j]) < 0 {
			merged = append(merged, x.sorted[i])
			i++
		} else {
			merged = append(merged, x.recent[j])
			j++
		}
	}
	merged = append(append(merged, x.sorted[i:]...), x.recent[j:]...)
	x.sorted, x.recent = merged, nil
}

func compareMoves(a, b move) int {
	if a.from.client != b.from.client {
		if a.from.client < b.from.client {
			return -1
		}
		return 1
	}
	if a.from.start < b.from.start {
		return -1
	}
	if a.from.start > b.from.start {
		return 1
	}
	return 0
}

// overlapping returns the moves of clocks that overlap r.
func (x *moveIndex) overlapping(r idRange) []move {
	var out []move
	overlaps := func(m move) bool {
		return m.from.client == r.client && m.from.start < r.end && m.from.end > r.start
	}
	// The first move of the client starting after r.start; the one before
	// it may reach into r too.
	i, _ := slices.BinarySearchFunc(x.sorted, r, func(m move, r idRange) int {
		return compareMoves(m, move{from: idRange{r.client, r.start + 1, 0}})
	})
	if i > 0 {
		i--
	}
	for ; i < len(x.sorted); i++ {
		m := x.sorted[i]
		if m.from.client > r.client || m.from.client == r.client && m.from.start >= r.end {
			break
		}
		if overlaps(m) {
			out = append(out, m)
		}
	}
	for _, m := range x.recent {
		if overlaps(m) {
			out = append(out, m)
		}
	}
	return out
}

// follow returns p anchored to the copy Undo or Redo made of its code
// point, if they brought it back after its deletion.
func (u *UndoManager) follow(p RelativePosition) RelativePosition {
	if p.Anchored {
		p.ID = u.followID(p.ID)
	}
	return p
}

// followSelection returns s with both ends followed.
func (u *UndoManager) followSelection(s *Selection) *Selection {
	if s == nil {
		return nil
	}
	return &Selection{Text: s.Text, Anchor: u.follow(s.Anchor), Head: u.follow(s.Head)}
}

// notInserted returns the parts of r that item did not insert itself: text
// typed and deleted again within one step was never there before it.
func (item *StackItem) notInserted(r deletedRun) []deletedRun {
	out := []deletedRun{r}
	for _, in := range item.inserted {
		if in.client != r.id.Client {
			continue
		}
		var next []deletedRun
		for _, x := range out {
			next = append(next, x.minus(in.start, in.end)...)
		}
		out = next
	}
	return out
}

// minus returns the parts of r outside clocks [start, end) of its client.
func (r deletedRun) minus(start, end uint64) []deletedRun {
	lo, hi := r.id.Clock, r.id.Clock+r.length
	if end <= lo || start >= hi {
		return []deletedRun{r}
	}
	var out []deletedRun
	if start > lo {
		out = append(out, r.slice(0, start-lo))
	}
	if end < hi {
		out = append(out, r.slice(end-lo, r.length))
	}
	return out
}

// stretches cuts r where its code points do not follow each other in the
// text, where something stands between them (text typed there since, its
// tombstones, a mark's anchor), so that each stretch comes back where it
// stood and what stands between stays between. Where the items holding r
// happen to be split, which differs between replicas and implementations,
// does not matter.
func (r deletedRun) stretches() []deletedRun {
	c := r.text.doc.clients[r.id.Client]
	var out []deletedRun
	from, end := r.id.Clock, r.id.Clock+r.length
	for clock := from; clock < end; {
		it := c.find(clock)
		stop := min(end, it.clock+it.length)
		if stop < end && !r.text.continues(c, stop-1) {
			out = append(out, r.slice(from-r.id.Clock, stop-r.id.Clock))
			from = stop
		}
		clock = stop
	}
	return append(out, r.slice(from-r.id.Clock, r.length))
}

// continues reports whether code point clock+1 of c comes right after
// code point clock in t, with nothing between them.
func (t *Text) continues(c *clientState, clock uint64) bool {
	it := c.find(clock)
	if clock+1 < it.clock+it.length {
		return true
	}
	_, _, nx := t.nextFrom(it.leaf, indexIn(it)+1)
	return nx != nil && nx.c == c && nx.clock == clock+1
}

// slice returns code points [from, to) of r.
func (r deletedRun) slice(from, to uint64) deletedRun {
	b := []byte(r.content)
	i := byteOffset(b, r.length, from)
	j := i + byteOffset(b[i:], r.length-from, to-from)
	return deletedRun{text: r.text, id: ID{r.id.Client, r.id.Clock + from}, length: to - from, content: r.content[i:j], embed: r.embed}
}

// insertBefore inserts s, or an embed holding embed if not nil, as a local
// edit right before the code point id, which may be deleted: a deleted
// piece of text comes back where its tombstones stand, ahead of any text
// inserted after them since.
func (t *Text) insertBefore(id ID, s string, embed []byte) {
	d := t.doc
	it := d.clients[id.Client].find(id.Clock)
	if id.Clock > it.clock {
		it = t.split(it, id.Clock-it.clock)
	}
	lf := it.leaf
	i := indexIn(it)
	leftItem := t.prev(lf, i)
	var left ref
	if leftItem != nil {
		left = leftItem.lastRef()
	}
	if embed != nil {
		t.setEmbed(ID{d.me.id, d.me.next}, embed)
		t.place(d.me, 1, leftItem, left, it.firstRef(), lf, i, embedContent, richEmbed)
		return
	}
	t.place(d.me, uint64(utf8.RuneCountInString(s)), leftItem, left, it.firstRef(), lf, i, []byte(s), richNone)
}

// captured hands what a local transaction did to every UndoManager of d:
// cp from the transaction, which inserted clocks [start, end) of me.
func (d *Doc) captured(cp *undoCapture, me *clientState, start, end uint64) {
	for _, u := range slices.Clone(d.undoers) {
		u.record(cp, me, start, end)
	}
}

// record turns what a local transaction did in the scope into a stack item,
// or into more of the item on top.
func (u *UndoManager) record(cp *undoCapture, c *clientState, start, end uint64) {
	item := &StackItem{}
	for clock := start; clock < end; {
		it := c.find(clock)
		stop := min(end, it.clock+it.length)
		if it.kind == kindText && u.texts[it.leaf.t] {
			item.addInserted(idRange{c.id, clock, stop})
		}
		clock = stop
	}
	for _, r := range cp.deletes {
		if u.texts[r.text] {
			item.addDeleted(r)
		}
	}
	for _, w := range cp.writes {
		if u.maps[w.m] {
			item.addWrite(w)
		}
	}
	for _, f := range cp.formats {
		if u.texts[f.text] {
			item.formats = append(item.formats, f)
		}
	}
	if len(item.inserted) == 0 && len(item.deleted) == 0 && len(item.writes) == 0 && len(item.formats) == 0 {
		return
	}
	if r := u.reverting; r != nil {
		// An Undo or Redo: its item goes on the other stack, and the
		// selection goes back and forth between the two.
		item.SelectionBefore, item.SelectionAfter = u.followSelection(r.SelectionAfter), u.followSelection(r.SelectionBefore)
		to := RedoStack
		if u.stack == RedoStack {
			to = UndoStack
			u.undoStack = append(u.undoStack, item)
		} else {
			u.redoStack = append(u.redoStack, item)
		}
		u.emit(UndoEvent{Kind: StackItemAdded, Stack: to, Item: item})
		return
	}
	now := u.now()
	u.redoStack = nil
	merge := len(u.undoStack) > 0 && !u.lastChange.IsZero() && u.timeout > 0 && now.Sub(u.lastChange) < u.timeout
	u.lastChange = now
	if merge {
		top := u.undoStack[len(u.undoStack)-1]
		top.merge(item)
		u.emit(UndoEvent{Kind: StackItemUpdated, Stack: UndoStack, Item: top, Edit: true})
		return
	}
	u.undoStack = append(u.undoStack, item)
	u.emit(UndoEvent{Kind: StackItemAdded, Stack: UndoStack, Item: item, Edit: true})
}

// addInserted adds clocks r, joining the last range when r continues it.
func (item *StackItem) addInserted(r idRange) {
	if n := len(item.inserted); n > 0 {
		if last := &item.inserted[n-1]; last.client == r.client && last.end == r.start {
			last.end = r.end
			return
		}
	}
	item.inserted = append(item.inserted, r)
}

// addDeleted adds a run of deleted text, joining the last one when r
// continues it, both in clocks and in the text: a transaction deletes
// item by item, and where one replica's items are split is not another's,
// so what Undo brings back must not depend on it.
func (item *StackItem) addDeleted(r deletedRun) {
	if n := len(item.deleted); n > 0 {
		if last := &item.deleted[n-1]; last.text == r.text && last.id.Client == r.id.Client && last.id.Clock+last.length == r.id.Clock &&
			last.embed == nil && r.embed == nil && r.text.continues(r.text.doc.clients[r.id.Client], r.id.Clock-1) {
			last.length += r.length
			last.content += r.content
			return
		}
	}
	item.deleted = append(item.deleted, r)
}

// addWrite adds a map write. A key written again within the item keeps the
// value it had before the item's first write, which is what Undo restores.
func (item *StackItem) addWrite(w mapWrite) {
	for i := range item.writes {
		if x := &item.writes[i]; x.m == w.m && x.key == w.key {
			x.entry = w.entry
			return
		}
	}
	item.writes = append(item.writes, w)
}

// merge adds the changes of a later item to item.
func (item *StackItem) merge(later *StackItem) {
	for _, r := range later.inserted {
		item.addInserted(r)
	}
	item.deleted = append(item.deleted, later.deleted...)
	item.formats = append(item.formats, later.formats...)
	for _, w := range later.writes {
		item.addWrite(w)
	}
}
