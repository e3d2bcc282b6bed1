package sync

import (
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
	"github.com/flowstate/flowstate/store"
)

// errCorruptRoom marks a room whose stored records do not decode.
var errCorruptRoom = errors.New("stored records do not decode")

const (
	// inboxSize is the capacity of a room's event channel. A session whose
	// event does not fit waits, which slows that client's reads only. The
	// channel's buffer is allocated with the room, so it stays small.
	inboxSize = 32
	// maxBatch bounds how many events a room handles before it sends the
	// acknowledgements and the coalesced broadcast of their updates.
	maxBatch = 256
	// compactBytes is the log size at which a room folds its log into a
	// new snapshot, unless compactEvery came first.
	compactBytes = 1 << 20
)

// compactEvery is the log length at which a room folds its log into a
// new snapshot. Tests lower it.
var compactEvery = 1024

type eventKind uint8

const (
	eventJoin eventKind = iota + 1
	eventLeave
	eventUpdate
	eventPresence
	eventRead
	eventWrite          // a change of the write API (api_write.go)
	eventDelete         // DELETE /api/rooms/{room} (room_delete.go)
	eventRemote         // updates other servers stored (feed.go)
	eventRemotePresence // presence of other servers' members (feed.go)
	eventRemoteOwner    // a client-ID binding another server stored (feed.go)
)

// An event is what a session tells its room. msg is what the event
// carries, by kind: the *protocol.Hello of a join, the *protocol.Update of
// an update and the *protocol.Presence of a presence change (whose one
// entry the session has checked); the channel of a read, of a deletion
// and the *write of a write (made by readEvent, deleteEvent and
// writeEvent, read by view, deleted and write); and what feed.go's events
// carry. One field for all of them keeps the event at 32 bytes: a room's
// inbox holds inboxSize of them from the start, 1 KB instead of the
// 1.8 KB of a field for each.
type event struct {
	kind eventKind
	s    *session
	msg  any
}

// readEvent asks the room for its content on view (from the HTTP API,
// with no session), which has room for one value so that the room never
// waits on it.
func readEvent(view chan<- *RoomContent) event { return event{kind: eventRead, msg: view} }

// deleteEvent asks the room to delete itself, and to tell the outcome on
// reply.
func deleteEvent(reply chan<- error) event { return event{kind: eventDelete, msg: reply} }

// writeEvent hands the room a change of the write API.
func writeEvent(w *write) event { return event{kind: eventWrite, msg: w} }

// view is the channel of a read's answer (readEvent).
func (ev event) view() chan<- *RoomContent { return ev.msg.(chan<- *RoomContent) }

// deleted is the channel of a deletion's outcome (deleteEvent).
func (ev event) deleted() chan<- error { return ev.msg.(chan<- error) }

// write is the change of an eventWrite (writeEvent).
func (ev event) write() *write { return ev.msg.(*write) }

// A room owns one document and its members. All of its state belongs to
// the goroutine running run; sessions reach it through inbox only.
type room struct {
	name   string
	hub    *Hub
	inbox  chan event
	stop   chan struct{} // closed by the hub to shut the room down
	done   chan struct{} // closed when run returns
	loaded chan struct{} // closed once load has returned
	err    error         // why the room failed to load; set before loaded closes

	refs int // sessions holding the room; guarded by hub.mu
	// Guarded by hub.mu: when refs last fell to zero, and whether the hub
	// asked the room to close to make space (by closing evict).
	idleSince time.Time
	evicting  bool
	evict     chan struct{}

	// Owned by run.
	doc      *crdt.Doc
	members  map[*session]*member
	byClient map[uint64]*session       // the member joined under each client ID
	presence map[uint64]*presenceState // nil until the first presence state
	// owners binds client IDs to the identity that first wrote under
	// them (with Config.Auth; owners.go); unbound holds the bindings not
	// yet stored, and inflightOwners those in the write running now.
	owners         map[uint64]string
	unbound        map[uint64]string
	inflightOwners map[uint64]string
	logLen         int             // updates appended since the last compaction
	logBytes       int             // their total size
	batch          []batchedUpdate // applied, not yet broadcast
	relayAll       [][]byte        // relayBatch's scratch: the batch's updates
	patched        patchedRelay    // relayBatch's scratch: the relay as a Patch
	// held lists the members whose acknowledgement waits to ride on the
	// relay about to go to them (member.heldAck; see ack).
	held []*session

	// What is on disk. unwritten holds the updates applied and not yet
	// known to be written, in the order applied; the first inflight of
	// them are in the Append running now, in a goroutine of its own
	// (committing), which reports on committed. applied and written count
	// the updates applied and written since the room loaded; owed holds
	// the Acks waiting for their updates to be written, in the order
	// applied. durable is the state vector of what the store holds, which
	// is all a joiner is told the room holds.
	unwritten  [][]byte
	applied    uint64
	written    uint64
	owed       []ackDue
	durable    crdt.StateVector
	committing bool
	committed  chan commitResult // made by the first commit
	inflight   int
	inflightSV crdt.StateVector // the document's state vector when inflight was handed over

	// While the last write failed, the room refuses updates (1013), and
	// retries writing unwritten once retry fires, backing off with each
	// failure. A failed compaction is not tried again before compactAfter.
	// (The bools of the room sit together where they can: the room's
	// struct stays within the 768-byte size class.)
	failures     int
	retry        *time.Timer // nil until first armed
	compactAfter time.Time
	failing      bool
	retryOn      bool
	dead         bool // quarantined after a write: run returns

	// With Config.Auth, a join waits until everything applied is written,
	// and updates wait (in deferred) while a join does, so that no member
	// holds another user's update the server may still lose (relayable
	// says why). While the store fails, such a join is refused (1013).
	joins    []pendingJoin
	deferred []event

	idle     *time.Timer // runs while the room has no members
	flush    *time.Timer // runs while presence changes wait; nil until first armed
	relay    *time.Timer // runs while a batch waits for its turn; nil until first armed
	flushOn  bool
	relayOn  bool
	relayed  time.Time    // when the last batch went out
	sweep    *time.Ticker // runs while the room holds presence states
	counters roomCounters // not yet added to the hub's metrics
	docBytes int          // the document's size, for Config.MaxDocBytes
	docExact bool         // docBytes is measured, not estimated
	format   uint8        // the newest document format the document took (format.go)
	hooks    roomHooks    // what the hub's hooks are yet to hear (room_hooks.go)

	// The write API's (api_write.go): the writes waiting to be written,
	// the client ID of each identity's edits, and whether the room was
	// deleted (room_delete.go).
	writesDue  []writeDue
	apiClients map[string]uint64
	deleted    bool

	// With a store that is a Feed (feed.go): where in its log the load
	// read up to, and how to stop following it.
	followFrom uint64
	unfollow   func()
}

