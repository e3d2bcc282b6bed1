package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/store"
	docsync "github.com/flowstate/flowstate/sync"
	"github.com/flowstate/flowstate/sync/webhook"
)

// A hookReceiver is an application's webhook endpoint on 127.0.0.1: it
// verifies each request with the secret, and counts each event once by
// its ID, as the README tells receivers to.
type hookReceiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	status   int           // 0 answers 200
	hang     chan struct{} // when set, requests wait for it
	requests int           // verified requests acknowledged, duplicates included
	bad      int           // requests that failed verification
	events   map[string]webhook.Event
	order    []string // IDs in the order first acknowledged
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{events: make(map[string]webhook.Event)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
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
		var ev webhook.Event
		err := webhook.Verify([]byte(cmdSecret), req.Header.Get(webhook.HeaderSignature), body, time.Minute)
		if err == nil {
			err = json.Unmarshal(body, &ev)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if err != nil || ev.ID != req.Header.Get(webhook.HeaderEventID) {
			r.bad++
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.requests++
		if _, dup := r.events[ev.ID]; !dup {
			r.events[ev.ID] = ev
			r.order = append(r.order, ev.ID)
		}
	}))
	t.Cleanup(func() {
		r.setHang(false)
		r.srv.Close()
	})
	return r
}

func (r *hookReceiver) setStatus(code int) {
	r.mu.Lock()
	r.status = code
	r.mu.Unlock()
}

func (r *hookReceiver) setHang(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if on && r.hang == nil {
		r.hang = make(chan struct{})
	} else if !on && r.hang != nil {
		close(r.hang)
		r.hang = nil
	}
}

// snapshot returns the distinct events in order, and the requests and
// failed verifications so far.
func (r *hookReceiver) snapshot() (evs []webhook.Event, requests, bad int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range r.order {
		evs = append(evs, r.events[id])
	}
	return evs, r.requests, r.bad
}

