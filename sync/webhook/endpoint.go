package webhook

import (
	"bytes"
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// An Endpoint is a receiver of webhooks.
type Endpoint struct {
	// URL is where events are POSTed: http or https.
	URL string
	// Events lists the event types sent there; nil sends every type.
	Events []string
}

// ParseEndpoint parses the --webhook flag's syntax: a URL, optionally
// followed by ";events=" and a comma-separated list of event types
// ("https://app.example/hook;events=room.changed,room.idle").
func ParseEndpoint(s string) (Endpoint, error) {
	raw, filter, hasFilter := strings.Cut(s, ";events=")
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Endpoint{}, fmt.Errorf("webhook %q: want an http:// or https:// URL, optionally followed by ;events=room.changed,...", redact(raw))
	}
	e := Endpoint{URL: raw}
	if hasFilter {
		for _, t := range strings.Split(filter, ",") {
			t = strings.TrimSpace(t)
			if !knownType(t) {
				return Endpoint{}, fmt.Errorf("webhook %q: unknown event %q: use %s", redact(raw), t, strings.Join(eventTypes, ", "))
			}
			if !slices.Contains(e.Events, t) {
				e.Events = append(e.Events, t)
			}
		}
	}
	return e, nil
}

// redact returns the URL without its user info and query, which may hold
// credentials, for logs, metrics and errors.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// A delivery is one event waiting to reach one receiver.
type delivery struct {
	key      string // its outbox key
	id, typ  string
	body     []byte
	created  time.Time
	attempts int
	next     time.Time // not before
	seq      uint64    // tie-break: order of arrival
}

// deliveryHeap orders deliveries by next attempt, then arrival.
type deliveryHeap []*delivery

func (h deliveryHeap) Len() int { return len(h) }
func (h deliveryHeap) Less(i, j int) bool {
	if !h[i].next.Equal(h[j].next) {
		return h[i].next.Before(h[j].next)
	}
	return h[i].seq < h[j].seq
}
func (h deliveryHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *deliveryHeap) Push(x any)   { *h = append(*h, x.(*delivery)) }
func (h *deliveryHeap) Pop() any {
	old := *h
	d := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return d
}

// An endpoint delivers to one receiver, in a goroutine of its own, so
// that a slow or dead receiver delays only itself.
type endpoint struct {
	d      *Dispatcher
	url    string
	name   string // redacted URL, for logs and metrics
	prefix string // outbox key prefix of its deliveries
	events []string
	client *http.Client

	pending                        prometheus.Gauge
	delivered, failed, attemptsCtr prometheus.Counter

	// mu guards queue, count, seq and dropped.
	mu      sync.Mutex
	queue   deliveryHeap
	count   int // deliveries reserved and not finished, the one in flight included
	seq     uint64
	dropped int
	wake    chan struct{}
}

