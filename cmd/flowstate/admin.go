package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
	"github.com/flowstate/flowstate/store"
	"github.com/flowstate/flowstate/store/jsstore"
	docsync "github.com/flowstate/flowstate/sync"
	"github.com/flowstate/flowstate/sync/richexport"
)

// memoryData is the --data value that keeps documents in memory only.
const memoryData = ":memory:"

const adminUsageText = `Usage:

	flowstate rooms [--data FILE | --nats URLS] [--json]
	flowstate export ROOM [--data FILE | --nats URLS] [--format text|json|snapshot|html|markdown|delta] [--text NAME]
	flowstate import ROOM FILE [--data FILE | --nats URLS]
	flowstate compact [--data FILE]
	flowstate backup FILE [--data FILE | --url http://HOST:PORT --admin-token TOKEN | --nats URLS]
	flowstate migrate --from FILE --nats URLS

These commands read the data file directly, so the server must be stopped,
except for backup with --url, which asks the running server for a copy.
With --nats, rooms, export, import and backup work on a cluster's rooms
while its servers run (backup writes them into a new data file); migrate
copies a data file's rooms into a cluster.
import takes what export --format snapshot writes (or any update); the
text and JSON exports are for people and scripts, and cannot be imported.
html, markdown and delta export one text with its formatting (--text
picks it when the room holds several), escaped for safe display.
Every flag can also be set by the environment variable named after it.
`

// dataFlag registers --data, as serve does.
func dataFlag(fs *flag.FlagSet, data *string) {
	fs.StringVar(data, "data", envOr("FLOWSTATE_DATA", "./flowstate.db"), "data `file` (FLOWSTATE_DATA)")
}

// newAdminFlagSet returns the flag set of an admin command; usage is its
// first line of help.
func newAdminFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage:\n\n\t%s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseAdmin parses args, allowing flags after the positional arguments,
// and checks that exactly nargs remain. It returns the positional
// arguments, or false and the exit status.
func parseAdmin(fs *flag.FlagSet, args []string, nargs int, stderr io.Writer) ([]string, int, bool) {
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil, 0, false
	}
	if err != nil {
		return nil, 2, false
	}
	if len(pos) != nargs {
		fmt.Fprintf(stderr, "flowstate %s: want %d argument(s), got %d\n", fs.Name(), nargs, len(pos))
		fs.Usage()
		return nil, 2, false
	}
	return pos, 0, true
}

// openData opens the data file for an offline command; only import may
// create it. A file held by a running server gets a message that says
// what to do instead.
func openData(path string, readOnly, create bool) (*store.Bolt, error) {
	if path == memoryData {
		return nil, errors.New("--data :memory: has no file to read")
	}
	if !create {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("data file: %w", err)
		}
	}
	st, err := store.OpenBolt(path, store.BoltOptions{ReadOnly: readOnly})
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("%w; stop the server first", err)
	}
	return st, err
}

// fail prints a command's error and returns exit status 1.
func fail(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "flowstate %s: %v\n", cmd, err)
	return 1
}

