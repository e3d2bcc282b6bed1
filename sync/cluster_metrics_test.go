//go:build !nonats

package sync_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"testing"

	"github.com/flowstate/flowstate/store"
	docsync "github.com/flowstate/flowstate/sync"
)

// seriesValue returns the value of the series name (without labels) in
// a /metrics body, and whether it is there.
func seriesValue(body []byte, name string) (float64, bool) {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	return v, err == nil
}

// TestClusterMetrics reads /metrics on each node of a real three-node
// cluster: the publish latency of the node that took the writes, the
// cluster membership every node sees, and no entry left to apply once
// the followers caught up.
func TestClusterMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-node cluster takes seconds to form")
	}
	t.Parallel() // waits mostly on the cluster's elections; see startNodes
	nodes := startNodes(t, 3, testConfig())
	const room = "metrics"
	writer := dial(t, nodes[0].ts, room, nil)
	reader := dial(t, nodes[1].ts, room, nil)
	for i := range 5 {
		insert(t, writer, 0, fmt.Sprintf("<%d>", i))
	}
	waitSyncedCluster(t, writer)
	waitTextCluster(t, "", writer, reader)

	want := map[string]float64{
		"flowstate_cluster_peers":            3,
		"flowstate_cluster_peers_current":    3,
		"flowstate_cluster_quorum":           1,
		"flowstate_cluster_meta_leader":      1,
		"flowstate_cluster_info_error":       0,
		"flowstate_jetstream_follow_pending": 0,
	}
	for i, node := range nodes {
		waitFor(t, clusterWait, func() error {
			status, _, body := get(t, "http://"+node.ts.addr+"/metrics", nil)
			if status != http.StatusOK {
				return fmt.Errorf("node %d: GET /metrics: %d", i, status)
			}
			for name, v := range want {
				if got, ok := seriesValue(body, name); !ok || got != v {
					return fmt.Errorf("node %d: %s = %v (present: %v), want %v", i, name, got, ok, v)
				}
			}
			n, ok := seriesValue(body, "flowstate_jetstream_publish_seconds_count")
			if !ok {
				return fmt.Errorf("node %d: no flowstate_jetstream_publish_seconds", i)
			}
			if i == 0 && n < 1 {
				return fmt.Errorf("node 0 took the writes, but flowstate_jetstream_publish_seconds_count = %v", n)
			}
			return nil
		})
	}
}

// health returns ts's /healthz.
func health(t *testing.T, ts *testServer) docsync.Health {
	t.Helper()
	var h docsync.Health
	status, _, body := get(t, "http://"+ts.addr+"/healthz", nil)
	if status != http.StatusOK {
		t.Fatalf("GET /healthz: %d %s", status, body)
	}
	if err := json.Unmarshal(body, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestClusterHealth reads /healthz on each node of a real three-node
// cluster: each tells its own name, the cluster's, the meta leader and
// the log's peers, all current. A single node's /healthz has no cluster.
func TestClusterHealth(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-node cluster takes seconds to form")
	}
	t.Parallel() // waits mostly on the cluster's elections; see startNodes
	nodes := startNodes(t, 3, testConfig())
	for i, node := range nodes {
		waitFor(t, clusterWait, func() error {
			var h docsync.Health
			status, _, body := get(t, "http://"+node.ts.addr+"/healthz", nil)
			if status != http.StatusOK {
				return fmt.Errorf("node %d: GET /healthz: %d %s", i, status, body)
			}
			if err := json.Unmarshal(body, &h); err != nil {
				return err
			}
			c := h.Cluster
			switch {
			case c == nil:
				return fmt.Errorf("node %d: /healthz has no cluster: %s", i, body)
			case h.ClusterError != "":
				return fmt.Errorf("node %d: cluster_error %q", i, h.ClusterError)
			case c.Node != fmt.Sprintf("node%d", i) || c.Cluster != "test" || c.Replicas != 3:
				return fmt.Errorf("node %d: node %q, cluster %q, replicas %d", i, c.Node, c.Cluster, c.Replicas)
			case c.MetaLeader == "" || c.Leader == "" || !c.Quorum:
				return fmt.Errorf("node %d: meta leader %q, leader %q, quorum %v", i, c.MetaLeader, c.Leader, c.Quorum)
			case len(c.Peers) != 3:
				return fmt.Errorf("node %d: peers %+v", i, c.Peers)
			}
			names := map[string]bool{}
			for _, p := range c.Peers {
				if !p.Current {
					return fmt.Errorf("node %d: peer %s not current", i, p.Name)
				}
				names[p.Name] = true
			}
			if len(names) != 3 || c.Peers[0].Name != c.Leader {
				return fmt.Errorf("node %d: peers %+v, leader %q", i, c.Peers, c.Leader)
			}
			return nil
		})
	}

	single := startServer(t, testConfig(), store.NewMemory())
	status, _, body := get(t, "http://"+single.addr+"/healthz", nil)
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); status != http.StatusOK || err != nil {
		t.Fatalf("single node: GET /healthz: %d %v %s", status, err, body)
	}
	if _, ok := raw["cluster"]; ok {
		t.Errorf("single node: /healthz has a cluster: %s", body)
	}
}
