package webhook

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowstate/flowstate/store"
	docsync "github.com/flowstate/flowstate/sync"
)

var parseEndpointTests = []struct {
	in     string
	want   Endpoint
	errHas string
}{
	{in: "https://app.example/hook", want: Endpoint{URL: "https://app.example/hook"}},
	{in: "http://127.0.0.1:9000/h?k=v;events=room.changed,room.idle",
		want: Endpoint{URL: "http://127.0.0.1:9000/h?k=v", Events: []string{EventChanged, EventIdle}}},
	{in: "https://a/h;events=room.deleted,room.deleted", want: Endpoint{URL: "https://a/h", Events: []string{EventDeleted}}},
	{in: "ftp://a/h", errHas: "http:// or https://"},
	{in: "/relative", errHas: "http:// or https://"},
	{in: "https://user:pw@a/h?token=s3cret;events=room.moved", errHas: `unknown event "room.moved"`},
	{in: "https://a/h;events=", errHas: "unknown event"},
}

func TestParseEndpoint(t *testing.T) {
	for _, tt := range parseEndpointTests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseEndpoint(tt.in)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("err = %v, want one saying %q", err, tt.errHas)
				}
				if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "pw") {
					t.Fatalf("the error shows a credential: %v", err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

var badConfigs = []struct {
	name   string
	change func(*Config)
	errHas string
}{
	{"weak secret", func(c *Config) { c.Secret = []byte("short") }, "at least 32"},
	{"bad URL", func(c *Config) { c.Endpoints = []Endpoint{{URL: "ftp://x/"}} }, "http:// or https://"},
	{"unknown event", func(c *Config) { c.Endpoints = []Endpoint{{URL: "http://x/", Events: []string{"room.moved"}}} }, "room.moved"},
	{"twice", func(c *Config) { c.Endpoints = []Endpoint{{URL: "http://x/"}, {URL: "http://x/"}} }, "twice"},
}

func TestNewRefusesBadConfigs(t *testing.T) {
	for _, tt := range badConfigs {
		t.Run(tt.name, func(t *testing.T) {
			cfg := fastConfig()
			tt.change(&cfg)
			if _, err := New(cfg, store.NewMemory()); err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("New: %v, want an error saying %q", err, tt.errHas)
			}
		})
	}
}

// Events arrive signed, in order, each receiver gets what its filter
// takes, changes within a window go out as one event carrying the latest
// state vector and size and every text changed, and the outbox empties.
func TestDelivery(t *testing.T) {
	all, idleOnly := newReceiver(t), newReceiver(t)
	ob := store.NewMemory()
	d := start(t, fastConfig(Endpoint{URL: all.srv.URL}, Endpoint{URL: idleOnly.srv.URL, Events: []string{EventIdle}}), ob)
	d.OnCreate("notes")
	d.OnChange(docsync.ChangeEvent{Room: "notes", StateVector: []byte{1}, Size: 10, Texts: []string{"body"}})
	d.OnChange(docsync.ChangeEvent{Room: "notes", StateVector: []byte{2}, Size: 20, Texts: []string{"title"}, Maps: []string{"meta"}})
	d.OnChange(docsync.ChangeEvent{Room: "notes", StateVector: []byte{3}, Size: 30, Texts: []string{"body"}})
	d.OnIdle("notes")
	waitFor(t, "three events", func() bool { return len(all.events()) == 3 && len(idleOnly.events()) == 1 })
	got := all.events()
	if want := []string{"room.created notes", "room.changed notes", "room.idle notes"}; !reflect.DeepEqual(types(got), want) {
		t.Fatalf("events %q, want %q", types(got), want)
	}
	ch := got[1]
	if !reflect.DeepEqual(ch.StateVector, []byte{3}) || ch.Size != 30 || !reflect.DeepEqual(ch.Texts, []string{"body", "title"}) || !reflect.DeepEqual(ch.Maps, []string{"meta"}) {
		t.Fatalf("room.changed = %+v: want the last state vector and size, texts body and title, map meta", ch)
	}
	if !(got[0].ID < got[1].ID && got[1].ID < got[2].ID) {
		t.Errorf("IDs do not sort in order: %s %s %s", got[0].ID, got[1].ID, got[2].ID)
	}
	if idleOnly.events()[0].ID != got[2].ID {
		t.Errorf("the two receivers got different IDs for room.idle")
	}
	if bad := all.badSignatures(); len(bad) > 0 {
		t.Fatalf("signatures failed: %q", bad)
	}
	waitFor(t, "an empty outbox", func() bool { return len(deliveries(t, ob)) == 0 })
	m := d.metrics
	if n := value(m.delivered.WithLabelValues(all.srv.URL)); n != 3 {
		t.Errorf("delivered = %v, want 3", n)
	}
	if n := value(m.pending.WithLabelValues(all.srv.URL)); n != 0 {
		t.Errorf("pending = %v, want 0", n)
	}
}

// Receivers whose URLs differ only in their query, which may hold a
// credential, get series of their own, without the query.
func TestReceiverNames(t *testing.T) {
	d := start(t, fastConfig(Endpoint{URL: "http://127.0.0.1:1/h?key=s3cret"}, Endpoint{URL: "http://127.0.0.1:1/h?key=other"}), store.NewMemory())
	if a, b := d.eps[0].name, d.eps[1].name; a != "http://127.0.0.1:1/h" || b != "http://127.0.0.1:1/h#2" {
		t.Fatalf("names %q and %q", a, b)
	}
}

// A room whose name is as long as a key may be is notified like any
// other: its outbox records are keyed by a hash.
func TestLongRoomName(t *testing.T) {
	r := newReceiver(t)
	ob, _ := openBolt(t)
	d := start(t, fastConfig(Endpoint{URL: r.srv.URL}), ob)
	room := strings.Repeat("r", 32768)
	d.OnChange(docsync.ChangeEvent{Room: room, StateVector: []byte{1}, Size: 1})
	waitFor(t, "the event", func() bool { return len(r.events()) == 1 })
	if got := r.events()[0].Room; got != room {
		t.Fatalf("room of %d bytes, want %d", len(got), len(room))
	}
	recs, err := ob.ReadOutbox(prefixNotified)
	if err != nil || len(recs) != 1 {
		t.Fatalf("notified records: %d, %v", len(recs), err)
	}
	if _, got, _, err := decodeNotified(recs[0].Value); err != nil || got != room {
		t.Fatalf("the notified record names a room of %d bytes, %v", len(got), err)
	}
}

// Changes every 2 ms for 300 ms with a 50 ms window give an event per
// window at most, each at least a window after the last, and the last
// carries the final state.
func TestDebounce(t *testing.T) {
	r := newReceiver(t)
	cfg := fastConfig(Endpoint{URL: r.srv.URL})
	d := start(t, cfg, store.NewMemory())
	began := time.Now()
	n := 0
	for time.Since(began) < 300*time.Millisecond {
		n++
		d.OnChange(docsync.ChangeEvent{Room: "r", StateVector: []byte{byte(n)}, Size: n, Texts: []string{"t"}})
		time.Sleep(2 * time.Millisecond)
	}
	waitFor(t, "the final state", func() bool {
		evs := r.events()
		return len(evs) > 0 && evs[len(evs)-1].Size == n
	})
	evs := r.events()
	if max := int(time.Since(began)/cfg.Debounce) + 1; len(evs) > max || len(evs) < 2 {
		t.Fatalf("%d room.changed events for %d changes; want 2 to %d", len(evs), n, max)
	}
	for i := 1; i < len(evs); i++ {
		if gap := evs[i].Time.Sub(evs[i-1].Time); gap < cfg.Debounce {
			t.Errorf("events %d and %d are %v apart, less than the window", i-1, i, gap)
		}
	}
}

// A receiver that fails for a while gets every event once it is back;
// none is counted failed, and the attempts while it was down are few.
func TestReceiverDownThenUp(t *testing.T) {
	r := newReceiver(t)
	r.setStatus(http.StatusServiceUnavailable)
	ob, _ := openBolt(t)
	d := start(t, fastConfig(Endpoint{URL: r.srv.URL}), ob)
	for i := range 50 {
		d.OnCreate(string(rune('a'+i%26)) + strings.Repeat("x", i/26))
	}
	waitFor(t, "50 events in the outbox", func() bool { return len(deliveries(t, ob)) == 50 })
	time.Sleep(300 * time.Millisecond)
	r.setStatus(0)
	waitFor(t, "every event", func() bool { return len(r.events()) == 50 })
	if n := value(d.metrics.failed.WithLabelValues(r.srv.URL)); n != 0 {
		t.Errorf("failed = %v, want 0", n)
	}
	// 300 ms down with backoff of 5 to 50 ms: tens of attempts, not one
	// per event per backoff.
	if n := value(d.metrics.attempts.WithLabelValues(r.srv.URL)); n > 50+40 {
		t.Errorf("%v attempts for 50 events and a 300 ms outage", n)
	}
	waitFor(t, "an empty outbox", func() bool { return len(deliveries(t, ob)) == 0 })
}

// Undelivered events survive a restart of the dispatcher and its data
// file, and deliveries to a receiver no longer configured are dropped.
func TestRestartResends(t *testing.T) {
	r, gone := newReceiver(t), newReceiver(t)
	r.setStatus(http.StatusInternalServerError)
	gone.setStatus(http.StatusInternalServerError)
	ob, path := openBolt(t)
	d, err := New(fastConfig(Endpoint{URL: r.srv.URL}, Endpoint{URL: gone.srv.URL}), ob)
	if err != nil {
		t.Fatal(err)
	}
	d.OnCreate("a")
	d.OnChange(docsync.ChangeEvent{Room: "a", StateVector: []byte{1}, Size: 1, Texts: []string{"t"}})
	d.OnDelete("b")
	waitFor(t, "6 deliveries in the outbox", func() bool { return len(deliveries(t, ob)) == 6 })
	d.Close()
	ob.Close()
	// A retry the closed dispatcher had sent may still be on its way:
	// answered after the status changes, it would count as acknowledged.
	r.quiesce()
	gone.quiesce()
	r.setStatus(0)
	gone.setStatus(0)

	ob2, err := store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ob2.Close()
	start(t, fastConfig(Endpoint{URL: r.srv.URL}), ob2)
	waitFor(t, "3 events", func() bool { return len(r.events()) == 3 })
	// In the order of their IDs: the change's when its window ended.
	if want := []string{"room.created a", "room.deleted b", "room.changed a"}; !reflect.DeepEqual(types(r.events()), want) {
		t.Fatalf("after the restart: %q, want %q", types(r.events()), want)
	}
	waitFor(t, "an empty outbox", func() bool { return len(deliveries(t, ob2)) == 0 })
	if n := len(gone.events()); n != 0 {
		t.Fatalf("the removed receiver got %d events", n)
	}
}

// A receiver that hangs delays neither the other receiver nor the hooks.
func TestSlowReceiverDelaysNoOther(t *testing.T) {
	slow, fast := newReceiver(t), newReceiver(t)
	slow.setHang(true)
	d := start(t, fastConfig(Endpoint{URL: slow.srv.URL}, Endpoint{URL: fast.srv.URL}), store.NewMemory())
	var worst atomic.Int64
	for i := range 200 {
		began := time.Now()
		d.OnCreate("r" + string(rune('0'+i%10)))
		d.OnChange(docsync.ChangeEvent{Room: "r", StateVector: []byte{1}, Size: i})
		worst.Store(max(worst.Load(), int64(time.Since(began))))
	}
	waitFor(t, "the fast receiver's 201 events", func() bool { return len(fast.events()) == 201 })
	if len(slow.events()) != 0 {
		t.Fatal("the hanging receiver acknowledged")
	}
	t.Logf("slowest pair of hook calls: %v", time.Duration(worst.Load()))
}

// An event retried for RetryFor is counted failed and leaves the outbox.
func TestGiveUp(t *testing.T) {
	r := newReceiver(t)
	r.setStatus(http.StatusBadGateway)
	ob := store.NewMemory()
	cfg := fastConfig(Endpoint{URL: r.srv.URL})
	cfg.RetryFor = 100 * time.Millisecond
	d := start(t, cfg, ob)
	d.OnIdle("r")
	waitFor(t, "the event counted failed", func() bool { return value(d.metrics.failed.WithLabelValues(r.srv.URL)) == 1 })
	if recs := deliveries(t, ob); len(recs) != 0 {
		t.Fatalf("%d deliveries left in the outbox", len(recs))
	}
	if n := value(d.metrics.attempts.WithLabelValues(r.srv.URL)); n < 2 {
		t.Fatalf("%v attempts: it was not retried", n)
	}
}

// Past MaxPending, new events are dropped and counted failed.
func TestMaxPending(t *testing.T) {
	r := newReceiver(t)
	r.setStatus(http.StatusInternalServerError)
	ob := store.NewMemory()
	cfg := fastConfig(Endpoint{URL: r.srv.URL})
	cfg.MaxPending = 3
	d := start(t, cfg, ob)
	for range 5 {
		d.OnIdle("r")
	}
	waitFor(t, "two failed", func() bool { return value(d.metrics.failed.WithLabelValues(r.srv.URL)) == 2 })
	if n := len(deliveries(t, ob)); n != 3 {
		t.Fatalf("%d deliveries in the outbox, want 3", n)
	}
}

// failingOutbox fails writes while failing is set.
type failingOutbox struct {
	store.Outbox
	failing atomic.Bool
}

var errDisk = errors.New("injected: disk full")

func (f *failingOutbox) WriteOutbox(put []store.OutboxRecord, del []string) error {
	if f.failing.Load() {
		return errDisk
	}
	return f.Outbox.WriteOutbox(put, del)
}

// While the outbox cannot be written, events wait in memory and are
// written, then sent, once it can; nothing is sent before it is durable.
func TestOutboxFailure(t *testing.T) {
	r := newReceiver(t)
	ob := &failingOutbox{Outbox: store.NewMemory()}
	ob.failing.Store(true)
	d := start(t, fastConfig(Endpoint{URL: r.srv.URL}), ob)
	d.OnCreate("a")
	d.OnDelete("a")
	time.Sleep(100 * time.Millisecond)
	if n := len(r.events()); n != 0 {
		t.Fatalf("%d events sent before they were durable", n)
	}
	ob.failing.Store(false)
	waitFor(t, "both events", func() bool { return len(r.events()) == 2 })
}

// Close writes the changes still in their debounce window.
func TestCloseWritesWaitingChanges(t *testing.T) {
	ob := store.NewMemory()
	cfg := fastConfig(Endpoint{URL: "http://127.0.0.1:1/unreachable"})
	cfg.Debounce = time.Hour
	d, err := New(cfg, ob)
	if err != nil {
		t.Fatal(err)
	}
	d.OnChange(docsync.ChangeEvent{Room: "r", StateVector: []byte{7}, Size: 1, Texts: []string{"t"}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	closed := make(chan struct{})
	go func() { d.Close(); close(closed) }()
	select {
	case <-closed:
	case <-ctx.Done():
		t.Fatal("Close hangs")
	}
	recs := deliveries(t, ob)
	if len(recs) != 1 {
		t.Fatalf("%d deliveries after Close, want the waiting change", len(recs))
	}
	_, _, ev, err := decodeDelivery(recs[0].Value)
	if err != nil || ev.Type != EventChanged || !slices.Equal(ev.StateVector, []byte{7}) {
		t.Fatalf("the record: %+v, %v", ev, err)
	}
}
