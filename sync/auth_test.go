package sync_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/flowstate/flowstate/protocol"
	docsync "github.com/flowstate/flowstate/sync"
)

// authSecret signs the tokens of the tests; forgerSecret signs forgeries.
var (
	authSecret   = []byte("0123456789abcdef0123456789abcdef")
	forgerSecret = []byte("fedcba9876543210fedcba9876543210")
)

func newAuth(t testing.TB, secret []byte) *docsync.Authenticator {
	t.Helper()
	a, err := docsync.NewAuthenticator(secret)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// mint returns a token of a for the identity "alice" in room with perm,
// valid for ttl.
func mint(t testing.TB, a *docsync.Authenticator, room string, perm docsync.Permission, ttl time.Duration) string {
	t.Helper()
	return mintAs(t, a, "alice", room, perm, ttl)
}

// mintAs is mint for the identity sub.
func mintAs(t testing.TB, a *docsync.Authenticator, sub, room string, perm docsync.Permission, ttl time.Duration) string {
	t.Helper()
	tok, err := a.Mint(sub, room, perm, ttl)
	if err != nil {
		t.Fatalf("Mint(%q, %q, %v, %v): %v", sub, room, perm, ttl, err)
	}
	return tok
}

// signed returns a token with exactly claims, signed by method and key,
// for tokens that Mint refuses to make.
func signed(t testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestNewAuthenticatorRefusesShortSecrets(t *testing.T) {
	for _, n := range []int{0, 1, docsync.MinSecretBytes - 1} {
		if _, err := docsync.NewAuthenticator(make([]byte, n)); !errors.Is(err, docsync.ErrShortSecret) {
			t.Errorf("%d-byte secret: err = %v, want ErrShortSecret", n, err)
		}
	}
	if _, err := docsync.NewAuthenticator(make([]byte, docsync.MinSecretBytes)); err != nil {
		t.Errorf("%d-byte secret: %v", docsync.MinSecretBytes, err)
	}
}

var mintErrorTests = []struct {
	name string
	sub  string
	room string
	perm docsync.Permission
	ttl  time.Duration
}{
	{"empty room", "alice", "", docsync.PermRead, time.Hour},
	{"invalid room", "alice", "a/b", docsync.PermRead, time.Hour},
	{"star inside", "alice", "a*b", docsync.PermRead, time.Hour},
	{"no permission", "alice", "notes", 0, time.Hour},
	{"unknown permission", "alice", "notes", 9, time.Hour},
	{"zero lifetime", "alice", "notes", docsync.PermWrite, 0},
	{"negative lifetime", "alice", "notes", docsync.PermWrite, -time.Second},
	{"write without a subject", "", "notes", docsync.PermWrite, time.Hour},
	{"subject too long", strings.Repeat("a", docsync.MaxSubjectBytes+1), "notes", docsync.PermRead, time.Hour},
}

func TestMintRefusesInvalidClaims(t *testing.T) {
	a := newAuth(t, authSecret)
	for _, tt := range mintErrorTests {
		t.Run(tt.name, func(t *testing.T) {
			if tok, err := a.Mint(tt.sub, tt.room, tt.perm, tt.ttl); err == nil {
				t.Errorf("Mint(%q, %q, %d, %v) = %q, want an error", tt.sub, tt.room, tt.perm, tt.ttl, tok)
			}
		})
	}
}

// A verifyTest is a token and the room it is presented for.
type verifyTest struct {
	name  string
	token func(t testing.TB, a *docsync.Authenticator) string
	room  string
	code  protocol.Code // 0: accepted
	perm  docsync.Permission
}

var verifyTests = []verifyTest{
	{name: "write token", room: "notes", perm: docsync.PermWrite,
		token: func(t testing.TB, a *docsync.Authenticator) string {
			return mint(t, a, "notes", docsync.PermWrite, time.Hour)
		}},
	{name: "read token", room: "notes", perm: docsync.PermRead,
		token: func(t testing.TB, a *docsync.Authenticator) string {
			return mint(t, a, "notes", docsync.PermRead, time.Hour)
		}},
	{name: "prefix match", room: "team-notes", perm: docsync.PermWrite,
		token: func(t testing.TB, a *docsync.Authenticator) string {
			return mint(t, a, "team-*", docsync.PermWrite, time.Hour)
		}},
	{name: "prefix matches the bare prefix", room: "team-", perm: docsync.PermRead,
		token: func(t testing.TB, a *docsync.Authenticator) string {
			return mint(t, a, "team-*", docsync.PermRead, time.Hour)
		}},
	{name: "star matches every room", room: "anything", perm: docsync.PermRead,
		token: func(t testing.TB, a *docsync.Authenticator) string {
			return mint(t, a, "*", docsync.PermRead, time.Hour)
		}},
	{name: "missing", room: "notes", code: protocol.CodeUnauthorized,
		token: func(testing.TB, *docsync.Authenticator) string { return "" }},
	{name: "malformed", room: "notes", code: protocol.CodeUnauthorized,
		token: func(testing.TB, *docsync.Authenticator) string { return "not.a.token" }},
	{name: "forged", room: "notes", code: protocol.CodeUnauthorized,
		token: func(t testing.TB, _ *docsync.Authenticator) string {
			return mint(t, newAuth(t, forgerSecret), "notes", docsync.PermWrite, time.Hour)
		}},
	{name: "signature of another token", room: "notes", code: protocol.CodeUnauthorized,
		token: func(t testing.TB, a *docsync.Authenticator) string {
			read := strings.Split(mint(t, a, "notes", docsync.PermRead, time.Hour), ".")
			write := strings.Split(mint(t, a, "notes", docsync.PermWrite, time.Hour), ".")
			return read[0] + "." + write[1] + "." + read[2]
		}},
	{name: "alg none", room: "notes", code: protocol.CodeUnauthorized,
		token: func(t testing.TB, _ *docsync.Authenticator) string {
			return signed(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType,
				jwt.MapClaims{"room": "notes", "perm": "write", "exp": time.Now().Add(time.Hour).Unix()})
		}},
	{name: "HS512 with the right secret", room: "notes", code: protocol.CodeUnauthorized,
		token: func(t testing.TB, _ *docsync.Authenticator) string {
			return signed(t, jwt.SigningMethodHS512, authSecret,
				jwt.MapClaims{"room": "notes", "perm": "write", "exp": time.Now().Add(time.Hour).Unix()})
		}},
	{name: "no expiry", room: "notes", code: protocol.CodeUnauthorized,
		token: func(t testing.TB, _ *docsync.Authenticator) string {
			return signed(t, jwt.SigningMethodHS256, authSecret, jwt.MapClaims{"room": "notes", "perm": "write"})
		}},
	{name: "unknown permission", room: "notes", code: protocol.CodeUnauthorized,
		token: func(t testing.TB, _ *docsync.Authenticator) string {
			return signed(t, jwt.SigningMethodHS256, authSecret,
				jwt.MapClaims{"room": "notes", "perm": "admin", "exp": time.Now().Add(time.Hour).Unix()})
		}},
	{name: "no room", room: "notes", code: protocol.CodeUnauthorized,
		token: func(t testing.TB, _ *docsync.Authenticator) string {
			return signed(t, jwt.SigningMethodHS256, authSecret,
				jwt.MapClaims{"perm": "write", "exp": time.Now().Add(time.Hour).Unix()})
		}},
	{name: "not valid yet", room: "notes", code: protocol.CodeUnauthorized,
		token: func(t testing.TB, _ *docsync.Authenticator) string {
			return signed(t, jwt.SigningMethodHS256, authSecret, jwt.MapClaims{"room": "notes", "perm": "write",
				"nbf": time.Now().Add(time.Hour).Unix(), "exp": time.Now().Add(2 * time.Hour).Unix()})
		}},
	{name: "expired", room: "notes", code: protocol.CodeTokenExpired,
		token: func(t testing.TB, _ *docsync.Authenticator) string {
			return signed(t, jwt.SigningMethodHS256, authSecret,
				jwt.MapClaims{"room": "notes", "perm": "write", "exp": time.Now().Add(-time.Minute).Unix()})
		}},
	{name: "another room", room: "secret", code: protocol.CodeForbidden,
		token: func(t testing.TB, a *docsync.Authenticator) string {
			return mint(t, a, "notes", docsync.PermWrite, time.Hour)
		}},
	{name: "write without a subject", room: "notes", code: protocol.CodeUnauthorized,
		token: func(t testing.TB, _ *docsync.Authenticator) string {
			return signed(t, jwt.SigningMethodHS256, authSecret,
				jwt.MapClaims{"room": "notes", "perm": "write", "exp": time.Now().Add(time.Hour).Unix()})
		}},
	{name: "read without a subject", room: "notes", perm: docsync.PermRead,
		token: func(t testing.TB, _ *docsync.Authenticator) string {
			return signed(t, jwt.SigningMethodHS256, authSecret,
				jwt.MapClaims{"room": "notes", "perm": "read", "exp": time.Now().Add(time.Hour).Unix()})
		}},
	{name: "a room that extends the name", room: "notes2", code: protocol.CodeForbidden,
		token: func(t testing.TB, a *docsync.Authenticator) string {
			return mint(t, a, "notes", docsync.PermWrite, time.Hour)
		}},
	{name: "prefix mismatch", room: "other-notes", code: protocol.CodeForbidden,
		token: func(t testing.TB, a *docsync.Authenticator) string {
			return mint(t, a, "team-*", docsync.PermWrite, time.Hour)
		}},
}

func TestVerify(t *testing.T) {
	a := newAuth(t, authSecret)
	for _, tt := range verifyTests {
		t.Run(tt.name, func(t *testing.T) {
			claims, err := a.Verify(tt.token(t, a), tt.room)
			if tt.code == 0 {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if claims.Perm != tt.perm || !claims.Allows(tt.room) || time.Until(claims.Expiry) <= 0 {
					t.Errorf("claims %+v, want perm %v for room %q, not expired", claims, tt.perm, tt.room)
				}
				return
			}
			var ae *docsync.AuthError
			if !errors.As(err, &ae) || ae.Code != tt.code {
				t.Fatalf("Verify: claims %+v, err %v; want an AuthError with code %d", claims, err, tt.code)
			}
		})
	}
}

// authServer starts a server that requires tokens of authSecret, and a
// witness client that holds a write token and has written "seed " into
// room.
func authServer(t *testing.T, cfg docsync.Config, room string) (*testServer, *docsync.Authenticator, *docsync.Client) {
	t.Helper()
	a := newAuth(t, authSecret)
	cfg.Auth = a
	ts := startServer(t, cfg, nil)
	opts := clientOptions()
	opts.Token = mint(t, a, room, docsync.PermWrite, time.Hour)
	witness := dial(t, ts, room, opts)
	insert(t, witness, -1, "seed ")
	waitSynced(t, witness)
	return ts, a, witness
}

// assertUnchanged checks that room's document, as the witness and the
// store see it, reads want.
func assertUnchanged(t *testing.T, ts *testServer, witness *docsync.Client, room, want string) {
	t.Helper()
	waitText(t, want, witness)
	// A last edit of the witness, once acknowledged, is stored after
	// everything the room applied before it.
	insert(t, witness, -1, "end")
	waitSynced(t, witness)
	want += "end"
	if got := witness.Text("body"); got != want {
		t.Errorf("witness reads %q, want %q", got, want)
	}
	if got := storedDoc(t, ts.st, room).Text("body").String(); got != want {
		t.Errorf("store holds %q, want %q", got, want)
	}
}

// sendHello sends a Hello with token for room.
func (c *rawClient) sendHello(room, token string) {
	c.t.Helper()
	c.send(&protocol.Hello{Version: protocol.Version, Room: room, Client: c.id, Token: token, StateVector: c.doc.StateVector().Encode()})
}

// helloWith is hello with a token.
func (c *rawClient) helloWith(room, token string) {
	c.t.Helper()
	c.sendHello(room, token)
	m := c.read()
	w, ok := m.(*protocol.Welcome)
	if !ok {
		c.t.Fatalf("after hello: got %#v, want a welcome", m)
	}
	if err := c.doc.Apply(w.Update); err != nil {
		c.t.Fatalf("welcome update: %v", err)
	}
}

// tokenURL returns the WebSocket URL of room with token as its query.
func tokenURL(ts *testServer, room, token string) string {
	return ts.url(room) + "?token=" + url.QueryEscape(token)
}

// A handshakeAuthTest presents tokens in the Hello and the URL.
type handshakeAuthTest struct {
	name  string
	room  string // the room joined; "notes" if empty
	hello func(t testing.TB, a *docsync.Authenticator) string
	query func(t testing.TB, a *docsync.Authenticator) string
	code  protocol.Code // 0: accepted
}

func tokenFor(room string, perm docsync.Permission) func(testing.TB, *docsync.Authenticator) string {
	return func(t testing.TB, a *docsync.Authenticator) string { return mint(t, a, room, perm, time.Hour) }
}

func forged(t testing.TB, _ *docsync.Authenticator) string {
	return mint(t, newAuth(t, forgerSecret), "notes", docsync.PermWrite, time.Hour)
}

func expired(t testing.TB, _ *docsync.Authenticator) string {
	return signed(t, jwt.SigningMethodHS256, authSecret,
		jwt.MapClaims{"room": "*", "perm": "write", "exp": time.Now().Add(-time.Second).Unix()})
}

var handshakeAuthTests = []handshakeAuthTest{
	{name: "no token", code: protocol.CodeUnauthorized},
	{name: "forged in the hello", hello: forged, code: protocol.CodeUnauthorized},
	{name: "forged in the URL", query: forged, code: protocol.CodeUnauthorized},
	{name: "malformed in the hello", hello: func(testing.TB, *docsync.Authenticator) string { return "garbage" }, code: protocol.CodeUnauthorized},
	{name: "expired in the hello", hello: expired, code: protocol.CodeTokenExpired},
	{name: "expired in the URL", query: expired, code: protocol.CodeTokenExpired},
	{name: "another room", hello: tokenFor("other", docsync.PermWrite), code: protocol.CodeForbidden},
	{name: "another prefix", hello: tokenFor("team-*", docsync.PermWrite), code: protocol.CodeForbidden},
	{name: "the hello's token wins over the URL's", hello: forged, query: tokenFor("notes", docsync.PermWrite), code: protocol.CodeUnauthorized},
	{name: "write token in the hello", hello: tokenFor("notes", docsync.PermWrite)},
	{name: "write token in the URL", query: tokenFor("notes", docsync.PermWrite)},
	{name: "valid hello token over a forged URL token", hello: tokenFor("notes", docsync.PermWrite), query: forged},
	{name: "prefix token", room: "team-a", hello: tokenFor("team-*", docsync.PermWrite)},
	{name: "star token", hello: tokenFor("*", docsync.PermWrite)},
}

// TestHandshakeAuth presents each token over a real socket. A refused
// client sends an Update right behind its Hello, without waiting: it must
// be closed with the documented code and its update never applied. An
// accepted one writes, and its write is acknowledged and kept.
func TestHandshakeAuth(t *testing.T) {
	for _, tt := range handshakeAuthTests {
		t.Run(tt.name, func(t *testing.T) {
			room := tt.room
			if room == "" {
				room = "notes"
			}
			ts, a, witness := authServer(t, testConfig(), room)
			var helloToken, queryToken string
			if tt.hello != nil {
				helloToken = tt.hello(t, a)
			}
			u := ts.url(room)
			if tt.query != nil {
				queryToken = tt.query(t, a)
				u = tokenURL(ts, room, queryToken)
			}
			c := dialRaw(t, u)
			if tt.code == 0 {
				c.helloWith(room, helloToken)
				c.waitAck(c.edit("body", "written "))
				assertUnchanged(t, ts, witness, room, "seed written ")
				return
			}
			c.sendHello(room, helloToken)
			if _, err := c.doc.Text("body").Insert(0, "sneaky "); err != nil {
				t.Fatal(err)
			}
			c.sendUpdates(c.doc.Diff(nil))
			c.expectClosed(tt.code)
			assertUnchanged(t, ts, witness, room, "seed ")
		})
	}
}

// A client with a read-only token receives the document, its updates and
// presence, and may share its own presence; an Update from it closes it
// with 4403 and is not applied.
func TestReadOnlyToken(t *testing.T) {
	ts, a, witness := authServer(t, testConfig(), "notes")
	viewer := dialRaw(t, ts.url("notes"))
	viewer.helloWith("notes", mint(t, a, "notes", docsync.PermRead, time.Hour))
	if got := viewer.doc.Text("body").String(); got != "seed " {
		t.Fatalf("viewer's welcome holds %q, want %q", got, "seed ")
	}
	// Updates reach the viewer.
	insert(t, witness, -1, "more ")
	for viewer.doc.Text("body").String() != "seed more " {
		m := viewer.read()
		if up, ok := m.(*protocol.Update); ok {
			for _, u := range up.Updates {
				if err := viewer.doc.Apply(u); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// The viewer's presence reaches the writer.
	viewer.send(&protocol.Presence{Entries: []protocol.PresenceEntry{{Client: viewer.id, State: []byte{0xa6, 'v', 'i', 'e', 'w', 'e', 'r'}}}})
	waitFor(t, deadline, func() error {
		if _, ok := witness.Presence()[viewer.id]; !ok {
			return errors.New("the viewer's presence has not reached the writer")
		}
		return nil
	})
	// Writing is refused, and the document stays as it was.
	seq := viewer.edit("body", "vandalism ")
	if e := viewer.expectClosed(protocol.CodeForbidden); e.Seq != seq || !strings.Contains(e.Message, "read-only") {
		t.Errorf("error %+v, want seq %d and a message about the read-only token", e, seq)
	}
	assertUnchanged(t, ts, witness, "notes", "seed more ")
}

// A session whose token expires while connected is closed with 4408 at
// expiry, and no update it sends after that is applied.
func TestTokenExpiresWhileConnected(t *testing.T) {
	t.Parallel()
	ts, a, witness := authServer(t, testConfig(), "notes")
	c := dialRaw(t, ts.url("notes"))
	// Expiry is kept in whole seconds: this token expires one to two
	// seconds from now.
	c.helloWith("notes", mint(t, a, "notes", docsync.PermWrite, 2*time.Second))
	c.waitAck(c.edit("body", "before "))
	c.expectClosed(protocol.CodeTokenExpired)
	assertUnchanged(t, ts, witness, "notes", "seed before ")
}

// A Go client with a TokenFunc asks it for a fresh token when its token
// expires, reconnects and goes on syncing; one without gives up with the
// server's 4408.
func TestClientRefreshesExpiredToken(t *testing.T) {
	t.Parallel()
	ts, a, witness := authServer(t, testConfig(), "notes")

	var calls atomic.Int32
	opts := clientOptions()
	opts.TokenFunc = func(ctx context.Context) (string, error) {
		// The first token expires within two seconds, the next ones last.
		ttl := time.Hour
		if calls.Add(1) == 1 {
			ttl = 2 * time.Second
		}
		return a.Mint("alice", "notes", docsync.PermWrite, ttl)
	}
	c := dial(t, ts, "notes", opts)
	waitFor(t, deadline, func() error {
		if n := calls.Load(); n < 2 {
			return errors.New("the client has not asked for a fresh token")
		}
		if s := c.Status(); s != docsync.StatusSynced {
			return errors.New("client is " + s.String())
		}
		return nil
	})
	insert(t, c, -1, "after refresh ")
	waitSynced(t, c)
	waitText(t, "seed after refresh ", c, witness)

	// Without a TokenFunc, the same expired token would be refused again.
	opts = clientOptions()
	opts.Token = expired(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	_, err := docsync.Dial(ctx, ts.url("notes"), opts)
	var se *docsync.ServerError
	if !errors.As(err, &se) || se.Code != protocol.CodeTokenExpired {
		t.Errorf("Dial with an expired token: %v, want a ServerError with 4408", err)
	}
}

// The Go client sends its Token in the Hello, and a TokenFunc's error
// fails Dial.
func TestClientToken(t *testing.T) {
	ts, a, witness := authServer(t, testConfig(), "notes")
	opts := clientOptions()
	opts.Token = mint(t, a, "notes", docsync.PermRead, time.Hour)
	viewer := dial(t, ts, "notes", opts)
	waitText(t, "seed ", viewer)

	opts = clientOptions()
	opts.TokenFunc = func(context.Context) (string, error) { return "", errors.New("no session cookie") }
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if _, err := docsync.Dial(ctx, ts.url("notes"), opts); err == nil || !strings.Contains(err.Error(), "no session cookie") {
		t.Errorf("Dial with a failing TokenFunc: %v", err)
	}
	opts = clientOptions()
	ctx, cancel = context.WithTimeout(context.Background(), deadline)
	defer cancel()
	_, err := docsync.Dial(ctx, ts.url("notes"), opts)
	var se *docsync.ServerError
	if !errors.As(err, &se) || se.Code != protocol.CodeUnauthorized {
		t.Errorf("Dial without a token: %v, want a ServerError with 4401", err)
	}
	assertUnchanged(t, ts, witness, "notes", "seed ")
}

// BenchmarkVerify measures the token check that every handshake of a
// server with a secret pays.
func BenchmarkVerify(b *testing.B) {
	a := newAuth(b, authSecret)
	tok := mint(b, a, "team-*", docsync.PermWrite, time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Verify(tok, "team-notes"); err != nil {
			b.Fatal(err)
		}
	}
}

// Verify returns the token's subject, the identity the server binds the
// holder's client IDs to.
func TestVerifySubject(t *testing.T) {
	a := newAuth(t, authSecret)
	for _, sub := range []string{"alice", "user:42@example.com"} {
		claims, err := a.Verify(mintAs(t, a, sub, "notes", docsync.PermWrite, time.Hour), "notes")
		if err != nil || claims.Subject != sub {
			t.Errorf("Verify of a token for %q: claims %+v, err %v", sub, claims, err)
		}
	}
	claims, err := a.Verify(mintAs(t, a, "", "notes", docsync.PermRead, time.Hour), "notes")
	if err != nil || claims.Subject != "" {
		t.Errorf("Verify of an anonymous read token: claims %+v, err %v", claims, err)
	}
}
