package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
	docsync "github.com/flowstate/flowstate/sync"
	"github.com/flowstate/flowstate/sync/client"
)

// A stallProxy forwards TCP connections to a target, until stall: from
// then on it forwards nothing on any connection, old or new, and closes
// none, reading and dropping what arrives, as a dead network path does
// (a laptop lid, a switch of networks, a proxy that forgot a socket).
// resume makes new connections work again; the stalled ones stay dead.
type stallProxy struct {
	ln      net.Listener
	target  string
	blocked atomic.Bool // new connections are born stalled
	wg      sync.WaitGroup

	mu    sync.Mutex
	pairs []*proxyPair
}

type proxyPair struct {
	client, server net.Conn
	stalled        atomic.Bool
}

func startStallProxy(t *testing.T, target string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, pp := range p.pairs {
			pp.client.Close()
			pp.server.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *stallProxy) addr() string { return p.ln.Addr().String() }

func (p *stallProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		pp := &proxyPair{client: c, server: s}
		pp.stalled.Store(p.blocked.Load())
		p.mu.Lock()
		p.pairs = append(p.pairs, pp)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(pp, c, s)
		go p.pipe(pp, s, c)
	}
}

// pipe copies from src to dst while the pair is not stalled, and drops
// what it reads after that.
func (p *stallProxy) pipe(pp *proxyPair, src, dst net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !pp.stalled.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) && !pp.stalled.Load() {
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
			}
			return
		}
	}
}

// stall silences every connection, and every new one until resume.
func (p *stallProxy) stall() {
	p.blocked.Store(true)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pp := range p.pairs {
		pp.stalled.Store(true)
	}
}

// resume lets new connections through again.
func (p *stallProxy) resume() { p.blocked.Store(false) }