type member struct {
	client uint64
	// heldAck is the seq of an acknowledgement due to this member that
	// waits for the relay about to go to it, or 0 (see ack).
	heldAck uint64
	// base is the last update relayed to this member, the base of the
	// next Patch to it (PROTOCOL.md §4.8); nil before the first, and on
	// connections below version 5.
	base []byte
}

// A patchedRelay is the frame of one relayed update as a Patch against
// one base, made once for every member whose base it is: in a room where
// one member types, that is every other member.
type patchedRelay struct {
	base, update []byte
	frame        []byte // nil: the Patch is not smaller than the Update
}

// sameBytes reports whether a and b are the same bytes in memory, not
// merely equal: members share the relayed updates they were sent.
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && len(a) > 0 && &a[0] == &b[0]
}

// An ackDue is the Ack of message seq of s, due once the first upto
// updates the room applied are written.
type ackDue struct {
	s    *session
	seq  uint64
	upto uint64
}

// A commitResult is what an Append of n updates (of size bytes) returned,
// and how long it took.
type commitResult struct {
	err      error
	n, bytes int
	took     time.Duration
}

type batchedUpdate struct {
	from   *session
	update []byte
	n      uint64 // the update is the room's nth applied
}

// A pendingJoin is a join waiting for the room's updates to be written
// (with Config.Auth).
type pendingJoin struct {
	s     *session
	hello *protocol.Hello
}

// A presenceState is the latest presence of one client.
type presenceState struct {
	owner     *session
	state     []byte // empty once the client is gone
	refreshed time.Time
	sent      time.Time // last fan-out
	dirty     bool      // changed since sent
}

func newRoom(h *Hub, name string) *room {
	return &room{
		name:     name,
		hub:      h,
		inbox:    make(chan event, inboxSize),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		loaded:   make(chan struct{}),
		evict:    make(chan struct{}),
		members:  make(map[*session]*member),
		byClient: make(map[uint64]*session),
	}
}

// send hands ev to the room, waiting while its inbox is full. It reports
// false if the room has stopped.
func (r *room) send(ev event) bool {
	select {
	case r.inbox <- ev:
		return true
	case <-r.done:
		return false
	}
}

// load rebuilds the document from the store. An error wrapping
// errCorruptRoom means the stored records are there but do not decode.
func (r *room) load() error {
	snapshot, updates, err := r.loadStore()
	if err != nil {
		r.hub.metrics.storeErrors.WithLabelValues("load").Inc()
	}
	if errors.Is(err, store.ErrCorrupt) {
		return fmt.Errorf("sync: load room %q: %w: %w", r.name, errCorruptRoom, err)
	}
	if err != nil {
		return fmt.Errorf("sync: load room %q: %w", r.name, err)
	}
	doc, err := buildDoc(snapshot, updates)
	if err != nil {
		return fmt.Errorf("sync: load room %q: %w: %w", r.name, errCorruptRoom, err)
	}
	logBytes := 0
	for _, u := range updates {
		logBytes += len(u)
	}
	if r.hub.cfg.authenticated() {
		owners, err := r.hub.store.Owners(r.name)
		if errors.Is(err, store.ErrCorrupt) {
			return fmt.Errorf("sync: load room %q: %w: owners: %w", r.name, errCorruptRoom, err)
		}
		if err != nil {
			r.hub.metrics.storeErrors.WithLabelValues("load").Inc()
			return fmt.Errorf("sync: load room %q: owners: %w", r.name, err)
		}
		r.owners = owners
	}
	r.doc, r.logLen, r.logBytes = doc, len(updates), logBytes
	r.format = storedFormat(snapshot, updates)
	r.hooks.stored = len(snapshot) > 0 || len(updates) > 0
	r.watchDoc()
	r.durable = doc.StateVector()
	r.docBytes, r.docExact = len(snapshot)+r.logBytes, len(updates) == 0
	return r.follow()
}

// run is the room's goroutine.
func (r *room) run() {
	defer close(r.done)
	if !r.start() {
		return
	}
	defer r.abandonWrites(ErrShuttingDown)
	defer r.stopFollow()
	defer r.flushCounters()
	r.idle = time.NewTimer(r.hub.cfg.RoomIdleTimeout)
	defer r.setFailing(false)
	defer r.stopTimers()
	r.loop()
}

// stopTimers stops the room's timers, those made so far.
func (r *room) stopTimers() {
	r.idle.Stop()
	for _, t := range []*time.Timer{r.flush, r.relay, r.retry} {
		if t != nil {
			t.Stop()
		}
	}
	if r.sweep != nil {
		r.sweep.Stop()
	}
}

// arm makes *t fire after d. The timers of a room that the room may never
// need (flush, relay, retry) are made the first time they are armed, and
// are nil until then: most rooms never retry a write, and an idle room
// never relays; a timer costs some 250 bytes, and a room parked with its
// channel in the select holds a sudog for it too.
func arm(t **time.Timer, d time.Duration) {
	if *t == nil {
		*t = time.NewTimer(d)
		return
	}
	(*t).Reset(d)
}

// timerC returns the channel of t, or nil (which blocks forever) for a
// timer not made yet.
func timerC(t *time.Timer) <-chan time.Time {
	if t == nil {
		return nil
	}
	return t.C
}

// start loads the room and reports whether it did. A room that fails to
// load is forgotten, or quarantined if its records do not decode.
func (r *room) start() bool {
	if err := r.load(); err != nil {
		r.err = err
		if errors.Is(err, errCorruptRoom) {
			// Retrying cannot help, and saving over the records would
			// destroy what an operator may still recover: the room stays
			// closed, its data untouched, until the server restarts.
			r.hub.logger.Error("room quarantined: its stored records do not decode; they are left untouched", "room", r.name, "err", err)
			r.hub.quarantine(r)
		} else {
			r.hub.logger.Error("room failed to load", "room", r.name, "err", err)
			r.hub.forget(r)
		}
		close(r.loaded)
		return false
	}
	close(r.loaded)
	r.hub.hooks.event(hookLoad, r.name)
	return true
}

