package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// opKind says what a write request does.
type opKind uint8

const (
	opAppend opKind = iota
	opCompact
	opDelete
	opOwners
	opOutbox
)

// A request is one write waiting for the committer.
type request struct {
	kind     opKind
	room     string
	updates  [][]byte          // opAppend
	snapshot []byte            // opCompact
	owners   map[uint64]string // opOwners
	// opOutbox
	outboxPut []OutboxRecord
	outboxDel []string
	done      chan error  // the result, for a caller that waits (submit)
	then      func(error) // the result, for one that does not (AppendAsync)
	lazy      bool        // may wait for the commit interval (AppendLater)
}

// finish hands the request's result to its caller.
func (r *request) finish(err error) {
	if r.then != nil {
		r.then(err)
		return
	}
	r.done <- err
}

func (r *request) size() int {
	n := len(r.snapshot)
	for _, u := range r.updates {
		n += len(u)
	}
	for _, o := range r.outboxPut {
		n += len(o.Key) + len(o.Value)
	}
	return n
}

// Append implements Store. With group commit, concurrent Appends from
// many rooms share one transaction and one fsync.
func (b *Bolt) Append(room string, updates ...[]byte) error {
	if len(updates) == 0 {
		return b.closedErr()
	}
	if err := checkAppend(room, updates); err != nil {
		return err
	}
	return b.submit(&request{kind: opAppend, room: room, updates: updates})
}

// checkAppend returns an error if updates cannot be one Append.
func checkAppend(room string, updates [][]byte) error {
	size := 0
	for _, u := range updates {
		size += len(u) + binary.MaxVarintLen64
	}
	// The journal keeps one Append as one value.
	if size+len(room)+64 > bolt.MaxValueSize {
		return fmt.Errorf("store: append to room %q: %d bytes of updates, more than one Append can hold (%d)", room, size, bolt.MaxValueSize)
	}
	return nil
}

// AppendAsync is Append that does not wait: it hands updates to the
// committer and returns, and then runs, with what Append would have
// returned, once the updates are durable or have failed. then runs on the
// committer's goroutine, or on the caller's for a request refused at once,
// and must neither block nor call the store. The caller must not change
// updates until then runs. A caller that would start a goroutine only to
// wait for Append (a room goroutine, which goes on relaying meanwhile)
// saves that goroutine and a wake-up per commit.
func (b *Bolt) AppendAsync(room string, updates [][]byte, then func(error)) {
	b.appendAsync(room, updates, then, false)
}

// AppendLater is AppendAsync for a caller in no hurry, such as a room
// whose only wait for the store is its senders' acknowledgements: the
// commit that writes updates may wait until BoltOptions.CommitInterval
// has passed since the previous commit began, gathering the writes of
// other rooms meanwhile, so that a busy server pays one transaction and
// one fsync for more of them. A store that committed less recently than
// that commits at once, and a write whose caller waits (anything but
// AppendLater) ends the wait.
func (b *Bolt) AppendLater(room string, updates [][]byte, then func(error)) {
	b.appendAsync(room, updates, then, true)
}

// appendAsync is AppendAsync, or AppendLater if lazy.
func (b *Bolt) appendAsync(room string, updates [][]byte, then func(error), lazy bool) {
	if len(updates) == 0 {
		then(b.closedErr())
		return
	}
	if err := checkAppend(room, updates); err != nil {
		then(err)
		return
	}
	r := &request{kind: opAppend, room: room, updates: updates, then: then, lazy: lazy}
	if err := b.enqueue(r); err != errSynchronous {
		if err != nil {
			then(err)
		}
		return
	}
	// Without a committer (SyncEachAppend) a commit runs on its caller's
	// goroutine, which must not be the caller's own.
	go func() { then(b.Append(room, updates...)) }()
}

// errSynchronous tells AppendAsync that the store has no committer.
var errSynchronous = errors.New("store: no committer")

