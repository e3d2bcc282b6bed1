package sync_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"

	"github.com/flowstate/flowstate/protocol"
	"github.com/flowstate/flowstate/store"
	docsync "github.com/flowstate/flowstate/sync"
)

// metric returns the value of the series name with the given label pairs
// ("reason", "invalid update", ...) in the server's registry: a counter's
// or gauge's value, or a histogram's sample count. It fails the test if
// the series does not exist.
func metric(t testing.TB, ts *testServer, name string, labels ...string) float64 {
	t.Helper()
	families, err := ts.srv.Hub().Registry().Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !hasLabels(m, labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

func hasLabels(m *dto.Metric, pairs []string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == pairs[i] && l.GetValue() == pairs[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// waitMetric waits until the series reaches at least want: rooms add
// their counts once per turn of their loop, a moment after the event.
func waitMetric(t testing.TB, ts *testServer, want float64, name string, labels ...string) {
	t.Helper()
	waitFor(t, deadline, func() error {
		if got := metric(t, ts, name, labels...); got < want {
			return fmt.Errorf("%s%v = %v, want at least %v", name, labels, got, want)
		}
		return nil
	})
}

// get fetches url and returns the status, the Content-Type and the body.
func get(t testing.TB, url string, header http.Header) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

// metricNames are the series GET /metrics must export from the start,
// before any traffic: a series that appears only once its first event
// happened would make rates miss that event.
var metricNames = []string{
	"flowstate_connections",
	"flowstate_rooms_open",
	"flowstate_updates_received_total",
	"flowstate_update_bytes_received_total",
	"flowstate_updates_relayed_total",
	"flowstate_patches_received_total",
	"flowstate_patches_sent_total",
	"flowstate_deliveries_total",
	"flowstate_bytes_sent_total",
	"flowstate_presence_updates_total",
	"flowstate_slow_consumer_disconnects_total",
	`flowstate_rejected_messages_total{code="4004",reason="invalid update"}`,
	`flowstate_rejected_messages_total{code="1009",reason="message too big"}`,
	`flowstate_sessions_closed_total{code="1001",reason="going away"}`,
	`flowstate_store_errors_total{op="append"}`,
	"flowstate_apply_seconds_bucket",
	"flowstate_store_commit_seconds_count",
	"flowstate_store_compact_seconds_count",
	"flowstate_document_bytes_count",
	"go_goroutines",
	"process_cpu_seconds_total",
}

func TestMetricsEndpointExportsEverySeries(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	status, ctype, body := get(t, "http://"+ts.addr+"/metrics", nil)
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", status, body)
	}
	if !strings.HasPrefix(ctype, "text/plain") {
		t.Errorf("Content-Type %q, want the Prometheus text format", ctype)
	}
	text := string(body)
	for _, name := range metricNames {
		if !strings.Contains(text, "\n"+name) {
			t.Errorf("GET /metrics lacks %s", name)
		}
	}
	// Slow consumers, clients leaving and the server leaving are not
	// rejected messages.
	rejected := rejectedLines(text)
	for _, reason := range []string{"slow consumer", "client closed", "going away", "internal error"} {
		if strings.Contains(rejected, `reason="`+reason+`"`) {
			t.Errorf("%q is counted as a rejected message", reason)
		}
	}
}

// rejectedLines returns the lines of the rejected-messages series.
func rejectedLines(text string) string {
	var b strings.Builder
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, "flowstate_rejected_messages_total{") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// Traffic moves the counters: connections, updates in, deliveries and
// bytes out, presence, and the apply, commit and compaction histograms.
func TestMetricsCountTraffic(t *testing.T) {
	ts := startServer(t, testConfig(), nil)
	a := dial(t, ts, "counted", nil)
	b := dial(t, ts, "counted", nil)
	waitMetric(t, ts, 2, "flowstate_connections")
	if got := metric(t, ts, "flowstate_rooms_open"); got != 1 {
		t.Errorf("rooms_open = %v, want 1", got)
	}

	const text = "counted once, delivered once"
	insert(t, a, -1, text)
	waitSynced(t, a)
	waitText(t, text, a, b)
	if err := a.SetPresence(map[string]string{"name": "a"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, deadline, func() error {
		if len(b.Presence()) == 0 {
			return errors.New("b has not seen a's presence")
		}
		return nil
	})

	waitMetric(t, ts, 1, "flowstate_updates_received_total")
	waitMetric(t, ts, float64(len(text)), "flowstate_update_bytes_received_total")
	waitMetric(t, ts, 1, "flowstate_updates_relayed_total")
	waitMetric(t, ts, 1, "flowstate_presence_updates_total")
	// Two welcomes, the ack, the relay and the presence at least.
	waitMetric(t, ts, 5, "flowstate_deliveries_total")
	waitMetric(t, ts, float64(len(text)), "flowstate_bytes_sent_total")
	waitMetric(t, ts, 1, "flowstate_apply_seconds")
	waitMetric(t, ts, 1, "flowstate_store_commit_seconds")
	if got := metric(t, ts, "flowstate_rejected_messages_total", "reason", "invalid update"); got != 0 {
		t.Errorf("rejected invalid updates = %v, want 0", got)
	}

	// Once both leave, the room closes after its idle timeout, saving a
	// snapshot: the compaction histograms count it.
	a.Close()
	b.Close()
	waitFor(t, deadline, func() error {
		if got := metric(t, ts, "flowstate_rooms_open"); got != 0 {
			return fmt.Errorf("rooms_open = %v", got)
		}
		if got := metric(t, ts, "flowstate_connections"); got != 0 {
			return fmt.Errorf("connections = %v", got)
		}
		return nil
	})
	if got := metric(t, ts, "flowstate_store_compact_seconds"); got < 1 {
		t.Errorf("store_compact_seconds count = %v, want at least 1", got)
	}
	if got := metric(t, ts, "flowstate_document_bytes"); got < 1 {
		t.Errorf("document_bytes count = %v, want at least 1", got)
	}
	if got := metric(t, ts, "flowstate_sessions_closed_total", "reason", "client closed"); got != 2 {
		t.Errorf("sessions closed by their client = %v, want 2", got)
	}
}

// rejectionTests each break the protocol one way and name the reason
// label that must count it.
var rejectionTests = []struct {
	name   string
	room   string // the URL's room, if not the test's
	bad    func(t *testing.T, c *rawClient, room string)
	reason string
	code   protocol.Code
}{
	{
		name: "text frame",
		bad: func(t *testing.T, c *rawClient, room string) {
			c.hello(room)
			if err := c.conn.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
				t.Fatal(err)
			}
		},
		reason: "unsupported data",
		code:   protocol.CodeUnsupportedData,
	},
	{
		name: "garbage",
		bad: func(t *testing.T, c *rawClient, room string) {
			c.hello(room)
			c.sendBytes([]byte{0xc1})
		},
		reason: "protocol error",
		code:   protocol.CodeProtocolError,
	},
	{
		name: "invalid update",
		bad: func(t *testing.T, c *rawClient, room string) {
			c.hello(room)
			first, bad := crossTextUpdates(t)
			c.waitAck(c.sendUpdates(first))
			c.sendUpdates(bad)
		},
		reason: "invalid update",
		code:   protocol.CodeInvalidUpdate,
	},
	{
		name: "message too big",
		bad: func(t *testing.T, c *rawClient, room string) {
			c.hello(room)
			c.sendBytesMayFail(make([]byte, maxMessageSize+1))
		},
		reason: "message too big",
		code:   protocol.CodeMessageTooBig,
	},
	{
		name: "unsupported version",
		bad: func(t *testing.T, c *rawClient, room string) {
			c.send(&protocol.Hello{Version: protocol.Version + 1, Room: room, Client: c.id, StateVector: c.doc.StateVector().Encode()})
		},
		reason: "unsupported version",
		code:   protocol.CodeUnsupportedVersion,
	},
	{
		name:   "invalid room",
		room:   "no*stars",
		reason: "invalid room",
		code:   protocol.CodeInvalidRoom,
	},
}

// Each rejected message is counted under its reason, and under no other.
func TestMetricsCountRejections(t *testing.T) {
	for i, tt := range rejectionTests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.MaxMessageSize = maxMessageSize
			ts := startServer(t, cfg, nil)
			room := fmt.Sprintf("rejected-%d", i)
			url := room
			if tt.room != "" {
				url = tt.room
			}
			c := dialRaw(t, ts.url(url))
			if tt.bad != nil {
				tt.bad(t, c, room)
			}
			c.expectClosed(tt.code)
			waitMetric(t, ts, 1, "flowstate_rejected_messages_total", "reason", tt.reason)
			for _, other := range rejectionTests {
				if other.reason == tt.reason {
					continue
				}
				if got := metric(t, ts, "flowstate_rejected_messages_total", "reason", other.reason); got != 0 {
					t.Errorf("rejected %q = %v, want 0", other.reason, got)
				}
			}
			code := fmt.Sprint(uint16(tt.code))
			if got := metric(t, ts, "flowstate_sessions_closed_total", "reason", tt.reason, "code", code); got != 1 {
				t.Errorf("sessions closed for %q (%s) = %v, want 1", tt.reason, code, got)
			}
		})
	}
}

