package sync_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
	"github.com/flowstate/flowstate/store"
	docsync "github.com/flowstate/flowstate/sync"
)

// storeOp names a method of store.Store, for a faultStore to fail.
type storeOp int

const (
	opLoad storeOp = iota
	opAppend
	opCompact
	opRooms
	opDelete
	opOwners
	opSetOwners
	numOps
)

var opNames = [numOps]string{"Load", "Append", "Compact", "Rooms", "Delete", "Owners", "SetOwners"}

// errInjected is the error a faultStore returns for a call it fails.
var errInjected = errors.New("test: injected store fault")

// A faultStore wraps a real store and fails calls of the methods it is
// told to: each method has a failure probability in [0, 1] (0 never, 1
// always). It counts every call and every failure per method.
type faultStore struct {
	store.Store
	mu   stdsync.Mutex
	rng  *rand.Rand
	fail [numOps]float64 // guarded by mu
	// corrupt makes the failures report damaged records (store.ErrCorrupt).
	corrupt atomic.Bool
	calls   [numOps]atomic.Int64
	fails   [numOps]atomic.Int64
}

func newFaultStore(inner store.Store, seed uint64) *faultStore {
	return &faultStore{Store: inner, rng: rand.New(rand.NewPCG(seed, 7))}
}

// set makes op fail with probability p from now on.
func (f *faultStore) set(op storeOp, p float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[op] = p
}

// heal makes every method succeed again.
func (f *faultStore) heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = [numOps]float64{}
}

// fault counts a call of op and reports whether it fails.
func (f *faultStore) fault(op storeOp) error {
	f.calls[op].Add(1)
	f.mu.Lock()
	p := f.fail[op]
	failed := p > 0 && f.rng.Float64() < p
	f.mu.Unlock()
	if !failed {
		return nil
	}
	f.fails[op].Add(1)
	if f.corrupt.Load() {
		return fmt.Errorf("%s: %w: %w", opNames[op], errInjected, store.ErrCorrupt)
	}
	return fmt.Errorf("%s: %w", opNames[op], errInjected)
}

func (f *faultStore) Load(room string) ([]byte, [][]byte, error) {
	if err := f.fault(opLoad); err != nil {
		return nil, nil, err
	}
	return f.Store.Load(room)
}

func (f *faultStore) Append(room string, updates ...[]byte) error {
	if err := f.fault(opAppend); err != nil {
		return err
	}
	return f.Store.Append(room, updates...)
}

func (f *faultStore) Compact(room string, snapshot []byte) error {
	if err := f.fault(opCompact); err != nil {
		return err
	}
	return f.Store.Compact(room, snapshot)
}

func (f *faultStore) Rooms() ([]store.RoomInfo, error) {
	if err := f.fault(opRooms); err != nil {
		return nil, err
	}
	return f.Store.Rooms()
}

func (f *faultStore) Delete(room string) error {
	if err := f.fault(opDelete); err != nil {
		return err
	}
	return f.Store.Delete(room)
}

func (f *faultStore) Owners(room string) (map[uint64]string, error) {
	if err := f.fault(opOwners); err != nil {
		return nil, err
	}
	return f.Store.Owners(room)
}

func (f *faultStore) SetOwners(room string, owners map[uint64]string) error {
	if err := f.fault(opSetOwners); err != nil {
		return err
	}
	return f.Store.SetOwners(room, owners)
}

