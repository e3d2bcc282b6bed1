package sync_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
	"github.com/flowstate/flowstate/store"
	docsync "github.com/flowstate/flowstate/sync"
)

// Clients of PROTOCOL.md §6.2: what their Hello says they read.
var (
	// readsRich is a version 4 Hello that reads rich text as the CRDT
	// writes it (format 3).
	readsRich = protocol.Hello{Version: 4, Format: crdt.NewestVersion}
	// readsRichV2 is a client of format 2: rich text before compact marks.
	readsRichV2 = protocol.Hello{Version: 4, Format: 2}
	// readsPlainV4 is a version 4 Hello that reads format 1 only.
	readsPlainV4 = protocol.Hello{Version: 4, Format: 1}
	// readsPlainV3 is a Hello before version 4: format 1.
	readsPlainV3 = protocol.Hello{Version: 3}
)

// sayHello sends h, completed with the client's room, ID and state vector,
// and returns the server's first answer.
func (c *rawClient) sayHello(room string, h protocol.Hello) protocol.Message {
	c.t.Helper()
	h.Room, h.Client, h.StateVector = room, c.id, c.doc.StateVector().Encode()
	c.send(&h)
	m := c.read()
	if w, ok := m.(*protocol.Welcome); ok {
		if err := c.doc.Apply(w.Update); err != nil {
			c.t.Fatalf("welcome update: %v", err)
		}
	}
	return m
}

// joinAs dials room and joins it with h, failing unless welcomed.
func joinAs(t *testing.T, ts *testServer, room string, h protocol.Hello) *rawClient {
	t.Helper()
	c := dialRaw(t, ts.url(room))
	if m := c.sayHello(room, h); m.Type() != protocol.TypeWelcome {
		t.Fatalf("hello of version %d, format %d: got %#v, want a welcome", h.Version, h.Format, m)
	}
	return c
}

// boldAll makes the client's text "body" bold and sends it, returning the
// update (of the CRDT's newest format) and its seq.
func (c *rawClient) boldAll() ([]byte, uint64) {
	c.t.Helper()
	tx := c.doc.Text("body")
	u, err := tx.Format(0, tx.Len(), "bold", true)
	if err != nil {
		c.t.Fatal(err)
	}
	if v, _ := crdt.UpdateVersion(u); v != crdt.NewestVersion {
		c.t.Fatalf("a format is of version %d, want %d", v, crdt.NewestVersion)
	}
	return u, c.sendUpdates(u)
}

// expectFormatClose reads until the session ends, requiring that nothing
// beyond format 1 arrives first and that it ends with Error{4006} and close
// 4006.
func (c *rawClient) expectFormatClose() *protocol.Error {
	c.t.Helper()
	return c.expectFormatCloseReading(1)
}

// expectFormatCloseReading is expectFormatClose for a client that reads
// formats up to reads.
func (c *rawClient) expectFormatCloseReading(reads int) *protocol.Error {
	c.t.Helper()
	var got *protocol.Error
	for {
		m, err := c.next()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != int(protocol.CodeUnsupportedFormat) {
				c.t.Fatalf("want close 4006: %v", err)
			}
			if got == nil {
				c.t.Fatal("closed with 4006 without an Error first")
			}
			return got
		}
		switch m := m.(type) {
		case *protocol.Error:
			if m.Code != protocol.CodeUnsupportedFormat {
				c.t.Fatalf("error %d %q, want 4006", m.Code, m.Message)
			}
			got = m
		case *protocol.Welcome:
			c.t.Fatal("welcomed into a room it cannot read")
		case *protocol.Update:
			for _, u := range m.Updates {
				if v, _ := crdt.UpdateVersion(u); v > reads {
					c.t.Fatalf("a client of format %d was sent an update of format %d", reads, v)
				}
			}
		}
	}
}

// richRoom makes room hold rich text: a client that reads it types and
// bolds "hello". It returns that client, still a member.
func richRoom(t *testing.T, ts *testServer, room string) *rawClient {
	t.Helper()
	w := joinAs(t, ts, room, readsRich)
	w.waitAck(w.edit("body", "hello"))
	_, seq := w.boldAll()
	w.waitAck(seq)
	return w
}

// TestFormatJoinRichRoom: a client that reads format 1 (any Hello before
// version 4, or a version 4 one that says so) or format 2 (rich text before
// compact marks) is refused at the Hello in a room holding rich text of
// format 3, with no Welcome; one that reads format 3 joins.
func TestFormatJoinRichRoom(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	richRoom(t, ts, "rich")
	for _, tt := range []struct {
		name  string
		hello protocol.Hello
	}{
		{"version 3", readsPlainV3},
		{"version 1", protocol.Hello{Version: 1}},
		{"version 4 format 1", readsPlainV4},
		{"version 4 format 2", readsRichV2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, ts.url("rich"))
			h := tt.hello
			h.Room, h.Client, h.StateVector = "rich", c.id, crdt.StateVector{}.Encode()
			c.send(&h)
			e := c.expectFormatCloseReading(int(max(h.Format, 1)))
			if !strings.Contains(e.Message, "format 3") || !strings.Contains(e.Message, "newer client") {
				t.Errorf("error message %q names neither the format nor the remedy", e.Message)
			}
		})
	}
	t.Run("version 4 format 3", func(t *testing.T) {
		c := joinAs(t, ts, "rich", readsRich)
		if d := c.doc.Text("body").ToDelta(); len(d) != 1 || d[0].Attributes["bold"] != true {
			t.Fatalf("delta %+v, want bold hello", d)
		}
	})
}

