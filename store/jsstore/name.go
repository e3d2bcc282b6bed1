package jsstore

import "github.com/flowstate/flowstate/store/jsstore/internal/wire"

// ErrToken is returned by RoomFromToken for a string that RoomToken
// never returns.
var ErrToken = wire.ErrToken

// maxRoomBytes bounds the room names the store accepts. Room names of
// the protocol are at most 128 bytes; a token is at most three times its
// name, and NATS subjects and KV keys stay far below their limits.
const maxRoomBytes = 1024

// RoomToken maps a room name to a string that is a valid NATS subject
// token, KV key and object name: ASCII letters, digits and '-' stand for
// themselves, and every other byte b becomes '_' followed by b in two
// upper-case hexadecimal digits ("notes.v2" → "notes_2Ev2"). The mapping
// is reversible (RoomFromToken); see wire.RoomToken.
func RoomToken(room string) string { return wire.RoomToken(room) }

// RoomFromToken returns the room name whose RoomToken is token, or
// ErrToken if there is none (see wire.RoomFromToken).
func RoomFromToken(token string) (string, error) { return wire.RoomFromToken(token) }
