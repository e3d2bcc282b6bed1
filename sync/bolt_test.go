package sync_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowstate/flowstate/store"
)

// TestAckedIsStoredInBolt checks, with a real bbolt file (whose appends
// the room hands over without a goroutine of its own, AppendAsync), that
// every acknowledged update is in the store when its Ack arrives, across
// compactions, and in order.
func TestAckedIsStoredInBolt(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "flowstate.db"), store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ts := startServerWithStore(t, testConfig(), st)
	const room = "bolt"
	c := joinRaw(t, ts, room)
	var want strings.Builder
	for round := range 3 {
		var seq uint64
		for i := range 40 {
			s := fmt.Sprintf("%d.%d ", round, i)
			want.WriteString(s)
			seq = c.edit("body", s)
		}
		c.waitAck(seq)
		if got := storedDoc(t, st, room).Text("body").String(); got != want.String() {
			t.Fatalf("round %d: acknowledged %q, stored %q", round, want.String(), got)
		}
	}
}
