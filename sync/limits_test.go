package sync_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
	docsync "github.com/flowstate/flowstate/sync"
)

// openServer starts a server without auth and a witness client that has
// written "seed " into room.
func openServer(t *testing.T, cfg docsync.Config, room string) (*testServer, *docsync.Client) {
	t.Helper()
	ts := startServer(t, cfg, nil)
	witness := dial(t, ts, room, nil)
	insert(t, witness, -1, "seed ")
	waitSynced(t, witness)
	return ts, witness
}

// A floodTest sends more than a limit allows, as fast as it can.
type floodTest struct {
	name  string
	cfg   func(*docsync.Config)
	flood func(t *testing.T, c *rawClient) // sends; the server closes c
	code  protocol.Code
}

var floodTests = []floodTest{
	{
		name: "update messages over the rate",
		cfg:  func(c *docsync.Config) { c.RateMessages, c.RateBurst = 5, 5 },
		flood: func(t *testing.T, c *rawClient) {
			for i := range 50 {
				if !c.tryEdit(fmt.Sprintf("%d ", i)) {
					return
				}
			}
		},
		code: protocol.CodeRateLimited,
	},
	{
		name: "presence messages over the rate",
		cfg:  func(c *docsync.Config) { c.RateMessages, c.RateBurst = 5, 5 },
		flood: func(t *testing.T, c *rawClient) {
			for range 50 {
				b := mustEncode(t, &protocol.Presence{Entries: []protocol.PresenceEntry{{Client: c.id, State: []byte{0x80}}}})
				if c.conn.WriteMessage(websocket.BinaryMessage, b) != nil {
					return
				}
			}
		},
		code: protocol.CodeRateLimited,
	},
	{
		name: "bytes over the rate",
		cfg: func(c *docsync.Config) {
			c.MaxMessageSize, c.RateBytes, c.RateBytesBurst = 2048, 2048, 2048
		},
		flood: func(t *testing.T, c *rawClient) {
			for range 50 {
				if !c.tryEdit(strings.Repeat("x", 900)) {
					return
				}
			}
		},
		code: protocol.CodeRateLimited,
	},
	{
		// Control frames draw on the message allowance too: a flood of
		// pings, each answered with a pong, is not free.
		name: "ping frames over the rate",
		cfg:  func(c *docsync.Config) { c.RateMessages, c.RateBurst = 5, 5 },
		flood: func(t *testing.T, c *rawClient) {
			for range 1000 {
				if c.conn.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(deadline)) != nil {
					return
				}
			}
		},
		code: protocol.CodeRateLimited,
	},
	{
		// A thousand pings in one write: the server stops reading after
		// the sixth, with the rest unread in its socket, which must not
		// reset the connection before the client has the farewell.
		name: "ping frames in one burst",
		cfg:  func(c *docsync.Config) { c.RateMessages, c.RateBurst = 5, 5 },
		flood: func(t *testing.T, c *rawClient) {
			ping := []byte{0x89, 0x81, 0, 0, 0, 0, 'p'} // masked with a zero key
			_ = c.conn.NetConn().SetWriteDeadline(time.Now().Add(deadline))
			_, _ = c.conn.NetConn().Write(bytes.Repeat(ping, 1000))
		},
		code: protocol.CodeRateLimited,
	},
	{
		name: "pong frames over the rate",
		cfg:  func(c *docsync.Config) { c.RateMessages, c.RateBurst = 5, 5 },
		flood: func(t *testing.T, c *rawClient) {
			for range 1000 {
				if c.conn.WriteControl(websocket.PongMessage, nil, time.Now().Add(deadline)) != nil {
					return
				}
			}
		},
		code: protocol.CodeRateLimited,
	},
	{
		name: "message over the size limit",
		cfg:  func(c *docsync.Config) { c.MaxMessageSize = 1024 },
		flood: func(t *testing.T, c *rawClient) {
			c.tryEdit(strings.Repeat("y", 2048))
		},
		code: protocol.CodeMessageTooBig,
	},
}

// tryEdit is edit for a client that may be cut off at any moment: it
// reports whether the write went out.
func (c *rawClient) tryEdit(s string) bool {
	u, err := c.doc.Text("body").Insert(c.doc.Text("body").Len(), s)
	if err != nil {
		c.t.Fatal(err)
	}
	c.seq++
	b, err := protocol.Encode(&protocol.Update{Seq: c.seq, Updates: [][]byte{u}})
	if err != nil {
		c.t.Fatal(err)
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(deadline))
	return c.conn.WriteMessage(websocket.BinaryMessage, b) == nil
}

