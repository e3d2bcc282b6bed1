package sync

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// An idle connection should cost little more than its socket. Its read
// pump is the one goroutine it cannot do without (something must wait
// for the client's next frame, its close or its deadline), but that
// goroutine need not be the one that read the last message, whose stack
// grew to hold gorilla's frame parser, the decoder and the room's events.
// So a session reads every message it has, then hands the wait to a fresh
// goroutine that only peeks at the connection's buffered reader: a
// shallow call that fits the smallest stack the runtime gives. When bytes
// arrive (or the deadline passes, or the connection closes), that
// goroutine becomes the read pump and reads whole messages, a partial
// frame included, under the same read deadline as before.
//
// Waiting by reading, rather than by polling the socket for readiness,
// keeps every guarantee of the blocking read: bytes buffered inside a TLS
// connection count as arrived, the read deadline and Close end the wait,
// and the error of a failed wait comes back on the next read, where the
// read pump maps it to a close code as it always did.

// readBufferSize is the size of each connection's read buffer. The
// session owns that buffer (hijackWriter) so that it can tell whether
// more bytes wait behind a message before it parks; gorilla reads through
// it only when it is larger than 256 bytes, and 288 bytes is the size
// class just above that. The buffer only needs to hold a frame header
// or a control frame; payloads larger than it are read past it.
const readBufferSize = 288

// A hijackWriter hands gorilla's Upgrader a connection reader of the
// session's own: gorilla reads through the HTTP server's reader when its
// ReadBufferSize is zero ("buffers allocated by the HTTP server are
// used"), and the hijacked reader is this one.
type hijackWriter struct {
	http.ResponseWriter
	br *bufio.Reader // set by Hijack
}

// errEarlyData refuses a client that sent bytes before the upgrade's
// response, as gorilla does.
var errEarlyData = errors.New("websocket: client sent data before handshake is complete")

// Hijack takes over the connection from the HTTP server and pairs it with
// a reader of readBufferSize bytes.
func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if brw.Reader.Buffered() > 0 {
		// gorilla would refuse this connection; keeping the HTTP
		// server's reader keeps those bytes where it checks for them.
		return conn, brw, nil
	}
	w.br = bufio.NewReaderSize(conn, readBufferSize)
	return conn, bufio.NewReadWriter(w.br, brw.Writer), nil
}

// park waits for the client's next frame without a goroutine where the
// hub's poller can (a plain socket on Linux, with nothing buffered), and
// in a fresh goroutine otherwise. A session parks at once after its
// Hello, and after parkAfter without a frame later on. The caller must not touch the session's
// read side afterwards: from here on, another goroutine may run it.
func (s *session) park() {
	p := s.hub.idlePoller()
	if p == nil || s.rawConn == nil || s.br.Buffered() > 0 {
		go s.awaitFrame(false)
		return
	}
	s.releaseReadBuffer()
	s.parked.Store(true)
	// The read deadline wakes the session too, to fail its next read
	// as a blocked read would have failed.
	if !p.wait(s, s.readDeadline) {
		s.wake()
	}
}

// parkAfter is how long a session that has read everything waits for
// more in a goroutine (of 2 KB) before it parks in the hub's poller. A
// wake from the poller costs a switch to its thread and back, which a
// client that sends every second or more often does not pay; a client
// that only sends a heartbeat every 10 s spends a tenth of its time here.
const parkAfter = time.Second

// canPark reports whether the session can wait in the hub's poller.
func (s *session) canPark() bool {
	return s.rawConn != nil && s.hub.idlePoller() != nil
}

// waitBriefly waits up to parkAfter for the client's next bytes, and
// reports whether there is something to read: bytes, or an error that
// the next read meets again. The read deadline stays as it was.
func (s *session) waitBriefly() bool {
	brief := time.Now().Add(parkAfter)
	if s.readDeadline != 0 && s.readDeadline <= brief.UnixNano() {
		return true // the deadline comes first: the read waits for it
	}
	_ = s.conn.SetReadDeadline(brief)
	_, err := s.br.Peek(1)
	var restore time.Time
	if s.readDeadline != 0 {
		restore = time.Unix(0, s.readDeadline)
	}
	_ = s.conn.SetReadDeadline(restore)
	var ne net.Error
	return err == nil || !errors.As(err, &ne) || !ne.Timeout()
}

// wake resumes a parked session in a goroutine: its connection has
// something to read, its read deadline has passed, or the server closed
// it. Of several wakes for one wait, the first resumes the session and
// the others do nothing.
func (s *session) wake() {
	if s.parked.CompareAndSwap(true, false) {
		s.hub.poll.unschedule(s)
		go s.awaitFrame(false)
	}
}

// readBuffers holds the read buffers of the sessions that wait in the
// hub's poller, each in a bufio.Reader of its own: a session's reader is
// the one gorilla reads through, which stays, but the buffer in it can go
// while nothing reads. A Reader's buffer is not exported; copying the
// Reader moves it.
var readBuffers sync.Pool

// releaseReadBuffer gives the buffer of the session's reader, which holds
// nothing, to readBuffers.
func (s *session) releaseReadBuffer() {
	held := new(bufio.Reader)
	*held = *s.br
	*s.br = bufio.Reader{}
	readBuffers.Put(held)
}

