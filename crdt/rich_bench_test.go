package crdt_test

import (
	"math/rand/v2"
	"testing"

	"github.com/flowstate/flowstate/crdt"
)

// richTraceUpdates replays the benchmark trace locally with a format or
// unformat of a random range every 50 edits (issue 13's speed workload),
// and returns the doc and, if keep, one update per edit.
func richTraceUpdates(b *testing.B, tr *trace, keep bool) (*crdt.Doc, [][]byte) {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	keys := []string{"bold", "italic", "link", "comment"}
	d := crdt.NewDocWithClient(1)
	txt := d.Text("t")
	var updates [][]byte
	edits := 0
	add := func(u []byte, err error) {
		if err != nil {
			b.Fatal(err)
		}
		if keep && u != nil {
			updates = append(updates, u)
		}
	}
	for _, txn := range tr.Txns {
		for _, p := range txn.Patches {
			if p.Del > 0 {
				add(txt.Delete(p.Pos, p.Del))
			}
			if p.Ins != "" {
				add(txt.Insert(p.Pos, p.Ins))
			}
			if edits++; edits%50 == 0 && txt.Len() > 0 {
				pos := rng.IntN(txt.Len())
				n := 1 + rng.IntN(min(txt.Len()-pos, 40))
				var v any = true
				if rng.IntN(4) == 0 {
					v = nil
				}
				add(txt.Format(pos, n, keys[rng.IntN(len(keys))], v))
			}
		}
	}
	if txt.String() != tr.EndContent {
		b.Fatal("replay does not reach endContent")
	}
	return d, updates
}

// BenchmarkRichLocal is the trace replayed locally with a format every 50
// edits; compare with BenchmarkLocalApply.
func BenchmarkRichLocal(b *testing.B) {
	tr := loadTrace(b, benchTrace)
	for b.Loop() {
		richTraceUpdates(b, tr, false)
	}
}

// BenchmarkRichMerge applies the updates of BenchmarkRichLocal to a fresh
// doc; compare with BenchmarkMerge.
func BenchmarkRichMerge(b *testing.B) {
	tr := loadTrace(b, benchTrace)
	_, updates := richTraceUpdates(b, tr, true)
	for b.Loop() {
		d := crdt.NewDocWithClient(2)
		for _, u := range updates {
			if err := d.Apply(u); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkRichSnapshot encodes the snapshot of BenchmarkRichLocal's doc;
// compare with BenchmarkEncodeSnapshot.
func BenchmarkRichSnapshot(b *testing.B) {
	tr := loadTrace(b, benchTrace)
	d, _ := richTraceUpdates(b, tr, false)
	var snap []byte
	for b.Loop() {
		snap = d.Snapshot()
	}
	b.ReportMetric(float64(len(snap)), "snapshot-bytes")
}

// BenchmarkRichToDelta resolves the formatting of BenchmarkRichLocal's doc.
func BenchmarkRichToDelta(b *testing.B) {
	tr := loadTrace(b, benchTrace)
	d, _ := richTraceUpdates(b, tr, false)
	var ops int
	for b.Loop() {
		ops = len(d.Text("t").ToDelta())
	}
	b.ReportMetric(float64(ops), "ops")
}

// BenchmarkRichMergeObserved is BenchmarkRichMerge with an observer on the
// text, whose events carry attributes and so walk the text (RICH.md §R7);
// compare with BenchmarkRichMerge.
func BenchmarkRichMergeObserved(b *testing.B) {
	tr := loadTrace(b, benchTrace)
	_, updates := richTraceUpdates(b, tr, true)
	for b.Loop() {
		d := crdt.NewDocWithClient(2)
		events := 0
		d.Text("t").Observe(func(crdt.TextEvent) { events++ })
		for _, u := range updates {
			if err := d.Apply(u); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkApplyDelta applies, to the text of BenchmarkRichLocal's doc
// (about 100,000 code points with 5,000 marks), a delta that bolds a word
// in its middle and types a letter after it.
func BenchmarkApplyDelta(b *testing.B) {
	tr := loadTrace(b, benchTrace)
	d, _ := richTraceUpdates(b, tr, false)
	x := d.Text("t")
	mid := x.Len() / 2
	for i := 0; b.Loop(); i++ {
		if _, err := x.ApplyDelta([]crdt.DeltaOp{{Retain: mid}, {Retain: 5, Attributes: map[string]any{"bold": i%2 == 0}}, {Insert: "x"}}); err != nil {
			b.Fatal(err)
		}
	}
}
