package sync_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
	"github.com/flowstate/flowstate/store"
	docsync "github.com/flowstate/flowstate/sync"
)

// originClient is the client ID of the updates built by crossTextUpdates.
const originClient = 5

// crossTextUpdates returns two updates of client 5: first, one that
// inserts "x" into the text "other" (clock 0); then one whose text run in
// the text "t" names that code point as its left origin. The second
// decodes but cannot be applied after the first: crdt.ErrInvalidUpdate.
// The bytes follow crdt/hostile_test.go (TestApplyRejectsOriginInAnotherType)
// and FORMAT.md.
func crossTextUpdates(t testing.TB) (first, bad []byte) {
	t.Helper()
	src := crdt.NewDocWithClient(originClient)
	first, err := src.Text("other").Insert(0, "x") // client 5, clock 0
	if err != nil {
		t.Fatal(err)
	}
	bad = []byte{
		0x95, 0x01, // [version 1,
		0x91, 0x92, 0x00, 0xa1, 't', //  types [[text, "t"]],
		0x91, originClient, //  clients [5],
		0x90,                   //  deletes [],
		0x91, 0x95, 0x00, 0x01, //  blocks [[client #0, clock 1,
		0xc4, 0x03, 0x07, 0x09, 0x01, //    records: parent #0; text run of 1, left origin clock 1 - 1 = 0 (in "other")
		0xa1, 'a', 0x90, //    text "a", entries []]]]
	}
	// Make sure the bytes still mean what this test needs.
	d := crdt.NewDoc()
	if err := d.Apply(first); err != nil {
		t.Fatal(err)
	}
	before := d.Snapshot()
	if err := d.Apply(bad); !errors.Is(err, crdt.ErrInvalidUpdate) {
		t.Fatalf("crafted update: Apply returned %v, want ErrInvalidUpdate", err)
	}
	if !bytes.Equal(d.Snapshot(), before) {
		t.Fatal("crafted update changed the document")
	}
	return first, bad
}

