package sync

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowstate/flowstate/protocol"
)

// A session is one client's WebSocket connection. Its read pump (the HTTP
// handler's goroutine) decodes messages and hands them to the room; its
// write pump writes what the room queued. The room talks to it only through
// the queue, so a stalled client never blocks the room.
type session struct {
	hub    *Hub
	conn   *websocket.Conn
	queue  sendQueue
	remote string
	pingAt time.Time // when the next ping is due; the hub's ping loop only

	// Set by the read pump once the Hello is accepted; read by the room
	// only after the join event, which the channel send orders.
	room   *room
	client uint64

	lastSeq   uint64      // the last Update seq read; read pump only
	readEnded atomic.Bool // the read pump (or handshake) stopped reading

	ip     string      // the address counted against Config.MaxConnsPerIP
	query  string      // the token of the URL's query, if any
	claims *Claims     // what the token grants; nil on an open server
	expiry *time.Timer // closes the session when the token expires
	limit  connLimiter // the read pump's rate limits
}

// serve reads the Hello and joins the room, then hands the connection to
// the read pump. It runs in a goroutine of its own; the session's end
// releases the hub's count of it.
func (s *session) serve(roomName string) {
	s.limit = newConnLimiter(&s.hub.cfg)
	s.conn.SetPongHandler(func(string) error {
		return s.conn.SetReadDeadline(time.Now().Add(pongWait))
	})
	// Every frame to the client goes through the queue, which frames and
	// orders it; gorilla must not write pongs or close frames of its own.
	s.conn.SetPingHandler(func(data string) error {
		s.queue.push(frame(opPong, []byte(data)))
		return nil
	})
	s.conn.SetCloseHandler(func(int, string) error { return nil })
	if reason, text := s.handshake(roomName); reason != 0 {
		s.end(reason, text, 0)
		return
	}
	// Handling the Hello grew this goroutine's stack, which would stay
	// grown; the read pump of an idle session needs much less, so it runs
	// in a fresh goroutine.
	go s.readPump()
}

// handshake reads the Hello and joins its room.
func (s *session) handshake(roomName string) (closeReason, string) {
	if !protocol.ValidRoom(roomName) {
		return closedInvalidRoom, fmt.Sprintf("invalid room name %q: use 1 to %d characters of [A-Za-z0-9._~-]", truncate(roomName, 200), protocol.MaxRoomBytes)
	}
	_ = s.conn.SetReadDeadline(time.Now().Add(s.hub.cfg.HelloTimeout))
	m, reason, text := s.read()
	if reason != 0 {
		return reason, text
	}
	hello, ok := m.(*protocol.Hello)
	if !ok {
		return closedProtocolError, fmt.Sprintf("expected hello, got %s", m.Type())
	}
	if reason, text := s.join(roomName, hello); reason != 0 {
		return reason, text
	}
	_ = s.conn.SetReadDeadline(time.Now().Add(pongWait))
	return 0, ""
}

// readPump reads messages until the connection fails or the client breaks
// the protocol, then ends the session.
func (s *session) readPump() {
	reason, text, seq := s.readMessages()
	s.end(reason, text, seq)
}

// end leaves the room, has the write pump say farewell for reason, waits
// for it, and forgets the session.
func (s *session) end(reason closeReason, text string, seq uint64) {
	s.readEnded.Store(true)
	if s.expiry != nil {
		s.expiry.Stop()
	}
	if s.room != nil {
		s.room.send(event{kind: eventLeave, s: s})
		s.hub.release(s.room)
	}
	if s.queue.close(reason, text, seq) && reason != closedByClient {
		s.hub.logger.Debug("session closed", "remote", s.remote, "reason", reason.String(), "detail", text)
	}
	<-s.queue.finished
	s.hub.removeSession(s)
	s.hub.wg.Done()
}

// readMessages handles the messages after the Hello and returns why it
// stopped.
func (s *session) readMessages() (reason closeReason, text string, seq uint64) {
	for {
		m, reason, text := s.read()
		if reason != 0 {
			return reason, text, 0
		}
		_ = s.conn.SetReadDeadline(time.Now().Add(pongWait))
		switch m := m.(type) {
		case *protocol.Update:
			if m.Seq <= s.lastSeq {
				return closedProtocolError, fmt.Sprintf("update seq %d after %d: seq must increase", m.Seq, s.lastSeq), m.Seq
			}
			s.lastSeq = m.Seq
			if reason, text := s.mayUpdate(); reason != 0 {
				return reason, text, m.Seq
			}
			if !s.room.send(event{kind: eventUpdate, s: s, msg: m}) {
				return closedGoingAway, "", 0
			}
		case *protocol.Presence:
			if len(m.Entries) != 1 || m.Entries[0].Client != s.client {
				return closedProtocolError, "presence must hold exactly one entry, the sender's own client ID", 0
			}
			if !s.room.send(event{kind: eventPresence, s: s, msg: m}) {
				return closedGoingAway, "", 0
			}
		case *protocol.Hello:
			return closedProtocolError, "second hello", 0
		default:
			return closedProtocolError, fmt.Sprintf("clients may not send %s messages", m.Type()), 0
		}
	}
}