// waitUntil polls cond for up to 30 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scrape returns the sum of a metric's series at the server's /metrics.
func scrape(t *testing.T, addr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// editRoom appends text to the room's body through a fresh client and
// waits until the server stored it.
func editRoom(t *testing.T, addr, room, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := docsync.Dial(ctx, "ws://"+addr+"/ws/"+room, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Edit(func(d *crdt.Doc) error {
		body := d.Text("body")
		_, err := body.Insert(body.Len(), text)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
}

// storedStateVectors reads each room's durable state vector from a data
// file no server holds, and the event IDs waiting in its outbox.
func storedStateVectors(t *testing.T, path string, rooms []string) (map[string][]byte, []string) {
	t.Helper()
	st, err := store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svs := make(map[string][]byte)
	for _, room := range rooms {
		snap, updates, err := st.Load(room)
		if err != nil {
			t.Fatal(err)
		}
		doc := crdt.NewDoc()
		for _, u := range append([][]byte{snap}, updates...) {
			if u != nil {
				if err := doc.Apply(u); err != nil {
					t.Fatal(err)
				}
			}
		}
		svs[room] = doc.StateVector().Encode()
	}
	recs, err := st.ReadOutbox("d/")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.Key[strings.LastIndexByte(r.Key, '/')+1:])
	}
	return svs, ids
}

// TestWebhooksSurviveKill9 runs the real binary with a receiver that is
// down, edits rooms, kills the server with SIGKILL while events wait in
// the outbox and while changes wait in their debounce window, then
// restarts it with the receiver up: every event the outbox held arrives,
// each room's last durable state is announced, every request verifies,
// and the event IDs let the receiver count each event once.
func TestWebhooksSurviveKill9(t *testing.T) {
	bin := buildBinary(t)
	recv := newHookReceiver(t)
	recv.setStatus(http.StatusServiceUnavailable)
	data := filepath.Join(t.TempDir(), "flowstate.db")
	args := []string{"--data", data, "--webhook", recv.srv.URL, "--webhook-secret", cmdSecret, "--webhook-debounce", "300ms", "--admin-token", cmdSecret}
	rooms := []string{"alpha", "beta", "gamma"}

	cmd, addr, logs := startBinary(t, bin, args...)
	for i, room := range rooms {
		editRoom(t, addr, room, fmt.Sprintf("<%d>", i))
	}
	// room.created for each, then room.changed once each window closes.
	waitUntil(t, "six events pending", func() bool { return scrape(t, addr, "flowstate_webhook_pending") >= 6 })
	// These changes are durable, but the kill comes inside their window.
	for _, room := range rooms {
		editRoom(t, addr, room, "<late>")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	svs, pending := storedStateVectors(t, data, rooms)
	if len(pending) < 6 {
		t.Fatalf("%d events in the outbox after the kill, want at least 6\n%s", len(pending), logs)
	}
	recv.setStatus(0)
	cmd, addr, logs = startBinary(t, bin, args...)
	defer cmd.Process.Kill()

	announced := func(evs []webhook.Event, room string) bool {
		for _, ev := range evs {
			if ev.Type == webhook.EventChanged && ev.Room == room && string(ev.StateVector) == string(svs[room]) {
				return true
			}
		}
		return false
	}
	waitUntil(t, "every pending event and each room's last state", func() bool {
		evs, _, _ := recv.snapshot()
		for _, room := range rooms {
			if !announced(evs, room) {
				return false
			}
		}
		recv.mu.Lock()
		defer recv.mu.Unlock()
		for _, id := range pending {
			if _, ok := recv.events[id]; !ok {
				return false
			}
		}
		return true
	})
	waitUntil(t, "an empty outbox", func() bool { return scrape(t, addr, "flowstate_webhook_pending") == 0 })
	evs, requests, bad := recv.snapshot()
	if bad > 0 {
		t.Fatalf("%d requests failed verification\n%s", bad, logs)
	}
	created := 0
	for _, ev := range evs {
		if ev.Type == webhook.EventCreated {
			created++
		}
	}
	if created != len(rooms) {
		t.Errorf("%d distinct room.created, want %d (one per room, whatever the retries)", created, len(rooms))
	}
	if delivered := scrape(t, addr, "flowstate_webhook_delivered_total"); delivered < float64(len(pending)) {
		t.Errorf("delivered_total %v after the restart, want at least the %d pending", delivered, len(pending))
	}
	t.Logf("%d events pending at the kill; %d distinct events, %d requests acknowledged", len(pending), len(evs), requests)

	// Deleting a room through the API announces it.
	req, _ := http.NewRequest(http.MethodDelete, "http://"+addr+"/api/rooms/beta", nil)
	req.Header.Set("Authorization", "Bearer "+cmdSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("DELETE /api/rooms/beta: %s", resp.Status)
	}
	waitUntil(t, "room.deleted beta", func() bool {
		evs, _, _ := recv.snapshot()
		last := evs[len(evs)-1]
		return last.Type == webhook.EventDeleted && last.Room == "beta"
	})
}

// TestWebhookReceiverHangDoesNotSlowRooms runs the real binary with two
// receivers, one of which never answers: edits still relay between two
// clients, and the healthy receiver still gets every room's events.
// The relay times with the hanging receiver are logged; the speed
// comparison is bench load's (README).
func TestWebhookReceiverHangDoesNotSlowRooms(t *testing.T) {
	bin := buildBinary(t)
	stuck, healthy := newHookReceiver(t), newHookReceiver(t)
	stuck.setHang(true)
	_, addr, logs := startBinary(t, bin, "--webhook", stuck.srv.URL, "--webhook", healthy.srv.URL+";events=room.changed,room.created",
		"--webhook-secret", cmdSecret, "--webhook-debounce", "50ms")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const rooms, edits = 5, 40
	var lat []time.Duration
	for r := range rooms {
		url := fmt.Sprintf("ws://%s/ws/hang%d", addr, r)
		writer, err := docsync.Dial(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		reader, err := docsync.Dial(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range edits {
			token := fmt.Sprintf("<%d>", i)
			changed := reader.Changed()
			began := time.Now()
			if err := writer.Edit(func(d *crdt.Doc) error {
				body := d.Text("body")
				_, err := body.Insert(body.Len(), token)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			for !strings.Contains(reader.Text("body"), token) {
				select {
				case <-changed:
					changed = reader.Changed()
				case <-ctx.Done():
					t.Fatalf("edit %d of room %d never reached the other client\n%s", i, r, logs)
				}
			}
			lat = append(lat, time.Since(began))
		}
		writer.Close()
		reader.Close()
	}
	waitUntil(t, "the healthy receiver's events of every room", func() bool {
		evs, _, _ := healthy.snapshot()
		seen := make(map[string]bool)
		for _, ev := range evs {
			seen[ev.Type+" "+ev.Room] = true
		}
		for r := range rooms {
			if !seen[fmt.Sprintf("room.created hang%d", r)] || !seen[fmt.Sprintf("room.changed hang%d", r)] {
				return false
			}
		}
		return true
	})
	if evs, _, _ := stuck.snapshot(); len(evs) != 0 {
		t.Fatal("the hanging receiver acknowledged events")
	}
	slices.Sort(lat)
	t.Logf("relay of %d edits while a receiver hangs: p50 %v, p99 %v, max %v", len(lat), lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
}
