package sync_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
)

// BenchmarkBroadcast measures the fan-out of one room: a raw client sends
// b.N one-character updates as fast as the server takes them, and the
// benchmark ends when each of the room's other members (raw clients that
// only count what they receive) has all of them. ns/op is the time per
// update delivered to every member; delivered/s counts deliveries to
// single members.
func BenchmarkBroadcast(b *testing.B) {
	for _, members := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) {
			benchmarkBroadcast(b, members)
		})
	}
}

func benchmarkBroadcast(b *testing.B, members int) {
	cfg := testConfig()
	cfg.QueueLength = 1 << 16 // the readers are fast but many; never drop them
	cfg.QueueBytes = 256 << 20
	cfg.MaxConnsPerIP = -1 // every member dials from 127.0.0.1
	ts := startServer(b, cfg, nil)
	room := "bench"

	// The updates: typing, one character each.
	doc := crdt.NewDoc()
	updates := make([][]byte, b.N)
	for i := range updates {
		u, err := doc.Text("body").Insert(i, "x")
		if err != nil {
			b.Fatal(err)
		}
		updates[i] = u
	}

	readers := make([]*rawClient, members)
	for i := range readers {
		readers[i] = joinRaw(b, ts, room)
	}
	sender := joinRaw(b, ts, room)

	var failed atomic.Value
	done := make(chan struct{}, members+1)
	count := func(c *rawClient, want int, isSender bool) {
		defer func() { done <- struct{}{} }()
		got := 0
		for got < want {
			m, err := c.next()
			if err != nil {
				failed.Store(err)
				return
			}
			switch m := m.(type) {
			case *protocol.Update:
				got += len(m.Updates)
			case *protocol.Ack:
				if isSender {
					got = int(m.Seq)
				}
			}
		}
	}

	b.ReportAllocs()
	b.ResetTimer()
	for _, r := range readers {
		go count(r, b.N, false)
	}
	go count(sender, b.N, true)
	for i := range b.N {
		msg, err := protocol.Encode(&protocol.Update{Seq: uint64(i + 1), Updates: [][]byte{updates[i]}})
		if err != nil {
			b.Fatal(err)
		}
		if err := sender.conn.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			failed.Store(err)
			break
		}
	}
	for range members + 1 {
		<-done
	}
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N*members)/b.Elapsed().Seconds(), "delivered/s")
}