// loop handles the room's events until it closes. An idle room spends its
// life parked in this select, with the frames of run and loop on its
// goroutine's stack: the work of each case is a method of its own, so that
// its locals take stack space only while it runs, and the garbage
// collector can shrink the stack of a parked room (it halves only a stack
// less than a quarter used).
func (r *room) loop() {
	for !r.dead {
		r.flushCounters()
		select {
		case ev := <-r.inbox:
			r.handleBatch(ev)
		case res := <-r.committed:
			r.endCommit(res)
			r.commit()
		case <-timerC(r.retry):
			r.retryOn = false
			r.commit()
		case <-timerC(r.relay):
			r.relayOn = false
			r.relayBatch()
		case <-timerC(r.flush):
			r.flushOn = false
			r.flushPresence(time.Now())
		case now := <-r.sweepC():
			r.expirePresence(now)
		case <-r.idleC():
			if r.idled() {
				return
			}
		case <-r.evict:
			r.evicted()
			return
		case <-r.stop:
			r.stopped()
			return
		}
	}
}

// idleC returns the channel of the idle timer while the room has no
// members, and nil (which blocks forever) while it has: the timer is
// stopped then, and a room parked with members holds no sudog for it.
func (r *room) idleC() <-chan time.Time {
	if len(r.members) > 0 {
		return nil
	}
	return r.idle.C
}

// handleBatch handles ev and the events waiting behind it, up to
// maxBatch, then relays and writes what they changed.
func (r *room) handleBatch(ev event) {
	r.handle(ev)
	for n := 1; n < maxBatch && len(r.inbox) > 0; n++ {
		r.handle(<-r.inbox)
	}
	r.scheduleRelay()
	r.commit()
}

// idled closes the room once its idle timer fired with no members, and
// reports whether it did; otherwise the timer runs again.
func (r *room) idled() bool {
	if len(r.members) == 0 {
		// Save first: once the hub forgets the room, a new room of the
		// same name may load and append to the store, and a later
		// compaction from here would drop its appends. A room that
		// cannot write stays, to retry.
		if r.save() && r.hub.closeIfIdle(r) {
			r.hub.hooks.event(hookIdle, r.name)
			return true
		}
	}
	r.idle.Reset(r.hub.cfg.RoomIdleTimeout)
	return false
}

// evicted closes the room, idle, which the hub chose to make space for
// another. No session holds it, so the inbox can only hold the last
// events of sessions that left; they are handled so that their updates
// are saved too.
func (r *room) evicted() {
	for len(r.inbox) > 0 {
		r.handle(<-r.inbox)
	}
	r.relayBatch()
	r.saveLast()
	r.hub.forget(r)
	r.hub.hooks.event(hookIdle, r.name)
}

// stopped closes the room as the server shuts down.
func (r *room) stopped() {
	r.relayBatch()
	r.saveLast() // and the Acks it makes due, before the members go
	r.sendHeld()
	for s := range r.members {
		r.drop(s, closedGoingAway, "server shutting down", 0)
	}
	r.hub.forget(r)
}

func (r *room) handle(ev event) {
	if r.deleted {
		r.refuseDeleted(ev)
		return
	}
	switch ev.kind {
	case eventJoin:
		h := ev.msg.(*protocol.Hello)
		if r.hub.cfg.authenticated() && r.written < r.applied {
			if r.failing {
				ev.s.queue.close(closedStoreFailing, "the server cannot store updates now; reconnect later", 0)
				return
			}
			r.joins = append(r.joins, pendingJoin{s: ev.s, hello: h})
			return
		}
		r.relayBatch() // so the new member gets no update twice
		r.join(ev.s, h)
	case eventLeave:
		if _, ok := r.members[ev.s]; ok {
			r.remove(ev.s)
		}
		r.joins = slices.DeleteFunc(r.joins, func(j pendingJoin) bool { return j.s == ev.s })
	case eventUpdate:
		if len(r.joins) > 0 {
			r.deferred = append(r.deferred, ev) // see joins
			return
		}
		r.apply(ev.s, ev.msg.(*protocol.Update))
	case eventRead:
		ev.view() <- contentOf(r.name, r.doc, true, r.format >= richFormat)
	case eventWrite:
		if len(r.joins) > 0 {
			r.deferred = append(r.deferred, ev) // see joins
			return
		}
		r.applyWrite(ev.write())
	case eventDelete:
		r.deleteNow(ev.deleted())
	case eventRemote:
		r.applyRemote(ev.msg.(*protocol.Update).Updates)
	case eventRemotePresence:
		r.setRemotePresence(ev.msg.(*protocol.Presence).Entries, time.Now())
	case eventRemoteOwner:
		r.bindRemote(ev.msg.(*remoteBinding))
	case eventPresence:
		if r.members[ev.s] == nil {
			// Not (or no longer, or not yet) a member: a session refused
			// its client ID must not show presence under it.
			return
		}
		r.counters.presence++
		r.setPresence(ev.s, ev.msg.(*protocol.Presence).Entries[0].State, time.Now())
	}
}

// join answers a Hello with what the client lacks and makes it a member.
func (r *room) join(s *session, h *protocol.Hello) {
	sv, err := crdt.DecodeStateVector(h.StateVector)
	if err != nil {
		s.queue.close(closedProtocolError, "hello state vector: "+err.Error(), 0)
		return
	}
	// The state vector is what the store holds, not what the document
	// holds: a joiner then sends back whatever is not written yet, and
	// gets its Ack once that is on disk, rather than being told the room
	// keeps what it may still lose.
	// The room's format first: a client refused for it may come back
	// every few seconds, and must not cost a diff each time.
	if r.format > s.format {
		s.queue.close(closedUnsupportedFormat, formatText(r.name, r.format, s.format), 0)
		return
	}
	diff := r.doc.Diff(sv)
	if f := updateFormat(diff); f > s.format {
		s.queue.close(closedUnsupportedFormat, formatText(r.name, f, s.format), 0)
		return
	}
	welcome, err := encodeFrame(&protocol.Welcome{StateVector: r.durable.Encode(), Update: diff})
	if err != nil {
		s.queue.close(closedInternalError, err.Error(), 0)
		return
	}
	if reason, text := r.claim(s, h.Client); reason != 0 {
		s.queue.close(reason, text, 0)
		return
	}
	r.members[s] = &member{client: h.Client}
	r.byClient[h.Client] = s
	r.idle.Stop()
	if !r.deliver(s, welcome) {
		return
	}
	var entries []protocol.PresenceEntry
	for client, p := range r.presence {
		if len(p.state) > 0 && p.owner != s {
			entries = append(entries, protocol.PresenceEntry{Client: client, State: p.state})
		}
	}
	if len(entries) > 0 {
		if b, err := encodeFrame(&protocol.Presence{Entries: entries}); err == nil {
			r.deliver(s, b)
		}
	}
}

