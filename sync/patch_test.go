package sync_test

import (
	"strings"
	"testing"

	"github.com/flowstate/flowstate/protocol"
)

// sendPatch sends u as the next message, a Patch against the update sent
// before it (protocol version 5), and returns the seq it takes.
func (c *rawClient) sendPatch(u []byte) uint64 {
	c.t.Helper()
	c.seq++
	c.send(protocol.MakePatch(c.up, u))
	c.up = u
	return c.seq
}

// readUntilText reads and applies what the server sends until the
// client's text name is want.
func (c *rawClient) readUntilText(name, want string) {
	c.t.Helper()
	c.readUntil(func() bool { return c.doc.Text(name).String() == want })
}

// readUntilLen reads until the client's text name holds n characters.
func (c *rawClient) readUntilLen(name string, n int) {
	c.t.Helper()
	c.readUntil(func() bool { return c.doc.Text(name).Len() >= n })
}

// readUntil reads and applies what the server sends until done.
func (c *rawClient) readUntil(done func() bool) {
	c.t.Helper()
	for !done() {
		switch m := c.read().(type) {
		case *protocol.Update:
			for _, u := range m.Updates {
				if err := c.doc.Apply(u); err != nil {
					c.t.Fatalf("relayed update: %v", err)
				}
			}
		case *protocol.Error:
			c.t.Fatalf("error %d: %s", m.Code, m.Message)
		}
	}
}

// TestPatchRelay checks protocol version 5 both ways: a writer's
// keystrokes sent as Patches are applied and acknowledged by their
// implied seqs, a member of version 5 receives the relays as Patches
// against the previous relay, and one of version 4 receives Updates only,
// both ending with the writer's text.
func TestPatchRelay(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	const room = "patch-relay"
	w := joinRaw(t, ts, room)
	r5 := joinRaw(t, ts, room)
	r4 := dialRaw(t, ts.url(room))
	r4.helloVersion(room, 4)

	const n = 60
	var sent int
	for i := range n {
		u := w.appendText("body", string(rune('a'+i%26)))
		var seq uint64
		if i == 0 {
			seq = w.sendUpdates(u) // a Patch needs a base
		} else {
			seq = w.sendPatch(u)
			sent++
		}
		w.waitAck(seq)
		// The writer types once the members have its last keystroke, as
		// a person does: keystrokes that come faster than the relay
		// interval (5 ms) are relayed together, in an Update.
		want := w.doc.Text("body").String()
		r5.readUntilText("body", want)
		r4.readUntilText("body", want)
	}
	if got := metric(t, ts, "flowstate_patches_received_total"); got != float64(sent) {
		t.Errorf("patches received: %v, want %d", got, sent)
	}
	// Relays are one per keystroke here, and only the first has no base.
	if r5.patches != n-1 {
		t.Errorf("the version 5 member received %d of %d relays as Patches", r5.patches, n)
	}
	if r4.patches != 0 {
		t.Errorf("the version 4 member received %d Patches", r4.patches)
	}
	if got := metric(t, ts, "flowstate_patches_sent_total"); got != float64(r5.patches) {
		t.Errorf("patches sent: %v, want %d", got, r5.patches)
	}
}

// TestPatchRelayTwoWriters checks relays between two members of version 5
// typing in turn: each relay's base is the last update relayed to that
// member, whoever wrote it, and every member ends with the same text.
func TestPatchRelayTwoWriters(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	const room = "patch-two"
	a := joinRaw(t, ts, room)
	b := joinRaw(t, ts, room)
	reader := joinRaw(t, ts, room)
	for i, c := range []*rawClient{a, b} {
		seq := c.sendUpdates(c.appendText("body", string(rune('A'+i))))
		c.waitAck(seq)
	}
	for i := range 40 {
		c := []*rawClient{a, b}[i%2]
		// Each writer reads what the other typed first, so that it types
		// after it and the two runs interleave.
		seq := c.sendPatch(c.appendText("body", string(rune('a'+i%26))))
		c.waitAck(seq)
		want := c.doc.Text("body").String()
		for _, o := range []*rawClient{a, b, reader} {
			o.readUntilText("body", want)
		}
	}
	for _, c := range []*rawClient{a, b} {
		seq := c.sendPatch(c.appendText("body", string('.')))
		c.waitAck(seq)
	}
	// Every update went out; the reader, which has them all, sets the
	// text the writers must reach.
	reader.readUntilLen("body", 44)
	want := reader.doc.Text("body").String()
	a.readUntilText("body", want)
	b.readUntilText("body", want)
	if reader.patches == 0 || a.patches == 0 || b.patches == 0 {
		t.Errorf("patches received: reader %d, a %d, b %d; want some each", reader.patches, a.patches, b.patches)
	}
}

