package wire

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// EntryVersion is the first byte of every log entry.
const EntryVersion = 1

// EncodeEntry packs updates into one log entry: the version byte, the
// number of updates as a uvarint, then each update as a uvarint length
// and its bytes. One entry is one JetStream message, so that the updates
// of one Append are stored together or not at all.
func EncodeEntry(updates [][]byte) []byte {
	size := 1 + binary.MaxVarintLen64
	for _, u := range updates {
		size += binary.MaxVarintLen64 + len(u)
	}
	b := make([]byte, 0, size)
	b = append(b, EntryVersion)
	b = binary.AppendUvarint(b, uint64(len(updates)))
	for _, u := range updates {
		b = binary.AppendUvarint(b, uint64(len(u)))
		b = append(b, u...)
	}
	return b
}

// EntrySize is the size EncodeEntry gives updates.
func EntrySize(updates [][]byte) int {
	n := 1 + uvarintLen(uint64(len(updates)))
	for _, u := range updates {
		n += uvarintLen(uint64(len(u))) + len(u)
	}
	return n
}

// uvarintLen is the length of v as a uvarint.
func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// ErrEntry is wrapped by the errors of DecodeEntry.
var ErrEntry = errors.New("malformed log entry")

// DecodeEntry unpacks a log entry written by EncodeEntry. The updates
// share b's memory. It never panics, and refuses trailing bytes and
// numbers not in their shortest form: an entry has one encoding.
func DecodeEntry(b []byte) ([][]byte, error) {
	if len(b) == 0 || b[0] != EntryVersion {
		return nil, fmt.Errorf("%w: unknown version", ErrEntry)
	}
	rest := b[1:]
	n, k := binary.Uvarint(rest)
	if k <= 0 || k != uvarintLen(n) {
		return nil, fmt.Errorf("%w: count", ErrEntry)
	}
	rest = rest[k:]
	// Each update takes at least its one-byte length: a count larger
	// than the bytes left is a lie, refused before it costs memory.
	if n > uint64(len(rest)) {
		return nil, fmt.Errorf("%w: %d updates in %d bytes", ErrEntry, n, len(rest))
	}
	updates := make([][]byte, 0, n)
	for i := uint64(0); i < n; i++ {
		size, k := binary.Uvarint(rest)
		if k <= 0 || k != uvarintLen(size) || size > uint64(len(rest)-k) {
			return nil, fmt.Errorf("%w: update %d: length", ErrEntry, i)
		}
		rest = rest[k:]
		updates = append(updates, rest[:size:size])
		rest = rest[size:]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrEntry, len(rest))
	}
	return updates, nil
}

// A Head is the value of a room's key in the heads bucket: where its
// latest snapshot is and which part of the log it covers.
type Head struct {
	Seq    uint64 `json:"seq"`             // the stream sequence the snapshot covers, all of the room's messages up to it
	Object string `json:"object"`          // the snapshot's name in the snapshots object store
	Bytes  int    `json:"bytes"`           // the snapshot's size
	Time   int64  `json:"time"`            // when it was stored, Unix ns
	Marks  []Mark `json:"marks,omitempty"` // earlier heads whose log is not purged yet
	// Purged is the sequence up to which the room's log may be purged
	// (this head's compaction purges it; see Follow).
	Purged uint64 `json:"purged,omitempty"`
}

// A Mark is an earlier head's sequence and time: the log up to Seq is
// purged once Time is Options.PurgeDelay old.
type Mark struct {
	Seq  uint64 `json:"seq"`
	Time int64  `json:"time"`
}

// MaxMarks bounds the marks of a head: a room compacting more often
// than this per PurgeDelay keeps its log longer, not its head larger.
const MaxMarks = 256

// ErrHead is wrapped by the errors of DecodeHead.
var ErrHead = errors.New("malformed head record")

// DecodeHead parses a head record, refusing one that cannot be a head.
func DecodeHead(b []byte) (Head, error) {
	var h Head
	if err := json.Unmarshal(b, &h); err != nil {
		return Head{}, fmt.Errorf("%w: %w", ErrHead, err)
	}
	if h.Object == "" || h.Bytes < 0 || len(h.Marks) > MaxMarks {
		return Head{}, fmt.Errorf("%w: no snapshot", ErrHead)
	}
	return h, nil
}

// EncodeHead is the JSON of h, as the heads bucket stores it.
func EncodeHead(h Head) []byte {
	b, _ := json.Marshal(h) // a struct of numbers and a string cannot fail
	return b
}