// newEndpoint returns the endpoint of e, named name in logs and metrics.
func newEndpoint(d *Dispatcher, e Endpoint, name string) *endpoint {
	sum := sha256.Sum256([]byte(e.URL))
	ep := &endpoint{
		d:      d,
		url:    e.URL,
		name:   name,
		prefix: "d/" + hex.EncodeToString(sum[:8]) + "/",
		events: e.Events,
		client: &http.Client{
			Timeout: d.cfg.Timeout,
			// A redirect is an answer, not a delivery: the receiver's
			// URL is the one configured.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		wake: make(chan struct{}, 1),
	}
	l := prometheus.Labels{"receiver": name}
	ep.pending = d.metrics.pending.With(l)
	ep.delivered = d.metrics.delivered.With(l)
	ep.failed = d.metrics.failed.With(l)
	ep.attemptsCtr = d.metrics.attempts.With(l)
	return ep
}

// wants reports whether the receiver takes events of type typ.
func (ep *endpoint) wants(typ string) bool {
	return ep.events == nil || slices.Contains(ep.events, typ)
}

// reserve takes a place for a delivery, unless the receiver has
// Config.MaxPending already; n places are given back by release.
func (ep *endpoint) reserve() bool {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.count >= ep.d.cfg.MaxPending {
		return false
	}
	ep.count++
	return true
}

func (ep *endpoint) release(n int) {
	ep.mu.Lock()
	ep.count -= n
	ep.mu.Unlock()
}

// drop counts a delivery that did not fit in the queue as failed.
func (ep *endpoint) drop(id string) {
	ep.mu.Lock()
	ep.dropped++
	n := ep.dropped
	ep.mu.Unlock()
	ep.failed.Inc()
	if n == 1 || n%1000 == 0 {
		ep.d.log.Warn("webhook receiver has too many undelivered events: dropping new ones", "receiver", ep.name,
			"max_pending", ep.d.cfg.MaxPending, "dropped", n, "event", id)
	}
}

// add queues deliveries, already in the outbox, for sending now.
func (ep *endpoint) add(ds ...*delivery) {
	ep.mu.Lock()
	for _, dl := range ds {
		ep.seq++
		dl.seq = ep.seq
		heap.Push(&ep.queue, dl)
	}
	ep.mu.Unlock()
	ep.pending.Add(float64(len(ds)))
	select {
	case ep.wake <- struct{}{}:
	default:
	}
}

// run delivers until ctx ends: always the delivery due first, one at a
// time. After a failure the receiver is left alone for a backoff that
// grows with its consecutive failures, so that a dead receiver costs one
// request per backoff, however many events wait for it.
func (ep *endpoint) run(ctx context.Context) {
	failures := 0
	var pause time.Time
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		ep.mu.Lock()
		var dl *delivery
		wait := time.Hour
		if len(ep.queue) > 0 {
			top := ep.queue[0]
			due := top.next
			if pause.After(due) {
				due = pause
			}
			if wait = time.Until(due); wait <= 0 {
				dl = heap.Pop(&ep.queue).(*delivery)
			}
		}
		ep.mu.Unlock()
		if dl == nil {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-ep.wake:
			case <-timer.C:
			}
			continue
		}
		err := ep.send(ctx, dl)
		if ctx.Err() != nil {
			return // left in the outbox: sent again after a restart
		}
		if err == nil {
			failures = 0
			ep.finish(dl)
			ep.delivered.Inc()
			continue
		}
		failures++
		dl.attempts++
		now := time.Now()
		pause = now.Add(ep.d.backoff(failures))
		if now.Sub(dl.created) >= ep.d.cfg.RetryFor {
			ep.d.log.Error("webhook event undeliverable: giving up", "receiver", ep.name, "event", dl.id, "type", dl.typ,
				"attempts", dl.attempts, "since", dl.created, "err", err)
			ep.finish(dl)
			ep.failed.Inc()
			continue
		}
		ep.d.log.Warn("webhook delivery failed; will retry", "receiver", ep.name, "event", dl.id, "attempts", dl.attempts, "err", err)
		dl.next = now.Add(ep.d.backoff(dl.attempts))
		ep.mu.Lock()
		heap.Push(&ep.queue, dl)
		ep.mu.Unlock()
	}
}

// finish removes a delivery that is done, delivered or given up, from the
// outbox. If that fails the record stays and is sent again after a
// restart: at least once.
func (ep *endpoint) finish(dl *delivery) {
	ep.pending.Dec()
	ep.release(1)
	if err := ep.d.outbox.WriteOutbox(nil, []string{dl.key}); err != nil {
		ep.d.log.Error("webhook outbox: removing a finished delivery failed; it will be sent again after a restart",
			"receiver", ep.name, "event", dl.id, "err", err)
	}
}

// maxAnswer bounds what is read of a receiver's answer, which is ignored.
const maxAnswer = 64 << 10

// send makes one attempt. Any 2xx answer is a delivery.
func (ep *endpoint) send(ctx context.Context, dl *delivery) error {
	ep.attemptsCtr.Inc()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.url, bytes.NewReader(dl.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "FlowState-Webhook/1")
	req.Header.Set(HeaderEventID, dl.id)
	req.Header.Set(HeaderEventType, dl.typ)
	req.Header.Set(HeaderSignature, Sign(ep.d.secret, time.Now(), dl.body))
	resp, err := ep.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL may hold a credential
		}
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("the receiver answered %s", resp.Status)
	}
	return nil
}

// backoff returns the wait after the n-th consecutive failure: MinBackoff
// doubled n-1 times, at most MaxBackoff, with "equal jitter" (a random
// half of it), so that receivers coming back are not hit by every
// server at once.
func (d *Dispatcher) backoff(n int) time.Duration {
	b := d.cfg.MaxBackoff
	if n < 40 {
		b = min(d.cfg.MaxBackoff, d.cfg.MinBackoff<<(n-1))
	}
	return b/2 + rand.N(b/2+1)
}
