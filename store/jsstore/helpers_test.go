package jsstore_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/store/jsstore"
)

// merge folds updates into a snapshot with the real CRDT, as the server
// does.
func merge(snapshot []byte, updates [][]byte) ([]byte, error) {
	doc := crdt.NewDoc()
	for _, u := range append([][]byte{snapshot}, updates...) {
		if len(u) == 0 {
			continue
		}
		if err := doc.Apply(u); err != nil {
			return nil, err
		}
	}
	return doc.Snapshot(), nil
}

// freePort returns a port of 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// A testCluster is n embedded servers routed to each other on
// 127.0.0.1, each with its JetStream directory, which survives a stop so
// that a node can be started again.
type testCluster struct {
	t       testing.TB
	cfgs    []jsstore.ServerConfig
	servers []*server.Server
}

// startCluster starts a cluster of n nodes and stops it when the test
// ends.
//
// The tests of a cluster spend most of their time waiting: nats-server's
// Raft elections take 4 to 9 s each, at the start and after a node
// stops. The longest tests call t.Parallel, so that their waits overlap;
// each has its own servers, ports and directories, and this package has
// no state that a test changes.
func startCluster(t testing.TB, n int) *testCluster {
	t.Helper()
	c := &testCluster{t: t}
	dir := t.TempDir()
	// The ports are picked free just before the servers bind them, and a
	// socket of another test may take one in between; a server that
	// cannot bind fails to start, and the whole set starts again on other
	// ports and directories.
	for attempt := 1; ; attempt++ {
		var peers []string
		for range n {
			peers = append(peers, fmt.Sprintf("127.0.0.1:%d", freePort(t)))
		}
		c.cfgs, c.servers = nil, nil
		for i := range n {
			cfg := jsstore.ServerConfig{
				Name:          fmt.Sprintf("node%d", i),
				StoreDir:      filepath.Join(dir, fmt.Sprintf("attempt%d", attempt), fmt.Sprintf("node%d", i)),
				ClusterListen: peers[i],
				Peers:         peers,
			}
			if n > 1 {
				cfg.ClusterName = "test"
			}
			c.cfgs = append(c.cfgs, cfg)
			c.servers = append(c.servers, nil)
		}
		var err error
		for i := range n {
			if c.servers[i], err = jsstore.StartServer(c.cfgs[i]); err != nil {
				break
			}
		}
		if err == nil {
			break
		}
		for i := range c.servers {
			c.stop(i)
		}
		if attempt == 3 {
			t.Fatalf("starting %d nats-servers, attempt %d: %v", n, attempt, err)
		}
		t.Logf("starting %d nats-servers, attempt %d: %v; again on other ports", n, attempt, err)
	}
	t.Cleanup(func() {
		for i := range c.servers {
			c.stop(i)
		}
	})
	return c
}

func (c *testCluster) start(i int) {
	c.t.Helper()
	s, err := jsstore.StartServer(c.cfgs[i])
	if err != nil {
		c.t.Fatal(err)
	}
	c.servers[i] = s
}

func (c *testCluster) stop(i int) {
	if s := c.servers[i]; s != nil {
		s.Shutdown()
		s.WaitForShutdown()
		c.servers[i] = nil
	}
}

// jetStream connects to node i as name, for a test that looks at the
// streams itself; the connection closes when the test ends.
func (c *testCluster) jetStream(i int, name string) jetstream.JetStream {
	c.t.Helper()
	nc, err := jsstore.Connect(c.servers[i], name)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		c.t.Fatal(err)
	}
	return js
}

// open connects to node i and opens a store there.
func (c *testCluster) open(i int, replicas int, timeout time.Duration, options ...func(*jsstore.Options)) *jsstore.Store {
	c.t.Helper()
	nc, err := jsstore.Connect(c.servers[i], c.cfgs[i].Name)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(nc.Close)
	return openOn(c.t, nc, replicas, timeout, options...)
}

func openOn(t testing.TB, nc *nats.Conn, replicas int, timeout time.Duration, options ...func(*jsstore.Options)) *jsstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts := jsstore.Options{Replicas: replicas, Merge: merge, Timeout: timeout}
	for _, o := range options {
		o(&opts)
	}
	st, err := jsstore.Open(ctx, nc, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// A writer makes real CRDT updates, each inserting a unique token.
type writer struct {
	doc  *crdt.Doc
	name string
	n    int
}

func newWriter(name string) *writer { return &writer{doc: crdt.NewDoc(), name: name} }

func (w *writer) next(t testing.TB) ([]byte, string) {
	t.Helper()
	w.n++
	token := fmt.Sprintf("<%s%d>", w.name, w.n)
	u, err := w.doc.Text("t").Insert(0, token)
	if err != nil {
		t.Fatal(err)
	}
	return u, token
}

// appendNext appends w's next update to room in st and returns its token.
func appendNext(t testing.TB, st *jsstore.Store, room string, w *writer) string {
	t.Helper()
	u, token := w.next(t)
	if err := st.Append(room, u); err != nil {
		t.Fatal(err)
	}
	return token
}

// text loads room from st and returns its text.
func text(t testing.TB, st interface {
	Load(string) ([]byte, [][]byte, error)
}, room string) string {
	t.Helper()
	snap, updates, err := st.Load(room)
	if err != nil {
		t.Fatal(err)
	}
	doc := crdt.NewDoc()
	for _, u := range append([][]byte{snap}, updates...) {
		if len(u) > 0 {
			if err := doc.Apply(u); err != nil {
				t.Fatal(err)
			}
		}
	}
	return doc.Text("t").String()
}

// missing returns the tokens not in text exactly once.
func missing(text string, tokens []string) []string {
	var out []string
	for _, tok := range tokens {
		if strings.Count(text, tok) != 1 {
			out = append(out, tok)
		}
	}
	return out
}
