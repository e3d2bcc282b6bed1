package store

import (
	"encoding/binary"
	"errors"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The journal is where appends land first. Appending to each room's own
// log makes a transaction rewrite a page or two per room it touches; under
// load a group commit touches a hundred rooms, and page writes, not the
// fsync, bound the throughput. Journal entries of one transaction sit side
// by side under consecutive keys, so a group commit writes a few pages
// whatever the number of rooms. Once the journal holds foldEntries
// entries or foldBytes bytes, a transaction moves every entry to its
// room's log (folds it), touching each room once for many appends.
const (
	foldEntries = 4096
	foldBytes   = 4 << 20
)

// errJournalEntry reports a journal entry that does not decode.
var errJournalEntry = errors.New("malformed journal entry")

// A journalEntry is one Append call: a room, when, and its updates.
type journalEntry struct {
	room    string
	changed int64 // Unix nanoseconds
	updates [][]byte
}

// encodeJournalEntry encodes an entry as: changed (8 bytes, big-endian),
// uvarint length and bytes of the room name, uvarint count, then each
// update as uvarint length and bytes.
func encodeJournalEntry(room string, changed int64, updates [][]byte) []byte {
	n := 8 + binary.MaxVarintLen64*(2+len(updates)) + len(room)
	for _, u := range updates {
		n += len(u)
	}
	b := make([]byte, 8, n)
	binary.BigEndian.PutUint64(b, uint64(changed))
	b = binary.AppendUvarint(b, uint64(len(room)))
	b = append(b, room...)
	b = binary.AppendUvarint(b, uint64(len(updates)))
	for _, u := range updates {
		b = binary.AppendUvarint(b, uint64(len(u)))
		b = append(b, u...)
	}
	return b
}

// journalRoom decodes only the room name of an entry.
func journalRoom(v []byte) (string, error) {
	if len(v) < 8 {
		return "", errJournalEntry
	}
	room, _, err := chunk(v[8:])
	return string(room), err
}

// decodeJournalEntry decodes an entry. The updates alias v.
func decodeJournalEntry(v []byte) (journalEntry, error) {
	if len(v) < 8 {
		return journalEntry{}, errJournalEntry
	}
	e := journalEntry{changed: int64(binary.BigEndian.Uint64(v))}
	room, rest, err := chunk(v[8:])
	if err != nil {
		return journalEntry{}, err
	}
	e.room = string(room)
	n, k := binary.Uvarint(rest)
	if k <= 0 || n > uint64(len(rest)) {
		return journalEntry{}, errJournalEntry
	}
	rest = rest[k:]
	e.updates = make([][]byte, 0, n)
	for range n {
		var u []byte
		if u, rest, err = chunk(rest); err != nil {
			return journalEntry{}, err
		}
		e.updates = append(e.updates, u)
	}
	if len(rest) != 0 {
		return journalEntry{}, errJournalEntry
	}
	return e, nil
}

// chunk splits a uvarint-length-prefixed byte string off b.
func chunk(b []byte) (s, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, errJournalEntry
	}
	return b[k : k+int(n)], b[k+int(n):], nil
}

// journalFor returns the updates the journal holds for room, in order,
// and the time of the latest. Entries that do not decode belong to no
// room, so they are skipped: no room can be blamed for them.
func journalFor(journal *bolt.Bucket, room string) (updates [][]byte, changed int64) {
	if journal == nil {
		return nil, 0
	}
	c := journal.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if r, err := journalRoom(v); err != nil || r != room {
			continue
		}
		e, err := decodeJournalEntry(v)
		if err != nil {
			continue
		}
		updates = append(updates, e.updates...)
		changed = max(changed, e.changed)
	}
	return updates, changed
}

// dropJournal deletes the journal entries of room, which a Compact or
// Delete supersedes, and returns how many entries and bytes went.
func dropJournal(journal *bolt.Bucket, room string) (n, size int, err error) {
	var keys [][]byte
	c := journal.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if r, err := journalRoom(v); err == nil && r == room {
			keys = append(keys, slices.Clone(k))
			size += len(v)
		}
	}
	for _, k := range keys {
		if err := journal.Delete(k); err != nil {
			return 0, 0, err
		}
	}
	return len(keys), size, nil
}

// fold moves every journal entry into its room's log, in order, and
// returns how many entries and bytes stay behind: those that do not
// decode, and those of rooms whose records are damaged, which Load
// reports. Nothing is lost either way.
func fold(tx *bolt.Tx) (left, leftBytes int, err error) {
	t, _ := tablesOf(tx) // checked at open
	journal := t.journal
	byRoom := make(map[string][]journalEntry)
	var order []string
	var keep [][]byte // keys of the entries that stay
	c := journal.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		e, err := decodeJournalEntry(v)
		if err != nil {
			keep = append(keep, slices.Clone(k))
			leftBytes += len(v)
			continue
		}
		if _, ok := byRoom[e.room]; !ok {
			order = append(order, e.room)
		}
		byRoom[e.room] = append(byRoom[e.room], e)
	}
	for _, room := range order {
		if err := foldRoom(t, room, byRoom[room]); err != nil {
			var ce *corruptError
			if !errors.As(err, &ce) {
				return 0, 0, err
			}
			// Damaged rooms keep their entries; find their keys again.
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if r, err := journalRoom(v); err == nil && r == room {
					keep = append(keep, slices.Clone(k))
					leftBytes += len(v)
				}
			}
		}
	}
	// Entries were copied into the logs above; the journal's pages can
	// go back whole, except the entries that stay.
	var kept [][]byte
	for _, k := range keep {
		kept = append(kept, slices.Clone(journal.Get(k)))
	}
	seq := journal.Sequence()
	if err := tx.DeleteBucket(bucketJournal); err != nil {
		return 0, 0, err
	}
	if journal, err = tx.CreateBucket(bucketJournal); err != nil {
		return 0, 0, err
	}
	// Keeping the sequence keeps the entries that stay ahead of new ones.
	if err := journal.SetSequence(seq); err != nil {
		return 0, 0, err
	}
	for i, k := range keep {
		if err := journal.Put(k, kept[i]); err != nil {
			return 0, 0, err
		}
	}
	return len(keep), leftBytes, nil
}

// foldRoom appends entries to room's log, creating the room.
func foldRoom(t tables, room string, entries []journalEntry) error {
	if !validRoom(room) {
		return corrupt(room, "a journal entry names an invalid room")
	}
	if err := t.checkRoom(room); err != nil {
		return err
	}
	var changed int64
	var updates [][]byte
	for _, e := range entries {
		updates = append(updates, e.updates...)
		changed = max(changed, e.changed)
	}
	return t.appendRoom(room, updates, changed)
}

// journalStats adds what the journal holds to the rooms in byName, adding
// rooms that only the journal holds so far.
func journalStats(journal *bolt.Bucket, byName map[string]*RoomInfo) {
	if journal == nil {
		return
	}
	_ = journal.ForEach(func(_, v []byte) error {
		e, err := decodeJournalEntry(v)
		if err != nil {
			return nil
		}
		ri := byName[e.room]
		if ri == nil {
			ri = &RoomInfo{Name: e.room}
			byName[e.room] = ri
		}
		ri.LogEntries += len(e.updates)
		for _, u := range e.updates {
			ri.LogBytes += len(u)
		}
		if t := time.Unix(0, e.changed); t.After(ri.LastChange) {
			ri.LastChange = t
		}
		return nil
	})
}
