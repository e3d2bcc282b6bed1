package sync_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	stdsync "sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
	"github.com/flowstate/flowstate/store"
	docsync "github.com/flowstate/flowstate/sync"
)

// TestMain fails the run if any test leaves a goroutine behind: every
// server is shut down and every client closed by the tests' cleanups.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// deadline is how long a polling helper waits for something that should
// happen in milliseconds: generous, so that a loaded machine running the
// race detector does not make the tests flaky.
const deadline = 10 * time.Second

// quietLogger discards the server's logs; set FLOWSTATE_TEST_LOG=1 to see
// them.
func quietLogger() *slog.Logger {
	if os.Getenv("FLOWSTATE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// testConfig returns a Config with timeouts small enough for tests.
func testConfig() docsync.Config {
	return docsync.Config{
		HelloTimeout:     time.Second,
		RoomIdleTimeout:  200 * time.Millisecond,
		PresenceInterval: 10 * time.Millisecond,
		Logger:           quietLogger(),
		// Tests that send as fast as they can are not about rate limits;
		// limits_test.go sets them where it tests them.
		RateMessages: -1,
		RateBytes:    -1,
	}
}

// A testServer is a real Server on a loopback port.
type testServer struct {
	t     testing.TB
	srv   *docsync.Server
	st    store.Store
	addr  string
	once  stdsync.Once
	err   error         // Shutdown's result
	serve chan struct{} // closed when Serve returns
}

// startServer serves a new Server with cfg and st (a new Memory if nil) on
// a free loopback port. The test's cleanup shuts it down.
func startServer(t testing.TB, cfg docsync.Config, st *store.Memory) *testServer {
	t.Helper()
	if st == nil {
		st = store.NewMemory()
	}
	return startServerWithStore(t, cfg, st)
}

// startServerWithStore is startServer with any store.
func startServerWithStore(t testing.TB, cfg docsync.Config, st store.Store) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, ln, cfg, st)
}

// startServerAt is startServer on a given address, such as the address of
// a server that was shut down. It retries while the port is not free yet.
func startServerAt(t testing.TB, addr string, cfg docsync.Config, st store.Store) *testServer {
	t.Helper()
	var ln net.Listener
	waitFor(t, deadline, func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	})
	return serveOn(t, ln, cfg, st)
}

func serveOn(t testing.TB, ln net.Listener, cfg docsync.Config, st store.Store) *testServer {
	ts := &testServer{t: t, srv: docsync.NewServer(cfg, st), st: st, addr: ln.Addr().String(), serve: make(chan struct{})}
	go func() {
		defer close(ts.serve)
		if err := ts.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		if err := ts.shutdown(); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return ts
}

// shutdown shuts the server down once and waits for Serve to return.
func (ts *testServer) shutdown() error {
	ts.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		ts.err = ts.srv.Shutdown(ctx)
		<-ts.serve
	})
	return ts.err
}

// url returns the WebSocket URL of room.
func (ts *testServer) url(room string) string { return "ws://" + ts.addr + "/ws/" + room }

// hasSession reports whether the server holds a session whose client end
// is at local.
func (ts *testServer) hasSession(local net.Addr) bool {
	return slices.Contains(docsync.SessionRemotes(ts.srv.Hub()), local.String())
}

// waitFor polls cond until it returns nil, failing the test with cond's
// last error after timeout.
func waitFor(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	end := time.Now().Add(timeout)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(wait)
	}
}

