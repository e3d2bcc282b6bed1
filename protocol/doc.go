/*
Package protocol defines the messages FlowState clients and servers exchange
over a WebSocket, and their msgpack encoding.

PROTOCOL.md in this directory is the specification (protocol Version 5,
and versions 1 to 4, which it extends),
written for someone implementing a client in another language: transport,
handshake, every message and field, every error and close code with what a
client should do, limits, keep-alive and reconnection. testdata/vectors.json
holds conformance vectors generated from this package.

# Overview

Every WebSocket message is one binary frame holding one msgpack array. Its
first element is the message's type tag; the fields follow in a fixed order,
and the array has exactly as many elements as the table below lists (tag
included). CRDT updates and state vectors travel as opaque msgpack bin
(their format is crdt/FORMAT.md); this package never looks inside them.

	tag  name      direction         array layout
	 0   Hello     client → server   [0, 1, room, client, token, state_vector]
	                                 [0, v, room, client, token, state_vector, heartbeat_millis] (v = 2 or 3)
	                                 [0, v, room, client, token, state_vector, heartbeat_millis, format] (v = 4 or 5)
	 1   Welcome   server → client   [1, state_vector, update]
	 2   Update    both ways         [2, seq, [update, ...]]
	 3   Ack       server → client   [3, seq]
	 4   Presence  both ways         [4, [[client, state], ...]]
	 5   Error     server → client   [5, code, message, seq]
	 6   Heartbeat both ways         [6, id] (version 2 and later)
	 7   Patch     both ways         [7, keep_front, keep_back, middle(, seq)] (version 5)

Field types: version, client, seq and code are msgpack unsigned integers;
room, token and message are UTF-8 str; state_vector, update and state are
bin. The Go types are Hello, Welcome, Update, Ack, Presence (of
PresenceEntry), Error, Heartbeat and Patch, all of which implement Message.

Version 2 adds the heartbeat: a client names an interval in its Hello and
sends something at least that often, asking the server for an echo
(Heartbeat with an ID) when it has heard nothing for an interval, so that
both ends notice a dead connection within a few intervals. A server of
version 2 speaks version 1 too.

Version 3 keeps every layout of version 2 and changes one meaning: on a
version 3 connection, the seq of an Update from the server may be above
0, and then acknowledges the client's Updates up to seq as an Ack would.
A server acknowledges in a relay it sends anyway, saving a message; a
server of version 3 speaks versions 1 and 2 too, with Acks only.

Version 4 adds the Hello's format: the newest document format
(crdt/FORMAT.md) the client reads. Rich text is format 2 or 3 (3 writes
marks compactly; the CRDT writes 3 and reads every format); a server never
sends a client an update of a format newer than its Hello declared (every
Hello before version 4 reads format 1), and closes it with
CodeUnsupportedFormat when its room's document needs a newer one.

Version 5 adds the Patch: an Update of one update written as its
difference from the base, the last update sent the same way on the
connection (the base's first Front bytes, Middle, the base's last Back
bytes); an update longer than MaxPatchBase is no base (Base). A
keystroke changes a few bytes of the update before it, so its Patch is
about a third of its Update. MakePatch writes one (every
implementation writes the same), Patch.Smaller says whether it is worth
sending, and Patch.Apply reads one, refusing with ErrPatch a patch that
does not fit its base or would make an update over the receiver's limit.

A connection starts with the client's Hello. The server answers with a
Welcome carrying what the client lacks and the server's state vector, then
a Presence of the other members if there are any; the client sends what the
server lacks as an Update. After that, updates flow both ways (the server
acknowledges a client's updates with Ack and relays them with Seq 0), as
does presence. A fatal error is an Error followed by a WebSocket close with
the same Code; Code.Permanent tells a client whether to reconnect.

Encode and Decode convert between messages and bytes:

	b, err := protocol.Encode(&protocol.Ack{Seq: 7}) // 92 03 07
	m, err := protocol.Decode(b)                      // &protocol.Ack{Seq: 7}

Decode accepts exactly the shapes above: anything else is a *DecodeError,
wrapping ErrUnknownType when only the tag is unknown (a server answers that
with CodeUnknownType, and other decode errors with CodeProtocolError).
Encode checks the same limits Decode does and returns an error wrapping
ErrInvalidMessage for a message a peer would reject.

# Concurrency

Encode and Decode are safe for concurrent use by multiple goroutines; they
keep no state between calls apart from pooled scratch buffers. A message
value is not synchronised: do not modify one while another goroutine
encodes it. Decode copies what it needs, so the returned message shares no
memory with its input and the input may be reused at once; Encode returns a
fresh slice that the caller owns (a server can encode a broadcast once and
hand the same bytes to every recipient, as long as nobody modifies them).

# Caveats

Encode always writes the smallest msgpack form of every integer, length and
header; Decode also accepts wider forms (cc 05 for 5, a dc array header),
so re-encoding a decoded message may give different, shorter bytes. Relay
the received bytes when they must be forwarded unchanged.

A Hello whose version is not 1 to 4 decodes as Hello{Version: v} with
every other field empty and no error, whatever follows the version: the
server must still be able to answer it with CodeUnsupportedVersion.

The codec checks the shape and the limits of one message (room name, client
ID below 2^53, token, presence state and error message sizes, UTF-8) but not
the rules of a conversation: that a client's Update seq starts at 1 and
increases, that a client's Presence has exactly one entry naming its own
client ID, that the Hello comes first, or that a client does not send a
server-only message. Those are the session's job (package sync), which
closes such a client with CodeProtocolError.

Nothing here bounds the size of Welcome and Update payloads or the number
of entries other than the input's length: a server sets a read limit on
the WebSocket (4 MiB by default) before calling Decode.
*/
package protocol
