package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowstate/flowstate/crdt"
	docsync "github.com/flowstate/flowstate/sync"
)

// TestCrashKeepsAcknowledgedEdits kills the real server with SIGKILL at
// random moments while clients edit, restarts it on the same data file,
// and checks that every edit the server acknowledged is there: through a
// fresh client after each restart, and through "flowstate export" read
// from the file the last kill left behind.
func TestCrashKeepsAcknowledgedEdits(t *testing.T) {
	cycles := 10
	if testing.Short() {
		cycles = 3
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "flowstate.db")
	const writers = 4

	var acked []string // tokens the server acknowledged, over all cycles
	for cycle := range cycles {
		cmd, addr, logs := startBinary(t, bin, "--data", data)
		url := "ws://" + addr + "/ws/crash"
		checkTokens(t, url, acked, fmt.Sprintf("after restart %d", cycle))

		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, token := range editUntilCancelled(ctx, t, url, cycle, w) {
					mu.Lock()
					acked = append(acked, token)
					mu.Unlock()
				}
			}()
		}
		// Kill anywhere from before the first edit to well into a run.
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		cancel()
		wg.Wait()
		if t.Failed() {
			t.Fatalf("server logs:\n%s", logs)
		}
		t.Logf("cycle %d: %d edits acknowledged so far", cycle, len(acked))
	}
	if len(acked) == 0 {
		t.Fatal("no edit was ever acknowledged")
	}

	out, err := exec.Command(bin, "export", "crash", "--data", data).CombinedOutput()
	if err != nil {
		t.Fatalf("flowstate export: %v\n%s", err, out)
	}
	for _, token := range acked {
		if !strings.Contains(string(out), token) {
			t.Fatalf("flowstate export after the last kill lacks acknowledged edit %s", token)
		}
	}
}

// editUntilCancelled appends unique tokens to the room's text, one edit
// at a time, until ctx ends or the server goes away, and returns those the
// server acknowledged. An edit counts as acknowledged only when
// WaitSynced returned after it: the server has stored it.
func editUntilCancelled(ctx context.Context, t *testing.T, url string, cycle, writer int) []string {
	c, err := docsync.Dial(ctx, url, &docsync.ClientOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		return nil // killed before this client got in
	}
	defer c.Close()
	var acked []string
	for i := 0; ctx.Err() == nil; i++ {
		token := fmt.Sprintf("<%d.%d.%d>", cycle, writer, i)
		err := c.Edit(func(d *crdt.Doc) error {
			body := d.Text("body")
			_, err := body.Insert(body.Len(), token)
			return err
		})
		if err != nil {
			t.Errorf("edit: %v", err)
			return acked
		}
		if c.WaitSynced(ctx) != nil {
			return acked
		}
		acked = append(acked, token)
	}
	return acked
}

// checkTokens reads the room through a fresh client and fails unless it
// holds every token.
func checkTokens(t *testing.T, url string, tokens []string, when string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := docsync.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	text := c.Text("body")
	for _, token := range tokens {
		if strings.Count(text, token) != 1 {
			t.Fatalf("%s: acknowledged edit %s appears %d times in a document of %d characters",
				when, token, strings.Count(text, token), len(text))
		}
	}
}
