package sync_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
	docsync "github.com/flowstate/flowstate/sync"
)

// A hookLog records the calls of the non-auth hooks, in order.
type hookLog struct {
	mu      stdsync.Mutex
	calls   []string
	changes []docsync.ChangeEvent
}

func (l *hookLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, s)
}

// hooks returns Hooks that record every call in l.
func (l *hookLog) hooks() docsync.Hooks {
	return docsync.Hooks{
		OnLoad: func(room string) { l.add("load " + room) },
		OnChange: func(ev docsync.ChangeEvent) {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.calls = append(l.calls, "change "+ev.Room)
			l.changes = append(l.changes, ev)
		},
		OnIdle:   func(room string) { l.add("idle " + room) },
		OnCreate: func(room string) { l.add("create " + room) },
		OnDelete: func(room string) { l.add("delete " + room) },
	}
}

func (l *hookLog) snapshot() ([]string, []docsync.ChangeEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls), slices.Clone(l.changes)
}

// waitCalls waits until l has recorded want, exactly.
func (l *hookLog) waitCalls(t *testing.T, want ...string) {
	t.Helper()
	waitFor(t, deadline, func() error {
		got, _ := l.snapshot()
		if !slices.Equal(got, want) {
			return fmt.Errorf("hook calls %q, want %q", got, want)
		}
		return nil
	})
}

// The hooks hear of a room's load, creation, each durable change (with
// the update as applied, the state vector after it, the size and the
// texts changed) and idle close, in the room's order; a room reopened
// with stored content is not created again.
func TestHooksOrderPerRoom(t *testing.T) {
	var log hookLog
	cfg := testConfig()
	cfg.Hooks = log.hooks()
	ts := startServerWithStore(t, cfg, openBolt(t))

	c := joinRaw(t, ts, "notes")
	var sent [][]byte
	for i := range 3 {
		u, err := c.doc.Text("body").Insert(c.doc.Text("body").Len(), fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, u)
		c.waitAck(c.sendUpdates(u))
	}
	u, err := c.doc.Map("meta").Set("title", "t")
	if err != nil {
		t.Fatal(err)
	}
	c.waitAck(c.sendUpdates(u))
	c.conn.Close()
	log.waitCalls(t, "load notes", "create notes", "change notes", "change notes", "change notes", "change notes", "idle notes")

	_, changes := log.snapshot()
	for i, ev := range changes[:3] {
		if string(ev.Update) != string(sent[i]) {
			t.Errorf("change %d: update differs from the one sent", i)
		}
		if !slices.Equal(ev.Texts, []string{"body"}) || len(ev.Maps) != 0 || ev.Coalesced != 0 {
			t.Errorf("change %d: texts %q maps %q coalesced %d, want [body] [] 0", i, ev.Texts, ev.Maps, ev.Coalesced)
		}
		sv, err := crdt.DecodeStateVector(ev.StateVector)
		if err != nil {
			t.Fatalf("change %d: state vector: %v", i, err)
		}
		if got := sv[crdt.ClientID(c.id)]; got != uint64(i+1) {
			t.Errorf("change %d: state vector has clock %d for the client, want %d", i, got, i+1)
		}
		if ev.Size <= 0 || i > 0 && ev.Size <= changes[i-1].Size {
			t.Errorf("change %d: size %d does not grow", i, ev.Size)
		}
	}
	if ev := changes[3]; len(ev.Texts) != 0 || !slices.Equal(ev.Maps, []string{"meta"}) {
		t.Errorf("map change: texts %q maps %q, want [] [meta]", ev.Texts, ev.Maps)
	}

	// Reopened: loaded again, never created again; a duplicate update
	// changes nothing and is not reported.
	c2 := joinRaw(t, ts, "notes")
	c2.waitAck(c2.sendUpdates(sent[0]))
	c2.waitAck(c2.edit("body", "!"))
	c2.conn.Close()
	log.waitCalls(t, "load notes", "create notes", "change notes", "change notes", "change notes", "change notes", "idle notes",
		"load notes", "change notes", "idle notes")
}

