package sync

import (
	"fmt"
	"log/slog"
	"slices"
	stdsync "sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// A hook that falls behind holds the queue to its bound: changes of a room
// past it are folded into the room's waiting change, which then carries
// the latest state, and lifecycle events past it are dropped and counted.
// Every change is accounted for, in order, and the last state arrives.
func TestHookQueueCoalescesPastItsBound(t *testing.T) {
	release := make(chan struct{})
	var mu stdsync.Mutex
	var got []ChangeEvent
	q := newHookQueue(Hooks{
		OnChange: func(ev ChangeEvent) {
			<-release
			mu.Lock()
			got = append(got, ev)
			mu.Unlock()
		},
		OnIdle: func(string) {},
	}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	const rooms, perRoom = 4, 3 * hookQueueLen
	for i := range perRoom {
		for r := range rooms {
			q.change(ChangeEvent{Room: fmt.Sprint(r), StateVector: []byte(fmt.Sprint(i)), Texts: []string{fmt.Sprint("t", i%3)}})
		}
	}
	q.event(hookIdle, "0")
	q.mu.Lock()
	n := len(q.entries)
	q.mu.Unlock()
	if n > hookQueueLen+rooms {
		t.Errorf("%d calls wait, want at most %d", n, hookQueueLen+rooms)
	}
	var m dto.Metric
	if err := q.dropped.WithLabelValues("idle").Write(&m); err != nil {
		t.Fatal(err)
	}
	if d := m.GetCounter().GetValue(); d != 1 {
		t.Errorf("%v idle calls dropped, want 1", d)
	}
	close(release)
	q.close()
	<-q.done
	count := make(map[string]int)
	last := make(map[string]ChangeEvent)
	for _, ev := range got {
		count[ev.Room] += 1 + ev.Coalesced
		if ev.Coalesced > 0 && (ev.Update != nil || !slices.Contains(ev.Texts, "t2")) {
			t.Fatalf("coalesced event %+v: want no update and the union of the texts", ev)
		}
		last[ev.Room] = ev
	}
	for r := range rooms {
		room := fmt.Sprint(r)
		if count[room] != perRoom {
			t.Errorf("room %s: %d changes accounted for, want %d", room, count[room], perRoom)
		}
		if sv := string(last[room].StateVector); sv != fmt.Sprint(perRoom-1) {
			t.Errorf("room %s: last state %q, want %d", room, sv, perRoom-1)
		}
	}
}