// runRooms lists the stored rooms.
func runRooms(args []string, stdout, stderr io.Writer) int {
	var data, urls string
	var asJSON bool
	fs := newAdminFlagSet("rooms", "flowstate rooms [--data FILE | --nats URLS] [--json]\n\n"+
		"With --nats, LOG ENTRIES counts the log messages the cluster still\n"+
		"holds, those a recent compaction folded in included, and LOG BYTES is 0.", stderr)
	dataFlag(fs, &data)
	natsFlag(fs, &urls)
	fs.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	if _, status, ok := parseAdmin(fs, args, 0, stderr); !ok {
		return status
	}
	st, closeSt, err := openAdminStore(data, urls, false)
	if err != nil {
		return fail(stderr, "rooms", err)
	}
	defer closeSt()
	rooms, err := st.Rooms()
	if err != nil {
		return fail(stderr, "rooms", err)
	}
	if asJSON {
		type room struct {
			Room          string    `json:"room"` // as in GET /api/rooms
			SnapshotBytes int       `json:"snapshot_bytes"`
			LogEntries    int       `json:"log_entries"`
			LogBytes      int       `json:"log_bytes"`
			LastChange    time.Time `json:"last_change"`
		}
		out := make([]room, len(rooms))
		for i, r := range rooms {
			out[i] = room{r.Name, r.SnapshotBytes, r.LogEntries, r.LogBytes, r.LastChange}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fail(stderr, "rooms", err)
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ROOM\tSNAPSHOT BYTES\tLOG ENTRIES\tLOG BYTES\tLAST CHANGE\t")
	for _, r := range rooms {
		last := "-"
		if !r.LastChange.IsZero() {
			last = r.LastChange.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t\n", r.Name, r.SnapshotBytes, r.LogEntries, r.LogBytes, last)
	}
	return exitOn(stderr, "rooms", tw.Flush())
}

// exitOn returns 0, or prints err and returns 1.
func exitOn(stderr io.Writer, cmd string, err error) int {
	if err != nil {
		return fail(stderr, cmd, err)
	}
	return 0
}

// loadDoc rebuilds a room's document from its snapshot and log, as the
// server does. found is false for a room never stored.
func loadDoc(st store.Store, room string) (doc *crdt.Doc, found bool, err error) {
	snapshot, updates, err := st.Load(room)
	if err != nil {
		return nil, false, err
	}
	doc = crdt.NewDoc()
	if snapshot != nil {
		if err := doc.Apply(snapshot); err != nil {
			return nil, true, fmt.Errorf("room %q: the snapshot does not decode: %w", room, err)
		}
	}
	for i, u := range updates {
		if err := doc.Apply(u); err != nil {
			return nil, true, fmt.Errorf("room %q: update %d does not decode: %w", room, i, err)
		}
	}
	return doc, snapshot != nil || updates != nil, nil
}

// runExport writes a room's document to stdout.
func runExport(args []string, stdout, stderr io.Writer) int {
	var data, urls, format, text string
	fs := newAdminFlagSet("export", "flowstate export ROOM [--data FILE | --nats URLS] [--format text|json|snapshot|html|markdown|delta] [--text NAME]", stderr)
	dataFlag(fs, &data)
	natsFlag(fs, &urls)
	fs.StringVar(&format, "format", "text", "output: text (the texts' contents), json (texts, maps and state vector), snapshot (the binary snapshot, which import reads back), "+
		"or, of one rich text, html, markdown or delta (its Quill delta as JSON)")
	fs.StringVar(&text, "text", "", "the text that html, markdown and delta export (default: the document's only text)")
	pos, status, ok := parseAdmin(fs, args, 1, stderr)
	if !ok {
		return status
	}
	switch format {
	case "text", "json", "snapshot":
		if text != "" {
			fmt.Fprintf(stderr, "flowstate export: --text picks the text of --format html, markdown or delta, not of %s\n", format)
			return 2
		}
	case "html", "markdown", "delta":
	default:
		fmt.Fprintf(stderr, "flowstate export: unknown --format %q: use text, json, snapshot, html, markdown or delta\n", format)
		return 2
	}
	st, closeSt, err := openAdminStore(data, urls, false)
	if err != nil {
		return fail(stderr, "export", err)
	}
	defer closeSt()
	doc, found, err := loadDoc(st, pos[0])
	if err != nil {
		return fail(stderr, "export", err)
	}
	if !found {
		return fail(stderr, "export", fmt.Errorf("room %q is not stored in %s", pos[0], where(data, urls)))
	}
	if format == "html" || format == "markdown" || format == "delta" {
		return exitOn(stderr, "export", writeRich(stdout, doc, text, format))
	}
	return exitOn(stderr, "export", writeDoc(stdout, doc, format))
}

// writeRich writes the text named name of doc (its only text when name is
// empty) as HTML, Markdown or its delta in JSON.
func writeRich(w io.Writer, doc *crdt.Doc, name, format string) error {
	names := doc.TextNames()
	switch {
	case name == "" && len(names) == 1:
		name = names[0]
	case name == "" && len(names) == 0:
		return errors.New("the room holds no text")
	case name == "":
		return fmt.Errorf("the room holds %d texts (%s): choose one with --text", len(names), strings.Join(names, ", "))
	case !slices.Contains(names, name):
		return fmt.Errorf("the room holds no text %q; its texts: %s", name, strings.Join(names, ", "))
	}
	delta := doc.Text(name).ToDelta()
	ops := make([]richexport.Op, len(delta))
	for i, op := range delta {
		ops[i] = richexport.Op(op)
	}
	switch format {
	case "html":
		_, err := io.WriteString(w, richexport.HTML(ops))
		return err
	case "markdown":
		_, err := io.WriteString(w, richexport.Markdown(ops))
		return err
	}
	if ops == nil {
		ops = []richexport.Op{} // an empty text is the empty delta, not null
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(richexport.JSONSafe(ops))
}

// writeDoc writes doc in one of export's formats.
func writeDoc(w io.Writer, doc *crdt.Doc, format string) error {
	switch format {
	case "snapshot":
		_, err := w.Write(doc.Snapshot())
		return err
	case "json":
		out := struct {
			Texts       map[string]string         `json:"texts"`
			Maps        map[string]map[string]any `json:"maps"`
			StateVector map[string]uint64         `json:"state_vector"`
		}{map[string]string{}, map[string]map[string]any{}, map[string]uint64{}}
		for _, name := range doc.TextNames() {
			out.Texts[name] = doc.Text(name).String()
		}
		for _, name := range doc.MapNames() {
			m := doc.Map(name)
			values := make(map[string]any, m.Len())
			for _, k := range m.Keys() {
				values[k], _ = m.Get(k)
			}
			out.Maps[name] = values
		}
		for client, clock := range doc.StateVector() {
			out.StateVector[strconv.FormatUint(uint64(client), 10)] = clock
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	names := doc.TextNames()
	if len(names) == 1 {
		_, err := io.WriteString(w, doc.Text(names[0]).String())
		return err
	}
	for _, name := range names {
		if _, err := fmt.Fprintf(w, "== %s ==\n%s\n", name, doc.Text(name).String()); err != nil {
			return err
		}
	}
	return nil
}

// runImport merges a snapshot or update file into a room.
func runImport(args []string, stdout, stderr io.Writer) int {
	var data, urls string
	fs := newAdminFlagSet("import", "flowstate import ROOM FILE [--data FILE | --nats URLS]\n\n"+
		"FILE is a snapshot, as written by export --format snapshot, or an update.\n"+
		"The text and JSON exports cannot be imported: they leave out the history\n"+
		"that merging needs. With --nats, the cluster's servers may keep running:\n"+
		"the file is appended to the room's log, and members see it at once.", stderr)
	dataFlag(fs, &data)
	natsFlag(fs, &urls)
	pos, status, ok := parseAdmin(fs, args, 2, stderr)
	if !ok {
		return status
	}
	room, file := pos[0], pos[1]
	if !protocol.ValidRoom(room) {
		// The server refuses such names, so the room could never be
		// opened: refuse before anything is written.
		fmt.Fprintf(stderr, "flowstate import: invalid room name %q: use 1 to %d characters of A-Z a-z 0-9 . _ ~ -, as the server does\n", room, protocol.MaxRoomBytes)
		return 2
	}
	update, err := os.ReadFile(file)
	if err != nil {
		return fail(stderr, "import", err)
	}
	if looksLikeJSON(update) {
		return fail(stderr, "import", fmt.Errorf("%s looks like export --format json output, which cannot be imported: export with --format snapshot instead", file))
	}
	// Check the bytes on their own first, so that nothing is opened for
	// writing for a file that is not an update at all.
	if err := crdt.NewDoc().Apply(update); err != nil {
		return fail(stderr, "import", fmt.Errorf("%s is not a FlowState snapshot or update: %w", file, err))
	}
	if urls != "" {
		return importToCluster(urls, room, file, update, stdout, stderr)
	}
	st, err := openData(data, false, true)
	if err != nil {
		return fail(stderr, "import", err)
	}
	defer st.Close()
	doc, err := importInto(st, room, file, update)
	if err != nil {
		return fail(stderr, "import", err)
	}
	if err := st.Compact(room, doc.Snapshot()); err != nil {
		return fail(stderr, "import", err)
	}
	if err := st.Close(); err != nil {
		return fail(stderr, "import", err)
	}
	fmt.Fprintf(stdout, "imported %s into room %q\n", file, room)
	return 0
}

// importInto returns room's document in st with update applied, or why
// update cannot be imported into it.
func importInto(st store.Store, room, file string, update []byte) (*crdt.Doc, error) {
	doc, _, err := loadDoc(st, room)
	if err != nil {
		return nil, err
	}
	if err := doc.Apply(update); err != nil {
		return nil, fmt.Errorf("%s does not apply to room %q: %w", file, room, err)
	}
	if doc.HasPending() {
		return nil, fmt.Errorf("%s depends on changes room %q does not have; nothing was imported", file, room)
	}
	return doc, nil
}

// importToCluster appends update to room's log in the cluster at urls.
// It appends rather than compacts, as the room may be open on the
// cluster's servers, whose appends must not race with a new snapshot.
func importToCluster(urls, room, file string, update []byte, stdout, stderr io.Writer) int {
	st, closeSt, err := openNATS(urls)
	if err != nil {
		return fail(stderr, "import", err)
	}
	defer closeSt()
	doc, err := importInto(st, room, file, update)
	if err != nil {
		return fail(stderr, "import", err)
	}
	err = st.Append(room, update)
	if errors.Is(err, jsstore.ErrTooLarge) {
		// As migrate does: a snapshot has no size limit, and the
		// compaction merges what servers append meanwhile.
		err = st.Compact(room, doc.Snapshot())
	}
	if err != nil {
		return fail(stderr, "import", err)
	}
	fmt.Fprintf(stdout, "imported %s into room %q\n", file, room)
	return 0
}

// looksLikeJSON reports whether b starts like a JSON object, after
// whitespace. No update starts with '{' or whitespace: an update's first
// byte is a msgpack array header.
func looksLikeJSON(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
		case '{':
			return true
		default:
			return false
		}
	}
	return false
}

// runCompact folds every room's log into its snapshot, then rewrites the
// file to give the freed pages back.
func runCompact(args []string, stdout, stderr io.Writer) int {
	var data string
	fs := newAdminFlagSet("compact", "flowstate compact [--data FILE]", stderr)
	dataFlag(fs, &data)
	if _, status, ok := parseAdmin(fs, args, 0, stderr); !ok {
		return status
	}
	st, err := openData(data, false, false)
	if err != nil {
		return fail(stderr, "compact", err)
	}
	folded, skipped, err := foldRooms(st, stderr)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(stderr, "compact", err)
	}
	before, after, err := store.CompactFile(data, store.BoltOptions{})
	if err != nil {
		return fail(stderr, "compact", err)
	}
	fmt.Fprintf(stdout, "folded the logs of %d rooms (%d skipped); %s: %d bytes before, %d after\n", folded, skipped, data, before, after)
	if skipped > 0 {
		return 1
	}
	return 0
}

// foldRooms compacts each room that has a log. A room that cannot be
// rebuilt is reported and left as it is.
func foldRooms(st *store.Bolt, stderr io.Writer) (folded, skipped int, err error) {
	rooms, err := st.Rooms()
	if err != nil {
		return 0, 0, err
	}
	for _, r := range rooms {
		if r.LogEntries == 0 {
			continue
		}
		doc, _, err := loadDoc(st, r.Name)
		if err == nil && doc.HasPending() {
			// A snapshot holds only what applied; folding now would
			// drop the changes still waiting for their dependencies.
			err = fmt.Errorf("room %q holds changes whose dependencies are missing", r.Name)
		}
		if err == nil {
			err = st.Compact(r.Name, doc.Snapshot())
		}
		if err != nil {
			fmt.Fprintf(stderr, "flowstate compact: skipped: %v\n", err)
			skipped++
			continue
		}
		folded++
	}
	return folded, skipped, nil
}

// runBackup writes a consistent copy of the data file, read directly or
// streamed from a running server.
func runBackup(args []string, stdout, stderr io.Writer) int {
	var data, url, token, urls string
	fs := newAdminFlagSet("backup", "flowstate backup FILE [--data FILE | --url http://HOST:PORT --admin-token TOKEN | --nats URLS]\n\n"+
		clusterBackupText, stderr)
	dataFlag(fs, &data)
	natsFlag(fs, &urls)
	fs.StringVar(&url, "url", envOr("FLOWSTATE_URL", ""), "copy from the running server at `http://host:port` instead of the file (FLOWSTATE_URL)")
	fs.StringVar(&token, "admin-token", envOr("FLOWSTATE_ADMIN_TOKEN", ""), "the server's admin `token`, with --url (FLOWSTATE_ADMIN_TOKEN)")
	pos, status, ok := parseAdmin(fs, args, 1, stderr)
	if !ok {
		return status
	}
	out := pos[0]
	if urls != "" {
		if url != "" {
			fmt.Fprintln(stderr, "flowstate backup: --nats and --url name two sources; give one")
			return 2
		}
		return backupCluster(out, urls, stdout, stderr)
	}
	var copyTo func(io.Writer) error
	if url != "" {
		copyTo = func(w io.Writer) error { return fetchBackup(w, url, token) }
	} else {
		st, err := openData(data, true, false)
		if errors.Is(err, store.ErrLocked) {
			err = fmt.Errorf("%w, or copy from it with --url http://HOST:PORT --admin-token TOKEN", err)
		}
		if err != nil {
			return fail(stderr, "backup", err)
		}
		defer st.Close()
		copyTo = func(w io.Writer) error { _, err := st.WriteTo(w); return err }
	}
	n, err := writeBackup(out, copyTo)
	if err != nil {
		return fail(stderr, "backup", err)
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes)\n", out, n)
	return 0
}

// clusterBackupText says what backup does with a cluster's rooms.
const clusterBackupText = `With --nats URLS, backup writes the rooms of the cluster at URLS into a
new data file: each room's document and client-ID owners as they were when
that room was read (rooms are read one after another, while the cluster's
servers may keep running). Serve the file on one node with --data FILE, or
restore it into a cluster with flowstate migrate --from FILE --nats URLS,
which merges, so nothing written since is lost. For a copy of JetStream's
streams themselves, use JetStream's own backup (nats account backup DIR).
`

// backupCluster writes every room of the cluster at urls into a new data
// file at out, through a temporary file beside it, so that out is never
// left half-written. A room's document goes in whole, with its owners; a
// room whose document cannot be read whole (changes waiting for missing
// dependencies) fails the backup rather than being copied short.
func backupCluster(out, urls string, stdout, stderr io.Writer) int {
	src, release, err := openNATS(urls)
	if err != nil {
		return fail(stderr, "backup", err)
	}
	defer release()
	rooms, err := src.Rooms()
	if err != nil {
		return fail(stderr, "backup", err)
	}
	n, err := writeBackupFile(out, func(tmp string) error {
		dst, err := store.OpenBolt(tmp, store.BoltOptions{})
		if err != nil {
			return err
		}
		for _, r := range rooms {
			if _, _, err := migrateRoom(io.Discard, src, dst, r.Name); err != nil {
				dst.Close()
				return fmt.Errorf("room %q: %w", r.Name, err)
			}
		}
		return dst.Close()
	})
	if err != nil {
		return fail(stderr, "backup", err)
	}
	fmt.Fprintf(stdout, "wrote %s (%d rooms, %d bytes) from the cluster at %s\n", out, len(rooms), n, urls)
	return 0
}

// writeBackup writes a copy to a temporary file beside out, checks that it
// opens as a data file, and renames it into place: out is never left
// half-written.
func writeBackup(out string, copyTo func(io.Writer) error) (int64, error) {
	return writeBackupFile(out, func(tmp string) error {
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		err = copyTo(f)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	})
}

// writeBackupFile has write fill a new temporary file beside out (it is
// given the file's name), then checks that the file opens as a data file
// and renames it into place.
func writeBackupFile(out string, write func(tmp string) error) (int64, error) {
	f, err := os.CreateTemp(filepath.Dir(out), filepath.Base(out)+".*.tmp")
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp) // after the rename, a no-op
	if err := write(tmp); err != nil {
		return 0, err
	}
	check, err := store.OpenBolt(tmp, store.BoltOptions{ReadOnly: true})
	if err != nil {
		return 0, fmt.Errorf("the copy does not open: %w", err)
	}
	check.Close()
	fi, err := os.Stat(tmp)
	if err != nil {
		return 0, err
	}
	return fi.Size(), os.Rename(tmp, out)
}

// fetchBackup streams GET /admin/backup from the server at url into w.
func fetchBackup(w io.Writer, url, token string) error {
	req, err := http.NewRequest(http.MethodGet, strings.TrimSuffix(url, "/")+"/admin/backup", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		// The route exists only on a server started with a token.
		return fmt.Errorf("%s: %s: the server does not serve backups; start it with --admin-token TOKEN (or FLOWSTATE_ADMIN_TOKEN) and pass the same token here", req.URL, resp.Status)
	case http.StatusUnauthorized:
		return fmt.Errorf("%s: %s: the server refused the admin token; pass the token it was started with (--admin-token or FLOWSTATE_ADMIN_TOKEN)", req.URL, resp.Status)
	default:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s %s", req.URL, resp.Status, strings.TrimSpace(string(msg)))
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

// backupHandler serves GET /admin/backup: a consistent copy of the data
// file, taken in one read transaction while the server keeps writing, to
// callers that present token as a bearer token.
func backupHandler(st *store.Bolt, token string, logger *slog.Logger) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Constant-time, on hashes of equal length, so that the response
		// time reveals neither how much of a guess was right nor the
		// token's length.
		got := sha256.Sum256([]byte(docsync.BearerToken(r)))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="flowstate admin"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="flowstate-backup.db"`)
		start := time.Now()
		n, err := st.WriteTo(w)
		if err != nil {
			// The status line is gone; a short body is what the client
			// sees, and the copy fails its check there.
			logger.Error("backup failed", "err", err, "bytes", n)
			return
		}
		logger.Info("backup served", "bytes", n, "seconds", time.Since(start).Seconds())
	})
}

// openServeStore opens the server's store: the bolt file at path, or
// memory for memoryData. syncEach turns group commit off: one transaction
// and fsync per update, to measure what group commit gains. interval is
// the store's commit interval (zero: the default).
func openServeStore(path string, syncEach bool, interval time.Duration) (store.Store, *store.Bolt, error) {
	if path == memoryData {
		return store.NewMemory(), nil, nil
	}
	st, err := store.OpenBolt(path, store.BoltOptions{SyncEachAppend: syncEach, CommitInterval: interval})
	if err != nil {
		return nil, nil, err
	}
	if syncEach {
		return fsyncEachUpdate{st}, st, nil
	}
	return st, st, nil
}

// fsyncEachUpdate is a bolt store opened with SyncEachAppend that also
// splits each Append of several updates into one Append per update: one
// transaction and fsync per update, as a server without group commit
// would write them.
type fsyncEachUpdate struct{ *store.Bolt }

// Append implements store.Store.
func (s fsyncEachUpdate) Append(room string, updates ...[]byte) error {
	for _, u := range updates {
		if err := s.Bolt.Append(room, u); err != nil {
			return err
		}
	}
	return nil
}

// storageKind describes where the server keeps documents, for its log.
func storageKind(data string) string {
	if data == memoryData {
		return "ephemeral (--data :memory:): documents last until the process exits"
	}
	return "bbolt file"
}

// adminCommands are the commands on the data file, by name.
var adminCommands = map[string]func(args []string, stdout, stderr io.Writer) int{
	"rooms":   runRooms,
	"migrate": runMigrate,
	"export":  runExport,
	"import":  runImport,
	"compact": runCompact,
	"backup":  runBackup,
}
