package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
	"github.com/flowstate/flowstate/sync/internal/readbuf"
)

// Client defaults.
const (
	// DefaultMinBackoff is the first delay before a reconnection attempt.
	DefaultMinBackoff = 250 * time.Millisecond
	// DefaultMaxBackoff caps the delay between reconnection attempts.
	DefaultMaxBackoff = 30 * time.Second
	// DefaultMaxMessageSize is the largest server message a client
	// accepts; a Welcome carries a whole document.
	DefaultMaxMessageSize = 64 << 20
	// presenceRefresh is how often a client resends its presence, well
	// inside the server's 30-second presence timeout.
	presenceRefresh = 15 * time.Second
	// handshakeTimeout bounds connecting and waiting for the Welcome.
	handshakeTimeout = 10 * time.Second
	// tryLaterBackoff is the least delay before reconnecting after 1013
	// (try again later), unless MaxBackoff is smaller.
	tryLaterBackoff = time.Second
	// DefaultHeartbeat is the heartbeat interval a client asks for: with
	// it, a dead connection is noticed within 25 s (2.5 intervals,
	// PROTOCOL.md §10).
	DefaultHeartbeat = 10 * time.Second
)

// Errors reported by a Client.
var (
	// ErrClosed is returned by a Client's methods after Close.
	ErrClosed = errors.New("sync: client closed")
	// ErrDeadConnection ended a connection on which the server left a
	// heartbeat unanswered for an interval: the client closed it and
	// reconnects (Options.OnDisconnect reports it).
	ErrDeadConnection = errors.New("sync: no answer to the heartbeat: the connection is dead")
)

// Options configures Dial. The zero value selects every default.
type Options struct {
	// Doc is the local replica to keep in sync. Nil means a new empty
	// document with a random client ID. The Client owns it from Dial on:
	// reach it only through Edit and Read.
	Doc *crdt.Doc

	// Token is sent in the Hello, for servers that require one.
	Token string

	// TokenFunc, if set, is called before every connection, the first and
	// each reconnection, for the token to send instead of Token. With it,
	// a token that expires (close code 4408) makes the client reconnect
	// with a fresh one; without it, 4408 ends the client like a permanent
	// code, as the same token would be refused again. An error from it
	// counts as a failed connection attempt: Dial returns it, and later
	// attempts back off and retry.
	TokenFunc func(ctx context.Context) (string, error)

	// Header holds extra HTTP headers for the WebSocket handshake.
	Header http.Header

	// TLSConfig, if set, configures the TLS of wss:// connections, for
	// a server whose certificate the system does not trust (a private
	// CA, or a self-signed certificate). Nil means the defaults.
	TLSConfig *tls.Config

	// MinBackoff and MaxBackoff bound the delay between reconnection
	// attempts, which doubles from MinBackoff up to MaxBackoff, each delay
	// randomised by ±50 %. With DialAny the delay comes before each round
	// of the URLs, not between its attempts. Zero means DefaultMinBackoff
	// and DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration

	// MaxMessageSize is the largest message accepted from the server. Zero
	// means DefaultMaxMessageSize (64 MiB).
	MaxMessageSize int

	// OnRemoteUpdate, if set, is called after each message of remote
	// updates has been applied, with the document. It runs with the
	// client's lock held: it must not call the Client's methods.
	OnRemoteUpdate func(doc *crdt.Doc)

	// OnStatus, if set, is called on every change of Status, with the
	// client's lock held: it must not call the Client's methods.
	OnStatus func(Status)

	// OnDisconnect, if set, is called with the error that ended each
	// joined connection (ErrDeadConnection for one the heartbeat found
	// dead), before the client reconnects or stops. It runs in the
	// client's connection loop, without the lock: it may call the
	// Client's methods, but not Close.
	OnDisconnect func(error)

	// Heartbeat is the heartbeat interval the client asks for in its
	// Hello (PROTOCOL.md §10): it sends something at least that often,
	// and takes the connection as dead, closes it and reconnects when an
	// echo request stays unanswered for that long, at most 2.5 intervals
	// after it last heard from the server. Zero means DefaultHeartbeat; a
	// negative value turns the heartbeat off. Otherwise it must lie
	// between protocol.MinHeartbeatMillis and MaxHeartbeatMillis
	// milliseconds. Against a server of an older protocol version, which
	// refuses the client's Hello of version 5 with 4001, the client falls
	// back to the version below; at version 1 it has no heartbeat.
	Heartbeat time.Duration
}

