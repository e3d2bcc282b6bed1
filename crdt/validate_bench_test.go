package crdt_test

import (
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
