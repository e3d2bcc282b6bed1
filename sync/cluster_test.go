//go:build !nonats

// The tests of this file run an embedded nats-server. The tag nonats
// leaves them out of the fuzzing build (.ci/fuzz), which would otherwise
// compile the whole server with fuzzing instrumentation for targets that
// never use it.

package sync_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
	"github.com/flowstate/flowstate/store/jsstore"
	docsync "github.com/flowstate/flowstate/sync"
)

// A testNode is one node of an in-process cluster: an embedded
// nats-server routed to the others on 127.0.0.1, a JetStream store on it,
// and a FlowState server on that store.
type testNode struct {
	cfg jsstore.ServerConfig
	ns  *server.Server
	st  *jsstore.Store
	ts  *testServer
}

// startNATS starts the nats-servers of n nodes, routed to each other. Their
// cluster ports are picked free just before the servers bind them, and a
// socket of another test may take one in between (the check and the bind
// cannot be one step); a server that cannot bind fails to start, and the
// whole set is then started again on other ports and directories.
func startNATS(t *testing.T, n int) []*testNode {
	t.Helper()
	dir := t.TempDir()
	for attempt := 1; ; attempt++ {
		var peers []string
		for range n {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			peers = append(peers, l.Addr().String())
			l.Close()
		}
		nodes := make([]*testNode, n)
		var err error
		for i := range n {
			node := &testNode{cfg: jsstore.ServerConfig{
				Name:          fmt.Sprintf("node%d", i),
				ClusterName:   "test",
				ClusterListen: peers[i],
				Peers:         peers,
				StoreDir:      filepath.Join(dir, fmt.Sprintf("attempt%d", attempt), fmt.Sprintf("node%d", i)),
			}}
			if node.ns, err = jsstore.StartServer(node.cfg); err != nil {
				break
			}
			nodes[i] = node
		}
		if err == nil {
			for _, node := range nodes {
				t.Cleanup(node.stopNATS)
			}
			return nodes
		}
		for _, node := range nodes {
			if node != nil {
				node.stopNATS()
			}
		}
		if attempt == 3 {
			t.Fatalf("starting %d nats-servers, attempt %d: %v", n, attempt, err)
		}
		t.Logf("starting %d nats-servers, attempt %d: %v; again on other ports", n, attempt, err)
	}
}

// startNodes starts n nodes forming one JetStream cluster, with
// min(3, n) replicas.
//
// A cluster's tests spend most of their time waiting: nats-server's
// Raft elections take 4 to 9 s each, at the start and after a node
// stops. The tests that change no package state (SetCompactEvery and
// the Panic hooks do) call t.Parallel, so that their waits overlap; each
// has its own servers, ports and directories.
func startNodes(t *testing.T, n int, cfg docsync.Config) []*testNode {
	t.Helper()
	nodes := startNATS(t, n)
	for i, node := range nodes {
		nc, err := jsstore.Connect(node.ns, node.cfg.Name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		st, err := jsstore.Open(ctx, nc, jsstore.Options{Replicas: min(3, n), Merge: docsync.MergeUpdates, Timeout: 5 * time.Second, Server: node.ns})
		cancel()
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		node.st = st
		// Runs after the hub's shutdown below, which stops its rooms'
		// follows: the store then stops watching the heads.
		t.Cleanup(func() { st.Close() })
		// Registered after the nats-server's cleanup, so it runs first:
		// the hub saves its rooms while JetStream is still there.
		node.ts = startServerWithStore(t, cfg, st)
		// A hub's shutdown saves its rooms into JetStream, which on a
		// loaded machine may take longer than the helpers allow; this
		// runs first, and theirs then finds it done.
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
			defer cancel()
			if err := node.ts.srv.Shutdown(ctx); err != nil {
				t.Errorf("node %d: Shutdown: %v", i, err)
			}
		})
	}
	return nodes
}

// stopNATS stops the node's nats-server, as a crash of its machine
// would for the cluster (its FlowState server stays).
func (n *testNode) stopNATS() {
	if n.ns != nil {
		n.ns.Shutdown()
		n.ns.WaitForShutdown()
		n.ns = nil
	}
}