// TestHeartbeat_DeadPath cuts a client's TCP path silently: the client
// must find the connection dead within the documented bound (2.5
// heartbeat intervals after it last heard from the server), reconnect
// through the restored path, and the edits made on both sides meanwhile
// must reach the other client exactly once.
func TestHeartbeat_DeadPath(t *testing.T) {
	const interval = 250 * time.Millisecond
	server := startServer(t, docsync.Config{RoomIdleTimeout: time.Second})
	proxy := startStallProxy(t, server)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	disconnects := make(chan error, 8)
	a, err := client.Dial(ctx, "ws://"+proxy.addr()+"/ws/dead", &client.Options{
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Heartbeat: interval,
		OnDisconnect: func(err error) { disconnects <- err },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := client.Dial(ctx, "ws://"+server+"/ws/dead", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	appendText := func(c *client.Client, s string) {
		t.Helper()
		if err := c.Edit(func(d *crdt.Doc) error {
			_, err := d.Text("body").Insert(d.Text("body").Len(), s)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	appendText(a, "[a1]")
	if err := a.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}

	proxy.stall()
	cut := time.Now()
	appendText(a, "[a2]") // lost in the dead path: must be resent
	appendText(b, "[b1]") // must reach a after it reconnects

	select {
	case err := <-disconnects:
		if !errors.Is(err, client.ErrDeadConnection) {
			t.Fatalf("connection ended with %v, want ErrDeadConnection", err)
		}
	case <-ctx.Done():
		t.Fatal("the client never noticed the dead connection")
	}
	noticed := time.Since(cut)
	t.Logf("dead connection noticed %v after the cut (interval %v)", noticed, interval)
	// The bound counts from the last message heard, which came before
	// the cut; the allowance is for the scheduler of a loaded machine.
	if bound := interval*5/2 + time.Second; noticed > bound {
		t.Errorf("noticed after %v, want within %v", noticed, bound)
	}
	proxy.resume()

	for _, c := range []*client.Client{a, b} {
		if err := c.WaitSynced(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for {
		ta, tb := a.Text("body"), b.Text("body")
		if ta == tb && strings.Contains(ta, "[b1]") && strings.Contains(tb, "[a2]") {
			for _, s := range []string{"[a1]", "[a2]", "[b1]"} {
				if n := strings.Count(ta, s); n != 1 {
					t.Errorf("%q appears %d times in %q", s, n, ta)
				}
			}
			if len(ta) != 12 {
				t.Errorf("text %q, want the three edits and nothing else", ta)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no convergence: a %q, b %q", ta, tb)
		case <-a.Changed():
		case <-b.Changed():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// startOlderServer serves a stand-in for a server of an older protocol
// version (1 or 2), which no longer runs anywhere here: it refuses a
// Hello of any other version with Error{4001} and close 4001, as section
// 3 of PROTOCOL.md has always required, and welcomes one of its version
// to an empty room. It records the Hellos it was greeted with and whether
// a Heartbeat came. Version 1 closes any connection that sends it a
// Heartbeat, which it cannot decode, with 4000; version 2 echoes one that
// asks for it.
func startOlderServer(t *testing.T, version uint64) (addr string, hellos func() []protocol.Hello, heartbeats func() int) {
	t.Helper()
	var mu sync.Mutex
	var seen []protocol.Hello
	beats := 0
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		send := func(m protocol.Message) {
			b, _ := protocol.Encode(m)
			_ = conn.WriteMessage(websocket.BinaryMessage, b)
		}
		closeWith := func(code protocol.Code) {
			send(&protocol.Error{Code: code, Message: code.String()})
			_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(int(code), code.String()))
		}
		_, b, err := conn.ReadMessage()
		if err != nil {
			return
		}
		m, err := protocol.Decode(b)
		h, ok := m.(*protocol.Hello)
		if err != nil || !ok {
			closeWith(protocol.CodeProtocolError)
			return
		}
		mu.Lock()
		seen = append(seen, *h)
		mu.Unlock()
		if h.Version != version {
			closeWith(protocol.CodeUnsupportedVersion)
			return
		}
		send(&protocol.Welcome{StateVector: crdt.StateVector{}.Encode(), Update: crdt.NewDoc().Diff(nil)})
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				return
			}
			m := decoded(b)
			switch m := m.(type) {
			case *protocol.Patch:
				// Before version 5, tag 7 is an unknown type.
				closeWith(protocol.CodeUnknownType)
				return
			case *protocol.Update:
				send(&protocol.Ack{Seq: m.Seq})
			}
			hb, ok := m.(*protocol.Heartbeat)
			switch {
			case ok && version < 2:
				closeWith(protocol.CodeUnknownType)
				return
			case ok:
				mu.Lock()
				beats++
				mu.Unlock()
				if hb.ID != 0 {
					send(hb)
				}
			}
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), func() []protocol.Hello {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(seen)
		}, func() int {
			mu.Lock()
			defer mu.Unlock()
			return beats
		}
}

// decoded returns the message b holds, or nil.
func decoded(b []byte) protocol.Message {
	m, _ := protocol.Decode(b)
	return m
}

var fallBackTests = []struct {
	server     uint64   // the older server's version
	versions   []uint64 // of the Hellos it gets
	heartbeats bool     // whether it gets Heartbeats
}{
	{server: 1, versions: []uint64{5, 4, 3, 2, 1}},
	{server: 2, versions: []uint64{5, 4, 3, 2}, heartbeats: true},
	{server: 3, versions: []uint64{5, 4, 3}, heartbeats: true},
	{server: 4, versions: []uint64{5, 4}, heartbeats: true},
}

// TestHeartbeat_FallsBack checks that a client of version 5 works with a
// server of an older version: refused with 4001, it says hello in the
// version below at once, down to the server's, keeps its heartbeat where
// that version has one, sends no Heartbeat to a server of version 1,
// which could not decode it, however long the connection stays idle, and
// no Patch to a server below version 5, however many keystrokes it sends.
func TestHeartbeat_FallsBack(t *testing.T) {
	const interval = 100 * time.Millisecond
	for _, tt := range fallBackTests {
		t.Run(fmt.Sprintf("server version %d", tt.server), func(t *testing.T) {
			addr, hellos, heartbeats := startOlderServer(t, tt.server)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			disconnects := make(chan error, 1)
			c, err := client.Dial(ctx, "ws://"+addr+"/ws/old", &client.Options{
				Heartbeat:    interval,
				OnDisconnect: func(err error) { disconnects <- err },
			})
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			for i := range 5 {
				if err := c.Edit(func(d *crdt.Doc) error {
					_, err := d.Text("t").Insert(i, "x")
					return err
				}); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case err := <-disconnects:
				t.Fatalf("connection ended: %v", err)
			case <-time.After(10 * interval):
			}
			var versions []uint64
			for _, h := range hellos() {
				versions = append(versions, h.Version)
				if want := uint64(interval / time.Millisecond); h.Version >= 2 && h.HeartbeatMillis != want {
					t.Errorf("version %d hello asks for a heartbeat of %d ms, want %d", h.Version, h.HeartbeatMillis, want)
				}
				// The client's document reads rich text, which only a
				// version 4 Hello can say.
				if want := map[bool]uint64{true: crdt.NewestVersion, false: 0}[h.Version >= 4]; h.Format != want {
					t.Errorf("version %d hello names format %d, want %d", h.Version, h.Format, want)
				}
			}
			if !slices.Equal(versions, tt.versions) {
				t.Errorf("hello versions %v, want %v", versions, tt.versions)
			}
			if got := heartbeats() > 0; got != tt.heartbeats {
				t.Errorf("heartbeats received: %t, want %t", got, tt.heartbeats)
			}
			if s := c.Status(); s != client.StatusSynced {
				t.Errorf("status %v, want synced", s)
			}
		})
	}
}

// TestDial_InvalidHeartbeat checks that Dial refuses a heartbeat interval
// the protocol cannot carry, before connecting.
func TestDial_InvalidHeartbeat(t *testing.T) {
	for _, hb := range []time.Duration{time.Millisecond, 99 * time.Millisecond, 61 * time.Second, 150*time.Millisecond + 1} {
		c, err := client.Dial(context.Background(), "ws://127.0.0.1:1/ws/x", &client.Options{Heartbeat: hb})
		if err == nil {
			c.Close()
			t.Fatalf("Dial with a heartbeat of %v succeeded", hb)
		}
		if !strings.Contains(err.Error(), "heartbeat") {
			t.Errorf("heartbeat %v: error %q does not name the heartbeat", hb, err)
		}
	}
}
