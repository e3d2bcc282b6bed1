package protocol

import "strconv"

// Version is the newest protocol version this package speaks. A client
// names its version in its Hello; a server answers a version it does not
// speak with CodeUnsupportedVersion. Version 2 adds the heartbeat (the
// Hello's HeartbeatMillis and the Heartbeat message); version 3 lets the
// server acknowledge a client's Updates in the Seq of the Updates it
// relays to that client, which saves a message (and a system call) per
// Ack. Version 4 adds the Hello's Format: the newest document format
// the client reads, so that a server never sends it a document or an
// update it cannot read (rich text is format 2). Version 5 adds the
// Patch: an Update of one update written as its difference from the
// update before it on the connection, which carries a keystroke in a
// third of the bytes. Versions 1 to 4 are still spoken, so that clients
// of every version work with a server of version 5, and a newer client
// can fall back, one version at a time, against an older server
// (PROTOCOL.md §11).
const Version = 5

// MinVersion is the oldest protocol version this package speaks.
const MinVersion = 1

// Limits every implementation enforces. They bound what one peer can make
// another hold, whatever the transport's own message size limit.
const (
	// MaxRoomBytes is the longest room name, in bytes.
	MaxRoomBytes = 128
	// MaxTokenBytes is the longest token a Hello may carry.
	MaxTokenBytes = 8 << 10
	// MaxPresenceBytes is the largest presence state of one client.
	MaxPresenceBytes = 4 << 10
	// MaxErrorMessageBytes is the longest message an Error may carry.
	MaxErrorMessageBytes = 1 << 10
	// MaxClientID is the largest client ID: IDs must be exact in a
	// JavaScript number.
	MaxClientID = 1<<53 - 1
	// MinHeartbeatMillis and MaxHeartbeatMillis bound the heartbeat
	// interval a version 2 Hello may ask for, unless it is 0 (none):
	// shorter would cost the server a message per client too often,
	// longer would find a dead connection no sooner than the keep-alive.
	MinHeartbeatMillis = 100
	MaxHeartbeatMillis = 60_000
	// MaxFormat is the largest document format a version 4 Hello may
	// name: formats are few, and a small bound keeps the field one byte
	// wide wherever it is kept.
	MaxFormat = 255
	// MaxPatchKeep bounds a Patch's Front and Back: no base is longer
	// than a message, and a bound keeps them exact in every language.
	MaxPatchKeep = 1<<32 - 1
	// MaxPatchBase is the longest update that is a base (PROTOCOL.md
	// §4.8): after a longer one, there is none until the next update.
	// A keystroke's update is tens of bytes; a paste's differs from the
	// next keystroke's anyway, and every connection keeps its bases, so
	// a large one would cost memory for nothing.
	MaxPatchBase = 4 << 10
)

// A Type is the tag that opens every message and says which one it is.
type Type uint8

// The message types. The numbers are the wire tags; PROTOCOL.md describes
// each message and who may send it.
const (
	TypeHello    Type = 0 // client → server: first message, joins a room
	TypeWelcome  Type = 1 // server → client: answer to Hello, the state the client lacks
	TypeUpdate   Type = 2 // both ways: CRDT updates
	TypeAck      Type = 3 // server → client: updates up to a sequence number are accepted
	TypePresence Type = 4 // both ways: ephemeral per-client state
	TypeError    Type = 5 // server → client: what went wrong, before a close or alone
	// TypeHeartbeat (version 2) is sent both ways on an idle connection:
	// it shows the sender alive and, from a client, may ask for an echo.
	TypeHeartbeat Type = 6
	// TypePatch (version 5) is sent both ways: an Update of one update,
	// written as its difference from the connection's previous one.
	TypePatch Type = 7
)

var typeNames = [...]string{"hello", "welcome", "update", "ack", "presence", "error", "heartbeat", "patch"}

// String returns the message type's name, such as "hello".
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// A Message is one of *Hello, *Welcome, *Update, *Ack, *Presence, *Error,
// *Heartbeat and *Patch.
type Message interface {
	// Type returns the message's wire tag.
	Type() Type
}