// apply applies the updates of one message from s and owes s an Ack,
// due once they and every update applied before them are written.
func (r *room) apply(s *session, m *protocol.Update) {
	mem := r.members[s]
	if mem == nil {
		return // dropped while its messages were on their way
	}
	if r.failing {
		// Nothing more is taken while the store cannot write: the
		// client keeps its edits and comes back later, instead of the
		// room holding more and more that it may not be able to keep.
		r.drop(s, closedStoreFailing, "the server cannot store updates now; reconnect later", m.Seq)
		return
	}
	size := 0
	for _, u := range m.Updates {
		size += len(u)
	}
	reason, text, writes := r.checkWrites(s, m)
	if reason != 0 {
		r.drop(s, reason, text, m.Seq)
		return
	}
	if !r.docFits(size) {
		r.drop(s, closedDocTooBig, fmt.Sprintf("the document would grow past its %d-byte limit", r.hub.cfg.MaxDocBytes), m.Seq)
		return
	}

	for i, u := range m.Updates {
		r.counters.updates++
		r.counters.updateBytes += len(u)
		start := time.Now()
		err := applyUpdate(r.doc, u)
		took := time.Since(start)
		r.hub.metrics.applySeconds.Observe(took.Seconds())
		if took > applyBudget {
			r.hub.metrics.slowUpdates.Inc()
			r.hub.logger.Warn("an update took longer to apply than its budget", "room", r.name, "client", mem.client,
				"took", took, "budget", applyBudget, "bytes", len(u), "update", hexPrefix(u))
		}
		if errors.Is(err, errApplyPanicked) {
			r.recoverFromPanic(s, mem.client, u, err, fmt.Sprintf("update %d of message %d was refused", i, m.Seq), m.Seq)
			return
		}
		if err != nil {
			r.drop(s, closedInvalidUpdate, fmt.Sprintf("update %d of message %d: %v", i, m.Seq, err), m.Seq)
			return
		}
		r.unwritten = append(r.unwritten, u)
		r.applied++
		r.batch = append(r.batch, batchedUpdate{from: s, update: u, n: r.applied})
		r.docBytes += len(u)
		r.docExact = false
		r.noteChange(u)
		r.took(u)
	}
	r.bind(s, writes)
	if n := len(r.owed); n > 0 && r.owed[n-1].s == s {
		r.owed[n-1].seq, r.owed[n-1].upto = m.Seq, r.applied
	} else {
		r.owed = append(r.owed, ackDue{s: s, seq: m.Seq, upto: r.applied})
	}
	if r.written == r.applied {
		r.sendDue() // a message of no updates, or only of updates written
	}
}

// Bounds of the backoff between attempts to write after a failure.
const (
	retryMin = 50 * time.Millisecond
	retryMax = 5 * time.Second
)

// commit hands the updates not yet written to the store, in one Append,
// so that a store that group-commits makes them durable with one write
// together with other rooms'. The Append runs in a goroutine of its own,
// one at a time per room, so that the room goes on relaying while the
// disk works; endCommit sends the Acks once it returned. When the log has
// grown long, save folds it into a snapshot instead, unless the room is
// failing: then only Appends are tried, at the pace of the backoff, so
// that a full disk costs no snapshot per attempt.
func (r *room) commit() {
	if r.committing || r.retryOn || r.dead {
		return
	}
	// A log that grew long is folded even when nothing is left to write:
	// the Append that made it long may have been the room's last, and a
	// quiet room would otherwise keep it until it closes.
	if !r.failing && (r.logLen >= compactEvery || r.logBytes >= compactBytes) && time.Now().After(r.compactAfter) {
		r.save()
		return
	}
	if len(r.unwritten) == 0 {
		return
	}
	// The store reads updates while the room appends to unwritten, past
	// their end, and never changes them: the capacity keeps it so.
	n := len(r.unwritten)
	updates := r.unwritten[:n:n]
	r.inflight, r.inflightSV = n, r.doc.StateVector()
	r.inflightOwners = maps.Clone(r.unbound)
	r.committing = true
	if r.committed == nil {
		// A room nobody edits never commits: its select waits on a
		// nil channel, which costs neither the channel (160 bytes) nor
		// a sudog while the room is parked.
		r.committed = make(chan commitResult, 1)
	}
	st, name, done, owners := r.hub.store, r.name, r.committed, r.inflightOwners
	if as, ok := st.(asyncAppender); ok && len(owners) == 0 {
		// No goroutine to wait for the store: the store's committer
		// reports straight to the room.
		start, bytes := time.Now(), 0
		for _, u := range updates {
			bytes += len(u)
		}
		report := func(err error) {
			done <- commitResult{err: err, n: n, bytes: bytes, took: time.Since(start)}
		}
		if la, ok := st.(lazyAppender); ok && r.onlyAcksWait() {
			la.AppendLater(name, updates, report)
		} else {
			as.AppendAsync(name, updates, report)
		}
		return
	}
	go func() {
		start := time.Now()
		// The bindings first: a stored update under a client ID never
		// lacks its binding.
		var err error
		if len(owners) > 0 {
			err = st.SetOwners(name, owners)
		}
		if err == nil {
			err = st.Append(name, updates...)
		}
		bytes := 0
		for _, u := range updates {
			bytes += len(u)
		}
		done <- commitResult{err: err, n: n, bytes: bytes, took: time.Since(start)}
	}()
}

// An asyncAppender is a store that can append without its caller
// waiting, such as *store.Bolt: then runs once the updates are durable
// or failed, and must not block.
type asyncAppender interface {
	AppendAsync(room string, updates [][]byte, then func(error))
}

// A lazyAppender is an asyncAppender that can also hold an append back
// for a while to share its commit with other rooms' (*store.Bolt's
// AppendLater, up to its commit interval).
type lazyAppender interface {
	AppendLater(room string, updates [][]byte, then func(error))
}

