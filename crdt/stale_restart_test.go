package crdt_test

import (
	"testing"

	"github.com/flowstate/flowstate/crdt"
	"pgregory.net/rapid"
)

// TestStaleRestart: three replicas edit and sync through a server; now and
// then one saves a snapshot, and one restarts from an older snapshot of
// itself, losing what it wrote since (and possibly never sent), with its
// old client ID when the snapshot holds changes under it, else with
// NewDoc. The client-ID rule makes the restarted replica write under a
// fresh ID, so the server never sees two histories under one ID: it refuses
// nothing, and at the end every replica agrees with the server.
func TestStaleRestart(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		type save struct {
			id   crdt.ClientID
			snap []byte
		}
		docs := []*crdt.Doc{crdt.NewDocWithClient(7), crdt.NewDocWithClient(3), crdt.NewDocWithClient(42)}
		server := crdt.NewDocWithClient(99)
		saved := make([][]save, len(docs))
		toServer := func(r int, u []byte) {
			if u == nil {
				return
			}
			if err := server.Apply(u); err != nil {
				t.Fatalf("the server refused replica %d (client %d): %v", r, docs[r].ClientID(), err)
			}
		}
		steps := rapid.IntRange(5, opSize(40, 120)).Draw(t, "steps")
		for range steps {
			r := rapid.IntRange(0, len(docs)-1).Draw(t, "replica")
			d := docs[r]
			switch op := rapid.IntRange(0, 6).Draw(t, "op"); op {
			case 0, 1, 2: // an edit, sent unless the replica crashes first
				u := randomEdit(t, d)
				if rapid.IntRange(0, 3).Draw(t, "lost") > 0 {
					toServer(r, u)
				}
			case 3:
				saved[r] = append(saved[r], save{d.ClientID(), d.Snapshot()})
			case 4: // restart from an older snapshot
				if len(saved[r]) == 0 {
					continue
				}
				s := saved[r][rapid.IntRange(0, len(saved[r])-1).Draw(t, "snapshot")]
				nd := crdt.NewDoc()
				if probe := loadSnapshot(t, s.snap); probe.Clock(s.id) > 0 {
					nd = crdt.NewDocWithClient(s.id)
				}
				mustApply(t, nd, s.snap)
				docs[r] = nd
			case 5, 6: // sync both ways
				toServer(r, d.Diff(server.StateVector()))
				mustApply(t, d, server.Diff(d.StateVector()))
			}
		}
		for r, d := range docs {
			toServer(r, d.Diff(server.StateVector()))
		}
		want := stateOf(t, server)
		for _, d := range docs {
			mustApply(t, d, server.Diff(d.StateVector()))
			sameState(t, "replica against the server", want, stateOf(t, d))
			sameState(t, "snapshot reload", want, stateOf(t, loadSnapshot(t, d.Snapshot())))
		}
	})
}