// clientOptions returns ClientOptions with a fast reconnection backoff.
func clientOptions() *docsync.ClientOptions {
	return &docsync.ClientOptions{MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
}

// dial connects a Client to room with opts (clientOptions if nil); the
// test's cleanup closes it.
func dial(t testing.TB, ts *testServer, room string, opts *docsync.ClientOptions) *docsync.Client {
	t.Helper()
	if opts == nil {
		opts = clientOptions()
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	c, err := docsync.Dial(ctx, ts.url(room), opts)
	if err != nil {
		t.Fatalf("Dial %s: %v", room, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// insert appends s to the client's text "body" (or inserts it at pos when
// pos >= 0).
func insert(t testing.TB, c *docsync.Client, pos int, s string) {
	t.Helper()
	err := c.Edit(func(d *crdt.Doc) error {
		p := pos
		if p < 0 {
			p = d.Text("body").Len()
		}
		_, err := d.Text("body").Insert(p, s)
		return err
	})
	if err != nil {
		t.Fatalf("Edit: %v", err)
	}
}

// waitSynced waits until every local edit of c is acknowledged.
func waitSynced(t testing.TB, c *docsync.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := c.WaitSynced(ctx); err != nil {
		t.Fatalf("WaitSynced: %v (status %v)", err, c.Status())
	}
}

// waitText waits until every client's text "body" reads want.
func waitText(t testing.TB, want string, clients ...*docsync.Client) {
	t.Helper()
	waitFor(t, deadline, func() error {
		for i, c := range clients {
			if got := c.Text("body"); got != want {
				return fmt.Errorf("client %d: body = %.60q (%d bytes), want %.60q (%d bytes)", i, got, len(got), want, len(want))
			}
		}
		return nil
	})
}

// waitConverged waits until every client's text "body" is the same, and
// returns it.
func waitConverged(t testing.TB, clients ...*docsync.Client) string {
	t.Helper()
	var text string
	waitFor(t, deadline, func() error {
		text = clients[0].Text("body")
		for i, c := range clients[1:] {
			if got := c.Text("body"); got != text {
				return fmt.Errorf("client %d: body = %.60q (%d bytes), client 0: %.60q (%d bytes)", i+1, got, len(got), text, len(text))
			}
		}
		return nil
	})
	return text
}

// storedDoc rebuilds room's document from what st holds, as a room does
// when it opens.
func storedDoc(t testing.TB, st store.Store, room string) *crdt.Doc {
	t.Helper()
	snapshot, updates, err := st.Load(room)
	if err != nil {
		t.Fatalf("Load %s: %v", room, err)
	}
	d := crdt.NewDoc()
	if len(snapshot) > 0 {
		if err := d.Apply(snapshot); err != nil {
			t.Fatalf("stored snapshot: %v", err)
		}
	}
	for i, u := range updates {
		if err := d.Apply(u); err != nil {
			t.Fatalf("stored update %d: %v", i, err)
		}
	}
	if d.HasPending() {
		t.Errorf("room %s: the stored updates leave changes pending", room)
	}
	return d
}

// A rawClient speaks the protocol by hand over a gorilla connection, for
// tests that send what the Go client never would.
type rawClient struct {
	t    testing.TB
	conn *websocket.Conn
	id   uint64 // client ID sent in the Hello
	doc  *crdt.Doc
	seq  uint64 // last Update seq sent
	// down is the last update the server sent, the base of its next
	// Patch (protocol version 5); patches counts the Patches read.
	down    []byte
	patches int
	up      []byte // the last update sent, the base of the next Patch
}

// dialRaw opens a WebSocket to url and says nothing yet. The test's
// cleanup closes it.
func dialRaw(t testing.TB, url string) *rawClient {
	t.Helper()
	return dialRawWith(t, url, websocket.DefaultDialer)
}

func dialRawWith(t testing.TB, url string, d *websocket.Dialer) *rawClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	conn, _, err := d.DialContext(ctx, url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close() })
	doc := crdt.NewDoc()
	return &rawClient{t: t, conn: conn, id: uint64(doc.ClientID()), doc: doc}
}

// join dials room and completes the handshake with an empty document.
func joinRaw(t testing.TB, ts *testServer, room string) *rawClient {
	t.Helper()
	c := dialRaw(t, ts.url(room))
	c.hello(room)
	return c
}

// hello sends a Hello for room and reads the Welcome, applying it to the
// client's document.
func (c *rawClient) hello(room string) *protocol.Welcome {
	c.t.Helper()
	c.send(&protocol.Hello{Version: protocol.Version, Room: room, Client: c.id, StateVector: c.doc.StateVector().Encode()})
	m := c.read()
	w, ok := m.(*protocol.Welcome)
	if !ok {
		c.t.Fatalf("after hello: got %#v, want a welcome", m)
	}
	if err := c.doc.Apply(w.Update); err != nil {
		c.t.Fatalf("welcome update: %v", err)
	}
	return w
}

// send encodes and sends m.
func (c *rawClient) send(m protocol.Message) {
	c.t.Helper()
	b, err := protocol.Encode(m)
	if err != nil {
		c.t.Fatalf("encode %T: %v", m, err)
	}
	c.sendBytes(b)
}

// sendBytes sends b as one binary message.
func (c *rawClient) sendBytes(b []byte) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(deadline))
	if err := c.conn.WriteMessage(websocket.BinaryMessage, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// sendBytesMayFail sends b as one binary message and ignores a failed
// write: a server that has read enough of a message over its size limit
// closes the connection while the rest is still on its way, and the client
// may then see the connection reset.
func (c *rawClient) sendBytesMayFail(b []byte) {
	_ = c.conn.SetWriteDeadline(time.Now().Add(deadline))
	if err := c.conn.WriteMessage(websocket.BinaryMessage, b); err != nil {
		c.t.Logf("write: %v", err)
	}
}

// sendUpdates sends updates as the next Update message and returns its seq.
func (c *rawClient) sendUpdates(updates ...[]byte) uint64 {
	c.t.Helper()
	c.seq++
	c.send(&protocol.Update{Seq: c.seq, Updates: updates})
	if n := len(updates); n > 0 {
		c.up = updates[n-1]
	}
	return c.seq
}

// edit inserts s at the end of the client's text name and sends the update
// as the next Update message, returning its seq.
func (c *rawClient) edit(name, s string) uint64 {
	c.t.Helper()
	return c.sendUpdates(c.appendText(name, s))
}

// appendText inserts s at the end of the client's text name and returns
// the update, unsent.
func (c *rawClient) appendText(name, s string) []byte {
	c.t.Helper()
	u, err := c.doc.Text(name).Insert(c.doc.Text(name).Len(), s)
	if err != nil {
		c.t.Fatal(err)
	}
	return u
}

// next reads and decodes one message. A Patch comes back as the Update
// it stands for, so that the tests read relays alike in every version.
func (c *rawClient) next() (protocol.Message, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(deadline))
	kind, b, err := c.conn.ReadMessage()
	if err != nil {
		return nil, err
	}
	if kind != websocket.BinaryMessage {
		return nil, fmt.Errorf("got a message of kind %d, want binary", kind)
	}
	m, err := protocol.Decode(b)
	if p, ok := m.(*protocol.Patch); ok {
		u, err := p.Apply(c.down, -1)
		if err != nil {
			return nil, err
		}
		c.patches++
		m = &protocol.Update{Seq: p.Seq, Updates: [][]byte{u}}
	}
	if u, ok := m.(*protocol.Update); ok && len(u.Updates) > 0 {
		c.down = u.Updates[len(u.Updates)-1]
	}
	return m, err
}

// read reads one message, failing the test on an error.
func (c *rawClient) read() protocol.Message {
	c.t.Helper()
	m, err := c.next()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

// waitAck reads until an acknowledgement of seq, in an Ack or (protocol
// version 3) in the seq of a relayed Update, applying the updates that
// arrive on the way, and fails on an Error or an acknowledgement past seq.
func (c *rawClient) waitAck(seq uint64) {
	c.t.Helper()
	for {
		switch m := c.read().(type) {
		case *protocol.Ack:
			if m.Seq == seq {
				return
			}
			if m.Seq > seq {
				c.t.Fatalf("ack %d, waiting for %d", m.Seq, seq)
			}
		case *protocol.Update:
			for _, u := range m.Updates {
				if err := c.doc.Apply(u); err != nil {
					c.t.Fatalf("relayed update: %v", err)
				}
			}
			if m.Seq == seq {
				return
			}
			if m.Seq > seq {
				c.t.Fatalf("ack %d in a relay, waiting for %d", m.Seq, seq)
			}
		case *protocol.Error:
			c.t.Fatalf("waiting for ack %d: error %d %s: %q", seq, m.Code, m.Code, m.Message)
		}
	}
}

// expectClosed reads until the server ends the session. It requires an
// Error message with code, then a close frame with code, and returns the
// Error.
func (c *rawClient) expectClosed(code protocol.Code) *protocol.Error {
	c.t.Helper()
	var got *protocol.Error
	for {
		m, err := c.next()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) {
				c.t.Fatalf("want close code %d (%s): %v", code, code, err)
			}
			if ce.Code != int(code) {
				c.t.Fatalf("close code %d %q, want %d (%s)", ce.Code, ce.Text, code, code)
			}
			if got == nil {
				c.t.Fatalf("closed with %d without an Error message first", code)
			}
			return got
		}
		if e, ok := m.(*protocol.Error); ok {
			if got != nil {
				c.t.Fatalf("second error %+v after %+v", e, got)
			}
			if e.Code != code {
				c.t.Fatalf("error %d (%s) %q, want %d (%s)", e.Code, e.Code, e.Message, code, code)
			}
			got = e
		} else if got != nil {
			c.t.Fatalf("%s message after the error", m.Type())
		}
	}
}

// flood inserts chunk into the text "flood" and deletes it again, in two
// updates: every insert travels, but the document stays small.
func flood(t *testing.T, writer *docsync.Client, chunk string) {
	t.Helper()
	if err := writer.Edit(func(d *crdt.Doc) error {
		_, err := d.Text("flood").Insert(0, chunk)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := writer.Edit(func(d *crdt.Doc) error {
		_, err := d.Text("flood").Delete(0, len(chunk))
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// clusterWait is how long the cluster tests wait for what takes
// milliseconds on an idle machine: JetStream's replication and elections
// slow down a lot on a loaded one.
const clusterWait = 60 * time.Second

// waitTextCluster waits until every client's text "body" is the same
// (and want, unless empty), for up to clusterWait, and returns it.
func waitTextCluster(t *testing.T, want string, clients ...*docsync.Client) string {
	t.Helper()
	var text string
	waitFor(t, clusterWait, func() error {
		text = clients[0].Text("body")
		if want != "" && text != want {
			return fmt.Errorf("client 0: body = %.60q (%d bytes), want %.60q (%d bytes)", text, len(text), want, len(want))
		}
		for i, c := range clients[1:] {
			if got := c.Text("body"); got != text {
				return fmt.Errorf("client %d: body = %.60q (%d bytes), client 0: %.60q (%d bytes)", i+1, got, len(got), text, len(text))
			}
		}
		return nil
	})
	return text
}

// waitSyncedCluster is waitSynced with clusterWait.
func waitSyncedCluster(t *testing.T, c *docsync.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	if err := c.WaitSynced(ctx); err != nil {
		t.Fatalf("WaitSynced: %v (status %v)", err, c.Status())
	}
}
