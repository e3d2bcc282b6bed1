package crdt

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

// composeRef is compose as FORMAT.md §5.5 describes it, one change at a
// time over a flat list of spans: the reference the chunked compose must
// match.
// refSpan is a piece of a delta being built: n code points that are either
// kept from the old text (ins == nil, del false), removed from it (del), or
// inserted (ins holds them).
type refSpan struct {
	n   int
	del bool
	ins []rune
}

// compose turns a sequence of positional changes into one delta from the
// text before the first change to the text after the last.
func composeRef(changes []change) []DeltaOp {
	// A single retain of "the rest" is implicit at the end; spans cover
	// only the prefix of the text the changes reached.
	var spans []refSpan
	for _, ch := range changes {
		if ch.insert != "" {
			spans = refInsertSpan(spans, ch.pos, []rune(ch.insert))
		} else if ch.delete > 0 {
			spans = refDeleteSpan(spans, ch.pos, ch.delete)
		}
	}
	var out []DeltaOp
	push := func(op DeltaOp) {
		if n := len(out); n > 0 {
			last := &out[n-1]
			switch {
			case op.Retain > 0 && last.Retain > 0:
				last.Retain += op.Retain
				return
			case op.Delete > 0 && last.Delete > 0:
				last.Delete += op.Delete
				return
			case op.Insert != "" && last.Insert != "":
				last.Insert += op.Insert
				return
			}
		}
		out = append(out, op)
	}
	for _, s := range spans {
		switch {
		case s.ins != nil:
			if len(s.ins) > 0 {
				push(DeltaOp{Insert: string(s.ins)})
			}
		case s.del:
			push(DeltaOp{Delete: s.n})
		default:
			push(DeltaOp{Retain: s.n})
		}
	}
	for len(out) > 0 && out[len(out)-1].Retain > 0 {
		out = out[:len(out)-1]
	}
	return out
}

// refSeekSpan splits spans so that a refSpan boundary falls at new-text position
// pos and returns the index of the first refSpan at or after it. Positions
// past the covered prefix extend it with a kept refSpan.
func refSeekSpan(spans []refSpan, pos int) ([]refSpan, int) {
	p := 0
	for i := 0; i < len(spans); i++ {
		s := spans[i]
		if s.del {
			continue
		}
		n := s.n
		if s.ins != nil {
			n = len(s.ins)
		}
		if pos == p {
			return spans, i
		}
		if pos < p+n {
			k := pos - p
			var a, b refSpan
			if s.ins != nil {
				a = refSpan{ins: append([]rune(nil), s.ins[:k]...)}
				b = refSpan{ins: append([]rune(nil), s.ins[k:]...)}
			} else {
				a, b = refSpan{n: k}, refSpan{n: n - k}
			}
			spans[i] = a
			spans = append(spans, refSpan{})
			copy(spans[i+2:], spans[i+1:])
			spans[i+1] = b
			return spans, i + 1
		}
		p += n
	}
	if pos > p {
		spans = append(spans, refSpan{n: pos - p})
	}
	return spans, len(spans)
}

func refInsertSpan(spans []refSpan, pos int, ins []rune) []refSpan {
	spans, i := refSeekSpan(spans, pos)
	spans = append(spans, refSpan{})
	copy(spans[i+1:], spans[i:])
	spans[i] = refSpan{ins: ins}
	return spans
}

func refDeleteSpan(spans []refSpan, pos, n int) []refSpan {
	spans, i := refSeekSpan(spans, pos)
	spans, _ = refSeekSpan(spans, pos+n)
	for ; n > 0 && i < len(spans); i++ {
		s := &spans[i]
		switch {
		case s.del:
		case s.ins != nil:
			n -= len(s.ins)
			s.ins = s.ins[:0]
		default:
			n -= s.n
			s.del = true
		}
	}
	return spans
}

// compose must give exactly the delta of the plain composition, for long
// and short sequences of random changes, including inserts that are deleted
// again and deletes past the reached prefix.
func TestComposeMatchesReference(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, seed))
		n := 1 + rng.IntN(50)
		if seed%10 == 0 {
			n = 3000
		}
		length := rng.IntN(400) // of the text before the changes
		var changes []change
		for range n {
			switch {
			case length > 0 && rng.IntN(3) == 0:
				pos := rng.IntN(length)
				del := 1 + rng.IntN(min(length-pos, 1+rng.IntN(20)))
				changes = append(changes, change{pos: pos, delete: del})
				length -= del
			default:
				pos := rng.IntN(length + 1)
				if rng.IntN(4) == 0 {
					pos = length // typing at the end, deleting back
				}
				s := string([]rune{'a' + rune(rng.IntN(26)), 'é', '😀'}[:1+rng.IntN(3)])
				changes = append(changes, change{pos: pos, insert: s})
				length += len([]rune(s))
			}
		}
		if got, want := compose(changes), composeRef(changes); !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: compose of %d changes:\n got %v\nwant %v", seed, n, got, want)
		}
	}
}
