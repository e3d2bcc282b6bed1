package sync_test

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// pongReader reads c's connection until it ends, sending the payload of
// each pong to the channel it returns, which it closes at the end. The
// client ignores the server's pings: a pong of its own would wake the
// session.
func pongReader(c *rawClient) <-chan string {
	pongs := make(chan string, 64)
	c.conn.SetPingHandler(func(string) error { return nil })
	c.conn.SetPongHandler(func(data string) error {
		pongs <- data
		return nil
	})
	go func() {
		defer close(pongs)
		for {
			if _, _, err := c.conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	return pongs
}

// pollIdle is a gap long enough for the hub's poller to have returned to
// waiting in the kernel with nothing to hand out.
const pollIdle = 150 * time.Millisecond

// TestParkedSessionWakesInOrder checks that a session woken from the
// hub's poller many times, at every pace (pings back to back, a few ms
// apart, and after the poller went idle), answers every ping, in order.
// A ping wakes a parked session, which parks again at once after
// answering it.
func TestParkedSessionWakesInOrder(t *testing.T) {
	const ms = time.Millisecond
	gaps := []time.Duration{
		0, 0, 0, ms / 2, ms, 2 * ms, 0,
		pollIdle,
		0, ms, 0,
		2 * pollIdle,
		0, 3 * ms, 0, 0, 0,
	}
	ts := startServer(t, testConfig(), nil)
	c := joinRaw(t, ts, "wakes")
	pongs := pongReader(c)
	raw := c.conn.NetConn()
	var want []string
	for i, gap := range gaps {
		time.Sleep(gap)
		payload := strconv.Itoa(i)
		want = append(want, payload)
		_ = raw.SetWriteDeadline(time.Now().Add(deadline))
		if _, err := raw.Write(maskedFrame(websocket.PingMessage, []byte(payload), testMaskKey)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for len(got) < len(want) {
		select {
		case p, ok := <-pongs:
			if !ok {
				t.Fatalf("connection closed after pongs %q, want %q", got, want)
			}
			got = append(got, p)
		case <-time.After(deadline):
			t.Fatalf("after %v: pongs %q, want %q", deadline, got, want)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pongs %q, want %q", got, want)
	}
}

// TestParkedSessionsWakeTogether checks that sessions parked in the hub's
// poller and woken all at once, more than its loop takes from the kernel
// in one epoll_wait (128 events), each answer their ping, after the
// poller had been idle and again while it is busy.
func TestParkedSessionsWakeTogether(t *testing.T) {
	const n = 300
	cfg := testConfig()
	cfg.MaxConnsPerIP = n + 1
	ts := startServer(t, cfg, nil)
	clients := make([]*rawClient, n)
	pongs := make([]<-chan string, n)
	for i := range clients {
		clients[i] = joinRaw(t, ts, fmt.Sprintf("together-%d", i%10))
		pongs[i] = pongReader(clients[i])
	}
	for round, quiet := range []time.Duration{pollIdle, 0} {
		time.Sleep(quiet)
		payload := fmt.Sprintf("round %d", round)
		for _, c := range clients {
			raw := c.conn.NetConn()
			_ = raw.SetWriteDeadline(time.Now().Add(deadline))
			if _, err := raw.Write(maskedFrame(websocket.PingMessage, []byte(payload), testMaskKey)); err != nil {
				t.Fatal(err)
			}
		}
		for i := range clients {
			select {
			case p, ok := <-pongs[i]:
				if !ok || p != payload {
					t.Fatalf("client %d: pong %q (open %v), want %q", i, p, ok, payload)
				}
			case <-time.After(deadline):
				t.Fatalf("client %d: no pong after %v", i, deadline)
			}
		}
	}
}

// BenchmarkParkedWake measures the round trip of a ping to a session
// parked in the hub's poller, which answers it and parks again: what a
// parked session's wake-up adds to its next message.
func BenchmarkParkedWake(b *testing.B) {
	ts := startServer(b, testConfig(), nil)
	c := joinRaw(b, ts, "wake-bench")
	pongs := pongReader(c)
	raw := c.conn.NetConn()
	ping := maskedFrame(websocket.PingMessage, []byte("p"), testMaskKey)
	time.Sleep(10 * time.Millisecond) // the session parks after its Hello
	for b.Loop() {
		_ = raw.SetWriteDeadline(time.Now().Add(deadline))
		if _, err := raw.Write(ping); err != nil {
			b.Fatal(err)
		}
		select {
		case <-pongs:
		case <-time.After(deadline):
			b.Fatalf("no pong after %v", deadline)
		}
	}
}
