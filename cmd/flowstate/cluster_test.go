package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowstate/flowstate/crdt"
	docsync "github.com/flowstate/flowstate/sync"
)

// A clusterNode is one "flowstate serve --cluster-name" process.
type clusterNode struct {
	args []string
	cmd  *exec.Cmd
	addr string // its WebSocket server's address
	logs *serverLog
}

// startClusterNodes starts n embedded-cluster nodes on 127.0.0.1 and
// waits until each listens: each waits for the others to form the
// JetStream cluster before it does.
func startClusterNodes(t *testing.T, bin string, n int) []*clusterNode {
	t.Helper()
	var routes []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		routes = append(routes, l.Addr().String())
		l.Close()
	}
	dir := t.TempDir()
	nodes := make([]*clusterNode, n)
	for i := range n {
		nodes[i] = &clusterNode{args: []string{
			"--log-format", "json", "--addr", "127.0.0.1:0",
			"--cluster-name", "test", "--cluster-listen", routes[i],
			"--cluster-peers", strings.Join(routes, ","),
			"--node-name", fmt.Sprintf("node%d", i),
			"--cluster-store", filepath.Join(dir, fmt.Sprintf("node%d", i)),
			"--data", filepath.Join(dir, "unused.db"),
		}}
	}
	waits := make([]func(), n)
	for i, node := range nodes {
		waits[i] = node.start(t, bin)
	}
	for _, wait := range waits {
		wait()
	}
	return nodes
}

// start starts the node's process; the function it returns waits until
// the node listens.
func (n *clusterNode) start(t *testing.T, bin string) (wait func()) {
	t.Helper()
	cmd := exec.Command(bin, n.args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	n.cmd, n.logs = cmd, &serverLog{}
	addr := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stderr)
		for lines.Scan() {
			n.logs.add(lines.Text())
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(lines.Bytes(), &rec) == nil && rec.Msg == "listening" {
				addr <- rec.Addr
			}
		}
		close(addr)
	}()
	return func() {
		t.Helper()
		select {
		case a, ok := <-addr:
			if !ok {
				t.Fatalf("node exited before listening:\n%s", n.logs)
			}
			n.addr = a
		case <-time.After(60 * time.Second):
			t.Fatalf("node did not listen within 60 s:\n%s", n.logs)
		}
	}
}

func (n *clusterNode) url(room string) string { return "ws://" + n.addr + "/ws/" + room }

// writeAcked appends count unique tokens through a client of url, each
// waiting for its Ack, and returns them.
func writeAcked(t *testing.T, url, prefix string, count int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := docsync.Dial(ctx, url, &docsync.ClientOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var tokens []string
	for i := range count {
		token := fmt.Sprintf("<%s%d>", prefix, i)
		if err := c.Edit(func(d *crdt.Doc) error {
			_, err := d.Text("body").Insert(0, token)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitSynced(ctx); err != nil {
			t.Fatalf("%s: %v", token, err)
		}
		tokens = append(tokens, token)
	}
	return tokens
}

// waitTokens joins url with a fresh client and waits until its text
// holds every token exactly once.
func waitTokens(t *testing.T, url string, tokens []string, when string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := docsync.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	defer c.Close()
	var bad string
	for ctx.Err() == nil {
		text := c.Text("body")
		bad = ""
		for _, tok := range tokens {
			if n := strings.Count(text, tok); n != 1 {
				bad = fmt.Sprintf("%s is there %d times", tok, n)
				break
			}
		}
		if bad == "" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: %s", when, bad)
}

// TestServeCluster runs three real "flowstate serve" processes in
// embedded-cluster mode: edits acknowledged through any node reach every
// node; with one node killed (SIGKILL) the other two go on acknowledging;
// restarted, the killed node serves everything acknowledged meanwhile.
func TestServeCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three servers")
	}
	bin := buildBinary(t)
	nodes := startClusterNodes(t, bin, 3)
	const room = "team.notes"
	var acked []string
	for i, n := range nodes {
		acked = append(acked, writeAcked(t, n.url(room), fmt.Sprintf("n%d.", i), 5)...)
	}
	for i, n := range nodes {
		waitTokens(t, n.url(room), acked, fmt.Sprintf("node %d", i))
	}

	if err := nodes[2].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = nodes[2].cmd.Wait()
	for i, n := range nodes[:2] {
		acked = append(acked, writeAcked(t, n.url(room), fmt.Sprintf("k%d.", i), 5)...)
	}
	nodes[2].start(t, bin)()
	for i, n := range nodes {
		waitTokens(t, n.url(room), acked, fmt.Sprintf("after node 2's restart, node %d", i))
	}
	if t.Failed() {
		for i, n := range nodes {
			t.Logf("node %d:\n%s", i, n.logs)
		}
	}
}

// Contradictory or malformed cluster flags stop the server before it
// starts, naming the flag.
func TestServeClusterFlagsRefused(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--nats", "nats://127.0.0.1:4222", "--cluster-name", "fs"}, "give one of them"},
		{[]string{"--cluster-peers", "127.0.0.1:6222"}, "--cluster-peers needs --cluster-name"},
		{[]string{"--cluster-name", "fs", "--replicas", "0"}, "--replicas"},
		{[]string{"--cluster-name", "fs", "--replicas", "six"}, "--replicas"},
		{[]string{"--cluster-name", "fs", "--replicas", "7"}, "--replicas"},
	}
	for _, tt := range tests {
		var stderr strings.Builder
		if code := runServe(append(tt.args, "--addr", "127.0.0.1:0"), io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("serve %q = %d, %q; want 2 and a message with %q", tt.args, code, stderr.String(), tt.want)
		}
	}
}
