package sync_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/flowstate/flowstate/protocol"
	docsync "github.com/flowstate/flowstate/sync"
)

type cursor struct {
	Name   string `msgpack:"name"`
	Cursor int    `msgpack:"cursor"`
}

// waitPresence waits until c sees exactly want (client ID → state, nil
// meaning absent) among its peers' presence.
func waitPresence(t testing.TB, c *docsync.Client, want map[uint64]any) {
	t.Helper()
	waitFor(t, deadline, func() error {
		got := c.Presence()
		for id, v := range want {
			b, ok := got[id]
			if v == nil {
				if ok {
					return fmt.Errorf("client %d still present: %x", id, b)
				}
				continue
			}
			wb, err := msgpack.Marshal(v)
			if err != nil {
				return err
			}
			if !bytes.Equal(b, wb) {
				return fmt.Errorf("presence of %d = %x, want %x (%+v)", id, b, wb, v)
			}
		}
		return nil
	})
}

func TestPresenceAppearsAndDisappears(t *testing.T) {
	ts := startServer(t, testConfig(), nil) // presence lasts 30 s here
	a := dial(t, ts, "here", nil)
	b := dial(t, ts, "here", nil)
	if err := a.SetPresence(cursor{"alice", 3}); err != nil {
		t.Fatal(err)
	}
	waitPresence(t, b, map[uint64]any{a.ClientID(): cursor{"alice", 3}})

	// Changes in quick succession are coalesced; the last one wins.
	for i := range 100 {
		if err := a.SetPresence(cursor{"alice", i}); err != nil {
			t.Fatal(err)
		}
	}
	waitPresence(t, b, map[uint64]any{a.ClientID(): cursor{"alice", 99}})

	// A late joiner gets the presence of those already there, and they get
	// its own.
	c := dial(t, ts, "here", nil)
	waitPresence(t, c, map[uint64]any{a.ClientID(): cursor{"alice", 99}})
	if err := c.SetPresence(map[string]string{"name": "carol"}); err != nil {
		t.Fatal(err)
	}
	waitPresence(t, a, map[uint64]any{c.ClientID(): map[string]string{"name": "carol"}})
	waitPresence(t, b, map[uint64]any{c.ClientID(): map[string]string{"name": "carol"}})
	if _, ok := a.Presence()[a.ClientID()]; ok {
		t.Error("a sees its own presence among its peers")
	}

	// Clearing it removes it.
	if err := c.SetPresence(nil); err != nil {
		t.Fatal(err)
	}
	waitPresence(t, a, map[uint64]any{c.ClientID(): nil})

	// A client that leaves takes its presence with it.
	a.Close()
	waitPresence(t, b, map[uint64]any{a.ClientID(): nil})
	waitPresence(t, c, map[uint64]any{a.ClientID(): nil})
	if err := a.SetPresence(cursor{"ghost", 0}); err != docsync.ErrClientClosed {
		t.Errorf("SetPresence after Close: %v, want ErrClientClosed", err)
	}
	if len(b.Presence()) != 0 {
		t.Errorf("b still sees %v", b.Presence())
	}
}

// Presence is ephemeral: it is not stored, and a room that closes and
// reopens has none.
func TestPresenceIsNotPersisted(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	a := dial(t, ts, "ephemeral", nil)
	if err := a.SetPresence(cursor{"alice", 1}); err != nil {
		t.Fatal(err)
	}
	b := dial(t, ts, "ephemeral", nil)
	waitPresence(t, b, map[uint64]any{a.ClientID(): cursor{"alice", 1}})
	if rooms, _ := ts.st.Rooms(); len(rooms) != 0 {
		t.Errorf("presence reached the store: %+v", rooms)
	}
}

// A client that stops refreshing its presence loses it after
// PresenceTimeout, though its connection stays open.
func TestPresenceExpires(t *testing.T) {
	cfg := testConfig()
	cfg.PresenceTimeout = 300 * time.Millisecond
	ts := startServer(t, cfg, nil)
	observer := dial(t, ts, "expiry", nil)
	raw := joinRaw(t, ts, "expiry")
	state, _ := msgpack.Marshal(cursor{"silent", 7})
	raw.send(&protocol.Presence{Entries: []protocol.PresenceEntry{{Client: raw.id, State: state}}})
	waitPresence(t, observer, map[uint64]any{raw.id: cursor{"silent", 7}})
	start := time.Now()
	waitPresence(t, observer, map[uint64]any{raw.id: nil})
	if d := time.Since(start); d < cfg.PresenceTimeout/2 {
		// The entry appeared at most PresenceInterval after it was set, so
		// it cannot have expired this soon.
		t.Errorf("presence expired after %v, before PresenceTimeout %v", d, cfg.PresenceTimeout)
	}
	// The raw client is still a member: its updates are still acknowledged.
	raw.waitAck(raw.edit("body", "still here"))
	waitText(t, "still here", observer)
	// A refresh brings it back.
	raw.send(&protocol.Presence{Entries: []protocol.PresenceEntry{{Client: raw.id, State: state}}})
	waitPresence(t, observer, map[uint64]any{raw.id: cursor{"silent", 7}})
}

