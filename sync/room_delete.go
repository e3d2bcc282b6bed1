package sync

import (
	"context"
	"errors"

	"github.com/flowstate/flowstate/protocol"
	"github.com/flowstate/flowstate/store"
)

// DeleteRoom removes the named room and everything stored of it: its
// snapshot, its log and its client ID bindings. An open room's members
// are closed with 4404 (room deleted), which tells clients not to
// reconnect, and writes waiting to be made durable fail with
// ErrRoomDeleted. While the deletion runs, joins and writes of the room
// wait; after it, they find an empty room. A quarantined room can be
// deleted too. It returns ErrNoRoom for a room neither open nor stored,
// and calls Hooks.OnDelete once the room is gone.
func (h *Hub) DeleteRoom(ctx context.Context, name string) error {
	if !protocol.ValidRoom(name) {
		return ErrInvalidRoom
	}
	h.mu.Lock()
	h.awaitEvictionLocked(name)
	h.awaitDeletionLocked(name)
	if h.closing {
		h.mu.Unlock()
		return ErrShuttingDown
	}
	done := make(chan struct{})
	if h.deleting == nil {
		h.deleting = make(map[string]chan struct{})
	}
	h.deleting[name] = done
	r := h.rooms[name]
	_, quarantined := h.quarantined[name]
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.deleting, name)
		h.mu.Unlock()
		close(done)
	}()

	if r != nil {
		<-r.loaded
		if r.err == nil {
			reply := make(chan error, 1)
			if r.send(deleteEvent(reply)) {
				select {
				case err := <-reply:
					if err == nil {
						h.hooks.event(hookDelete, name)
					}
					return err
				case <-r.done:
					// Stopped (shut down, or closed to make space)
					// before it got to the deletion: it is saved and
					// gone, and the store is ours to change.
					select {
					case err := <-reply:
						if err == nil {
							h.hooks.event(hookDelete, name)
						}
						return err
					default:
					}
				}
			}
		}
	}
	if !quarantined {
		snapshot, updates, err := h.store.Load(name)
		if err != nil && !errors.Is(err, store.ErrCorrupt) {
			return err
		}
		if err == nil && snapshot == nil && len(updates) == 0 {
			return ErrNoRoom
		}
	}
	if err := h.store.Delete(name); err != nil {
		h.metrics.storeErrors.WithLabelValues("delete").Inc()
		return err
	}
	h.mu.Lock()
	delete(h.quarantined, name)
	h.mu.Unlock()
	h.hooks.event(hookDelete, name)
	return nil
}

// awaitDeletionLocked waits, with h.mu released meanwhile, until no
// deletion of the room named name runs. h.mu must be held.
func (h *Hub) awaitDeletionLocked(name string) {
	for done := h.deleting[name]; done != nil; done = h.deleting[name] {
		h.mu.Unlock()
		<-done
		h.mu.Lock()
	}
}

// deleteNow deletes the room from the store, on its goroutine, once no
// Append is in flight, and stops the room: its members are closed with
// 4404, its waiting writes fail, and the hub forgets it. If the store
// fails, the room goes on as it was.
func (r *room) deleteNow(reply chan<- error) {
	r.awaitCommit()
	if err := r.hub.store.Delete(r.name); err != nil {
		r.hub.metrics.storeErrors.WithLabelValues("delete").Inc()
		reply <- err
		return
	}
	r.deleted, r.dead = true, true
	r.abandonWrites(ErrRoomDeleted)
	for s := range r.members {
		r.drop(s, closedRoomDeleted, "the room was deleted", 0)
	}
	for _, j := range r.joins {
		j.s.queue.close(closedGoingAway, "the room was deleted; reconnect to join it anew", 0)
	}
	r.joins = nil
	for _, ev := range r.deferred {
		r.refuseDeleted(ev)
	}
	r.deferred = nil
	r.unwritten, r.batch, r.owed = nil, nil, nil
	r.hooks.changes = nil
	if r.failing {
		r.setFailing(false)
	}
	r.hub.forget(r)
	reply <- nil
}

// refuseDeleted answers an event that reached the room after it was
// deleted. A session joining is told to reconnect, which finds a new,
// empty room; a write of the API fails, as it was meant for the room
// deleted.
func (r *room) refuseDeleted(ev event) {
	switch ev.kind {
	case eventJoin:
		ev.s.queue.close(closedGoingAway, "the room was deleted; reconnect to join it anew", 0)
	case eventWrite:
		ev.write().done <- writeResult{err: ErrRoomDeleted}
	case eventRead:
		ev.view() <- nil
	case eventDelete:
		ev.deleted() <- nil
	}
}
