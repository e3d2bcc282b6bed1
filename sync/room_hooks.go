package sync

import (
	"bytes"
	"slices"

	"github.com/flowstate/flowstate/crdt"
)

// This file holds what a room tells the hub's hooks (hookqueue.go): the
// room only records its events here, on its own goroutine; the hooks run
// on the queue's.

// roomHooks is the part of a room's state that serves the hooks. It
// belongs to the room's goroutine.
type roomHooks struct {
	stored  bool            // the store holds something of the room
	changes []pendingChange // changes applied, to report once written
	texts   []string        // texts changed by the update being applied
	maps    []string        // maps changed by it
	lastSV  []byte          // the state vector of the last change noted
}

// A pendingChange is an OnChange call due once the first upto updates the
// room applied are written.
type pendingChange struct {
	upto uint64
	ev   ChangeEvent
}

// watchDoc makes the room's document tell the room which types each
// update changes, when OnChange is set. Called whenever r.doc is
// replaced.
func (r *room) watchDoc() {
	if !r.hub.hooks.wants(hookChange) {
		return
	}
	r.hooks.lastSV = r.doc.StateVector().Encode()
	r.doc.ObserveTypes(func(ev crdt.TypesEvent) {
		r.hooks.texts = append(r.hooks.texts, ev.Texts...)
		r.hooks.maps = append(r.hooks.maps, ev.Maps...)
	})
}

// noteChange records the update the room just applied, its r.applied-th,
// for OnChange once it is written. An update that changed nothing (a
// duplicate) is not reported.
func (r *room) noteChange(u []byte) {
	if !r.hub.hooks.wants(hookChange) {
		return
	}
	texts, maps := r.hooks.texts, r.hooks.maps
	r.hooks.texts, r.hooks.maps = nil, nil
	sv := r.doc.StateVector().Encode()
	if len(texts) == 0 && len(maps) == 0 && bytes.Equal(sv, r.hooks.lastSV) {
		return
	}
	r.hooks.lastSV = sv
	r.hooks.changes = append(r.hooks.changes, pendingChange{upto: r.applied, ev: ChangeEvent{
		Room:        r.name,
		Update:      u,
		StateVector: sv,
		Size:        r.docBytes,
		Texts:       dedupe(texts),
		Maps:        dedupe(maps),
	}})
}

// reportWritten hands the hooks what became durable with the room's
// latest write: the room's creation, if the store held nothing of it
// before, and the changes now written.
func (r *room) reportWritten() {
	q := r.hub.hooks
	if !r.hooks.stored && r.written > 0 {
		r.hooks.stored = true
		q.event(hookCreate, r.name)
	}
	i := 0
	for ; i < len(r.hooks.changes) && r.hooks.changes[i].upto <= r.written; i++ {
		q.change(r.hooks.changes[i].ev)
	}
	if i > 0 {
		left := copy(r.hooks.changes, r.hooks.changes[i:])
		clear(r.hooks.changes[left:])
		r.hooks.changes = r.hooks.changes[:left]
	}
}

// dedupe returns names without repeats, in the order first seen.
func dedupe(names []string) []string {
	if len(names) < 2 {
		return names
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
