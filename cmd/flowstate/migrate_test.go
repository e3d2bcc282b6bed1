package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/store"
	"github.com/flowstate/flowstate/store/jsstore"
	docsync "github.com/flowstate/flowstate/sync"
)

// startNATS starts an embedded JetStream server that accepts clients on
// 127.0.0.1, as an external cluster or a node started with
// --cluster-client-listen does.
func startNATS(t *testing.T) *server.Server {
	t.Helper()
	ns, err := jsstore.StartServer(jsstore.ServerConfig{StoreDir: t.TempDir(), ClientListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns
}

// openJS opens a jsstore.Store on ns, as a server of the cluster does.
func openJS(t *testing.T, ns *server.Server) *jsstore.Store {
	t.Helper()
	nc, err := jsstore.Connect(ns, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := jsstore.Open(ctx, nc, jsstore.Options{Replicas: 1, Merge: docsync.MergeUpdates})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// migrateRooms are the rooms seedMigrate writes, with names that need
// escaping in NATS subjects.
var migrateRooms = []string{"a.b", "tilde~x", "dash-y", "under_z", "Plain9"}

// seedMigrate writes a data file with the rooms of migrateRooms, each
// with a snapshot, a log after it and two owners, and returns its path.
func seedMigrate(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flowstate.db")
	st, err := store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i, room := range migrateRooms {
		doc := crdt.NewDoc()
		for j := range 4 {
			u, err := doc.Text("body").Insert(doc.Text("body").Len(), fmt.Sprintf("<%s %d>", room, j))
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Append(room, u); err != nil {
				t.Fatal(err)
			}
			if j == 1 {
				if err := st.Compact(room, doc.Snapshot()); err != nil {
					t.Fatal(err)
				}
			}
		}
		// A deletion, which a state vector does not show.
		u, err := doc.Text("body").Delete(0, 2)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Append(room, u); err != nil {
			t.Fatal(err)
		}
		if err := st.SetOwners(room, map[uint64]string{uint64(100 + i): "alice", uint64(200 + i): "bob"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// roomState is a room's document and owners as a store gives them.
func roomState(t *testing.T, st store.Store, room string) ([]byte, map[uint64]string) {
	t.Helper()
	doc, found, err := loadDoc(st, room)
	if err != nil || !found {
		t.Fatalf("room %q: found %v, %v", room, found, err)
	}
	owners, err := st.Owners(room)
	if err != nil {
		t.Fatal(err)
	}
	return doc.Snapshot(), owners
}

// TestMigrate moves a data file's rooms into a real JetStream server
// through its client URL, checks them through a jsstore.Store, and
// migrates again, which changes nothing.
func TestMigrate(t *testing.T) {
	data := seedMigrate(t)
	ns := startNATS(t)
	status, out, errOut := runCmd("migrate", "--from", data, "--nats", ns.ClientURL())
	if status != 0 {
		t.Fatalf("migrate = %d\n%s%s", status, out, errOut)
	}
	if !strings.Contains(out, "migrated 5 of 5 rooms") || !strings.Contains(out, "(5 new, 0 merged, 0 unchanged), 10 owners bound") {
		t.Errorf("migrate printed:\n%s", out)
	}
	for _, room := range migrateRooms {
		if !strings.Contains(out, fmt.Sprintf("room %q: new", room)) {
			t.Errorf("no line for room %q:\n%s", room, out)
		}
	}

	src, err := store.OpenBolt(data, store.BoltOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	js := openJS(t, ns)
	check := func() []store.RoomInfo {
		t.Helper()
		for _, room := range migrateRooms {
			wantDoc, wantOwners := roomState(t, src, room)
			gotDoc, gotOwners := roomState(t, js, room)
			if !bytes.Equal(gotDoc, wantDoc) {
				t.Errorf("room %q: the cluster's document differs from the data file's", room)
			}
			if !maps.Equal(gotOwners, wantOwners) {
				t.Errorf("room %q: owners %v, want %v", room, gotOwners, wantOwners)
			}
		}
		rooms, err := js.Rooms()
		if err != nil {
			t.Fatal(err)
		}
		if len(rooms) != len(migrateRooms) {
			t.Errorf("the cluster lists %d rooms, want %d", len(rooms), len(migrateRooms))
		}
		return rooms
	}
	first := check()

	status, out, errOut = runCmd("migrate", "--from", data, "--nats", ns.ClientURL())
	if status != 0 || !strings.Contains(out, "(0 new, 0 merged, 5 unchanged), 0 owners bound") {
		t.Fatalf("second migrate = %d\n%s%s", status, out, errOut)
	}
	if second := check(); fmt.Sprint(second) != fmt.Sprint(first) {
		t.Errorf("the second migrate wrote to the cluster: %v, then %v", first, second)
	}
}

// TestMigrateMerges migrates into a cluster that has one of the rooms
// already, edited there, with an ID bound to another user: both edits
// are kept, and the cluster's binding stays.
func TestMigrateMerges(t *testing.T) {
	data := seedMigrate(t)
	ns := startNATS(t)
	js := openJS(t, ns)
	other := crdt.NewDoc()
	u, err := other.Text("body").Insert(0, "<cluster>")
	if err != nil {
		t.Fatal(err)
	}
	if err := js.Append("a.b", u); err != nil {
		t.Fatal(err)
	}
	if err := js.SetOwners("a.b", map[uint64]string{100: "mallory"}); err != nil {
		t.Fatal(err)
	}
	status, out, errOut := runCmd("migrate", "--from", data, "--nats", ns.ClientURL())
	if status != 0 || !strings.Contains(out, `room "a.b": merged`) || !strings.Contains(out, "1 bound to another user") {
		t.Fatalf("migrate = %d\n%s%s", status, out, errOut)
	}
	doc, _, err := loadDoc(js, "a.b")
	if err != nil {
		t.Fatal(err)
	}
	if text := doc.Text("body").String(); !strings.Contains(text, "<cluster>") || !strings.Contains(text, "<a.b 3>") {
		t.Errorf("merged text %q lacks an edit", text)
	}
	owners, err := js.Owners("a.b")
	if err != nil {
		t.Fatal(err)
	}
	if owners[100] != "mallory" || owners[200] != "bob" {
		t.Errorf("owners %v: want 100 kept as mallory, 200 bound to bob", owners)
	}
}

// TestMigrateRefuses checks the refusals: a data file held by a running
// server, a NATS URL nothing answers, and no --nats.
func TestMigrateRefuses(t *testing.T) {
	data := seedMigrate(t)
	held, err := store.OpenBolt(data, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ns := startNATS(t)
	status, _, errOut := runCmd("migrate", "--from", data, "--nats", ns.ClientURL())
	if status != 1 || !strings.Contains(errOut, "stop the server first") {
		t.Errorf("migrate of a held file = %d, %q", status, errOut)
	}
	held.Close()

	dead := fmt.Sprintf("nats://127.0.0.1:%d", freeTCPPort(t))
	status, _, errOut = runCmd("migrate", "--from", data, "--nats", dead)
	if status != 1 || !strings.Contains(errOut, "connect to NATS at "+dead) {
		t.Errorf("migrate to a dead URL = %d, %q", status, errOut)
	}
	t.Setenv("FLOWSTATE_NATS", "")
	status, _, errOut = runCmd("migrate", "--from", data)
	if status != 2 || !strings.Contains(errOut, "--nats URLS is required") {
		t.Errorf("migrate without --nats = %d, %q", status, errOut)
	}
}

// freeTCPPort returns a port of 127.0.0.1 that was free a moment ago.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestAdminOnCluster runs rooms, export, import and backup with --nats
// on a cluster migrated from a data file: they print what they print on
// the file, and the backup holds every room, which migrate restores.
func TestAdminOnCluster(t *testing.T) {
	data := seedMigrate(t)
	ns := startNATS(t)
	url := ns.ClientURL()
	if status, out, errOut := runCmd("migrate", "--from", data, "--nats", url); status != 0 {
		t.Fatalf("migrate = %d\n%s%s", status, out, errOut)
	}
	roomNames := func(args ...string) []string {
		t.Helper()
		status, out, errOut := runCmd(append([]string{"rooms", "--json"}, args...)...)
		var rooms []struct{ Room string }
		if err := json.Unmarshal([]byte(out), &rooms); status != 0 || err != nil {
			t.Fatalf("rooms %q = %d, %q, %q: %v", args, status, out, errOut, err)
		}
		var names []string
		for _, r := range rooms {
			names = append(names, r.Room)
		}
		return names
	}
	if got, want := roomNames("--nats", url), roomNames("--data", data); !slices.Equal(got, want) || len(got) != len(migrateRooms) {
		t.Errorf("rooms --nats lists %q; the data file %q", got, want)
	}
	if status, out, _ := runCmd("rooms", "--nats", url); status != 0 || !strings.Contains(out, "ROOM") || !strings.Contains(out, "tilde~x") {
		t.Errorf("rooms --nats = %d, %q", status, out)
	}
	for _, format := range []string{"text", "json", "snapshot"} {
		_, fromFile, _ := runCmd("export", "a.b", "--format", format, "--data", data)
		status, fromCluster, errOut := runCmd("export", "a.b", "--format", format, "--nats", url)
		if status != 0 || fromCluster != fromFile || fromFile == "" {
			t.Errorf("export --format %s --nats = %d, %q, %q; the data file gives %q", format, status, fromCluster, errOut, fromFile)
		}
	}
	if status, _, errOut := runCmd("export", "nowhere", "--nats", url); status != 1 || !strings.Contains(errOut, "not stored in the cluster at "+url) {
		t.Errorf("export of a missing room = %d, %q", status, errOut)
	}

	other := crdt.NewDoc()
	if _, err := other.Text("body").Insert(0, "<imported>"); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "other.snapshot")
	if err := os.WriteFile(file, other.Snapshot(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, room := range []string{"a.b", "fresh_room"} {
		if status, out, errOut := runCmd("import", room, file, "--nats", url); status != 0 || !strings.Contains(out, "imported") {
			t.Fatalf("import %s --nats = %d, %q, %q", room, status, out, errOut)
		}
		if _, out, _ := runCmd("export", room, "--nats", url); !strings.Contains(out, "<imported>") {
			t.Errorf("room %q after import: %q", room, out)
		}
	}
	if _, out, _ := runCmd("export", "a.b", "--nats", url); !strings.Contains(out, "<a.b 3>") {
		t.Errorf("import replaced room a.b instead of merging: %q", out)
	}

	// backup --nats writes a data file holding every room as the
	// cluster has it, owners included; migrate restores it into another
	// cluster.
	backup := filepath.Join(t.TempDir(), "b.db")
	if status, out, errOut := runCmd("backup", backup, "--nats", url); status != 0 || !strings.Contains(out, fmt.Sprintf("wrote %s (%d rooms", backup, len(roomNames("--nats", url)))) {
		t.Fatalf("backup --nats = %d, %q, %q", status, out, errOut)
	}
	if got, want := roomNames("--data", backup), roomNames("--nats", url); !slices.Equal(got, want) {
		t.Errorf("the backup lists %q; the cluster %q", got, want)
	}
	restored := startNATS(t).ClientURL()
	if status, out, errOut := runCmd("migrate", "--from", backup, "--nats", restored); status != 0 {
		t.Fatalf("migrate of the backup = %d\n%s%s", status, out, errOut)
	}
	for _, room := range roomNames("--nats", url) {
		for _, format := range []string{"text", "snapshot"} {
			_, fromCluster, _ := runCmd("export", room, "--format", format, "--nats", url)
			_, fromBackup, _ := runCmd("export", room, "--format", format, "--data", backup)
			_, fromRestored, _ := runCmd("export", room, "--format", format, "--nats", restored)
			if fromBackup != fromCluster || fromRestored != fromCluster || fromCluster == "" {
				t.Errorf("room %q --format %s: cluster %.40q, backup %.40q, restored %.40q", room, format, fromCluster, fromBackup, fromRestored)
			}
		}
	}
	owners := func(st store.Store) map[uint64]string {
		t.Helper()
		o, err := st.Owners("a.b")
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	b, err := store.OpenBolt(backup, store.BoltOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	src, err := store.OpenBolt(data, store.BoltOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := owners(b), owners(src); len(want) == 0 || !maps.Equal(got, want) {
		t.Errorf("the backup's owners of a.b: %v, the migrated file's %v", got, want)
	}
	b.Close()
	src.Close()
	if status, _, errOut := runCmd("backup", backup, "--nats", url, "--url", "http://127.0.0.1:1"); status != 2 || !strings.Contains(errOut, "give one") {
		t.Errorf("backup --nats --url = %d, %q", status, errOut)
	}
}

// TestMigrateIntoEmbeddedCluster runs three real nodes of an embedded
// cluster, one with --cluster-client-listen, and migrates a data file
// through that node's NATS URL while a room it holds is open with edits
// of its own: the room's member on another node sees the migrated text
// without rejoining, next to the cluster's edits, and every node serves
// the other rooms.
func TestMigrateIntoEmbeddedCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three servers")
	}
	t.Parallel() // waits mostly on elections; see startClusterNodes
	data := seedMigrate(t)
	bin := buildBinary(t)
	var routes []string
	for range 3 {
		routes = append(routes, fmt.Sprintf("127.0.0.1:%d", freeTCPPort(t)))
	}
	clientURL := fmt.Sprintf("nats://127.0.0.1:%d", freeTCPPort(t))
	dir := t.TempDir()
	nodes := make([]*clusterNode, 3)
	waits := make([]func(), 3)
	for i := range nodes {
		nodes[i] = &clusterNode{args: []string{
			"--log-format", "json", "--addr", "127.0.0.1:0",
			"--cluster-name", "test", "--cluster-listen", routes[i],
			"--cluster-peers", strings.Join(routes, ","),
			"--node-name", fmt.Sprintf("node%d", i),
			"--cluster-store", filepath.Join(dir, fmt.Sprintf("node%d", i)),
			"--data", filepath.Join(dir, "unused.db"),
		}}
		if i == 0 {
			nodes[i].args = append(nodes[i].args, "--cluster-client-listen", strings.TrimPrefix(clientURL, "nats://"))
		}
		waits[i] = nodes[i].start(t, bin)
	}
	for _, wait := range waits {
		wait()
	}

	acked := writeAcked(t, nodes[1].url("a.b"), "live", 2)
	member := dialRetry(t, nodes[1].url("a.b"), nil)
	defer member.Close()

	status, out, errOut := runCmd("migrate", "--from", data, "--nats", clientURL)
	if status != 0 || !strings.Contains(out, `room "a.b": merged`) || !strings.Contains(out, "(4 new, 1 merged, 0 unchanged)") {
		t.Fatalf("migrate = %d\n%s%s", status, out, errOut)
	}
	waitFor(t, 30*time.Second, func() error {
		if text := member.Text("body"); !strings.Contains(text, "<a.b 3>") {
			return fmt.Errorf("the open member's text is %q", text)
		}
		return nil
	})
	waitTokens(t, nodes[2].url("a.b"), append(acked, "<a.b 3>"), "the merged room on the third node")
	for _, room := range migrateRooms[1:] {
		waitTokens(t, nodes[2].url(room), []string{fmt.Sprintf("<%s 3>", room)}, "a migrated room on the third node")
	}
}

// TestMigrateLargeRoom migrates a room larger than a NATS message,
// which goes into the cluster as a snapshot.
func TestMigrateLargeRoom(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flowstate.db")
	st, err := store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	doc := crdt.NewDoc()
	big := strings.Repeat("0123456789abcdef", (jsstore.MaxPayload+1<<20)/16)
	u, err := doc.Text("body").Insert(0, big)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Append("big", u); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	ns := startNATS(t)
	for _, want := range []string{`room "big": new`, `room "big": unchanged`} {
		status, out, errOut := runCmd("migrate", "--from", path, "--nats", ns.ClientURL())
		if status != 0 || !strings.Contains(out, want) {
			t.Fatalf("migrate = %d, %q, %q; want %q", status, out, errOut, want)
		}
	}
	got, _, err := loadDoc(openJS(t, ns), "big")
	if err != nil {
		t.Fatal(err)
	}
	if got.Text("body").String() != big {
		t.Errorf("the cluster's room holds %d bytes of text, want %d", got.Text("body").Len(), len(big))
	}

	file := filepath.Join(t.TempDir(), "big.snapshot")
	if err := os.WriteFile(file, doc.Snapshot(), 0o600); err != nil {
		t.Fatal(err)
	}
	if status, out, errOut := runCmd("import", "big2", file, "--nats", ns.ClientURL()); status != 0 {
		t.Fatalf("import --nats of a large snapshot = %d, %q, %q", status, out, errOut)
	}
	if _, out, _ := runCmd("export", "big2", "--nats", ns.ClientURL()); out != big {
		t.Errorf("export of the imported room gives %d bytes, want %d", len(out), len(big))
	}
}
