package sync_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowstate/flowstate/protocol"
)

// maskedFrame returns a client's frame: final, of opcode op, with payload
// masked by key.
func maskedFrame(op byte, payload []byte, key [4]byte) []byte {
	f := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	case n < 1<<16:
		f = append(f, 0x80|126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	f = append(f, key[:]...)
	for i, b := range payload {
		f = append(f, b^key[i%4])
	}
	return f
}

var testMaskKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// An idleEvent is what a client sees of the server: a pong with its
// payload, or the Ack of an update.
type idleEvent struct {
	pong string
	ack  uint64
}

// idleWakeTests send frames to a session that has read everything and
// waits: whole, split at every kind of boundary, and several in one
// write. The server must answer each as it would a busy session, and
// never wait for bytes it already holds.
var idleWakeTests = []struct {
	name string
	// writes returns the chunks to write, 50 ms apart; update(seq) is
	// the framed Update message of that seq.
	writes func(update func(seq uint64) []byte) [][]byte
	pongs  []string // the payloads of the pongs, in order
	ack    uint64   // the last Ack; acknowledgements are cumulative
}{
	{
		name: "one update",
		writes: func(update func(uint64) []byte) [][]byte {
			return [][]byte{update(1)}
		},
		ack: 1,
	},
	{
		name: "two updates in one write",
		writes: func(update func(uint64) []byte) [][]byte {
			return [][]byte{append(update(1), update(2)...)}
		},
		ack: 2,
	},
	{
		name: "an update split inside its header",
		writes: func(update func(uint64) []byte) [][]byte {
			u := update(1)
			return [][]byte{u[:1], u[1:]}
		},
		ack: 1,
	},
	{
		name: "an update split inside its payload",
		writes: func(update func(uint64) []byte) [][]byte {
			u := update(1)
			return [][]byte{u[:10], u[10:]}
		},
		ack: 1,
	},
	{
		name: "a ping alone",
		writes: func(func(uint64) []byte) [][]byte {
			return [][]byte{maskedFrame(websocket.PingMessage, []byte("are you there"), testMaskKey)}
		},
		pongs: []string{"are you there"},
	},
	{
		name: "an empty ping",
		writes: func(func(uint64) []byte) [][]byte {
			return [][]byte{maskedFrame(websocket.PingMessage, nil, testMaskKey)}
		},
		pongs: []string{""},
	},
	{
		name: "a ping of 125 bytes split in three",
		writes: func(func(uint64) []byte) [][]byte {
			p := maskedFrame(websocket.PingMessage, bytes.Repeat([]byte("z"), 125), testMaskKey)
			return [][]byte{p[:1], p[1:4], p[4:]}
		},
		pongs: []string{string(bytes.Repeat([]byte("z"), 125))},
	},
	{
		name: "a pong, then a ping",
		writes: func(func(uint64) []byte) [][]byte {
			return [][]byte{maskedFrame(websocket.PongMessage, []byte("x"), testMaskKey), maskedFrame(websocket.PingMessage, []byte("y"), testMaskKey)}
		},
		pongs: []string{"y"},
	},
	{
		name: "a ping and an update in one write",
		writes: func(update func(uint64) []byte) [][]byte {
			return [][]byte{append(maskedFrame(websocket.PingMessage, []byte("a"), testMaskKey), update(1)...)}
		},
		pongs: []string{"a"},
		ack:   1,
	},
	{
		name: "an update and a ping in one write",
		writes: func(update func(uint64) []byte) [][]byte {
			return [][]byte{append(update(1), maskedFrame(websocket.PingMessage, []byte("b"), testMaskKey)...)}
		},
		pongs: []string{"b"},
		ack:   1,
	},
	{
		name: "a ping between the fragments of an update",
		writes: func(update func(uint64) []byte) [][]byte {
			u := update(1)
			// The payload of the one frame update() made, as two
			// fragments: a non-final binary frame and a continuation.
			payload := unmask(u)
			first := maskedFrame(websocket.BinaryMessage, payload[:5], testMaskKey)
			first[0] &^= 0x80 // not final
			rest := maskedFrame(0, payload[5:], testMaskKey)
			return [][]byte{first, maskedFrame(websocket.PingMessage, []byte("c"), testMaskKey), rest}
		},
		pongs: []string{"c"},
		ack:   1,
	},
}

// unmask returns the payload of f, a frame made by maskedFrame with
// testMaskKey and a payload under 64 KiB.
func unmask(f []byte) []byte {
	at := 2 + 4
	if f[1]&0x7f == 126 {
		at += 2
	}
	p := bytes.Clone(f[at:])
	for i := range p {
		p[i] ^= testMaskKey[i%4]
	}
	return p
}

// TestIdleSessionWakes checks that a session that has read everything it
// was sent answers whatever comes next, however the bytes arrive.
func TestIdleSessionWakes(t *testing.T) {
	for _, tt := range idleWakeTests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, testConfig(), nil)
			c := joinRaw(t, ts, "idle")
			events := make(chan idleEvent, 16)
			// The client answers no ping of the server's: a pong would
			// wake a session that failed to, and hide the failure.
			c.conn.SetPingHandler(func(string) error { return nil })
			c.conn.SetPongHandler(func(data string) error {
				events <- idleEvent{pong: data}
				return nil
			})
			go func() {
				for {
					_ = c.conn.SetReadDeadline(time.Time{})
					_, b, err := c.conn.ReadMessage()
					if err != nil {
						close(events)
						return
					}
					if m, err := protocol.Decode(b); err == nil {
						if a, ok := m.(*protocol.Ack); ok {
							events <- idleEvent{ack: a.Seq}
						}
					}
				}
			}()
			update := func(seq uint64) []byte {
				u, err := c.doc.Text("body").Insert(c.doc.Text("body").Len(), fmt.Sprintf("<%d>", seq))
				if err != nil {
					t.Fatal(err)
				}
				return maskedFrame(websocket.BinaryMessage, mustEncode(t, &protocol.Update{Seq: seq, Updates: [][]byte{u}}), testMaskKey)
			}
			// Give the session time to read the Hello and go idle.
			time.Sleep(50 * time.Millisecond)
			raw := c.conn.NetConn()
			for i, w := range tt.writes(update) {
				if i > 0 {
					time.Sleep(50 * time.Millisecond)
				}
				_ = raw.SetWriteDeadline(time.Now().Add(deadline))
				if _, err := raw.Write(w); err != nil {
					t.Fatal(err)
				}
			}
			var pongs []string
			var ack uint64
			for len(pongs) < len(tt.pongs) || ack < tt.ack {
				select {
				case e, ok := <-events:
					if !ok {
						t.Fatalf("connection closed after pongs %q and ack %d, want pongs %q and ack %d", pongs, ack, tt.pongs, tt.ack)
					}
					if e.ack != 0 {
						ack = e.ack
					} else {
						pongs = append(pongs, e.pong)
					}
				case <-time.After(deadline):
					t.Fatalf("after %v: pongs %q and ack %d, want pongs %q and ack %d", deadline, pongs, ack, tt.pongs, tt.ack)
				}
			}
			if !slices.Equal(pongs, tt.pongs) || ack != tt.ack {
				t.Fatalf("pongs %q and ack %d, want pongs %q and ack %d", pongs, ack, tt.pongs, tt.ack)
			}
		})
	}
}