// A raw member sees others' presence in Presence messages holding their
// entries, never its own, and an empty state when one leaves.
func TestPresenceOnTheWire(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	a := dial(t, ts, "wire", nil)
	if err := a.SetPresence("a"); err != nil {
		t.Fatal(err)
	}
	raw := joinRaw(t, ts, "wire")
	state, _ := msgpack.Marshal("a")
	raw.awaitPresence(a.ClientID(), state) // with the Welcome
	own, _ := msgpack.Marshal("raw")
	raw.send(&protocol.Presence{Entries: []protocol.PresenceEntry{{Client: raw.id, State: own}}})
	waitPresence(t, a, map[uint64]any{raw.id: "raw"})
	a.Close()
	raw.awaitPresence(a.ClientID(), []byte{})
}

// awaitPresence reads c's messages until a Presence carries state for
// client, and fails if one carries c's own entry back (checking every
// entry of the message that ends the wait too).
func (c *rawClient) awaitPresence(client uint64, state []byte) {
	c.t.Helper()
	for seen := false; !seen; {
		p, ok := c.read().(*protocol.Presence)
		if !ok {
			continue
		}
		for _, e := range p.Entries {
			if e.Client == c.id {
				c.t.Fatalf("raw client got its own presence back in %d entries", len(p.Entries))
			}
			seen = seen || e.Client == client && bytes.Equal(e.State, state)
		}
	}
}

// A PresenceTimeout of 1ns (someone meaning "1 second") must not crash
// the server when a client sets its presence. A crash would kill the test
// binary, so the scenario runs in a child process.
func TestTinyPresenceTimeoutDoesNotCrash(t *testing.T) {
	if os.Getenv("FLOWSTATE_TINY_PRESENCE_TIMEOUT") == "1" {
		cfg := testConfig()
		cfg.PresenceTimeout = 1
		ts := startServer(t, cfg, nil)
		a := dial(t, ts, "tiny", nil)
		b := dial(t, ts, "tiny", nil)
		if err := a.SetPresence("a"); err != nil {
			t.Fatal(err)
		}
		insert(t, a, -1, "alive")
		waitText(t, "alive", b)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestTinyPresenceTimeoutDoesNotCrash$", "-test.count=1")
	cmd.Env = append(os.Environ(), "FLOWSTATE_TINY_PRESENCE_TIMEOUT=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the server crashed or the scenario failed: %v\n%s", err, firstLines(string(out), 12))
	}
}

// firstLines returns the first n lines of s.
func firstLines(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	return strings.Join(lines[:min(n, len(lines))], "")
}

// A fan-out that carries the entries of several clients (their intervals
// ended together, or one waited for a fan-out already scheduled) goes to
// each owner without its own entries: the server relays presence to the
// other members only (PROTOCOL.md §7). Here a's second state waits out the
// interval, and raw's first state, set meanwhile, waits for the same
// fan-out.
func TestPresenceBatchSkipsOwnEntries(t *testing.T) {
	cfg := testConfig()
	cfg.PresenceInterval = 300 * time.Millisecond
	ts := startServer(t, cfg, nil)
	a := dial(t, ts, "batch", nil)
	raw := joinRaw(t, ts, "batch")
	if err := a.SetPresence("a1"); err != nil {
		t.Fatal(err)
	}
	first, _ := msgpack.Marshal("a1")
	second, _ := msgpack.Marshal("a2")
	raw.awaitPresence(a.ClientID(), first)
	if err := a.SetPresence("a2"); err != nil { // waits for the interval
		t.Fatal(err)
	}
	own, _ := msgpack.Marshal("raw")
	raw.send(&protocol.Presence{Entries: []protocol.PresenceEntry{{Client: raw.id, State: own}}})
	raw.awaitPresence(a.ClientID(), second)
	waitPresence(t, a, map[uint64]any{raw.id: "raw"})
}
