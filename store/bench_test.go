package store_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flowstate/flowstate/store"
)

// benchUpdate is the size of a typical keystroke's update.
var benchUpdate = bytes.Repeat([]byte("u"), 30)

// BenchmarkAppend measures durable, acknowledged appends across 100 rooms
// written at once, one goroutine and one Append call per update each, as
// the server's rooms do under load; and a single writer, the idle case.
// It reports appends/s and the latency an Append adds, p50 and p99, with
// group commit and with a transaction per Append.
func BenchmarkAppend(b *testing.B) {
	for _, writers := range []int{100, 1} {
		for _, opts := range []store.BoltOptions{{}, {SyncEachAppend: true}} {
			mode := "group-commit"
			if opts.SyncEachAppend {
				mode = "sync-each-append"
			}
			b.Run(fmt.Sprintf("rooms=%d/%s", writers, mode), func(b *testing.B) {
				benchmarkAppend(b, writers, opts)
			})
		}
	}
}

func benchmarkAppend(b *testing.B, writers int, opts store.BoltOptions) {
	st := openBolt(b, opts)
	latencies := make([][]time.Duration, writers)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range writers {
		n := b.N / writers
		if w < b.N%writers {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			room := fmt.Sprint("room-", w)
			lat := make([]time.Duration, 0, n)
			for range n {
				t0 := time.Now()
				if err := st.Append(room, benchUpdate); err != nil {
					b.Error(err)
					return
				}
				lat = append(lat, time.Since(t0))
			}
			latencies[w] = lat
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(latencies...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "appends/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkOpen10kRooms measures OpenBolt on a file of 10,000 rooms, each
// with a 1 KiB snapshot and a short log: the time from start to a server
// ready to load rooms, page walk included.
func BenchmarkOpen10kRooms(b *testing.B) {
	path := filepath.Join(b.TempDir(), "flowstate.db")
	build10kRooms(b, path)
	for _, skip := range []bool{false, true} {
		b.Run(fmt.Sprintf("SkipCheck=%v", skip), func(b *testing.B) {
			for b.Loop() {
				st, err := store.OpenBolt(path, store.BoltOptions{SkipCheck: skip})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				st.Close()
				b.StartTimer()
			}
		})
	}
}

// build10kRooms writes the file BenchmarkOpen10kRooms opens, with 100
// writers so that group commit keeps it quick.
func build10kRooms(b *testing.B, path string) {
	st, err := store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		b.Fatal(err)
	}
	snapshot := bytes.Repeat([]byte("s"), 1024)
	var wg sync.WaitGroup
	for w := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := w; r < 10000; r += 100 {
				room := fmt.Sprintf("room-%05d", r)
				if err := st.Compact(room, snapshot); err != nil {
					b.Error(err)
					return
				}
				if err := st.Append(room, benchUpdate, benchUpdate, benchUpdate); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
}