func mustEncode(t testing.TB, m protocol.Message) []byte {
	t.Helper()
	b, err := protocol.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A badInputTest sends something a well-behaved client never would. The
// client has said hello (unless noHello), and has had one update
// acknowledged, before bad runs.
type badInputTest struct {
	name    string
	url     string // room in the URL, if not the test's room
	noHello bool
	bad     func(t *testing.T, c *rawClient, room string)
	code    protocol.Code
	seq     uint64 // the Error's Seq; 0 to ignore
}

var badInputTests = []badInputTest{
	{
		name: "malformed msgpack",
		bad:  func(t *testing.T, c *rawClient, _ string) { c.sendBytes([]byte{0xc1, 0x00, 0xff}) },
		code: protocol.CodeProtocolError,
	},
	{
		name: "truncated message",
		bad: func(t *testing.T, c *rawClient, _ string) {
			b := mustEncode(t, &protocol.Update{Seq: 2, Updates: [][]byte{[]byte("abcdef")}})
			c.sendBytes(b[:len(b)-3])
		},
		code: protocol.CodeProtocolError,
	},
	{
		name: "trailing bytes",
		bad: func(t *testing.T, c *rawClient, _ string) {
			c.sendBytes(append(mustEncode(t, &protocol.Ack{Seq: 1}), 0x00))
		},
		code: protocol.CodeProtocolError,
	},
	{
		name: "empty message",
		bad:  func(t *testing.T, c *rawClient, _ string) { c.sendBytes(nil) },
		code: protocol.CodeProtocolError,
	},
	{
		name: "unknown message type",
		bad:  func(t *testing.T, c *rawClient, _ string) { c.sendBytes([]byte{0x92, 0x09, 0x00}) }, // [9, 0]
		code: protocol.CodeUnknownType,
	},
	{
		name:    "unknown message type before hello",
		noHello: true,
		bad:     func(t *testing.T, c *rawClient, _ string) { c.sendBytes([]byte{0x91, 0x7f}) }, // [127]
		code:    protocol.CodeUnknownType,
	},
	{
		name:    "wrong protocol version",
		noHello: true,
		bad: func(t *testing.T, c *rawClient, room string) {
			c.send(&protocol.Hello{Version: protocol.Version + 1, Room: room, Client: c.id})
		},
		code: protocol.CodeUnsupportedVersion,
	},
	{
		name:    "update before hello",
		noHello: true,
		bad: func(t *testing.T, c *rawClient, _ string) {
			u, _ := crdt.NewDoc().Text("body").Insert(0, "sneaky")
			c.send(&protocol.Update{Seq: 1, Updates: [][]byte{u}})
		},
		code: protocol.CodeProtocolError,
	},
	{
		name:    "presence before hello",
		noHello: true,
		bad: func(t *testing.T, c *rawClient, _ string) {
			c.send(&protocol.Presence{Entries: []protocol.PresenceEntry{{Client: c.id, State: []byte{0x80}}}})
		},
		code: protocol.CodeProtocolError,
	},
	{
		name: "second hello",
		bad: func(t *testing.T, c *rawClient, room string) {
			c.send(&protocol.Hello{Version: protocol.Version, Room: room, Client: c.id, StateVector: c.doc.StateVector().Encode()})
		},
		code: protocol.CodeProtocolError,
	},
	{
		name: "server-only message",
		bad:  func(t *testing.T, c *rawClient, _ string) { c.send(&protocol.Ack{Seq: 1}) },
		code: protocol.CodeProtocolError,
	},
	{
		name: "welcome from a client",
		bad:  func(t *testing.T, c *rawClient, _ string) { c.send(&protocol.Welcome{}) },
		code: protocol.CodeProtocolError,
	},
	{
		name: "error from a client",
		bad: func(t *testing.T, c *rawClient, _ string) {
			c.send(&protocol.Error{Code: protocol.CodeInternalError, Message: "boom"})
		},
		code: protocol.CodeProtocolError,
	},
	{
		name:    "hello with a malformed state vector",
		noHello: true,
		bad: func(t *testing.T, c *rawClient, room string) {
			c.send(&protocol.Hello{Version: protocol.Version, Room: room, Client: c.id, StateVector: []byte{0xc1}})
		},
		code: protocol.CodeProtocolError,
	},
	{
		name: "update that does not decode",
		bad: func(t *testing.T, c *rawClient, _ string) {
			c.sendUpdates([]byte{0x95, 0x01, 0xc1})
		},
		code: protocol.CodeInvalidUpdate,
		seq:  2,
	},
	{
		name: "update that is not msgpack at all",
		bad: func(t *testing.T, c *rawClient, _ string) {
			c.sendUpdates([]byte("<html>"))
		},
		code: protocol.CodeInvalidUpdate,
		seq:  2,
	},
	{
		name: "update with an origin in another text",
		bad: func(t *testing.T, c *rawClient, _ string) {
			first, bad := crossTextUpdates(t)
			c.waitAck(c.sendUpdates(first))
			c.sendUpdates(bad)
		},
		code: protocol.CodeInvalidUpdate,
		seq:  3,
	},
	{
		name: "message over the size limit",
		bad: func(t *testing.T, c *rawClient, _ string) {
			u, _ := crdt.NewDoc().Text("body").Insert(0, strings.Repeat("big", maxMessageSize))
			c.sendBytesMayFail(mustEncode(t, &protocol.Update{Seq: 2, Updates: [][]byte{u}}))
		},
		code: protocol.CodeMessageTooBig,
	},
	{
		name: "garbage over the size limit",
		bad: func(t *testing.T, c *rawClient, _ string) {
			c.sendBytesMayFail(bytes.Repeat([]byte{0xc1}, maxMessageSize+1))
		},
		code: protocol.CodeMessageTooBig,
	},
	{
		name:    "invalid room in the URL",
		url:     "bad$room",
		noHello: true,
		code:    protocol.CodeInvalidRoom,
	},
	{
		name:    "room name too long",
		url:     strings.Repeat("r", protocol.MaxRoomBytes+1),
		noHello: true,
		code:    protocol.CodeInvalidRoom,
	},
	{
		name:    "hello for another room",
		noHello: true,
		bad: func(t *testing.T, c *rawClient, room string) {
			c.send(&protocol.Hello{Version: protocol.Version, Room: room + "-other", Client: c.id})
		},
		code: protocol.CodeInvalidRoom,
	},
	{
		name: "text frame",
		bad: func(t *testing.T, c *rawClient, _ string) {
			if err := c.conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"update"}`)); err != nil {
				t.Fatal(err)
			}
		},
		code: protocol.CodeUnsupportedData,
	},
	{
		name:    "text frame before hello",
		noHello: true,
		bad: func(t *testing.T, c *rawClient, _ string) {
			if err := c.conn.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
				t.Fatal(err)
			}
		},
		code: protocol.CodeUnsupportedData,
	},
	{
		name:    "no hello",
		noHello: true,
		code:    protocol.CodeHelloTimeout,
	},
	{
		name: "repeated update seq",
		bad: func(t *testing.T, c *rawClient, _ string) {
			c.seq-- // resend seq 1
			c.edit("seq", "again")
		},
		code: protocol.CodeProtocolError,
		seq:  1,
	},
	{
		name: "decreasing update seq",
		bad: func(t *testing.T, c *rawClient, _ string) {
			c.seq = 10
			c.waitAck(c.edit("seq", "+"))
			c.seq = 4
			c.edit("seq", "-")
		},
		code: protocol.CodeProtocolError,
		seq:  5,
	},
	{
		name: "update seq 0",
		bad: func(t *testing.T, c *rawClient, _ string) {
			u, _ := c.doc.Text("body").Insert(0, "zero")
			c.send(&protocol.Update{Seq: 0, Updates: [][]byte{u}})
		},
		code: protocol.CodeProtocolError,
	},
	{
		name: "presence with someone else's client ID",
		bad: func(t *testing.T, c *rawClient, _ string) {
			c.send(&protocol.Presence{Entries: []protocol.PresenceEntry{{Client: c.id + 1, State: []byte{0x80}}}})
		},
		code: protocol.CodeProtocolError,
	},
	{
		name: "presence with two entries",
		bad: func(t *testing.T, c *rawClient, _ string) {
			c.send(&protocol.Presence{Entries: []protocol.PresenceEntry{{Client: c.id, State: []byte{0x80}}, {Client: c.id, State: []byte{0x80}}}})
		},
		code: protocol.CodeProtocolError,
	},
	{
		name: "presence with no entry",
		bad: func(t *testing.T, c *rawClient, _ string) {
			c.send(&protocol.Presence{})
		},
		code: protocol.CodeProtocolError,
	},
}

// maxMessageSize is the MaxMessageSize of the bad-input server.
const maxMessageSize = 8 << 10

// Every kind of bad input closes the offending session with its documented
// code, after an Error saying why, and leaves the room, its document and
// its other members as they were.
func TestBadInput(t *testing.T) {
	cfg := testConfig()
	cfg.MaxMessageSize = maxMessageSize
	cfg.HelloTimeout = 300 * time.Millisecond
	ts := startServer(t, cfg, nil)
	for i, tt := range badInputTests {
		t.Run(tt.name, func(t *testing.T) {
			checkBadInput(t, tt, fmt.Sprintf("bad-%d", i), ts, nil, ts.st)
		})
	}
	if st := ts.srv.Hub().Stats(); st.Rooms > len(badInputTests) {
		t.Errorf("stats %+v", st)
	}
}

// checkBadInput runs tt in room on ts: the offending session is closed
// with its code, after an Error saying why, and the room, its document
// in st and its other members stay as they were. With far (another node
// of ts's cluster), a member there carries on too, and the late joiner
// joins there.
func checkBadInput(t *testing.T, tt badInputTest, room string, ts, far *testServer, st store.Store) {
	t.Helper()
	// eventually checks f at once on one node; across nodes, what one
	// node holds reaches the others' open rooms a moment later.
	eventually := func(f func() error) {
		t.Helper()
		if far == nil {
			if err := f(); err != nil {
				t.Error(err)
			}
			return
		}
		waitFor(t, clusterWait, f)
	}
	witness := dial(t, ts, room, nil)
	insert(t, witness, -1, "witness.")
	waitSynced(t, witness)
	var farWitness *docsync.Client
	if far != nil {
		farWitness = dial(t, far, room, nil)
		waitTextCluster(t, "witness.", farWitness)
	}

	url := room
	if tt.url != "" {
		url = tt.url
	}
	c := dialRaw(t, ts.url(url))
	want := "witness."
	if !tt.noHello {
		c.hello(room)
		// An update acknowledged before the bad input stays.
		c.waitAck(c.edit("acked", "acked"))
	}
	if tt.bad != nil {
		tt.bad(t, c, room)
	}
	e := c.expectClosed(tt.code)
	if e.Message == "" {
		t.Error("the Error has no message")
	}
	if tt.seq != 0 && e.Seq != tt.seq {
		t.Errorf("Error.Seq = %d, want %d", e.Seq, tt.seq)
	}
	t.Logf("error %d (%s): %s", e.Code, e.Code, e.Message)
	waitFor(t, deadline, func() error {
		if ts.hasSession(c.conn.LocalAddr()) {
			return errors.New("the server still holds the session")
		}
		return nil
	})

	// The room and its other members carry on.
	if got := witness.Text("body"); got != want {
		t.Errorf("witness's body = %q, want %q", got, want)
	}
	if s := witness.Status(); s != docsync.StatusSynced {
		t.Errorf("witness's status = %v", s)
	}
	if farWitness != nil {
		if s := farWitness.Status(); s != docsync.StatusSynced {
			t.Errorf("other node's witness's status = %v", s)
		}
	}
	insert(t, witness, -1, "still here")
	waitSynced(t, witness)
	want += "still here"
	lateOn := ts
	if far != nil {
		lateOn = far
	}
	late := dial(t, lateOn, room, nil)
	wantAcked := ""
	if !tt.noHello {
		wantAcked = "acked"
	}
	eventually(func() error {
		if got := late.Text("body"); got != want {
			return fmt.Errorf("late joiner's body = %q, want %q", got, want)
		}
		if got := late.Text("acked"); got != wantAcked {
			return fmt.Errorf("late joiner's acked text = %q, want %q", got, wantAcked)
		}
		return nil
	})
	if got := late.Text("t"); got != "" {
		t.Errorf("rejected update reached the room: text t = %q", got)
	}
	// The room relays at most once per RelayInterval, so the witnesses
	// may get the update a moment after the witness's later edit's Ack.
	for _, w := range []*docsync.Client{witness, farWitness} {
		if w == nil {
			continue
		}
		waitFor(t, clusterWait, func() error {
			if got := w.Text("acked"); got != wantAcked {
				return fmt.Errorf("witness's acked text = %q, want %q", got, wantAcked)
			}
			if got := w.Text("body"); got != want {
				return fmt.Errorf("witness's body = %q, want %q", got, want)
			}
			if got := w.Text("t"); got != "" {
				return fmt.Errorf("rejected update reached a witness: text t = %q", got)
			}
			return nil
		})
	}
	stored := storedDoc(t, st, room)
	if got := stored.Text("body").String(); got != want {
		t.Errorf("stored body = %q, want %q", got, want)
	}
	if got := stored.Text("t").String(); got != "" {
		t.Errorf("rejected update stored: text t = %q", got)
	}
}

// A client dropped for bad input can come back: nothing about it lingers
// in the room.
func TestRejoinAfterBadInput(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	c := joinRaw(t, ts, "again")
	c.waitAck(c.edit("body", "one "))
	c.sendBytes([]byte{0xc1})
	c.expectClosed(protocol.CodeProtocolError)
	c.conn.Close()

	// The same client ID, and a state vector that already has "one ".
	d := dialRaw(t, ts.url("again"))
	d.id, d.doc = c.id, c.doc
	w := d.hello("again")
	if len(w.Update) == 0 {
		t.Fatal("empty welcome update")
	}
	d.waitAck(d.edit("body", "two"))
	if got := dial(t, ts, "again", nil).Text("body"); got != "one two" {
		t.Errorf("body = %q", got)
	}
}
