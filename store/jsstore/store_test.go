package jsstore_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/store"
	"github.com/flowstate/flowstate/store/jsstore"
)

// purgeAtOnce makes a store purge the log at the next compaction.
func purgeAtOnce(o *jsstore.Options) { o.PurgeDelay = -1 }

// TestContract runs the store.Store contract (store.TestStoreContract)
// against one server. The bytes are not CRDT updates: a store alone on
// its log never merges.
func TestContract(t *testing.T) {
	c := startCluster(t, 1)
	st := c.open(0, 1, 5*time.Second, purgeAtOnce)

	snap, log, err := st.Load("empty")
	if err != nil || snap != nil || log != nil {
		t.Fatalf("Load of an unknown room = %v, %v, %v; want nil, nil, nil", snap, log, err)
	}
	for _, u := range []string{"u1", "u2", "u3"} {
		if err := st.Append("notes.v2", []byte(u)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Append("notes.v2", []byte("u3")); err != nil { // a resend
		t.Fatal(err)
	}
	snap, log, err = st.Load("notes.v2")
	if err != nil || snap != nil || !reflect.DeepEqual(log, [][]byte{[]byte("u1"), []byte("u2"), []byte("u3")}) {
		t.Fatalf("Load after appends and a resend = %q, %q, %v", snap, log, err)
	}
	if err := st.Append("notes.v2", []byte("u4"), []byte("u5")); err != nil {
		t.Fatal(err)
	}
	if err := st.Compact("notes.v2", []byte("snapshot")); err != nil {
		t.Fatal(err)
	}
	if err := st.Append("notes.v2", []byte("u6")); err != nil {
		t.Fatal(err)
	}
	snap, log, err = st.Load("notes.v2")
	if err != nil || string(snap) != "snapshot" || !reflect.DeepEqual(log, [][]byte{[]byte("u6")}) {
		t.Fatalf("Load after compaction = %q, %q, %v", snap, log, err)
	}
	if err := st.Compact("notes.v2", []byte("snapshot2")); err != nil {
		t.Fatal(err)
	}
	snap, log, err = st.Load("notes.v2")
	if err != nil || string(snap) != "snapshot2" || log != nil {
		t.Fatalf("Load after a second compaction = %q, %q, %v", snap, log, err)
	}

	if err := st.Append("attic~1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	rooms, err := st.Rooms()
	if err != nil {
		t.Fatal(err)
	}
	if len(rooms) != 2 || rooms[0].Name != "attic~1" || rooms[1].Name != "notes.v2" {
		t.Fatalf("Rooms = %+v, want attic~1 and notes.v2 in order", rooms)
	}
	// The entry folded into snapshot2 stays until the next compaction
	// (PurgeDelay -1; a minute by default).
	if r := rooms[1]; r.SnapshotBytes != len("snapshot2") || r.LogEntries != 1 || r.LastChange.IsZero() {
		t.Errorf("RoomInfo of notes.v2 = %+v", r)
	}
	if r := rooms[0]; r.SnapshotBytes != 0 || r.LogEntries != 1 || r.LastChange.IsZero() {
		t.Errorf("RoomInfo of attic~1 = %+v", r)
	}

	if err := st.SetOwners("attic~1", map[uint64]string{1: "alice", 2: "bob"}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetOwners("attic~1", map[uint64]string{1: "mallory", 3: "carol"}); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Owners("attic~1"); err != nil || !reflect.DeepEqual(got, map[uint64]string{1: "alice", 2: "bob", 3: "carol"}) {
		t.Errorf("Owners = %v, %v; a binding must never change", got, err)
	}
	if got, err := st.Owners("notes.v2"); err != nil || got != nil {
		t.Errorf("Owners of a room without = %v, %v", got, err)
	}

	if err := st.Delete("attic~1"); err != nil {
		t.Fatal(err)
	}
	if snap, log, _ := st.Load("attic~1"); snap != nil || log != nil {
		t.Errorf("a deleted room still loads: %q, %q", snap, log)
	}
	if got, _ := st.Owners("attic~1"); got != nil {
		t.Errorf("a deleted room keeps its owners: %v", got)
	}
	if err := st.Delete("notes.v2"); err != nil {
		t.Fatal(err)
	}
	if rooms, err := st.Rooms(); err != nil || len(rooms) != 0 {
		t.Errorf("Rooms after deleting both = %+v, %v", rooms, err)
	}

	for _, bad := range []string{"", string(make([]byte, 2000))} {
		if err := st.Append(bad, []byte("x")); !errors.Is(err, store.ErrRoomName) {
			t.Errorf("Append to %d-byte room name = %v, want ErrRoomName", len(bad), err)
		}
	}
	if err := st.Ready(); err != nil {
		t.Errorf("Ready = %v", err)
	}
	st.Close()
	if err := st.Append("notes", []byte("x")); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if err := st.Ready(); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Ready after Close = %v, want ErrClosed", err)
	}
}

func TestAppendTooLarge(t *testing.T) {
	t.Parallel() // waits mostly on the cluster's elections; see startCluster
	c := startCluster(t, 1)
	st := c.open(0, 1, 30*time.Second) // megabytes, on a machine that may be loaded
	big := make([]byte, jsstore.MaxPayload)
	if err := st.Append("notes", []byte("small"), big); !errors.Is(err, jsstore.ErrTooLarge) {
		t.Fatalf("Append of %d bytes = %v, want ErrTooLarge", len(big), err)
	}
	// Updates that fit together in no one message take several.
	half := make([]byte, jsstore.MaxPayload/2)
	if err := st.Append("notes", half, append(half[:len(half):len(half)], 1), append(half[:len(half):len(half)], 2)); err != nil {
		t.Fatal(err)
	}
	_, log, err := st.Load("notes")
	if err != nil || len(log) != 4 || string(log[0]) != "small" {
		t.Fatalf("Load = %d updates, %v; want the small one (stored whole before the refusal) and three halves", len(log), err)
	}
}

// TestCompactKeepsOthersEntries compacts, twice, a room whose snapshot
// lacks what another node appended since it loaded: the first compaction
// merges that in, and the second, whose caller still lacks it, must not
// lose it.
func TestCompactKeepsOthersEntries(t *testing.T) {
	c := startCluster(t, 1)
	a, b := c.open(0, 1, 5*time.Second), c.open(0, 1, 5*time.Second)
	const room = "shared"
	wa, wb := newWriter("a"), newWriter("b")
	if _, _, err := a.Load(room); err != nil {
		t.Fatal(err)
	}
	var tokens []string
	for _, w := range []struct {
		st *jsstore.Store
		w  *writer
	}{{a, wa}, {b, wb}, {a, wa}} {
		u, token := w.w.next(t)
		if err := w.st.Append(room, u); err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, token)
		if err := a.Compact(room, wa.doc.Snapshot()); err != nil {
			t.Fatal(err)
		}
		if m := missing(text(t, b, room), tokens); len(m) > 0 {
			t.Fatalf("after %d compactions the room lacks %v", len(tokens), m)
		}
	}
}

// TestThreeNodes appends real CRDT updates through three nodes of a
// cluster, with three replicas, and checks that every node loads all of
// them, before and after compactions from two nodes at once, while all
// three keep appending.
func TestThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-node cluster takes seconds to form")
	}
	t.Parallel() // waits mostly on the cluster's elections; see startCluster
	c := startCluster(t, 3)
	var stores []*jsstore.Store
	for i := range 3 {
		stores = append(stores, c.open(i, 3, 10*time.Second))
	}
	const room = "team.notes"
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	write := func(i int, name string, n int) {
		defer wg.Done()
		w := newWriter(name)
		for range n {
			u, token := w.next(t)
			if err := stores[i].Append(room, u); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			acked = append(acked, token)
			mu.Unlock()
		}
	}
	for i := range 3 {
		wg.Add(1)
		go write(i, string(rune('a'+i)), 20)
	}
	wg.Wait()
	for i, st := range stores {
		if m := missing(text(t, st, room), acked); len(m) > 0 {
			t.Fatalf("node %d lacks %v", i, m)
		}
	}

	// Rooms on nodes 0 and 1, with stores of their own (a store takes
	// its own appends to be in the caller's snapshot), compact what they
	// loaded while all three nodes append.
	docs := make([][]byte, 2)
	compactors := make([]*jsstore.Store, 2)
	for i := range docs {
		compactors[i] = c.open(i, 3, 10*time.Second)
		snap, log, err := compactors[i].Load(room)
		if err != nil {
			t.Fatal(err)
		}
		if docs[i], err = merge(snap, log); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		wg.Add(1)
		go write(i, string(rune('A'+i)), 20)
	}
	var compacted atomic.Int32
	for round := range 3 {
		for i := range docs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// A compaction may fail (a loaded machine times out):
				// the room tries again later, and nothing may be lost
				// either way.
				if err := compactors[i].Compact(room, docs[i]); err != nil {
					t.Logf("round %d: node %d: %v", round, i, err)
					return
				}
				compacted.Add(1)
			}()
		}
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	if compacted.Load() == 0 {
		t.Fatal("no compaction succeeded")
	}
	for i, st := range stores {
		if m := missing(text(t, st, room), acked); len(m) > 0 {
			t.Fatalf("after concurrent compactions, node %d lacks %v of %d", i, m, len(acked))
		}
	}
	rooms, err := stores[2].Rooms()
	if err != nil || len(rooms) != 1 || rooms[0].SnapshotBytes == 0 {
		t.Errorf("Rooms = %+v, %v; want one room with a snapshot", rooms, err)
	}

	// Every read goes to a stream's leader: a direct get may be answered
	// by a replica that lags or is paused. nats.go makes the buckets
	// with direct gets, each store that opens makes them again, and five
	// have opened here.
	js := c.jetStream(1, "check")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, name := range []string{"FLOWSTATE_ROOMS", "KV_flowstate_heads", "KV_flowstate_owners", "OBJ_flowstate_snapshots"} {
		st, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if st.CachedInfo().Config.AllowDirect {
			t.Errorf("stream %s allows direct gets", name)
		}
	}
}