// openBolt opens a new bbolt store in the test's temporary directory and
// closes it in the test's cleanup (which runs after the server's).
func openBolt(t testing.TB) *store.Bolt {
	t.Helper()
	b, err := store.OpenBolt(filepath.Join(t.TempDir(), "flowstate.db"), store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// testSeed returns FLOWSTATE_SEED or a new seed, and logs it.
func testSeed(t testing.TB) uint64 {
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("FLOWSTATE_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (rerun with FLOWSTATE_SEED=%d)", seed, seed)
	return seed
}

// soakDuration returns FLOWSTATE_SOAK as a duration (make soak sets it),
// or short when it is unset.
func soakDuration(t testing.TB, short time.Duration) time.Duration {
	if v := os.Getenv("FLOWSTATE_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("FLOWSTATE_SOAK=%q: %v", v, err)
		}
		return d
	}
	return short
}

// A faultPhase is a stretch of a fault run during which the store's
// methods fail with the given probabilities.
type faultPhase struct {
	fail map[storeOp]float64
	for_ time.Duration
}

// everyOp fails every method of the store with probability p.
func everyOp(p float64) map[storeOp]float64 {
	m := make(map[storeOp]float64, numOps)
	for op := range numOps {
		m[op] = p
	}
	return m
}

var storeFaultTests = []struct {
	name   string
	auth   bool // writers hold tokens, so that client IDs get owners
	phases []faultPhase
	// compactsWhileFailing bounds the Compact calls during a phase, when
	// not negative: a failed Append must not bring one, though the log's
	// length may have brought one just before the first failure.
	compactsWhileFailing int64
}{
	{"append fails, then recovers", false, []faultPhase{
		{map[storeOp]float64{opAppend: 1}, 400 * time.Millisecond},
	}, 1},
	{"compact fails", false, []faultPhase{
		{map[storeOp]float64{opCompact: 1}, 600 * time.Millisecond},
	}, -1},
	{"append and compact fail", false, []faultPhase{
		{map[storeOp]float64{opAppend: 1, opCompact: 1}, 300 * time.Millisecond},
		{nil, 100 * time.Millisecond},
		{map[storeOp]float64{opAppend: 1, opCompact: 1}, 300 * time.Millisecond},
	}, -1},
	{"every method intermittently", false, []faultPhase{
		{everyOp(0.3), 600 * time.Millisecond},
	}, -1},
	{"every method intermittently, with tokens", true, []faultPhase{
		{everyOp(0.3), 600 * time.Millisecond},
	}, -1},
	{"owners fail to store, then recover", true, []faultPhase{
		{map[storeOp]float64{opSetOwners: 1}, 300 * time.Millisecond},
	}, -1},
	{"append intermittently", false, []faultPhase{
		{map[storeOp]float64{opAppend: 0.5}, 600 * time.Millisecond},
	}, -1},
}

// TestStoreFaults has clients type unique tokens while the store fails
// in the ways of storeFaultTests, and checks the durability invariant:
// whenever a client is synced (every edit acknowledged), the store
// already holds every edit it made; while the store cannot write,
// /readyz reports it; and once the store recovers, every edit every
// client made ends up stored, exactly once.
func TestStoreFaults(t *testing.T) {
	for _, tt := range storeFaultTests {
		t.Run(tt.name, func(t *testing.T) {
			seed := testSeed(t)
			docsync.SetCompactEvery(t, 10) // so that compactions happen
			fs := newFaultStore(openBolt(t), seed)
			cfg := testConfig()
			if tt.auth {
				cfg.Auth = newAuth(t, authSecret)
			}
			ts := startServerWithStore(t, cfg, fs)
			// make soak shares FLOWSTATE_SOAK among the cases.
			soak := soakDuration(t, 0) / time.Duration(len(storeFaultTests))
			runFaults(t, ts, fs, cfg.Auth, "faults", tt.phases, tt.compactsWhileFailing, seed, soak)
		})
	}
}

// runFaults runs the phases (repeated until soak has passed, if longer)
// while writers edit room (with tokens of auth, if not nil), then heals
// the store and checks the outcome.
func runFaults(t *testing.T, ts *testServer, fs *faultStore, auth *docsync.Authenticator, room string, phases []faultPhase, compactBound int64, seed uint64, soak time.Duration) {
	const writers = 3
	var (
		mu      stdsync.Mutex
		sent    []string // every token typed, over all writers
		checked int      // synced moments checked against the store
	)
	// synced checks, at a moment a writer is synced, that the store
	// holds every token the writer typed so far.
	synced := func(tokens []string) {
		mu.Lock()
		defer mu.Unlock()
		stored := storedDoc(t, fs.Store, room).Text("body").String()
		for _, tok := range tokens {
			if !strings.Contains(stored, tok) {
				t.Errorf("%s was acknowledged but the store does not hold it", tok)
				return
			}
		}
		checked++
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg stdsync.WaitGroup
	clients := make([]*docsync.Client, writers)
	for w := range writers {
		opts := clientOptions()
		if auth != nil {
			opts.Token = mintAs(t, auth, fmt.Sprintf("writer%d", w), room, docsync.PermWrite, time.Hour)
		}
		clients[w] = dial(t, ts, room, opts)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clients[w]
			var mine []string
			for i := 0; ctx.Err() == nil; i++ {
				tok := fmt.Sprintf("<%d.%d>", w, i)
				if err := c.Edit(func(d *crdt.Doc) error {
					_, err := d.Text("body").Insert(d.Text("body").Len(), tok)
					return err
				}); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				mine = append(mine, tok)
				mu.Lock()
				sent = append(sent, tok)
				mu.Unlock()
				// Mostly type on; now and then wait for the Acks.
				wait := 20 * time.Millisecond
				if i%5 == 4 {
					wait = 200 * time.Millisecond
				}
				wctx, wcancel := context.WithTimeout(ctx, wait)
				err := c.WaitSynced(wctx)
				wcancel()
				if err == nil {
					synced(mine)
				}
			}
		}()
	}

	// Connections drop now and then, so that clients rejoin a failing
	// room and resend what it has not written.
	wg.Add(1)
	drops := 0
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(seed, 3))
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(50+rng.IntN(150)) * time.Millisecond):
				drops += docsync.DropConnections(ts.srv.Hub(), 1)
			}
		}
	}()

	end := time.Now().Add(soak)
	failedAt := int64(0)
	for round := 0; round == 0 || time.Now().Before(end); round++ {
		for _, ph := range phases {
			compacts := fs.calls[opCompact].Load()
			appendsFailed := fs.fails[opAppend].Load()
			for op, p := range ph.fail {
				fs.set(op, p)
			}
			time.Sleep(ph.for_)
			fs.heal()
			if compactBound >= 0 && len(ph.fail) > 0 {
				if n := fs.calls[opCompact].Load() - compacts; n > compactBound {
					t.Errorf("round %d: %d Compact calls while %d Appends failed: want at most %d", round, n, fs.fails[opAppend].Load()-appendsFailed, compactBound)
				}
			}
			if fs.fails[opAppend].Load() > appendsFailed && failedAt == 0 {
				failedAt = fs.fails[opAppend].Load()
			}
			time.Sleep(500 * time.Millisecond) // healthy, for synced moments

		}
	}
	cancel()
	wg.Wait()
	if t.Failed() {
		return
	}
	// Healed: every client gets every edit acknowledged, and the store
	// holds each one once.
	for _, c := range clients {
		waitSynced(t, c)
	}
	text := waitConverged(t, clients...)
	stored := storedDoc(t, fs.Store, room).Text("body").String()
	if stored != text {
		t.Errorf("the store holds %d bytes, the clients %d", len(stored), len(text))
	}
	for _, tok := range sent {
		if n := strings.Count(stored, tok); n != 1 {
			t.Errorf("token %s is stored %d times", tok, n)
		}
	}
	if err := ts.srv.Hub().Ready(); err != nil {
		t.Errorf("Ready after recovery: %v", err)
	}
	var faults []string
	for op := range numOps {
		faults = append(faults, fmt.Sprintf("%s %d/%d", opNames[op], fs.fails[op].Load(), fs.calls[op].Load()))
	}
	t.Logf("%d tokens, %d synced moments checked, %d connections dropped; failed/calls: %s", len(sent), checked, drops, strings.Join(faults, ", "))
}