// onlyAcksWait reports whether the room's next write holds back nothing
// but its senders' Acks, which may then come a little later: no relay
// (with Config.Auth, updates are relayed once written), no join waiting
// for the room's updates to be written, no write of the HTTP API, and
// fewer than lazyBatch updates. A room of people typing writes a few
// updates at a time; one that gathered more since its last write is
// written in bulk (a paste, an import, a client sending its backlog),
// whose senders may pace themselves by the Acks, as Provider and `bench
// replay` do with their windows of unacknowledged messages.
func (r *room) onlyAcksWait() bool {
	return !r.hub.cfg.authenticated() && len(r.joins) == 0 && len(r.writesDue) == 0 && len(r.unwritten) < lazyBatch
}

// lazyBatch is the fewest updates that a room writes at once rather than
// lazily (onlyAcksWait): 32 is over 1,000 updates a second during a
// 20 ms commit interval.
const lazyBatch = 32

// endCommit takes the result of the Append in flight: the updates it
// wrote leave unwritten, and the Acks that makes due go out. After a
// failure everything stays as it was, to be written by a later attempt;
// a room whose records turn out damaged is quarantined.
func (r *room) endCommit(res commitResult) {
	r.committing = false
	r.hub.metrics.storeCommitSeconds.Observe(res.took.Seconds())
	if res.err != nil {
		r.hub.metrics.storeErrors.WithLabelValues("append").Inc()
		r.writeFailed("append", res.err)
		return
	}
	r.logLen += res.n
	r.logBytes += res.bytes
	r.bound(r.inflightOwners)
	r.inflightOwners = nil
	r.wrote(res.n, r.inflightSV)
	r.inflightSV = nil
}

// bound records that the bindings of owners are stored.
func (r *room) bound(owners map[uint64]string) {
	for id := range owners {
		delete(r.unbound, id)
	}
}

// wrote records that the first n updates of unwritten are on disk, and
// with them everything up to sv, and sends the Acks that makes due.
func (r *room) wrote(n int, sv crdt.StateVector) {
	left := copy(r.unwritten, r.unwritten[n:])
	clear(r.unwritten[left:])
	r.unwritten = r.unwritten[:left]
	if left == 0 {
		r.unwritten = nil // let a burst's array go
	}
	r.written += uint64(n)
	r.durable = sv
	r.reportWritten()
	r.answerWrites()
	if r.failing {
		r.hub.logger.Info("store writes again", "room", r.name, "failed_attempts", r.failures)
		r.setFailing(false)
	}
	if r.retryOn {
		// A save wrote everything while a retry was due: no need to
		// wait for it before the next commit. (Since Go 1.23, no stale
		// tick arrives after Stop.)
		r.retry.Stop()
		r.retryOn = false
	}
	r.sendDue()
	r.scheduleRelay()
	if r.written == r.applied {
		r.serveJoins()
	}
}

// serveJoins lets the joins waiting for the room's updates to be written
// in, after relaying what may be relayed, and then applies the updates
// that waited for them.
func (r *room) serveJoins() {
	if len(r.joins) == 0 {
		return
	}
	r.relayBatch()
	joins := r.joins
	r.joins = nil
	for _, j := range joins {
		r.join(j.s, j.hello)
	}
	r.applyDeferred()
}

// applyDeferred applies the updates that waited for joins.
func (r *room) applyDeferred() {
	deferred := r.deferred
	r.deferred = nil
	for _, ev := range deferred {
		r.handle(ev)
	}
	r.scheduleRelay()
}

// refuseJoins refuses the joins waiting for the room's updates to be
// written, which the store fails to write.
func (r *room) refuseJoins() {
	for _, j := range r.joins {
		j.s.queue.close(closedStoreFailing, "the server cannot store updates now; reconnect later", 0)
	}
	r.joins = nil
	r.applyDeferred() // refused too, as the room is failing
}

// writeFailed handles a failed Append or Compact: the room stops taking
// updates and retries writing what it holds, backing off, or, if the
// store says the room's records are damaged, is quarantined.
func (r *room) writeFailed(op string, err error) {
	if errors.Is(err, store.ErrCorrupt) {
		r.hub.logger.Error("room quarantined: the store reports its records damaged", "room", r.name, "op", op, "err", err)
		r.quarantineNow(fmt.Errorf("sync: %s room %q: %w: %w", op, r.name, errCorruptRoom, err))
		return
	}
	if len(r.unwritten) == 0 {
		// A compaction of what the log holds already: nothing is at
		// risk, and the log serves until the next attempt.
		r.hub.logger.Warn("store compaction failed; the room's log still holds everything", "room", r.name, "err", err)
		return
	}
	if !r.failing {
		r.hub.logger.Error("store write failed: the room takes no updates and acknowledges nothing until a write succeeds", "room", r.name, "op", op, "unwritten", len(r.unwritten), "err", err)
		r.setFailing(true)
	}
	r.refuseJoins()
	wait := min(retryMin<<min(r.failures, 16), retryMax)
	r.failures++
	r.retryOn = true
	arm(&r.retry, wait)
}

// setFailing records whether the room's writes fail, for Hub.Ready.
func (r *room) setFailing(failing bool) {
	if r.failing == failing {
		return
	}
	r.failing = failing
	if failing {
		r.hub.failingRooms.Add(1)
	} else {
		r.hub.failingRooms.Add(-1)
		r.failures = 0
	}
}

// awaitCommit waits for the Append in flight, if any, and takes its
// result.
func (r *room) awaitCommit() {
	if r.committing {
		r.endCommit(<-r.committed)
	}
}

// sendDue sends every Ack whose updates are written: one per session, of
// its latest message covered.
func (r *room) sendDue() {
	i := 0
	for i < len(r.owed) && r.owed[i].upto <= r.written {
		i++
	}
	if i == 0 {
		return
	}
	due := r.owed[:i]
	if len(due) > 16 {
		r.sendLatest(due)
	} else {
		// Few entries, as in a quiet room: a scan finds each session's
		// latest without a map per call.
		r.scanLatest(due)
	}
	left := copy(r.owed, r.owed[i:])
	clear(r.owed[left:])
	r.owed = r.owed[:left]
}

// sendLatest sends each session of due the Ack of its latest entry.
func (r *room) sendLatest(due []ackDue) {
	latest := make(map[*session]uint64, 4)
	for _, a := range due {
		latest[a.s] = a.seq // a session's seqs increase
	}
	for _, a := range due {
		if seq, ok := latest[a.s]; ok {
			delete(latest, a.s)
			if r.members[a.s] != nil {
				r.ack(a.s, seq)
			}
		}
	}
}

