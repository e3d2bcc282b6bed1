package crdt

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
)

// ClientID identifies one replica of a document. Client IDs are chosen at
// random by each replica and stay below 2^53 so that JavaScript numbers hold
// them exactly.
type ClientID uint64

// MaxClientID is the largest valid ClientID (2^53 - 1).
const MaxClientID ClientID = 1<<53 - 1

// maxClock bounds every clock and length: 2^53, the range JavaScript numbers
// hold exactly.
const maxClock = 1 << 53

// ID names one code point (or one map entry) ever inserted into a document:
// the replica that created it and that replica's clock at the time.
type ID struct {
	Client ClientID
	Clock  uint64
}

// String formats the ID as client:clock.
func (id ID) String() string { return fmt.Sprintf("%d:%d", id.Client, id.Clock) }

// randomClientID draws a uniformly random non-zero client ID below 2^53.
func randomClientID() ClientID {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic("crdt: no randomness for a client ID: " + err.Error())
		}
		id := ClientID(binary.LittleEndian.Uint64(b[:]) & uint64(MaxClientID))
		if id != 0 {
			return id
		}
	}
}
