package client_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/store"
	docsync "github.com/flowstate/flowstate/sync"
	"github.com/flowstate/flowstate/sync/client"
)

// A node is a real single-node server with its own bbolt file, which a
// test may stop before it ends.
type node struct {
	addr string
	stop func()
}

func startNode(t *testing.T, cfg docsync.Config) *node {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "flowstate.db"), store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := docsync.NewServer(cfg, st)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var once sync.Once
	n := &node{addr: ln.Addr().String()}
	n.stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			if err := <-served; !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("Serve: %v", err)
			}
			st.Close()
		})
	}
	t.Cleanup(n.stop)
	return n
}

// refusingAddr returns a loopback address where nothing listens.
func refusingAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// waitUntil polls cond until it holds or the test's patience ends.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func insert(t *testing.T, c *client.Client, s string) {
	t.Helper()
	err := c.Edit(func(d *crdt.Doc) error {
		text := d.Text("t")
		_, err := text.Insert(text.Len(), s)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// When its node goes away, a client moves to the next URL of the list,
// skipping one that refuses connections within the same round (no
// offline spell between them), and the other node gets what the first
// had, and what is written after the move.
func TestDialAny_MovesToAnotherNode(t *testing.T) {
	a, b := startNode(t, docsync.Config{}), startNode(t, docsync.Config{})
	urls := []string{"ws://" + a.addr + "/ws/notes", "ws://" + refusingAddr(t) + "/ws/notes", "ws://" + b.addr + "/ws/notes"}
	var (
		mu       sync.Mutex
		statuses []client.Status
	)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c1, err := client.DialAny(ctx, urls, &client.Options{
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		OnStatus: func(s client.Status) {
			mu.Lock()
			statuses = append(statuses, s)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	if got := c1.URL(); got != urls[0] {
		t.Fatalf("URL %s, want the first, %s", got, urls[0])
	}
	insert(t, c1, "before ")
	if err := c1.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	c2, err := client.Dial(ctx, urls[2], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()

	mu.Lock()
	statuses = nil
	mu.Unlock()
	a.stop()
	waitUntil(t, "the client to join the other node", func() bool {
		return c1.URL() == urls[2] && c1.Status() == client.StatusSynced
	})
	insert(t, c1, "after")
	waitUntil(t, "the edits to reach the other node's client", func() bool {
		return c2.Text("t") == "before after"
	})
	mu.Lock()
	defer mu.Unlock()
	i := slices.Index(statuses, client.StatusConnected)
	offline := 0
	for _, s := range statuses[:max(i, 0)] {
		if s == client.StatusOffline {
			offline++
		}
	}
	if i < 0 || offline != 1 {
		t.Errorf("statuses %v: want one offline spell before joining the other node", statuses)
	}
}

// Dial skips a first URL that refuses connections at once: it makes one
// round of the URLs, with no backoff between nodes, so an hour of
// backoff does not delay it.
func TestDialAny_SkipsRefusingURL(t *testing.T) {
	b := startNode(t, docsync.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	urls := []string{"ws://" + refusingAddr(t) + "/ws/notes", "ws://" + b.addr + "/ws/notes"}
	c, err := client.DialAny(ctx, urls, &client.Options{MinBackoff: time.Hour, MaxBackoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.URL(); got != urls[1] {
		t.Errorf("URL %s, want %s", got, urls[1])
	}

	// When every URL refuses, Dial says so after one round.
	_, err = client.DialAny(ctx, urls[:1], nil)
	if err == nil {
		t.Fatal("DialAny of a refusing URL succeeded")
	}
	// URLs of different rooms are a mistake.
	if _, err := client.DialAny(ctx, []string{urls[1], "ws://" + b.addr + "/ws/other"}, nil); err == nil {
		t.Error("DialAny accepted URLs of two rooms")
	}
}

// A permanent code ends DialAny at once: every node would repeat it.
func TestDialAny_PermanentStops(t *testing.T) {
	auth, err := docsync.NewAuthenticator(make([]byte, docsync.MinSecretBytes))
	if err != nil {
		t.Fatal(err)
	}
	a, b := startNode(t, docsync.Config{Auth: auth}), startNode(t, docsync.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.DialAny(ctx, []string{"ws://" + a.addr + "/ws/notes", "ws://" + b.addr + "/ws/notes"}, nil)
	var se *client.ServerError
	if !errors.As(err, &se) {
		if c != nil {
			t.Logf("joined %s", c.URL())
			c.Close()
		}
		t.Fatalf("DialAny: %v, want a *ServerError from the node that wants a token", err)
	}
}

// An expired token ends the round at once: every node would refuse it
// too, and the next round asks TokenFunc for a fresh one.
func TestDialAny_ExpiredTokenEndsRound(t *testing.T) {
	auth, err := docsync.NewAuthenticator(make([]byte, docsync.MinSecretBytes))
	if err != nil {
		t.Fatal(err)
	}
	a, b := startNode(t, docsync.Config{Auth: auth}), startNode(t, docsync.Config{Auth: auth})
	token, err := auth.Mint("alice", "notes", docsync.PermWrite, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // expiry is kept in whole seconds
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var calls atomic.Int32
	opts := &client.Options{TokenFunc: func(context.Context) (string, error) {
		calls.Add(1)
		return token, nil
	}}
	_, err = client.DialAny(ctx, []string{"ws://" + a.addr + "/ws/notes", "ws://" + b.addr + "/ws/notes"}, opts)
	if err == nil || !strings.Contains(err.Error(), "4408") {
		t.Fatalf("DialAny: %v, want the first node's 4408", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("TokenFunc called %d times, want once", n)
	}
	if n := sessionsSeen(t, b.addr); n != 0 {
		t.Errorf("the second node saw %v sessions, want none", n)
	}
}

// sessionsSeen sums what a server's /metrics counts of ended and refused
// sessions.
func sessionsSeen(t *testing.T, addr string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "flowstate_sessions_closed_total") || strings.HasPrefix(line, "flowstate_rejected_messages_total") {
			v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			if err == nil {
				sum += v
			}
		}
	}
	return sum
}
