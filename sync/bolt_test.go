package sync_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowstate/flowstate/store"
	docsync "github.com/flowstate/flowstate/sync"
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

// TestCommitIntervalHoldsOnlyAcks checks that a room lets the store hold
// its writes for the commit interval (AppendLater) only when nothing but
// its senders' Acks waits for them: on an open server a relay goes out at
// once while the Ack of the same update waits for the interval. With
// Config.Auth, where a relay waits until its update is written, and for
// a bulk write, whose sender may wait for its Ack before it sends more,
// the write never waits for the interval.
func TestCommitIntervalHoldsOnlyAcks(t *testing.T) {
	tests := []struct {
		name     string
		auth     bool
		updates  int // in the message whose Ack is timed
		interval time.Duration
		held     bool // whether that Ack waits for the interval
	}{
		// Long enough to see the Ack held, short enough for the test.
		{"open", false, 1, time.Second, true},
		// Far longer than the test's read deadline: a relay or an Ack
		// held for it fails the test.
		{"auth", true, 1, time.Hour, false},
		{"bulk", false, 32, time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := store.OpenBolt(filepath.Join(t.TempDir(), "flowstate.db"), store.BoltOptions{CommitInterval: tt.interval})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			cfg := testConfig()
			var token string
			if tt.auth {
				cfg.Auth = newAuth(t, authSecret)
				token = mint(t, cfg.Auth, "later", docsync.PermWrite, time.Hour)
			}
			ts := startServerWithStore(t, cfg, st)
			a, b := dialRaw(t, ts.url("later")), dialRaw(t, ts.url("later"))
			a.helloWith("later", token)
			b.helloWith("later", token)
			// The first write in a while is committed at once.
			a.waitAck(a.edit("body", "one "))
			if m, _ := b.readUntilRelay(); len(m.Updates) != 1 {
				t.Fatalf("first relay: %d updates", len(m.Updates))
			}
			var updates [][]byte
			want := "one "
			for range tt.updates {
				u, err := a.doc.Text("body").Insert(a.doc.Text("body").Len(), "x")
				if err != nil {
					t.Fatal(err)
				}
				updates = append(updates, u)
				want += "x"
			}
			sent := time.Now()
			seq := a.sendUpdates(updates...)
			if m, _ := b.readUntilRelay(); len(m.Updates) != tt.updates {
				t.Fatalf("second relay: %d updates, want %d", len(m.Updates), tt.updates)
			}
			a.waitAck(seq)
			if held := time.Since(sent); tt.held && held < tt.interval/2 {
				t.Errorf("the second Ack came %v after its update, within the commit interval of %v", held, tt.interval)
			}
			if got := storedDoc(t, st, "later").Text("body").String(); got != want {
				t.Errorf("stored %q after the Ack, want %q", got, want)
			}
		})
	}
}
