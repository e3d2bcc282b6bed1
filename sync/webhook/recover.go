package webhook

import (
	"fmt"
	"time"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/store"
)

// Recover makes up for the room.changed and room.deleted events that a
// crash swallowed: a change made durable just before the process died,
// or still waiting for its debounce window, never reached the outbox. It
// compares the state vector last notified for each room (kept in the
// outbox with the events) with the room's stored document, and makes a
// room.changed event, naming every text and map, for each room that differs; a
// room notified but no longer stored gets room.deleted. Only rooms
// changed in the store since their last notification are loaded. Call
// it once at startup, before the server takes connections.
//
// The first Recover on a data file notes the time; rooms that have not
// changed since are taken as notified, so that enabling webhooks on a
// data file does not announce every room it holds.
func (d *Dispatcher) Recover(st store.Store) error {
	since, err := d.since()
	if err != nil {
		return err
	}
	recs, err := d.outbox.ReadOutbox(prefixNotified)
	if err != nil {
		return fmt.Errorf("webhook: reading the outbox: %w", err)
	}
	type notified struct {
		at time.Time
		sv crdt.StateVector
	}
	known := make(map[string]notified, len(recs))
	for _, r := range recs {
		at, room, svBytes, err := decodeNotified(r.Value)
		var sv crdt.StateVector
		if err == nil {
			sv, err = crdt.DecodeStateVector(svBytes)
		}
		if err != nil {
			d.log.Error("webhook outbox: a notified state vector does not decode; the room counts as never notified", "key", r.Key, "err", err)
			continue
		}
		known[room] = notified{at, sv}
	}
	rooms, err := st.Rooms()
	if err != nil {
		return fmt.Errorf("webhook: listing the rooms: %w", err)
	}
	var events []Event
	var refresh []store.OutboxRecord
	for _, ri := range rooms {
		n, ok := known[ri.Name]
		delete(known, ri.Name)
		if !ok && !ri.LastChange.After(since) || ok && !ri.LastChange.After(n.at) {
			continue
		}
		doc, size, err := load(st, ri.Name)
		if err != nil {
			d.log.Error("webhook: a room changed since its last notification does not load; not notified", "room", ri.Name, "err", err)
			continue
		}
		sv := doc.StateVector()
		if ok && sv.Equal(n.sv) {
			// Compacted, not changed: note it, so that the next start
			// need not load it again.
			refresh = append(refresh, store.OutboxRecord{Key: notifiedKey(ri.Name), Value: encodeNotified(time.Now(), ri.Name, sv.Encode())})
			continue
		}
		d.mu.Lock()
		events = append(events, Event{ID: d.newID(), Type: EventChanged, Room: ri.Name, Time: time.Now().UTC(),
			StateVector: sv.Encode(), Size: size, Texts: doc.TextNames(), Maps: doc.MapNames()})
		d.mu.Unlock()
	}
	for room := range known {
		d.mu.Lock()
		events = append(events, Event{ID: d.newID(), Type: EventDeleted, Room: room, Time: time.Now().UTC()})
		d.mu.Unlock()
	}
	if len(refresh) > 0 {
		if err := d.outbox.WriteOutbox(refresh, nil); err != nil {
			return fmt.Errorf("webhook: writing the outbox: %w", err)
		}
	}
	if len(events) > 0 {
		d.log.Info("webhook: notifying the changes a crash left unannounced", "events", len(events))
		d.mu.Lock()
		d.ready = append(d.ready, events...)
		d.mu.Unlock()
		d.poke()
	}
	return nil
}

// since returns when webhooks were first enabled on the data file, noting
// now if they never were.
func (d *Dispatcher) since() (time.Time, error) {
	recs, err := d.outbox.ReadOutbox(keySince)
	if err != nil {
		return time.Time{}, fmt.Errorf("webhook: reading the outbox: %w", err)
	}
	if len(recs) == 1 {
		at, _, _, err := decodeNotified(recs[0].Value)
		if err == nil {
			return at, nil
		}
		d.log.Error("webhook outbox: the start record does not decode; noting a new one", "err", err)
	}
	now := time.Now()
	if err := d.outbox.WriteOutbox([]store.OutboxRecord{{Key: keySince, Value: encodeNotified(now, "", nil)}}, nil); err != nil {
		return time.Time{}, fmt.Errorf("webhook: writing the outbox: %w", err)
	}
	return now, nil
}

// load rebuilds a room's stored document, and its size as the hub counts
// it.
func load(st store.Store, room string) (*crdt.Doc, int, error) {
	snap, updates, err := st.Load(room)
	if err != nil {
		return nil, 0, err
	}
	doc := crdt.NewDoc()
	size := len(snap)
	if snap != nil {
		if err := doc.Apply(snap); err != nil {
			return nil, 0, err
		}
	}
	for _, u := range updates {
		size += len(u)
		if err := doc.Apply(u); err != nil {
			return nil, 0, err
		}
	}
	return doc, size, nil
}
