package protocol

import "strconv"

// A Code says why a connection ended or a request failed. The same numbers
// are WebSocket close codes (the 1000s are RFC 6455's, the 4000s FlowState's)
// and the codes of Error messages, so a client that sees either knows what
// happened. PROTOCOL.md lists them with what a client should do.
type Code uint16

// Codes the server sends.
const (
	// CodeNormal: the connection ended normally.
	CodeNormal Code = 1000
	// CodeGoingAway: the server is shutting down. Reconnect later.
	CodeGoingAway Code = 1001
	// CodeProtocolError: a message was not valid msgpack of a known shape,
	// or came out of order (before the Hello, a second Hello, a message only
	// a server sends).
	CodeProtocolError Code = 1002
	// CodeUnsupportedData: a text frame; every message is a binary frame.
	CodeUnsupportedData Code = 1003
	// CodeMessageTooBig: a message was over the server's size limit, or
	// an update would have grown the room's document past its size limit
	// (then the document is unchanged by it).
	CodeMessageTooBig Code = 1009
	// CodeInternalError: the server failed to serve the room.
	CodeInternalError Code = 1011
	// CodeTryAgainLater: the server cannot take the connection, or the
	// update, now: it holds as many busy rooms as it may, or it cannot
	// store updates (a full disk) and refused this one, unapplied.
	// Reconnect with backoff, waiting at least a second, and without
	// resetting the backoff on the next Welcome.
	CodeTryAgainLater Code = 1013
	// CodeUnknownType: a message had a type tag this version does not know.
	CodeUnknownType Code = 4000
	// CodeUnsupportedVersion: the Hello named a protocol version the server
	// does not speak.
	CodeUnsupportedVersion Code = 4001
	// CodeInvalidRoom: the room name is not 1 to 128 characters of
	// [A-Za-z0-9._~-], or the Hello's room differs from the URL's.
	CodeInvalidRoom Code = 4002
	// CodeHelloTimeout: no Hello arrived in time after the connection opened.
	CodeHelloTimeout Code = 4003
	// CodeHeartbeatTimeout: the client asked for a heartbeat in its Hello
	// (version 2), then sent nothing for three of its intervals: the
	// connection is taken as dead. Reconnect with backoff.
	CodeHeartbeatTimeout Code = 4005
	// CodeUnsupportedFormat: the room's document, or an update for it, is
	// in a document format (crdt/FORMAT.md) newer than the client's Hello
	// said it reads (rich text is format 2; a Hello before version 4 reads
	// format 1 only); or the client sent an update in a format it did not
	// declare, which was not applied. Upgrade the client.
	CodeUnsupportedFormat Code = 4006
	// CodeInvalidUpdate: an update failed to decode or to apply. The room's
	// document is unchanged by it.
	CodeInvalidUpdate Code = 4004
	// CodeSlowConsumer: the client did not read its messages fast enough and
	// its queue overflowed. Reconnect: the handshake resyncs losslessly.
	CodeSlowConsumer Code = 4008
	// CodeUnauthorized: the server requires a token and the Hello (or the
	// URL) brought none, or one that is malformed or not signed by the
	// server's secret.
	CodeUnauthorized Code = 4401
	// CodeForbidden: the token does not grant this room, or grants it read
	// only and the client sent an Update (which was not applied).
	CodeForbidden Code = 4403
	// CodeTokenExpired: the token had expired at the Hello, or expired
	// while connected. Get a new token, then reconnect; a client that
	// cannot get one must stop, as the same token would fail again.
	CodeTokenExpired Code = 4408
	// CodeRateLimited: the client sent more messages or bytes than its
	// allowance. Reconnect with backoff.
	CodeRateLimited Code = 4429
	// CodeClientIDInUse: the Hello's client ID is held by another live
	// connection (of another user, with tokens). Pick a fresh client ID
	// and reconnect, or reconnect with backoff: the holder may be a dead
	// connection the server has not noticed yet.
	CodeClientIDInUse Code = 4409
	// CodeReplaced: a newer connection with the same client ID (and the
	// same user) took over this one. A client that did not open that
	// connection shares its client ID with another replica, which it
	// MUST NOT: it must not reconnect with that ID.
	CodeReplaced Code = 4410
	// CodeRoomDeleted: the room was deleted, with its history, through
	// the server's API. Stop: reconnecting would recreate the room with
	// the client's copy, which the deletion meant to remove.
	CodeRoomDeleted Code = 4404
)

var codeNames = map[Code]string{
	CodeNormal:             "normal",
	CodeGoingAway:          "going away",
	CodeProtocolError:      "protocol error",
	CodeUnsupportedData:    "unsupported data",
	CodeMessageTooBig:      "message too big",
	CodeInternalError:      "internal error",
	CodeTryAgainLater:      "try again later",
	CodeUnknownType:        "unknown message type",
	CodeUnsupportedVersion: "unsupported protocol version",
	CodeInvalidRoom:        "invalid room",
	CodeHelloTimeout:       "hello timeout",
	CodeHeartbeatTimeout:   "heartbeat timeout",
	CodeUnsupportedFormat:  "unsupported document format",
	CodeInvalidUpdate:      "invalid update",
	CodeSlowConsumer:       "slow consumer",
	CodeUnauthorized:       "unauthorized",
	CodeForbidden:          "forbidden",
	CodeTokenExpired:       "token expired",
	CodeRateLimited:        "rate limited",
	CodeClientIDInUse:      "client ID in use",
	CodeReplaced:           "replaced",
	CodeRoomDeleted:        "room deleted",
}

// String returns the code's name, such as "slow consumer".
func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return "code " + strconv.Itoa(int(c))
}

// Permanent reports whether reconnecting with the same state and token
// would fail the same way, so a client should stop and tell its user instead
// of retrying. Codes not listed in PROTOCOL.md, including 1006 (the
// connection dropped), are not permanent. 4408 (token expired) is not
// permanent for a client that can get a fresh token, which is the point
// of the code; a client with no way to get one must treat it as permanent.
func (c Code) Permanent() bool {
	switch c {
	case CodeProtocolError, CodeUnsupportedData, CodeMessageTooBig, CodeUnknownType,
		CodeUnsupportedVersion, CodeUnsupportedFormat, CodeInvalidRoom, CodeInvalidUpdate,
		CodeUnauthorized, CodeForbidden, CodeReplaced, CodeRoomDeleted:
		return true
	}
	return false
}

// ValidRoom reports whether name is a valid room name: 1 to MaxRoomBytes
// characters, each an ASCII letter, a digit, '.', '_', '~' or '-' (the
// unreserved characters of RFC 3986, so a name needs no escaping in a URL).
func ValidRoom(name string) bool {
	if len(name) == 0 || len(name) > MaxRoomBytes {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '_', c == '~', c == '-':
		default:
			return false
		}
	}
	return true
}
