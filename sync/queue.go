package sync

import (
	"sync"

	"github.com/flowstate/flowstate/protocol"
)

// A sendQueue holds the encoded messages waiting for one session's write
// pump. The room pushes without ever blocking: a push that would pass the
// length or byte bound fails, and the room drops the session. The slice
// grows only while messages wait, so an idle session holds no buffer.
type sendQueue struct {
	maxLen, maxBytes int
	wake             chan struct{} // capacity 1: "something changed"

	mu sync.Mutex
	// mu guards the fields below.
	msgs  [][]byte
	bytes int
	bye   *farewell // set once the session is to be closed
}

// A farewell is the last thing written to a session: an Error message and
// a close frame with the reason's code. A session the client closed gets
// neither (msg is nil).
type farewell struct {
	reason closeReason
	msg    []byte // encoded protocol.Error, or nil
}

func newSendQueue(maxLen, maxBytes int) *sendQueue {
	return &sendQueue{maxLen: maxLen, maxBytes: maxBytes, wake: make(chan struct{}, 1)}
}

func (q *sendQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// push queues b and reports whether it fit. b is shared between
// recipients and must not be modified. Pushing to a closing queue reports
// true and drops b: the session is on its way out anyway.
func (q *sendQueue) push(b []byte) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.bye != nil {
		return true
	}
	if len(q.msgs) > 0 && (len(q.msgs) >= q.maxLen || q.bytes+len(b) > q.maxBytes) {
		return false
	}
	q.msgs = append(q.msgs, b)
	q.bytes += len(b)
	q.signal()
	return true
}

// close asks the write pump to write the farewell for reason and close the
// connection, dropping whatever still waits. Only the first call counts; it
// reports whether this call was it.
func (q *sendQueue) close(reason closeReason, text string, seq uint64) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.bye != nil {
		return false
	}
	bye := &farewell{reason: reason}
	if reason != closedByClient {
		if text == "" {
			text = reason.String()
		}
		bye.msg, _ = protocol.Encode(&protocol.Error{Code: reason.code(), Message: truncate(text, protocol.MaxErrorMessageBytes), Seq: seq})
	}
	q.bye = bye
	q.msgs, q.bytes = nil, 0
	q.signal()
	return true
}

// take moves the waiting messages into buf and returns them, with the
// farewell if the session is closing.
func (q *sendQueue) take(buf [][]byte) ([][]byte, *farewell) {
	q.mu.Lock()
	defer q.mu.Unlock()
	buf = append(buf[:0], q.msgs...)
	clear(q.msgs)
	q.msgs, q.bytes = q.msgs[:0], 0
	if cap(q.msgs) > 64 {
		q.msgs = nil // let a burst's backing array go
	}
	return buf, q.bye
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n]
}