// TestQuorumLoss stops two nodes of three: appends fail rather than
// succeed without a quorum, and once the nodes are back every append
// that succeeded is there, on every node.
func TestQuorumLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-node cluster takes seconds to form")
	}
	t.Parallel() // waits mostly on the cluster's elections; see startCluster
	c := startCluster(t, 3)
	st := c.open(0, 3, 2*time.Second)
	const room = "quorum"
	w := newWriter("q")
	var acked []string
	for range 5 {
		u, token := w.next(t)
		if err := st.Append(room, u); err != nil {
			t.Fatal(err)
		}
		acked = append(acked, token)
	}
	c.stop(1)
	c.stop(2)
	// Like a room, the writer keeps what was refused and sends it again
	// with the next attempt: its later updates depend on it.
	var pending [][]byte
	var pendingTokens []string
	attempt := func() error {
		u, token := w.next(t)
		pending, pendingTokens = append(pending, u), append(pendingTokens, token)
		if err := st.Append(room, pending...); err != nil {
			return err
		}
		acked = append(acked, pendingTokens...)
		pending, pendingTokens = nil, nil
		return nil
	}
	for range 3 {
		if err := attempt(); err == nil {
			t.Fatal("an append succeeded without a quorum")
		}
	}
	c.start(1)
	c.start(2)
	deadline := time.Now().Add(60 * time.Second)
	for attempt() != nil {
		if time.Now().After(deadline) {
			t.Fatal("no append succeeded within 60 s of the quorum's return")
		}
	}
	for i := range 3 {
		other := c.open(i, 3, 10*time.Second)
		if m := missing(text(t, other, room), acked); len(m) > 0 {
			t.Errorf("node %d lacks %v", i, m)
		}
	}
}