// TestIdleSessionsHoldNoGoroutine checks that sessions that wait for
// their clients hold no goroutine each on Linux, also after answering
// pings, and that they still end when their clients leave.
func TestIdleSessionsHoldNoGoroutine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("idle sessions wait in a goroutine each where there is no poller")
	}
	const n = 50
	ts := startServer(t, testConfig(), nil)
	joinRaw(t, ts, "idle-cost") // the room, the hub's loops and its poller run from here on
	before := runtime.NumGoroutine()
	clients := make([]*rawClient, n)
	for i := range clients {
		clients[i] = joinRaw(t, ts, "idle-cost")
		raw := clients[i].conn.NetConn()
		_ = raw.SetWriteDeadline(time.Now().Add(deadline))
		if _, err := raw.Write(maskedFrame(websocket.PingMessage, []byte("p"), testMaskKey)); err != nil {
			t.Fatal(err)
		}
	}
	var held int
	waitFor(t, deadline, func() error {
		held = runtime.NumGoroutine() - before
		if held >= n/2 {
			return fmt.Errorf("%d idle sessions hold %d goroutines", n, held)
		}
		return nil
	})
	t.Logf("%d idle sessions hold %d goroutines", n, held)
	for _, c := range clients {
		c.conn.Close()
	}
	waitFor(t, deadline, func() error {
		if got := ts.srv.Hub().Stats().Connections; got != 1 {
			return fmt.Errorf("%d connections after %d of %d left", got, n, n+1)
		}
		return nil
	})
}

