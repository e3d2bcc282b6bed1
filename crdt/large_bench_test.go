package crdt_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowstate/flowstate/crdt"
)

// largeSizes are the document sizes of the large-document benchmarks: code
// points typed one at a time at random positions, so that the document
// holds about two items per code point (each insertion splits the run it
// lands in).
var largeSizes = []int{10_000, 100_000, 1_000_000}

var (
	largeMu    sync.Mutex
	largeSnaps = map[int][]byte{}
)

// largeSnapshot returns the snapshot of a document built by n one-code-point
// insertions of client 1 at random positions, built once per size.
func largeSnapshot(tb testing.TB, n int) []byte {
	tb.Helper()
	largeMu.Lock()
	defer largeMu.Unlock()
	if s, ok := largeSnaps[n]; ok {
		return s
	}
	rng := rand.New(rand.NewPCG(uint64(n), 11))
	d := crdt.NewDocWithClient(1)
	txt := d.Text("t")
	err := d.Change(func() error {
		for range n {
			if _, err := txt.Insert(rng.IntN(txt.Len()+1), "a"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	s := d.Snapshot()
	largeSnaps[n] = s
	return s
}

// loadLarge returns a fresh document holding largeSnapshot(n).
func loadLarge(tb testing.TB, n int, client crdt.ClientID) *crdt.Doc {
	tb.Helper()
	d := crdt.NewDocWithClient(client)
	if err := d.Apply(largeSnapshot(tb, n)); err != nil {
		tb.Fatal(err)
	}
	return d
}

// BenchmarkLargeDocInsert inserts one code point at a random position of a
// document of 10k, 100k and 1M code points: the cost per edit should not
// grow with the size.
func BenchmarkLargeDocInsert(b *testing.B) {
	for _, n := range largeSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			d := loadLarge(b, n, 2)
			txt := d.Text("t")
			rng := rand.New(rand.NewPCG(8, 8))
			cpu := cpuTime()
			for b.Loop() {
				if _, err := txt.Insert(rng.IntN(txt.Len()+1), "x"); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu)
		})
	}
}

// BenchmarkLargeDocRemote applies another replica's one-code-point
// insertions at random positions of a document of 10k, 100k and 1M code
// points.
func BenchmarkLargeDocRemote(b *testing.B) {
	for _, n := range largeSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			src := loadLarge(b, n, 3)
			rng := rand.New(rand.NewPCG(9, 9))
			updates := make([][]byte, 20_000)
			for i := range updates {
				u, err := src.Text("t").Insert(rng.IntN(src.Text("t").Len()+1), "y")
				if err != nil {
					b.Fatal(err)
				}
				updates[i] = u
			}
			d := loadLarge(b, n, 2)
			i := 0
			var cpu, setup time.Duration
			cpu = cpuTime()
			for b.Loop() {
				if i == len(updates) {
					b.StopTimer()
					c := cpuTime()
					d, i = loadLarge(b, n, 2), 0
					setup += cpuTime() - c
					b.StartTimer()
				}
				if err := d.Apply(updates[i]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			reportCPU(b, cpu+setup)
		})
	}
}

// BenchmarkLargeDocEncode encodes the snapshot of the 1M-code-point
// document.
func BenchmarkLargeDocEncode(b *testing.B) {
	d := loadLarge(b, 1_000_000, 2)
	var snap []byte
	cpu := cpuTime()
	for b.Loop() {
		snap = d.Snapshot()
	}
	reportCPU(b, cpu)
	b.ReportMetric(float64(len(snap)), "snapshot-bytes")
}

// BenchmarkLargeDocLoad loads the snapshot of the 1M-code-point document.
func BenchmarkLargeDocLoad(b *testing.B) {
	snap := largeSnapshot(b, 1_000_000)
	b.SetBytes(int64(len(snap)))
	cpu := cpuTime()
	for b.Loop() {
		if err := crdt.NewDoc().Apply(snap); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu)
	b.ReportMetric(float64(len(snap)), "snapshot-bytes")
}

// BenchmarkTypingAfterLongRun types one code point at a time at the end of
// a run of 100,000 code points inserted at once (a paste), in ASCII and in
// text of two bytes per code point: a keystroke should cost the same
// however long the run before it.
func BenchmarkTypingAfterLongRun(b *testing.B) {
	for _, ch := range []string{"x", "é"} {
		b.Run(fmt.Sprintf("%dbytes", len(ch)), func(b *testing.B) {
			d := crdt.NewDocWithClient(1)
			txt := d.Text("t")
			if _, err := txt.Insert(0, strings.Repeat(ch, 100_000)); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := txt.Insert(txt.Len(), ch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// reportCPU reports the CPU time per op since start (cpuTime), GC
// included: the machines these run on are shared, and the wall time of
// ns/op then also counts waiting for a core.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// liveHeap returns the bytes of live heap after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkLargeDocChurn types 100 MB of text through a document of about
// 1 KB, deleting as much as it types, and reports the document's heap
// against that of the same document freshly loaded from its snapshot
// (heap-ratio): memory should follow what the document holds, not what
// was ever typed into it.
func BenchmarkLargeDocChurn(b *testing.B) {
	const total, chunk, keep = 100 << 20, 1000, 1000
	for b.Loop() {
		before := liveHeap()
		d := crdt.NewDocWithClient(1)
		txt := d.Text("t")
		line := strings.Repeat("x", chunk-1) + "\n"
		if _, err := txt.Insert(0, strings.Repeat("k", keep)); err != nil {
			b.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(5, 5))
		for typed := 0; typed < total; typed += chunk {
			if _, err := txt.Insert(rng.IntN(txt.Len()+1), line); err != nil {
				b.Fatal(err)
			}
			if _, err := txt.Delete(rng.IntN(txt.Len()-chunk+1), chunk); err != nil {
				b.Fatal(err)
			}
		}
		churned := liveHeap() - before
		snap := d.Snapshot()
		before = liveHeap()
		l := crdt.NewDocWithClient(2)
		if err := l.Apply(snap); err != nil {
			b.Fatal(err)
		}
		loaded := liveHeap() - before
		runtime.KeepAlive(d)
		runtime.KeepAlive(l)
		b.ReportMetric(float64(churned)/(1<<20), "churned-MiB")
		b.ReportMetric(float64(loaded)/(1<<20), "loaded-MiB")
		b.ReportMetric(float64(churned)/float64(loaded), "heap-ratio")
	}
}
