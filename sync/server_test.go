package sync_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
	docsync "github.com/flowstate/flowstate/sync"
)

// randomEdits makes n random inserts and deletes on c's text "body", with
// runs of letter.
func randomEdits(t testing.TB, c *docsync.Client, rng *rand.Rand, n int, letter byte) {
	for range n {
		err := c.Edit(func(d *crdt.Doc) error {
			text := d.Text("body")
			if text.Len() > 0 && rng.IntN(4) == 0 {
				pos := rng.IntN(text.Len())
				_, err := text.Delete(pos, min(1+rng.IntN(3), text.Len()-pos))
				return err
			}
			_, err := text.Insert(rng.IntN(text.Len()+1), strings.Repeat(string(letter), 1+rng.IntN(4)))
			return err
		})
		if err != nil {
			t.Errorf("Edit: %v", err)
			return
		}
	}
}

func TestTwoClientsConverge(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	a := dial(t, ts, "two", nil)
	b := dial(t, ts, "two", nil)

	insert(t, a, -1, "hello")
	waitText(t, "hello", a, b)

	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	var wg stdsync.WaitGroup
	for i, c := range []*docsync.Client{a, b} {
		wg.Go(func() { randomEdits(t, c, rand.New(rand.NewPCG(seed, uint64(i))), 200, 'a'+byte(i)) })
	}
	wg.Wait()
	waitSynced(t, a)
	waitSynced(t, b)
	text := waitConverged(t, a, b)

	// What the room stored is what the clients hold.
	if got := storedDoc(t, ts.st, "two").Text("body").String(); got != text {
		t.Errorf("stored body = %q, clients have %q", got, text)
	}
	// A late joiner gets the whole document in its Welcome: Dial returns
	// with it.
	c := dial(t, ts, "two", nil)
	if got := c.Text("body"); got != text {
		t.Errorf("late joiner's body = %q, want %q", got, text)
	}
	if s := c.Status(); s != docsync.StatusSynced {
		t.Errorf("late joiner's status = %v, want synced", s)
	}
}

// Both clients edit while the server is down; a new server on the same
// address and store brings them back together.
func TestOfflineEditsSurviveRestart(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	a := dial(t, ts, "offline", nil)
	b := dial(t, ts, "offline", nil)
	insert(t, a, -1, "shared.")
	waitText(t, "shared.", a, b)
	waitSynced(t, a)

	if err := ts.shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, c := range []*docsync.Client{a, b} {
		waitFor(t, deadline, func() error {
			if s := c.Status(); s == docsync.StatusConnected || s == docsync.StatusSynced || s == docsync.StatusClosed {
				return fmt.Errorf("status %v after the server shut down", s)
			}
			return nil
		})
	}
	// The hub saved the room on shutdown.
	if got := storedDoc(t, ts.st, "offline").Text("body").String(); got != "shared." {
		t.Fatalf("stored body after shutdown = %q", got)
	}

	insert(t, a, 0, "A:")
	insert(t, b, -1, ":B")
	if got := a.Text("body"); got != "A:shared." {
		t.Fatalf("a offline: %q", got)
	}

	ts2 := startServerAt(t, ts.addr, testConfig(), ts.st)
	waitText(t, "A:shared.:B", a, b)
	waitSynced(t, a)
	waitSynced(t, b)
	if got := dial(t, ts2, "offline", nil).Text("body"); got != "A:shared.:B" {
		t.Errorf("late joiner after the restart: %q", got)
	}
	if got := storedDoc(t, ts.st, "offline").Text("body").String(); got != "A:shared.:B" {
		t.Errorf("stored body = %q", got)
	}
}

