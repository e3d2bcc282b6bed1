package sync_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
	docsync "github.com/flowstate/flowstate/sync"
)

// crdt.Writes, which the server uses to tell whose client IDs an update
// writes under, lists the runs of records of each client and nothing of
// the delete set.
func TestCRDTWrites(t *testing.T) {
	a := crdt.NewDocWithClient(5)
	first, err := a.Text("t").Insert(0, "héllo")
	if err != nil {
		t.Fatal(err)
	}
	b := crdt.NewDocWithClient(9)
	if err := b.Apply(first); err != nil {
		t.Fatal(err)
	}
	second, err := b.Text("t").Insert(5, "!")
	if err != nil {
		t.Fatal(err)
	}
	deletion, err := b.Text("t").Delete(0, 2)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		update []byte
		want   []crdt.Run
	}{
		{"one insert", first, []crdt.Run{{Client: 5, Start: 0, End: 5}}},
		{"an insert after another client's", second, []crdt.Run{{Client: 9, Start: 0, End: 1}}},
		{"a deletion of another client's text", deletion, []crdt.Run{}},
		{"a snapshot", b.Snapshot(), []crdt.Run{{Client: 5, Start: 0, End: 5}, {Client: 9, Start: 0, End: 1}}},
		{"a diff", b.Diff(crdt.StateVector{5: 3}), []crdt.Run{{Client: 5, Start: 3, End: 5}, {Client: 9, Start: 0, End: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := crdt.Writes(tt.update)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Writes = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if _, err := crdt.Writes([]byte{0x93, 0x01}); err == nil {
		t.Error("Writes of bytes that are no update: no error")
	}
}

// ownersServer starts a server that requires tokens, on a bbolt store.
func ownersServer(t *testing.T) (*testServer, *docsync.Authenticator) {
	t.Helper()
	a := newAuth(t, authSecret)
	cfg := testConfig()
	cfg.Auth = a
	return startServerWithStore(t, cfg, openBolt(t)), a
}

// userOptions returns client options with a token of user for room.
func userOptions(t *testing.T, a *docsync.Authenticator, user, room string, perm docsync.Permission, doc *crdt.Doc) *docsync.ClientOptions {
	opts := clientOptions()
	opts.Token = mintAs(t, a, user, room, perm, time.Hour)
	opts.Doc = doc
	return opts
}

// The offline-victim forgery: a victim types, goes offline and types
// more; an attacker with a write token of its own writes under the
// victim's client ID, then tries to join under it; the victim comes
// back. The attacker is refused (4403) with nothing applied, and the
// victim's edits, online and offline, are everywhere.
func TestForgedClientIDRefused(t *testing.T) {
	ts, a := ownersServer(t)
	victimDoc := crdt.NewDoc()
	victim := dial(t, ts, "notes", userOptions(t, a, "victim", "notes", docsync.PermWrite, victimDoc))
	insert(t, victim, -1, "online. ")
	waitSynced(t, victim)
	victim.Close()
	if _, err := victimDoc.Text("body").Insert(victimDoc.Text("body").Len(), "offline."); err != nil {
		t.Fatal(err)
	}

	// Under its own ID, the attacker sends records under the victim's,
	// at the clocks the victim used offline.
	attacker := dialRaw(t, ts.url("notes"))
	attacker.helloWith("notes", mintAs(t, a, "mallory", "notes", docsync.PermWrite, time.Hour))
	forged := crdt.NewDocWithClient(victimDoc.ClientID())
	if err := forged.Apply(attacker.doc.Snapshot()); err != nil {
		t.Fatal(err)
	}
	u, err := forged.Text("body").Insert(forged.Text("body").Len(), "MALLORY")
	if err != nil {
		t.Fatal(err)
	}
	own, err := attacker.doc.Text("body").Insert(0, "mine ")
	if err != nil {
		t.Fatal(err)
	}
	e := attacker.expectClosedAfter(attacker.sendUpdates(own, u), protocol.CodeForbidden)
	if !strings.Contains(e.Message, "another user") {
		t.Errorf("4403 message %q", e.Message)
	}

	// Under the victim's ID itself, the attacker is refused at the Hello.
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	c, err := docsync.Dial(ctx, ts.url("notes"), userOptions(t, a, "mallory", "notes", docsync.PermWrite, forged))
	var se *docsync.ServerError
	if !errors.As(err, &se) || se.Code != protocol.CodeForbidden {
		if c != nil {
			c.Close()
		}
		t.Fatalf("Dial under the victim's client ID: %v, want 4403", err)
	}

	back := dial(t, ts, "notes", userOptions(t, a, "victim", "notes", docsync.PermWrite, victimDoc))
	waitSynced(t, back)
	fresh := dial(t, ts, "notes", userOptions(t, a, "", "notes", docsync.PermRead, nil))
	waitText(t, "online. offline.", back, fresh)
	if got := storedDoc(t, ts.st, "notes").Text("body").String(); got != "online. offline." {
		t.Errorf("stored body %q", got)
	}
}

// A read-only token cannot take over another user's presence: a Hello
// under the client ID of a user who wrote is refused with 4403, and one
// under the ID of a live connection of another user with 4409; the
// victims' presence stays as it was.
func TestPresenceTakeoverRefused(t *testing.T) {
	ts, a := ownersServer(t)
	observer := dial(t, ts, "notes", userOptions(t, a, "olga", "notes", docsync.PermRead, nil))
	writer := dial(t, ts, "notes", userOptions(t, a, "victim", "notes", docsync.PermWrite, nil))
	insert(t, writer, -1, "mine")
	waitSynced(t, writer)
	viewer := dial(t, ts, "notes", userOptions(t, a, "bob", "notes", docsync.PermRead, nil))
	for c, name := range map[*docsync.Client]string{writer: "victim", viewer: "bob"} {
		if err := c.SetPresence(name); err != nil {
			t.Fatal(err)
		}
	}
	want := map[uint64]any{writer.ClientID(): "victim", viewer.ClientID(): "bob"}
	waitPresence(t, observer, want)

	tests := []struct {
		name   string
		client uint64
		token  string
		code   protocol.Code
	}{
		{"a writer's ID, another user's read token", writer.ClientID(), mintAs(t, a, "mallory", "notes", docsync.PermRead, time.Hour), protocol.CodeForbidden},
		{"a writer's ID, an anonymous read token", writer.ClientID(), mintAs(t, a, "", "notes", docsync.PermRead, time.Hour), protocol.CodeForbidden},
		{"a writer's ID, another user's write token", writer.ClientID(), mintAs(t, a, "mallory", "notes", docsync.PermWrite, time.Hour), protocol.CodeForbidden},
		{"a live viewer's ID, another user's read token", viewer.ClientID(), mintAs(t, a, "mallory", "notes", docsync.PermRead, time.Hour), protocol.CodeClientIDInUse},
		{"a live viewer's ID, an anonymous read token", viewer.ClientID(), mintAs(t, a, "", "notes", docsync.PermRead, time.Hour), protocol.CodeClientIDInUse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, ts.url("notes"))
			c.id = tt.client
			c.sendHello("notes", tt.token)
			// Presence right behind the Hello, before any answer.
			c.send(&protocol.Presence{Entries: []protocol.PresenceEntry{{Client: tt.client, State: []byte{0xa6, 'm', 'a', 'l', 'l', 'o', 'r'}}}})
			c.expectClosed(tt.code)
		})
	}
	time.Sleep(50 * time.Millisecond) // a wrongful leave would be relayed by now
	waitPresence(t, observer, want)
}

// A client that reconnects before the server noticed that its old
// connection died gets in at once: a Hello of the same user under the
// same client ID replaces the old session, closed with 4410. On an open
// server every session counts as the same user; with tokens, two
// anonymous readers do not.
func TestSameClientIDReplacesOldSession(t *testing.T) {
	a := newAuth(t, authSecret)
	tests := []struct {
		name        string
		auth        bool
		first, then string // the tokens' subjects
		perm        docsync.Permission
		code        protocol.Code // for the second Hello; 0: it replaces the first
	}{
		{name: "open server", auth: false},
		{name: "same user", auth: true, first: "alice", then: "alice", perm: docsync.PermWrite},
		{name: "same user, reading", auth: true, first: "alice", then: "alice", perm: docsync.PermRead},
		{name: "another user", auth: true, first: "alice", then: "bob", perm: docsync.PermWrite, code: protocol.CodeClientIDInUse},
		{name: "anonymous readers", auth: true, first: "", then: "", perm: docsync.PermRead, code: protocol.CodeClientIDInUse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			token := func(string) string { return "" }
			if tt.auth {
				cfg.Auth = a
				token = func(sub string) string { return mintAs(t, a, sub, "notes", tt.perm, time.Hour) }
			}
			ts := startServerWithStore(t, cfg, openBolt(t))
			old := dialRaw(t, ts.url("notes"))
			old.helloWith("notes", token(tt.first))
			next := dialRaw(t, ts.url("notes"))
			next.id = old.id
			next.sendHello("notes", token(tt.then))
			if tt.code != 0 {
				next.expectClosed(tt.code)
				return
			}
			if _, ok := next.read().(*protocol.Welcome); !ok {
				t.Fatal("the second Hello got no Welcome")
			}
			e := old.expectClosed(protocol.CodeReplaced)
			if !strings.Contains(e.Message, "newer connection") {
				t.Errorf("4410 message %q", e.Message)
			}
		})
	}
}