// TestFormatPlainRoomServesEveryone: in a room without rich text, clients
// of formats 1, 2 and 3 edit together as before.
func TestFormatPlainRoomServesEveryone(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	old := joinAs(t, ts, "plain", readsPlainV3)
	v2 := joinAs(t, ts, "plain", readsRichV2)
	rich := joinAs(t, ts, "plain", readsRich)
	old.waitAck(old.edit("body", "ab"))
	rich.readUntilRelay()
	v2.readUntilRelay()
	rich.waitAck(rich.edit("body", "cd"))
	old.readUntilRelay()
	v2.readUntilRelay()
	for _, c := range []*rawClient{old, v2, rich} {
		if got := c.doc.Text("body").String(); got != "abcd" {
			t.Fatalf("text %q, want abcd", got)
		}
	}
}

// TestFormatRichUpdateDropsOldMembers: when the first rich update arrives,
// every member that reads format 1 is closed with 4006 before anything of
// format 2 reaches it, and the members that read it get the update.
func TestFormatRichUpdateDropsOldMembers(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	writer := joinAs(t, ts, "doc", readsRich)
	reader := joinAs(t, ts, "doc", readsRich)
	old3 := joinAs(t, ts, "doc", readsPlainV3)
	old4 := joinAs(t, ts, "doc", readsPlainV4)
	v2 := joinAs(t, ts, "doc", readsRichV2)
	writer.waitAck(writer.edit("body", "hi"))
	for _, c := range []*rawClient{reader, old3, old4, v2} {
		c.readUntilRelay()
	}
	_, seq := writer.boldAll()
	writer.waitAck(seq)
	old3.expectFormatClose()
	old4.expectFormatClose()
	v2.expectFormatCloseReading(2)
	reader.readUntilRelay()
	if d := reader.doc.Text("body").ToDelta(); len(d) != 1 || d[0].Attributes["bold"] != true {
		t.Fatalf("reader's delta %+v, want bold hi", d)
	}
	// The writer is still served.
	writer.waitAck(writer.edit("body", "!"))
}

// TestFormatOldClientSendsRichUpdate: a client that declared format 1 and
// sends a rich update is refused with 4006 naming the message, and nothing
// of that message is applied, stored or relayed, plain updates beside it
// included.
func TestFormatOldClientSendsRichUpdate(t *testing.T) {
	for _, h := range []protocol.Hello{readsPlainV3, readsPlainV4} {
		t.Run(fmt.Sprintf("version %d", h.Version), func(t *testing.T) {
			st := store.NewMemory()
			ts := startServer(t, testConfig(), st)
			other := joinAs(t, ts, "doc", readsRich)
			old := joinAs(t, ts, "doc", h)
			old.waitAck(old.edit("body", "ab"))
			other.readUntilRelay()
			plain, err := old.doc.Text("body").Insert(2, "c")
			if err != nil {
				t.Fatal(err)
			}
			rich, err := old.doc.Text("body").Format(0, 1, "bold", true)
			if err != nil {
				t.Fatal(err)
			}
			seq := old.sendUpdates(plain, rich)
			e := old.expectFormatClose()
			if want := fmt.Sprintf("format %d", crdt.NewestVersion); e.Seq != seq || !strings.Contains(e.Message, want) {
				t.Fatalf("error %+v, want seq %d naming %s", e, seq, want)
			}
			// The room still holds "ab" alone, in format 1, for its
			// members and a late joiner alike.
			other.waitAck(other.edit("body", "."))
			late := joinAs(t, ts, "doc", readsPlainV3)
			if got := late.doc.Text("body").String(); got != "ab." {
				t.Fatalf("late joiner's text %q, want \"ab.\"", got)
			}
			if got := storedDoc(t, st, "doc").Text("body").String(); got != "ab." {
				t.Fatalf("stored text %q, want \"ab.\"", got)
			}
		})
	}
}

// TestFormatStoredRichRoom: a room whose stored document holds rich text
// refuses clients of format 1 after a restart too, before any update.
func TestFormatStoredRichRoom(t *testing.T) {
	st := store.NewMemory()
	ts := startServer(t, testConfig(), st)
	richRoom(t, ts, "kept")
	if err := ts.shutdown(); err != nil {
		t.Fatal(err)
	}
	ts = startServer(t, testConfig(), st)
	c := dialRaw(t, ts.url("kept"))
	h := readsPlainV3
	h.Room, h.Client, h.StateVector = "kept", c.id, crdt.StateVector{}.Encode()
	c.send(&h)
	c.expectFormatClose()
	joinAs(t, ts, "kept", readsRich)
}