// A load reads a short log with message gets, without making a consumer
// (which costs a round of the cluster's meta leader), and a longer one
// with one consumer for what is past the first entries; both whole and in
// order.
func TestLoadLogLengths(t *testing.T) {
	c := startCluster(t, 1)
	st := c.open(0, 1, 5*time.Second)
	js := c.jetStream(0, "probe")
	consumers := func() int {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stream, err := js.Stream(ctx, "FLOWSTATE_ROOMS")
		if err != nil {
			t.Fatal(err)
		}
		info, err := stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Consumers
	}
	tests := []struct {
		entries       int
		wantConsumers int
	}{
		{1, 0},
		{32, 0},
		{33, 1},
		{300, 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.entries), func(t *testing.T) {
			room := fmt.Sprintf("log-%d", tt.entries)
			var want [][]byte
			for i := range tt.entries {
				u := []byte(fmt.Sprintf("%s/%d", room, i))
				if err := st.Append(room, u); err != nil {
					t.Fatal(err)
				}
				want = append(want, u)
			}
			// Another room's entries between them and after: the reads
			// filter by subject.
			if err := st.Append("other", []byte(room)); err != nil {
				t.Fatal(err)
			}
			before := consumers()
			snap, log, _, err := st.LoadSeq(room)
			if err != nil || snap != nil || !reflect.DeepEqual(log, want) {
				t.Fatalf("LoadSeq = %q, %d updates, %v; want no snapshot and the %d appended in order", snap, len(log), err, len(want))
			}
			if got := consumers() - before; got != tt.wantConsumers {
				t.Errorf("the load made %d consumers, want %d", got, tt.wantConsumers)
			}
		})
	}
}