// A client ID stays bound to the user who wrote under it across a
// restart: the binding is in the store.
func TestClientIDOwnersSurviveRestart(t *testing.T) {
	a := newAuth(t, authSecret)
	cfg := testConfig()
	cfg.Auth = a
	st := openBolt(t)
	ts := startServerWithStore(t, cfg, st)
	writer := dial(t, ts, "notes", userOptions(t, a, "victim", "notes", docsync.PermWrite, nil))
	insert(t, writer, -1, "mine")
	waitSynced(t, writer)
	id := writer.ClientID()
	writer.Close()
	if err := ts.shutdown(); err != nil {
		t.Fatal(err)
	}
	if owners, err := st.Owners("notes"); err != nil || owners[id] != "victim" {
		t.Fatalf("stored owners %v, %v; want %d bound to victim", owners, err, id)
	}

	ts = startServerWithStore(t, cfg, st)
	c := dialRaw(t, ts.url("notes"))
	c.id = id
	c.sendHello("notes", mintAs(t, a, "mallory", "notes", docsync.PermWrite, time.Hour))
	c.expectClosed(protocol.CodeForbidden)
	d := dialRaw(t, ts.url("notes"))
	d.id = id
	d.helloWith("notes", mintAs(t, a, "victim", "notes", docsync.PermWrite, time.Hour))
	d.waitAck(d.edit("body", " again"))
}