// TestFloodLimits sends past each limit and checks that the sender alone
// is closed with the documented code, that the room kept only updates
// that came before the limit, in order, and that it goes on working.
func TestFloodLimits(t *testing.T) {
	for _, tt := range floodTests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.RateMessages, cfg.RateBytes = 0, 0 // the defaults, unless tt.cfg sets them
			tt.cfg(&cfg)
			ts, witness := openServer(t, cfg, "flood")
			c := joinRaw(t, ts, "flood")
			sent := make(chan string, 1)
			go func() {
				tt.flood(t, c)
				sent <- c.doc.Text("body").String()
			}()
			c.expectClosed(tt.code)
			all := <-sent
			// The witness's next edit, once acknowledged, comes after all
			// the flooder's updates the room applied.
			insert(t, witness, 0, "end ")
			waitSynced(t, witness)
			stored := storedDoc(t, ts.st, "flood").Text("body").String()
			got, ok := strings.CutPrefix(stored, "end ")
			if !ok {
				t.Fatalf("store holds %.80q, want it to start with the witness's last edit", stored)
			}
			// The flooder's document began with the seed of its Welcome;
			// the room holds a strict prefix of it.
			if !strings.HasPrefix(all, got) || len(got) >= len(all) && len(all) > len("seed ") {
				t.Errorf("store holds %.80q (%d bytes) of the flooder's %d: want a strict prefix", got, len(got), len(all))
			}
			waitText(t, stored, witness)
		})
	}
}

// TestMaxConnsPerIP refuses connections past the per-address limit with
// HTTP 429 before the upgrade, counts X-Forwarded-For only behind a
// trusted proxy, and frees a slot when a connection ends.
func TestMaxConnsPerIP(t *testing.T) {
	for _, trust := range []bool{false, true} {
		t.Run(fmt.Sprintf("trust proxy %v", trust), func(t *testing.T) {
			cfg := testConfig()
			cfg.MaxConnsPerIP, cfg.TrustProxy = 2, trust
			ts := startServer(t, cfg, nil)
			from := func(ip string) http.Header {
				if ip == "" {
					return nil
				}
				return http.Header{"X-Forwarded-For": {"203.0.113.9, " + ip}}
			}
			first := dialStatus(t, ts, from("198.51.100.1"))
			if first.status != http.StatusSwitchingProtocols {
				t.Fatalf("first connection: status %d", first.status)
			}
			if s := dialStatus(t, ts, from("198.51.100.1")).status; s != http.StatusSwitchingProtocols {
				t.Fatalf("second connection: status %d", s)
			}
			if s := dialStatus(t, ts, from("198.51.100.1")).status; s != http.StatusTooManyRequests {
				t.Errorf("third connection from the same address: status %d, want 429", s)
			}
			// Behind a trusted proxy another forwarded address has its
			// own allowance; otherwise the header counts for nothing.
			want := http.StatusTooManyRequests
			if trust {
				want = http.StatusSwitchingProtocols
			}
			if s := dialStatus(t, ts, from("198.51.100.2")).status; s != want {
				t.Errorf("connection forwarded for another address: status %d, want %d", s, want)
			}
			// The connection counts from before its upgrade, but the
			// server lists its session only after: wait for the listing,
			// so that its disappearance below means the count dropped.
			local := first.conn.LocalAddr()
			waitFor(t, deadline, func() error {
				if !ts.hasSession(local) {
					return errors.New("the server does not list the first connection yet")
				}
				return nil
			})
			first.conn.Close()
			waitFor(t, deadline, func() error {
				if ts.hasSession(local) {
					return errors.New("the server still holds the closed connection")
				}
				return nil
			})
			if s := dialStatus(t, ts, from("198.51.100.1")).status; s != http.StatusSwitchingProtocols {
				t.Errorf("connection after one closed: status %d", s)
			}
		})
	}
}

type dialed struct {
	status int
	conn   *websocket.Conn
}

// dialStatus opens a WebSocket to the room "ip" with header and returns
// the HTTP status of the handshake, and the connection if it succeeded
// (the test's cleanup closes it).
func dialStatus(t *testing.T, ts *testServer, header http.Header) dialed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	conn, resp, err := websocket.DefaultDialer.DialContext(ctx, ts.url("ip"), header)
	if resp == nil {
		t.Fatalf("dial: %v", err)
	}
	resp.Body.Close()
	if conn != nil {
		t.Cleanup(func() { conn.Close() })
	}
	return dialed{resp.StatusCode, conn}
}

