package crdt_test

import (
	"bytes"
	"math"
	"runtime"
	"sort"
	"testing"

	"github.com/flowstate/flowstate/crdt"
)

// Allocation bound for Apply of any input on a fresh document: a fixed
// allowance for the document's first types, items and scratch space, plus a
// bound per input byte. No length field may make Apply allocate what the
// input does not carry.
const (
	allocFixed   = 16 << 10
	allocPerByte = 128
)

// hostileInputs returns the fuzz seeds, single-byte corruptions of them that
// turn lengths into huge claims, and crafted inputs whose headers claim far
// more than they carry.
func hostileInputs() [][]byte {
	seeds := fuzzSeeds()["FuzzApplyUpdate"]
	names := make([]string, 0, len(seeds))
	for n := range seeds {
		names = append(names, n)
	}
	sort.Strings(names)
	var out [][]byte
	claims := []byte{0xdb, 0xda, 0xd9, 0xc6, 0xc5, 0xc9, 0xc8, 0xdd, 0xdc, 0xdf, 0xde, 0xce, 0xcf, 0xff, 0x9f, 0xbf, 0x8f, 0xd8}
	for _, n := range names {
		s := seeds[n]
		out = append(out, s)
		if len(s) > 4096 {
			continue
		}
		for i := range s {
			for _, c := range claims {
				m := bytes.Clone(s)
				m[i] = c
				out = append(out, m)
				// The same with the bytes after it as a large length.
				if i+5 <= len(m) {
					m = bytes.Clone(m)
					copy(m[i+1:], []byte{0x7f, 0xff, 0xff, 0xf0})
					out = append(out, m)
				}
			}
			out = append(out, s[:i])
		}
	}
	src := crdt.NewDocWithClient(7)
	u, err := src.Map("m").Set("k", "v")
	if err != nil {
		panic(err)
	}
	head := u[:len(u)-2] // up to the value "v"
	for _, v := range [][]byte{
		{0xdb, 0xff, 0xff, 0xff, 0xff, 'a'}, // str32 of 4 GiB (the 29 bytes)
		{0xc6, 0xff, 0xff, 0xff, 0xff, 'a'},
		{0xc9, 0xff, 0xff, 0xff, 0xff, 1, 'a'},
		{0xdd, 0xff, 0xff, 0xff, 0xff, 1},
		{0xdf, 0xff, 0xff, 0xff, 0xff, 1, 1},
		{0xdb, 0x00, 0x60, 0x00, 0x00, 'a'}, // 6 MiB
		bytes.Repeat([]byte{0x91}, 64),
		bytes.Repeat([]byte{0xdd, 0, 0, 0, 1}, 63),
	} {
		out = append(out, append(bytes.Clone(head), v...))
	}
	return out
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestApplyAllocationBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("thousands of inputs")
	}
	inputs := hostileInputs()
	worst, worstLen := 0.0, 0
	for _, in := range inputs {
		// The least of a few runs: the first may fill pooled scratch
		// space, and under the race detector sync.Pool drops a quarter
		// of the items put back at random, so any one run may allocate
		// that space again (four runs were once not enough).
		n := uint64(math.MaxUint64)
		for range 8 {
			d := crdt.NewDocWithClient(5)
			n = min(n, allocated(func() { _ = d.Apply(in) }))
		}
		limit := uint64(allocFixed + allocPerByte*len(in))
		if n > limit {
			t.Errorf("Apply of %d bytes allocated %d, above %d: %x", len(in), n, limit, in[:min(len(in), 64)])
		}
		if r := float64(n) / float64(len(in)+1); r > worst {
			worst, worstLen = r, len(in)
		}
	}
	t.Logf("%d inputs; worst %.0f bytes allocated per input byte (a %d-byte input)", len(inputs), worst, worstLen)
}
