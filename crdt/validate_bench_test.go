package crdt_test

import (
	"strings"
	"testing"

	"github.com/flowstate/flowstate/crdt"
)

// manyBlocksSnapshot returns the snapshot of a document written by
// clients writers, each inserting a few runs at pseudo-random places, so
// that nearly every record's origins lie in other clients' blocks: the
// shape that made validation cost records × blocks.
func manyBlocksSnapshot(writers int) []byte {
	rng := splitmix(3)
	d := crdt.NewDocWithClient(1)
	for w := range writers {
		if err := d.ResumeClientID(crdt.ClientID(w + 1)); err != nil {
			panic(err)
		}
		txt := d.Text("t")
		for range 4 {
			must(txt.Insert(int(rng.next()%uint64(txt.Len()+1)), "abcde"))
		}
	}
	return d.Snapshot()
}

// BenchmarkApplyManyBlocks loads a snapshot of thousands of blocks whose
// records refer to each other (about 200 KB): validation finds each origin
// by binary search, so the load costs O(records × log n).
func BenchmarkApplyManyBlocks(b *testing.B) {
	for _, writers := range []int{500, 4000} {
		snap := manyBlocksSnapshot(writers)
		b.Run(fmtInt(writers)+"-writers", func(b *testing.B) {
			b.SetBytes(int64(len(snap)))
			b.ReportAllocs()
			for b.Loop() {
				if err := crdt.NewDoc().Apply(snap); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkApplyResentSnapshot re-applies a document's own snapshot: every
// record overlaps what it holds and is compared with it.
func BenchmarkApplyResentSnapshot(b *testing.B) {
	snap := manyBlocksSnapshot(4000)
	d := crdt.NewDoc()
	if err := d.Apply(snap); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(snap)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Apply(snap); err != nil {
			b.Fatal(err)
		}
	}
}

func fmtInt(n int) string {
	var b []byte
	for n >= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(append([]byte{byte('0' + n)}, b...))
}

// cutRun returns a document holding one run of n non-ASCII code points of
// client 5, and an update re-sending that run as n one-code-point records:
// valid and compatible, so it is accepted and changes nothing, but every
// record is compared with the same long item.
func cutRun(n int) (*crdt.Doc, []byte) {
	d := crdt.NewDocWithClient(5)
	run := strings.Repeat("日", n)
	must(d.Text("t").Insert(0, run))
	col := varints(hdrParent0, hdrTextNone(1))
	for range n - 1 {
		col = append(col, 0x19) // long text form, left origin "prev", no right origin, n = 1
	}
	b := mp{}.arr(5).uint(1).arr(1).arr(2).uint(0).str("t").arr(1).uint(5).arr(0).arr(1).arr(5).uint(0).uint(0)
	b = append(b, 0xc6, byte(len(col)>>24), byte(len(col)>>16), byte(len(col)>>8), byte(len(col)))
	b = append(b, col...)
	b = append(b, 0xdb, byte(len(run)>>24), byte(len(run)>>16), byte(len(run)>>8), byte(len(run)))
	b = append(b, run...)
	b = b.arr(0)
	return d, b
}

// BenchmarkApplyRunCutIntoRecords re-sends a 20k-code-point run as 20k
// records: linear, each record's content is found from where the previous
// one ended.
func BenchmarkApplyRunCutIntoRecords(b *testing.B) {
	d, u := cutRun(20000)
	b.SetBytes(int64(len(u)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Apply(u); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateShuffledKeystrokes delivers 20k one-character updates of
// one client in random order: every one is compared with the pending
// records near its clock, not with all of them.
func BenchmarkValidateShuffledKeystrokes(b *testing.B) {
	src := crdt.NewDocWithClient(1)
	var ups [][]byte
	for i := range 20000 {
		ups = append(ups, must(src.Text("t").Insert(i, "x")))
	}
	rng := splitmix(9)
	for i := len(ups) - 1; i > 0; i-- {
		j := int(rng.next() % uint64(i+1))
		ups[i], ups[j] = ups[j], ups[i]
	}
	b.ReportAllocs()
	for b.Loop() {
		d := crdt.NewDocWithClient(2)
		for _, u := range ups {
			if err := d.Apply(u); err != nil {
				b.Fatal(err)
			}
		}
	}
}