// TestFollowerBehindPurge holds a follower on its first entry while
// another store appends far more than a consumer fetches at once and
// compacts twice, purging the log the follower has yet to read: the
// follower is handed the snapshot of the head that purged it, so that it
// ends with every entry.
func TestFollowerBehindPurge(t *testing.T) {
	c := startCluster(t, 1)
	a := c.open(0, 1, 5*time.Second, purgeAtOnce)
	b := c.open(0, 1, 5*time.Second)
	const room = "behind"
	w := newWriter("w")
	if _, _, err := a.Load(room); err != nil {
		t.Fatal(err)
	}
	var tokens []string
	appendOne := func() { tokens = append(tokens, appendNext(t, a, room, w)) }
	appendOne()

	var mu sync.Mutex
	doc := crdt.NewDoc()
	release := make(chan struct{})
	var once sync.Once
	stop, err := b.Follow(room, 0, func(updates [][]byte) bool {
		once.Do(func() { <-release })
		mu.Lock()
		defer mu.Unlock()
		for _, u := range updates {
			if err := doc.Apply(u); err != nil {
				t.Error(err)
			}
		}
		return true
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for range 1500 {
		appendOne()
	}
	for range 2 { // the second purges what the first covers
		if err := a.Compact(room, w.doc.Snapshot()); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	end := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		m := missing(doc.Text("t").String(), tokens)
		mu.Unlock()
		if len(m) == 0 {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("the follower lacks %d of %d entries, e.g. %v", len(m), len(tokens), m[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHandlesMadeWhileDirectGetsAllowed gives a store the handles it
// makes when it opens while another store, opening at the same time, has
// just made the buckets again (so they allow direct gets) and then turns
// direct gets off: a handle that makes direct gets has no one to answer
// them. Every read must still succeed, and find what was stored.
func TestHandlesMadeWhileDirectGetsAllowed(t *testing.T) {
	c := startCluster(t, 1)
	st := c.open(0, 1, 5*time.Second, purgeAtOnce)
	const room = "team.notes"
	w := newWriter("a")
	var acked []string
	appendOne := func() { acked = append(acked, appendNext(t, st, room, w)) }
	appendOne()
	if err := st.Compact(room, w.doc.Snapshot()); err != nil {
		t.Fatal(err)
	}
	appendOne()
	if err := st.SetOwners(room, map[uint64]string{1: "alice"}); err != nil {
		t.Fatal(err)
	}

	js := c.jetStream(0, "check")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	allowDirect := func(on bool) {
		t.Helper()
		for _, name := range []string{"KV_flowstate_heads", "KV_flowstate_owners", "OBJ_flowstate_snapshots"} {
			s, err := js.Stream(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			cfg := s.CachedInfo().Config
			cfg.AllowDirect = on
			if _, err := js.UpdateStream(ctx, cfg); err != nil {
				t.Fatal(err)
			}
		}
	}
	allowDirect(true)
	if err := jsstore.OpenBuckets(ctx, st); err != nil {
		t.Fatal(err)
	}
	stale, err := js.KeyValue(ctx, "flowstate_heads")
	if err != nil {
		t.Fatal(err)
	}
	allowDirect(false)
	// The premise: such a handle's reads go unanswered.
	if _, err := stale.Get(ctx, jsstore.RoomToken(room)); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("a direct get from a stream that no longer allows them = %v, want no responders", err)
	}

	// Loads that fail together make the handles again once between them,
	// and each still succeeds.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := st.Load(room); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if m := missing(text(t, st, room), acked); len(m) > 0 {
		t.Fatalf("the room lacks %v", m)
	}
	if got, err := st.Owners(room); err != nil || !reflect.DeepEqual(got, map[uint64]string{1: "alice"}) {
		t.Errorf("Owners = %v, %v", got, err)
	}
	if rooms, err := st.Rooms(); err != nil || len(rooms) != 1 || rooms[0].SnapshotBytes == 0 {
		t.Errorf("Rooms = %+v, %v; want one room with a snapshot", rooms, err)
	}
	appendOne()
	if err := st.Compact(room, w.doc.Snapshot()); err != nil {
		t.Fatal(err)
	}
	if m := missing(text(t, st, room), acked); len(m) > 0 {
		t.Fatalf("after a compaction the room lacks %v", m)
	}
	if err := st.Delete(room); err != nil {
		t.Fatal(err)
	}
}