// FuzzIdleSession writes arbitrary bytes, in two writes split where the
// input says, to a joined session that went idle, then hangs up. Whatever
// the bytes, the server must not crash, and the session must end once
// its client has gone: none may stay parked for good.
func FuzzIdleSession(f *testing.F) {
	ping := maskedFrame(websocket.PingMessage, []byte("seed"), testMaskKey)
	pong := maskedFrame(websocket.PongMessage, nil, testMaskKey)
	update := maskedFrame(websocket.BinaryMessage, []byte{0x93, 0x02, 0x01, 0x90}, testMaskKey)
	// A Patch (protocol version 5) against nothing, then after an update:
	// keeping its 6 bytes, and keeping more than it has.
	first := maskedFrame(websocket.BinaryMessage, []byte{0x93, 0x02, 0x01, 0x91, 0xc4, 0x06, 0x95, 0x01, 0x90, 0x90, 0x90, 0x90}, testMaskKey)
	patch := maskedFrame(websocket.BinaryMessage, []byte{0x94, 0x07, 0x06, 0x00, 0xc4, 0x00}, testMaskKey)
	overlong := maskedFrame(websocket.BinaryMessage, []byte{0x94, 0x07, 0x06, 0x01, 0xc4, 0x00}, testMaskKey)
	for _, seed := range [][]byte{
		patch, append(slices.Clone(first), patch...), append(slices.Clone(first), overlong...),
		ping, pong, update,
		append(slices.Clone(ping), update...),
		append(slices.Clone(update), pong...),
		{0x89, 0xfe, 0, 200, 1, 2, 3, 4},      // a ping claiming 200 bytes
		{0x89, 0x05, 'a', 'b', 'c', 'd', 'e'}, // an unmasked ping
		{0x99, 0x80, 0, 0, 0, 0},              // a reserved bit
		{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8},  // a close frame
		{0x89},
	} {
		f.Add(seed, uint8(len(seed)/2))
	}
	ts := startServer(f, testConfig(), nil)
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		c := joinRaw(t, ts, "fuzz-idle")
		base := ts.srv.Hub().Stats().Connections - 1
		raw := c.conn.NetConn()
		at := min(int(split), len(data))
		for _, chunk := range [][]byte{data[:at], data[at:]} {
			_ = raw.SetWriteDeadline(time.Now().Add(deadline))
			if _, err := raw.Write(chunk); err != nil {
				break // the server closed the connection
			}
		}
		c.conn.Close()
		waitFor(t, deadline, func() error {
			if n := ts.srv.Hub().Stats().Connections; n > base {
				return fmt.Errorf("%d connections after the client hung up, want %d", n, base)
			}
			return nil
		})
	})
}

// TestIdleDeadlinesInAnyOrder checks that each waiting session is closed
// at its own read deadline: one that parks after others with later
// deadlines does not wait for theirs.
func TestIdleDeadlinesInAnyOrder(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	for _, interval := range []time.Duration{20 * time.Second, 10 * time.Second} {
		c := dialRaw(t, ts.url("deadlines"))
		c.send(heartbeatHello(c, "deadlines", interval))
		c.welcome()
	}
	time.Sleep(50 * time.Millisecond) // the two park first
	const interval = 200 * time.Millisecond
	c := dialRaw(t, ts.url("deadlines"))
	c.conn.SetPingHandler(func(string) error { return nil })
	c.send(heartbeatHello(c, "deadlines", interval))
	c.welcome()
	start := time.Now()
	// expectClosed gives up after deadline (10 s), well before the 30 s
	// of the sessions that parked first.
	c.expectClosed(protocol.CodeHeartbeatTimeout)
	if d := time.Since(start); d < 3*interval-50*time.Millisecond {
		t.Errorf("closed after %v, before three intervals of %v", d, interval)
	}
}
