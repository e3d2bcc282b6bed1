package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
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

func startNode(t *testing.T) *node {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "flowstate.db"), store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := docsync.NewServer(docsync.Config{}, st)
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
	a, b := startNode(t), startNode(t)
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
	b := startNode(t)
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
