package sync

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowstate/flowstate/protocol"
	"github.com/flowstate/flowstate/sync/internal/readbuf"
)

// A session is one client's WebSocket connection. Its read pump (the HTTP
// handler's goroutine) decodes messages and hands them to the room; its
// write pump writes what the room queued. The room talks to it only through
// the queue, so a stalled client never blocks the room.
type session struct {
	hub  *Hub
	conn *websocket.Conn
	br   *bufio.Reader // what conn reads through; see idle.go

	// Waiting without a goroutine (idle.go). rawConn is the socket for
	// the hub's poller, nil where it cannot wait for it; pollID numbers
	// the session there. parked is set while the session waits, and the
	// first to clear it resumes the session. readDeadline is the
	// deadline last set on conn (Unix ns; 0: none); the poller keeps a
	// copy in pollDeadline while the session waits, and its place in the
	// poller's heap in pollIndex (both guarded by the poller's mutex).
	rawConn   syscall.RawConn
	pollID    uint32
	pollIndex int32
	parked    atomic.Bool
	// relayAcks: the Hello is of protocol version 3 or later, whose client takes
	// an acknowledgement in the seq of a relayed Update (room.ack). Set
	// with room and client below; here, it fills padding, as thousands of
	// idle sessions make every byte count.
	relayAcks bool
	// patches: the Hello is of version 5, whose client sends and takes
	// Patches (PROTOCOL.md §4.8); set and padded like relayAcks.
	patches bool
	// format is the newest document format the client reads, as its
	// Hello declared (format.go); set and padded like relayAcks.
	format       uint8
	readDeadline int64
	pollDeadline int64
	queue        sendQueue
	remote       string
	pingAt       time.Time // when the next ping is due; the hub's ping loop only

	// Set by the read pump once the Hello is accepted; read by the room
	// only after the join event, which the channel send orders.
	room      *room
	client    uint64
	heartbeat time.Duration // the interval the Hello asked for, or 0 (heartbeat.go)

	lastSeq      uint64      // the last Update seq read; read pump only
	upBase       []byte      // the client's last update, the base of its next Patch; read pump only
	readEnded    atomic.Bool // the read pump (or handshake) stopped reading
	clientClosed atomic.Bool // the client's close frame was read

	// Probe pings (probe.go): probeID numbers the pings (write pump
	// only); probeWritten is the number of the last one that reached the
	// kernel, at probeSentAt (Unix ns); probeAnswered the last one whose
	// pong came back; probedAt when the hub last asked for one (guarded
	// by hub.mu).
	probeID       uint64
	probeWritten  atomic.Uint64
	probeSentAt   atomic.Int64
	probeAnswered atomic.Uint64
	probedAt      time.Time

	ip     string        // the address counted against Config.MaxConnsPerIP
	query  string        // the token of the URL's query, if any
	req    *http.Request // the upgrade request, for Hooks.Authorize; nil after the Hello
	claims *Claims       // what the token grants; nil on an open server
	expiry *time.Timer   // closes the session when the token expires
	limit  connLimiter   // the read pump's rate limits
}

// serve reads the Hello and joins the room, then hands the connection to
// the read pump. It runs in a goroutine of its own; the session's end
// releases the hub's count of it.
func (s *session) serve(roomName string) {
	s.limit = newConnLimiter(&s.hub.cfg)
	// Control frames cost the server as much as messages do, so they
	// draw on the same allowance, from the first frame on: otherwise a
	// flood of pings would be free. A pong keeps a joined session alive,
	// but never extends the Hello's deadline, which stays absolute.
	s.conn.SetPongHandler(func(data string) error {
		if !s.limit.allow(len(data)) {
			return errRateLimited
		}
		s.ponged(data)
		if s.room == nil {
			return nil
		}
		return s.setReadDeadline(time.Now().Add(s.readWait()))
	})
	// Every frame to the client goes through the queue, which frames and
	// orders it; gorilla must not write pongs or close frames of its own.
	s.conn.SetPingHandler(func(data string) error {
		if !s.limit.allow(len(data)) {
			return errRateLimited
		}
		s.queue.push(frame(opPong, []byte(data)))
		if s.room == nil {
			return nil
		}
		return s.setReadDeadline(time.Now().Add(s.readWait()))
	})
	// A close frame ends the read pump: there can be only one.
	s.conn.SetCloseHandler(func(int, string) error {
		s.clientClosed.Store(true)
		return nil
	})
	if reason, text := s.handshake(roomName); reason != 0 {
		s.end(reason, text, 0)
		return
	}
	// Handling the Hello grew this goroutine's stack, which would stay
	// grown while the session is idle: the wait for the next frame runs
	// in a fresh goroutine (idle.go).
	s.park()
}