// restartNATS starts the node's nats-server again, on its directory and
// ports. Its FlowState server's connection was to the old one and stays
// broken: reach the node through openStore.
func (n *testNode) restartNATS(t *testing.T) {
	t.Helper()
	ns, err := jsstore.StartServer(n.cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.ns = ns
}

// openStore opens another store on the node's nats-server.
func (n *testNode) openStore(t *testing.T) *jsstore.Store {
	t.Helper()
	nc, err := jsstore.Connect(n.ns, n.cfg.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := jsstore.Open(ctx, nc, jsstore.Options{Replicas: 3, Merge: docsync.MergeUpdates})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestClusterConverges spreads the clients of one room over two nodes of
// three, writing at once: every client converges on every token exactly
// once, and a late joiner on each node, the one that never held the room
// included, gets all of it. Compactions run from both writing nodes
// meanwhile, and lose nothing.
func TestClusterConverges(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-node cluster takes seconds to form")
	}
	docsync.SetCompactEvery(t, 8)
	nodes := startNodes(t, 3, testConfig())
	const room = "team.notes"
	var clients []*docsync.Client
	for i := range 4 {
		clients = append(clients, dial(t, nodes[i%2].ts, room, nil))
	}
	var tokens []string
	var wg stdsync.WaitGroup
	for i, c := range clients {
		var mine []string
		for k := range 15 {
			mine = append(mine, fmt.Sprintf("<%d.%d>", i, k))
		}
		tokens = append(tokens, mine...)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, tok := range mine {
				insert(t, c, 0, tok)
				time.Sleep(time.Millisecond)
			}
		}()
	}
	wg.Wait()
	for _, c := range clients {
		waitSyncedCluster(t, c)
	}
	text := waitTextCluster(t, "", clients...)
	checkTokens(t, text, tokens)
	for i, node := range nodes {
		late := dial(t, node.ts, room, nil)
		waitTextCluster(t, text, late)
		if i == 2 {
			// The node that had no member wrote nothing: its late
			// joiner's edit reaches the others through the log.
			insert(t, late, 0, "<late>")
			waitSyncedCluster(t, late)
			tokens = append(tokens, "<late>")
			text = waitTextCluster(t, "", append(clients, late)...)
			checkTokens(t, text, tokens)
		}
	}
}

// checkTokens fails unless every token is in text exactly once.
func checkTokens(t *testing.T, text string, tokens []string) {
	t.Helper()
	for _, tok := range tokens {
		if n := strings.Count(text, tok); n != 1 {
			t.Errorf("token %s is there %d times", tok, n)
		}
	}
}

// TestClusterQuorumLoss stops the nats-servers of two nodes of three
// under a client of the third: its edit is not acknowledged and the node
// is not ready while there is no quorum; once the two are back, the edit
// is acknowledged, and every acknowledged edit is stored.
func TestClusterQuorumLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-node cluster takes seconds to form")
	}
	t.Parallel() // waits mostly on the cluster's elections; see startNodes
	nodes := startNodes(t, 3, testConfig())
	const room = "quorum"
	c := dial(t, nodes[0].ts, room, nil)
	insert(t, c, -1, "<before>")
	waitSyncedCluster(t, c)

	nodes[1].stopNATS()
	nodes[2].stopNATS()
	insert(t, c, -1, "<during>")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	err := c.WaitSynced(ctx)
	cancel()
	if err == nil {
		t.Fatal("an edit was acknowledged without a quorum")
	}
	waitFor(t, deadline, func() error {
		resp, err := http.Get("http://" + nodes[0].ts.addr + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			return fmt.Errorf("/readyz = %d without a quorum, want 503", resp.StatusCode)
		}
		return nil
	})
	// /healthz still answers, at once, and says the node sees no
	// quorum (its stream leader may still name itself); so does /metrics.
	start := time.Now()
	h := health(t, nodes[0].ts)
	// Its question to JetStream gives up after 500 ms, well before the
	// 5 s an append waits; the rest is slack for a loaded machine.
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("/healthz took %v without a quorum", took)
	}
	if h.Cluster == nil || h.Cluster.Quorum {
		t.Errorf("/healthz without a quorum: cluster %+v, error %q", h.Cluster, h.ClusterError)
	}
	_, _, body := get(t, "http://"+nodes[0].ts.addr+"/metrics", nil)
	if v, ok := seriesValue(body, "flowstate_cluster_quorum"); !ok || v != 0 {
		t.Errorf("flowstate_cluster_quorum = %v (present: %v) without a quorum", v, ok)
	}

	nodes[1].restartNATS(t)
	nodes[2].restartNATS(t)
	ctx, cancel = context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	if err := c.WaitSynced(ctx); err != nil {
		t.Fatalf("the edit was not acknowledged within 60 s of the quorum's return: %v", err)
	}
	for _, i := range []int{1, 2} {
		doc := storedDoc(t, nodes[i].openStore(t), room)
		checkTokens(t, doc.Text("body").String(), []string{"<before>", "<during>"})
	}
}

