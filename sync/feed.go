package sync

import (
	"errors"
	"fmt"
	"time"

	"github.com/flowstate/flowstate/protocol"
)

// A Feed is a store.Store that several servers share, such as
// store/jsstore's: besides keeping rooms, it tells each server what the
// others appended. A Hub whose store is a Feed has each open room follow
// its log from where its load read up to, so that updates written through
// other servers reach the room's document, its members and its
// compactions, as events of the room's own goroutine.
type Feed interface {
	// LoadSeq is Load, plus the position in the room's log up to which
	// the result holds it.
	LoadSeq(room string) (snapshot []byte, updates [][]byte, seq uint64, err error)

	// Follow calls deliver, in order, with the updates that other
	// servers append to the room's log after position after, until
	// deliver returns false or stop is called; bad hears of entries that
	// do not decode, which are skipped.
	Follow(room string, after uint64, deliver func(updates [][]byte) bool, bad func(error)) (stop func(), err error)
}

// A PresenceBus carries presence between servers that share rooms, as
// store/jsstore does over core NATS: never stored, at most once. A Hub
// whose store is one shares each room's presence changes of its own
// members with the other servers, and shows theirs to its members.
type PresenceBus interface {
	// PublishPresence sends a protocol.Presence message (encoded with
	// protocol.Encode) to the other servers holding the room.
	PublishPresence(room string, msg []byte) error

	// SubscribePresence calls deliver with the messages other servers
	// publish to the room, until stop is called. deliver must not block.
	SubscribePresence(room string, deliver func(msg []byte)) (stop func(), err error)
}

// An OwnerWatcher tells a room of the client-ID bindings (SetOwners)
// that other servers store, so that, with Config.Auth, a user's writes
// under a client ID another user bound on another server are refused
// here too.
type OwnerWatcher interface {
	// WatchOwners calls deliver with each binding of the room stored from
	// now on, until stop is called; deliver may block.
	WatchOwners(room string, deliver func(client uint64, identity string)) (stop func(), err error)
}

// A remoteBinding is a binding another server stored, as the message of
// an eventRemoteOwner.
type remoteBinding struct {
	client   uint64
	identity string
}

// MergeUpdates returns the snapshot of the document made of snapshot and
// updates applied in order. A store shared by several servers uses it to
// fold what other servers wrote into a compaction (jsstore.Options.Merge).
func MergeUpdates(snapshot []byte, updates [][]byte) ([]byte, error) {
	doc, err := buildDoc(snapshot, updates)
	if err != nil {
		return nil, err
	}
	return doc.Snapshot(), nil
}

// loadStore reads the room from the store, and, from a Feed, notes where
// to follow its log from.
func (r *room) loadStore() ([]byte, [][]byte, error) {
	feed, ok := r.hub.store.(Feed)
	if !ok {
		return r.hub.store.Load(r.name)
	}
	snapshot, updates, seq, err := feed.LoadSeq(r.name)
	r.followFrom = seq
	return snapshot, updates, err
}

// follow starts following the room's log in a Feed, after what load read.
// Until stopFollow, other servers' updates arrive as eventRemote.
func (r *room) follow() error {
	feed, ok := r.hub.store.(Feed)
	if !ok {
		return nil
	}
	// quit lets a delivery waiting for room in the inbox give up once
	// the room stops following, so that stopping never waits for it.
	quit := make(chan struct{})
	deliver := func(updates [][]byte) bool {
		select {
		case r.inbox <- event{kind: eventRemote, msg: &protocol.Update{Updates: updates}}:
			return true
		case <-r.done:
		case <-quit:
		}
		return false
	}
	bad := func(err error) {
		r.hub.logger.Error("an entry of the room's shared log does not decode; skipped", "room", r.name, "err", err)
	}
	stop, err := feed.Follow(r.name, r.followFrom, deliver, bad)
	if err != nil {
		return fmt.Errorf("sync: follow room %q: %w", r.name, err)
	}
	unsubscribe := func() {}
	if bus, ok := r.hub.store.(PresenceBus); ok {
		// Presence is ephemeral: a frame that finds the inbox full is
		// dropped rather than holding up the connection it came on;
		// the next refresh brings it back.
		unsubscribe, err = bus.SubscribePresence(r.name, func(msg []byte) {
			m, err := protocol.Decode(msg)
			if p, ok := m.(*protocol.Presence); err == nil && ok {
				select {
				case r.inbox <- event{kind: eventRemotePresence, msg: p}:
				default:
				}
			}
		})
		if err != nil {
			stop()
			return fmt.Errorf("sync: follow room %q presence: %w", r.name, err)
		}
		// Ask the other servers for their members' presence. Interest in
		// a subject reaches the other NATS servers some time after the
		// subscription, so what they published meanwhile never came
		// here; this question travels the same route after the
		// subscription, so their answers find it.
		if msg, err := protocol.Encode(&protocol.Presence{}); err == nil {
			if err := bus.PublishPresence(r.name, msg); err != nil {
				r.hub.logger.Debug("presence not asked of the other servers", "room", r.name, "err", err)
			}
		}
	}
	unwatch := func() {}
	if ow, ok := r.hub.store.(OwnerWatcher); ok && r.hub.cfg.Auth != nil {
		unwatch, err = ow.WatchOwners(r.name, func(client uint64, identity string) {
			select {
			case r.inbox <- event{kind: eventRemoteOwner, msg: &remoteBinding{client: client, identity: identity}}:
			case <-r.done:
			case <-quit:
			}
		})
		if err != nil {
			stop()
			unsubscribe()
			return fmt.Errorf("sync: follow room %q owners: %w", r.name, err)
		}
	}
	r.unfollow = func() {
		close(quit)
		stop()
		unsubscribe()
		unwatch()
	}
	return nil
}

