package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flowstate/flowstate/store"
	docsync "github.com/flowstate/flowstate/sync"
)

// Defaults of the Config fields.
const (
	DefaultDebounce   = 2 * time.Second
	DefaultRetryFor   = 24 * time.Hour
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = time.Hour
	DefaultTimeout    = 10 * time.Second
	DefaultMaxPending = 100_000
)

// Config configures a Dispatcher. The zero value of each duration and
// count selects its default.
type Config struct {
	// Endpoints are the receivers. Each gets every event its filter
	// takes, in a delivery loop of its own.
	Endpoints []Endpoint

	// Secret keys the HMAC of every request (HeaderSignature). It must
	// be at least docsync.MinSecretBytes long.
	Secret []byte

	// Debounce is the shortest time between two room.changed events of a
	// room: the first change opens a window, and the changes made until
	// it ends go out as one event. Zero means DefaultDebounce (2 s).
	Debounce time.Duration

	// RetryFor is how long an event is retried before it is counted as
	// failed and dropped, from when it was made. Zero means
	// DefaultRetryFor (24 h).
	RetryFor time.Duration

	// MinBackoff and MaxBackoff bound the wait between attempts, which
	// doubles with each failure, and half of which is random. Zero means
	// DefaultMinBackoff (1 s) and DefaultMaxBackoff (1 h).
	MinBackoff, MaxBackoff time.Duration

	// Timeout bounds one request, answer included. Zero means
	// DefaultTimeout (10 s).
	Timeout time.Duration

	// MaxPending is the most undelivered events one receiver may have;
	// events past it are dropped and counted as failed, as the memory
	// and disk they hold must be bounded. Zero means DefaultMaxPending
	// (100,000).
	MaxPending int

	// Logger receives the dispatcher's logs. Nil means slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Debounce, DefaultDebounce)
	def(&c.RetryFor, DefaultRetryFor)
	def(&c.MinBackoff, DefaultMinBackoff)
	def(&c.MaxBackoff, DefaultMaxBackoff)
	def(&c.Timeout, DefaultTimeout)
	c.MaxBackoff = max(c.MaxBackoff, c.MinBackoff)
	if c.MaxPending <= 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// maxOutboxRetry bounds the wait between two attempts to write events to
// the outbox: the store's failures are usually short (a full disk being
// cleared), and events wait in memory meanwhile.
const maxOutboxRetry = 5 * time.Second

// Outbox key prefixes (store.Outbox): "d/<receiver>/<event ID>" holds one
// delivery (encodeDelivery), "s/<room hash>" the state vector last
// notified for a room (encodeNotified), keySince when webhooks were first
// enabled.
const (
	prefixDelivery = "d/"
	prefixNotified = "s/"
	keySince       = "m/since"
)

// A Dispatcher turns a hub's hooks into webhook requests, through a
// durable outbox: an event is in the outbox before any attempt to send
// it, and leaves it once its receiver answered 2xx (or RetryFor passed),
// so that a restart or a receiver's outage loses none (at least once).
//
// Its hook methods (OnChange, OnCreate, OnDelete, OnIdle) never block on
// the network or the disk: they record the event in memory and return.
// A goroutine writes the events to the outbox in batches, then each
// receiver's own goroutine sends them.
type Dispatcher struct {
	cfg     Config
	secret  []byte
	outbox  store.Outbox
	log     *slog.Logger
	metrics *metrics
	eps     []*endpoint

	// mu guards pending, ready and lastID.
	mu      sync.Mutex
	pending map[string]*change // room → changes waiting for their window to end
	ready   []Event            // events to write now
	lastID  int64

	wake   chan struct{}
	cancel context.CancelFunc
	ctx    context.Context
	done   sync.WaitGroup // the writer
	loops  sync.WaitGroup // the receivers' loops
}

// A change is a room's changes merged over one debounce window.
type change struct {
	due   time.Time
	sv    []byte
	size  int
	texts map[string]struct{}
	maps  map[string]struct{}
}

// New returns a dispatcher for cfg, keeping its events in ob, and starts
// it: the deliveries left in the outbox by an earlier run are sent again
// at once. Deliveries to receivers no longer configured are dropped.
func New(cfg Config, ob store.Outbox) (*Dispatcher, error) {
	cfg = cfg.withDefaults()
	if len(cfg.Secret) < docsync.MinSecretBytes {
		return nil, fmt.Errorf("webhook: the secret is %d bytes; it must be at least %d (make one with: openssl rand -hex 32)", len(cfg.Secret), docsync.MinSecretBytes)
	}
	d := &Dispatcher{
		cfg:     cfg,
		secret:  slices.Clone(cfg.Secret),
		outbox:  ob,
		log:     cfg.Logger,
		metrics: newMetrics(),
		pending: make(map[string]*change),
		wake:    make(chan struct{}, 1),
	}
	seen, names := make(map[string]bool), make(map[string]bool)
	for i, e := range cfg.Endpoints {
		if _, err := ParseEndpoint(e.URL); err != nil {
			return nil, err
		}
		for _, t := range e.Events {
			if !knownType(t) {
				return nil, fmt.Errorf("webhook %q: unknown event %q", redact(e.URL), t)
			}
		}
		if seen[e.URL] {
			return nil, fmt.Errorf("webhook %q is given twice", redact(e.URL))
		}
		seen[e.URL] = true
		name := redact(e.URL)
		if names[name] {
			// Two URLs that differ only in what is redacted: keep
			// their series apart.
			name = fmt.Sprintf("%s#%d", name, i+1)
		}
		names[name] = true
		d.eps = append(d.eps, newEndpoint(d, e, name))
	}
	if err := d.reload(); err != nil {
		return nil, err
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.done.Add(1)
	go d.write()
	for _, ep := range d.eps {
		d.loops.Add(1)
		go func() {
			defer d.loops.Done()
			ep.run(d.ctx)
		}()
	}
	return d, nil
}

// reload queues the deliveries an earlier run left in the outbox.
func (d *Dispatcher) reload() error {
	recs, err := d.outbox.ReadOutbox(prefixDelivery)
	if err != nil {
		return fmt.Errorf("webhook: reading the outbox: %w", err)
	}
	byPrefix := make(map[string]*endpoint, len(d.eps))
	for _, ep := range d.eps {
		byPrefix[ep.prefix] = ep
	}
	queued := make(map[*endpoint][]*delivery)
	var gone []string
	// Deliveries reloaded are kept whatever MaxPending: they are stored.
	for _, r := range recs {
		var ep *endpoint
		if i := strings.IndexByte(r.Key[len(prefixDelivery):], '/'); i >= 0 {
			ep = byPrefix[r.Key[:len(prefixDelivery)+i+1]]
		}
		if ep == nil {
			gone = append(gone, r.Key)
			continue
		}
		created, body, ev, err := decodeDelivery(r.Value)
		if err != nil {
			// Left in place: nothing is changed on data that cannot be
			// read, and it cannot be sent.
			d.log.Error("webhook outbox: a record does not decode; skipped", "key", r.Key, "err", err)
			continue
		}
		queued[ep] = append(queued[ep], &delivery{key: r.Key, id: ev.ID, typ: ev.Type, body: body, created: created})
	}
	if len(gone) > 0 {
		d.log.Warn("webhook outbox: dropping the undelivered events of receivers no longer configured", "events", len(gone))
		if err := d.outbox.WriteOutbox(nil, gone); err != nil {
			return fmt.Errorf("webhook: clearing the outbox: %w", err)
		}
	}
	for ep, ds := range queued {
		d.log.Info("webhook: resending undelivered events", "receiver", ep.name, "events", len(ds))
		ep.mu.Lock()
		ep.count += len(ds)
		ep.mu.Unlock()
		ep.add(ds...)
	}
	return nil
}

// Hooks returns h with OnChange, OnCreate, OnDelete and OnIdle set to
// call the dispatcher after whatever h had there.
func (d *Dispatcher) Hooks(h docsync.Hooks) docsync.Hooks {
	chain := func(prev, next func(string)) func(string) {
		if prev == nil {
			return next
		}
		return func(room string) { prev(room); next(room) }
	}
	if prev := h.OnChange; prev != nil {
		h.OnChange = func(ev docsync.ChangeEvent) { prev(ev); d.OnChange(ev) }
	} else {
		h.OnChange = d.OnChange
	}
	h.OnCreate = chain(h.OnCreate, d.OnCreate)
	h.OnDelete = chain(h.OnDelete, d.OnDelete)
	h.OnIdle = chain(h.OnIdle, d.OnIdle)
	return h
}

// OnChange records a durable change of a room, to go out as room.changed
// when the room's debounce window ends. It never blocks. An event the hub
// coalesced (ChangeEvent.Coalesced) merges like any other: it carries the
// room's latest state.
func (d *Dispatcher) OnChange(ev docsync.ChangeEvent) {
	d.mu.Lock()
	c := d.pending[ev.Room]
	opened := c == nil
	if opened {
		c = &change{due: time.Now().Add(d.cfg.Debounce), texts: make(map[string]struct{}), maps: make(map[string]struct{})}
		d.pending[ev.Room] = c
	}
	c.sv = slices.Clone(ev.StateVector)
	c.size = ev.Size
	for _, t := range ev.Texts {
		c.texts[t] = struct{}{}
	}
	for _, m := range ev.Maps {
		c.maps[m] = struct{}{}
	}
	d.mu.Unlock()
	if opened {
		d.poke()
	}
}

// OnCreate records room.created. It never blocks.
func (d *Dispatcher) OnCreate(room string) { d.now(EventCreated, room) }

// OnDelete records room.deleted, after a room.changed still waiting for
// the room. It never blocks.
func (d *Dispatcher) OnDelete(room string) { d.now(EventDeleted, room) }

// OnIdle records room.idle, after a room.changed still waiting for the
// room. It never blocks.
func (d *Dispatcher) OnIdle(room string) { d.now(EventIdle, room) }

// now queues an event to be written at once, after the room's waiting
// changes.
func (d *Dispatcher) now(typ, room string) {
	d.mu.Lock()
	if c := d.pending[room]; c != nil {
		d.ready = append(d.ready, d.changedEvent(room, c))
		delete(d.pending, room)
	}
	d.ready = append(d.ready, Event{ID: d.newID(), Type: typ, Room: room, Time: time.Now().UTC()})
	d.mu.Unlock()
	d.poke()
}

func (d *Dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// changedEvent makes the room.changed event of c. d.mu must be held.
func (d *Dispatcher) changedEvent(room string, c *change) Event {
	return Event{ID: d.newID(), Type: EventChanged, Room: room, Time: time.Now().UTC(),
		StateVector: c.sv, Size: c.size, Texts: slices.Sorted(maps.Keys(c.texts)), Maps: slices.Sorted(maps.Keys(c.maps))}
}

// newID returns an event ID: the time in nanoseconds, made unique and
// increasing within the process, and random bits against other
// processes, in hex, so that IDs sort by time. d.mu must be held.
func (d *Dispatcher) newID() string {
	ns := max(time.Now().UnixNano(), d.lastID+1)
	d.lastID = ns
	return fmt.Sprintf("%016x%08x", ns, rand.Uint32())
}

// write is the writer goroutine: it takes the events due, writes them to
// the outbox in one call, then hands them to their receivers. When the
// dispatcher closes it writes every change still waiting first.
func (d *Dispatcher) write() {
	defer d.done.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		closing := d.ctx.Err() != nil
		events, next := d.take(closing)
		if len(events) > 0 {
			d.persist(events, closing)
		}
		if closing {
			return
		}
		timer.Reset(next)
		select {
		case <-d.ctx.Done():
		case <-d.wake:
		case <-timer.C:
		}
	}
}

// take returns the events due (all of them with all) and how long until
// the next one is.
func (d *Dispatcher) take(all bool) ([]Event, time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	events := d.ready
	d.ready = nil
	now := time.Now()
	next := time.Hour
	for _, room := range slices.Sorted(maps.Keys(d.pending)) {
		c := d.pending[room]
		if wait := c.due.Sub(now); wait > 0 && !all {
			next = min(next, wait)
			continue
		}
		events = append(events, d.changedEvent(room, c))
		delete(d.pending, room)
	}
	return events, next
}

// persist writes events to the outbox, one delivery per receiver that
// wants it, with the rooms' notified state vectors, then queues them.
// A failed write is retried with backoff: the events are not lost while
// the process lives, and the rooms' state vectors recover the changes if
// it dies (Recover).
func (d *Dispatcher) persist(events []Event, closing bool) {
	var puts []store.OutboxRecord
	var dels []string
	queued := make(map[*endpoint][]*delivery)
	now := time.Now()
	for _, ev := range events {
		body, err := json.Marshal(ev)
		if err != nil {
			d.log.Error("webhook: encoding an event failed", "err", err)
			continue
		}
		switch ev.Type {
		case EventChanged:
			puts = append(puts, store.OutboxRecord{Key: notifiedKey(ev.Room), Value: encodeNotified(now, ev.Room, ev.StateVector)})
		case EventDeleted:
			dels = append(dels, notifiedKey(ev.Room))
		}
		for _, ep := range d.eps {
			if !ep.wants(ev.Type) {
				continue
			}
			if !ep.reserve() {
				ep.drop(ev.ID)
				continue
			}
			dl := &delivery{key: ep.prefix + ev.ID, id: ev.ID, typ: ev.Type, body: body, created: ev.Time, next: now}
			puts = append(puts, store.OutboxRecord{Key: dl.key, Value: encodeDelivery(ev.Time, body)})
			queued[ep] = append(queued[ep], dl)
		}
	}
	for attempt := 1; ; attempt++ {
		err := d.outbox.WriteOutbox(puts, dels)
		if err == nil {
			break
		}
		if closing || errors.Is(err, store.ErrClosed) {
			d.log.Error("webhook outbox: writing events failed; changes are recovered at the next start", "events", len(events), "err", err)
			for ep, ds := range queued {
				ep.release(len(ds))
			}
			return
		}
		d.log.Error("webhook outbox: writing events failed; retrying", "events", len(events), "err", err)
		select {
		case <-time.After(min(d.backoff(attempt), maxOutboxRetry)):
		case <-d.ctx.Done():
			closing = true
		}
	}
	for _, ep := range d.eps {
		if ds := queued[ep]; len(ds) > 0 {
			ep.add(ds...)
		}
	}
}

// Close writes the changes still waiting for their debounce window to the
// outbox, and stops every delivery: what is undelivered stays in the
// outbox for the next run. Call it before closing the store, after the
// hub has shut down.
func (d *Dispatcher) Close() error {
	d.cancel()
	d.done.Wait()
	d.loops.Wait()
	return nil
}

// Collectors returns the dispatcher's Prometheus series, for the server
// to export.
func (d *Dispatcher) Collectors() []prometheus.Collector {
	m := d.metrics
	return []prometheus.Collector{m.pending, m.delivered, m.failed, m.attempts}
}
