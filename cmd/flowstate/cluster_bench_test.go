package main

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

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/store"
	"github.com/flowstate/flowstate/store/jsstore"
	docsync "github.com/flowstate/flowstate/sync"
)

// An inProcessNode is one node of a cluster run inside the test
// process: an embedded nats-server routed to the others on 127.0.0.1,
// a JetStream store on it, and a FlowState server on that store.
type inProcessNode struct {
	st  *jsstore.Store
	url string // ws://host:port
}

// startInProcessCluster starts n nodes that form one JetStream cluster,
// with min(3, n) replicas, each serving cfg on a port of 127.0.0.1, until
// the test ends.
func startInProcessCluster(tb testing.TB, n int, cfg docsync.Config) []*inProcessNode {
	tb.Helper()
	var routes []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		routes = append(routes, l.Addr().String())
		l.Close()
	}
	dir := tb.TempDir()
	nodes := make([]*inProcessNode, n)
	conns := make([]*nats.Conn, n)
	servers := make([]*server.Server, n)
	for i := range n {
		ns, err := jsstore.StartServer(jsstore.ServerConfig{
			Name:          fmt.Sprintf("node%d", i),
			ClusterName:   "test",
			ClusterListen: routes[i],
			Peers:         routes,
			StoreDir:      filepath.Join(dir, fmt.Sprintf("node%d", i)),
		})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			ns.Shutdown()
			ns.WaitForShutdown()
		})
		nc, err := jsstore.Connect(ns, fmt.Sprintf("node%d", i))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(nc.Close)
		servers[i], conns[i] = ns, nc
	}
	// Once every server is started: they elect their leaders together.
	for i := range n {
		ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
		st, err := jsstore.Open(ctx, conns[i], jsstore.Options{Replicas: min(3, n), Merge: docsync.MergeUpdates, Server: servers[i]})
		cancel()
		if err != nil {
			tb.Fatalf("node %d: %v", i, err)
		}
		nodes[i] = &inProcessNode{st: st, url: "ws://" + serveStore(tb, cfg, st)}
	}
	return nodes
}

// serveStore serves a FlowState server on st at a port of 127.0.0.1
// until the test ends, and returns its host:port. Its shutdown runs
// before the cleanups registered earlier, so rooms are saved while
// JetStream is still there.
func serveStore(tb testing.TB, cfg docsync.Config, st store.Store) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := docsync.NewServer(cfg, st)
	go srv.Serve(ln)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return ln.Addr().String()
}

// TestBenchReplayCluster replays a small trace through three nodes of an
// in-process cluster: the rooms are spread over them, each is read back
// on another node, and what JetStream holds of each is the trace's text.
func TestBenchReplayCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node JetStream cluster")
	}
	tracePath := writeTinyTrace(t)
	nodes := startInProcessCluster(t, 3, docsync.Config{})
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.url)
	}
	status, stdout, stderr := runCmd("bench", "replay", "--url", strings.Join(urls, ","), "--room", "c", "--rooms", "4", "--window", "2", tracePath)
	if status != 0 {
		t.Fatalf("bench replay: status %d\n%s%s", status, stdout, stderr)
	}
	for _, want := range []string{"52 updates into 4 room(s)", "all acknowledged", "ack latency p50", "spread over 3 nodes", "on another node"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output %q lacks %q", stdout, want)
		}
	}
	for i := range 4 {
		room := fmt.Sprintf("c-%d", i+1)
		if got := storedText(t, nodes[i%3].st, room); got != "hello there" {
			t.Errorf("room %s: JetStream holds %q, want %q", room, got, "hello there")
		}
	}
}

// BenchmarkLateJoin measures a late joiner of the automerge-paper
// document (its 128 KB snapshot stored through another server) on a
// server that does not hold the room: from the dial until the client is
// synced. Each iteration joins a room of its own. On a three-node
// in-process cluster (stored through the first node, joined on the
// second), and, for comparison, on one server with a bbolt file.
//
//	go test -run '^$' -bench LateJoin -benchtime 30x ./cmd/flowstate
func BenchmarkLateJoin(b *testing.B) {
	tr, err := readTrace("../../../shared/traces/automerge-paper.json.gz")
	if err != nil {
		b.Skip(err)
	}
	doc := crdt.NewDoc()
	for _, t := range tr.Txns {
		for _, p := range t.Patches {
			text := doc.Text(benchTextName)
			if p.del > 0 {
				if _, err := text.Delete(p.pos, p.del); err != nil {
					b.Fatal(err)
				}
			}
			if p.ins != "" {
				if _, err := text.Insert(p.pos, p.ins); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	snapshot := doc.Snapshot()
	cfg := docsync.Config{RoomIdleTimeout: time.Second}
	b.Run("store=cluster", func(b *testing.B) {
		nodes := startInProcessCluster(b, 3, cfg)
		benchLateJoin(b, nodes[0].st, nodes[1].url, snapshot, len(tr.EndContent))
	})
	b.Run("store=bolt", func(b *testing.B) {
		st, err := store.OpenBolt(filepath.Join(b.TempDir(), "late.db"), store.BoltOptions{})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		url := "ws://" + serveStore(b, cfg, st)
		benchLateJoin(b, st, url, snapshot, len(tr.EndContent))
	})
}

// benchLateJoin stores snapshot as a new room through st, then times a
// client of url joining it until synced, b.N times.
func benchLateJoin(b *testing.B, st store.Store, url string, snapshot []byte, textBytes int) {
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	b.ReportMetric(float64(len(snapshot)), "snapshot-bytes")
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		room := fmt.Sprintf("paper-%d", i)
		if err := st.Compact(room, snapshot); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		c, err := docsync.Dial(ctx, url+"/ws/"+room, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.WaitSynced(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if got := c.Text(benchTextName); len(got) != textBytes {
			b.Fatalf("the late joiner reads %d bytes, want %d", len(got), textBytes)
		}
		c.Close()
		b.StartTimer()
	}
}
