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
//
// With tokens, each writer is one user whose document outlives the
// kills, as an open browser tab does: after each restart it rejoins
// under the same client ID and resends what was never acknowledged, so
// the client IDs' owners must survive the kills, and no writer may be
// refused for holding another's update the server lost. In the end every
// edit typed, acknowledged or not, is stored. FLOWSTATE_SOAK runs the
// cycles for that long.
func TestCrashKeepsAcknowledgedEdits(t *testing.T) {
	bin := buildBinary(t)
	for _, tt := range []struct {
		name   string
		auth   bool
		cycles int
	}{{"open", false, 10}, {"tokens, documents kept across restarts", true, 6}} {
		t.Run(tt.name, func(t *testing.T) { crashCycles(t, bin, tt.auth, tt.cycles) })
	}
}

func crashCycles(t *testing.T, bin string, auth bool, cycles int) {
	if testing.Short() {
		cycles = 3
	}
	// make soak gives half of FLOWSTATE_SOAK to the crash tests, half to
	// the disk-full test (which runs alongside the sync package's).
	soak := soakDuration(t) / 4
	end := time.Now().Add(soak)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	data := filepath.Join(t.TempDir(), "flowstate.db")
	const writers = 4

	args := []string{"--data", data}
	writerOpts := make([]*docsync.ClientOptions, writers)
	readToken := ""
	for w := range writerOpts {
		writerOpts[w] = &docsync.ClientOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
	}
	if auth {
		args = append(args, "--auth-secret", cmdSecret)
		a, err := docsync.NewAuthenticator([]byte(cmdSecret))
		if err != nil {
			t.Fatal(err)
		}
		mint := func(sub string, perm docsync.Permission) string {
			tok, err := a.Mint(sub, "crash", perm, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		readToken = mint("", docsync.PermRead)
		for w, o := range writerOpts {
			o.Token = mint(fmt.Sprintf("writer%d", w), docsync.PermWrite)
			o.Doc = crdt.NewDoc()
		}
	}

	var acked []string // tokens the server acknowledged, over all cycles
	var typed []string // every token typed, with tokens
	cycle := 0
	for ; cycle < cycles || time.Now().Before(end); cycle++ {
		cmd, addr, logs := startBinary(t, bin, args...)
		url := "ws://" + addr + "/ws/crash"
		checkTokensWith(t, url, readToken, acked, fmt.Sprintf("after restart %d", cycle))

		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, all := editUntilCancelled(ctx, t, url, writerOpts[w], cycle, w)
				mu.Lock()
				acked = append(acked, ok...)
				typed = append(typed, all...)
				mu.Unlock()
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
	}
	t.Logf("%d cycles: %d edits acknowledged", cycle, len(acked))
	if len(acked) == 0 {
		t.Fatal("no edit was ever acknowledged")
	}
	want := acked
	if auth {
		// Each writer comes back once more and sends what it holds.
		cmd, addr, logs := startBinary(t, bin, args...)
		url := "ws://" + addr + "/ws/crash"
		for w, o := range writerOpts {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			c, err := docsync.Dial(ctx, url, o)
			if err == nil {
				err = c.WaitSynced(ctx)
				c.Close()
			}
			cancel()
			if err != nil {
				t.Fatalf("writer %d after the last restart: %v\nserver logs:\n%s", w, err, logs)
			}
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		want = typed
	}

	out, err := exec.Command(bin, "export", "crash", "--data", data).CombinedOutput()
	if err != nil {
		t.Fatalf("flowstate export: %v\n%s", err, out)
	}
	for _, token := range want {
		if strings.Count(string(out), token) != 1 {
			t.Fatalf("flowstate export after the last kill holds edit %s %d times", token, strings.Count(string(out), token))
		}
	}
}

// editUntilCancelled appends unique tokens to the room's text, one edit
// at a time, until ctx ends or the server goes away, and returns those the
// server acknowledged and all it typed. An edit counts as acknowledged
// only when WaitSynced returned after it: the server has stored it.
func editUntilCancelled(ctx context.Context, t *testing.T, url string, opts *docsync.ClientOptions, cycle, writer int) (acked, typed []string) {
	c, err := docsync.Dial(ctx, url, opts)
	if err != nil {
		return nil, nil // killed before this client got in
	}
	defer c.Close()
	for i := 0; ctx.Err() == nil; i++ {
		token := fmt.Sprintf("<%d.%d.%d>", cycle, writer, i)
		err := c.Edit(func(d *crdt.Doc) error {
			body := d.Text("body")
			_, err := body.Insert(body.Len(), token)
			return err
		})
		if err != nil {
			t.Errorf("edit: %v", err)
			return acked, typed
		}
		typed = append(typed, token)
		if c.WaitSynced(ctx) != nil {
			if err := c.Err(); err != nil {
				t.Errorf("writer %d: %v", writer, err)
			}
			return acked, typed
		}
		acked = append(acked, token)
	}
	return acked, typed
}

// checkTokens reads the room through a fresh client and fails unless it
// holds every token.
func checkTokens(t *testing.T, url string, tokens []string, when string) {
	t.Helper()
	checkTokensWith(t, url, "", tokens, when)
}

// checkTokensWith is checkTokens with a token for the server.
func checkTokensWith(t *testing.T, url, token string, tokens []string, when string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := docsync.Dial(ctx, url, &docsync.ClientOptions{Token: token})
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