// TestMaxRooms: at the limit, opening a room closes the one idle the
// longest, saved; when every room has members, joining a new one is
// refused with 1013; an evicted room reopens with its document.
func TestMaxRooms(t *testing.T) {
	cfg := testConfig()
	cfg.MaxRooms = 2
	cfg.RoomIdleTimeout = time.Hour // rooms close only to make space
	ts := startServer(t, cfg, nil)

	a := joinRaw(t, ts, "a")
	a.waitAck(a.edit("body", "alpha"))
	local := a.conn.LocalAddr()
	a.conn.Close()
	waitFor(t, deadline, func() error {
		if ts.hasSession(local) {
			return errors.New("the server still holds a's connection")
		}
		return nil
	})
	b := dial(t, ts, "b", nil)
	c := dial(t, ts, "c", nil) // evicts "a", idle, to open "c"
	// "a" closes in the background, saved: its snapshot holds everything.
	waitFor(t, deadline, func() error {
		if n := ts.srv.Hub().Stats().Rooms; n > cfg.MaxRooms {
			return fmt.Errorf("%d rooms open, limit %d", n, cfg.MaxRooms)
		}
		rooms, err := ts.st.Rooms()
		if err != nil {
			return err
		}
		for _, r := range rooms {
			if r.Name == "a" && (r.SnapshotBytes == 0 || r.LogEntries != 0) {
				return fmt.Errorf("evicted room a: %+v, want a snapshot and no log", r)
			}
		}
		return nil
	})

	// Both open rooms have members: a new room cannot open.
	d := dialRaw(t, ts.url("d"))
	d.sendHello("d", "")
	if e := d.expectClosed(protocol.CodeTryAgainLater); !strings.Contains(e.Message, "try again") {
		t.Errorf("error %+v", e)
	}
	insert(t, b, -1, "still works")
	waitSynced(t, b)

	// Once "c" is idle, "a" reopens in its place, with its document.
	c.Close()
	waitFor(t, deadline, func() error {
		if len(docsync.SessionRemotes(ts.srv.Hub())) != 1 {
			return errors.New("the server still holds c's connection")
		}
		return nil
	})
	again := dial(t, ts, "a", nil)
	waitText(t, "alpha", again)
}

// TestMaxDocBytes refuses, with 1009, an update that would grow the
// document past its limit, applies none of it, and keeps the room
// working for updates that fit.
func TestMaxDocBytes(t *testing.T) {
	cfg := testConfig()
	cfg.MaxDocBytes = 4096
	ts, witness := openServer(t, cfg, "doc")
	c := joinRaw(t, ts, "doc")
	c.waitAck(c.edit("body", strings.Repeat("a", 2000)))
	want := witness.Text("body") // wait below for the relay
	waitFor(t, deadline, func() error {
		if want = witness.Text("body"); len(want) < 2005 {
			return errors.New("the witness has not received the first edit")
		}
		return nil
	})
	// One message of two updates that together pass the limit: neither
	// may be applied.
	u1, err := c.doc.Text("body").Insert(0, strings.Repeat("b", 1000))
	if err != nil {
		t.Fatal(err)
	}
	u2, err := c.doc.Text("body").Insert(0, strings.Repeat("c", 1500))
	if err != nil {
		t.Fatal(err)
	}
	seq := c.sendUpdates(u1, u2)
	if e := c.expectClosed(protocol.CodeMessageTooBig); e.Seq != seq || !strings.Contains(e.Message, "4096-byte limit") {
		t.Errorf("error %+v, want seq %d and the limit", e, seq)
	}
	insert(t, witness, 0, "fits ")
	waitSynced(t, witness)
	want = "fits " + want
	if got := storedDoc(t, ts.st, "doc").Text("body").String(); got != want {
		t.Errorf("store holds %d bytes %.20q…, want %d bytes %.20q…", len(got), got, len(want), want)
	}
	late := dial(t, ts, "doc", nil)
	waitText(t, want, late, witness)
}

// The document's size is measured again before a refusal, so that a
// document whose deletions made the running estimate too high still takes
// updates that fit.
func TestMaxDocBytesAfterDeletions(t *testing.T) {
	cfg := testConfig()
	cfg.MaxDocBytes = 8192
	ts := startServer(t, cfg, nil)
	c := joinRaw(t, ts, "shrink")
	for range 4 {
		c.waitAck(c.edit("body", strings.Repeat("z", 1500)))
		del, err := c.doc.Text("body").Delete(0, c.doc.Text("body").Len())
		if err != nil {
			t.Fatal(err)
		}
		c.waitAck(c.sendUpdates(del))
	}
	// The updates sent so far add up to more than the limit, but the
	// document holds no text: this edit fits.
	c.waitAck(c.edit("body", strings.Repeat("y", 1500)))
	if got := storedDoc(t, ts.st, "shrink").Text("body").String(); got != strings.Repeat("y", 1500) {
		t.Errorf("store holds %d bytes, want the last edit's 1500", len(got))
	}
}

