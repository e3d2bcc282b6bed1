package crdt

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// The queue gives records back lowest clock first, equal clocks in arrival
// order, whatever order they arrive in; and finds those covering a range.
func TestPendingQueueOrder(t *testing.T) {
	for _, n := range []int{1, 5, 300, 2000} {
		rng := rand.New(rand.NewPCG(uint64(n), 1))
		var q pendingQueue
		var want []*record
		for range n {
			r := &record{clock: uint64(rng.IntN(n)), length: uint64(1 + rng.IntN(4))}
			q.add(r, 1)
			want = append(want, r)
		}
		// Stable by clock: equal clocks keep their arrival order.
		slices.SortStableFunc(want, func(a, b *record) int { return cmpClient(ClientID(a.clock), ClientID(b.clock)) })
		lo, end := uint64(n/3), uint64(n/3+3)
		var covering, got []*record
		q.overlapping(lo, end, func(r *record) bool { covering = append(covering, r); return true })
		for _, r := range want {
			if r.clock < end && r.clock+r.length > lo && !slices.Contains(covering, r) {
				t.Errorf("n=%d: overlapping(%d, %d) misses [%d, +%d)", n, lo, end, r.clock, r.length)
			}
		}
		for _, r := range covering {
			if !(r.clock < end && r.clock+r.length > lo) {
				t.Errorf("n=%d: overlapping(%d, %d) gives [%d, +%d)", n, lo, end, r.clock, r.length)
			}
		}
		for q.Len() > 0 {
			got = append(got, q.pop().r)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("n=%d: records come back out of order", n)
		}
	}
}
