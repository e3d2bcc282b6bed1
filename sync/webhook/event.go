package webhook

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Event types.
const (
	// EventChanged: a room's document changed. At most one per room per
	// Config.Debounce, merging the changes made in that time.
	EventChanged = "room.changed"
	// EventCreated: a room that had nothing stored received its first
	// durable content.
	EventCreated = "room.created"
	// EventDeleted: a room and its history were removed.
	EventDeleted = "room.deleted"
	// EventIdle: a room closed in memory after having no members for a
	// while, its document saved.
	EventIdle = "room.idle"
)

// eventTypes are the known event types, for checking filters.
var eventTypes = []string{EventChanged, EventCreated, EventDeleted, EventIdle}

// An Event is the JSON body of a webhook request. Receivers may decode
// bodies into it.
type Event struct {
	// ID identifies the event: the same on every attempt and for every
	// receiver (the idempotency key, also in HeaderEventID). IDs sort in
	// the order the events were made.
	ID string `json:"id"`
	// Type is one of EventChanged, EventCreated, EventDeleted, EventIdle.
	Type string `json:"type"`
	// Room is the room's name.
	Room string `json:"room"`
	// Time is when the event was made.
	Time time.Time `json:"time"`

	// The fields below are set for EventChanged only.

	// StateVector is the room's state vector after the changes, encoded
	// as in the crdt format (base64 in JSON).
	StateVector []byte `json:"state_vector,omitempty"`
	// Size is the document's stored size in bytes: its last snapshot
	// plus the updates applied since.
	Size int `json:"size,omitempty"`
	// Texts names the texts changed since the previous room.changed, in
	// order. After a crash the server may not know which texts changed;
	// it then names every text of the document.
	Texts []string `json:"texts,omitempty"`
	// Maps names the maps changed since the previous room.changed, in
	// order; after a crash, every map of the document.
	Maps []string `json:"maps,omitempty"`
}

// recordVersion is the first byte of every outbox record this package
// writes; a record of another version is not decoded.
const recordVersion = 1

// errRecord reports an outbox record that does not decode.
var errRecord = errors.New("webhook: malformed outbox record")

// encodeDelivery encodes one event's delivery to one receiver: version,
// creation time (Unix ns, 8 bytes big-endian), then the request body.
func encodeDelivery(created time.Time, body []byte) []byte {
	b := make([]byte, 9, 9+len(body))
	b[0] = recordVersion
	binary.BigEndian.PutUint64(b[1:], uint64(created.UnixNano()))
	return append(b, body...)
}

// decodeDelivery decodes a record of encodeDelivery, and the event of its
// body, which must have an ID and a known type.
func decodeDelivery(b []byte) (created time.Time, body []byte, ev Event, err error) {
	if len(b) < 9 || b[0] != recordVersion {
		return time.Time{}, nil, Event{}, fmt.Errorf("%w: %d bytes, version %d", errRecord, len(b), firstByte(b))
	}
	body = b[9:]
	if err := json.Unmarshal(body, &ev); err != nil {
		return time.Time{}, nil, Event{}, fmt.Errorf("%w: body: %v", errRecord, err)
	}
	if ev.ID == "" || !knownType(ev.Type) {
		return time.Time{}, nil, Event{}, fmt.Errorf("%w: event %q of type %q", errRecord, ev.ID, ev.Type)
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b[1:9]))), body, ev, nil
}

// notifiedKey is the outbox key of a room's notified state vector: a
// hash, as a room's name may be as long as a key can be.
func notifiedKey(room string) string {
	sum := sha256.Sum256([]byte(room))
	return prefixNotified + hex.EncodeToString(sum[:16])
}

// encodeNotified encodes the record of the state vector last notified for
// a room: version, time (Unix ns, 8 bytes big-endian), uvarint length and
// bytes of the room's name, state vector.
func encodeNotified(at time.Time, room string, sv []byte) []byte {
	b := make([]byte, 9, 9+binary.MaxVarintLen64+len(room)+len(sv))
	b[0] = recordVersion
	binary.BigEndian.PutUint64(b[1:], uint64(at.UnixNano()))
	b = binary.AppendUvarint(b, uint64(len(room)))
	b = append(b, room...)
	return append(b, sv...)
}

// decodeNotified decodes a record of encodeNotified.
func decodeNotified(b []byte) (at time.Time, room string, sv []byte, err error) {
	if len(b) < 9 || b[0] != recordVersion {
		return time.Time{}, "", nil, fmt.Errorf("%w: %d bytes, version %d", errRecord, len(b), firstByte(b))
	}
	n, w := binary.Uvarint(b[9:])
	if w <= 0 || w != len(binary.AppendUvarint(nil, n)) || n > uint64(len(b)-9-w) {
		return time.Time{}, "", nil, fmt.Errorf("%w: bad room name length", errRecord)
	}
	rest := b[9+w:]
	return time.Unix(0, int64(binary.BigEndian.Uint64(b[1:9]))), string(rest[:n]), rest[n:], nil
}

func firstByte(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(b[0])
}

func knownType(t string) bool {
	for _, k := range eventTypes {
		if t == k {
			return true
		}
	}
	return false
}