// join validates a Hello and joins its room.
func (s *session) join(roomName string, h *protocol.Hello) (closeReason, string) {
	switch {
	case h.Version != protocol.Version:
		return closedBadVersion, fmt.Sprintf("protocol version %d is not supported; this server speaks version %d", h.Version, protocol.Version)
	case h.Room != roomName:
		return closedInvalidRoom, fmt.Sprintf("hello names room %q but the URL names %q", h.Room, roomName)
	}
	if reason, text := s.authenticate(roomName, h.Token); reason != 0 {
		return reason, text
	}
	r, err := s.hub.acquire(roomName)
	var qe *QuarantinedError
	if errors.As(err, &qe) {
		return closedInternalError, qe.Error()
	}
	if errors.Is(err, ErrTooManyRooms) {
		return closedTryAgainLater, "the server holds as many rooms as it may; try again later"
	}
	if err != nil {
		return closedGoingAway, err.Error()
	}
	<-r.loaded
	if r.err != nil {
		s.hub.release(r)
		if errors.Is(r.err, errCorruptRoom) {
			return closedInternalError, (&QuarantinedError{Room: roomName}).Error()
		}
		return closedInternalError, fmt.Sprintf("room %q could not be loaded", roomName)
	}
	s.room, s.client = r, h.Client
	if !r.send(event{kind: eventJoin, s: s, msg: h}) {
		return closedGoingAway, "room closed"
	}
	s.watchExpiry()
	return 0, ""
}

// read reads one message. A failure is returned as a reason and a text; a
// client that closed or dropped the connection gives closedByClient.
func (s *session) read() (protocol.Message, closeReason, string) {
	kind, r, err := s.conn.NextReader()
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && s.room == nil {
			return nil, closedHelloTimeout, "no hello within " + s.hub.cfg.HelloTimeout.String()
		}
		return nil, closedByClient, err.Error()
	}
	if kind != websocket.BinaryMessage {
		return nil, closedUnsupportedData, "text frames are not supported: send msgpack in binary frames"
	}
	max := s.hub.cfg.MaxMessageSize
	buf := getBuffer()
	defer putBuffer(buf)
	if _, err := buf.ReadFrom(io.LimitReader(r, int64(max)+1)); err != nil {
		return nil, closedByClient, err.Error()
	}
	if buf.Len() > max {
		return nil, closedMessageTooBig, fmt.Sprintf("message over the %d-byte limit", max)
	}
	if s.room != nil && !s.limit.allow(buf.Len()) {
		return nil, closedRateLimited, "rate limit exceeded: the client sent more messages or bytes than its allowance"
	}
	m, err := protocol.Decode(buf.Bytes()) // copies what it keeps
	switch {
	case errors.Is(err, protocol.ErrUnknownType):
		return nil, closedUnknownType, err.Error()
	case err != nil:
		return nil, closedProtocolError, err.Error()
	}
	return m, 0, ""
}

// writePump writes what the queue holds until it is empty, then
// returns; the queue starts a new pump for the next message. The frames
// waiting are written together, in one system call where the socket takes
// them. The pump that finds a farewell writes it, closes the connection
// and closes queue.finished.
func (s *session) writePump() {
	raw := s.conn.NetConn()
	var batch [][]byte
	for {
		msgs, ping, bye := s.queue.take(batch)
		if len(msgs) == 0 && !ping && bye == nil {
			return
		}
		batch = msgs
		if bye == nil {
			if ping {
				msgs = append(msgs, pingFrame)
			}
			_ = raw.SetWriteDeadline(time.Now().Add(writeWait))
			bufs := net.Buffers(msgs)
			if _, err := bufs.WriteTo(raw); err != nil {
				s.queue.close(closedByClient, "", 0)
				bye = &farewell{reason: closedByClient}
			}
		}
		clear(batch)
		if bye != nil {
			// The queue's reason, not bye's: a write that failed because
			// the room dropped a slow consumer finds the queue closed
			// already, for that reason.
			s.hub.metrics.sessionClosed(s.queue.reason())
			s.writeFarewell(bye)
			s.conn.Close()
			close(s.queue.finished)
			return
		}
	}
}

// pingFrame is the ping the server sends every pingPeriod.
var pingFrame = frame(opPing, nil)

// writeFarewell writes the Error message and close frame of bye (or, for
// a client that closed, the echo of its close), and waits briefly for the
// client's answer.
func (s *session) writeFarewell(bye *farewell) {
	raw := s.conn.NetConn()
	deadline := time.Now().Add(closeWait)
	_ = raw.SetWriteDeadline(deadline)
	var frames net.Buffers
	if bye.msg != nil {
		code := bye.reason.code()
		frames = net.Buffers{bye.msg, closeFrame(code, code.String())}
	} else {
		frames = net.Buffers{closeFrame(protocol.CodeNormal, "")}
	}
	if _, err := frames.WriteTo(raw); err != nil {
		return
	}
	s.awaitClose(deadline)
}

// awaitClose gives the client until deadline to answer the close frame,
// so that it sees a clean close rather than a reset. While the read pump
// runs, it will read the answer; once it has stopped, reading falls to us.
func (s *session) awaitClose(deadline time.Time) {
	for !s.readEnded.Load() {
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = s.conn.SetReadDeadline(deadline)
	for {
		if _, _, err := s.conn.NextReader(); err != nil {
			return
		}
	}
}

// abort interrupts a write in progress, for a session dropped as a slow
// consumer whose write pump may be stuck on a full socket buffer.
func (s *session) abort() {
	if c := s.conn.NetConn(); c != nil {
		_ = c.SetWriteDeadline(time.Now())
	}
}