// takeReadBuffer gives the session's reader a buffer again if it gave
// its own away. A read error that the reader held back for its next read
// is lost with it, but only with nothing buffered, where the next read of
// the connection fails again the same way.
func (s *session) takeReadBuffer() {
	if s.br.Size() > 0 {
		return
	}
	if held, ok := readBuffers.Get().(*bufio.Reader); ok {
		*s.br = *held
	} else {
		*s.br = *bufio.NewReaderSize(nil, readBufferSize)
	}
	s.br.Reset(s.conn.NetConn())
}

// setReadDeadline sets the read deadline of the session's connection,
// and remembers it for park.
func (s *session) setReadDeadline(t time.Time) error {
	s.readDeadline = t.UnixNano()
	return s.conn.SetReadDeadline(t)
}

// rawConnOf returns the socket under conn if the hub's poller can wait
// for it: a plain TCP connection. A TLS connection buffers what it
// decrypts, where polling the socket cannot see it, so its session
// waits in a goroutine.
func rawConnOf(conn net.Conn) syscall.RawConn {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// idlePoller returns the hub's poller, started on first use, or nil where
// there is none.
func (h *Hub) idlePoller() *poller {
	h.pollOnce.Do(func() { h.poll = newPoller() })
	return h.poll
}

// stopPoller stops the hub's poller, if it started, once no session is
// left to wait.
func (h *Hub) stopPoller() {
	h.pollOnce.Do(func() {}) // none starts from now on
	h.poll.stop()
}

// idleNext tells the read pump to park rather than read on: when its
// reader holds nothing, or only the start of a ping or a pong. gorilla
// would handle a control frame inside the next read of a message and then
// wait there, on the read pump's deep stack, for a message that may not
// come for hours: a client answering the server's pings would undo the
// saving within a minute.
func (s *session) idleNext() bool {
	switch n := s.br.Buffered(); {
	case n < 2:
		return true
	default:
		h, _ := s.br.Peek(2) // buffered: does not block
		return controlFrameLen(h) > 0
	}
}

// awaitFrame waits until the client sends something, and then becomes
// the session's read pump (awaitNext).
func (s *session) awaitFrame(afterMessage bool) {
	if s.awaitNext(afterMessage) {
		s.readPump()
	}
}

// awaitNext waits until the client sends something. It answers the pings
// and pongs that come on their own, as gorilla would, and reports true
// when a message (or anything else) begins: the caller reads it as the
// read pump. It parks the session, and reports false, when nothing is
// left to read: at once if it was woken from the poller (a pong does not
// make a session busy), after parkAfter if the read pump calls it after a
// message. It reports false too when a control frame ended the session.
// Its error, if any, is not lost: a failed read of the buffered reader is
// failed again by the read pump's next read (a deadline that passed stays
// passed, a closed connection stays closed), which maps it to a close
// code.
func (s *session) awaitNext(afterMessage bool) bool {
	s.takeReadBuffer()
	woken := !afterMessage // bytes, or an error, wait to be read
	for {
		if !woken && s.br.Buffered() == 0 && s.canPark() && (!afterMessage || !s.waitBriefly()) {
			s.park()
			return false
		}
		woken = false
		h, err := s.br.Peek(2)
		n := controlFrameLen(h)
		if err != nil || n == 0 {
			return true
		}
		if _, err := s.br.Peek(n); err != nil {
			return true
		}
		if reason, text := s.controlFrame(n); reason != 0 {
			s.end(reason, text, 0)
			return false
		}
	}
}

// WebSocket frame header bits (RFC 6455 §5.2).
const (
	frameFin      = 0x80
	frameMasked   = 0x80
	frameMaskSize = 4
	opPingFrame   = 0x9
	opPongFrame   = 0xA
)

// controlFrameLen returns the length of the frame that h, its first two
// bytes, begins, if it is a ping or a pong as a client must send them:
// final, no reserved bits, masked, with a payload of at most 125 bytes.
// It returns 0 for anything else, which gorilla reads and judges.
func controlFrameLen(h []byte) int {
	if len(h) < 2 || (h[0] != frameFin|opPingFrame && h[0] != frameFin|opPongFrame) || h[1]&frameMasked == 0 {
		return 0
	}
	size := int(h[1] &^ frameMasked)
	if size > 125 {
		return 0
	}
	return 2 + frameMaskSize + size
}

// controlFrame consumes the ping or pong of n bytes at the head of the
// session's reader, which holds all of it, and calls the handler gorilla
// would have called. A handler's error gives the reason to close.
func (s *session) controlFrame(n int) (closeReason, string) {
	f, _ := s.br.Peek(n)
	var payload [125]byte
	data := payload[:n-2-frameMaskSize]
	key := f[2 : 2+frameMaskSize]
	for i, b := range f[2+frameMaskSize:] {
		data[i] = b ^ key[i%frameMaskSize]
	}
	handler := s.conn.PongHandler()
	if f[0]&0xf == opPingFrame {
		handler = s.conn.PingHandler()
	}
	_, _ = s.br.Discard(n)
	if err := handler(string(data)); err != nil {
		return s.readFailed(err)
	}
	return 0, ""
}
