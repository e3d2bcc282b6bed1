package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/store"
)

// seedData writes a data file with room "notes" (text "body" typed in
// several updates, a map "meta", compacted half-way) and room "empty-log"
// (a snapshot only), and returns its path and the notes document.
func seedData(t *testing.T) (string, *crdt.Doc) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flowstate.db")
	st, err := store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	doc := crdt.NewDoc()
	for i, word := range []string{"hello", " ", "world"} {
		u, err := doc.Text("body").Insert(doc.Text("body").Len(), word)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Append("notes", u); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			if err := st.Compact("notes", doc.Snapshot()); err != nil {
				t.Fatal(err)
			}
		}
	}
	u, err := doc.Map("meta").Set("title", "Greeting")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Append("notes", u); err != nil {
		t.Fatal(err)
	}
	other := crdt.NewDoc()
	if _, err := other.Text("body").Insert(0, "quiet"); err != nil {
		t.Fatal(err)
	}
	if err := st.Compact("empty-log", other.Snapshot()); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return path, doc
}

// runCmd runs the command line args in process.
func runCmd(args ...string) (status int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	status = run(args, &out, &errOut)
	return status, out.String(), errOut.String()
}

func TestAdminRooms(t *testing.T) {
	data, _ := seedData(t)
	status, out, errOut := runCmd("rooms", "--data", data)
	if status != 0 || !strings.Contains(out, "ROOM") || !strings.Contains(out, "notes") || !strings.Contains(out, "empty-log") {
		t.Fatalf("rooms = %d, %q, %q", status, out, errOut)
	}
	status, out, _ = runCmd("rooms", "--json", "--data", data)
	var rooms []struct {
		Room          string `json:"room"`
		SnapshotBytes int    `json:"snapshot_bytes"`
		LogEntries    int    `json:"log_entries"`
		LastChange    string `json:"last_change"`
	}
	if err := json.Unmarshal([]byte(out), &rooms); status != 0 || err != nil {
		t.Fatalf("rooms --json = %d, %q: %v", status, out, err)
	}
	if len(rooms) != 2 || rooms[0].Room != "empty-log" || rooms[0].LogEntries != 0 || rooms[1].Room != "notes" ||
		rooms[1].LogEntries != 2 || rooms[1].SnapshotBytes == 0 || rooms[1].LastChange == "" {
		t.Errorf("rooms --json = %+v", rooms)
	}
}

