package sync

import (
	"encoding/binary"

	"github.com/flowstate/flowstate/protocol"
)

// WebSocket opcodes (RFC 6455 §5.2) of the frames the server writes.
const (
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xa
)

// frame returns payload as one unmasked WebSocket frame (the server never
// masks, RFC 6455 §5.1). The server writes frames itself rather than
// through gorilla's writer so that a relayed message is framed once, for
// every recipient, and so that a session with nothing queued can be written
// to directly from the room (see sendQueue.push).
func frame(opcode byte, payload []byte) []byte {
	var head [10]byte
	head[0] = 0x80 | opcode // FIN: every message is a single frame
	n := 2
	switch l := len(payload); {
	case l < 126:
		head[1] = byte(l)
	case l <= 0xffff:
		head[1] = 126
		binary.BigEndian.PutUint16(head[2:], uint16(l))
		n = 4
	default:
		head[1] = 127
		binary.BigEndian.PutUint64(head[2:], uint64(l))
		n = 10
	}
	b := make([]byte, n+len(payload))
	copy(b, head[:n])
	copy(b[n:], payload)
	return b
}

// encodeFrame encodes m as one binary frame.
func encodeFrame(m protocol.Message) ([]byte, error) {
	b, err := protocol.Encode(m)
	if err != nil {
		return nil, err
	}
	return frame(opBinary, b), nil
}

// closeFrame returns a close frame with code and a reason cut to fit the
// 125-byte limit of a control frame's payload.
func closeFrame(code protocol.Code, reason string) []byte {
	p := binary.BigEndian.AppendUint16(nil, uint16(code))
	return frame(opClose, append(p, truncate(reason, 123)...))
}
