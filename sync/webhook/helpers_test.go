package webhook

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/flowstate/flowstate/store"
)

// value reads a counter or gauge.
func value(m prometheus.Metric) float64 {
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		panic(err)
	}
	if pb.Counter != nil {
		return pb.Counter.GetValue()
	}
	return pb.Gauge.GetValue()
}

// A receiver is a real HTTP server on 127.0.0.1 that checks signatures,
// as an application would, and records the events it acknowledged.
type receiver struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	status   int           // answer; 0 means 200
	hang     chan struct{} // when set, requests wait for it to close
	attempts int
	bad      []string          // signature failures
	got      []Event           // acknowledged, in order, duplicates included
	byID     map[string]Event  // each once
	active   map[net.Conn]bool // connections reading or answering a request
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{t: t, byID: make(map[string]Event), active: make(map[net.Conn]bool)}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	// A connection is active from the first byte of a request until its
	// answer is written (httptest keeps this hook and adds its own).
	r.srv.Config.ConnState = func(c net.Conn, st http.ConnState) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if st == http.StateActive {
			r.active[c] = true
		} else {
			delete(r.active, c)
		}
	}
	r.srv.Start()
	t.Cleanup(func() {
		r.setHang(false)
		r.srv.Close()
	})
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.attempts++
	hang, status := r.hang, r.status
	r.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-req.Context().Done():
			return
		}
	}
	if status != 0 {
		w.WriteHeader(status)
		return
	}
	var ev Event
	err := Verify(testSecret, req.Header.Get(HeaderSignature), body, time.Minute)
	if err == nil {
		err = json.Unmarshal(body, &ev)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil || ev.ID != req.Header.Get(HeaderEventID) || ev.Type != req.Header.Get(HeaderEventType) {
		r.bad = append(r.bad, req.Header.Get(HeaderEventID))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.got = append(r.got, ev)
	r.byID[ev.ID] = ev
}

func (r *receiver) setStatus(code int) {
	r.mu.Lock()
	r.status = code
	r.mu.Unlock()
}

// quiesce closes the connections of senders that are gone and waits
// until no request is read or answered any more, so that a request a
// closed dispatcher had sent cannot be answered after the test changes
// what the receiver answers.
func (r *receiver) quiesce() {
	r.t.Helper()
	r.srv.CloseClientConnections()
	waitFor(r.t, "the receiver's requests answered", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.active) == 0
	})
}

// setHang makes requests wait until setHang(false).
func (r *receiver) setHang(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if on && r.hang == nil {
		r.hang = make(chan struct{})
	}
	if !on && r.hang != nil {
		close(r.hang)
		r.hang = nil
	}
}

// events returns the distinct events acknowledged, in the order of their
// first acknowledgement.
func (r *receiver) events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := make(map[string]bool)
	var out []Event
	for _, ev := range r.got {
		if !seen[ev.ID] {
			seen[ev.ID] = true
			out = append(out, ev)
		}
	}
	return out
}

func (r *receiver) badSignatures() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.bad)
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fastConfig is a configuration with short waits, for tests.
func fastConfig(eps ...Endpoint) Config {
	return Config{
		Endpoints:  eps,
		Secret:     testSecret,
		Debounce:   50 * time.Millisecond,
		MinBackoff: 5 * time.Millisecond,
		MaxBackoff: 50 * time.Millisecond,
		Timeout:    5 * time.Second,
		Logger:     slog.New(slog.DiscardHandler),
	}
}

// openBolt opens a real data file in t.TempDir.
func openBolt(t testing.TB) (*store.Bolt, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flowstate.db")
	st, err := store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, path
}

// start starts a dispatcher closed when the test ends.
func start(t testing.TB, cfg Config, ob store.Outbox) *Dispatcher {
	t.Helper()
	d, err := New(cfg, ob)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// deliveries returns the outbox's delivery records.
func deliveries(t testing.TB, ob store.Outbox) []store.OutboxRecord {
	t.Helper()
	recs, err := ob.ReadOutbox(prefixDelivery)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func types(evs []Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Type+" "+ev.Room)
	}
	return out
}