// With tokens, a member receives another user's update only once it is
// written: otherwise, should the server lose it in a crash, the member
// would send it back after reconnecting and be refused, as only its
// author may write under its client ID.
func TestAuthRelaysOnlyWrittenUpdates(t *testing.T) {
	a := newAuth(t, authSecret)
	cfg := testConfig()
	cfg.Auth = a
	fs := newFaultStore(openBolt(t), 1)
	ts := startServerWithStore(t, cfg, fs)
	writer := dial(t, ts, "notes", userOptions(t, a, "alice", "notes", docsync.PermWrite, nil))
	reader := dial(t, ts, "notes", userOptions(t, a, "bob", "notes", docsync.PermRead, nil))
	insert(t, writer, -1, "written ")
	waitText(t, "written ", reader)

	fs.set(opAppend, 1)
	insert(t, writer, -1, "held")
	waitFor(t, deadline, func() error {
		if fs.fails[opAppend].Load() == 0 {
			return errors.New("no Append failed yet")
		}
		return nil
	})
	time.Sleep(100 * time.Millisecond) // a relay would have arrived by now
	if got := reader.Text("body"); got != "written " {
		t.Errorf("a member received %q before it was written", got)
	}
	fs.heal()
	waitSynced(t, writer)
	waitText(t, "written held", reader)
}

// The first user to write under a client ID owns it, even an ID another
// client chose: a victim whose ID was written under first (by someone
// who guessed it before the victim ever wrote) is refused with 4403, and
// so learns to pick a fresh ID, rather than being told its edits are in
// when the room holds someone else's under the same clocks.
func TestFirstWriterOwnsClientID(t *testing.T) {
	ts, a := ownersServer(t)
	victimDoc := crdt.NewDoc()
	if _, err := victimDoc.Text("body").Insert(0, "offline"); err != nil {
		t.Fatal(err)
	}
	attacker := dialRaw(t, ts.url("notes"))
	attacker.helloWith("notes", mintAs(t, a, "mallory", "notes", docsync.PermWrite, time.Hour))
	forged := crdt.NewDocWithClient(victimDoc.ClientID())
	u, err := forged.Text("body").Insert(0, "MALLORY")
	if err != nil {
		t.Fatal(err)
	}
	attacker.waitAck(attacker.sendUpdates(u))

	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	c, err := docsync.Dial(ctx, ts.url("notes"), userOptions(t, a, "victim", "notes", docsync.PermWrite, victimDoc))
	var se *docsync.ServerError
	if !errors.As(err, &se) || se.Code != protocol.CodeForbidden {
		if c != nil {
			c.Close()
		}
		t.Fatalf("Dial under a client ID mallory wrote under first: %v, want 4403", err)
	}
}