// Status is the state of a Client's connection.
type Status int

// The statuses a Client goes through.
const (
	StatusConnecting Status = iota // dialing or handshaking
	StatusConnected                // joined, sending the server what it lacks
	StatusSynced                   // joined, and every local edit acknowledged
	StatusOffline                  // waiting to reconnect
	StatusClosed                   // closed by Close or by a permanent error
)

var statusNames = [...]string{"connecting", "connected", "synced", "offline", "closed"}

// String returns the status's name, such as "synced".
func (s Status) String() string { return statusNames[s] }

// A Client keeps a local document in sync with one room of a FlowState
// server. Local edits (Edit) apply at once and are sent when connected;
// remote updates apply as they arrive. When the connection drops, the
// client reconnects with jittered exponential backoff, and the handshake
// resends everything the server lacks, including edits made offline and
// updates sent but never acknowledged. A Client is safe for concurrent use.
type Client struct {
	urls  []string // the room's URL on each node, in the order tried
	next  int      // index in urls of the next attempt; owned by the connection loop
	room  string
	opts  Options
	stop  chan struct{} // closed by Close
	done  chan struct{} // closed when the connection loop ends
	close sync.Once
	// later is the delay before the next reconnection after 1013, which
	// a Welcome does not reset, as the server may answer 1013 only after
	// it; an Ack does. Owned by the connection loop.
	later time.Duration

	mu sync.Mutex
	// mu guards the fields below, and all writes to conn: gorilla allows
	// one writer at a time.
	url      string // the URL of the current or last connection attempt
	doc      *crdt.Doc
	conn     *websocket.Conn // nil unless joined
	status   Status
	err      error  // the permanent error that ended the client
	seq      uint64 // last Update seq sent on conn
	unacked  bool   // local edits the server has not acknowledged
	presence []byte // local presence state, encoded
	peers    map[uint64][]byte
	changed  chan struct{} // closed on the next change; nil until someone waits

	// The heartbeat of conn (PROTOCOL.md §10): version is the protocol
	// version of the next Hello, lowered each time a server refuses one.
	version uint64
	// The bases of the Patches of conn (version 5, PROTOCOL.md §4.8):
	// the last update sent, and the last received.
	upBase, downBase []byte
	sentAt           time.Time       // when conn last took a message
	heardAt          time.Time       // when conn last brought one
	echoID           uint64          // the last echo request's number
	echoAt           time.Time       // when the unanswered echo request went; zero if none
	deadConn         *websocket.Conn // a connection the heartbeat found dead
}

// Dial connects to a room at rawURL (ws://host:port/ws/ROOM or wss://…),
// performs the handshake and returns once the document has caught up with
// the server. After that the client stays in sync in the background until
// Close. Dial fails if the first connection fails.
func Dial(ctx context.Context, rawURL string, opts *Options) (*Client, error) {
	return DialAny(ctx, []string{rawURL}, opts)
}

// DialAny is Dial for a room served by several nodes: urls holds the
// room's URL on each of them, all naming the same room. It tries them in
// order and returns once one has joined; Dial fails only when each has
// failed once, or at the first permanent error, which every node would
// repeat. When a connection fails or is lost, the client moves on to the
// next URL, round-robin, and backs off only between full rounds of them,
// not between nodes. It starts at the first URL, so that a caller may
// put the nearest node first; callers that want their clients spread
// over the nodes shuffle or rotate the list.
func DialAny(ctx context.Context, urls []string, opts *Options) (*Client, error) {
	if len(urls) == 0 {
		return nil, errors.New("sync: dial: no URL")
	}
	room := ""
	for i, rawURL := range urls {
		u, err := url.Parse(rawURL)
		if err != nil {
			return nil, fmt.Errorf("sync: dial: %w", err)
		}
		if r := path.Base(u.Path); i == 0 {
			room = r
		} else if r != room {
			return nil, fmt.Errorf("sync: dial: %s and %s name different rooms", urls[0], rawURL)
		}
	}
	c := &Client{
		urls:  slices.Clone(urls),
		url:   urls[0],
		room:  room,
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
		peers: make(map[uint64][]byte),
	}
	if opts != nil {
		c.opts = *opts
	}
	setDefault(&c.opts.MinBackoff, DefaultMinBackoff)
	setDefault(&c.opts.MaxBackoff, DefaultMaxBackoff)
	setDefault(&c.opts.MaxMessageSize, DefaultMaxMessageSize)
	if c.opts.Heartbeat == 0 {
		c.opts.Heartbeat = DefaultHeartbeat
	}
	if hb := c.opts.Heartbeat; hb > 0 && (hb%time.Millisecond != 0 || !protocol.ValidHeartbeat(uint64(hb/time.Millisecond))) {
		return nil, fmt.Errorf("sync: dial: a heartbeat of %v: want %d to %d ms, in whole milliseconds", hb, protocol.MinHeartbeatMillis, protocol.MaxHeartbeatMillis)
	}
	c.version = protocol.Version
	c.doc = c.opts.Doc
	if c.doc == nil {
		c.doc = crdt.NewDoc()
	}
	conn, err := c.round(ctx)
	if err != nil {
		return nil, err
	}
	go c.loop(conn)
	go c.keepAlive()
	return c, nil
}