// enqueue hands r to the committer. It returns errSynchronous, and does
// nothing, when there is none (SyncEachAppend), and the store's refusal
// when it cannot take writes.
func (b *Bolt) enqueue(r *request) error {
	if r.room == "" || len(r.room) > bolt.MaxKeySize {
		return fmt.Errorf("%w: %q", ErrRoomName, r.room)
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	switch {
	case b.closed:
		return ErrClosed
	case b.opts.ReadOnly:
		return ErrReadOnly
	case b.reqs == nil:
		return errSynchronous
	}
	// Sending under the read lock keeps Close from closing reqs under us;
	// the committer drains reqs, so the send cannot block Close forever.
	b.reqs <- r
	return nil
}

// Compact implements Store, in one transaction.
func (b *Bolt) Compact(room string, snapshot []byte) error {
	if len(snapshot) > bolt.MaxValueSize {
		return fmt.Errorf("store: compact room %q: a snapshot of %d bytes is larger than %d", room, len(snapshot), bolt.MaxValueSize)
	}
	return b.submit(&request{kind: opCompact, room: room, snapshot: snapshot})
}

// Owners implements Store.
func (b *Bolt) Owners(room string) (owners map[uint64]string, err error) {
	err = b.view(func(tx *bolt.Tx) error {
		t, _ := tablesOf(tx)
		owners, err = t.readOwners(room)
		return err
	})
	return owners, err
}

// SetOwners implements Store, group-committed like Append.
func (b *Bolt) SetOwners(room string, owners map[uint64]string) error {
	if len(owners) == 0 {
		return b.closedErr()
	}
	for _, who := range owners {
		if len(who) > bolt.MaxValueSize {
			return fmt.Errorf("store: set owners of room %q: an identity of %d bytes", room, len(who))
		}
	}
	return b.submit(&request{kind: opOwners, room: room, owners: owners})
}

// Delete implements Store. It also removes a room whose entry is damaged.
func (b *Bolt) Delete(room string) error {
	return b.submit(&request{kind: opDelete, room: room})
}

// closedErr returns ErrClosed if the store is closed.
func (b *Bolt) closedErr() error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	return nil
}

// submit hands r to the committer, or commits it at once with
// SyncEachAppend, and waits for the result.
func (b *Bolt) submit(r *request) error {
	if r.kind != opOutbox && (r.room == "" || len(r.room) > bolt.MaxKeySize) {
		return fmt.Errorf("%w: %q", ErrRoomName, r.room)
	}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return ErrClosed
	}
	if b.opts.ReadOnly {
		b.mu.RUnlock()
		return ErrReadOnly
	}
	r.done = make(chan error, 1)
	if b.reqs == nil {
		defer b.mu.RUnlock()
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		b.commit([]*request{r})
		return <-r.done
	}
	// Sending under the read lock keeps Close from closing reqs under us;
	// the committer drains reqs, so the send cannot block Close forever.
	b.reqs <- r
	b.mu.RUnlock()
	return <-r.done
}

// commitLoop is the committer: it takes the first waiting request, every
// other one already queued (within the batch limits), and commits them
// together. It does not wait for more to arrive, except while every
// request it holds came from AppendLater and the previous commit began
// less than the commit interval ago: then it gathers requests until the
// interval has passed or one that is not lazy arrives. An idle store
// commits at once, and requests that arrive during a commit make up the
// next batch. It exits when Close closes reqs, after committing what is
// left.
func (b *Bolt) commitLoop() {
	defer close(b.done)
	debug.SetPanicOnFault(true)
	batch := make([]*request, 0, 64)
	var began time.Time // of the previous commit
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for first := range b.reqs {
		batch = append(batch[:0], first)
		size := first.size()
		if wait := time.Until(began.Add(b.interval)); first.lazy && wait > 0 {
			batch, size = b.gather(batch, size, timer, wait)
		}
	drain:
		for len(batch) < maxBatchRequests && size < maxBatchBytes {
			select {
			case r, ok := <-b.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
				size += r.size()
			default:
				break drain
			}
		}
		began = time.Now()
		b.commit(batch)
		clear(batch)
	}
}

// gather adds to batch, of lazy requests and size bytes, the requests
// that arrive within wait, until one is not lazy, the batch is full or
// reqs is closed.
func (b *Bolt) gather(batch []*request, size int, timer *time.Timer, wait time.Duration) ([]*request, int) {
	timer.Reset(wait)
	defer timer.Stop() // since Go 1.23, no stale tick arrives after Stop
	for len(batch) < maxBatchRequests && size < maxBatchBytes {
		select {
		case r, ok := <-b.reqs:
			if !ok {
				return batch, size
			}
			batch = append(batch, r)
			size += r.size()
			if !r.lazy {
				return batch, size
			}
		case <-timer.C:
			return batch, size
		}
	}
	return batch, size
}

