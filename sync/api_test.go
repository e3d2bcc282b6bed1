package sync_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
	"github.com/flowstate/flowstate/store"
	docsync "github.com/flowstate/flowstate/sync"
)

// getJSON fetches url with header and decodes a JSON body into v.
func getJSON(t testing.TB, url string, header http.Header, v any) int {
	t.Helper()
	status, ctype, body := get(t, url, header)
	if ctype != "application/json" {
		t.Fatalf("GET %s: Content-Type %q, want application/json (%d %s)", url, ctype, status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
	return status
}

// apiError is the JSON body of an API error.
type apiError struct {
	Error string `json:"error"`
	Code  int    `json:"code"`
}

// storeDoc appends the updates that build a document to st under room,
// as if a session had written it and the room had closed, and returns the
// document.
func storeDoc(t testing.TB, st store.Store, room, body, title string) *crdt.Doc {
	t.Helper()
	d := crdt.NewDoc()
	u1, err := d.Text("body").Insert(0, body)
	if err != nil {
		t.Fatal(err)
	}
	u2, err := d.Map("meta").Set("title", title)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Append(room, u1, u2); err != nil {
		t.Fatal(err)
	}
	return d
}

// wantContent checks a RoomContent against a document's texts, its map
// "meta" and its state vector.
func wantContent(t testing.TB, got docsync.RoomContent, room string, open bool, d *crdt.Doc) {
	t.Helper()
	if got.Room != room || got.Open != open {
		t.Errorf("room %q open %v, want %q open %v", got.Room, got.Open, room, open)
	}
	for _, name := range d.TextNames() {
		if want := d.Text(name).String(); got.Texts[name] != want {
			t.Errorf("texts[%q] = %q, want %q", name, got.Texts[name], want)
		}
	}
	if len(got.Texts) != len(d.TextNames()) {
		t.Errorf("texts %v, want %d of them", got.Texts, len(d.TextNames()))
	}
	want, _ := d.Map("meta").Get("title")
	if got.Maps["meta"]["title"] != want {
		t.Errorf("maps[meta][title] = %#v, want %#v", got.Maps["meta"]["title"], want)
	}
	sv := d.StateVector()
	if len(got.StateVector) != len(sv) {
		t.Errorf("state vector %v, want %v", got.StateVector, sv)
	}
	for client, clock := range sv {
		if k := got.StateVector[strconv.FormatUint(uint64(client), 10)]; k != clock {
			t.Errorf("state_vector[%d] = %d, want %d", client, k, clock)
		}
	}
}

// GET /api/rooms/{room} reads an open room from its goroutine, with what
// its clients wrote, and a closed one from the store without opening it.
func TestAPIRoomContent(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	base := "http://" + ts.addr + "/api/rooms/"

	c := dial(t, ts, "live", nil)
	other := dial(t, ts, "live", nil)
	insert(t, c, -1, "héllo 👋 ")
	insert(t, other, -1, "world")
	if err := c.Edit(func(d *crdt.Doc) error {
		_, err := d.Map("meta").Set("title", "Greeting")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	waitSynced(t, c)
	waitSynced(t, other)
	waitConverged(t, c, other)
	var mine *crdt.Doc
	c.Read(func(d *crdt.Doc) {
		mine = crdt.NewDoc()
		if err := mine.Apply(d.Snapshot()); err != nil {
			t.Fatal(err)
		}
	})

	var live docsync.RoomContent
	if status := getJSON(t, base+"live", nil, &live); status != http.StatusOK {
		t.Fatalf("GET live room: %d", status)
	}
	wantContent(t, live, "live", true, mine)

	// Once its members leave, the room closes, and the same request reads
	// the store, without opening the room again.
	c.Close()
	other.Close()
	waitFor(t, deadline, func() error {
		if st := ts.srv.Hub().Stats(); st.Rooms != 0 {
			return fmt.Errorf("%d rooms open", st.Rooms)
		}
		return nil
	})
	var stored docsync.RoomContent
	if status := getJSON(t, base+"live", nil, &stored); status != http.StatusOK {
		t.Fatalf("GET stored room: %d", status)
	}
	wantContent(t, stored, "live", false, mine)
	if st := ts.srv.Hub().Stats(); st.Rooms != 0 {
		t.Errorf("reading a stored room opened it: %+v", st)
	}
}

// A room only in the store, never opened since the server started, is
// read from the store.
func TestAPIStoredOnlyRoom(t *testing.T) {
	st := store.NewMemory()
	d := storeDoc(t, st, "archived", "kept on disk", "Old")
	ts := startServer(t, testConfig(), st)
	var got docsync.RoomContent
	if status := getJSON(t, "http://"+ts.addr+"/api/rooms/archived", nil, &got); status != http.StatusOK {
		t.Fatalf("GET: %d", status)
	}
	wantContent(t, got, "archived", false, d)
	if n := ts.srv.Hub().Stats().Rooms; n != 0 {
		t.Errorf("%d rooms open after the read, want 0", n)
	}
}

var apiErrorTests = []struct {
	path   string
	status int
	text   string // in the error
}{
	{"/api/rooms/nowhere", http.StatusNotFound, "does not exist"},
	{"/api/rooms/no%20spaces", http.StatusBadRequest, "invalid room name"},
	{"/api/rooms/" + strings.Repeat("x", protocol.MaxRoomBytes+1), http.StatusBadRequest, "invalid room name"},
	{"/api/rooms/%C3%A9", http.StatusBadRequest, "invalid room name"},
}

func TestAPIErrors(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	for _, tt := range apiErrorTests {
		t.Run(tt.path[:min(len(tt.path), 40)], func(t *testing.T) {
			var e apiError
			status := getJSON(t, "http://"+ts.addr+tt.path, nil, &e)
			if status != tt.status || !strings.Contains(e.Error, tt.text) {
				t.Errorf("GET %s = %d %q, want %d and %q", tt.path, status, e.Error, tt.status, tt.text)
			}
		})
	}
}

// GET /api/rooms lists stored and open rooms, with the members of the
// open ones.
func TestAPIRoomList(t *testing.T) {
	st := store.NewMemory()
	storeDoc(t, st, "archived", "kept on disk", "Old")
	ts := startServer(t, testConfig(), st)
	a := dial(t, ts, "busy", nil)
	dial(t, ts, "busy", nil)
	insert(t, a, -1, "typing")
	waitSynced(t, a)

	var list docsync.RoomList
	if status := getJSON(t, "http://"+ts.addr+"/api/rooms", nil, &list); status != http.StatusOK {
		t.Fatalf("GET /api/rooms: %d", status)
	}
	if len(list.Rooms) != 2 {
		t.Fatalf("rooms %+v, want archived and busy", list.Rooms)
	}
	archived, busy := list.Rooms[0], list.Rooms[1]
	if archived.Room != "archived" || archived.Open || archived.Members != 0 || archived.LogEntries != 2 || archived.LogBytes == 0 || archived.LastChange == nil {
		t.Errorf("archived: %+v", archived)
	}
	if busy.Room != "busy" || !busy.Open || busy.Members != 2 || busy.LogEntries != 1 {
		t.Errorf("busy: %+v", busy)
	}
}

// testSecret signs the tokens of the auth tests.
var testSecret = []byte("0123456789abcdef0123456789abcdef")

// jwtWith signs claims with secret, as a token issuer would.
func jwtWith(t testing.TB, secret []byte, room, perm string, exp time.Time) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"room": room, "perm": perm, "sub": "api-user", "exp": exp.Unix()}).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// With Config.Auth set, the API takes the bearer tokens the WebSocket
// takes, and listing rooms takes a token for every room.
func TestAPIAuth(t *testing.T) {
	auth, err := docsync.NewAuthenticator(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	st := store.NewMemory()
	storeDoc(t, st, "secret", "for readers only", "Private")
	cfg := testConfig()
	cfg.Auth = auth
	ts := startServer(t, cfg, st)

	hour := time.Now().Add(time.Hour)
	tests := []struct {
		name   string
		path   string
		header string // Authorization
		status int
		code   int // the protocol code in the error
	}{
		{"no token", "/api/rooms/secret", "", http.StatusUnauthorized, 4401},
		{"not bearer", "/api/rooms/secret", "Basic " + jwtWith(t, testSecret, "secret", "read", hour), http.StatusUnauthorized, 4401},
		{"forged", "/api/rooms/secret", "Bearer " + jwtWith(t, []byte("another secret, just as long!!!!"), "secret", "read", hour), http.StatusUnauthorized, 4401},
		{"expired", "/api/rooms/secret", "Bearer " + jwtWith(t, testSecret, "secret", "read", time.Now().Add(-time.Minute)), http.StatusUnauthorized, 4408},
		{"other room", "/api/rooms/secret", "Bearer " + jwtWith(t, testSecret, "public", "read", hour), http.StatusForbidden, 4403},
		{"read", "/api/rooms/secret", "Bearer " + jwtWith(t, testSecret, "secret", "read", hour), http.StatusOK, 0},
		{"write", "/api/rooms/secret", "bearer " + jwtWith(t, testSecret, "secret", "write", hour), http.StatusOK, 0},
		{"prefix", "/api/rooms/secret", "Bearer " + jwtWith(t, testSecret, "sec*", "read", hour), http.StatusOK, 0},
		{"list without token", "/api/rooms", "", http.StatusUnauthorized, 4401},
		{"list with a room's token", "/api/rooms", "Bearer " + jwtWith(t, testSecret, "secret", "read", hour), http.StatusForbidden, 4403},
		{"list with a prefix token", "/api/rooms", "Bearer " + jwtWith(t, testSecret, "sec*", "read", hour), http.StatusForbidden, 4403},
		{"list with an every-room token", "/api/rooms", "Bearer " + jwtWith(t, testSecret, "*", "read", hour), http.StatusOK, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := http.Header{}
			if tt.header != "" {
				header.Set("Authorization", tt.header)
			}
			status, ctype, body := get(t, "http://"+ts.addr+tt.path, header)
			if status != tt.status {
				t.Fatalf("GET %s = %d %s, want %d", tt.path, status, body, tt.status)
			}
			if ctype != "application/json" {
				t.Errorf("Content-Type %q", ctype)
			}
			if tt.status == http.StatusOK {
				if !strings.Contains(string(body), "secret") {
					t.Errorf("body %s lacks the room", body)
				}
				return
			}
			var e apiError
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatal(err)
			}
			if e.Code != tt.code || e.Error == "" {
				t.Errorf("error %+v, want code %d and a reason", e, tt.code)
			}
			if strings.Contains(string(body), "for readers only") {
				t.Error("a refused request got the document")
			}
		})
	}
}
