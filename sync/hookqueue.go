package sync

import (
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// hookQueueLen is how many hook calls may wait before the queue stops
// growing: past it, a room's changes coalesce into the one change of the
// room already waiting last, and OnLoad, OnIdle, OnCreate and OnDelete
// calls are dropped and counted. See Hooks for what a hook may rely on.
const hookQueueLen = 4096

type hookKind uint8

const (
	hookLoad hookKind = iota + 1
	hookChange
	hookIdle
	hookCreate
	hookDelete
)

var hookNames = [...]string{
	hookLoad:   "load",
	hookChange: "change",
	hookIdle:   "idle",
	hookCreate: "create",
	hookDelete: "delete",
}

// A hookEntry is one hook call waiting in the queue.
type hookEntry struct {
	kind   hookKind
	room   string
	change ChangeEvent // for hookChange
}

// A hookQueue calls a hub's hooks from one goroutine of its own, in the
// order the rooms reported their events, so that hooks never run on a
// room's goroutine and a room never waits for one. The queue is bounded
// (hookQueueLen) and never loses a change of the document: when the hooks
// fall behind, a room's consecutive changes are delivered as one
// ChangeEvent that carries the state after the last of them.
type hookQueue struct {
	hooks  Hooks
	logger *slog.Logger

	calls     *prometheus.CounterVec
	dropped   *prometheus.CounterVec
	coalesced prometheus.Counter

	wake chan struct{} // has room for one signal: entries were added
	done chan struct{} // closed when run returns

	mu sync.Mutex
	// mu guards the fields below.
	entries []*hookEntry
	last    map[string]*hookEntry // each room's last entry, while it waits
	closed  bool
	// droppedLogged is when a drop was last logged; droppedSince counts
	// the drops since.
	droppedLogged time.Time
	droppedSince  int
}

// newHookQueue returns the queue of a hub's hooks, registering its series
// in reg, and starts its goroutine if any hook is set; otherwise the
// queue ignores every event.
func newHookQueue(hooks Hooks, logger *slog.Logger, reg *prometheus.Registry) *hookQueue {
	q := &hookQueue{
		hooks:  hooks,
		logger: logger,
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "hook_calls_total",
			Help: "Calls of the embedding program's hooks, by hook: load, change, idle, create, delete."}, []string{"hook"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "hook_events_dropped_total",
			Help: "Hook calls dropped because the hooks fell more than 4096 calls behind (changes are coalesced instead, never dropped)."}, []string{"hook"}),
		coalesced: prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "hook_changes_coalesced_total",
			Help: "Room changes folded into a waiting OnChange call because the hooks fell behind."}),
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
		last: make(map[string]*hookEntry),
	}
	reg.MustRegister(q.calls, q.dropped, q.coalesced)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "hook_queue_length",
		Help: "Hook calls waiting for the hooks."}, func() float64 {
		q.mu.Lock()
		defer q.mu.Unlock()
		return float64(len(q.entries))
	}))
	for _, name := range hookNames[1:] {
		q.calls.WithLabelValues(name)
		q.dropped.WithLabelValues(name)
	}
	if !q.active() {
		close(q.done)
		return q
	}
	go q.run()
	return q
}

// active reports whether any hook is set.
func (q *hookQueue) active() bool {
	h := &q.hooks
	return h.OnLoad != nil || h.OnChange != nil || h.OnIdle != nil || h.OnCreate != nil || h.OnDelete != nil
}

// wants reports whether the hook of kind is set, so that a room skips the
// work of an event nobody hears.
func (q *hookQueue) wants(kind hookKind) bool {
	switch kind {
	case hookLoad:
		return q.hooks.OnLoad != nil
	case hookChange:
		return q.hooks.OnChange != nil
	case hookIdle:
		return q.hooks.OnIdle != nil
	case hookCreate:
		return q.hooks.OnCreate != nil
	case hookDelete:
		return q.hooks.OnDelete != nil
	}
	return false
}

// event queues a call of the hook of kind (not hookChange) for room.
func (q *hookQueue) event(kind hookKind, room string) {
	if !q.wants(kind) {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	if len(q.entries) >= hookQueueLen {
		q.dropped.WithLabelValues(hookNames[kind]).Inc()
		q.droppedSince++
		// At most one line a second: a queue this far behind may drop
		// many calls.
		if now := time.Now(); now.Sub(q.droppedLogged) >= time.Second {
			q.logger.Warn("hook calls dropped: the hooks are more than a queue behind", "hook", hookNames[kind], "room", room, "queue", len(q.entries), "dropped", q.droppedSince)
			q.droppedLogged, q.droppedSince = now, 0
		}
		return
	}
	q.pushLocked(&hookEntry{kind: kind, room: room})
}

// change queues an OnChange call. Past hookQueueLen waiting calls, it
// folds ev into the room's change waiting last, if that is the room's
// last entry: the order of a room's events holds, and each room adds at
// most one entry past the bound.
func (q *hookQueue) change(ev ChangeEvent) {
	if q.hooks.OnChange == nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	if e := q.last[ev.Room]; e != nil && e.kind == hookChange && len(q.entries) >= hookQueueLen {
		q.coalesced.Inc()
		c := &e.change
		c.Coalesced += 1 + ev.Coalesced
		c.Update = nil
		c.StateVector, c.Size = ev.StateVector, ev.Size
		for _, name := range ev.Texts {
			if !slices.Contains(c.Texts, name) {
				c.Texts = append(c.Texts, name)
			}
		}
		for _, name := range ev.Maps {
			if !slices.Contains(c.Maps, name) {
				c.Maps = append(c.Maps, name)
			}
		}
		return
	}
	q.pushLocked(&hookEntry{kind: hookChange, room: ev.Room, change: ev})
}

func (q *hookQueue) pushLocked(e *hookEntry) {
	q.entries = append(q.entries, e)
	q.last[e.room] = e
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run calls the hooks until the queue is closed and empty.
func (q *hookQueue) run() {
	defer close(q.done)
	for {
		q.mu.Lock()
		for len(q.entries) == 0 {
			if q.closed {
				q.mu.Unlock()
				return
			}
			q.mu.Unlock()
			<-q.wake
			q.mu.Lock()
		}
		e := q.entries[0]
		q.entries[0] = nil
		q.entries = q.entries[1:]
		if q.last[e.room] == e {
			delete(q.last, e.room)
		}
		q.mu.Unlock()
		q.call(e)
	}
}

// call calls e's hook. A hook that panics is logged and counted as
// called: it takes neither the queue nor the process down with it.
func (q *hookQueue) call(e *hookEntry) {
	defer func() {
		if p := recover(); p != nil {
			q.logger.Error("a hook panicked", "hook", hookNames[e.kind], "room", e.room, "panic", p)
		}
	}()
	q.calls.WithLabelValues(hookNames[e.kind]).Inc()
	switch e.kind {
	case hookLoad:
		q.hooks.OnLoad(e.room)
	case hookChange:
		q.hooks.OnChange(e.change)
	case hookIdle:
		q.hooks.OnIdle(e.room)
	case hookCreate:
		q.hooks.OnCreate(e.room)
	case hookDelete:
		q.hooks.OnDelete(e.room)
	}
}

// close lets the queue's goroutine end once it has called the hooks of
// every event queued so far; later events are ignored.
func (q *hookQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	q.closed = true
	select {
	case q.wake <- struct{}{}:
	default:
	}
}
