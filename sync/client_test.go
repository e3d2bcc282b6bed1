package sync_test

import (
	"context"
	"errors"
	"net"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
	docsync "github.com/flowstate/flowstate/sync"
)

func TestClientStatus(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	var mu stdsync.Mutex
	var statuses []docsync.Status
	opts := clientOptions()
	opts.OnStatus = func(s docsync.Status) {
		mu.Lock()
		defer mu.Unlock()
		statuses = append(statuses, s)
	}
	c := dial(t, ts, "status", opts)
	if s := c.Status(); s != docsync.StatusSynced {
		t.Fatalf("after Dial: %v, want synced", s)
	}
	changed := c.Changed()
	insert(t, c, -1, "x")
	select {
	case <-changed:
	default:
		t.Error("Changed was not closed by a local edit")
	}
	waitSynced(t, c)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if s := c.Status(); s != docsync.StatusClosed {
		t.Errorf("after Close: %v", s)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := c.Edit(func(*crdt.Doc) error { return nil }); !errors.Is(err, docsync.ErrClientClosed) {
		t.Errorf("Edit after Close: %v", err)
	}
	if err := c.WaitSynced(context.Background()); !errors.Is(err, docsync.ErrClientClosed) {
		t.Errorf("WaitSynced after Close: %v", err)
	}
	if c.Err() != nil {
		t.Errorf("Err after Close: %v", c.Err())
	}
	mu.Lock()
	defer mu.Unlock()
	want := []docsync.Status{docsync.StatusConnected, docsync.StatusSynced, docsync.StatusConnected, docsync.StatusSynced, docsync.StatusClosed}
	if !equalStatuses(statuses, want) {
		t.Errorf("statuses %v, want %v", statuses, want)
	}
}

func equalStatuses(a, b []docsync.Status) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// OnRemoteUpdate and Changed report remote edits; Read sees them.
func TestClientRemoteUpdates(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	var calls atomic.Int32
	opts := clientOptions()
	opts.OnRemoteUpdate = func(d *crdt.Doc) { calls.Add(1) }
	a := dial(t, ts, "remote", opts)
	b := dial(t, ts, "remote", nil)
	changed := a.Changed()
	insert(t, b, -1, "from b")
	select {
	case <-changed:
	case <-time.After(deadline):
		t.Fatal("Changed not closed by a remote edit")
	}
	waitText(t, "from b", a)
	if calls.Load() < 2 { // the Welcome and the update
		t.Errorf("OnRemoteUpdate called %d times", calls.Load())
	}
	var n int
	a.Read(func(d *crdt.Doc) { n = d.Text("body").Len() })
	if n != len("from b") {
		t.Errorf("Read: length %d", n)
	}
}

// A document given in ClientOptions.Doc is synced both ways on Dial.
func TestClientWithExistingDoc(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	first := dial(t, ts, "existing", nil)
	insert(t, first, -1, "server side.")
	waitSynced(t, first)

	doc := crdt.NewDoc()
	if _, err := doc.Text("body").Insert(0, "local side."); err != nil {
		t.Fatal(err)
	}
	opts := clientOptions()
	opts.Doc = doc
	c := dial(t, ts, "existing", opts)
	if got := c.Text("body"); !strings.Contains(got, "server side.") || !strings.Contains(got, "local side.") {
		t.Fatalf("after Dial: %q", got)
	}
	if c.ClientID() != uint64(doc.ClientID()) {
		t.Errorf("ClientID %d, doc's %d", c.ClientID(), doc.ClientID())
	}
	waitSynced(t, c)
	waitConverged(t, first, c)
}

func TestDialErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if c, err := docsync.Dial(ctx, "ws://"+addr+"/ws/room", nil); err == nil {
		c.Close()
		t.Error("Dial to a closed port succeeded")
	}
	if _, err := docsync.Dial(ctx, "://", nil); err == nil {
		t.Error("Dial of a bad URL succeeded")
	}

	ts := startServer(t, testConfig(), nil)
	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if c, err := docsync.Dial(canceled, ts.url("room"), nil); err == nil {
		c.Close()
		t.Error("Dial with a canceled context succeeded")
	}

	// The server refuses the room "a/b" (escaped in the URL) with 4002,
	// which is permanent: Dial returns a *ServerError.
	_, err = docsync.Dial(ctx, "ws://"+ts.addr+"/ws/a%2Fb", nil)
	var se *docsync.ServerError
	if !errors.As(err, &se) || se.Code != protocol.CodeInvalidRoom {
		t.Errorf("Dial of an invalid room: %v, want a *ServerError with 4002", err)
	}
}