// While a room's writes fail it acknowledges nothing, takes no new
// update (1013), reports the store not ready, and tells a joiner only
// the state the store holds; once the store writes again, the update it
// held is written and acknowledged.
func TestStoreAppendFailure(t *testing.T) {
	fs := newFaultStore(openBolt(t), 1)
	ts := startServerWithStore(t, testConfig(), fs)
	c := joinRaw(t, ts, "append")
	c.waitAck(c.edit("body", "stored "))
	stored := crdt.StateVector{crdt.ClientID(c.id): 7}

	fs.set(opAppend, 1)
	held := c.edit("body", "held")
	waitFor(t, deadline, func() error {
		if fs.fails[opAppend].Load() == 0 {
			return errors.New("no Append failed yet")
		}
		return nil
	})
	if err := ts.srv.Hub().Ready(); err == nil {
		t.Error("Ready() = nil while the store cannot write")
	}
	// A joiner gets the update, but is told the room holds only what is
	// stored: it sends the rest back, for the room to write.
	d := dialRaw(t, ts.url("append"))
	w := d.hello("append")
	sv, err := crdt.DecodeStateVector(w.StateVector)
	if err != nil {
		t.Fatal(err)
	}
	if !sv.Equal(stored) {
		t.Errorf("Welcome state vector %v, want what the store holds, %v", sv, stored)
	}
	if got := d.doc.Text("body").String(); got != "stored held" {
		t.Errorf("joiner's body %q, want %q", got, "stored held")
	}
	// No new update while failing: 1013, and the update is not applied.
	e := d.expectClosedAfter(d.edit("body", "!"), protocol.CodeTryAgainLater)
	if !strings.Contains(e.Message, "later") {
		t.Errorf("1013 message %q", e.Message)
	}

	compacts := fs.calls[opCompact].Load()
	fs.heal()
	c.waitAck(held)
	if got := storedDoc(t, fs.Store, "append").Text("body").String(); got != "stored held" {
		t.Errorf("stored body %q, want %q", got, "stored held")
	}
	if n := fs.calls[opCompact].Load() - compacts; n != 0 {
		t.Errorf("%d compactions after a failed Append, want none", n)
	}
	waitFor(t, deadline, func() error { return ts.srv.Hub().Ready() })
}