// bindRemote records a binding another server stored. The first binding
// stored wins (the store keeps it): a member here joined under that
// client ID with another identity is closed, as its writes under it would
// now be refused.
func (r *room) bindRemote(b *remoteBinding) {
	if owner, ok := r.owners[b.client]; ok && owner == b.identity {
		return
	}
	if r.owners == nil {
		r.owners = make(map[uint64]string)
	}
	if _, ok := r.unbound[b.client]; ok {
		// Bound here too and not stored yet: the store keeps whichever
		// came first, and the next load will say which.
		r.hub.logger.Warn("a client ID was bound to two users on two servers at once", "room", r.name, "client", b.client)
	}
	r.owners[b.client] = b.identity
	if s := r.byClient[b.client]; s != nil && s.identity() != b.identity {
		r.drop(s, closedForbidden, fmt.Sprintf("client ID %d belongs to another user in this room: pick a fresh client ID", b.client), 0)
	}
}

// setRemotePresence records presence entries of another server's
// members, which then fan out to this room's members like its own
// members' (an entry has no owner session here), and expire the same way
// unless refreshed. A client ID of a member here keeps its own entry.
//
// A message with no entries is another server's question for the
// presence of this server's members (see follow): it gets all of it.
func (r *room) setRemotePresence(entries []protocol.PresenceEntry, now time.Time) {
	if len(entries) == 0 {
		var own []protocol.PresenceEntry
		for client, p := range r.presence {
			if p.owner != nil && len(p.state) > 0 {
				own = append(own, protocol.PresenceEntry{Client: client, State: p.state})
			}
		}
		r.sharePresence(own)
		return
	}
	for _, e := range entries {
		if r.byClient[e.Client] != nil {
			continue
		}
		p := r.presence[e.Client]
		if p == nil {
			if len(e.State) == 0 {
				continue
			}
			p = r.addPresence(e.Client)
		}
		if p.owner != nil {
			continue // a member here claimed it since
		}
		p.state, p.refreshed, p.dirty = e.State, now, true
		r.armFlush(p.sent.Add(r.hub.cfg.PresenceInterval).Sub(now))
	}
}

// sharePresence sends the presence entries of this server's members, as
// fanned out to them, to the other servers holding the room.
func (r *room) sharePresence(entries []protocol.PresenceEntry) {
	bus, ok := r.hub.store.(PresenceBus)
	if !ok || len(entries) == 0 {
		return
	}
	msg, err := protocol.Encode(&protocol.Presence{Entries: entries})
	if err == nil {
		err = bus.PublishPresence(r.name, msg)
	}
	if err != nil {
		r.hub.logger.Debug("presence not shared with the other servers", "room", r.name, "err", err)
	}
}

// expireRemotePresence clears an entry of another server's member that
// was not refreshed in time (its server may be gone).
func (r *room) expireRemotePresence(p *presenceState, now time.Time) {
	p.state, p.refreshed, p.dirty = nil, now, true
	r.armFlush(p.sent.Add(r.hub.cfg.PresenceInterval).Sub(now))
}

// stopFollow stops following the room's log.
func (r *room) stopFollow() {
	if r.unfollow != nil {
		r.unfollow()
		r.unfollow = nil
	}
}

// appendToFeed appends the updates not yet written to a Feed's log
// before a compaction: a snapshot would make them durable too, but only
// the log carries them to the other servers' rooms.
func (r *room) appendToFeed() error {
	if _, ok := r.hub.store.(Feed); !ok || len(r.unwritten) == 0 {
		return nil
	}
	return r.hub.store.Append(r.name, r.unwritten...)
}

// applyRemote applies updates another server stored, and relays them to
// every member. They are durable already: they count toward the log the
// next compaction folds, and nobody is owed an Ack for them. One the
// document refuses (which the other server accepted, so a version
// mismatch or a bug) is logged and skipped: the room must not stop for it.
func (r *room) applyRemote(updates [][]byte) {
	for _, u := range updates {
		if err := applyRecovering(crdtApplyRemote, r.doc, u); err != nil {
			if errors.Is(err, errApplyPanicked) {
				// A panic may have left the document half changed: rebuild
				// it from the store as for a member's update. The store's
				// log holds u too, so the room is quarantined if u panics
				// again; if not, the rebuilt document holds u, and the
				// members must be sent it as any other remote update.
				r.rebuildAfterPanic(0, u, err)
				if r.dead {
					return
				}
				r.batch = append(r.batch, batchedUpdate{update: u})
				r.took(u)
				continue
			}
			r.hub.logger.Error("an update from another server was refused", "room", r.name, "bytes", len(u), "update", hexPrefix(u), "err", err)
			continue
		}
		r.counters.updates++
		r.counters.updateBytes += len(u)
		r.batch = append(r.batch, batchedUpdate{update: u}) // n 0: written
		r.logLen++
		r.logBytes += len(u)
		r.docBytes += len(u)
		r.docExact = false
		r.took(u)
	}
	if len(r.unwritten) == 0 && !r.committing {
		// Everything the document holds is stored: a joiner may be told
		// so, and need not send the remote updates back.
		r.durable = r.doc.StateVector()
	}
}