// ClientID returns the client ID of the local document.
func (c *Client) ClientID() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return uint64(c.doc.ClientID())
}

// Edit runs fn on the local document as one transaction and sends the
// resulting update, or keeps it for the next connection when offline.
// fn must not keep doc.
func (c *Client) Edit(fn func(doc *crdt.Doc) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status == StatusClosed {
		return ErrClosed
	}
	update, err := c.doc.Transact(func() error { return fn(c.doc) })
	if len(update) == 0 {
		return err
	}
	c.unacked = true
	if c.status == StatusSynced {
		c.setStatusLocked(StatusConnected)
	}
	if c.conn != nil {
		c.sendLocked(update)
	}
	return err
}

// Read runs fn with the local document. fn must not modify or keep doc.
func (c *Client) Read(fn func(doc *crdt.Doc)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fn(c.doc)
}

// Text returns the current content of the named text.
func (c *Client) Text(name string) string {
	var s string
	c.Read(func(d *crdt.Doc) { s = d.Text(name).String() })
	return s
}

// Status returns the state of the connection.
func (c *Client) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// URL returns the URL of the current connection, or of the last attempt
// when there is none: with DialAny, the node the client is on.
func (c *Client) URL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.url
}

// Err returns the permanent error that closed the client, if any.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Changed returns a channel that is closed at the next change of the
// document, the status or the presence of others.
func (c *Client) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changedLocked()
}

// changedLocked returns the channel the next change closes, making it if
// nobody waits yet: most changes have no waiter, and then cost nothing.
func (c *Client) changedLocked() chan struct{} {
	if c.changed == nil {
		c.changed = make(chan struct{})
	}
	return c.changed
}

