package sync

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/flowstate/flowstate/protocol"
)

// A sendQueue holds the WebSocket frames waiting for one session's write
// pump. The room pushes without ever blocking: a push that would pass the
// length or byte bound fails, and the room drops the session.
//
// A push to an empty queue with no pump running first writes to the socket
// directly, without waiting: usually the socket takes the whole frame, and
// the delivery costs one system call and no goroutine. What the socket does
// not take is queued for the write pump, a goroutine started by a push to
// an idle queue that exits once it has emptied the queue. An idle session
// therefore holds neither a goroutine nor a buffer for writing, only its
// read pump.
type sendQueue struct {
	maxLen, maxBytes int
	conn             net.Conn      // the socket
	pump             func()        // the write pump, run in a new goroutine
	finished         chan struct{} // closed once the farewell is written

	// For direct writes: the socket's raw access, nil where it offers
	// none, and q.writeRaw bound once, so that a delivery allocates
	// nothing.
	raw      syscall.RawConn
	rawWrite func(fd uintptr) bool

	mu sync.Mutex
	// mu guards the fields below.
	msgs    [][]byte
	bytes   int
	ping    bool      // a ping is due
	bye     *farewell // set once the session is to be closed
	pumping bool      // a write pump is running
	partial bool      // msgs[0] is the end of a frame begun by a direct write
	leaving bool      // the write pump is writing the farewell
	fed     bool      // data was pushed since the last takeFed
	wbuf    []byte    // the frame a direct write is writing
	wn      int       // how much of wbuf went
}

// A farewell is the last thing written to a session: an Error message and
// a close frame with the reason's code. A session the client closed gets
// only the close frame echoed (msg is nil).
type farewell struct {
	reason closeReason
	msg    []byte // the framed protocol.Error, or nil
}

// init prepares a queue held by value in its session.
func (q *sendQueue) init(maxLen, maxBytes int, conn net.Conn, pump func()) {
	q.maxLen, q.maxBytes, q.conn, q.pump, q.finished = maxLen, maxBytes, conn, pump, make(chan struct{})
	if sc, ok := conn.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			q.raw, q.rawWrite = rc, q.writeRaw
		}
	}
}

// tryWriteLocked writes b to the socket without waiting: it returns how
// many bytes the socket took at once, which may be all, some or none of
// them. Where the socket offers no raw access it takes nothing, and the
// caller queues everything. q.mu must be held.
func (q *sendQueue) tryWriteLocked(b []byte) int {
	if q.raw == nil {
		return 0
	}
	q.wbuf, q.wn = b, 0
	// The socket is non-blocking; writeRaw returning true tells the
	// runtime not to wait for it to become writable. The runtime's write
	// lock on the socket is held meanwhile.
	_ = q.raw.Write(q.rawWrite)
	n := q.wn
	q.wbuf, q.wn = nil, 0
	return n
}

// writeRaw writes what it can of q.wbuf to fd, adding to q.wn. It runs
// inside tryWriteLocked, under q.mu.
func (q *sendQueue) writeRaw(fd uintptr) bool {
	for q.wn < len(q.wbuf) {
		n, err := syscall.Write(int(fd), q.wbuf[q.wn:])
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || n <= 0 {
			break
		}
		q.wn += n
	}
	return true
}

// wakeLocked starts the write pump unless it is running. q.mu must be held.
func (q *sendQueue) wakeLocked() {
	if !q.pumping {
		q.pumping = true
		go q.pump()
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
	q.fed = true
	if !q.pumping && len(q.msgs) == 0 && q.conn != nil {
		n := q.tryWriteLocked(b)
		if n == len(b) {
			return true
		}
		if n > 0 {
			b = b[n:] // the rest of the frame must go out before anything else
			q.partial = true
		}
	}
	if len(q.msgs) > 0 && (len(q.msgs) >= q.maxLen || q.bytes+len(b) > q.maxBytes) {
		return false
	}
	q.msgs = append(q.msgs, b)
	q.bytes += len(b)
	q.wakeLocked()
	return true
}

// takeFed reports whether data was pushed since the last call.
func (q *sendQueue) takeFed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	fed := q.fed
	q.fed = false
	return fed
}

// pingDue pings the client of s, whose queue q is. Like a push, it
// writes the ping directly when nothing waits for the socket, so that a
// probe of a session receiving data (about one every 2 s) costs one
// system call and no goroutine; otherwise, or if the socket takes none
// of it, the write pump pings.
func (q *sendQueue) pingDue(s *session) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.bye != nil {
		return
	}
	if !q.pumping && len(q.msgs) == 0 && !q.ping && q.conn != nil && q.raw != nil {
		f, id := s.pingFrame()
		n := q.tryWriteLocked(f)
		if n > 0 {
			// Its first bytes reached the kernel: the probe's clock
			// starts, as the pump would start it once the whole ping
			// went; the end of a ping begun goes before anything else.
			s.pinged(id)
			if n == len(f) {
				return
			}
			q.msgs = append(q.msgs, f[n:])
			q.bytes += len(f) - n
			q.partial = true
			q.wakeLocked()
			return
		}
		// The socket took nothing: the pump pings, with the next number.
	}
	q.ping = true
	q.wakeLocked()
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
		bye.msg, _ = encodeFrame(&protocol.Error{Code: reason.code(), Message: truncate(text, protocol.MaxErrorMessageBytes), Seq: seq})
	}
	q.bye = bye
	// The end of a frame begun stays: the client would take whatever
	// follows a truncated frame for the frame's own bytes.
	keep := 0
	if q.partial {
		keep = 1
	}
	clear(q.msgs[keep:])
	q.msgs = q.msgs[:keep]
	q.bytes = 0
	for _, b := range q.msgs {
		q.bytes += len(b)
	}
	q.wakeLocked()
	return true
}

// farewell returns the farewell set by close, or nil while the queue is
// open.
func (q *sendQueue) farewell() *farewell {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bye
}

// abort interrupts a write to conn in progress, unless the write pump has
// begun the farewell, whose deadline must stand: the farewell is the last
// write, and interrupting it would truncate it.
func (q *sendQueue) abort() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.leaving && q.conn != nil {
		_ = q.conn.SetWriteDeadline(time.Now())
	}
}

// leave marks the farewell begun: abort no longer touches the
// connection.
func (q *sendQueue) leave() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.leaving = true
}

// reason returns why the queue was closed, or 0 while it is open.
func (q *sendQueue) reason() closeReason {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.bye == nil {
		return 0
	}
	return q.bye.reason
}

// take moves the waiting messages into buf and returns them, whether the
// first is the end of a frame begun (which must be written, whatever
// happens next), whether a ping is due, and the farewell if the session is
// closing. When there is nothing to do it marks the pump stopped: the
// caller must exit, and the next push starts a new one.
func (q *sendQueue) take(buf [][]byte) (msgs [][]byte, partial, ping bool, bye *farewell) {
	q.mu.Lock()
	defer q.mu.Unlock()
	buf = append(buf[:0], q.msgs...)
	clear(q.msgs)
	q.msgs, q.bytes = q.msgs[:0], 0
	if cap(q.msgs) > 16 {
		q.msgs = nil // let a burst's backing array go
	}
	ping, q.ping = q.ping, false
	partial, q.partial = q.partial, false
	if len(buf) == 0 && !ping && q.bye == nil {
		q.pumping = false
	}
	return buf, partial, ping, q.bye
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
