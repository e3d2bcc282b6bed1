package sync

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metricsNamespace prefixes every series the hub exports.
const metricsNamespace = "flowstate"

// Buckets of the latency histograms, in seconds: from 10µs (applying a
// keystroke) to 2.5s (an fsync on a struggling disk).
var latencyBuckets = []float64{1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5}

// documentBuckets are the buckets of the snapshot sizes, in bytes: 256 B
// to 64 MiB (the default MaxDocBytes) in powers of four.
var documentBuckets = prometheus.ExponentialBuckets(256, 4, 10)

// hubMetrics are a hub's Prometheus series. They live in a registry of the
// hub's own rather than the global one, so that several hubs in a process
// (tests, embedders) do not collide.
//
// The counters are atomic and cheap, but the room goroutine still adds up
// its per-delivery counts in roomCounters and adds them here once per loop
// iteration, so that a broadcast to a thousand members costs one atomic
// add per counter, not a thousand.
type hubMetrics struct {
	reg *prometheus.Registry

	updatesReceived     prometheus.Counter
	updateBytesReceived prometheus.Counter
	updatesRelayed      prometheus.Counter
	patchesReceived     prometheus.Counter
	patchesSent         prometheus.Counter
	deliveries          prometheus.Counter
	bytesSent           prometheus.Counter
	presenceUpdates     prometheus.Counter
	slowConsumers       prometheus.Counter
	storeErrors         *prometheus.CounterVec
	applySeconds        prometheus.Histogram
	slowUpdates         prometheus.Counter
	applyPanics         prometheus.Counter
	storeCommitSeconds  prometheus.Histogram
	storeCompactSeconds prometheus.Histogram
	documentBytes       prometheus.Histogram

	// closed and rejected are indexed by closeReason; rejected is nil
	// for the reasons that are not a refused message.
	closed   []prometheus.Counter
	rejected []prometheus.Counter
}

