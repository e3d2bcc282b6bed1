package sync_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/store"
)

// roomJSON fetches GET /api/rooms/{room} and returns its keys undecoded.
func roomJSON(t *testing.T, ts *testServer, room string) map[string]json.RawMessage {
	t.Helper()
	var body map[string]json.RawMessage
	if status := getJSON(t, "http://"+ts.addr+"/api/rooms/"+room, nil, &body); status != http.StatusOK {
		t.Fatalf("GET %s: %d", room, status)
	}
	return body
}

// TestAPIRichDeltas: GET /api/rooms/{room} carries the delta of every text
// of a room holding rich text, formatting, block attributes and embeds
// included, read from the open room and from the store alike; a plain
// room's answer has no deltas.
func TestAPIRichDeltas(t *testing.T) {
	st := store.NewMemory()
	ts := startServer(t, testConfig(), st)
	c := dial(t, ts, "rich", nil)
	insert(t, c, 0, "Title\nhi <b>\n")
	if err := c.Edit(func(d *crdt.Doc) error {
		if _, err := d.Text("notes").Insert(0, "plain"); err != nil {
			return err
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitSynced(t, c)
	if _, ok := roomJSON(t, ts, "rich")["deltas"]; ok {
		t.Fatal("a plain room's content has deltas")
	}
	if err := c.Edit(func(d *crdt.Doc) error {
		tx := d.Text("body")
		for _, step := range []func() ([]byte, error){
			func() ([]byte, error) { return tx.SetBlock(0, "header", 1) },
			func() ([]byte, error) { return tx.Format(6, 2, "bold", true) },
			func() ([]byte, error) { return tx.InsertEmbed(9, map[string]any{"image": "https://e.com/i.png"}) },
		} {
			if _, err := step(); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitSynced(t, c)
	const want = `{"body":[{"insert":"Title"},{"insert":"\n","attributes":{"header":1}},{"insert":"hi","attributes":{"bold":true}},{"insert":" "},` +
		`{"insert":{"image":"https://e.com/i.png"}},{"insert":"\u003cb\u003e\n"}],"notes":[{"insert":"plain"}]}`
	check := func(where string) {
		body := roomJSON(t, ts, "rich")
		if got := string(body["deltas"]); got != want {
			t.Errorf("%s: deltas\n got %s\nwant %s", where, got, want)
		}
		var texts map[string]string
		if err := json.Unmarshal(body["texts"], &texts); err != nil || texts["body"] != "Title\nhi \uFFFC<b>\n" {
			t.Errorf("%s: texts %v (%v)", where, texts, err)
		}
	}
	check("open room")
	c.Close()
	waitFor(t, deadline, func() error {
		if n := ts.srv.Hub().Stats().Rooms; n != 0 {
			return fmt.Errorf("%d rooms open", n)
		}
		return nil
	})
	check("stored room")

	// The content of a rich room cannot be written back as JSON, which
	// would drop its formatting.
	status, body := apiCall(t, ts, "PUT", "/api/rooms/copy", "", "application/json", []byte(`{"texts":{"body":"x"},"deltas":`+want+`}`))
	if status != http.StatusBadRequest || !strings.Contains(string(body), "snapshot") {
		t.Fatalf("PUT of rich content: %d %s", status, body)
	}
}
