package crdt_test

import (
	"math/rand/v2"
	"testing"

	"github.com/flowstate/flowstate/crdt"
)

const benchTrace = "automerge-paper"

// buildTraceDoc replays tr locally and returns the doc and per-txn updates.
func buildTraceDoc(b *testing.B, tr *trace) (*crdt.Doc, [][]byte) {
	b.Helper()
	d := crdt.NewDocWithClient(1)
	txt := d.Text("t")
	updates := make([][]byte, 0, len(tr.Txns))
	for i, txn := range tr.Txns {
		u, err := applyTxnLocal(d, txt, txn.Patches)
		if err != nil {
			b.Fatalf("txn %d: %v", i, err)
		}
		updates = append(updates, u)
	}
	if txt.String() != tr.EndContent {
		b.Fatal("replay does not reach endContent")
	}
	return d, updates
}

func BenchmarkLocalApply(b *testing.B) {
	tr := loadTrace(b, benchTrace)
	var updateBytes int
	for b.Loop() {
		d := crdt.NewDocWithClient(1)
		txt := d.Text("t")
		updateBytes = 0
		for _, txn := range tr.Txns {
			for _, p := range txn.Patches {
				if p.Del > 0 {
					u, err := txt.Delete(p.Pos, p.Del)
					if err != nil {
						b.Fatal(err)
					}
					updateBytes += len(u)
				}
				if p.Ins != "" {
					u, err := txt.Insert(p.Pos, p.Ins)
					if err != nil {
						b.Fatal(err)
					}
					updateBytes += len(u)
				}
			}
		}
		if txt.Len() != len([]rune(tr.EndContent)) {
			b.Fatalf("Len()=%d after replay", txt.Len())
		}
	}
	b.ReportMetric(float64(len(tr.Txns)), "txns/op")
	b.ReportMetric(float64(updateBytes), "update-bytes/op")
}

// BenchmarkLocalChange is BenchmarkLocalApply without encoding an update
// per edit: each trace transaction runs in one Doc.Change.
func BenchmarkLocalChange(b *testing.B) {
	tr := loadTrace(b, benchTrace)
	for b.Loop() {
		d := crdt.NewDocWithClient(1)
		txt := d.Text("t")
		for _, txn := range tr.Txns {
			err := d.Change(func() error {
				for _, p := range txn.Patches {
					if p.Del > 0 {
						if _, err := txt.Delete(p.Pos, p.Del); err != nil {
							return err
						}
					}
					if p.Ins != "" {
						if _, err := txt.Insert(p.Pos, p.Ins); err != nil {
							return err
						}
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		if txt.Len() != len([]rune(tr.EndContent)) {
			b.Fatalf("Len()=%d after replay", txt.Len())
		}
	}
	b.ReportMetric(float64(len(tr.Txns)), "txns/op")
}

func BenchmarkMerge(b *testing.B) {
	tr := loadTrace(b, benchTrace)
	_, updates := buildTraceDoc(b, tr)
	total := 0
	for _, u := range updates {
		total += len(u)
	}
	for b.Loop() {
		d := crdt.NewDocWithClient(2)
		for _, u := range updates {
			if err := d.Apply(u); err != nil {
				b.Fatal(err)
			}
		}
		if d.Text("t").Len() != len([]rune(tr.EndContent)) {
			b.Fatal("merge does not reach endContent")
		}
	}
	b.SetBytes(int64(total))
	b.ReportMetric(float64(total), "update-bytes/op")
}

func BenchmarkEncodeSnapshot(b *testing.B) {
	tr := loadTrace(b, benchTrace)
	d, _ := buildTraceDoc(b, tr)
	var snap []byte
	for b.Loop() {
		snap = d.Snapshot()
	}
	b.SetBytes(int64(len(snap)))
	b.ReportMetric(float64(len(snap)), "snapshot-bytes")
}

func BenchmarkLoadSnapshot(b *testing.B) {
	tr := loadTrace(b, benchTrace)
	d, _ := buildTraceDoc(b, tr)
	snap := d.Snapshot()
	for b.Loop() {
		l := crdt.NewDocWithClient(2)
		if err := l.Apply(snap); err != nil {
			b.Fatal(err)
		}
		if l.Text("t").Len() != len([]rune(tr.EndContent)) {
			b.Fatal("loaded snapshot has the wrong length")
		}
	}
	b.SetBytes(int64(len(snap)))
	b.ReportMetric(float64(len(snap)), "snapshot-bytes")
}

// largeDoc builds a document of about 500,000 code points in some 100,000
// items, made by inserts and deletes at random positions: the shape that
// defeats a cursor at the last edit.
func largeDoc(b *testing.B) *crdt.Doc {
	b.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	d := crdt.NewDocWithClient(1)
	txt := d.Text("t")
	for i := range 100_000 {
		err := d.Change(func() error {
			if _, err := txt.Insert(rng.IntN(txt.Len()+1), "abcde"); err != nil {
				return err
			}
			if i%4 == 0 && txt.Len() > 10 {
				_, err := txt.Delete(rng.IntN(txt.Len()-3), 2)
				return err
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return d
}

// BenchmarkLargeDocRandomInsert inserts one code point at a random position
// of a large document.
func BenchmarkLargeDocRandomInsert(b *testing.B) {
	d := largeDoc(b)
	txt := d.Text("t")
	rng := rand.New(rand.NewPCG(8, 8))
	for b.Loop() {
		if err := d.Change(func() error { _, err := txt.Insert(rng.IntN(txt.Len()+1), "x"); return err }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLargeDocRemoteInsert applies another replica's one-code-point
// inserts at random positions of a large document.
func BenchmarkLargeDocRemoteInsert(b *testing.B) {
	d := largeDoc(b)
	src := crdt.NewDocWithClient(2)
	if err := src.Apply(d.Snapshot()); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	updates := make([][]byte, 10_000)
	for i := range updates {
		u, err := src.Text("t").Insert(rng.IntN(src.Text("t").Len()+1), "y")
		if err != nil {
			b.Fatal(err)
		}
		updates[i] = u
	}
	i := 0
	for b.Loop() {
		if i == len(updates) {
			b.StopTimer()
			d = largeDoc(b)
			i = 0
			b.StartTimer()
		}
		if err := d.Apply(updates[i]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkLargeDocLoad loads the snapshot of a large document.
func BenchmarkLargeDocLoad(b *testing.B) {
	snap := largeDoc(b).Snapshot()
	b.SetBytes(int64(len(snap)))
	for b.Loop() {
		if err := crdt.NewDoc().Apply(snap); err != nil {
			b.Fatal(err)
		}
	}
}