// OnChange runs off the room's goroutine: while it blocks, the room
// goes on relaying and acknowledging, and the changes it holds back are
// all reported once it returns, in order.
func TestHooksBlockingOnChangeDoesNotDelayRoom(t *testing.T) {
	release := make(chan struct{})
	var mu stdsync.Mutex
	var got []docsync.ChangeEvent
	cfg := testConfig()
	cfg.Hooks.OnChange = func(ev docsync.ChangeEvent) {
		<-release
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
	}
	ts := startServerWithStore(t, cfg, openBolt(t))
	var once stdsync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock() // before the server's shutdown, which waits for the hooks
	writer := dial(t, ts, "notes", nil)
	reader := dial(t, ts, "notes", nil)
	want := ""
	for i := range 50 {
		s := fmt.Sprintf("%d,", i)
		want += s
		insert(t, writer, -1, s)
	}
	waitSynced(t, writer)
	waitText(t, want, reader)
	mu.Lock()
	if len(got) != 0 {
		t.Errorf("%d changes reported while OnChange blocked", len(got))
	}
	mu.Unlock()
	unblock()
	waitFor(t, deadline, func() error {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, ev := range got {
			n += 1 + ev.Coalesced
		}
		if n != 50 {
			return fmt.Errorf("%d changes reported, want 50", n)
		}
		return nil
	})
}

// authorizeTests lists what an Authorize hook answers and how a session
// that asks it ends: joined (code 0) or closed with code.
var authorizeTests = []struct {
	name  string
	grant docsync.Grant
	err   error
	sleep bool // block until the hook's context ends
	code  protocol.Code
	write protocol.Code // how a write after the join ends; 0: acknowledged
}{
	{"write", docsync.Grant{Perm: docsync.PermWrite, Subject: "alice"}, nil, false, 0, 0},
	{"read", docsync.Grant{Perm: docsync.PermRead}, nil, false, 0, protocol.CodeForbidden},
	{"no grant", docsync.Grant{}, nil, false, protocol.CodeUnauthorized, 0},
	{"write without subject", docsync.Grant{Perm: docsync.PermWrite}, nil, false, protocol.CodeUnauthorized, 0},
	{"expired", docsync.Grant{Perm: docsync.PermWrite, Subject: "alice", Expiry: time.Now().Add(-time.Second)}, nil, false, protocol.CodeTokenExpired, 0},
	{"unauthorized", docsync.Grant{}, fmt.Errorf("no session: %w", docsync.ErrUnauthorized), false, protocol.CodeUnauthorized, 0},
	{"forbidden", docsync.Grant{}, docsync.ErrForbidden, false, protocol.CodeForbidden, 0},
	{"failed", docsync.Grant{}, errors.New("backend down"), false, protocol.CodeTryAgainLater, 0},
	{"timeout", docsync.Grant{}, nil, true, protocol.CodeTryAgainLater, 0},
}

