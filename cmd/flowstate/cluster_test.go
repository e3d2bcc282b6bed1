package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/store/jsstore"
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
//
// The tests of such a cluster spend most of their time waiting for
// nats-server's Raft elections (4 to 9 s each, at the start and after a
// node dies or stops), so the longest call t.Parallel: their waits
// overlap. Each has its own processes, ports and directories.
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

// dialRetry dials url until it succeeds, for up to a minute: while a
// stream's leader moves off a node that died or stopped, loads fail for
// some seconds (the server refuses the join with 1011), and a client
// comes back later, as real ones do.
func dialRetry(t *testing.T, url string, opts *docsync.ClientOptions) *docsync.Client {
	t.Helper()
	var c *docsync.Client
	waitFor(t, time.Minute, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		var err error
		c, err = docsync.Dial(ctx, url, opts)
		return err
	})
	return c
}

// writeAcked appends count unique tokens through a client of url, each
// waiting for its Ack, and returns them.
func writeAcked(t *testing.T, url, prefix string, count int) []string {
	t.Helper()
	// A minute: with a node just killed and restarted, or paused, the
	// others may first have to elect new stream and meta leaders, which
	// on a loaded machine has taken over 30 s.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := dialRetry(t, url, &docsync.ClientOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
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
	c := dialRetry(t, url, nil)
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

// pauseFor is how long TestClusterKillCycles pauses a node.
const pauseFor = 5 * time.Second

// TestClusterKillCycles runs three real "flowstate serve" processes in
// embedded-cluster mode, with writers in three rooms on every node, and
// kills a random node (SIGKILL) at a random moment of each cycle, then
// restarts it. Writers of the killed node stop; the others go on. Then
// a node is paused (SIGSTOP) while the others take edits, and its member
// catches up once it goes on. At the end, every edit acknowledged through
// any node is on every node, exactly once. FLOWSTATE_SOAK (make soak) runs cycles for that long.
func TestClusterKillCycles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three servers")
	}
	t.Parallel() // waits mostly on elections; see startClusterNodes
	bin := buildBinary(t)
	nodes := startClusterNodes(t, bin, 3)
	defer func() {
		if t.Failed() {
			for i, n := range nodes {
				t.Logf("node %d:\n%s", i, n.logs)
			}
		}
	}()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	rooms := []string{"team.notes", "a_b", "x~y"}
	end := time.Now().Add(soakDuration(t) / 4) // as the crash test's share
	acked := make([]map[string]bool, len(rooms))
	for i := range acked {
		acked[i] = make(map[string]bool)
	}
	cycle := 0
	for ; cycle < 3 || time.Now().Before(end); cycle++ {
		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		var wg sync.WaitGroup
		for n, node := range nodes {
			for r, room := range rooms {
				wg.Add(1)
				go func() {
					defer wg.Done()
					opts := &docsync.ClientOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
					ok, _ := editUntilCancelled(ctx, t, node.url(room), opts, cycle, r*10+n)
					mu.Lock()
					for _, tok := range ok {
						acked[r][tok] = true
					}
					mu.Unlock()
				}()
			}
		}
		victim := nodes[rng.IntN(len(nodes))]
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		if err := victim.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = victim.cmd.Wait()
		time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond) // the others write on
		cancel()
		wg.Wait()
		victim.start(t, bin)()
		if t.Failed() {
			break
		}
	}
	// A node paused (SIGSTOP) while the others take edits: once it goes
	// on (SIGCONT), its member catches up.
	paused := nodes[rng.IntN(len(nodes))]
	// A node just restarted may take a while to load a room: its
	// replicas are catching up.
	member := dialRetry(t, paused.url(rooms[0]), nil)
	defer member.Close()
	if err := paused.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	pause := time.Now()
	for i, n := range nodes {
		if n != paused {
			for _, tok := range writeAcked(t, n.url(rooms[0]), fmt.Sprintf("p%d.", i), 5) {
				acked[0][tok] = true
			}
		}
	}
	time.Sleep(time.Until(pause.Add(pauseFor)))
	if err := paused.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, func() error {
		text := member.Text("body")
		for tok := range acked[0] {
			if strings.Count(text, tok) != 1 {
				return fmt.Errorf("the paused node's member has %s %d times", tok, strings.Count(text, tok))
			}
		}
		return nil
	})

	total := 0
	for r, room := range rooms {
		var tokens []string
		for tok := range acked[r] {
			tokens = append(tokens, tok)
		}
		total += len(tokens)
		for i, n := range nodes {
			waitTokens(t, n.url(room), tokens, fmt.Sprintf("room %s, node %d", room, i))
		}
	}
	t.Logf("%d cycles: %d edits acknowledged", cycle, total)
	if total == 0 {
		t.Error("no edit was ever acknowledged")
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
		{[]string{"--cluster-client-listen", "127.0.0.1:4222"}, "--cluster-client-listen needs --cluster-name"},
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

// TestServeExternalNATS runs two real servers on one external NATS
// server (--nats): an edit acknowledged through one reaches a client of
// the other.
func TestServeExternalNATS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs two servers")
	}
	ns, err := jsstore.StartServer(jsstore.ServerConfig{StoreDir: t.TempDir(), ClientListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	bin := buildBinary(t)
	var nodes []*clusterNode
	for range 2 {
		n := &clusterNode{args: []string{"--log-format", "json", "--addr", "127.0.0.1:0", "--nats", ns.ClientURL(), "--data", filepath.Join(t.TempDir(), "unused.db")}}
		n.start(t, bin)()
		nodes = append(nodes, n)
	}
	const room = "ext"
	acked := writeAcked(t, nodes[0].url(room), "e", 3)
	waitTokens(t, nodes[1].url(room), acked, "through the other server")
	for i, n := range nodes {
		if !strings.Contains(n.logs.String(), "NATS JetStream cluster at "+ns.ClientURL()) {
			t.Errorf("server %d does not log its storage as the external NATS server:\n%s", i, n.logs)
		}
	}
}