// scanLatest does what sendLatest does, for a short due, and clears the
// sessions of due as it goes.
func (r *room) scanLatest(due []ackDue) {
	for j, a := range due {
		if a.s == nil {
			continue // sent with an earlier entry of its session
		}
		seq := a.seq
		for k := j + 1; k < len(due); k++ {
			if due[k].s == a.s {
				seq = due[k].seq // a session's seqs increase
				due[k].s = nil
			}
		}
		if r.members[a.s] != nil {
			r.ack(a.s, seq)
		}
	}
}

// scheduleRelay relays the batch now if the last one went out at least
// Config.RelayInterval ago, and otherwise when that interval has passed:
// a quiet room relays each update at once, a busy one gathers the updates
// of an interval into one message per member.
//
// Relaying does not wait for the store: the other members may see an
// update before it is durable. Nothing is lost if the server then dies:
// its sender got no Ack and sends it again after reconnecting, and a
// member that already holds it ignores the duplicate.
func (r *room) scheduleRelay() {
	if r.relayable() == 0 || r.relayOn {
		return
	}
	wait := time.Until(r.relayed.Add(r.hub.cfg.RelayInterval))
	if wait <= 0 {
		r.relayBatch()
		return
	}
	r.relayOn = true
	arm(&r.relay, wait)
}

// relayable returns how many updates of the batch may be relayed: all of
// them, except with Config.Auth, where only those written. A member that
// received another user's update the server then lost (it crashed before
// writing it) would send it back after reconnecting, and be refused, as
// only that user may write under their client ID (owners.go); on an open
// server, sending it back just restores it.
func (r *room) relayable() int {
	if !r.hub.cfg.authenticated() {
		return len(r.batch)
	}
	n := 0
	for n < len(r.batch) && r.batch[n].n <= r.written {
		n++
	}
	return n
}

// ack tells s that its messages up to seq are applied and durable. On a
// connection of protocol version 3, when the batch holds an update of
// another member that may be relayed, a relay to s is about to go out
// anyway (now, or once the relay interval has passed: scheduleRelay runs
// after every change that makes the batch relayable), and the
// acknowledgement rides on it, in its seq, saving s a message and the
// server a write. relayBatch sends what it does not carry as Acks.
func (r *room) ack(s *session, seq uint64) {
	mem := r.members[s]
	if mem == nil {
		return
	}
	if s.relayAcks && r.relaysTo(s) {
		if mem.heldAck == 0 {
			r.held = append(r.held, s)
		}
		mem.heldAck = seq
		return
	}
	r.sendAck(s, seq)
}

// relaysTo reports whether the next relay goes to s: whether the part of
// the batch that may be relayed holds an update s did not send.
func (r *room) relaysTo(s *session) bool {
	for _, b := range r.batch[:r.relayable()] {
		if b.from != s {
			return true
		}
	}
	return false
}

// sendHeld sends the acknowledgements still held as Acks, for the
// members no relay carried them to.
func (r *room) sendHeld() {
	for _, s := range r.held {
		if mem := r.members[s]; mem != nil && mem.heldAck > 0 {
			r.sendAck(s, mem.heldAck)
			mem.heldAck = 0
		}
	}
	clear(r.held)
	r.held = r.held[:0]
}

// sendAck tells s, in an Ack, that its messages up to seq are applied and
// durable.
func (r *room) sendAck(s *session, seq uint64) {
	if b, err := encodeFrame(&protocol.Ack{Seq: seq}); err == nil {
		r.deliver(s, b)
	}
}

// relayBatch relays the batch's updates to the members who did not send
// them: one message for everyone who sent none of them, encoded once, and
// one without its own updates for each sender.
func (r *room) relayBatch() {
	defer r.sendHeld()
	n := r.relayable()
	if n == 0 {
		return
	}
	r.relayed = time.Now()
	batch := r.batch[:n]
	defer func() {
		left := copy(r.batch, r.batch[n:])
		clear(r.batch[left:])
		r.batch = r.batch[:left]
	}()
	// A quiet room's batch is one sender's, usually one update: that case
	// needs no map of senders.
	one := batch[0].from
	all := r.relayAll[:0]
	for _, b := range batch {
		if b.from != one {
			one = nil
		}
		all = append(all, b.update)
	}
	defer func() {
		clear(all)
		r.relayAll = all[:0]
		r.patched = patchedRelay{}
	}()
	msg, err := encodeFrame(&protocol.Update{Updates: all})
	if err != nil {
		return
	}
	if one != nil {
		for s, mem := range r.members {
			if s != one {
				r.relayTo(s, mem, msg, all)
			}
		}
		return
	}
	senders := make(map[*session]bool, 4)
	for _, b := range batch {
		senders[b.from] = true
	}
	for s, mem := range r.members {
		if !senders[s] {
			r.relayTo(s, mem, msg, all)
		}
	}
	for s := range senders {
		mem := r.members[s]
		if mem == nil {
			continue
		}
		var others [][]byte
		for _, b := range batch {
			if b.from != s {
				others = append(others, b.update)
			}
		}
		if msg, err := encodeFrame(&protocol.Update{Updates: others}); err == nil {
			r.relayTo(s, mem, msg, others)
		}
	}
}

// relayTo delivers msg, the relay of updates, to member s, or, when an
// acknowledgement waits for it (ack), the same updates with its seq; on
// a version 5 connection, one update goes as a Patch against the last
// one relayed to s where that is smaller.
func (r *room) relayTo(s *session, mem *member, msg []byte, updates [][]byte) {
	r.counters.relayed += len(updates)
	if len(updates) == 0 {
		r.deliver(s, msg)
		return
	}
	seq := mem.heldAck
	if b := r.patchFrame(mem, updates, seq); b != nil {
		msg, mem.heldAck = b, 0
		r.counters.patched++
	} else if seq > 0 {
		if b, err := encodeFrame(&protocol.Update{Seq: seq, Updates: updates}); err == nil {
			msg, mem.heldAck = b, 0
		}
	}
	if s.patches {
		mem.base = protocol.Base(updates[len(updates)-1])
	}
	r.deliver(s, msg)
}