func TestAuthorizeHook(t *testing.T) {
	for _, tt := range authorizeTests {
		t.Run(tt.name, func(t *testing.T) {
			var asked []docsync.AuthRequest
			var mu stdsync.Mutex
			cfg := testConfig()
			cfg.AuthorizeTimeout = 200 * time.Millisecond
			cfg.Hooks.Authorize = func(ctx context.Context, req *docsync.AuthRequest) (docsync.Grant, error) {
				mu.Lock()
				asked = append(asked, docsync.AuthRequest{Room: req.Room, Token: req.Token})
				mu.Unlock()
				if req.Request == nil || req.Request.Header.Get("Cookie") != "session=s1" {
					return docsync.Grant{}, errors.New("no upgrade request with its cookie")
				}
				if tt.sleep {
					<-ctx.Done()
					return docsync.Grant{Perm: docsync.PermWrite, Subject: "late"}, nil
				}
				return tt.grant, tt.err
			}
			ts := startServer(t, cfg, nil)
			c := dialRawWithHeader(t, ts.url("notes")+"?token=app-session", "Cookie", "session=s1")
			c.sendHello("notes", "")
			if tt.code != 0 {
				c.expectClosed(tt.code)
			} else {
				if w, ok := c.read().(*protocol.Welcome); !ok {
					t.Fatalf("got %#v, want a welcome", w)
				}
				seq := c.edit("body", "x")
				if tt.write == 0 {
					c.waitAck(seq)
				} else {
					c.expectClosed(tt.write)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(asked) != 1 || asked[0].Room != "notes" || asked[0].Token != "app-session" {
				t.Errorf("Authorize asked %+v, want once for room notes with the URL's token", asked)
			}
		})
	}
}

// With Config.Auth, a token the server signed is checked as before and
// Authorize is not asked; any other token goes to Authorize, whose
// Subject owns client IDs as a token's sub does.
func TestAuthorizeHookWithSignedTokens(t *testing.T) {
	a := newAuth(t, authSecret)
	var asked stdsync.Map
	cfg := testConfig()
	cfg.Auth = a
	cfg.Hooks.Authorize = func(ctx context.Context, req *docsync.AuthRequest) (docsync.Grant, error) {
		asked.Store(req.Token, true)
		if req.Token == "bob-session" {
			return docsync.Grant{Perm: docsync.PermWrite, Subject: "bob"}, nil
		}
		return docsync.Grant{}, docsync.ErrUnauthorized
	}
	ts := startServer(t, cfg, nil)

	alice := dialRaw(t, ts.url("notes"))
	alice.helloWith("notes", mint(t, a, "notes", docsync.PermWrite, time.Hour))
	alice.waitAck(alice.edit("body", "a"))

	expired := dialRaw(t, ts.url("notes"))
	expired.sendHello("notes", signed(t, jwt.SigningMethodHS256, authSecret,
		jwt.MapClaims{"room": "notes", "perm": "write", "sub": "alice", "exp": time.Now().Add(-time.Hour).Unix()}))
	expired.expectClosed(protocol.CodeTokenExpired)

	bob := dialRaw(t, ts.url("notes"))
	bob.helloWith("notes", "bob-session")
	bob.waitAck(bob.edit("body", "b"))
	// Bob may not write under Alice's client ID: it is hers.
	u := crdt.NewDocWithClient(crdt.ClientID(alice.id))
	if err := u.Apply(alice.doc.Snapshot()); err != nil {
		t.Fatal(err)
	}
	if err := u.ResumeClientID(crdt.ClientID(alice.id)); err != nil {
		t.Fatal(err)
	}
	forged, err := u.Text("body").Insert(0, "forged ")
	if err != nil {
		t.Fatal(err)
	}
	bob.sendUpdates(forged)
	bob.expectClosed(protocol.CodeForbidden)

	stranger := dialRaw(t, ts.url("notes"))
	stranger.sendHello("notes", "nobody")
	stranger.expectClosed(protocol.CodeUnauthorized)

	n := 0
	asked.Range(func(k, v any) bool { n++; return true })
	if _, ok := asked.Load("bob-session"); !ok || n != 2 {
		t.Errorf("Authorize was asked about %d tokens, want bob's and the stranger's only", n)
	}
}

// dialRawWithHeader is dialRaw with one more header in the upgrade
// request.
func dialRawWithHeader(t testing.TB, url, key, value string) *rawClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	h := make(map[string][]string)
	h[key] = []string{value}
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, url, h)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close() })
	doc := crdt.NewDoc()
	return &rawClient{t: t, conn: conn, id: uint64(doc.ClientID()), doc: doc}
}

