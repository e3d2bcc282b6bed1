package store

import (
	"errors"
	"time"
)

// Errors returned by stores.
var (
	// ErrClosed is returned by every method of a closed store.
	ErrClosed = errors.New("store: closed")

	// ErrCorrupt is wrapped by the errors of a store whose data is
	// structurally wrong: a data file that cannot be opened safely, or one
	// room whose records do not have the documented shape. Other rooms of
	// the same store still load.
	ErrCorrupt = errors.New("store: corrupt data")

	// ErrLocked is wrapped by OpenBolt's error when another process holds
	// the data file.
	ErrLocked = errors.New("store: the file is locked by another process")

	// ErrFormat is wrapped by OpenBolt's error when the data file was
	// written in a format this version does not understand, or is not a
	// FlowState data file at all.
	ErrFormat = errors.New("store: unsupported data format")

	// ErrReadOnly is returned by the write methods of a store opened
	// read-only.
	ErrReadOnly = errors.New("store: opened read-only")

	// ErrRoomName is returned by the write methods of a Bolt store for a
	// room name it cannot store as a key: empty or longer than 32 KiB.
	ErrRoomName = errors.New("store: invalid room name")
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

	// Delete removes a room and everything stored for it, its owners
	// included.
	Delete(room string) error

	// Owners returns the client IDs of the room bound to identities by
	// SetOwners, each with its identity; nil if none.
	Owners(room string) (map[uint64]string, error)

	// SetOwners binds each client ID of owners to its identity in the
	// room, as durably as Append, all or none. An ID bound already keeps
	// the identity it was first bound to: a binding is never changed.
	// Compact keeps the bindings; Delete removes them.
	SetOwners(room string, owners map[uint64]string) error

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