// handshake reads the Hello and joins its room.
func (s *session) handshake(roomName string) (closeReason, string) {
	if !protocol.ValidRoom(roomName) {
		return closedInvalidRoom, fmt.Sprintf("invalid room name %q: use 1 to %d characters of [A-Za-z0-9._~-]", truncate(roomName, 200), protocol.MaxRoomBytes)
	}
	_ = s.setReadDeadline(time.Now().Add(s.hub.cfg.HelloTimeout))
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
	// The client's heartbeat starts at the Welcome, which may take a
	// while to arrive: the first wait is at least the Hello's.
	_ = s.setReadDeadline(time.Now().Add(max(s.readWait(), s.hub.cfg.HelloTimeout)))
	return 0, ""
}

// readPump reads the messages that have arrived, then waits for more on
// its own goroutine, up to parkAfter (idle.go): a client that edits sends
// again within that time, and reading its next message on this goroutine,
// whose stack already grew to hold the decoder and the room's events,
// costs no new goroutine and no stack growth per message. A session that
// stays quiet longer parks, and this goroutine exits. Where the session
// cannot park (TLS, or no poller), the wait runs in a fresh goroutine. When the connection
// fails or the client breaks the protocol, it ends the session instead.
func (s *session) readPump() {
	for {
		reason, text, seq := s.readMessages()
		if reason != 0 {
			s.end(reason, text, seq)
			return
		}
		if !s.canPark() {
			// Without the poller, nothing bounds the wait: it runs in a
			// fresh goroutine, whose stack is small.
			go s.awaitFrame(true)
			return
		}
		if !s.awaitNext(true) {
			return
		}
	}
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
	if s.pollID != 0 {
		s.hub.idlePoller().forget(s)
	}
	s.hub.removeSession(s)
	s.hub.wg.Done()
}