// commit writes batch in one transaction and answers every request. A
// request that fails on its own (a damaged room, say) gets its error and
// the others are committed without it, in a new transaction; a failure
// of the transaction itself (the disk, the commit) fails all of them.
func (b *Bolt) commit(batch []*request) {
	for len(batch) > 0 {
		failed, err := b.tryCommit(batch)
		if failed < 0 {
			for _, r := range batch {
				r.finish(err)
			}
			return
		}
		batch[failed].finish(err)
		batch = slices.Delete(slices.Clone(batch), failed, failed+1)
	}
}

// tryCommit writes batch in one transaction, folding the journal into
// the rooms' logs when it has grown past its limits. If request i fails
// it rolls back and returns i and the error; otherwise it returns -1 and
// the result of the commit.
func (b *Bolt) tryCommit(batch []*request) (failed int, err error) {
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	current := -1
	defer func() {
		if p := recover(); p != nil {
			failed, err = current, errorOf(ErrCorrupt, "store: damaged data: bbolt: %v", p)
			if current >= 0 {
				err = fmt.Errorf("store: room %q: %w", batch[current].room, err)
			}
		}
	}()
	tx, err := b.db.Begin(true)
	if err != nil {
		return -1, fmt.Errorf("store: begin: %w", err)
	}
	defer tx.Rollback()  // an error after Commit, ignored
	t, _ := tablesOf(tx) // checked at open
	w := writeTx{tables: t, tx: tx, now: time.Now().UnixNano(), journalLen: b.journalLen, journalBytes: b.journalBytes}
	for i, r := range batch {
		current = i
		if err := w.apply(r); err != nil {
			return i, err
		}
	}
	current = -1
	if w.journalLen >= b.foldEntries || w.journalBytes >= b.foldBytes {
		if w.journalLen, w.journalBytes, err = fold(tx); err != nil {
			return -1, fmt.Errorf("store: fold the journal: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return -1, fmt.Errorf("store: commit: %w", err)
	}
	b.journalLen, b.journalBytes = w.journalLen, w.journalBytes
	return -1, nil
}

// foldNow folds the whole journal in a transaction of its own.
func (b *Bolt) foldNow() (err error) {
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	defer recoverInto(&err)
	var left, leftBytes int
	err = b.db.Update(func(tx *bolt.Tx) error {
		left, leftBytes, err = fold(tx)
		return err
	})
	if err == nil {
		b.journalLen, b.journalBytes = left, leftBytes
	}
	return err
}

// writeTx is the state of one write transaction.
type writeTx struct {
	tables
	tx           *bolt.Tx
	now          int64 // Unix nanoseconds, the time of every change
	journalLen   int   // journal entries, counting this transaction's
	journalBytes int
}

// apply performs r. An Append goes to the journal, after checking that
// the room is not damaged; a Compact or a Delete supersedes the room's
// journal entries and writes the room itself.
func (w *writeTx) apply(r *request) error {
	switch r.kind {
	case opOwners:
		return w.setOwners(w.tx, r.room, r.owners)
	case opOutbox:
		return w.writeOutbox(r)
	}
	if r.kind != opDelete {
		if err := w.checkRoom(r.room); err != nil {
			return err
		}
	}
	if r.kind == opAppend {
		seq, err := w.journal.NextSequence()
		if err != nil {
			return err
		}
		v := encodeJournalEntry(r.room, w.now, r.updates)
		if err := w.journal.Put(seqKey(seq), v); err != nil {
			return fmt.Errorf("store: room %q: %w", r.room, err)
		}
		w.journalLen++
		w.journalBytes += len(v)
		return nil
	}
	n, size, err := dropJournal(w.journal, r.room)
	if err != nil {
		return err
	}
	w.journalLen -= n
	w.journalBytes -= size
	if r.kind == opDelete {
		return w.deleteRoom(r.room)
	}
	return w.compactRoom(r.room, r.snapshot, w.now)
}

// Ready reports whether the store can take writes: nil while it is open
// for writing, ErrClosed once closed, ErrReadOnly when opened read-only.
// The server's readiness check asks it.
func (b *Bolt) Ready() error {
	if err := b.closedErr(); err != nil {
		return err
	}
	if b.opts.ReadOnly {
		return ErrReadOnly
	}
	return nil
}