// WaitSynced waits until the client is connected and the server has
// acknowledged every local edit, or ctx ends, or the client closes.
func (c *Client) WaitSynced(ctx context.Context) error {
	for {
		c.mu.Lock()
		status, err, ch := c.status, c.err, c.changedLocked()
		c.mu.Unlock()
		switch {
		case status == StatusSynced:
			return nil
		case err != nil:
			return err
		case status == StatusClosed:
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// SetPresence sets this client's presence state (a name, a colour, a
// cursor: any value msgpack can encode; nil clears it) and sends it to the
// room. The client resends it periodically so that it does not expire.
func (c *Client) SetPresence(state any) error {
	var b []byte
	if state != nil {
		var err error
		if b, err = msgpack.Marshal(state); err != nil {
			return fmt.Errorf("sync: presence: %w", err)
		}
		if len(b) > protocol.MaxPresenceBytes {
			return fmt.Errorf("sync: presence state of %d bytes exceeds %d", len(b), protocol.MaxPresenceBytes)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status == StatusClosed {
		return ErrClosed
	}
	c.presence = b
	if c.conn != nil {
		c.sendPresenceLocked()
	}
	return nil
}

// Presence returns the presence states of the other clients in the room,
// by client ID, each as the msgpack bytes its client set.
func (c *Client) Presence() map[uint64][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[uint64][]byte, len(c.peers))
	for id, b := range c.peers {
		out[id] = b
	}
	return out
}

// Close ends the connection and stops reconnecting. Local edits the server
// has not acknowledged stay in the document only.
func (c *Client) Close() error {
	c.close.Do(func() {
		close(c.stop)
		c.mu.Lock()
		if c.conn != nil {
			_ = c.conn.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			_ = c.conn.Close()
		}
		c.setStatusLocked(StatusClosed)
		c.mu.Unlock()
	})
	<-c.done
	return nil
}

// round tries each URL once, from c.next on, until one joins; c.next
// then names the URL after it, where the next round starts when this
// connection is lost. It stops at a permanent error, or when ctx ends.
// The error of a failed round is the last attempt's.
func (c *Client) round(ctx context.Context) (*websocket.Conn, error) {
	// One token serves the round: its attempts follow each other at once.
	token := c.opts.Token
	if c.opts.TokenFunc != nil {
		var err error
		if token, err = c.opts.TokenFunc(ctx); err != nil {
			return nil, fmt.Errorf("sync: token: %w", err)
		}
	}
	var err error
	for range c.urls {
		rawURL := c.urls[c.next]
		c.next = (c.next + 1) % len(c.urls)
		var conn *websocket.Conn
		if conn, err = c.connect(ctx, rawURL, token); err == nil {
			return conn, nil
		}
		// An expired token would be refused by every node: the next
		// round asks TokenFunc for a fresh one.
		var se *ServerError
		if errors.As(err, &se) || errors.Is(err, ErrClosed) || ctx.Err() != nil || hasCode(err, protocol.CodeTokenExpired) {
			return nil, err
		}
	}
	return nil, err
}

// connect dials rawURL, says hello, applies the Welcome and sends the
// server what it lacks. On success the client is joined and conn is
// current.
func (c *Client) connect(ctx context.Context, rawURL, token string) (*websocket.Conn, error) {
	c.mu.Lock()
	c.url = rawURL
	c.setStatusLocked(StatusConnecting)
	hello := &protocol.Hello{
		Version:     c.version,
		Room:        c.room,
		Client:      uint64(c.doc.ClientID()),
		Token:       token,
		StateVector: c.doc.StateVector().Encode(),
	}
	if c.version >= 2 && c.opts.Heartbeat > 0 {
		hello.HeartbeatMillis = uint64(c.opts.Heartbeat / time.Millisecond)
	}
	if c.version >= 4 {
		// The document reads every format package crdt writes, rich
		// text included (PROTOCOL.md §6.2).
		hello.Format = crdt.NewestVersion
	}
	c.mu.Unlock()

	conn, err := c.handshake(ctx, rawURL, hello)
	var se *ServerError
	for errors.As(err, &se) && se.Code == protocol.CodeUnsupportedVersion && hello.Version > 1 {
		// A server of an older version: say hello again in the version
		// below (version 1 has no heartbeat), and keep to the version it
		// accepts (PROTOCOL.md §11).
		hello.Version--
		if hello.Version < 4 {
			hello.Format = 0 // older Hellos name no format: they read format 1
		}
		if hello.Version == 1 {
			hello.HeartbeatMillis = 0
		}
		c.mu.Lock()
		c.version = hello.Version
		c.mu.Unlock()
		conn, err = c.handshake(ctx, rawURL, hello)
	}
	return conn, err
}

// handshake dials, sends hello, applies the Welcome and sends the server
// what it lacks. On success the client is joined and conn is current.
func (c *Client) handshake(ctx context.Context, rawURL string, hello *protocol.Hello) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	// gorilla bounds the handshake by ctx's deadline only: close the
	// socket when ctx ends, so that Close interrupts a hanging handshake
	// or Welcome.
	var (
		netMu     sync.Mutex
		netConn   net.Conn // the socket being handshaken
		cancelled bool     // ctx ended: close any socket at once
	)
	stop := context.AfterFunc(ctx, func() {
		netMu.Lock()
		defer netMu.Unlock()
		cancelled = true
		if netConn != nil {
			netConn.Close()
		}
	})
	defer stop()
	dialer := websocket.Dialer{
		HandshakeTimeout: handshakeTimeout, ReadBufferSize: 1024, WriteBufferSize: 1024,
		TLSClientConfig: c.opts.TLSConfig,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			netMu.Lock()
			defer netMu.Unlock()
			if cancelled { // ctx ended while the dial returned
				nc.Close()
				return nil, context.Canceled
			}
			netConn = nc
			return nc, nil
		},
	}
	conn, resp, err := dialer.DialContext(ctx, rawURL, c.opts.Header)
	if err != nil {
		if errors.Is(err, websocket.ErrBadHandshake) && resp != nil {
			err = refusal(resp)
		}
		return nil, fmt.Errorf("sync: dial %s: %w", rawURL, err)
	}
	conn.SetReadLimit(int64(c.opts.MaxMessageSize))
	fail := func(err error) (*websocket.Conn, error) {
		conn.Close()
		return nil, err
	}
	b, err := protocol.Encode(hello)
	if err != nil {
		return fail(err)
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetWriteDeadline(deadline)
	if err := conn.WriteMessage(websocket.BinaryMessage, b); err != nil {
		return fail(fmt.Errorf("sync: send hello: %w", err))
	}
	_ = conn.SetReadDeadline(deadline)
	m, err := c.readMessage(conn)
	if err != nil {
		return fail(err)
	}
	w, ok := m.(*protocol.Welcome)
	if !ok {
		return fail(fmt.Errorf("sync: expected welcome, got %s", m.Type()))
	}
	serverSV, err := crdt.DecodeStateVector(w.StateVector)
	if err != nil {
		return fail(fmt.Errorf("sync: welcome: %w", err))
	}
	_ = conn.SetReadDeadline(time.Time{})

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status == StatusClosed {
		return fail(ErrClosed)
	}
	if err := c.doc.Apply(w.Update); err != nil {
		return fail(fmt.Errorf("sync: welcome: %w", err))
	}
	if c.opts.OnRemoteUpdate != nil {
		c.opts.OnRemoteUpdate(c.doc)
	}
	c.conn, c.seq = conn, 0
	c.upBase, c.downBase = nil, nil
	c.sentAt, c.heardAt, c.echoAt = time.Now(), time.Now(), time.Time{}
	c.setStatusLocked(StatusConnected)
	if c.unacked || ahead(c.doc.StateVector(), serverSV) {
		// The diff holds every local edit the server has not seen,
		// acknowledged or not, and the whole delete set.
		c.unacked = true
		c.sendLocked(c.doc.Diff(serverSV))
	} else {
		c.setStatusLocked(StatusSynced)
	}
	if c.presence != nil {
		c.sendPresenceLocked()
	}
	return conn, nil
}

// ahead reports whether sv holds changes that server lacks.
func ahead(sv, server crdt.StateVector) bool {
	for id, clock := range sv {
		if clock > server[id] {
			return true
		}
	}
	return false
}

// loop reads from conn until it fails, then reconnects, until Close or a
// permanent error.
func (c *Client) loop(conn *websocket.Conn) {
	defer close(c.done)
	for {
		err := c.readLoop(conn)
		c.mu.Lock()
		if c.conn == conn {
			c.conn = nil
		}
		if c.deadConn == conn {
			c.deadConn = nil
			err = ErrDeadConnection
		}
		var se *ServerError
		if errors.As(err, &se) {
			c.err = se
			c.setStatusLocked(StatusClosed)
		}
		closed := c.status == StatusClosed
		if !closed {
			c.setStatusLocked(StatusOffline)
		}
		c.mu.Unlock()
		conn.Close()
		if c.opts.OnDisconnect != nil {
			c.opts.OnDisconnect(err)
		}
		if closed {
			return
		}
		delay := c.opts.MinBackoff
		if tryLater(err) {
			c.later = min(max(2*c.later, tryLaterBackoff, c.opts.MinBackoff), c.opts.MaxBackoff)
			delay = c.later
		}
		if conn = c.reconnect(delay); conn == nil {
			return
		}
	}
}

// reconnect runs rounds of the URLs until one joins, backing off between
// rounds from delay on. It returns nil after Close or a permanent error.
func (c *Client) reconnect(delay time.Duration) *websocket.Conn {
	for {
		jittered := time.Duration(float64(delay) * (0.5 + rand.Float64()))
		select {
		case <-c.stop:
			return nil
		case <-time.After(jittered):
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-c.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		conn, err := c.round(ctx)
		cancel()
		if err == nil {
			return conn
		}
		var se *ServerError
		if errors.As(err, &se) || errors.Is(err, ErrClosed) {
			c.mu.Lock()
			if se != nil {
				c.err = se
			}
			c.setStatusLocked(StatusClosed)
			c.mu.Unlock()
			return nil
		}
		c.mu.Lock()
		c.setStatusLocked(StatusOffline)
		c.mu.Unlock()
		delay = min(delay*2, c.opts.MaxBackoff)
	}
}

// readLoop handles the server's messages on a joined connection.
func (c *Client) readLoop(conn *websocket.Conn) error {
	for {
		m, err := c.readMessage(conn)
		if err != nil {
			return err
		}
		c.mu.Lock()
		// Any message answers an echo request: the server hears us.
		c.heardAt, c.echoAt = time.Now(), time.Time{}
		if p, ok := m.(*protocol.Patch); ok {
			u, err := c.unpatchLocked(p)
			if err != nil {
				c.mu.Unlock()
				return err
			}
			m = &protocol.Update{Seq: p.Seq, Updates: [][]byte{u}}
		}
		switch m := m.(type) {
		case *protocol.Update:
			if n := len(m.Updates); n > 0 && c.version >= 5 {
				c.downBase = protocol.Base(m.Updates[n-1])
			}
			for _, u := range m.Updates {
				if err := c.doc.Apply(u); err != nil {
					c.mu.Unlock()
					return fmt.Errorf("sync: remote update: %w", err)
				}
			}
			if c.opts.OnRemoteUpdate != nil {
				c.opts.OnRemoteUpdate(c.doc)
			}
			// Version 3: a relay may carry an acknowledgement
			// (PROTOCOL.md §4.3); older servers always send 0.
			if m.Seq > 0 && c.version >= 3 {
				c.ackedLocked(conn, m.Seq)
			}
			c.notifyLocked()
		case *protocol.Ack:
			c.ackedLocked(conn, m.Seq)
		case *protocol.Presence:
			self := uint64(c.doc.ClientID())
			for _, e := range m.Entries {
				switch {
				case e.Client == self:
				case len(e.State) == 0:
					delete(c.peers, e.Client)
				default:
					c.peers[e.Client] = e.State
				}
			}
			c.notifyLocked()
		}
		c.mu.Unlock()
	}
}

// ackedLocked handles an acknowledgement of the Updates of conn up to
// seq, from an Ack or a relay. c.mu must be held.
func (c *Client) ackedLocked(conn *websocket.Conn, seq uint64) {
	c.later = 0
	if c.conn == conn && seq >= c.seq && c.unacked {
		c.unacked = false
		c.setStatusLocked(StatusSynced)
	}
}

// readMessage reads and decodes one message. An Error message, which the
// server sends just before closing, comes back as an error: a *ServerError
// when its code is permanent.
func (c *Client) readMessage(conn *websocket.Conn) (protocol.Message, error) {
	kind, r, err := conn.NextReader()
	if err != nil {
		var ce *websocket.CloseError
		if errors.As(err, &ce) && c.permanent(protocol.Code(ce.Code)) {
			return nil, &ServerError{Code: protocol.Code(ce.Code), Message: ce.Text}
		}
		return nil, err
	}
	if kind != websocket.BinaryMessage {
		return nil, errors.New("sync: server sent a text frame")
	}
	buf := readbuf.Get()
	defer readbuf.Put(buf)
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	m, err := protocol.Decode(buf.Bytes()) // copies what it keeps
	if err != nil {
		return nil, err
	}
	if e, ok := m.(*protocol.Error); ok {
		if c.permanent(e.Code) {
			return nil, &ServerError{Code: e.Code, Message: e.Message}
		}
		return nil, &codeError{code: e.Code, msg: e.Message}
	}
	return m, nil
}

// A codeError is an Error message of a code that is not permanent.
type codeError struct {
	code protocol.Code
	msg  string
}

func (e *codeError) Error() string {
	return fmt.Sprintf("sync: server error %d %s: %s", e.code, e.code, e.msg)
}

// tryLater reports whether err ended a connection with 1013: the server
// cannot take the client's updates now, and reconnecting at once would
// only be refused again.
func tryLater(err error) bool {
	return hasCode(err, protocol.CodeTryAgainLater)
}

// hasCode reports whether err ended a connection with code, by a close
// frame or an Error message that is not permanent.
func hasCode(err error, code protocol.Code) bool {
	var ce *websocket.CloseError
	var e *codeError
	return errors.As(err, &ce) && protocol.Code(ce.Code) == code ||
		errors.As(err, &e) && e.code == code
}

// permanent reports whether code ends the client: a permanent code, or
// 4408 when the client has no way to get a fresh token.
func (c *Client) permanent(code protocol.Code) bool {
	return code.Permanent() || code == protocol.CodeTokenExpired && c.opts.TokenFunc == nil
}

// unpatchLocked returns the update a Patch from the server stands for
// (PROTOCOL.md §4.8).
func (c *Client) unpatchLocked(p *protocol.Patch) ([]byte, error) {
	if c.version < 5 {
		return nil, fmt.Errorf("sync: a patch on a connection of protocol version %d", c.version)
	}
	// No larger than a message the client would read whole.
	u, err := p.Apply(c.downBase, c.opts.MaxMessageSize)
	if err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	return u, nil
}

// sendLocked sends one update as the next Update message, or on a
// version 5 connection as a Patch against the update sent before it
// where that is smaller. A failed write closes the connection; the read
// loop then reconnects and resyncs.
func (c *Client) sendLocked(update []byte) {
	c.seq++
	var m protocol.Message = &protocol.Update{Seq: c.seq, Updates: [][]byte{update}}
	if c.version >= 5 && c.upBase != nil {
		if p := protocol.MakePatch(c.upBase, update); p.Smaller(len(update), c.seq) {
			m = p
		}
	}
	b, err := protocol.Encode(m)
	if err != nil {
		return
	}
	if c.version >= 5 {
		c.upBase = protocol.Base(update)
	}
	c.writeLocked(b)
}

func (c *Client) sendPresenceLocked() {
	b, err := protocol.Encode(&protocol.Presence{Entries: []protocol.PresenceEntry{{Client: uint64(c.doc.ClientID()), State: c.presence}}})
	if err != nil {
		return
	}
	c.writeLocked(b)
}

// writeWait is the time allowed to write one message to the server.
const writeWait = 10 * time.Second

func (c *Client) writeLocked(b []byte) {
	_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
	if err := c.conn.WriteMessage(websocket.BinaryMessage, b); err != nil {
		_ = c.conn.Close()
		c.conn = nil
		return
	}
	c.sentAt = time.Now()
}

// keepAlive resends the presence state so that it does not expire, and
// runs the heartbeat, checking it four times per interval.
func (c *Client) keepAlive() {
	presence := time.NewTicker(presenceRefresh)
	defer presence.Stop()
	var beat <-chan time.Time
	if c.opts.Heartbeat > 0 {
		t := time.NewTicker(c.opts.Heartbeat / 4)
		defer t.Stop()
		beat = t.C
	}
	for {
		select {
		case <-c.done:
			return
		case <-presence.C:
			c.mu.Lock()
			if c.conn != nil && c.presence != nil {
				c.sendPresenceLocked()
			}
			c.mu.Unlock()
		case now := <-beat:
			c.mu.Lock()
			c.heartbeatLocked(now)
			c.mu.Unlock()
		}
	}
}

// heartbeatLocked does what the heartbeat asks at now (PROTOCOL.md §10):
// close the connection if an echo request went unanswered for an
// interval, else ask for an echo if the server has said nothing for an
// interval, else show the server we are alive if we have said nothing
// for an interval.
func (c *Client) heartbeatLocked(now time.Time) {
	interval := c.opts.Heartbeat
	if c.conn == nil || c.version < 2 {
		return
	}
	switch {
	case !c.echoAt.IsZero() && now.Sub(c.echoAt) >= interval:
		// The read loop fails on the closed socket and reconnects.
		c.deadConn = c.conn
		_ = c.conn.Close()
		c.conn = nil
	case c.echoAt.IsZero() && now.Sub(c.heardAt) >= interval:
		c.echoID++
		c.sendHeartbeatLocked(c.echoID)
		if c.conn != nil {
			c.echoAt = now
		}
	case now.Sub(c.sentAt) >= interval:
		c.sendHeartbeatLocked(0)
	}
}

func (c *Client) sendHeartbeatLocked(id uint64) {
	b, err := protocol.Encode(&protocol.Heartbeat{ID: id})
	if err != nil {
		return
	}
	c.writeLocked(b)
}

func (c *Client) setStatusLocked(s Status) {
	// Closed is final: a connection attempt that Close interrupted must
	// not bring the client back.
	if c.status != s && c.status != StatusClosed {
		c.status = s
		c.notifyLocked()
		if c.opts.OnStatus != nil {
			c.opts.OnStatus(s)
		}
	}
}

func (c *Client) notifyLocked() {
	if c.changed != nil {
		close(c.changed)
		c.changed = nil
	}
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}