// newHubMetrics registers the hub's series, the Go runtime's and the
// process's in a new registry. stats is read at scrape time only.
func newHubMetrics(stats func() Stats) *hubMetrics {
	reg := prometheus.NewRegistry()
	f := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace, Name: name, Help: help})
		reg.MustRegister(c)
		return c
	}
	h := func(name, help string, buckets []float64) prometheus.Histogram {
		o := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: metricsNamespace, Name: name, Help: help, Buckets: buckets})
		reg.MustRegister(o)
		return o
	}
	m := &hubMetrics{
		reg:                 reg,
		updatesReceived:     f("updates_received_total", "CRDT updates that reached their room, including those refused as invalid."),
		updateBytesReceived: f("update_bytes_received_total", "Bytes of the CRDT updates received from clients."),
		updatesRelayed:      f("updates_relayed_total", "CRDT updates relayed, counted once per recipient."),
		patchesReceived:     f("patches_received_total", "Client messages that carried their update as a Patch against the one before it (protocol version 5)."),
		patchesSent:         f("patches_sent_total", "Relays that carried their update as a Patch against the one relayed before it (protocol version 5)."),
		deliveries:          f("deliveries_total", "Messages queued to clients: welcomes, updates, acks and presence."),
		bytesSent:           f("bytes_sent_total", "Bytes of the messages queued to clients, WebSocket framing included."),
		presenceUpdates:     f("presence_updates_total", "Presence changes received from clients."),
		slowConsumers:       f("slow_consumer_disconnects_total", "Sessions closed because their send queue overflowed (4008)."),
		applySeconds:        h("apply_seconds", "Time to apply one CRDT update to a room's document.", latencyBuckets),
		slowUpdates:         f("slow_updates_total", "CRDT updates whose apply took longer than the budget (applyBudget), each also logged."),
		applyPanics:         f("apply_panics_total", "CRDT updates whose apply panicked: the sender was closed with 4004 and the document rebuilt."),
		storeCommitSeconds:  h("store_commit_seconds", "Time for the store to make one batch of a room's updates durable.", latencyBuckets),
		storeCompactSeconds: h("store_compact_seconds", "Time to encode a room's snapshot and replace its log with it.", latencyBuckets),
		documentBytes:       h("document_bytes", "Size of each snapshot saved, in bytes.", documentBuckets),
	}
	m.storeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Name: "store_errors_total", Help: "Store operations that failed, by operation.",
	}, []string{"op"})
	reg.MustRegister(m.storeErrors)
	for _, op := range []string{"load", "append", "compact", "delete"} {
		m.storeErrors.WithLabelValues(op) // exported at zero from the start
	}

	closed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Name: "sessions_closed_total", Help: "Sessions ended, by close reason and WebSocket close code.",
	}, []string{"reason", "code"})
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Name: "rejected_messages_total", Help: "Client messages or connections refused, by close reason and WebSocket close code.",
	}, []string{"reason", "code"})
	reg.MustRegister(closed, rejected)
	// One series per close reason, created now so that each is exported
	// at zero before it first happens (a rate over a series that appears
	// mid-way misses its first increase), and looked up by index later.
	m.closed = make([]prometheus.Counter, len(closeReasons))
	m.rejected = make([]prometheus.Counter, len(closeReasons))
	for i := 1; i < len(closeReasons); i++ {
		r := closeReason(i)
		code := strconv.Itoa(int(r.code()))
		m.closed[i] = closed.WithLabelValues(r.String(), code)
		if r.isRejection() {
			m.rejected[i] = rejected.WithLabelValues(r.String(), code)
		}
	}

	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "connections", Help: "WebSocket sessions open, joined or not."},
			func() float64 { return float64(stats().Connections) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "rooms_open", Help: "Rooms open in memory."},
			func() float64 { return float64(stats().Rooms) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// A MetricsCollector is a store with Prometheus series of its own, such
// as store/jsstore's publish latency and cluster membership: a hub on it
// serves them at /metrics beside its own.
type MetricsCollector interface {
	Collectors() []prometheus.Collector
}

// isRejection reports whether the server closes a session for reason
// because of something the client sent (or failed to send). Every reason
// is one except those listed: the client leaving, the server leaving, a
// slow reader, a dead connection and a server fault, so that a reason added to closeReasons
// is counted as a rejection without touching this file.
func (r closeReason) isRejection() bool {
	switch r {
	case closedByClient, closedGoingAway, closedSlowConsumer, closedInternalError, closedRoomDeleted, closedHeartbeatTimeout:
		return false
	}
	return true
}

// sessionClosed counts a session's end.
func (m *hubMetrics) sessionClosed(r closeReason) {
	if r <= 0 || int(r) >= len(m.closed) {
		return
	}
	m.closed[r].Inc()
	if c := m.rejected[r]; c != nil {
		c.Inc()
	}
}

// roomCounters are the counts a room adds up between two flushes to the
// hub's counters. Owned by the room's goroutine.
type roomCounters struct {
	updates, updateBytes int
	relayed, patched     int
	deliveries, bytes    int
	presence             int
}

// flushCounters adds the room's counts to the hub's metrics and zeroes
// them.
func (r *room) flushCounters() {
	c, m := &r.counters, r.hub.metrics
	if *c == (roomCounters{}) {
		return
	}
	addIf(m.updatesReceived, c.updates)
	addIf(m.updateBytesReceived, c.updateBytes)
	addIf(m.updatesRelayed, c.relayed)
	addIf(m.patchesSent, c.patched)
	addIf(m.deliveries, c.deliveries)
	addIf(m.bytesSent, c.bytes)
	addIf(m.presenceUpdates, c.presence)
	*c = roomCounters{}
}

func addIf(c prometheus.Counter, n int) {
	if n > 0 {
		c.Add(float64(n))
	}
}

// Registry returns the registry holding the hub's metrics, which a Server
// serves at GET /metrics. Callers may register collectors of their own in
// it.
func (h *Hub) Registry() *prometheus.Registry { return h.metrics.reg }