// patchFrame returns the frame of updates, a single update, as a Patch
// to member mem carrying seq, or nil if mem takes no Patch (it is not of
// version 5, or nothing was relayed to it yet) or the Patch would not be
// smaller than the Update. Without a seq, the frame is made once per
// relay for every member with the same base.
func (r *room) patchFrame(mem *member, updates [][]byte, seq uint64) []byte {
	if mem.base == nil || len(updates) != 1 {
		return nil
	}
	u := updates[0]
	if seq > 0 {
		p := protocol.MakePatch(mem.base, u)
		p.Seq = seq
		return r.encodePatch(p, u)
	}
	c := &r.patched
	if !sameBytes(c.base, mem.base) || !sameBytes(c.update, u) {
		c.base, c.update = mem.base, u
		c.frame = r.encodePatch(protocol.MakePatch(mem.base, u), u)
	}
	return c.frame
}

// encodePatch returns p, which stands for update u, as a frame, or nil
// if it is not smaller than the Update.
func (r *room) encodePatch(p *protocol.Patch, u []byte) []byte {
	if !p.Smaller(len(u), p.Seq) {
		return nil
	}
	b, err := encodeFrame(p)
	if err != nil {
		return nil
	}
	return b
}

// deliver queues b for s, dropping s if its queue is full. It reports
// whether s is still a member.
func (r *room) deliver(s *session, b []byte) bool {
	r.counters.deliveries++
	r.counters.bytes += len(b)
	if s.queue.push(b) {
		return true
	}
	r.hub.metrics.slowConsumers.Inc()
	r.hub.logger.Warn("slow consumer disconnected", "room", r.name, "remote", s.remote)
	r.drop(s, closedSlowConsumer, "send queue overflowed: the client did not read fast enough", 0)
	s.abort()
	return false
}

// drop removes s from the room and closes it for reason.
func (r *room) drop(s *session, reason closeReason, text string, seq uint64) {
	r.remove(s)
	s.queue.close(reason, text, seq)
}

// remove takes s out of the member set and clears its presence.
func (r *room) remove(s *session) {
	mem := r.members[s]
	if mem == nil {
		return
	}
	delete(r.members, s)
	if r.byClient[mem.client] == s {
		delete(r.byClient, mem.client)
	}
	if p := r.presence[mem.client]; p != nil && p.owner == s {
		r.setPresence(s, nil, time.Now())
	}
	if len(r.members) == 0 {
		r.idle.Reset(r.hub.cfg.RoomIdleTimeout)
	}
}

// setPresence records the latest presence of the client of s and
// schedules its fan-out, at most one per PresenceInterval per client.
func (r *room) setPresence(s *session, state []byte, now time.Time) {
	client := s.client
	p := r.presence[client]
	if p == nil {
		if len(state) == 0 {
			return
		}
		p = r.addPresence(client)
	}
	p.owner, p.state, p.refreshed, p.dirty = s, state, now, true
	r.armFlush(p.sent.Add(r.hub.cfg.PresenceInterval).Sub(now))
}

// addPresence makes the presence state of client, and the sweep that
// expires it while the room holds presence. The map is made with the
// first state, as a room whose members show no presence never needs it.
func (r *room) addPresence(client uint64) *presenceState {
	if r.presence == nil {
		r.presence = make(map[uint64]*presenceState)
	}
	p := &presenceState{}
	r.presence[client] = p
	if r.sweep == nil {
		r.sweep = time.NewTicker(max(r.hub.cfg.PresenceTimeout/2, time.Millisecond))
	}
	return p
}

func (r *room) armFlush(d time.Duration) {
	if r.flushOn {
		return
	}
	r.flushOn = true
	arm(&r.flush, max(d, 0))
}

// flushPresence fans out every changed presence whose interval has
// passed, in one message, and schedules the rest.
func (r *room) flushPresence(now time.Time) {
	interval := r.hub.cfg.PresenceInterval
	var entries []protocol.PresenceEntry
	var owners []*session               // the owner of each entry (nil: another node's)
	var mixed map[*session]bool         // the members owning entries, when several do
	var owner *session                  // the only owner of the entries, if one
	var shared []protocol.PresenceEntry // those of members here (feed.go)
	wait := time.Duration(-1)
	for client, p := range r.presence {
		if !p.dirty {
			continue
		}
		if d := p.sent.Add(interval).Sub(now); d > 0 {
			if wait < 0 || d < wait {
				wait = d
			}
			continue
		}
		if len(entries) == 0 {
			owner = p.owner
		} else if owner != p.owner {
			owner = nil
		}
		entries = append(entries, protocol.PresenceEntry{Client: client, State: p.state})
		owners = append(owners, p.owner)
		if p.owner != nil {
			shared = append(shared, entries[len(entries)-1])
		}
		p.dirty, p.sent = false, now
		if len(p.state) == 0 {
			delete(r.presence, client)
		}
	}
	if wait >= 0 {
		r.armFlush(wait)
	}
	if len(r.presence) == 0 && r.sweep != nil {
		r.sweep.Stop()
		r.sweep = nil
	}
	if len(entries) == 0 {
		return
	}
	r.sharePresence(shared)
	msg, err := encodeFrame(&protocol.Presence{Entries: entries})
	if err != nil {
		return
	}
	if owner == nil {
		mixed = make(map[*session]bool, len(owners))
		for _, o := range owners {
			mixed[o] = o != nil
		}
	}
	for s := range r.members {
		switch {
		case s == owner:
		case mixed[s]:
			// Entries of several clients, some of them s's own: s gets
			// the others' only, as presence goes to the other members.
			var others []protocol.PresenceEntry
			for i, e := range entries {
				if owners[i] != s {
					others = append(others, e)
				}
			}
			if b, err := encodeFrame(&protocol.Presence{Entries: others}); err == nil {
				r.deliver(s, b)
			}
		default:
			r.deliver(s, msg)
		}
	}
}

// sweepC returns the channel of the presence sweep, or nil (which blocks
// forever) while the room holds no presence.
func (r *room) sweepC() <-chan time.Time {
	if r.sweep == nil {
		return nil
	}
	return r.sweep.C
}

// expirePresence clears the presence of clients silent for longer than
// PresenceTimeout.
func (r *room) expirePresence(now time.Time) {
	for _, p := range r.presence {
		if len(p.state) > 0 && now.Sub(p.refreshed) > r.hub.cfg.PresenceTimeout {
			if p.owner == nil {
				r.expireRemotePresence(p, now)
				continue
			}
			r.setPresence(p.owner, nil, now)
		}
	}
}