// TestPatchRefused checks the Patches a server refuses: each closes the
// session with its code and names the seq it would have taken, nothing of
// it is applied, and every update acknowledged before it is kept.
func TestPatchRefused(t *testing.T) {
	const limit = 8 << 10
	tests := []struct {
		name    string
		version uint64
		base    bool // an Update goes first
		patch   func(base []byte) *protocol.Patch
		code    protocol.Code
		text    string // in the Error's message
	}{
		{"version 4", 4, true, func(base []byte) *protocol.Patch { return &protocol.Patch{Front: uint64(len(base))} },
			protocol.CodeProtocolError, "version 5"},
		{"no base", 5, false, func([]byte) *protocol.Patch { return &protocol.Patch{Middle: []byte{0x95}} },
			protocol.CodeProtocolError, "no base"},
		{"after a long update", 5, true, func(base []byte) *protocol.Patch { return &protocol.Patch{Front: uint64(len(base))} },
			protocol.CodeProtocolError, "no base"},
		{"with a seq", 5, true, func(base []byte) *protocol.Patch { return &protocol.Patch{Front: uint64(len(base)), Seq: 2} },
			protocol.CodeProtocolError, "no seq"},
		{"front past the base", 5, true, func(base []byte) *protocol.Patch { return &protocol.Patch{Front: uint64(len(base)) + 1} },
			protocol.CodeProtocolError, "keeps"},
		{"keeps overlap", 5, true, func(base []byte) *protocol.Patch { return &protocol.Patch{Front: 2, Back: uint64(len(base)) - 1} },
			protocol.CodeProtocolError, "keeps"},
		{"over the message limit", 5, true, func(base []byte) *protocol.Patch {
			return &protocol.Patch{Front: uint64(len(base)), Middle: make([]byte, limit-len(base)+1)}
		}, protocol.CodeProtocolError, "limit"},
		{"not an update", 5, true, func(base []byte) *protocol.Patch {
			return &protocol.Patch{Front: 3, Middle: []byte{0xc1, 0xc1}}
		}, protocol.CodeInvalidUpdate, "update 0 of message 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.MaxMessageSize = limit
			ts := startServer(t, cfg, nil)
			room := "patch-refused"
			c := dialRaw(t, ts.url(room))
			c.helloVersion(room, tt.version)
			var base []byte
			if tt.base {
				// A base of some size, so that the limit case can
				// make an update past the limit from a message within
				// it; one past MaxPatchBase for the case of no base.
				n := protocol.MaxPatchBase - 100
				if tt.name == "after a long update" {
					n = protocol.MaxPatchBase + 1
				}
				u, err := c.doc.Text("body").Insert(0, strings.Repeat("k", n))
				if err != nil {
					t.Fatal(err)
				}
				c.waitAck(c.sendUpdates(u))
				base = u
			}
			c.send(tt.patch(base))
			e := c.expectClosed(tt.code)
			if !strings.Contains(e.Message, tt.text) {
				t.Errorf("error %q does not say %q", e.Message, tt.text)
			}
			if want := c.seq + 1; e.Seq != want {
				t.Errorf("error names seq %d, want %d (the seq the patch takes)", e.Seq, want)
			}
			// Nothing lost, nothing of the patch applied.
			other := joinRaw(t, ts, room)
			if got, want := other.doc.Text("body").String(), c.doc.Text("body").String(); got != want {
				t.Errorf("after the refused patch the room holds %d characters, want %d", len(got), len(want))
			}
		})
	}
}

// TestPatchCountsKeptBytes checks that what a Patch keeps of its base
// counts against the connection's byte rate, as if the update had come
// whole: otherwise a client could have the server apply a message-sized
// update for every few bytes it sends.
func TestPatchCountsKeptBytes(t *testing.T) {
	cfg := testConfig()
	cfg.MaxMessageSize = 6 << 10
	cfg.RateBytes = 1 // no refill to speak of: the burst is the allowance
	cfg.RateBytesBurst = 6 << 10
	ts := startServer(t, cfg, nil)
	const room = "patch-rate"
	c := joinRaw(t, ts, room)
	u, err := c.doc.Text("body").Insert(0, strings.Repeat("x", 4000))
	if err != nil {
		t.Fatal(err)
	}
	c.waitAck(c.sendUpdates(u))
	// The same update again, in 6 bytes: it keeps 4,000-odd bytes of
	// its base, more than the 2 KB left of the allowance.
	p := &protocol.Patch{Front: uint64(len(u))}
	if b, _ := protocol.Encode(p); len(b) > 8 {
		t.Fatalf("the patch takes %d bytes", len(b))
	}
	c.send(p)
	c.expectClosed(protocol.CodeRateLimited)
}