// expectClosedAfter is expectClosed for an Error that names seq.
func (c *rawClient) expectClosedAfter(seq uint64, code protocol.Code) *protocol.Error {
	c.t.Helper()
	e := c.expectClosed(code)
	if e.Seq != seq {
		c.t.Errorf("Error.Seq = %d, want %d", e.Seq, seq)
	}
	return e
}

// A client closed with 1013 waits before it reconnects (at least a
// second, or MaxBackoff if smaller), and a Welcome does not reset that
// wait: a room that refuses updates while its store fails is not hammered
// by reconnections.
func TestClientBacksOffAfterTryLater(t *testing.T) {
	fs := newFaultStore(openBolt(t), 1)
	ts := startServerWithStore(t, testConfig(), fs)
	var connects atomic.Int64
	opts := &docsync.ClientOptions{
		MinBackoff: 5 * time.Millisecond,
		MaxBackoff: time.Second,
		OnStatus: func(s docsync.Status) {
			if s == docsync.StatusConnecting {
				connects.Add(1)
			}
		},
	}
	c := dial(t, ts, "later", opts)
	fs.set(opAppend, 1)
	insert(t, c, -1, "held")
	waitFor(t, deadline, func() error {
		if fs.fails[opAppend].Load() == 0 {
			return errors.New("no Append failed yet")
		}
		return nil
	})
	before := connects.Load()
	insert(t, c, -1, " refused") // 1013, then reconnect and resend: 1013 again
	time.Sleep(1500 * time.Millisecond)
	// Each 1013 costs a wait of at least half a second (a second, with
	// jitter of ±50 %); without it the client would reconnect every few
	// milliseconds.
	if n := connects.Load() - before; n > 4 {
		t.Errorf("%d connections in 1.5 s while the server answered 1013", n)
	}
	fs.heal()
	waitSynced(t, c)
	if got := storedDoc(t, fs.Store, "later").Text("body").String(); got != "held refused" {
		t.Errorf("stored body %q", got)
	}
}

// A write the store refuses because the room's records are damaged is not
// retried: the room is quarantined, its members closed with 1011, later
// joins refused, and the server is ready again (other rooms write).
func TestWriteToDamagedRoomQuarantines(t *testing.T) {
	fs := newFaultStore(openBolt(t), 1)
	ts := startServerWithStore(t, testConfig(), fs)
	c := joinRaw(t, ts, "damaged")
	c.waitAck(c.edit("body", "stored"))
	fs.corrupt.Store(true)
	fs.set(opAppend, 1)
	c.edit("body", " lost")
	if e := c.expectClosed(protocol.CodeInternalError); !strings.Contains(e.Message, "quarantined") {
		t.Errorf("error message %q does not say the room is quarantined", e.Message)
	}
	if n := fs.calls[opAppend].Load(); n != 2 {
		t.Errorf("%d Appends, want 2: a damaged room is not retried", n)
	}
	if _, ok := ts.srv.Hub().Quarantined()["damaged"]; !ok {
		t.Errorf("Quarantined() = %v, want damaged", ts.srv.Hub().Quarantined())
	}
	fs.heal()
	d := dialRaw(t, ts.url("damaged"))
	d.send(&protocol.Hello{Version: protocol.Version, Room: "damaged", Client: d.id, StateVector: d.doc.StateVector().Encode()})
	d.expectClosed(protocol.CodeInternalError)
	waitFor(t, deadline, func() error { return ts.srv.Hub().Ready() })
	other := joinRaw(t, ts, "other")
	other.waitAck(other.edit("body", "fine"))
}