// originTests pairs allow-lists with the Origin headers they accept.
var originTests = []struct {
	name    string
	allowed []string
	origin  string // "" sends none; "self" the server's own
	status  int
}{
	{"default: no origin", nil, "", http.StatusSwitchingProtocols},
	{"default: same origin", nil, "self", http.StatusSwitchingProtocols},
	{"default: other origin", nil, "https://evil.example", http.StatusForbidden},
	{"list: listed origin", []string{"https://app.example"}, "https://app.example", http.StatusSwitchingProtocols},
	{"list: listed origin in other case", []string{"https://app.example"}, "HTTPS://APP.example", http.StatusSwitchingProtocols},
	{"list: same origin", []string{"https://app.example"}, "self", http.StatusSwitchingProtocols},
	{"list: no origin", []string{"https://app.example"}, "", http.StatusSwitchingProtocols},
	{"list: other port", []string{"https://app.example"}, "https://app.example:8443", http.StatusForbidden},
	{"list: other scheme", []string{"https://app.example"}, "http://app.example", http.StatusForbidden},
	{"list: unlisted origin", []string{"https://app.example"}, "https://evil.example", http.StatusForbidden},
	{"star: any origin", []string{"*"}, "https://evil.example", http.StatusSwitchingProtocols},
}

func TestAllowedOrigins(t *testing.T) {
	for _, tt := range originTests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.AllowedOrigins = tt.allowed
			ts, witness := openServer(t, cfg, "ip")
			var h http.Header
			switch tt.origin {
			case "":
			case "self":
				h = http.Header{"Origin": {"http://" + ts.addr}}
			default:
				h = http.Header{"Origin": {tt.origin}}
			}
			d := dialStatus(t, ts, h)
			if d.status != tt.status {
				t.Fatalf("status %d, want %d", d.status, tt.status)
			}
			if d.conn == nil {
				waitText(t, "seed ", witness)
				return
			}
			c := &rawClient{t: t, conn: d.conn, id: 77, doc: crdt.NewDocWithClient(77)}
			c.hello("ip")
			c.waitAck(c.edit("body", "allowed"))
			waitText(t, "seed allowed", witness)
		})
	}
}

var parseOriginsTests = []struct {
	in   string
	want []string
	err  bool
}{
	{in: "", want: nil},
	{in: "*", want: []string{"*"}},
	{in: "https://Example.com", want: []string{"https://example.com"}},
	{in: " https://a.example , http://localhost:5173/ ", want: []string{"https://a.example", "http://localhost:5173"}},
	{in: "example.com", err: true},
	{in: "https://a.example/path", err: true},
	{in: "https://user@a.example", err: true},
	{in: "https://a.example?x=1", err: true},
	{in: "*,https://a.example", err: true},
}

func TestParseOrigins(t *testing.T) {
	for _, tt := range parseOriginsTests {
		got, err := docsync.ParseOrigins(tt.in)
		if (err != nil) != tt.err || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("ParseOrigins(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// TestMaxRoomsTakingTurns has two rooms take turns in a hub that holds
// one: every join evicts the other room, often while it is still saving,
// and no write of either is lost across the evictions and reloads.
func TestMaxRoomsTakingTurns(t *testing.T) {
	cfg := testConfig()
	cfg.MaxRooms = 1
	cfg.RoomIdleTimeout = time.Hour
	ts := startServer(t, cfg, nil)
	want := map[string]string{}
	for i := range 6 {
		room := []string{"left", "right"}[i%2]
		c := joinRaw(t, ts, room)
		if got := c.doc.Text("body").String(); got != want[room] {
			t.Fatalf("round %d: room %s reopened with %q, want %q", i, room, got, want[room])
		}
		word := fmt.Sprintf("%d ", i)
		c.waitAck(c.edit("body", word))
		want[room] += word
		local := c.conn.LocalAddr()
		c.conn.Close()
		waitFor(t, deadline, func() error {
			if ts.hasSession(local) {
				return errors.New("the server still holds the connection")
			}
			return nil
		})
	}
	for room, text := range want {
		waitFor(t, deadline, func() error {
			if got := storedDoc(t, ts.st, room).Text("body").String(); got != text {
				return fmt.Errorf("room %s: store holds %q, want %q", room, got, text)
			}
			return nil
		})
	}
}