// Hello is the first message a client sends on a connection: it joins Room
// as replica Client, whose document is at StateVector. Token authenticates
// the client when the server asks for it; it is empty otherwise.
//
// A Hello of version 2 or 3 also carries HeartbeatMillis: the client will send
// something at least that often, and both sides take a connection that
// stays silent for a few intervals as dead (PROTOCOL.md §10). 0 asks for
// no heartbeat; otherwise it lies in [MinHeartbeatMillis,
// MaxHeartbeatMillis]. A version 1 Hello has no such field: it is 0.
//
// A Hello of version 4 or 5 also carries Format: the newest document format
// (crdt/FORMAT.md; 2 adds rich text, crdt/RICH.md) the client reads, 1 to
// MaxFormat. Hellos of older versions have no such field: their clients
// read format 1 only. In a Hello value, 0 stands for 1 (Encode writes it
// as 1); ReadsFormat gives the format a Hello declares, whatever its
// version.
type Hello struct {
	Version         uint64 // protocol version the client speaks: 1 to 5 (Version)
	Room            string // room name; must equal the room in the WebSocket URL
	Client          uint64 // the client's CRDT client ID, at most MaxClientID
	Token           string // bearer token, or empty
	StateVector     []byte // the client's encoded crdt.StateVector
	HeartbeatMillis uint64 // version 2 and later: the heartbeat interval in ms, or 0 for none
	Format          uint64 // versions 4 and 5: the newest document format the client reads; 0 stands for 1
}

// ReadsFormat returns the newest document format the sender of h reads:
// its Format, and 1 for a Hello without one (versions 1 to 3, or 0).
func (h *Hello) ReadsFormat() uint64 { return max(h.Format, 1) }

// Welcome answers a Hello. Update holds exactly what the client lacks (a
// crdt update; applying it is always safe), and StateVector is the server's
// state, from which the client computes what the server lacks and sends it
// as an Update.
type Welcome struct {
	StateVector []byte // the server document's encoded crdt.StateVector
	Update      []byte // crdt update: the server's changes past the client's state vector
}

// Update carries CRDT updates. From a client, Seq numbers the message
// (strictly increasing on a connection, starting at 1) so that the server can
// acknowledge it. From the server Seq is 0, except on a connection of
// version 3, where a Seq above 0 also acknowledges the client's Updates up
// to Seq, as an Ack of Seq would, once the Updates carried are applied.
// Updates are applied in order.
type Update struct {
	Seq     uint64
	Updates [][]byte // crdt updates, opaque to the protocol
}

// Ack tells a client that the server has accepted every Update it sent on
// this connection with a sequence number up to and including Seq.
type Ack struct {
	Seq uint64
}

// Presence carries ephemeral client state: a cursor, a selection, a name, a
// colour. From a client it holds exactly one entry, the sender's own; from
// the server it holds the current state of one or more other clients.
type Presence struct {
	Entries []PresenceEntry
}

// A PresenceEntry is the presence state of one client. State is an opaque
// msgpack value chosen by the clients (PROTOCOL.md suggests a map), at most
// MaxPresenceBytes long; an empty State means the client is gone.
type PresenceEntry struct {
	Client uint64
	State  []byte
}

// Error reports a failure to the client. When Code is a close code, the
// server closes the connection with it right after; Seq names the Update
// that caused the error, or is 0.
type Error struct {
	Code    Code
	Message string
	Seq     uint64
}

// Heartbeat (version 2) shows its sender alive on a connection where it has
// nothing else to send. From a client, an ID other than 0 asks the server
// to echo it at once, which tells a client that has heard nothing for a
// while whether the server still hears it; ID 0 asks for nothing. From the
// server, ID is the echoed one.
type Heartbeat struct {
	ID uint64
}

// Type implements Message.
func (*Hello) Type() Type { return TypeHello }

// Type implements Message.
func (*Welcome) Type() Type { return TypeWelcome }

// Type implements Message.
func (*Update) Type() Type { return TypeUpdate }

// Type implements Message.
func (*Ack) Type() Type { return TypeAck }

// Type implements Message.
func (*Presence) Type() Type { return TypePresence }

// Type implements Message.
func (*Error) Type() Type { return TypeError }

// Patch (version 5) stands for an Update of one update, written as its
// difference from the base: the last update of the last Update or Patch
// sent the same way on the connection (PROTOCOL.md §4.8). The update is
// the base's first Front bytes, Middle, then the base's last Back bytes.
// Typing one character after another changes a few bytes of the update
// (clocks and the character), so a keystroke's Patch is a third of its
// Update. MakePatch writes one, Apply reads one.
//
// From a client, Seq is 0 and the Patch stands for an Update whose seq is
// the previous one's plus 1. From the server, Seq is 0 or, as an
// Update's, acknowledges the client's messages up to Seq.
type Patch struct {
	Front  uint64 // bytes of the base kept before Middle
	Back   uint64 // bytes of the base kept after Middle
	Middle []byte // the bytes between them
	Seq    uint64 // from the server: 0, or an acknowledgement as in Update
}

// Type implements Message.
func (*Heartbeat) Type() Type { return TypeHeartbeat }

// Type implements Message.
func (*Patch) Type() Type { return TypePatch }
