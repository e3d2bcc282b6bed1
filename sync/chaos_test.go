package sync_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/store"
	docsync "github.com/flowstate/flowstate/sync"
)

// TestChaosDroppedConnections has clients insert unique tokens while the
// server's sockets are cut at random, so that clients reconnect mid-edit,
// with updates sent and not acknowledged, or not sent at all. In the end
// every client, and the store, must hold every token exactly once. The
// second run adds a store whose writes fail now and then (so that rooms
// hold back Acks, refuse updates with 1013 and retry) and tokens, one
// user per client (so that client IDs have owners).
func TestChaosDroppedConnections(t *testing.T) {
	for _, tt := range []struct {
		name   string
		faults bool
	}{{"dropped connections", false}, {"and failing writes, with tokens", true}} {
		t.Run(tt.name, func(t *testing.T) { chaos(t, tt.faults) })
	}
}

func chaos(t *testing.T, faults bool) {
	clients, edits := 5, 150
	if testing.Short() {
		clients, edits = 3, 40
	}
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("FLOWSTATE_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (rerun with FLOWSTATE_SEED=%d)", seed, seed)
	cfg := testConfig()
	var st store.Store = store.NewMemory()
	var fs *faultStore
	if faults {
		cfg.Auth = newAuth(t, authSecret)
		fs = newFaultStore(openBolt(t), seed)
		fs.set(opAppend, 0.1)
		st = fs
	}
	ts := startServerWithStore(t, cfg, st)
	cs := make([]*docsync.Client, clients)
	for i := range cs {
		opts := clientOptions()
		if faults {
			opts.Token = mintAs(t, cfg.Auth, fmt.Sprintf("user%d", i), "chaos", docsync.PermWrite, time.Hour)
		}
		cs[i] = dial(t, ts, "chaos", opts)
	}

	stop := make(chan struct{})
	var chaos stdsync.WaitGroup
	chaos.Add(1)
	drops := 0
	go func() {
		defer chaos.Done()
		rng := rand.New(rand.NewPCG(seed, 1))
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(5+rng.IntN(20)) * time.Millisecond):
				drops += docsync.DropConnections(ts.srv.Hub(), 1+rng.IntN(2))
			}
		}
	}()

	var editors stdsync.WaitGroup
	for i, c := range cs {
		editors.Add(1)
		go func() {
			defer editors.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(i)+2))
			for j := range edits {
				token := fmt.Sprintf("[%d:%d]", i, j)
				err := c.Edit(func(d *crdt.Doc) error {
					text := d.Text("body")
					// Insert at a token boundary, so tokens stay whole.
					cuts := []int{0}
					for k, r := range []rune(text.String()) {
						if r == ']' {
							cuts = append(cuts, k+1)
						}
					}
					_, err := text.Insert(cuts[rng.IntN(len(cuts))], token)
					return err
				})
				if err != nil {
					t.Errorf("client %d: Edit: %v", i, err)
					return
				}
				time.Sleep(time.Duration(1+rng.IntN(6)) * time.Millisecond)
			}
		}()
	}
	editors.Wait()
	close(stop)
	chaos.Wait()
	t.Logf("%d connections dropped", drops)
	if fs != nil {
		fs.heal()
		t.Logf("%d of %d appends failed", fs.fails[opAppend].Load(), fs.calls[opAppend].Load())
		st = fs.Store
	}

	for _, c := range cs {
		waitSynced(t, c)
	}
	text := waitConverged(t, cs...)
	stored := storedDoc(t, st, "chaos").Text("body").String()
	if stored != text {
		t.Errorf("the store holds %d bytes, the clients %d", len(stored), len(text))
	}
	for i := range clients {
		for j := range edits {
			if n := strings.Count(text, fmt.Sprintf("[%d:%d]", i, j)); n != 1 {
				t.Errorf("token [%d:%d] appears %d times", i, j, n)
			}
		}
	}
	if want := clients * edits; strings.Count(text, "[") != want {
		t.Errorf("%d tokens in the text, want %d", strings.Count(text, "["), want)
	}
}
