package sync

import (
	"errors"
	"fmt"
	"io"
	"net"
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
	queue  *sendQueue
	remote string

	// Set by the read pump once the Hello is accepted; read by the room
	// only after the join event, which the channel send orders.
	room   *room
	client uint64

	lastSeq uint64 // the last Update seq read; read pump only
}

// serve runs the read pump until the connection ends, then waits for the
// write pump. It is the session's lifetime.
func (s *session) serve(roomName string) {
	writeDone := make(chan struct{})
	go func() {
		defer close(writeDone)
		s.writePump()
	}()
	reason, text, seq := s.readPump(roomName)
	if s.room != nil {
		s.room.send(event{kind: eventLeave, s: s})
		s.hub.release(s.room)
	}
	if s.queue.close(reason, text, seq) && reason != closedByClient {
		s.hub.logger.Debug("session closed", "room", roomName, "remote", s.remote, "reason", reason.String(), "detail", text)
	}
	<-writeDone
	s.hub.removeSession(s)
}

// readPump reads until the connection fails or the client breaks the
// protocol, and returns why it stopped.
func (s *session) readPump(roomName string) (reason closeReason, text string, seq uint64) {
	s.conn.SetPongHandler(func(string) error {
		return s.conn.SetReadDeadline(time.Now().Add(pongWait))
	})
	if !protocol.ValidRoom(roomName) {
		return closedInvalidRoom, fmt.Sprintf("invalid room name %q: use 1 to %d characters of [A-Za-z0-9._~-]", truncate(roomName, 200), protocol.MaxRoomBytes), 0
	}
	_ = s.conn.SetReadDeadline(time.Now().Add(s.hub.cfg.HelloTimeout))
	for {
		m, reason, text := s.read()
		if reason != 0 {
			return reason, text, 0
		}
		if s.room == nil {
			hello, ok := m.(*protocol.Hello)
			if !ok {
				return closedProtocolError, fmt.Sprintf("expected hello, got %s", m.Type()), 0
			}
			if reason, text := s.join(roomName, hello); reason != 0 {
				return reason, text, 0
			}
			_ = s.conn.SetReadDeadline(time.Now().Add(pongWait))
			continue
		}
		_ = s.conn.SetReadDeadline(time.Now().Add(pongWait))
		switch m := m.(type) {
		case *protocol.Update:
			if m.Seq <= s.lastSeq {
				return closedProtocolError, fmt.Sprintf("update seq %d after %d: seq must increase", m.Seq, s.lastSeq), m.Seq
			}
			s.lastSeq = m.Seq
			if !s.room.send(event{kind: eventUpdate, s: s, update: m}) {
				return closedGoingAway, "", 0
			}
		case *protocol.Presence:
			if len(m.Entries) != 1 || m.Entries[0].Client != s.client {
				return closedProtocolError, "presence must hold exactly one entry, the sender's own client ID", 0
			}
			if !s.room.send(event{kind: eventPresence, s: s, state: m.Entries[0].State}) {
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
	r, err := s.hub.acquire(roomName)
	if err != nil {
		return closedGoingAway, err.Error()
	}
	s.room, s.client = r, h.Client
	if !r.send(event{kind: eventJoin, s: s, hello: h}) {
		if r.err != nil {
			return closedInternalError, fmt.Sprintf("room %q could not be loaded", roomName)
		}
		return closedGoingAway, "room closed"
	}
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
	b, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
	if err != nil {
		return nil, closedByClient, err.Error()
	}
	if len(b) > max {
		return nil, closedMessageTooBig, fmt.Sprintf("message over the %d-byte limit", max)
	}
	m, err := protocol.Decode(b)
	switch {
	case errors.Is(err, protocol.ErrUnknownType):
		return nil, closedUnknownType, err.Error()
	case err != nil:
		return nil, closedProtocolError, err.Error()
	}
	return m, 0, ""
}

// writePump writes queued messages and pings until the session closes.
func (s *session) writePump() {
	ticker := time.NewTicker(pingPeriod)
	defer ticker.Stop()
	defer s.conn.Close()
	var batch [][]byte
	for {
		select {
		case <-s.queue.wake:
			var bye *farewell
			batch, bye = s.queue.take(batch)
			for i, b := range batch {
				batch[i] = nil
				_ = s.conn.SetWriteDeadline(time.Now().Add(writeWait))
				if err := s.conn.WriteMessage(websocket.BinaryMessage, b); err != nil {
					s.queue.close(closedByClient, "", 0)
					return
				}
			}
			if bye != nil {
				s.writeFarewell(bye)
				return
			}
		case <-ticker.C:
			if err := s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				s.queue.close(closedByClient, "", 0)
				return
			}
		}
	}
}

// writeFarewell writes the Error message and close frame of bye, then
// closes the connection so that the read pump ends too.
func (s *session) writeFarewell(bye *farewell) {
	if bye.msg == nil {
		return
	}
	deadline := time.Now().Add(closeWait)
	_ = s.conn.SetWriteDeadline(deadline)
	if err := s.conn.WriteMessage(websocket.BinaryMessage, bye.msg); err != nil {
		return
	}
	code := bye.reason.code()
	_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(int(code), code.String()), deadline)
}

// abort interrupts a write in progress, for a session dropped as a slow
// consumer whose write pump may be stuck on a full socket buffer.
func (s *session) abort() {
	if c := s.conn.NetConn(); c != nil {
		_ = c.SetWriteDeadline(time.Now())
	}
}