// readMessages handles the messages after the Hello until the session's
// reader holds no more bytes, and returns 0 then; otherwise it returns
// why it stopped.
func (s *session) readMessages() (reason closeReason, text string, seq uint64) {
	for {
		m, reason, text := s.read()
		if reason != 0 {
			return reason, text, 0
		}
		_ = s.setReadDeadline(time.Now().Add(s.readWait()))
		if p, ok := m.(*protocol.Patch); ok {
			u, reason, text := s.unpatch(p)
			if reason != 0 {
				return reason, text, s.lastSeq + 1
			}
			m = &protocol.Update{Seq: s.lastSeq + 1, Updates: [][]byte{u}}
		}
		switch m := m.(type) {
		case *protocol.Update:
			if m.Seq <= s.lastSeq {
				return closedProtocolError, fmt.Sprintf("update seq %d after %d: seq must increase", m.Seq, s.lastSeq), m.Seq
			}
			s.lastSeq = m.Seq
			if n := len(m.Updates); n > 0 {
				s.upBase = protocol.Base(m.Updates[n-1])
			}
			if reason, text := s.mayUpdate(); reason != 0 {
				return reason, text, m.Seq
			}
			if reason, text := s.checkFormat(m); reason != 0 {
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
		case *protocol.Heartbeat:
			s.heartbeatReceived(m)
		case *protocol.Hello:
			return closedProtocolError, "second hello", 0
		default:
			return closedProtocolError, fmt.Sprintf("clients may not send %s messages", m.Type()), 0
		}
		if s.idleNext() {
			return 0, "", 0
		}
	}
}

// unpatch returns the update a client's Patch stands for, or why the
// session must close. The kept bytes count against the byte rate as if
// they had come in an Update: otherwise a client could make the server
// apply a message-sized update for every few bytes it sends.
func (s *session) unpatch(p *protocol.Patch) ([]byte, closeReason, string) {
	switch {
	case !s.patches:
		return nil, closedProtocolError, "patches are protocol version 5; this connection's hello is of an older version"
	case p.Seq != 0:
		return nil, closedProtocolError, "a client's patch has no seq: it takes the previous message's plus 1"
	}
	u, err := p.Apply(s.upBase, s.hub.cfg.MaxMessageSize)
	if err != nil {
		return nil, closedProtocolError, err.Error()
	}
	if !s.limit.allowBytes(len(u) - len(p.Middle)) {
		return nil, closedRateLimited, "rate limit exceeded: the client sent more messages or bytes than its allowance"
	}
	s.hub.metrics.patchesReceived.Inc()
	return u, 0, ""
}

// join validates a Hello and joins its room.
func (s *session) join(roomName string, h *protocol.Hello) (closeReason, string) {
	switch {
	case h.Version < protocol.MinVersion || h.Version > protocol.Version:
		return closedBadVersion, fmt.Sprintf("protocol version %d is not supported; this server speaks versions %d to %d", h.Version, protocol.MinVersion, protocol.Version)
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
	s.relayAcks = h.Version >= 3
	s.patches = h.Version >= 5
	s.format = helloFormat(h)
	s.heartbeat = time.Duration(h.HeartbeatMillis) * time.Millisecond
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
		reason, text := s.readFailed(err)
		return nil, reason, text
	}
	if kind != websocket.BinaryMessage {
		return nil, closedUnsupportedData, "text frames are not supported: send msgpack in binary frames"
	}
	max := s.hub.cfg.MaxMessageSize
	buf := readbuf.Get()
	defer readbuf.Put(buf)
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

// readFailed says why a read of a frame failed, as a reason and a text; a
// client that closed or dropped the connection gives closedByClient.
func (s *session) readFailed(err error) (closeReason, string) {
	if errors.Is(err, errRateLimited) {
		return closedRateLimited, "rate limit exceeded: the client sent more frames (control frames included) or bytes than its allowance"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && s.room == nil {
		return closedHelloTimeout, "no hello within " + s.hub.cfg.HelloTimeout.String()
	}
	if errors.As(err, &ne) && ne.Timeout() && s.heartbeat > 0 {
		return closedHeartbeatTimeout, heartbeatText(s.heartbeat)
	}
	return closedByClient, err.Error()
}

// writePump writes what the queue holds until it is empty, then
// returns; the queue starts a new pump for the next message. The frames
// waiting are written together, in one system call where the socket takes
// them. The pump that finds a farewell writes it, closes the connection
// and closes queue.finished.
func (s *session) writePump() {
	raw := s.conn.NetConn()
	var batch, bufs [][]byte
	for {
		msgs, partial, ping, bye := s.queue.take(batch)
		if len(msgs) == 0 && !ping && bye == nil {
			return
		}
		batch = msgs
		var rest []byte // the end of a frame begun, owed before the farewell
		if bye != nil {
			// A closed queue keeps only the end of a frame that a direct
			// write began.
			for _, b := range msgs {
				rest = append(rest, b...)
			}
		} else {
			var pingID uint64
			if ping {
				var f []byte
				f, pingID = s.pingFrame()
				msgs = append(msgs, f)
			}
			var err error
			bufs = append(bufs[:0], msgs...) // write consumes bufs; msgs stays whole
			if rest, err = s.write(raw, msgs, bufs, partial); err != nil {
				s.writeFailed(err)
				bye = s.queue.farewell()
			} else if ping {
				s.pinged(pingID)
			}
		}
		clear(batch)
		clear(bufs)
		if bye != nil {
			// The queue's reason, not bye's: a write that failed because
			// the room dropped a slow consumer finds the queue closed
			// already, for that reason.
			s.hub.metrics.sessionClosed(s.queue.reason())
			s.writeFarewell(rest, bye)
			s.conn.Close()
			s.wake() // a read pump waiting in the hub's poller learns of the close
			close(s.queue.finished)
			return
		}
	}
}

// write writes msgs to raw, consuming bufs, a copy of msgs; partial says
// that msgs[0] is the end of a frame begun. The deadline moves on while the socket takes bytes: a
// client that reads slowly but steadily is held to the queue's bounds,
// not to a time. Only a socket that takes nothing for
// Config.SlowConsumerLag times out. On failure, write returns the part of
// a frame it did not write, if it stopped inside one.
func (s *session) write(raw net.Conn, msgs, bufs [][]byte, partial bool) (rest []byte, err error) {
	nb := net.Buffers(bufs)
	var total int64
	for len(nb) > 0 {
		_ = raw.SetWriteDeadline(time.Now().Add(s.hub.cfg.SlowConsumerLag))
		var n int64
		n, err = nb.WriteTo(raw)
		total += n
		if err == nil {
			return nil, nil
		}
		var ne net.Error
		if n == 0 || !errors.As(err, &ne) || !ne.Timeout() || s.queue.farewell() != nil {
			break
		}
	}
	return unwritten(msgs, partial, total), err
}

// unwritten returns the unwritten end of the frame of msgs that the n-th
// byte falls in, or nil if n is at a frame boundary. With partial, msgs[0]
// is itself the end of a frame: none of it is a boundary but its end.
func unwritten(msgs [][]byte, partial bool, n int64) []byte {
	for i, b := range msgs {
		if n < int64(len(b)) {
			if n == 0 && (i > 0 || !partial) {
				return nil
			}
			return b[n:]
		}
		n -= int64(len(b))
	}
	return nil
}

// writeFailed closes the queue after a failed write: as a slow consumer
// when the socket took nothing for Config.SlowConsumerLag, and otherwise
// as a connection the client dropped.
func (s *session) writeFailed(err error) {
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		s.queue.close(closedByClient, "", 0)
		return
	}
	s.dropSlow(fmt.Sprintf("the client read nothing for %v: dropped as a slow consumer", s.hub.cfg.SlowConsumerLag))
}

// writeFarewell writes the end of a frame begun, if any, then the Error
// message and close frame of bye (or, for a client that closed, the echo
// of its close), and waits briefly for the client's answer. A slow
// consumer gets writeWait rather than closeWait to read them: its client
// may be slow rather than gone, and should learn why it was dropped.
func (s *session) writeFarewell(rest []byte, bye *farewell) {
	s.queue.leave()
	raw := s.conn.NetConn()
	wait := closeWait
	if bye.reason == closedSlowConsumer || len(rest) > 0 {
		wait = writeWait
	}
	deadline := time.Now().Add(wait)
	_ = raw.SetWriteDeadline(deadline)
	frames := net.Buffers{rest}
	if bye.msg != nil {
		code := bye.reason.code()
		frames = append(frames, bye.msg, closeFrame(code, code.String()))
	} else {
		frames = append(frames, closeFrame(protocol.CodeNormal, ""))
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
	if s.clientClosed.Load() {
		return // the client said goodbye: it sends nothing more
	}
	// The read pump stopped on something the client sent (a flood, a
	// protocol error), or never ran: the client may still be sending.
	// Closing a socket with unread data resets the connection, which
	// discards a farewell still in the kernel's queue, so what comes is
	// read and dropped until the client falls silent for drainIdle,
	// closes, or the deadline passes. gorilla's reader keeps its first
	// error, so the bytes are read below it.
	raw := s.conn.NetConn()
	var buf [512]byte
	for {
		idle := time.Now().Add(drainIdle)
		if idle.After(deadline) {
			idle = deadline
		}
		_ = raw.SetReadDeadline(idle)
		if _, err := raw.Read(buf[:]); err != nil {
			return
		}
	}
}

// drainIdle is how long a client that the server refused must be silent
// before its connection is closed; see awaitClose.
const drainIdle = 50 * time.Millisecond

// abort interrupts a write in progress, for a session dropped as a slow
// consumer whose write pump may be stuck on a full socket buffer. The
// pump then writes the end of the frame it was in, and the farewell.
func (s *session) abort() { s.queue.abort() }
