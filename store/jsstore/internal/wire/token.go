package wire

import (
	"errors"
	"strings"
)

// ErrToken is returned by RoomFromToken for a string that RoomToken
// never returns.
var ErrToken = errors.New("jsstore: not a room token")

// RoomToken maps a room name to a string that is a valid NATS subject
// token, KV key and object name: ASCII letters, digits and '-' stand for
// themselves, and every other byte b becomes '_' followed by b in two
// upper-case hexadecimal digits ("notes.v2" → "notes_2Ev2", "a_b" →
// "a_5Fb", "~x" → "_7Ex"). As '_' always starts an escape, the mapping is
// reversible (RoomFromToken) and two names never share a token. The empty
// name has no token ("").
func RoomToken(room string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(room))
	for i := 0; i < len(room); i++ {
		c := room[i]
		if Plain(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('_')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0xF])
	}
	return b.String()
}

// RoomFromToken returns the room name whose RoomToken is token, or
// ErrToken if there is none: only the exact form RoomToken writes is
// accepted (upper-case digits, no escape of a byte that stands for
// itself), so that each name has one token.
func RoomFromToken(token string) (string, error) {
	if token == "" {
		return "", ErrToken
	}
	var b strings.Builder
	b.Grow(len(token))
	for i := 0; i < len(token); i++ {
		c := token[i]
		if Plain(c) {
			b.WriteByte(c)
			continue
		}
		if c != '_' || i+2 >= len(token) {
			return "", ErrToken
		}
		hi, ok1 := unhex(token[i+1])
		lo, ok2 := unhex(token[i+2])
		if !ok1 || !ok2 || Plain(hi<<4|lo) {
			return "", ErrToken
		}
		b.WriteByte(hi<<4 | lo)
		i += 2
	}
	return b.String(), nil
}

// Plain reports whether c stands for itself in a token.
func Plain(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-'
}

// unhex is the value of an upper-case hexadecimal digit.
func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
