package jsstore_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// gauge returns the value of the store series name.
func gauge(t *testing.T, cs []prometheus.Collector, name string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(cs...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no series %s", name)
	return 0
}

// TestFollowPending follows a room from behind, holding each delivery:
// flowstate_jetstream_follow_pending counts the entries the follower has
// yet to apply, down to zero as it catches up and once stopped; and the
// appends' latency is observed.
func TestFollowPending(t *testing.T) {
	c := startCluster(t, 1)
	a := c.open(0, 1, 5*time.Second)
	b := c.open(0, 1, 5*time.Second)
	const room = "lag"
	w := newWriter("w")
	const n = 5
	for range n {
		u, _ := w.next(t)
		if err := a.Append(room, u); err != nil {
			t.Fatal(err)
		}
	}
	if got := gauge(t, a.Collectors(), "flowstate_jetstream_publish_seconds"); got != n {
		t.Errorf("publish_seconds count = %v, want %d", got, n)
	}
	// Followed from the start, as by a room whose load read nothing, on
	// a node that was away while the others wrote.
	release := make(chan struct{})
	got := make(chan struct{}, 16)
	stop, err := b.Follow(room, 0, func([][]byte) bool {
		<-release
		got <- struct{}{}
		return true
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	waitGauge := func(want float64) {
		t.Helper()
		end := time.Now().Add(10 * time.Second)
		for {
			v := gauge(t, b.Collectors(), "flowstate_jetstream_follow_pending")
			if v == want {
				return
			}
			if time.Now().After(end) {
				t.Fatalf("follow_pending = %v, want %v", v, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitGauge(n) // one in delivery, the others after it
	for i := range n {
		release <- struct{}{}
		<-got
		waitGauge(float64(n - 1 - i))
	}
	u, _ := w.next(t)
	if err := a.Append(room, u); err != nil {
		t.Fatal(err)
	}
	waitGauge(1) // held in delivery
	stop()
	waitGauge(0)
	close(release)
}
