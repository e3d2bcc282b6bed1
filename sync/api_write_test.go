package sync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
	docsync "github.com/flowstate/flowstate/sync"
)

// adminToken is the admin token of the tests' servers.
const adminToken = "admin-0123456789abcdef0123456789abcdef"

// apiCall makes an HTTP request to ts and returns the status and body.
func apiCall(t testing.TB, ts *testServer, method, path, token, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+ts.addr+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// postEdits posts edits (JSON) to room and requires status.
func postEdits(t testing.TB, ts *testServer, room, token, edits string, status int) []byte {
	t.Helper()
	got, body := apiCall(t, ts, "POST", "/api/rooms/"+room+"/edits", token, "application/json", []byte(edits))
	if got != status {
		t.Fatalf("POST edits %s: status %d %s, want %d", edits, got, body, status)
	}
	return body
}

// stateVector decodes the state vector of a write's answer.
func stateVector(t testing.TB, body []byte) map[string]uint64 {
	t.Helper()
	var resp struct {
		Room        string            `json:"room"`
		StateVector map[string]uint64 `json:"state_vector"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	return resp.StateVector
}

// A binary update posted to a room is durable when the answer comes,
// reaches a connected Go client, and the answer's state vector covers it.
func TestWriteAPIUpdate(t *testing.T) {
	st := openBolt(t)
	ts := startServerWithStore(t, testConfig(), st)
	c := dial(t, ts, "notes", nil)
	src := crdt.NewDoc()
	u, err := src.Text("body").Insert(0, "from the backend")
	if err != nil {
		t.Fatal(err)
	}
	status, body := apiCall(t, ts, "POST", "/api/rooms/notes/updates", "", "application/octet-stream", u)
	if status != http.StatusOK {
		t.Fatalf("status %d %s", status, body)
	}
	if got := storedDoc(t, st, "notes").Text("body").String(); got != "from the backend" {
		t.Errorf("store holds %q when the answer came", got)
	}
	if sv := stateVector(t, body); sv[fmt.Sprint(src.ClientID())] != 16 {
		t.Errorf("state vector %v lacks the update's 16 code points", sv)
	}
	waitText(t, "from the backend", c)
}

// JSON edits apply as one transaction: a delta in code points, a replace
// as the smallest change, map sets and deletes; a connected client sees
// them, and its own position in the text survives the replace.
func TestWriteAPIEdits(t *testing.T) {
	st := openBolt(t)
	ts := startServerWithStore(t, testConfig(), st)
	c := dial(t, ts, "notes", nil)
	insert(t, c, 0, "héllo 🌍 world")
	if err := c.Edit(func(d *crdt.Doc) error {
		_, err := d.Map("meta").Set("old", true)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	waitSynced(t, c)
	body := postEdits(t, ts, "notes", "", `[
		{"text": "body", "delta": [{"retain": 8}, {"insert": "big "}, {"delete": 5}, {"insert": "planet"}]},
		{"text": "title", "replace": "Notes"},
		{"map": "meta", "set": {"n": 3, "f": 1.5, "s": "x", "l": [1, {"k": null}]}, "delete": ["old"]}
	]`, http.StatusOK)
	want := "héllo 🌍 big planet"
	waitText(t, want, c)
	d := storedDoc(t, st, "notes")
	if got := d.Text("body").String(); got != want {
		t.Errorf("store holds %q, want %q", got, want)
	}
	if got := d.Text("title").String(); got != "Notes" {
		t.Errorf("title %q", got)
	}
	m := d.Map("meta")
	if v, _ := m.Get("n"); v != int8(3) && v != int64(3) && v != uint8(3) && v != int(3) && v != uint64(3) {
		t.Errorf("meta.n = %#v, want the integer 3", v)
	}
	if _, ok := m.Get("old"); ok {
		t.Error("meta.old survived its deletion")
	}
	if len(stateVector(t, body)) != 2 {
		t.Errorf("state vector %s: want the client's and the server's", body)
	}

	// A replace changes only what differs: the client's text before it
	// keeps its items, so an insert made concurrently at the start stays
	// where it was typed.
	postEdits(t, ts, "notes", "", `[{"text": "body", "replace": "héllo 🌍 big blue planet"}]`, http.StatusOK)
	waitText(t, "héllo 🌍 big blue planet", c)
}

// textDiffTests lists texts and a replace of them, which must keep their
// common prefix and suffix, whole code points included.
var replaceTests = []struct{ before, after string }{
	{"", "new"},
	{"old", ""},
	{"same", "same"},
	{"abc", "abXc"},
	{"aa", "aaa"},
	{"🌍🌎", "🌍🌏"},
	{"x🌍y", "x🌎y"},
	{"é", "è"},
}

func TestWriteAPIReplace(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	for i, tt := range replaceTests {
		room := fmt.Sprint("replace", i)
		c := dial(t, ts, room, nil)
		if tt.before != "" {
			insert(t, c, 0, tt.before)
			waitSynced(t, c)
		}
		b, _ := json.Marshal(tt.after)
		sv := stateVector(t, postEdits(t, ts, room, "", `[{"text": "body", "replace": `+string(b)+`}]`, http.StatusOK))
		waitText(t, tt.after, c)
		// The server inserted only what differs: its client ID's clock
		// counts the code points it inserted.
		inserted := uint64(0)
		for client, clock := range sv {
			if client != fmt.Sprint(c.ClientID()) {
				inserted += clock
			}
		}
		if want := uint64(len([]rune(tt.after)) - commonEnds([]rune(tt.before), []rune(tt.after))); inserted != want {
			t.Errorf("%q → %q: the server inserted %d code points, want %d", tt.before, tt.after, inserted, want)
		}
	}
}

// commonEnds returns how many code points a and b share as prefix plus
// suffix, without overlap.
func commonEnds(a, b []rune) int {
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	return p + s
}

// badWriteTests lists bodies the write API refuses with 400 (or the
// status given), applying nothing.
var badWriteTests = []struct {
	name, method, path, contentType, body string
	status                                int
}{
	{"edits not JSON", "POST", "edits", "application/json", `[{"text":`, 400},
	{"edits not an array", "POST", "edits", "application/json", `{"text": "body"}`, 400},
	{"edits null", "POST", "edits", "application/json", `null`, 400},
	{"edits trailing data", "POST", "edits", "application/json", `[] []`, 400},
	{"unknown field", "POST", "edits", "application/json", `[{"text": "body", "replace": "x", "colour": 1}]`, 400},
	{"no type", "POST", "edits", "application/json", `[{"replace": "x"}]`, 400},
	{"text and map", "POST", "edits", "application/json", `[{"text": "a", "map": "b", "replace": "x"}]`, 400},
	{"delta and replace", "POST", "edits", "application/json", `[{"text": "body", "replace": "x", "delta": [{"insert": "y"}]}]`, 400},
	{"neither delta nor replace", "POST", "edits", "application/json", `[{"text": "body"}]`, 400},
	{"retain zero", "POST", "edits", "application/json", `[{"text": "body", "delta": [{"retain": 0}]}]`, 400},
	{"negative delete", "POST", "edits", "application/json", `[{"text": "body", "delta": [{"delete": -1}]}]`, 400},
	{"empty insert", "POST", "edits", "application/json", `[{"text": "body", "delta": [{"insert": ""}]}]`, 400},
	{"two ops in one", "POST", "edits", "application/json", `[{"text": "body", "delta": [{"retain": 1, "insert": "x"}]}]`, 400},
	{"retain past the end", "POST", "edits", "application/json", `[{"text": "body", "delta": [{"retain": 6}, {"insert": "x"}]}]`, 400},
	{"delete past the end", "POST", "edits", "application/json", `[{"text": "body", "delta": [{"retain": 2}, {"delete": 4}]}]`, 400},
	{"retains that wrap around", "POST", "edits", "application/json", `[{"text": "body", "delta": [{"retain": 9223372036854775807}, {"retain": 9223372036854775807}, {"insert": "x"}]}]`, 400},
	{"second edit bad", "POST", "edits", "application/json", `[{"text": "body", "delta": [{"insert": "ok"}]}, {"text": "body", "delta": [{"retain": 99}]}]`, 400},
	{"map set and delete one key", "POST", "edits", "application/json", `[{"map": "m", "set": {"k": 1}, "delete": ["k"]}]`, 400},
	{"map empty", "POST", "edits", "application/json", `[{"map": "m"}]`, 400},
	{"map with replace", "POST", "edits", "application/json", `[{"map": "m", "replace": "x"}]`, 400},
	{"edits as text/plain", "POST", "edits", "text/plain", `[]`, 415},
	{"update garbage", "POST", "updates", "application/octet-stream", "\x93\x01\x02", 400},
	{"update empty", "POST", "updates", "application/octet-stream", "", 400},
	{"update as JSON", "POST", "updates", "application/json", `{}`, 415},
	{"create unknown field", "PUT", "", "application/json", `{"text": {"body": "x"}}`, 400},
	{"create not JSON", "PUT", "", "application/json", `{`, 400},
	{"create garbage snapshot", "PUT", "", "application/octet-stream", "garbage", 400},
	{"create with deltas", "PUT", "", "application/json", `{"texts": {"body": "x"}, "deltas": {"body": [{"insert": "x", "attributes": {"bold": true}}]}}`, 400},
}

func TestWriteAPIBadBodies(t *testing.T) {
	st := openBolt(t)
	ts := startServerWithStore(t, testConfig(), st)
	c := dial(t, ts, "notes", nil)
	insert(t, c, 0, "hello")
	waitSynced(t, c)
	for _, tt := range badWriteTests {
		t.Run(tt.name, func(t *testing.T) {
			room := "notes"
			if tt.method == "PUT" {
				room = "fresh"
			}
			path := "/api/rooms/" + room
			if tt.path != "" {
				path += "/" + tt.path
			}
			status, body := apiCall(t, ts, tt.method, path, "", tt.contentType, []byte(tt.body))
			var e struct{ Error string }
			if status != tt.status || json.Unmarshal(body, &e) != nil || e.Error == "" {
				t.Fatalf("status %d %s, want %d with a JSON error", status, body, tt.status)
			}
		})
	}
	assertUnchanged(t, ts, c, "notes", "hello")
	if c, err := ts.srv.Hub().Content(context.Background(), "fresh"); err == nil && (len(c.Texts) > 0 || len(c.StateVector) > 0) {
		t.Errorf("a refused PUT left content: %+v", c)
	}
	if snap, updates, err := st.Load("fresh"); err != nil || snap != nil || len(updates) > 0 {
		t.Errorf("a refused PUT stored something: %d bytes, %d updates, %v", len(snap), len(updates), err)
	}
}

// A body over the message size limit is refused with 413.
func TestWriteAPIBodyTooBig(t *testing.T) {
	cfg := testConfig()
	cfg.MaxMessageSize = 1 << 10
	ts := startServer(t, cfg, nil)
	big := `[{"text": "body", "replace": "` + strings.Repeat("x", 2<<10) + `"}]`
	if status, body := apiCall(t, ts, "POST", "/api/rooms/notes/edits", "", "application/json", []byte(big)); status != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d %s, want 413", status, body)
	}
}

// The write API takes a write token for the room: none or a forged one
// gets 401, a read token or one of another room 403; nothing is applied.
// The API's edits are bound to the token's subject, so another user
// cannot write under the client ID they were made with.
func TestWriteAPITokens(t *testing.T) {
	ts, a, witness := authServer(t, testConfig(), "notes")
	edit := `[{"text": "body", "delta": [{"insert": "api "}]}]`
	forged := mint(t, newAuth(t, forgerSecret), "notes", docsync.PermWrite, time.Hour)
	for _, tt := range []struct {
		name, token string
		status      int
	}{
		{"none", "", 401},
		{"forged", forged, 401},
		{"read", mint(t, a, "notes", docsync.PermRead, time.Hour), 403},
		{"other room", mint(t, a, "other", docsync.PermWrite, time.Hour), 403},
	} {
		postEdits(t, ts, "notes", tt.token, edit, tt.status)
	}
	assertUnchanged(t, ts, witness, "notes", "seed ")

	body := postEdits(t, ts, "notes", mintAs(t, a, "bob", "notes", docsync.PermWrite, time.Hour), edit, http.StatusOK)
	waitText(t, "api seed end", witness)
	// The server's client ID of Bob's edit is Bob's: Alice's update
	// under it is refused.
	var apiID uint64
	for client := range stateVector(t, body) {
		if client != fmt.Sprint(witness.ClientID()) {
			fmt.Sscan(client, &apiID)
		}
	}
	d := crdt.NewDoc()
	var snap []byte
	witness.Read(func(doc *crdt.Doc) { snap = doc.Snapshot() })
	if err := d.Apply(snap); err != nil {
		t.Fatal(err)
	}
	if err := d.ResumeClientID(crdt.ClientID(apiID)); err != nil {
		t.Fatal(err)
	}
	u, err := d.Text("body").Insert(0, "forged ")
	if err != nil {
		t.Fatal(err)
	}
	status, resp := apiCall(t, ts, "POST", "/api/rooms/notes/updates", mint(t, a, "notes", docsync.PermWrite, time.Hour), "", u)
	if status != http.StatusForbidden {
		t.Errorf("Alice's update under Bob's API client ID: status %d %s, want 403", status, resp)
	}
}

// PUT creates a room from JSON content or a snapshot, once: a room with
// content answers 409 and is unchanged.
func TestWriteAPICreate(t *testing.T) {
	st := openBolt(t)
	ts := startServerWithStore(t, testConfig(), st)
	status, body := apiCall(t, ts, "PUT", "/api/rooms/doc1", "", "application/json",
		[]byte(`{"texts": {"body": "template text", "title": "T"}, "maps": {"meta": {"lang": "en"}}}`))
	if status != http.StatusCreated {
		t.Fatalf("PUT: %d %s", status, body)
	}
	d := storedDoc(t, st, "doc1")
	if d.Text("body").String() != "template text" || d.Text("title").String() != "T" {
		t.Errorf("stored texts %q %q", d.Text("body").String(), d.Text("title").String())
	}
	if v, _ := d.Map("meta").Get("lang"); v != "en" {
		t.Errorf("meta.lang = %v", v)
	}
	if status, body := apiCall(t, ts, "PUT", "/api/rooms/doc1", "", "application/json", []byte(`{"texts": {"body": "again"}}`)); status != http.StatusConflict {
		t.Errorf("second PUT: %d %s, want 409", status, body)
	}
	// The content of GET takes the same shape back.
	_, got := apiCall(t, ts, "GET", "/api/rooms/doc1", "", "", nil)
	if status, body := apiCall(t, ts, "PUT", "/api/rooms/doc2", "", "application/json", got); status != http.StatusCreated {
		t.Errorf("PUT of GET's content: %d %s", status, body)
	}
	// A snapshot.
	status, body = apiCall(t, ts, "PUT", "/api/rooms/doc3", "", "application/octet-stream", d.Snapshot())
	if status != http.StatusCreated {
		t.Fatalf("PUT snapshot: %d %s", status, body)
	}
	c := dial(t, ts, "doc3", nil)
	if got := c.Text("body"); got != "template text" {
		t.Errorf("doc3 reads %q", got)
	}
}

// DELETE takes the admin token, removes the room and its history, closes
// its members with 4404 and tells OnDelete; a later join finds it empty.
func TestWriteAPIDelete(t *testing.T) {
	var deleted []string
	var mu stdsync.Mutex
	cfg := testConfig()
	cfg.AdminToken = adminToken
	cfg.Hooks.OnDelete = func(room string) {
		mu.Lock()
		deleted = append(deleted, room)
		mu.Unlock()
	}
	st := openBolt(t)
	ts := startServerWithStore(t, cfg, st)
	member := joinRaw(t, ts, "notes")
	member.waitAck(member.edit("body", "doomed"))
	for _, tok := range []string{"", "wrong-0123456789abcdef0123456789abcdef"} {
		if status, _ := apiCall(t, ts, "DELETE", "/api/rooms/notes", tok, "", nil); status != http.StatusUnauthorized {
			t.Errorf("DELETE with token %q: %d, want 401", tok, status)
		}
	}
	if status, body := apiCall(t, ts, "DELETE", "/api/rooms/notes", adminToken, "", nil); status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", status, body)
	}
	member.expectClosed(protocol.CodeRoomDeleted)
	if snap, updates, err := st.Load("notes"); err != nil || snap != nil || len(updates) != 0 {
		t.Errorf("store still holds the room: %d bytes, %d updates, %v", len(snap), len(updates), err)
	}
	if status, _ := apiCall(t, ts, "GET", "/api/rooms/notes", "", "", nil); status != http.StatusNotFound {
		t.Errorf("GET after DELETE: %d, want 404", status)
	}
	if status, _ := apiCall(t, ts, "DELETE", "/api/rooms/notes", adminToken, "", nil); status != http.StatusNotFound {
		t.Errorf("second DELETE: %d, want 404", status)
	}
	c := dial(t, ts, "notes", nil)
	if got := c.Text("body"); got != "" {
		t.Errorf("a join after the deletion reads %q", got)
	}
	waitFor(t, deadline, func() error {
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(deleted, []string{"notes"}) {
			return fmt.Errorf("OnDelete heard %q", deleted)
		}
		return nil
	})

	// Without an admin token, deleting is disabled.
	ts2 := startServer(t, testConfig(), nil)
	if status, _ := apiCall(t, ts2, "DELETE", "/api/rooms/notes", adminToken, "", nil); status != http.StatusForbidden {
		t.Errorf("DELETE on a server without an admin token: %d, want 403", status)
	}
}

// API writes from concurrent HTTP clients and WebSocket editors converge:
// every character of each ends up in every replica and the store.
func TestWriteAPIConcurrentWithEditors(t *testing.T) {
	st := openBolt(t)
	ts := startServerWithStore(t, testConfig(), st)
	editors := []*docsync.Client{dial(t, ts, "notes", nil), dial(t, ts, "notes", nil)}
	const writers, perWriter = 5, 20
	var wg stdsync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWriter {
				status, body := apiCall(t, ts, "POST", "/api/rooms/notes/edits", "", "application/json",
					[]byte(fmt.Sprintf(`[{"text": "body", "delta": [{"insert": "%c"}]}]`, 'a'+w)))
				if status != http.StatusOK {
					t.Errorf("POST: %d %s", status, body)
					return
				}
			}
		}()
	}
	for i, e := range editors {
		for range perWriter {
			insert(t, e, 0, fmt.Sprint(i))
		}
	}
	wg.Wait()
	for _, e := range editors {
		waitSynced(t, e)
	}
	// The last API writes are durable, and on their way to the editors.
	want := (writers + len(editors)) * perWriter
	waitFor(t, deadline, func() error {
		for i, e := range editors {
			if n := len(e.Text("body")); n != want {
				return fmt.Errorf("editor %d holds %d characters, want %d", i, n, want)
			}
		}
		return nil
	})
	text := waitConverged(t, editors...)
	if len(text) != want {
		t.Fatalf("converged text has %d characters, want %d: %q", len(text), (writers+len(editors))*perWriter, text)
	}
	for w := range writers {
		if n := strings.Count(text, string(rune('a'+w))); n != perWriter {
			t.Errorf("writer %d: %d characters, want %d", w, n, perWriter)
		}
	}
	if got := storedDoc(t, st, "notes").Text("body").String(); got != text {
		t.Errorf("store holds %q, clients %q", got, text)
	}
}

// A page of another site cannot write into an open server through the
// browser of someone who can reach it: a POST with a foreign Origin is
// refused (403), as its WebSocket would be, even without a Content-Type
// (a "simple" request, which browsers send without asking first).
func TestWriteAPIRefusesForeignOrigins(t *testing.T) {
	cfg := testConfig()
	cfg.AdminToken = adminToken
	ts := startServer(t, cfg, nil)
	u, err := crdt.NewDoc().Text("body").Insert(0, "from evil.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ method, path, origin string }{
		{"POST", "/api/rooms/notes/updates", "https://evil.example"},
		{"POST", "/api/rooms/notes/edits", "http://evil.example:8080"},
		{"PUT", "/api/rooms/notes", "null"},
		{"DELETE", "/api/rooms/notes", "https://evil.example"},
	} {
		req, err := http.NewRequest(tt.method, "http://"+ts.addr+tt.path, bytes.NewReader(u))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", tt.origin)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s %s from %s: %d, want 403", tt.method, tt.path, tt.origin, resp.StatusCode)
		}
	}
	// The server's own origin may write.
	req, _ := http.NewRequest("POST", "http://"+ts.addr+"/api/rooms/notes/updates", bytes.NewReader(u))
	req.Header.Set("Origin", "http://"+ts.addr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("own origin: %d, want 200", resp.StatusCode)
	}
	c, err := ts.srv.Hub().Content(context.Background(), "notes")
	if err != nil || c.Texts["body"] != "from evil.example" {
		t.Errorf("content %+v %v: want only the own origin's write", c, err)
	}
}

// The write API's answers are counted by operation and status.
func TestWriteAPIMetrics(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	postEdits(t, ts, "notes", "", `[{"text": "body", "delta": [{"insert": "x"}]}]`, http.StatusOK)
	postEdits(t, ts, "notes", "", `[{"text": "body", "delta": [{"retain": 9}]}]`, http.StatusBadRequest)
	_, body := apiCall(t, ts, "GET", "/metrics", "", "", nil)
	for _, want := range []string{
		`flowstate_api_writes_total{op="edits",status="200"} 1`,
		`flowstate_api_writes_total{op="edits",status="400"} 1`,
		`flowstate_api_write_seconds_count{op="edits"} 2`,
		`flowstate_api_write_seconds_count{op="delete"} 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