// TestFormatGoClientReadsRich: the Go client declares the format of its
// CRDT, so two of them share rich text, while a member of format 1 is
// closed when the first mark arrives.
func TestFormatGoClientReadsRich(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	a := dial(t, ts, "go", nil)
	b := dial(t, ts, "go", nil)
	old := joinAs(t, ts, "go", readsPlainV3)
	insert(t, a, 0, "hello")
	waitText(t, "hello", a, b)
	if err := a.Edit(func(d *crdt.Doc) error {
		_, err := d.Text("body").Format(0, 5, "bold", true)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	old.expectFormatClose()
	waitFor(t, deadline, func() error {
		var d []crdt.RichOp
		b.Read(func(doc *crdt.Doc) { d = doc.Text("body").ToDelta() })
		if len(d) != 1 || d[0].Attributes["bold"] != true {
			return fmt.Errorf("delta %+v, want bold hello", d)
		}
		return nil
	})
	waitSynced(t, a)
	if a.Status() != docsync.StatusSynced || b.Status() != docsync.StatusSynced {
		t.Fatalf("statuses %v and %v, want synced", a.Status(), b.Status())
	}
}

// TestFormatWriteAPI: a rich update written through POST
// /api/rooms/{room}/updates closes the room's members of format 1 as a
// member's would.
func TestFormatWriteAPI(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	old := joinAs(t, ts, "doc", readsPlainV4)
	rich := joinAs(t, ts, "doc", readsRich)
	d := crdt.NewDoc()
	plain, err := d.Text("body").Insert(0, "hi")
	if err != nil {
		t.Fatal(err)
	}
	bold, err := d.Text("body").Format(0, 2, "bold", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range [][]byte{plain, bold} {
		if status, body := apiCall(t, ts, "POST", "/api/rooms/doc/updates", "", "application/octet-stream", u); status != 200 {
			t.Fatalf("POST update: %d %s", status, body)
		}
	}
	old.expectFormatClose()
	waitFor(t, deadline, func() error {
		rich.readUntilRelay()
		if d := rich.doc.Text("body").ToDelta(); len(d) != 1 || d[0].Attributes["bold"] != true {
			return fmt.Errorf("delta %+v, want bold hi", d)
		}
		return nil
	})
}

// v2Bold is a format 2 update of RICH.md's worked example (§R9): client 1
// bolds "ab", the first two code points it typed into Text "t". Clients
// built before compact marks write this; the CRDT reads it and writes
// format 3 only.
const v2Bold = "9502919200a17491019091950002c407078b0602013302a09192a4626f6c64c3"

// TestFormatV2Client: a client of format 2 may still write rich text in
// format 2, which the room takes and relays to members that read it; but a
// late joiner of format 2 is refused, since the room's Welcome is written
// in format 3, and the first format 3 update closes the client of format 2
// before anything of format 3 reaches it.
func TestFormatV2Client(t *testing.T) {
	st := store.NewMemory()
	ts := startServer(t, testConfig(), st)
	reader := joinAs(t, ts, "doc", readsRich)
	c := dialRaw(t, ts.url("doc"))
	c.id, c.doc = 1, crdt.NewDocWithClient(1)
	if m := c.sayHello("doc", readsRichV2); m.Type() != protocol.TypeWelcome {
		t.Fatalf("hello of format 2 to a plain room: %#v, want a welcome", m)
	}
	ab, err := c.doc.Text("t").Insert(0, "ab")
	if err != nil {
		t.Fatal(err)
	}
	bold, err := hex.DecodeString(v2Bold)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := crdt.UpdateVersion(bold); v != 2 {
		t.Fatalf("the worked example is of format %d, want 2", v)
	}
	c.waitAck(c.sendUpdates(ab, bold))
	waitFor(t, deadline, func() error {
		reader.readUntilRelay()
		if d := reader.doc.Text("t").ToDelta(); len(d) != 1 || d[0].Insert != "ab" || d[0].Attributes["bold"] != true {
			return fmt.Errorf("reader's delta %+v, want bold ab", d)
		}
		return nil
	})
	late := dialRaw(t, ts.url("doc"))
	if m := late.sayHello("doc", readsRichV2); m.Type() != protocol.TypeError {
		t.Fatalf("late joiner of format 2: %#v, want Error{4006}", m)
	} else if e := m.(*protocol.Error); e.Code != protocol.CodeUnsupportedFormat || !strings.Contains(e.Message, "format 3") {
		t.Fatalf("late joiner of format 2: error %d %q, want 4006 naming format 3", e.Code, e.Message)
	}
	joinAs(t, ts, "doc", readsRich)
	u, err := reader.doc.Text("t").Format(0, 1, "italic", true)
	if err != nil {
		t.Fatal(err)
	}
	reader.waitAck(reader.sendUpdates(u))
	c.expectFormatCloseReading(2)
	if d := storedDoc(t, st, "doc").Text("t").ToDelta(); len(d) != 2 || d[0].Attributes["italic"] != true || d[1].Attributes["bold"] != true {
		t.Fatalf("stored delta %+v, want italic bold a, bold b", d)
	}
}
