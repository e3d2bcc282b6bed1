package crdt_test

import (
	"testing"

	"github.com/flowstate/flowstate/crdt"
)

func TestTraces(t *testing.T) {
	names := []string{"friendsforever_flat", "clownschool_flat", "seph-blog1", "automerge-paper"}
	if testing.Short() {
		names = names[:2]
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tr := loadTrace(t, name)
			replayTrace(t, tr)
		})
	}
}

// replayTrace checks the local, merge and snapshot paths against endContent,
// comparing the local doc with a []rune model every 1000 transactions to
// pinpoint a divergence.
func replayTrace(t *testing.T, tr *trace) {
	local := crdt.NewDocWithClient(1)
	merged := crdt.NewDocWithClient(2)
	lt := local.Text("t")
	if tr.StartContent != "" {
		u, err := lt.Insert(0, tr.StartContent)
		if err != nil {
			t.Fatal(err)
		}
		mustApply(t, merged, u)
	}
	model := newGapBuf(tr.StartContent)
	for i, txn := range tr.Txns {
		u, err := applyTxnLocal(local, lt, txn.Patches)
		if err != nil {
			t.Fatalf("txn %d: %v", i, err)
		}
		for _, p := range txn.Patches {
			model.splice(p.Pos, p.Del, p.Ins)
		}
		if err := merged.Apply(u); err != nil {
			t.Fatalf("merge txn %d: %v", i, err)
		}
		if i%1000 == 999 {
			if got := lt.String(); got != model.String() {
				t.Fatalf("local text diverged from the model by txn %d (len %d, want %d)", i, len([]rune(got)), model.Len())
			}
			if lt.Len() != model.Len() {
				t.Fatalf("txn %d: Len()=%d, want %d", i, lt.Len(), model.Len())
			}
		}
	}
	if model.String() != tr.EndContent {
		t.Fatal("test bug: the []rune model does not reproduce endContent")
	}
	if got := lt.String(); got != tr.EndContent {
		t.Fatalf("local path: %d code points, want %d; texts differ", len([]rune(got)), model.Len())
	}
	if lt.Len() != model.Len() {
		t.Fatalf("local Len()=%d, want %d", lt.Len(), model.Len())
	}
	if merged.HasPending() {
		t.Fatal("merge path: pending updates left")
	}
	if got := merged.Text("t").String(); got != tr.EndContent {
		t.Fatalf("merge path: %d code points, want %d; texts differ", len([]rune(got)), model.Len())
	}
	if !merged.StateVector().Equal(local.StateVector()) {
		t.Fatalf("merge path state vector %v, local %v", merged.StateVector(), local.StateVector())
	}
	snap := local.Snapshot()
	loaded := loadSnapshot(t, snap)
	if got := loaded.Text("t").String(); got != tr.EndContent {
		t.Fatalf("snapshot path: %d code points, want %d; texts differ", len([]rune(got)), model.Len())
	}
	if !loaded.StateVector().Equal(local.StateVector()) {
		t.Fatalf("snapshot path state vector %v, local %v", loaded.StateVector(), local.StateVector())
	}
	t.Logf("%d txns, %d code points, snapshot %d bytes", len(tr.Txns), model.Len(), len(snap))
}

// gapBuf is a []rune gap buffer: a fast model for mostly-local edits.
type gapBuf struct {
	buf    []rune
	gs, ge int // the gap is buf[gs:ge]
}

func newGapBuf(s string) *gapBuf {
	r := []rune(s)
	return &gapBuf{buf: r, gs: len(r), ge: len(r)}
}

func (g *gapBuf) Len() int { return len(g.buf) - (g.ge - g.gs) }

func (g *gapBuf) String() string { return string(g.buf[:g.gs]) + string(g.buf[g.ge:]) }

func (g *gapBuf) moveGap(pos int) {
	if pos < g.gs {
		n := g.gs - pos
		copy(g.buf[g.ge-n:g.ge], g.buf[pos:g.gs])
		g.gs, g.ge = pos, g.ge-n
	} else if pos > g.gs {
		n := pos - g.gs
		copy(g.buf[g.gs:g.gs+n], g.buf[g.ge:g.ge+n])
		g.gs, g.ge = pos, g.ge+n
	}
}

// splice deletes del code points at pos and inserts ins there.
func (g *gapBuf) splice(pos, del int, ins string) {
	g.moveGap(pos)
	g.ge += del
	rs := []rune(ins)
	if g.ge-g.gs < len(rs) {
		tail := len(g.buf) - g.ge
		nb := make([]rune, 2*len(g.buf)+len(rs)+64)
		copy(nb, g.buf[:g.gs])
		copy(nb[len(nb)-tail:], g.buf[g.ge:])
		g.buf, g.ge = nb, len(nb)-tail
	}
	copy(g.buf[g.gs:], rs)
	g.gs += len(rs)
}