// The API asks Authorize about its callers too, telling writes from
// reads; its refusals map to HTTP statuses: 401, 403, and 503 with
// Retry-After for a callback that failed.
func TestAuthorizeHookAPI(t *testing.T) {
	cfg := testConfig()
	var mu stdsync.Mutex
	writes := map[string]bool{}
	cfg.Hooks.Authorize = func(ctx context.Context, req *docsync.AuthRequest) (docsync.Grant, error) {
		mu.Lock()
		writes[req.Token+" "+req.Room] = req.Write
		mu.Unlock()
		switch req.Token {
		case "editor":
			return docsync.Grant{Perm: docsync.PermWrite, Subject: "ed"}, nil
		case "viewer":
			return docsync.Grant{Perm: docsync.PermRead, Subject: "vi"}, nil
		case "elsewhere":
			return docsync.Grant{}, docsync.ErrForbidden
		case "down":
			return docsync.Grant{}, errors.New("the session store is down")
		}
		return docsync.Grant{}, nil
	}
	ts := startServer(t, cfg, nil)
	edit := `[{"text": "body", "delta": [{"insert": "x"}]}]`
	for _, tt := range []struct {
		token  string
		status int
	}{{"", 401}, {"stranger", 401}, {"elsewhere", 403}, {"down", 503}, {"viewer", 403}, {"editor", 200}} {
		req, _ := http.NewRequest("POST", "http://"+ts.addr+"/api/rooms/notes/edits", strings.NewReader(edit))
		req.Header.Set("Authorization", "Bearer "+tt.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("write with %q: %d, want %d", tt.token, resp.StatusCode, tt.status)
		}
		if tt.status == 503 && resp.Header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
	}
	for _, tt := range []struct {
		token, path string
		status      int
	}{{"viewer", "/api/rooms/notes", 200}, {"stranger", "/api/rooms/notes", 401}, {"viewer", "/api/rooms", 200}} {
		req, _ := http.NewRequest("GET", "http://"+ts.addr+tt.path, nil)
		req.Header.Set("Authorization", "Bearer "+tt.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("GET %s with %q: %d, want %d", tt.path, tt.token, resp.StatusCode, tt.status)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !writes["editor notes"] || writes["viewer notes"] || writes["viewer *"] {
		t.Errorf("AuthRequest.Write: %v; want true for the editor's write only (the viewer also read)", writes)
	}
}

// Writes of the API are changes like a member's: a PUT creates the room
// (OnCreate, then OnChange), a later edit is one more OnChange, and the
// deletion ends with OnDelete.
func TestHooksAPIWrites(t *testing.T) {
	var log hookLog
	cfg := testConfig()
	cfg.Hooks = log.hooks()
	cfg.Hooks.OnLoad, cfg.Hooks.OnIdle = nil, nil
	cfg.AdminToken = adminToken
	ts := startServerWithStore(t, cfg, openBolt(t))
	if status, body := apiCall(t, ts, "PUT", "/api/rooms/doc", "", "application/json", []byte(`{"texts": {"body": "hi"}, "maps": {"m": {"k": 1}}}`)); status != http.StatusCreated {
		t.Fatalf("PUT: %d %s", status, body)
	}
	postEdits(t, ts, "doc", "", `[{"text": "body", "delta": [{"retain": 2}, {"insert": "!"}]}]`, http.StatusOK)
	if status, body := apiCall(t, ts, "DELETE", "/api/rooms/doc", adminToken, "", nil); status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", status, body)
	}
	log.waitCalls(t, "create doc", "change doc", "change doc", "delete doc")
	_, changes := log.snapshot()
	if !slices.Equal(changes[0].Texts, []string{"body"}) || !slices.Equal(changes[0].Maps, []string{"m"}) || changes[1].Update == nil {
		t.Errorf("changes %+v", changes)
	}
}

// A Grant's Expiry ends its session with 4408, as a token's does.
func TestAuthorizeHookGrantExpires(t *testing.T) {
	cfg := testConfig()
	cfg.Hooks.Authorize = func(ctx context.Context, req *docsync.AuthRequest) (docsync.Grant, error) {
		return docsync.Grant{Perm: docsync.PermWrite, Subject: "alice", Expiry: time.Now().Add(300 * time.Millisecond)}, nil
	}
	ts := startServer(t, cfg, nil)
	c := dialRaw(t, ts.url("notes"))
	c.helloWith("notes", "session")
	c.waitAck(c.edit("body", "before"))
	c.expectClosed(protocol.CodeTokenExpired)
}
