package sync_test

import (
	"testing"
	"time"

	"github.com/flowstate/flowstate/protocol"
)

// heartbeatHello is a version 2 Hello of c for room asking for a heartbeat
// every interval.
func heartbeatHello(c *rawClient, room string, interval time.Duration) *protocol.Hello {
	return &protocol.Hello{Version: 2, Room: room, Client: c.id, StateVector: c.doc.StateVector().Encode(), HeartbeatMillis: uint64(interval / time.Millisecond)}
}

// welcome reads the Welcome that must answer a Hello.
func (c *rawClient) welcome() {
	c.t.Helper()
	if m, ok := c.read().(*protocol.Welcome); !ok {
		c.t.Fatalf("after hello: got %#v, want a welcome", m)
	}
}

// TestHeartbeat_SilentClientClosed checks that a client that asked for a
// heartbeat and then sends nothing at all, not even a pong, is closed with
// 4005, and not before three of its intervals.
func TestHeartbeat_SilentClientClosed(t *testing.T) {
	const interval = 200 * time.Millisecond
	ts := startServer(t, testConfig(), nil)
	c := dialRaw(t, ts.url("hb"))
	// Silent means silent: gorilla would answer the server's pings.
	c.conn.SetPingHandler(func(string) error { return nil })
	c.send(heartbeatHello(c, "hb", interval))
	c.welcome()
	start := time.Now()
	e := c.expectClosed(protocol.CodeHeartbeatTimeout)
	if d := time.Since(start); d < 3*interval-50*time.Millisecond {
		t.Errorf("closed after %v, before three intervals of %v", d, interval)
	}
	if e.Seq != 0 {
		t.Errorf("error seq %d, want 0", e.Seq)
	}
}

// heartbeatKeepsTests are sessions that must stay open for many heartbeat
// intervals (of 200 ms): each keeps sending what it sends.
var heartbeatKeepsTests = []struct {
	name    string
	version uint64 // 1: no heartbeat asked, the 60 s keep-alive applies
	send    func(c *rawClient)
}{
	{"heartbeats", 2, func(c *rawClient) { c.send(&protocol.Heartbeat{}) }},
	{"updates", 2, func(c *rawClient) { c.edit("body", "x") }},
	{"presence", 2, func(c *rawClient) {
		c.send(&protocol.Presence{Entries: []protocol.PresenceEntry{{Client: c.id, State: []byte{0xc0}}}})
	}},
	{"version 1, silent", 1, func(*rawClient) {}},
}

// TestHeartbeat_KeepsSession checks that any message keeps a heartbeat
// session open, and that a version 1 session is not held to a heartbeat:
// after a dozen intervals, an echo request is answered (by the same
// Heartbeat) or an update acknowledged.
func TestHeartbeat_KeepsSession(t *testing.T) {
	const interval = 200 * time.Millisecond
	ts := startServer(t, testConfig(), nil)
	for _, tt := range heartbeatKeepsTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, ts.url("keep"))
			if tt.version == 1 {
				c.send(&protocol.Hello{Version: 1, Room: "keep", Client: c.id, StateVector: c.doc.StateVector().Encode()})
			} else {
				c.send(heartbeatHello(c, "keep", interval))
			}
			c.welcome()
			for end := time.Now().Add(12 * interval); time.Now().Before(end); {
				tt.send(c)
				time.Sleep(interval / 2)
			}
			if tt.version == 1 {
				c.waitAck(c.edit("body", "v1"))
				return
			}
			c.send(&protocol.Heartbeat{ID: 7})
			for {
				switch m := c.read().(type) {
				case *protocol.Heartbeat:
					if m.ID != 7 {
						t.Fatalf("echo of heartbeat %d, want 7", m.ID)
					}
					return
				case *protocol.Error:
					t.Fatalf("error %d %s: %s", m.Code, m.Code, m.Message)
				}
			}
		})
	}
}

// TestHeartbeat_AliveGetsNoAnswer checks that Heartbeat{0} is not echoed:
// the only answer to the two messages below is the Ack.
func TestHeartbeat_AliveGetsNoAnswer(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	c := dialRaw(t, ts.url("alive"))
	c.send(heartbeatHello(c, "alive", time.Second))
	c.welcome()
	c.send(&protocol.Heartbeat{ID: 0})
	seq := c.edit("body", "x")
	if m, ok := c.read().(*protocol.Ack); !ok || m.Seq != seq {
		t.Fatalf("got %#v, want Ack{%d} and no heartbeat before it", m, seq)
	}
}
