package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/flowstate/flowstate/crdt"
	docsync "github.com/flowstate/flowstate/sync"
)

// soakDuration returns FLOWSTATE_SOAK as a duration ("make soak" sets
// it), or zero when it is unset: the tests then run their short version.
func soakDuration(t *testing.T) time.Duration {
	v := os.Getenv("FLOWSTATE_SOAK")
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("FLOWSTATE_SOAK=%q: %v", v, err)
	}
	return d
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory and
// unmounts it when the test ends. It skips the test unless it runs as
// root and the mount succeeds.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: mounting a small tmpfs to fill needs root (CI runs as root)")
	}
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("skipped: cannot mount a tmpfs (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes zeros to path until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			return
		}
	}
}

// TestDiskFullKeepsAcknowledgedEdits runs the real binary with its data
// file on a small tmpfs: clients edit while the disk fills up and frees
// again, then the server is killed with SIGKILL. Every edit it
// acknowledged must be in the file: read by a fresh client after a
// restart and by "flowstate export". While the disk is full, /readyz
// must answer 503 (in every cycle that feels it, the first at least);
// once it frees, the clients get synced again.
// FLOWSTATE_SOAK repeats the cycle (restart, fill, free, kill) for that
// long.
func TestDiskFullKeepsAcknowledgedEdits(t *testing.T) {
	dir := mountTmpfs(t, 4<<20)
	bin := buildBinary(t)
	data := filepath.Join(dir, "flowstate.db")
	filler := filepath.Join(dir, "filler")
	soak := soakDuration(t) / 2 // the crash tests take the other half
	end := time.Now().Add(soak)

	var acked []string // tokens acknowledged, over all cycles
	var mu sync.Mutex
	var notReady, syncedAfterFree int
	cycle := 0
	for ; cycle == 0 || time.Now().Before(end); cycle++ {
		if cycle > 0 && cycle%rotateEvery == 0 {
			// The data file grows to its high-water mark and keeps it, so
			// over a long soak it would fill the small disk by itself and
			// the disk could no longer be freed: check what it holds and
			// go on with a new one.
			checkExport(t, bin, data, acked)
			if err := os.Remove(data); err != nil {
				t.Fatal(err)
			}
			data = filepath.Join(dir, fmt.Sprintf("flowstate-%d.db", cycle))
			acked = nil
		}
		cmd, addr, logs := startBinary(t, bin, "--data", data)
		url := "ws://" + addr + "/ws/full"
		checkTokens(t, url, acked, fmt.Sprintf("after restart %d", cycle))

		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var freed atomic.Bool
		var afterFree atomic.Int64
		for w := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, tok := range editWhileSynced(ctx, t, url, cycle, w, func() {
					if freed.Load() {
						afterFree.Add(1)
					}
				}) {
					mu.Lock()
					acked = append(acked, tok)
					mu.Unlock()
				}
			}()
		}
		time.Sleep(300 * time.Millisecond)
		fill(t, filler)
		// The server notices once a write needs a page its file does not
		// have (the writers' padding soon uses up the free ones); /readyz
		// reports it.
		sawNotReady := false
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if readyz(t, addr) == http.StatusServiceUnavailable {
				sawNotReady = true
				break
			}
		}
		// A data file that grew in earlier cycles may hold enough free
		// pages to go on without the disk: then the disk is not felt, and
		// the cycle tests a kill -9 only. The first, on a new file, must.
		if sawNotReady {
			notReady++
		} else if cycle == 0 {
			t.Errorf("cycle %d: /readyz never answered 503 while the disk was full", cycle)
		}
		time.Sleep(time.Duration(200+cycle%5*200) * time.Millisecond)
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		freed.Store(true)
		waitFor(t, 15*time.Second, func() error {
			if afterFree.Load() == 0 {
				return errors.New("no client synced since the disk was freed")
			}
			return nil
		})
		syncedAfterFree++
		time.Sleep(200 * time.Millisecond)
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
	if len(acked) == 0 {
		t.Fatal("no edit was ever acknowledged")
	}
	checkExport(t, bin, data, acked)
	t.Logf("%d cycles (fill, free, kill -9): %d edits acknowledged in the last data file, all present; the full disk felt (/readyz 503) in %d, clients synced after freeing in %d",
		cycle, len(acked), notReady, syncedAfterFree)
}

// rotateEvery is how many cycles one data file serves in a long run.
const rotateEvery = 5

// checkExport requires "flowstate export" of the room "full" in data,
// read after a kill -9, to hold every acknowledged token exactly once.
func checkExport(t *testing.T, bin, data string, acked []string) {
	t.Helper()
	out, err := exec.Command(bin, "export", "full", "--data", data).CombinedOutput()
	if err != nil {
		t.Fatalf("flowstate export: %v\n%s", err, out)
	}
	for _, tok := range acked {
		if n := strings.Count(string(out), tok); n != 1 {
			t.Fatalf("flowstate export after a kill holds acknowledged edit %s %d times", tok, n)
		}
	}
}

// editWhileSynced appends unique tokens to the room's text until ctx ends
// or the server goes away, waiting briefly for the Acks after each, and
// returns the tokens acknowledged: all those typed before a moment the
// client was synced. It calls synced at each such moment. Each token
// comes with a kilobyte of padding, deleted by the next edit: the log
// grows fast, so that a full disk is felt soon, while the document (and
// so its snapshots) stays small.
func editWhileSynced(ctx context.Context, t *testing.T, url string, cycle, writer int, synced func()) []string {
	c, err := docsync.Dial(ctx, url, &docsync.ClientOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		return nil
	}
	defer c.Close()
	var typed []string
	acked := 0
	for i := 0; ctx.Err() == nil; i++ {
		tok := fmt.Sprintf("<%d.%d.%d>", cycle, writer, i)
		err := c.Edit(func(d *crdt.Doc) error {
			body := d.Text("body")
			_, err := body.Insert(body.Len(), tok+padding)
			return err
		})
		if err == nil {
			err = c.Edit(func(d *crdt.Doc) error {
				body := d.Text("body")
				start := strings.Index(body.String(), tok+padding)
				if start < 0 {
					return fmt.Errorf("token %s lost locally", tok)
				}
				_, err := body.Delete(utf8.RuneCountInString(body.String()[:start])+len(tok), len(padding))
				return err
			})
		}
		if err != nil {
			t.Errorf("edit: %v", err)
			break
		}
		typed = append(typed, tok)
		wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		if c.WaitSynced(wctx) == nil {
			acked = len(typed)
			synced()
		}
		cancel()
	}
	return typed[:acked]
}

// padding is what each token of editWhileSynced brings along, briefly.
var padding = strings.Repeat("~", 1024)

// readyz returns the status of GET /readyz.
func readyz(t *testing.T, addr string) int {
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// waitFor polls cond until it returns nil, failing the test with its last
// error after timeout.
func waitFor(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	end := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