// TestClusterPresence shows members of one room on two nodes each
// other's presence, and its end when a member leaves.
func TestClusterPresence(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-node cluster takes seconds to form")
	}
	t.Parallel() // waits mostly on the cluster's elections; see startNodes
	nodes := startNodes(t, 3, testConfig())
	const room = "cursors"
	a := dial(t, nodes[0].ts, room, nil)
	b := dial(t, nodes[1].ts, room, nil)
	waitSyncedCluster(t, a)
	waitSyncedCluster(t, b)
	if err := a.SetPresence(cursor{"alice", 3}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetPresence(cursor{"bob", 5}); err != nil {
		t.Fatal(err)
	}
	waitPresence(t, b, map[uint64]any{a.ClientID(): cursor{"alice", 3}})
	waitPresence(t, a, map[uint64]any{b.ClientID(): cursor{"bob", 5}})
	if err := a.SetPresence(cursor{"alice", 9}); err != nil {
		t.Fatal(err)
	}
	waitPresence(t, b, map[uint64]any{a.ClientID(): cursor{"alice", 9}})
	// A late joiner on a third node sees both once they refresh.
	c := dial(t, nodes[2].ts, room, nil)
	waitSyncedCluster(t, c)
	a.SetPresence(cursor{"alice", 10})
	b.SetPresence(cursor{"bob", 6})
	waitPresence(t, c, map[uint64]any{a.ClientID(): cursor{"alice", 10}, b.ClientID(): cursor{"bob", 6}})
	a.Close()
	waitPresence(t, b, map[uint64]any{a.ClientID(): nil})
	waitPresence(t, c, map[uint64]any{a.ClientID(): nil})
}

// TestClusterOwners binds a client ID to alice through one node, while
// the room is open on another: there, a join of mallory under that
// client ID is refused (4403) once the binding arrives, as on one node.
func TestClusterOwners(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-node cluster takes seconds to form")
	}
	t.Parallel() // waits mostly on the cluster's elections; see startNodes
	a := newAuth(t, authSecret)
	cfg := testConfig()
	cfg.Auth = a
	nodes := startNodes(t, 3, cfg)
	const room = "notes"
	bob := dial(t, nodes[1].ts, room, userOptions(t, a, "bob", room, docsync.PermWrite, nil))
	waitSyncedCluster(t, bob)
	alice := dial(t, nodes[0].ts, room, userOptions(t, a, "alice", room, docsync.PermWrite, nil))
	insert(t, alice, 0, "alice's")
	waitSyncedCluster(t, alice)
	waitFor(t, clusterWait, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		c, err := docsync.Dial(ctx, nodes[1].ts.url(room), userOptions(t, a, "mallory", room, docsync.PermWrite, crdt.NewDocWithClient(crdt.ClientID(alice.ClientID()))))
		var se *docsync.ServerError
		if errors.As(err, &se) && se.Code == protocol.CodeForbidden {
			return nil
		}
		if c != nil {
			c.Close()
		}
		return fmt.Errorf("mallory's join under alice's client ID on another node: %v, want 4403", err)
	})
}

