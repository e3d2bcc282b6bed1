package sync_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowstate/flowstate/protocol"
	"github.com/flowstate/flowstate/store"
)

// A flakyStore is a Memory whose Load fails while told to, as a disk
// might.
type flakyStore struct {
	*store.Memory
	failLoad atomic.Bool
}

var errDisk = errors.New("test: disk on fire")

func (s *flakyStore) Load(room string) ([]byte, [][]byte, error) {
	if s.failLoad.Load() {
		return nil, nil, errDisk
	}
	return s.Memory.Load(room)
}

// A room whose document cannot be loaded answers the joiner with 1011,
// and a later join, once the store recovers, opens it.
func TestRoomLoadFailure(t *testing.T) {
	st := &flakyStore{Memory: store.NewMemory()}
	ts := startServerWithStore(t, testConfig(), st)
	st.failLoad.Store(true)
	c := dialRaw(t, ts.url("broken"))
	c.send(&protocol.Hello{Version: protocol.Version, Room: "broken", Client: c.id, StateVector: c.doc.StateVector().Encode()})
	c.expectClosed(protocol.CodeInternalError)

	st.failLoad.Store(false)
	d := joinRaw(t, ts, "broken")
	d.waitAck(d.edit("body", "fine"))
}

// A room whose log grows long folds it into a snapshot, and nothing is
// lost on the way.
func TestLogCompaction(t *testing.T) {
	const n = 1500 // more than the room's compaction threshold (1024)
	ts := startServer(t, testConfig(), nil)
	c := joinRaw(t, ts, "compact")
	var want strings.Builder
	for i := range n {
		s := fmt.Sprintf("%d ", i)
		want.WriteString(s)
		c.edit("body", s)
	}
	c.waitAck(n)
	// The fold follows the Append that made the log long, after its Acks.
	waitFor(t, 10*time.Second, func() error {
		rooms, err := ts.st.Rooms()
		if err != nil {
			t.Fatal(err)
		}
		if len(rooms) != 1 || rooms[0].SnapshotBytes == 0 || rooms[0].LogEntries >= n {
			return fmt.Errorf("stored rooms %+v: want a snapshot and a short log", rooms)
		}
		return nil
	})
	if got := storedDoc(t, ts.st, "compact").Text("body").String(); got != want.String() {
		t.Errorf("stored body differs: %d bytes, want %d", len(got), want.Len())
	}
	if got := dial(t, ts, "compact", nil).Text("body"); got != want.String() {
		t.Errorf("late joiner's body differs: %d bytes, want %d", len(got), want.Len())
	}
}

// A slowStore is a Memory whose appends take a while to become durable,
// as they do on a disk, and become visible only once they are.
type slowStore struct {
	*store.Memory
}

func (s slowStore) Append(room string, updates ...[]byte) error {
	time.Sleep(2 * time.Millisecond)
	return s.Memory.Append(room, updates...)
}

// An Ack never runs ahead of the store: when a client learns that its
// update with seq n was acknowledged, the store already holds updates 1
// to n, however many the client sent without waiting.
func TestAckAfterAppend(t *testing.T) {
	const n = 60
	st := slowStore{store.NewMemory()}
	ts := startServerWithStore(t, testConfig(), st)
	c := joinRaw(t, ts, "durable")
	for i := range n {
		c.edit("body", fmt.Sprintf("%d ", i))
	}
	prefix := func(seq uint64) string {
		var b strings.Builder
		for i := range seq {
			fmt.Fprintf(&b, "%d ", i)
		}
		return b.String()
	}
	for acked := uint64(0); acked < n; {
		switch m := c.read().(type) {
		case *protocol.Ack:
			if m.Seq <= acked {
				t.Fatalf("ack %d after ack %d", m.Seq, acked)
			}
			acked = m.Seq
			if got := storedDoc(t, st, "durable").Text("body").String(); !strings.HasPrefix(got, prefix(acked)) {
				t.Fatalf("ack %d arrived while the store held %q", acked, got)
			}
		case *protocol.Error:
			t.Fatalf("error %d: %s", m.Code, m.Message)
		}
	}
}

// A room whose stored records do not decode is quarantined: joins are
// refused with 1011 naming the problem, its records stay as they were, the
// health check reports it, and the other rooms serve as usual.
func TestCorruptRoomQuarantined(t *testing.T) {
	tests := []struct {
		name     string
		snapshot []byte
		log      [][]byte
	}{
		{"bad snapshot", []byte{0xc1, 0x00, 0x01}, nil},
		{"bad update", nil, [][]byte{{0x93, 0xff, 0xff, 0xff}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := store.NewMemory()
			if tt.snapshot != nil {
				if err := st.Compact("broken", tt.snapshot); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.Append("broken", tt.log...); err != nil {
				t.Fatal(err)
			}
			ts := startServer(t, testConfig(), st)
			healthy := dial(t, ts, "healthy", nil)
			insert(t, healthy, 0, "fine")
			waitSynced(t, healthy)

			for range 2 { // the second join is refused without a new load
				c := dialRaw(t, ts.url("broken"))
				c.send(&protocol.Hello{Version: protocol.Version, Room: "broken", Client: c.id, StateVector: c.doc.StateVector().Encode()})
				e := c.expectClosed(protocol.CodeInternalError)
				if !strings.Contains(e.Message, "quarantined") {
					t.Errorf("error message %q does not say the room is quarantined", e.Message)
				}
			}
			if _, ok := ts.srv.Hub().Quarantined()["broken"]; !ok {
				t.Errorf("Quarantined() = %v, want broken", ts.srv.Hub().Quarantined())
			}
			snapshot, log, err := st.Load("broken")
			if err != nil || !bytes.Equal(snapshot, tt.snapshot) || len(log) != len(tt.log) {
				t.Errorf("stored records changed: snapshot %x, %d updates, err %v", snapshot, len(log), err)
			}
			insert(t, healthy, -1, " still")
			waitSynced(t, healthy)
			waitText(t, "fine still", dial(t, ts, "healthy", nil))
		})
	}
}