func TestManyClientsConverge(t *testing.T) {
	clients, edits := 50, 20
	if testing.Short() {
		clients, edits = 10, 10
	}
	ts := startServer(t, testConfig(), nil)
	cs := make([]*docsync.Client, clients)
	for i := range cs {
		cs[i] = dial(t, ts, "many", nil)
	}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	// Each client inserts its own letter only, so that the final text has
	// a known number of each.
	letter := func(i int) string { return string(rune(0x4e00 + i)) } // one code point each
	var wg stdsync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			for range edits {
				err := c.Edit(func(d *crdt.Doc) error {
					text := d.Text("body")
					_, err := text.Insert(rng.IntN(text.Len()+1), letter(i))
					return err
				})
				if err != nil {
					t.Errorf("client %d: Edit: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, c := range cs {
		waitSynced(t, c)
	}
	text := waitConverged(t, cs...)
	for i := range cs {
		if n := strings.Count(text, letter(i)); n != edits {
			t.Errorf("client %d's letter appears %d times, want %d", i, n, edits)
		}
	}
	if got := storedDoc(t, ts.st, "many").Text("body").String(); got != text {
		t.Errorf("doc rebuilt from the store differs from the clients':\n%q\n%q", got, text)
	}
}

// A client that stops reading is dropped as a slow consumer, and the room
// goes on serving the others.
func TestSlowConsumerIsDropped(t *testing.T) {
	cfg := testConfig()
	cfg.QueueLength = 16
	cfg.QueueBytes = 64 << 10
	ts := startServer(t, cfg, nil)

	writer := dial(t, ts, "slow", nil)
	reader := dial(t, ts, "slow", nil)
	stalled := dialRaw(t, ts.url("slow"))
	stalled.hello("slow")
	local := stalled.conn.LocalAddr()
	if !ts.hasSession(local) {
		t.Fatal("the server has no session for the stalled client")
	}

	// Flood the room until the server gives up on the stalled client:
	// its queue overflows once the small kernel buffer (Config.SendBuffer)
	// is full.
	chunk := strings.Repeat("x", 16<<10)
	const maxBytes = 256 << 20
	sent := 0
	start := time.Now()
	for metric(t, ts, "flowstate_slow_consumer_disconnects_total") == 0 {
		if sent > maxBytes {
			t.Fatalf("the stalled client is still connected after %d MiB", sent>>20)
		}
		flood(t, writer, chunk)
		sent += len(chunk)
	}
	t.Logf("stalled client dropped after %d KiB, %v", sent>>10, time.Since(start))

	// Reading again, the stalled client finds what the kernel had
	// buffered, the end of the frame the server was writing, if any, and
	// the Error and close frame of 4008: never a truncated frame.
	stalled.expectClosed(protocol.CodeSlowConsumer)
	waitFor(t, deadline, func() error {
		if ts.hasSession(local) {
			return errors.New("the server still holds the stalled session")
		}
		return nil
	})

	// The others were not held back and still converge.
	insert(t, writer, -1, "after the flood")
	waitSynced(t, writer)
	waitText(t, "after the flood", writer, reader)
	waitFor(t, deadline, func() error {
		if got := reader.Text("flood"); got != "" {
			return fmt.Errorf("reader's flood text has %d bytes", len(got))
		}
		return nil
	})
	if got := dial(t, ts, "slow", nil).Text("body"); got != "after the flood" {
		t.Errorf("late joiner: %q", got)
	}
}

func TestGracefulShutdown(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ts := startServer(t, testConfig(), nil)
	opts := clientOptions()
	opts.MinBackoff = time.Hour // no reconnection during the test
	opts.MaxBackoff = time.Hour
	c := dial(t, ts, "bye", opts)
	raw := joinRaw(t, ts, "bye")
	insert(t, c, -1, "persist me")
	waitSynced(t, c)
	raw.waitAck(raw.edit("body", "!"))

	if err := ts.shutdown(); err != nil {
		t.Fatalf("Shutdown returned %v, want nil", err)
	}
	e := raw.expectClosed(protocol.CodeGoingAway)
	if e.Message == "" {
		t.Error("the going-away Error has no message")
	}
	waitFor(t, deadline, func() error {
		if s := c.Status(); s != docsync.StatusOffline {
			return fmt.Errorf("client status %v, want offline", s)
		}
		return nil
	})
	if err := c.Err(); err != nil {
		t.Errorf("going away is not permanent, but the client's Err is %v", err)
	}
	// (Stats still counts the stopped rooms after Shutdown: the hub never
	// removes them from its map. Harmless, so not asserted here.)
	if st := ts.srv.Hub().Stats(); st.Connections != 0 {
		t.Errorf("after shutdown: %+v", st)
	}
	// Every acknowledged edit was saved.
	body := storedDoc(t, ts.st, "bye").Text("body").String()
	if body != "persist me!" && body != "!persist me" {
		t.Errorf("stored body = %q", body)
	}
	// Shutdown is idempotent and new connections are refused.
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := ts.srv.Hub().Shutdown(ctx); err != nil {
		t.Errorf("second Hub.Shutdown: %v", err)
	}
	if _, _, err := websocket.DefaultDialer.Dial(ts.url("bye"), nil); err == nil {
		t.Error("dial after shutdown succeeded")
	}
	c.Close()
	raw.conn.Close()
}

// Shutdown closes the sessions of a raw client that never said hello and
// of clients in several rooms, all with 1001.
func TestShutdownClosesEverySession(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	a := joinRaw(t, ts, "r1")
	b := joinRaw(t, ts, "r2")
	silent := dialRaw(t, ts.url("r3"))
	waitFor(t, deadline, func() error {
		if !ts.hasSession(silent.conn.LocalAddr()) {
			return errors.New("no session yet for the silent client")
		}
		return nil
	})
	if err := ts.shutdown(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*rawClient{a, b, silent} {
		c.expectClosed(protocol.CodeGoingAway)
	}
}

// A raw client's updates are acknowledged with the highest seq, and what
// was acknowledged is in the room.
func TestAcknowledgements(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	peer := joinRaw(t, ts, "acks")
	c := joinRaw(t, ts, "acks")
	const n = 50
	var want strings.Builder
	for i := range n {
		s := fmt.Sprintf("%d,", i)
		want.WriteString(s)
		c.edit("body", s)
	}
	// Acks may be coalesced, but they increase and end at n.
	last := uint64(0)
	for last < n {
		switch m := c.read().(type) {
		case *protocol.Ack:
			if m.Seq <= last || m.Seq > n {
				t.Fatalf("ack %d after %d", m.Seq, last)
			}
			last = m.Seq
		case *protocol.Update:
			t.Fatalf("the sender got an update: its own, echoed?")
		default:
			t.Fatalf("unexpected %#v", m)
		}
	}
	// Seqs need only increase: gaps are fine.
	c.seq += 10
	c.waitAck(c.edit("body", "end"))
	want.WriteString("end")

	// The other member gets the updates, and no ack.
	got := crdt.NewDoc()
	for got.Text("body").String() != want.String() {
		m := peer.read()
		u, ok := m.(*protocol.Update)
		if !ok {
			t.Fatalf("peer got %#v, want updates only", m)
		}
		if u.Seq != 0 {
			t.Fatalf("relayed update has seq %d, want 0", u.Seq)
		}
		for _, b := range u.Updates {
			if err := got.Apply(b); err != nil {
				t.Fatal(err)
			}
		}
	}
	if s := dial(t, ts, "acks", nil).Text("body"); s != want.String() {
		t.Errorf("late joiner: %q, want %q", s, want.String())
	}
	if s := storedDoc(t, ts.st, "acks").Text("body").String(); s != want.String() {
		t.Errorf("stored: %q, want %q", s, want.String())
	}
}

// An Update message may carry several updates, applied in order.
func TestUpdateMessageWithSeveralUpdates(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	c := joinRaw(t, ts, "multi")
	d := crdt.NewDoc()
	u1, _ := d.Text("body").Insert(0, "abc")
	u2, _ := d.Text("body").Insert(3, "def")
	u3, _ := d.Text("body").Delete(1, 4)
	c.waitAck(c.sendUpdates(u1, u2, u3))
	if s := dial(t, ts, "multi", nil).Text("body"); s != "af" {
		t.Errorf("body = %q, want %q", s, "af")
	}
}

// A room left empty closes after RoomIdleTimeout, saving its document, and
// the next join loads it again.
func TestIdleRoomClosesAndReloads(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	c := dial(t, ts, "idle", nil)
	insert(t, c, -1, "kept")
	waitSynced(t, c)
	if st := ts.srv.Hub().Stats(); st.Rooms != 1 {
		t.Fatalf("stats %+v, want one room", st)
	}
	c.Close()
	waitFor(t, deadline, func() error {
		if st := ts.srv.Hub().Stats(); st.Rooms != 0 || st.Connections != 0 {
			return fmt.Errorf("stats %+v, want no rooms and no connections", st)
		}
		return nil
	})
	rooms, err := ts.st.Rooms()
	if err != nil {
		t.Fatal(err)
	}
	if len(rooms) != 1 || rooms[0].Name != "idle" || rooms[0].SnapshotBytes == 0 || rooms[0].LogEntries != 0 {
		t.Errorf("stored rooms after closing: %+v, want one compacted room", rooms)
	}
	if got := dial(t, ts, "idle", nil).Text("body"); got != "kept" {
		t.Errorf("after reopening: %q", got)
	}
}

// A client that rejoins while its room is open finds it warm: the room
// does not close while anyone is in it.
func TestRoomStaysOpenWhileOccupied(t *testing.T) {
	cfg := testConfig()
	cfg.RoomIdleTimeout = 20 * time.Millisecond
	ts := startServer(t, cfg, nil)
	a := dial(t, ts, "warm", nil)
	for i := range 5 {
		insert(t, a, -1, "x")
		b := dial(t, ts, "warm", nil)
		waitText(t, strings.Repeat("x", i+1), b)
		b.Close()
		time.Sleep(2 * cfg.RoomIdleTimeout) // longer than the idle timeout, on purpose
		if st := ts.srv.Hub().Stats(); st.Rooms != 1 {
			t.Fatalf("stats %+v with a member in the room", st)
		}
	}
}

func TestHealthz(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	joinRaw(t, ts, "h1")
	joinRaw(t, ts, "h2")
	joinRaw(t, ts, "h2")
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: deadline}
	resp, err := hc.Get("http://" + ts.addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %s, content type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	var h docsync.Health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	if h.Status != "ok" || h.Rooms != 2 || h.Connections != 3 || h.UptimeS <= 0 {
		t.Errorf("health %+v, want ok, 2 rooms, 3 connections", h)
	}
}

// The upgrader keeps gorilla's default origin check: a page of another
// origin cannot open a session.
func TestCrossOriginRefused(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	h := http.Header{"Origin": {"http://evil.example"}}
	conn, resp, err := websocket.DefaultDialer.Dial(ts.url("room"), h)
	if err == nil {
		conn.Close()
		t.Fatal("cross-origin WebSocket accepted")
	}
	if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin dial: %v, response %v", err, resp)
	}
	resp.Body.Close()
	h = http.Header{"Origin": {"http://" + ts.addr}}
	conn, _, err = websocket.DefaultDialer.Dial(ts.url("room"), h)
	if err != nil {
		t.Fatalf("same-origin dial: %v", err)
	}
	conn.Close()
}