// TestPatchBaseIsLastOfMessage checks that after an Update of several
// updates the base of the next Patch is the last of them, both ways. The
// updates of a message are of two texts: a patch against a keystroke in
// one text, read against an update of the other, makes another update
// (a patch keeps what its two ends share, so a wrong base that shares as
// much goes unseen). Each order catches one direction.
func TestPatchBaseIsLastOfMessage(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	const room = "patch-last"
	w := joinRaw(t, ts, room)
	r := joinRaw(t, ts, room)
	// Relays: the reader's base is the title's update; one taken from
	// the first update would share the body's name with the patch's.
	w.waitAck(w.sendUpdates(w.appendText("body", string('a')), w.appendText("title", "Notes")))
	r.readUntilText("title", "Notes")
	w.waitAck(w.sendPatch(w.appendText("body", string('b'))))
	r.readUntilText("body", "ab")
	// Client to server: the server's base is the body's update.
	w.waitAck(w.sendUpdates(w.appendText("title", "!"), w.appendText("body", string('c'))))
	r.readUntilText("body", "abc")
	w.waitAck(w.sendPatch(w.appendText("body", string('d'))))
	r.readUntilText("body", "abcd")
	if r.patches != 2 {
		t.Errorf("the reader received %d Patches, want 2", r.patches)
	}
	other := joinRaw(t, ts, room)
	if got := other.doc.Text("title").String() + "/" + other.doc.Text("body").String(); got != "Notes!/abcd" {
		t.Errorf("the room holds %q", got)
	}
}

// TestPatchGoClient checks the Go client on a version 5 server: typing
// one character at a time, it sends its keystrokes as Patches, and a
// second client, which receives them as Patches, ends with the same
// text, as does a client that joins later.
func TestPatchGoClient(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	const room = "patch-client"
	w := dial(t, ts, room, nil)
	r := dial(t, ts, room, nil)
	const n = 40
	for i := range n {
		insert(t, w, -1, string(rune('a'+i%26)))
		waitSynced(t, w)
		// As a person types: after the other client has the keystroke.
		waitConverged(t, w, r)
	}
	if got := metric(t, ts, "flowstate_patches_received_total"); got != n-1 {
		t.Errorf("patches received: %v, want %d (every keystroke but the first)", got, n-1)
	}
	if got := metric(t, ts, "flowstate_patches_sent_total"); got != n-1 {
		t.Errorf("patches sent: %v, want %d", got, n-1)
	}
	late := dial(t, ts, room, nil)
	waitSynced(t, late)
	if got := waitConverged(t, w, r, late); len(got) != n {
		t.Errorf("text %q, want %d characters", got, n)
	}
}

// TestPatchNoBaseAfterLongUpdate checks that an update longer than
// protocol.MaxPatchBase is no base either way: the relay of the keystroke
// after a paste comes whole, and the one after that as a Patch.
func TestPatchNoBaseAfterLongUpdate(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	const room = "patch-long"
	w := joinRaw(t, ts, room)
	r := joinRaw(t, ts, room)
	paste, err := w.doc.Text("body").Insert(0, strings.Repeat("p", protocol.MaxPatchBase))
	if err != nil {
		t.Fatal(err)
	}
	w.waitAck(w.sendUpdates(paste))
	r.readUntilLen("body", protocol.MaxPatchBase)
	w.waitAck(w.sendUpdates(w.appendText("body", string('a'))))
	r.readUntilLen("body", protocol.MaxPatchBase+1)
	if r.patches != 0 {
		t.Fatalf("the keystroke after the paste came as a Patch")
	}
	w.waitAck(w.sendPatch(w.appendText("body", string('b'))))
	r.readUntilLen("body", protocol.MaxPatchBase+2)
	if r.patches != 1 {
		t.Errorf("the reader received %d Patches, want 1", r.patches)
	}
}
