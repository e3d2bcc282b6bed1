package sync_test

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
)

// BenchmarkStalledMember measures what a member that stops reading costs
// the others: a writer sends one 1 KiB update per millisecond to a room of
// ten healthy readers, with and without an eleventh member that never
// reads (dropped as a slow consumer once its kernel buffers and queue
// fill, or after SlowConsumerLag). It reports the healthy readers' p50
// and p99 latency from the update's sending to its arrival. Run with
// -benchtime 5000x: each op is one update, paced, so ns/op is the pace.
func BenchmarkStalledMember(b *testing.B) {
	for _, stalled := range []bool{false, true} {
		b.Run(fmt.Sprintf("stalled=%v", stalled), func(b *testing.B) {
			benchmarkStalledMember(b, stalled)
		})
	}
}

func benchmarkStalledMember(b *testing.B, stalled bool) {
	const members = 10
	cfg := testConfig()
	cfg.MaxConnsPerIP = -1
	ts := startServer(b, cfg, nil)
	room := "stall"

	doc := crdt.NewDoc()
	chunk := strings.Repeat("x", 1<<10)
	msgs := make([][]byte, b.N)
	for i := range msgs {
		u, err := doc.Text("body").Insert(0, chunk)
		if err != nil {
			b.Fatal(err)
		}
		if msgs[i], err = protocol.Encode(&protocol.Update{Seq: uint64(i + 1), Updates: [][]byte{u}}); err != nil {
			b.Fatal(err)
		}
	}
	readers := make([]*rawClient, members)
	for i := range readers {
		readers[i] = joinRaw(b, ts, room)
	}
	if stalled {
		joinRaw(b, ts, room) // says hello, then never reads again
	}
	sender := joinRaw(b, ts, room)
	go func() { // the sender reads its acks, or it would stall too
		for {
			if _, _, err := sender.conn.NextReader(); err != nil {
				return
			}
		}
	}()

	sent := make([]atomic.Int64, b.N) // unix nanoseconds
	latencies := make([][]time.Duration, members)
	done := make(chan error, members)
	for i, r := range readers {
		go func() {
			got := 0
			for got < b.N {
				m, err := r.next()
				if err != nil {
					done <- err
					return
				}
				now := time.Now().UnixNano()
				if u, ok := m.(*protocol.Update); ok {
					for range u.Updates {
						latencies[i] = append(latencies[i], time.Duration(now-sent[got].Load()))
						got++
					}
				}
			}
			done <- nil
		}()
	}

	b.ResetTimer()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for i := range b.N {
		<-tick.C
		sent[i].Store(time.Now().UnixNano())
		if err := sender.conn.WriteMessage(websocket.BinaryMessage, msgs[i]); err != nil {
			b.Fatal(err)
		}
	}
	for range members {
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	var all []time.Duration
	for _, l := range latencies {
		all = append(all, l...)
	}
	slices.Sort(all)
	b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(metric(b, ts, "flowstate_slow_consumer_disconnects_total"), "dropped")
}
