package store

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// FormatVersion is the version of the bucket and key layout that this
// package writes and reads (see the package documentation). A file of a
// newer version is refused rather than misread.
const FormatVersion = 1

// Bucket and key names of the layout; doc.go describes it.
var (
	bucketMeta      = []byte("meta")
	bucketRooms     = []byte("rooms")
	bucketSnapshots = []byte("snapshots")
	bucketLogs      = []byte("logs")
	bucketJournal   = []byte("journal")
	bucketOwners    = []byte("owners") // created by the first SetOwners
	bucketOutbox    = []byte("outbox") // created by the first WriteOutbox
	keyFormat       = []byte("format")

	// dataBuckets are the top-level buckets every data file has.
	dataBuckets = [][]byte{bucketRooms, bucketSnapshots, bucketLogs, bucketJournal}
)

// tables are the top-level buckets of one transaction.
type tables struct {
	rooms, snapshots, logs, journal *bolt.Bucket
	owners                          *bolt.Bucket // nil until the first SetOwners
}

// tablesOf returns tx's buckets; ok is false when one of dataBuckets is
// missing (a new file opened read-only has none).
func tablesOf(tx *bolt.Tx) (t tables, ok bool) {
	t = tables{tx.Bucket(bucketRooms), tx.Bucket(bucketSnapshots), tx.Bucket(bucketLogs), tx.Bucket(bucketJournal), tx.Bucket(bucketOwners)}
	return t, t.rooms != nil && t.snapshots != nil && t.logs != nil && t.journal != nil
}

// readOwners copies the room's owners out of the transaction.
func (t tables) readOwners(room string) (map[uint64]string, error) {
	if t.owners == nil || !validRoom(room) {
		return nil, nil
	}
	key := []byte(room)
	b := t.owners.Bucket(key)
	if b == nil {
		if t.owners.Get(key) != nil {
			return nil, corrupt(room, "its owners record is a value, not a bucket")
		}
		return nil, nil
	}
	owners := make(map[uint64]string)
	err := b.ForEach(func(k, v []byte) error {
		if len(k) != 8 || v == nil {
			return corrupt(room, "owners entry %x is not an 8-byte client ID with an identity", k)
		}
		owners[binary.BigEndian.Uint64(k)] = string(v)
		return nil
	})
	return owners, err
}

// setOwners binds the client IDs of owners that have no owner yet.
func (t *tables) setOwners(tx *bolt.Tx, room string, owners map[uint64]string) error {
	if t.owners == nil {
		var err error
		if t.owners, err = tx.CreateBucketIfNotExists(bucketOwners); err != nil {
			return err
		}
	}
	key := []byte(room)
	if t.owners.Bucket(key) == nil && t.owners.Get(key) != nil {
		return corrupt(room, "its owners record is a value, not a bucket")
	}
	b, err := t.owners.CreateBucketIfNotExists(key)
	if err != nil {
		return fmt.Errorf("store: room %q: %w", room, err)
	}
	for id, who := range owners {
		k := seqKey(id)
		if b.Get(k) != nil {
			continue
		}
		if err := b.Put(k, []byte(who)); err != nil {
			return fmt.Errorf("store: room %q: %w", room, err)
		}
	}
	return nil
}

// infoSize is the length of a room's info record: last change in Unix
// nanoseconds, log entries, log bytes, each a big-endian uint64.
const infoSize = 24

// roomInfo is the decoded info record of a room.
type roomInfo struct {
	changed  int64 // Unix nanoseconds
	entries  uint64
	logBytes uint64
}

func (ri roomInfo) encode() []byte {
	b := make([]byte, infoSize)
	binary.BigEndian.PutUint64(b[0:], uint64(ri.changed))
	binary.BigEndian.PutUint64(b[8:], ri.entries)
	binary.BigEndian.PutUint64(b[16:], ri.logBytes)
	return b
}

// decodeRoomInfo decodes an info record; ok is false when it has the wrong
// length, in which case callers recount from the log.
func decodeRoomInfo(b []byte) (ri roomInfo, ok bool) {
	if len(b) != infoSize {
		return roomInfo{}, false
	}
	return roomInfo{
		changed:  int64(binary.BigEndian.Uint64(b[0:])),
		entries:  binary.BigEndian.Uint64(b[8:]),
		logBytes: binary.BigEndian.Uint64(b[16:]),
	}, true
}

// seqKey encodes a log sequence number as a key that sorts in numeric
// order under bbolt's byte-wise comparison.
func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

// kindError is an error of the kind a sentinel names, with a message of
// its own: errors.Is matches the sentinel without its text repeating in
// the message.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

func errorOf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// corruptError reports a room whose records do not have the documented
// shape. It matches ErrCorrupt.
type corruptError struct {
	room, what string
}

func (e *corruptError) Error() string {
	return fmt.Sprintf("store: room %q is corrupt: %s", e.room, e.what)
}

func (e *corruptError) Is(target error) bool { return target == ErrCorrupt }

func corrupt(room, format string, args ...any) error {
	return &corruptError{room: room, what: fmt.Sprintf(format, args...)}
}

// validRoom reports whether room can be a key.
func validRoom(room string) bool {
	return room != "" && len(room) <= bolt.MaxKeySize
}

// checkRoom reports a corruptError if the room's records have the wrong
// kind: its info and snapshot must be values, its log a bucket.
func (t tables) checkRoom(room string) error {
	key := []byte(room)
	if t.rooms.Bucket(key) != nil {
		return corrupt(room, "its info record is a bucket, not a value")
	}
	if t.snapshots.Bucket(key) != nil {
		return corrupt(room, "its snapshot is a bucket, not a value")
	}
	if t.logs.Bucket(key) == nil && t.logs.Get(key) != nil {
		return corrupt(room, "its log is a value, not a bucket")
	}
	return nil
}