// save folds the room's log, and the updates not yet written, into a
// new snapshot, once the Append in flight returned, and sends the Acks
// that makes due. It reports whether everything the room holds is
// written; a failure is handled as a failed Append.
func (r *room) save() bool {
	r.awaitCommit()
	if r.dead {
		return false
	}
	if r.logLen == 0 && len(r.unwritten) == 0 {
		return true
	}
	start := time.Now()
	snapshot := r.doc.Snapshot()
	sv := r.doc.StateVector()
	r.docBytes, r.docExact = len(snapshot), true
	var err error
	if owners := maps.Clone(r.unbound); len(owners) > 0 {
		if err = r.hub.store.SetOwners(r.name, owners); err == nil {
			r.bound(owners)
		}
	}
	if err == nil {
		err = r.appendToFeed()
	}
	if err == nil {
		err = r.hub.store.Compact(r.name, snapshot)
	}
	r.hub.metrics.storeCompactSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		r.hub.metrics.storeErrors.WithLabelValues("compact").Inc()
		r.compactAfter = time.Now().Add(retryMax)
		r.writeFailed("compact", err)
		return len(r.unwritten) == 0 && !r.dead
	}
	r.compactAfter = time.Time{}
	r.hub.metrics.documentBytes.Observe(float64(len(snapshot)))
	r.logLen, r.logBytes = 0, 0
	// The snapshot holds the updates not yet appended, too: they are
	// durable now, and their senders are owed their Acks.
	r.wrote(len(r.unwritten), sv)
	return true
}

// saveLast saves the room before it closes. What it fails to write was
// never acknowledged: its senders still hold it and send it again.
func (r *room) saveLast() {
	if !r.save() && len(r.unwritten) > 0 {
		r.hub.logger.Error("room closed with updates it could not store; their senders were not acknowledged and keep them", "room", r.name, "unwritten", len(r.unwritten))
	}
}

// applyBudget is how long applying one update may take before it is
// logged and counted (flowstate_slow_updates_total). The CRDT bounds what
// an update can cost (crdt/doc.go, Costs), so an update past it points at
// a bound that does not hold, or at a machine that is overloaded.
const applyBudget = 50 * time.Millisecond

// errApplyPanicked marks an update whose apply panicked.
var errApplyPanicked = errors.New("sync: applying the update panicked")

// applyUpdate applies u to doc and turns a panic of the CRDT into an error
// wrapping errApplyPanicked. The CRDT promises never to panic; this is
// defence in depth, so that a bug there closes one client instead of the
// process and every room in it.
func applyUpdate(doc *crdt.Doc, u []byte) error {
	return applyRecovering(crdtApply, doc, u)
}

// applyRecovering is applyUpdate with the apply function given.
func applyRecovering(apply func(*crdt.Doc, []byte) error, doc *crdt.Doc, u []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", errApplyPanicked, p)
		}
	}()
	return apply(doc, u)
}

// crdtApply is (*crdt.Doc).Apply, in a variable so that tests can make it
// panic.
var crdtApply = (*crdt.Doc).Apply

// crdtApplyRemote applies another server's update, in a variable of its
// own so that a test can make that path alone panic: in an in-process
// cluster crdtApply is shared by every node, and the sending node would
// panic first and never store the update.
var crdtApplyRemote = func(doc *crdt.Doc, u []byte) error { return crdtApply(doc, u) }

// buildDoc makes a document of a snapshot and the updates that follow it.
func buildDoc(snapshot []byte, updates [][]byte) (*crdt.Doc, error) {
	doc := crdt.NewDoc()
	if len(snapshot) > 0 {
		if err := applyUpdate(doc, snapshot); err != nil {
			return nil, fmt.Errorf("snapshot: %w", err)
		}
	}
	for i, u := range updates {
		if err := applyUpdate(doc, u); err != nil {
			return nil, fmt.Errorf("update %d: %w", i, err)
		}
	}
	return doc, nil
}

// recoverFromPanic handles an update u from s whose apply panicked. A
// panic may leave the document half changed, so s is closed with 4004 and
// the document is rebuilt from what the room accepted before u: the
// store's records and the updates not yet written (written or not, they
// apply the same, as applying is idempotent). Nothing of u was relayed or
// stored. If the rebuild fails too, the document cannot be trusted and the
// room is quarantined, as for damaged stored records.
func (r *room) recoverFromPanic(s *session, client uint64, u []byte, err error, text string, seq uint64) {
	r.drop(s, closedInvalidUpdate, text, seq)
	r.rebuildAfterPanic(client, u, err)
}

// rebuildAfterPanic rebuilds the document after u, from client (0 for
// the write API), made the CRDT panic; see recoverFromPanic.
func (r *room) rebuildAfterPanic(client uint64, u []byte, err error) {
	r.hub.metrics.applyPanics.Inc()
	r.hub.logger.Error("an update made the CRDT panic: its sender is refused and the document rebuilt without it",
		"room", r.name, "client", client, "bytes", len(u), "update", hexPrefix(u), "err", err)
	snapshot, updates, lerr := r.hub.store.Load(r.name)
	if lerr != nil {
		r.hub.metrics.storeErrors.WithLabelValues("load").Inc()
	}
	var doc *crdt.Doc
	if lerr == nil {
		doc, lerr = buildDoc(snapshot, slices.Concat(updates, r.unwritten))
	}
	if lerr != nil {
		r.hub.logger.Error("room quarantined: its document could not be rebuilt after a panic", "room", r.name, "err", lerr)
		r.quarantineNow(fmt.Errorf("sync: rebuild room %q after a panic: %w: %w", r.name, errCorruptRoom, lerr))
		return
	}
	r.doc = doc
	r.watchDoc()
}

// quarantineNow quarantines a running room for err: its members are
// closed, joins are refused until the server restarts, and nothing more is
// written, so that what the store holds stays as it is for an operator.
func (r *room) quarantineNow(err error) {
	r.err = err
	r.hub.quarantine(r)
	for s := range r.members {
		r.drop(s, closedInternalError, (&QuarantinedError{Room: r.name}).Error(), 0)
	}
	r.dead = true
}

// hexPrefix is the start of u in hex, for a log line: enough to tell one
// update from another and to reproduce short ones, never megabytes.
func hexPrefix(u []byte) string {
	const most = 64
	if len(u) <= most {
		return hex.EncodeToString(u)
	}
	return hex.EncodeToString(u[:most]) + fmt.Sprintf("… (%d bytes)", len(u))
}
