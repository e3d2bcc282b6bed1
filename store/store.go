package store

import (
	"errors"
	"time"
)

// Errors returned by stores.
var (
	// ErrClosed is returned by every method of a closed store.
	ErrClosed = errors.New("store: closed")
)

// A Store keeps each room's document as a snapshot plus a log of the
// updates applied since, so that a room can be rebuilt after it closed or
// the server restarted. Implementations are safe for concurrent use.
type Store interface {
	// Load returns the room's latest snapshot (nil if it has none) and the
	// updates appended since, in order. A room never stored gives nil, nil
	// and no error.
	Load(room string) (snapshot []byte, updates [][]byte, err error)

	// Append adds updates to the room's log in order, atomically (all or
	// none). When it returns nil they are as durable as the store promises.
	// The store does not keep the caller's slices: the caller may reuse
	// them once Append returns.
	Append(room string, updates ...[]byte) error

	// Compact replaces the room's snapshot with snapshot, which must hold
	// everything in the old snapshot and log, and empties the log, in one
	// step.
	Compact(room string, snapshot []byte) error

	// Rooms lists the stored rooms, sorted by name.
	Rooms() ([]RoomInfo, error)

	// Delete removes a room and everything stored for it.
	Delete(room string) error

	// Close releases the store. Later calls return ErrClosed.
	Close() error
}

// RoomInfo describes one stored room.
type RoomInfo struct {
	Name          string
	SnapshotBytes int       // size of the latest snapshot
	LogEntries    int       // updates appended since the snapshot
	LogBytes      int       // their total size
	LastChange    time.Time // when the room was last appended to or compacted
}