// A permanent error from the server closes the client for good.
func TestClientPermanentError(t *testing.T) {
	cfg := testConfig()
	cfg.MaxMessageSize = 2 << 10
	ts := startServer(t, cfg, nil)
	c := dial(t, ts, "toobig", nil)
	insert(t, c, -1, strings.Repeat("x", 4<<10))
	waitFor(t, deadline, func() error {
		if s := c.Status(); s != docsync.StatusClosed {
			return errors.New("status " + s.String())
		}
		return nil
	})
	var se *docsync.ServerError
	if !errors.As(c.Err(), &se) || se.Code != protocol.CodeMessageTooBig {
		t.Fatalf("Err() = %v, want a *ServerError with 1009", c.Err())
	}
	if se.Error() == "" || !strings.Contains(se.Error(), "1009") {
		t.Errorf("ServerError text %q", se.Error())
	}
	if err := c.WaitSynced(context.Background()); !errors.As(err, &se) {
		t.Errorf("WaitSynced: %v, want the ServerError", err)
	}
	if err := c.Edit(func(*crdt.Doc) error { return nil }); !errors.Is(err, docsync.ErrClientClosed) {
		t.Errorf("Edit: %v, want ErrClientClosed", err)
	}
}

// Close while the client is reconnecting stops it for good: its status is
// closed and it refuses edits.
func TestClientCloseWhileReconnecting(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	c := dial(t, ts, "closing", nil)
	if err := ts.shutdown(); err != nil {
		t.Fatal(err)
	}
	// In the server's place, a listener that accepts connections and never
	// answers, so that the client's next handshake hangs.
	var ln net.Listener
	waitFor(t, deadline, func() error {
		var err error
		ln, err = net.Listen("tcp", ts.addr)
		return err
	})
	accepted := make(chan net.Conn, 64)
	go func() {
		defer close(accepted)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- conn
		}
	}()
	defer func() {
		ln.Close()
		for conn := range accepted {
			conn.Close()
		}
	}()
	select {
	case <-accepted:
	case <-time.After(deadline):
		t.Fatal("the client did not try to reconnect")
	}
	if s := c.Status(); s != docsync.StatusConnecting {
		t.Fatalf("status %v while the handshake hangs, want connecting", s)
	}

	start := time.Now()
	c.Close()
	// Close cancels the hanging handshake rather than waiting for the
	// client's 10-second handshake timeout. The bound is generous.
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v while a handshake hung", d)
	}
	if s := c.Status(); s != docsync.StatusClosed {
		t.Errorf("status after Close = %v, want closed", s)
	}
	if err := c.Edit(func(d *crdt.Doc) error {
		_, err := d.Text("body").Insert(0, "after close")
		return err
	}); !errors.Is(err, docsync.ErrClientClosed) {
		t.Errorf("Edit after Close: %v, want ErrClientClosed", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := c.WaitSynced(ctx); !errors.Is(err, docsync.ErrClientClosed) {
		t.Errorf("WaitSynced after Close: %v, want ErrClientClosed", err)
	}
}

// A client that stops reading is dropped as a slow consumer, reconnects
// once it reads again, and catches up losslessly.
func TestSlowClientResyncs(t *testing.T) {
	cfg := testConfig()
	cfg.QueueLength = 8
	cfg.QueueBytes = 64 << 10
	ts := startServer(t, cfg, nil)

	stall := make(chan struct{})
	var stalled atomic.Bool
	var release stdsync.Once
	resume := func() {
		release.Do(func() {
			stalled.Store(false)
			close(stall)
		})
	}
	opts := clientOptions()
	opts.OnRemoteUpdate = func(*crdt.Doc) {
		if stalled.Load() {
			<-stall
		}
	}
	slow := dial(t, ts, "resync", opts)
	// Before the client's Close, which waits for the callback: a test that
	// fails while the client is stalled must not hang in its cleanup.
	t.Cleanup(resume)
	writer := dial(t, ts, "resync", nil)
	insert(t, slow, -1, "slow;")
	waitText(t, "slow;", writer)

	// The drop, not the end of the session: a dropped slow consumer's
	// session stays for up to writeWait (10 s) to write its farewell to a
	// socket the client does not read, and an unhurried writer floods
	// hundreds of MB meanwhile.
	stalled.Store(true)
	chunk := strings.Repeat("y", 32<<10)
	for sent := 0; metric(t, ts, "flowstate_slow_consumer_disconnects_total") == 0; sent += len(chunk) {
		if sent > 512<<20 {
			t.Fatal("the stalled client was never dropped")
		}
		flood(t, writer, chunk)
	}
	insert(t, writer, -1, "writer;")
	resume()

	waitSynced(t, writer)
	waitText(t, "slow;writer;", slow, writer)
	waitFor(t, deadline, func() error {
		if s := slow.Status(); s != docsync.StatusSynced {
			return errors.New("slow client's status is " + s.String())
		}
		return nil
	})
	if slow.Err() != nil {
		t.Errorf("slow consumer is not a permanent error, but Err = %v", slow.Err())
	}
}