// TestClusterRemotePanic makes the CRDT panic once on an update that
// another node stored (as a bug that only one node's state triggers
// would): that node rebuilds the room's document from the log, which
// holds the update, and still sends it to its members, so that they
// converge with the sender's node and nothing is quarantined.
func TestClusterRemotePanic(t *testing.T) {
	if testing.Short() {
		t.Skip("a cluster takes seconds to form")
	}
	nodes := startNodes(t, 2, testConfig())
	const room = "notes"
	a := dial(t, nodes[0].ts, room, nil)
	b := dial(t, nodes[1].ts, room, nil)
	insert(t, a, 0, "hello")
	waitSyncedCluster(t, a)
	waitTextCluster(t, "hello", a, b)

	raw := joinRaw(t, nodes[0].ts, room)
	evil, err := raw.doc.Text("body").Insert(0, "EVIL ")
	if err != nil {
		t.Fatal(err)
	}
	docsync.PanicOnceOnRemote(t, evil)
	raw.sendUpdates(evil)
	waitTextCluster(t, "EVIL hello", a, b)
	// An edit after the one that panicked, anchored in it, applies on
	// both nodes' members.
	insert(t, b, 4, "!")
	waitSyncedCluster(t, b)
	waitTextCluster(t, "EVIL! hello", a, b)
	late := dial(t, nodes[1].ts, room, nil)
	waitTextCluster(t, "EVIL! hello", a, b, late)
	if v := metricValue(t, nodes[1].ts, "flowstate_apply_panics_total"); v != "1" {
		t.Fatalf("node 1: flowstate_apply_panics_total = %s, want 1", v)
	}
	for i, n := range nodes {
		if q := n.ts.srv.Hub().Quarantined(); len(q) != 0 {
			t.Fatalf("node %d quarantined %v", i, q)
		}
	}
}

// TestClusterBadInput runs the bad-input table against a node of a real
// three-node cluster: the same close codes as on one node, nothing of
// the bad input in JetStream, and a member of the room on another node
// unaffected.
func TestClusterBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-node cluster takes seconds to form")
	}
	t.Parallel() // waits mostly on the cluster's elections; see startNodes
	cfg := testConfig()
	cfg.MaxMessageSize = maxMessageSize
	cfg.HelloTimeout = 300 * time.Millisecond
	nodes := startNodes(t, 3, cfg)
	// A store of its own: reading through a hub's store would change
	// what that store thinks its hub holds.
	st := nodes[2].openStore(t)
	for i, tt := range badInputTests {
		t.Run(tt.name, func(t *testing.T) {
			checkBadInput(t, tt, fmt.Sprintf("bad-%d", i), nodes[0].ts, nodes[1].ts, st)
		})
	}
}

// TestFormatCluster: a rich update stored through one node reaches the
// other's room as a remote update, which closes that node's members of
// format 1 as a local one would, and refuses later ones.
func TestFormatCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("a cluster takes seconds to form")
	}
	t.Parallel() // waits mostly on the cluster's elections; see startNodes
	nodes := startNodes(t, 2, testConfig())
	const room = "notes"
	a := dial(t, nodes[0].ts, room, nil)
	b := dial(t, nodes[1].ts, room, nil)
	insert(t, a, 0, "hello")
	waitSyncedCluster(t, a)
	waitTextCluster(t, "hello", a, b)
	old := joinAs(t, nodes[1].ts, room, readsPlainV3)
	if err := a.Edit(func(d *crdt.Doc) error {
		_, err := d.Text("body").Format(0, 5, "bold", true)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	old.expectFormatClose()
	waitFor(t, clusterWait, func() error {
		var d []crdt.RichOp
		b.Read(func(doc *crdt.Doc) { d = doc.Text("body").ToDelta() })
		if len(d) != 1 || d[0].Attributes["bold"] != true {
			return fmt.Errorf("delta on node 1 %+v, want bold hello", d)
		}
		return nil
	})
	late := dialRaw(t, nodes[1].ts.url(room))
	h := readsPlainV4
	h.Room, h.Client, h.StateVector = room, late.id, crdt.StateVector{}.Encode()
	late.send(&h)
	late.expectFormatClose()
}
