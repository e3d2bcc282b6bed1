package protocol

import "strconv"

// Version is the protocol version this package speaks. A client names it in
// its Hello; a server answers any other version with CodeUnsupportedVersion.
const Version = 1

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
)

var typeNames = [...]string{"hello", "welcome", "update", "ack", "presence", "error"}

// String returns the message type's name, such as "hello".
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// A Message is one of *Hello, *Welcome, *Update, *Ack, *Presence and *Error.
type Message interface {
	// Type returns the message's wire tag.
	Type() Type
}

// Hello is the first message a client sends on a connection: it joins Room
// as replica Client, whose document is at StateVector. Token authenticates
// the client when the server asks for it; it is empty otherwise.
type Hello struct {
	Version     uint64 // protocol version the client speaks; Version for this package
	Room        string // room name; must equal the room in the WebSocket URL
	Client      uint64 // the client's CRDT client ID, at most MaxClientID
	Token       string // bearer token, or empty
	StateVector []byte // the client's encoded crdt.StateVector
}

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
// acknowledge it; from the server Seq is 0. Updates are applied in order.
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