// readRoom copies the room's snapshot and log, then the updates the
// journal holds for it, out of the transaction, checking every record's
// shape. Both are nil for a room never stored.
func (t tables) readRoom(room string) ([]byte, [][]byte, error) {
	if !validRoom(room) {
		return nil, nil, nil
	}
	if err := t.checkRoom(room); err != nil {
		return nil, nil, err
	}
	snap, log := t.snapshots.Get([]byte(room)), t.logs.Bucket([]byte(room))
	journaled, _ := journalFor(t.journal, room)
	// One allocation holds every byte; values are only valid inside the
	// transaction, so they must be copied out anyway.
	total, n := len(snap), len(journaled)
	for _, u := range journaled {
		total += len(u)
	}
	if log != nil {
		c := log.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(k) != 8 {
				return nil, nil, corrupt(room, "log key %x is not 8 bytes", k)
			}
			if v == nil && log.Bucket(k) != nil {
				return nil, nil, corrupt(room, "log entry %x is a bucket", k)
			}
			total += len(v)
			n++
		}
	}
	arena := make([]byte, 0, total)
	var snapshot []byte
	if snap != nil {
		arena = append(arena, snap...)
		snapshot = arena[:len(snap):len(snap)]
	}
	var updates [][]byte
	if n > 0 {
		updates = make([][]byte, 0, n)
		add := func(v []byte) {
			start := len(arena)
			arena = append(arena, v...)
			updates = append(updates, arena[start:len(arena):len(arena)])
		}
		if log != nil {
			c := log.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				add(v)
			}
		}
		for _, u := range journaled {
			add(u)
		}
	}
	return snapshot, updates, nil
}

// describeRooms returns what Rooms reports: every room any bucket names,
// the journal included. A damaged room is still listed, with what could
// be read of it, so that it can be found and deleted.
func (t tables) describeRooms() map[string]*RoomInfo {
	byName := make(map[string]*RoomInfo)
	room := func(k []byte) *RoomInfo {
		ri := byName[string(k)]
		if ri == nil {
			ri = &RoomInfo{Name: string(k)}
			byName[ri.Name] = ri
		}
		return ri
	}
	_ = t.snapshots.ForEach(func(k, v []byte) error {
		room(k).SnapshotBytes = len(v)
		return nil
	})
	_ = t.logs.ForEach(func(k, _ []byte) error {
		ri := room(k)
		if info, ok := decodeRoomInfo(t.rooms.Get(k)); ok {
			ri.LogEntries, ri.LogBytes = int(info.entries), int(info.logBytes)
		} else if log := t.logs.Bucket(k); log != nil {
			// No usable info record: count the log itself.
			_ = log.ForEach(func(_, v []byte) error {
				ri.LogEntries++
				ri.LogBytes += len(v)
				return nil
			})
		}
		return nil
	})
	_ = t.rooms.ForEach(func(k, v []byte) error {
		ri := room(k)
		if info, ok := decodeRoomInfo(v); ok && info.changed != 0 {
			ri.LastChange = time.Unix(0, info.changed)
		}
		return nil
	})
	journalStats(t.journal, byName)
	return byName
}

// appendRoom adds updates to the room's log and updates its info record.
// The caller has checked the room's shape.
func (t tables) appendRoom(room string, updates [][]byte, changed int64) error {
	key := []byte(room)
	log, err := t.logs.CreateBucketIfNotExists(key)
	if err != nil {
		return fmt.Errorf("store: room %q: %w", room, err)
	}
	info, ok := decodeRoomInfo(t.rooms.Get(key))
	if !ok {
		// Recount, so that Rooms stays right after a damaged record.
		info = roomInfo{}
		err := log.ForEach(func(_, v []byte) error {
			info.entries++
			info.logBytes += uint64(len(v))
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, u := range updates {
		seq, err := log.NextSequence()
		if err != nil {
			return fmt.Errorf("store: room %q: %w", room, err)
		}
		if err := log.Put(seqKey(seq), u); err != nil {
			return fmt.Errorf("store: room %q: %w", room, err)
		}
		info.entries++
		info.logBytes += uint64(len(u))
	}
	info.changed = max(info.changed, changed)
	return t.rooms.Put(key, info.encode())
}

// compactRoom replaces the room's snapshot and drops its log. The caller
// has checked the room's shape.
func (t tables) compactRoom(room string, snapshot []byte, now int64) error {
	key := []byte(room)
	if t.logs.Bucket(key) != nil {
		if err := t.logs.DeleteBucket(key); err != nil {
			return fmt.Errorf("store: room %q: %w", room, err)
		}
	}
	if snapshot == nil {
		snapshot = []byte{}
	}
	if err := t.snapshots.Put(key, snapshot); err != nil {
		return fmt.Errorf("store: room %q: %w", room, err)
	}
	return t.rooms.Put(key, roomInfo{changed: now}.encode())
}

// deleteRoom removes every record of the room, whatever its shape.
func (t tables) deleteRoom(room string) error {
	key := []byte(room)
	for _, b := range []*bolt.Bucket{t.rooms, t.snapshots, t.logs, t.owners} {
		if b == nil {
			continue // no owners bucket yet
		}
		var err error
		if b.Bucket(key) != nil {
			err = b.DeleteBucket(key)
		} else {
			err = b.Delete(key)
		}
		if err != nil {
			return fmt.Errorf("store: room %q: %w", room, err)
		}
	}
	return nil
}