var exportTests = []struct {
	name  string
	args  []string
	check func(t *testing.T, out string, want *crdt.Doc)
}{
	{"text", nil, func(t *testing.T, out string, _ *crdt.Doc) {
		if out != "hello world" {
			t.Errorf("text export = %q, want %q", out, "hello world")
		}
	}},
	{"json", []string{"--format", "json"}, func(t *testing.T, out string, want *crdt.Doc) {
		var got struct {
			Texts       map[string]string
			Maps        map[string]map[string]any
			StateVector map[string]uint64 `json:"state_vector"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		clock := got.StateVector[fmt.Sprint(want.ClientID())]
		if got.Texts["body"] != "hello world" || got.Maps["meta"]["title"] != "Greeting" || clock != want.Clock(want.ClientID()) {
			t.Errorf("json export = %+v", got)
		}
	}},
	{"snapshot", []string{"--format", "snapshot"}, func(t *testing.T, out string, want *crdt.Doc) {
		doc := crdt.NewDoc()
		if err := doc.Apply([]byte(out)); err != nil {
			t.Fatal(err)
		}
		if !doc.StateVector().Equal(want.StateVector()) || doc.Text("body").String() != "hello world" {
			t.Errorf("snapshot export holds %q", doc.Text("body").String())
		}
	}},
}

func TestAdminExport(t *testing.T) {
	data, doc := seedData(t)
	for _, tt := range exportTests {
		t.Run(tt.name, func(t *testing.T) {
			status, out, errOut := runCmd(append([]string{"export", "notes", "--data", data}, tt.args...)...)
			if status != 0 {
				t.Fatalf("export: %d, %s", status, errOut)
			}
			tt.check(t, out, doc)
		})
	}
	if status, _, errOut := runCmd("export", "nowhere", "--data", data); status != 1 || !strings.Contains(errOut, "not stored") {
		t.Errorf("export of a missing room = %d, %q", status, errOut)
	}
}

// seedRich writes a data file with room "rich": text "body" with a header,
// a bold link, a list and an image, and text "other", each written as the
// updates an editor would send.
func seedRich(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flowstate.db")
	st, err := store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	doc := crdt.NewDoc()
	body := doc.Text("body")
	for i, step := range []func() ([]byte, error){
		func() ([]byte, error) { return body.Insert(0, "Notes\nsee <here>\none\ntwo\n") },
		func() ([]byte, error) { return body.SetBlock(0, "header", 1) },
		func() ([]byte, error) { return body.Format(10, 6, "link", "https://e.com/?a=1&b=2") },
		func() ([]byte, error) { return body.Format(10, 6, "bold", true) },
		func() ([]byte, error) { return body.SetBlock(17, "list", "bullet") },
		func() ([]byte, error) { return body.SetBlock(21, "list", "bullet") },
		func() ([]byte, error) { return body.SetBlock(21, "indent", 1) },
		func() ([]byte, error) { return body.InsertEmbed(6, map[string]any{"image": "https://e.com/i.png"}) },
		func() ([]byte, error) { return body.Format(0, 1, "link", "javascript:alert(1)") },
		func() ([]byte, error) { return doc.Text("other").Insert(0, "x") },
	} {
		u, err := step()
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if err := st.Append("rich", u); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

var richExportTests = []struct {
	format, want string
}{
	{"html", "<h1>Notes</h1>\n<p><img src=\"https://e.com/i.png\" alt=\"\">see <a href=\"https://e.com/?a=1&amp;b=2\" rel=\"noopener noreferrer\"><strong>&lt;here&gt;</strong></a></p>\n" +
		"<ul>\n<li>one<ul>\n<li>two</li>\n</ul></li>\n</ul>\n"},
	{"markdown", "# Notes\n\n![](https://e.com/i.png)see **[\\<here\\>](https://e.com/?a=1&b=2)**\n\n- one\n    - two\n"},
	{"delta", `[{"insert":"N","attributes":{"link":"javascript:alert(1)"}},{"insert":"otes"},{"insert":"\n","attributes":{"header":1}},{"insert":{"image":"https://e.com/i.png"}},{"insert":"see "},` +
		`{"insert":"<here>","attributes":{"bold":true,"link":"https://e.com/?a=1&b=2"}},{"insert":"\none"},{"insert":"\n","attributes":{"list":"bullet"}},{"insert":"two"},{"insert":"\n","attributes":{"indent":1,"list":"bullet"}}]` + "\n"},
}

// TestAdminExportRich exports a rich text as HTML, Markdown and its delta,
// escaped, without the javascript: link on the "N" of "Notes".
func TestAdminExportRich(t *testing.T) {
	data := seedRich(t)
	for _, tt := range richExportTests {
		t.Run(tt.format, func(t *testing.T) {
			status, out, errOut := runCmd("export", "rich", "--data", data, "--format", tt.format, "--text", "body")
			if status != 0 {
				t.Fatalf("export: %d, %s", status, errOut)
			}
			if out != tt.want {
				t.Errorf("export --format %s:\n got %q\nwant %q", tt.format, out, tt.want)
			}
		})
	}
	for _, tt := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"--format", "html"}, 1, "choose one with --text"},
		{[]string{"--format", "markdown", "--text", "nope"}, 1, `no text "nope"`},
		{[]string{"--format", "text", "--text", "body"}, 2, "--text picks"},
		{[]string{"--format", "rtf"}, 2, "unknown --format"},
	} {
		status, out, errOut := runCmd(append([]string{"export", "rich", "--data", data}, tt.args...)...)
		if status != tt.code || out != "" || !strings.Contains(errOut, tt.err) {
			t.Errorf("export %v = %d, %q, %q; want %d and %q", tt.args, status, out, errOut, tt.code, tt.err)
		}
	}
	// The room's only text needs no --text.
	data, _ = seedData(t)
	if status, out, errOut := runCmd("export", "notes", "--data", data, "--format", "delta"); status != 0 || out != `[{"insert":"hello world"}]`+"\n" {
		t.Errorf("delta of a plain text = %d, %q, %q", status, out, errOut)
	}
}

func TestAdminImport(t *testing.T) {
	data, _ := seedData(t)
	dir := t.TempDir()
	other := crdt.NewDoc()
	if _, err := other.Text("body").Insert(0, "imported "); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.bin")
	bad := filepath.Join(dir, "bad.bin")
	if err := os.WriteFile(good, other.Snapshot(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("not msgpack at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(data)

	if status, _, errOut := runCmd("import", "notes", bad, "--data", data); status != 1 || !strings.Contains(errOut, "not a FlowState snapshot or update") {
		t.Fatalf("import of junk = %d, %q", status, errOut)
	}
	if after, _ := os.ReadFile(data); !bytes.Equal(before, after) {
		t.Fatal("a refused import changed the data file")
	}

	if status, _, errOut := runCmd("import", "notes", good, "--data", data); status != 0 {
		t.Fatalf("import = %d, %q", status, errOut)
	}
	_, out, _ := runCmd("export", "notes", "--data", data)
	if !strings.Contains(out, "imported ") || !strings.Contains(out, "hello world") || len(out) != len("imported hello world") {
		t.Errorf("after import the room reads %q", out)
	}
	_, out, _ = runCmd("rooms", "--json", "--data", data)
	if !strings.Contains(out, `"room": "notes"`) || strings.Count(out, `"log_entries": 0`) != 2 {
		t.Errorf("import did not store a snapshot in place of the log: %s", out)
	}
	// A new room can be created by import, too.
	if status, _, errOut := runCmd("import", "fresh", good, "--data", data); status != 0 {
		t.Fatalf("import into a new room = %d, %q", status, errOut)
	}
	if _, out, _ := runCmd("export", "fresh", "--data", data); out != "imported " {
		t.Errorf("new room reads %q", out)
	}
}

func TestAdminCompact(t *testing.T) {
	data := filepath.Join(t.TempDir(), "flowstate.db")
	st, err := store.OpenBolt(data, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	doc := crdt.NewDoc()
	want := strings.Repeat("typing one key at a time. ", 40)
	for i, r := range want {
		u, err := doc.Text("body").Insert(i, string(r))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Append("long", u); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	status, out, errOut := runCmd("compact", "--data", data)
	if status != 0 || !strings.Contains(out, "folded the logs of 1 rooms (0 skipped)") {
		t.Fatalf("compact = %d, %q, %q", status, out, errOut)
	}
	var before, after int64
	if _, err := fmt.Sscanf(out[strings.Index(out, data+": ")+len(data)+2:], "%d bytes before, %d after", &before, &after); err != nil || after >= before {
		t.Errorf("compact reported %q: want the file to shrink", out)
	}
	if _, got, _ := runCmd("export", "long", "--data", data); got != want {
		t.Errorf("after compact the room reads %q", got)
	}
	_, out, _ = runCmd("rooms", "--json", "--data", data)
	if !strings.Contains(out, `"log_entries": 0`) {
		t.Errorf("compact left a log: %s", out)
	}
}

func TestAdminBackup(t *testing.T) {
	data, _ := seedData(t)
	dir := t.TempDir()
	offline := filepath.Join(dir, "offline.db")
	if status, out, errOut := runCmd("backup", offline, "--data", data); status != 0 || !strings.Contains(out, "wrote") {
		t.Fatalf("backup = %d, %q, %q", status, out, errOut)
	}
	_, want, _ := runCmd("export", "notes", "--data", data, "--format", "json")
	if _, got, _ := runCmd("export", "notes", "--data", offline, "--format", "json"); got != want {
		t.Errorf("the offline copy exports %q, want %q", got, want)
	}

	// While a server holds the file, offline commands refuse with advice,
	// and the copy comes from the server.
	update := filepath.Join(dir, "update.bin")
	if err := os.WriteFile(update, crdt.NewDoc().Snapshot(), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenBolt(data, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, args := range [][]string{{"rooms"}, {"export", "notes"}, {"compact"}, {"import", "notes", update}} {
		status, _, errOut := runCmd(append(args, "--data", data)...)
		if status != 1 || !strings.Contains(errOut, "locked by another process") || !strings.Contains(errOut, "stop the server first") {
			t.Errorf("%v while the server runs = %d, %q", args, status, errOut)
		}
	}
	if status, _, errOut := runCmd("backup", filepath.Join(dir, "x.db"), "--data", data); status != 1 || !strings.Contains(errOut, "--url") {
		t.Errorf("offline backup while the server runs = %d, %q", status, errOut)
	}

	const adminToken = "s3cret-s3cret-s3cret-s3cret-s3cret"
	srv := httptest.NewServer(backupHandler(st, adminToken, slog.New(slog.NewTextHandler(io.Discard, nil))))
	defer srv.Close()
	for _, token := range []string{"", "wrong", adminToken[1:], adminToken[:len(adminToken)-1], strings.ToUpper(adminToken), adminToken + "2"} {
		status, _, errOut := runCmd("backup", filepath.Join(dir, "refused.db"), "--url", srv.URL, "--admin-token", token)
		if status != 1 || !strings.Contains(errOut, "401") {
			t.Errorf("backup with token %q = %d, %q", token, status, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "refused.db")); err == nil {
		t.Error("a refused backup left a file")
	}
	resp, err := http.Get(srv.URL + "/admin/backup")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %s, WWW-Authenticate %q", resp.Status, resp.Header.Get("WWW-Authenticate"))
	}

	// The scheme is case-insensitive, as in the read API; the token is not.
	for _, tt := range []struct {
		header string
		status int
	}{
		{"Bearer " + adminToken, http.StatusOK},
		{"bearer " + adminToken, http.StatusOK},
		{"BEARER " + adminToken, http.StatusOK},
		{"Basic " + adminToken, http.StatusUnauthorized},
		{"Bearer" + adminToken, http.StatusUnauthorized},
		{adminToken, http.StatusUnauthorized},
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/admin/backup", nil)
		req.Header.Set("Authorization", tt.header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("Authorization %.12q…: %s, want %d", tt.header, resp.Status, tt.status)
		}
	}

	online := filepath.Join(dir, "online.db")
	if status, _, errOut := runCmd("backup", online, "--url", srv.URL, "--admin-token", adminToken); status != 0 {
		t.Fatalf("backup --url = %d, %q", status, errOut)
	}
	if _, got, _ := runCmd("export", "notes", "--data", online, "--format", "json"); got != want {
		t.Errorf("the online copy exports %q, want %q", got, want)
	}
}

func TestAdminUsage(t *testing.T) {
	for _, args := range [][]string{{"export"}, {"export", "a", "b"}, {"import", "room"}, {"rooms", "stray"}, {"backup"}, {"export", "r", "--format", "xml"}} {
		if status, _, errOut := runCmd(args...); status != 2 || errOut == "" {
			t.Errorf("%v = %d, %q; want 2 and a message", args, status, errOut)
		}
	}
	for name := range adminCommands {
		if status, out, _ := runCmd("help", name); status != 0 || !strings.Contains(out, "flowstate "+name) {
			t.Errorf("help %s = %d, %q", name, status, out)
		}
	}
	if status, _, errOut := runCmd("rooms", "--data", ":memory:"); status != 1 || !strings.Contains(errOut, "no file") {
		t.Errorf("rooms --data :memory: = %d, %q", status, errOut)
	}
	missing := filepath.Join(t.TempDir(), "typo.db")
	for _, cmd := range []string{"rooms", "compact"} {
		if status, _, errOut := runCmd(cmd, "--data", missing); status != 1 || !strings.Contains(errOut, "no such file") {
			t.Errorf("%s of a missing file = %d, %q", cmd, status, errOut)
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("a command on a missing data file created it")
	}
}
