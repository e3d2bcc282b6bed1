package sync_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/flowstate/flowstate/protocol"
)

// helloVersion sends a Hello of protocol version v for room and reads the
// Welcome, applying it to the client's document.
func (c *rawClient) helloVersion(room string, v uint64) {
	c.t.Helper()
	c.send(&protocol.Hello{Version: v, Room: room, Client: c.id, StateVector: c.doc.StateVector().Encode()})
	w, ok := c.read().(*protocol.Welcome)
	if !ok {
		c.t.Fatalf("after a version %d hello: no welcome", v)
	}
	if err := c.doc.Apply(w.Update); err != nil {
		c.t.Fatalf("welcome update: %v", err)
	}
}

// readUntilRelay reads until an Update that holds updates, applying them,
// and returns it with the Acks read on the way.
func (c *rawClient) readUntilRelay() (*protocol.Update, []uint64) {
	c.t.Helper()
	var acks []uint64
	for {
		switch m := c.read().(type) {
		case *protocol.Ack:
			acks = append(acks, m.Seq)
		case *protocol.Update:
			for _, u := range m.Updates {
				if err := c.doc.Apply(u); err != nil {
					c.t.Fatalf("relayed update: %v", err)
				}
			}
			if len(m.Updates) > 0 {
				return m, acks
			}
		case *protocol.Error:
			c.t.Fatalf("error %d: %s", m.Code, m.Message)
		}
	}
}

// The relay interval of the tests below: long enough that the updates and
// Acks of a step all happen while a relay waits for it.
const slowRelay = 2 * time.Second

// TestAckRidesOnRelay checks that an acknowledgement due to a member of
// protocol version 3 while a relay to it waits for the relay interval
// goes out in that relay's seq, instead of as an Ack of its own, and that
// members of versions 1 and 2 still get Acks and relays of seq 0.
func TestAckRidesOnRelay(t *testing.T) {
	for _, v := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("version %d", v), func(t *testing.T) {
			cfg := testConfig()
			cfg.RelayInterval = slowRelay
			ts := startServer(t, cfg, nil)
			const room = "relay-ack"
			a := dialRaw(t, ts.url(room))
			a.helloVersion(room, v)
			b := joinRaw(t, ts, room)

			// The room's first relay goes out at once; b's next update then
			// waits for the interval, in the batch.
			b.waitAck(b.edit("body", "b1"))
			if m, acks := a.readUntilRelay(); m.Seq != 0 || len(acks) != 0 {
				t.Fatalf("first relay: seq %d, acks %v; want seq 0 and no ack", m.Seq, acks)
			}
			relayed := time.Now()
			b.waitAck(b.edit("body", "b2"))

			// a's update is written while b2 waits: its acknowledgement is
			// due while a relay to a is about to go out.
			seq := a.edit("body", "a1")
			if time.Since(relayed) > slowRelay/2 {
				t.Skipf("a1 went out %v after the first relay, too close to the next: the machine is too slow for this test", time.Since(relayed))
			}
			m, acks := a.readUntilRelay()
			if v >= 3 {
				if m.Seq != seq || len(acks) != 0 {
					t.Errorf("version 3: relay seq %d and Acks %v, want the acknowledgement of %d in the relay and no Ack", m.Seq, acks, seq)
				}
			} else if m.Seq != 0 || len(acks) != 1 || acks[0] != seq {
				t.Errorf("version %d: relay seq %d and Acks %v, want seq 0 and Ack %d", v, m.Seq, acks, seq)
			}
			if len(m.Updates) != 1 {
				t.Errorf("the relay holds %d updates, want b2 alone", len(m.Updates))
			}
		})
	}
}

// TestClientTakesAckInRelay checks that the Go client, which speaks
// protocol version 3, takes an acknowledgement in the seq of a relay: the
// server sends it no Ack of its own in that case, so the client would
// never be synced otherwise.
func TestClientTakesAckInRelay(t *testing.T) {
	cfg := testConfig()
	cfg.RelayInterval = slowRelay
	ts := startServer(t, cfg, nil)
	const room = "relay-ack-client"
	a := dial(t, ts, room, nil)
	b := joinRaw(t, ts, room)
	b.waitAck(b.edit("body", "b1"))
	waitText(t, "b1", a)
	relayed := time.Now()
	b.waitAck(b.edit("body", "b2"))
	insert(t, a, -1, "a1")
	if time.Since(relayed) > slowRelay/2 {
		t.Skipf("a1 went out %v after the first relay, too close to the next: the machine is too slow for this test", time.Since(relayed))
	}
	waitSynced(t, a)
	if got := a.Text("body"); len(got) != len("b1b2a1") {
		t.Errorf("body %q, want b1, b2 and a1", got)
	}
}