// A client that stops reading is counted as a slow consumer, not as a
// rejected message.
func TestMetricsCountSlowConsumer(t *testing.T) {
	cfg := testConfig()
	cfg.QueueLength = 16
	cfg.QueueBytes = 64 << 10
	cfg.RateMessages, cfg.RateBytes = -1, -1 // the flood is the point
	ts := startServer(t, cfg, nil)
	writer := dial(t, ts, "slow", nil)
	joinRaw(t, ts, "slow")
	chunk := strings.Repeat("x", 16<<10)
	for sent := 0; metric(t, ts, "flowstate_slow_consumer_disconnects_total") == 0; sent += len(chunk) {
		if sent > 256<<20 {
			t.Fatalf("the stalled client is still connected after %d MiB", sent>>20)
		}
		flood(t, writer, chunk)
	}
	waitMetric(t, ts, 1, "flowstate_slow_consumer_disconnects_total")
	waitMetric(t, ts, 1, "flowstate_sessions_closed_total", "reason", "slow consumer")
	if got := rejectedTotal(t, ts); got != 0 {
		t.Errorf("rejected messages = %v, want 0", got)
	}
}

// rejectedTotal sums the rejected-messages series over every reason.
func rejectedTotal(t testing.TB, ts *testServer) float64 {
	t.Helper()
	families, err := ts.srv.Hub().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() == "flowstate_rejected_messages_total" {
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// A failed append is counted as a store error, turns GET /readyz 503,
// and the update a failing room refuses is counted as a session closed
// for it.
func TestMetricsCountStoreErrors(t *testing.T) {
	fs := newFaultStore(openBolt(t), 1)
	ts := startServerWithStore(t, testConfig(), fs)
	c := joinRaw(t, ts, "failing")
	fs.set(opAppend, 1)
	c.edit("body", "held")
	waitMetric(t, ts, 1, "flowstate_store_errors_total", "op", "append")
	if status, _, body := get(t, "http://"+ts.addr+"/readyz", nil); status != http.StatusServiceUnavailable || !strings.Contains(string(body), "cannot write") {
		t.Errorf("GET /readyz = %d %s while the store cannot write, want 503", status, body)
	}
	c.expectClosedAfter(c.edit("body", "refused"), protocol.CodeTryAgainLater)
	waitMetric(t, ts, 1, "flowstate_sessions_closed_total", "reason", "store failing")
	fs.heal()
	waitFor(t, deadline, func() error { return ts.srv.Hub().Ready() })
}

// A readyStore is a Memory that reports readiness as told.
type readyStore struct {
	*store.Memory
	down atomic.Bool
}

var errNotReady = errors.New("test: disk unmounted")

func (s *readyStore) Ready() error {
	if s.down.Load() {
		return errNotReady
	}
	return nil
}

var _ docsync.ReadyChecker = (*readyStore)(nil)

// GET /readyz follows the store's readiness and turns 503 for good once
// the hub starts shutting down, while GET /healthz keeps answering 200.
func TestReadiness(t *testing.T) {
	st := &readyStore{Memory: store.NewMemory()}
	ts := startServerWithStore(t, testConfig(), st)
	base := "http://" + ts.addr
	steps := []struct {
		name  string
		do    func()
		ready int
		text  string // in the body
	}{
		{"serving", func() {}, http.StatusOK, `"ready"`},
		{"store down", func() { st.down.Store(true) }, http.StatusServiceUnavailable, errNotReady.Error()},
		{"store back", func() { st.down.Store(false) }, http.StatusOK, `"ready"`},
		{"shutting down", func() {
			if err := ts.srv.Hub().Shutdown(t.Context()); err != nil {
				t.Fatal(err)
			}
		}, http.StatusServiceUnavailable, "shutting down"},
	}
	for _, step := range steps {
		step.do()
		status, ctype, body := get(t, base+"/readyz", nil)
		if status != step.ready || !strings.Contains(string(body), step.text) {
			t.Errorf("%s: GET /readyz = %d %s, want %d and %q", step.name, status, body, step.ready, step.text)
		}
		if ctype != "application/json" {
			t.Errorf("%s: Content-Type %q", step.name, ctype)
		}
		if status, _, body := get(t, base+"/healthz", nil); status != http.StatusOK {
			t.Errorf("%s: GET /healthz = %d %s, want 200", step.name, status, body)
		}
	}
	// The hub refuses new sessions too, which is what /readyz announced.
	c := dialRaw(t, ts.url("late"))
	c.expectClosed(protocol.CodeGoingAway)
}
