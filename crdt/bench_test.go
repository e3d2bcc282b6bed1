package crdt_test

import (
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
	cpu := cpuTime()
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
	reportCPU(b, cpu)
	b.ReportMetric(float64(len(tr.Txns)), "txns/op")
	b.ReportMetric(float64(updateBytes), "update-bytes/op")
}

// BenchmarkLocalChange is BenchmarkLocalApply without encoding an update
// per edit: each trace transaction runs in one Doc.Change.
func BenchmarkLocalChange(b *testing.B) {
	tr := loadTrace(b, benchTrace)
	cpu := cpuTime()
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
	reportCPU(b, cpu)
	b.ReportMetric(float64(len(tr.Txns)), "txns/op")
}

func BenchmarkMerge(b *testing.B) {
	tr := loadTrace(b, benchTrace)
	_, updates := buildTraceDoc(b, tr)
	total := 0
	for _, u := range updates {
		total += len(u)
	}
	cpu := cpuTime()
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
	reportCPU(b, cpu)
	b.SetBytes(int64(total))
	b.ReportMetric(float64(total), "update-bytes/op")
}

func BenchmarkEncodeSnapshot(b *testing.B) {
	tr := loadTrace(b, benchTrace)
	d, _ := buildTraceDoc(b, tr)
	var snap []byte
	cpu := cpuTime()
	for b.Loop() {
		snap = d.Snapshot()
	}
	reportCPU(b, cpu)
	b.SetBytes(int64(len(snap)))
	b.ReportMetric(float64(len(snap)), "snapshot-bytes")
}

func BenchmarkLoadSnapshot(b *testing.B) {
	tr := loadTrace(b, benchTrace)
	d, _ := buildTraceDoc(b, tr)
	snap := d.Snapshot()
	cpu := cpuTime()
	for b.Loop() {
		l := crdt.NewDocWithClient(2)
		if err := l.Apply(snap); err != nil {
			b.Fatal(err)
		}
		if l.Text("t").Len() != len([]rune(tr.EndContent)) {
			b.Fatal("loaded snapshot has the wrong length")
		}
	}
	reportCPU(b, cpu)
	b.SetBytes(int64(len(snap)))
	b.ReportMetric(float64(len(snap)), "snapshot-bytes")
}
