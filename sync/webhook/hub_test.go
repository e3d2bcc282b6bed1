package webhook

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/flowstate/flowstate/crdt"
	docsync "github.com/flowstate/flowstate/sync"
)

// The dispatcher wired into a real server on 127.0.0.1 over a real data
// file: a client's first edit gives room.created then room.changed with
// the client's state vector, leaving gives room.idle, and DELETE
// /api/rooms/{room} gives room.deleted and forgets the room's notified
// state.
func TestWithServer(t *testing.T) {
	st, _ := openBolt(t)
	r := newReceiver(t)
	d := start(t, fastConfig(Endpoint{URL: r.srv.URL}), st)
	if err := d.Recover(st); err != nil {
		t.Fatal(err)
	}
	cfg := docsync.Config{
		Logger:          slog.New(slog.DiscardHandler),
		RoomIdleTimeout: 100 * time.Millisecond,
		AdminToken:      string(testSecret),
		Hooks:           d.Hooks(docsync.Hooks{}),
	}
	srv := docsync.NewServer(cfg, st)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	defer srv.Shutdown(ctx)

	c, err := docsync.Dial(ctx, "ws://"+ln.Addr().String()+"/ws/doc", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Edit(func(doc *crdt.Doc) error { _, err := doc.Text("body").Insert(0, "hello"); return err }); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	var sv []byte
	c.Read(func(doc *crdt.Doc) { sv = doc.StateVector().Encode() })
	c.Close()
	waitFor(t, "three events", func() bool { return len(r.events()) == 3 })
	evs := r.events()
	if want := []string{"room.created doc", "room.changed doc", "room.idle doc"}; !reflect.DeepEqual(types(evs), want) {
		t.Fatalf("events %q, want %q", types(evs), want)
	}
	if !reflect.DeepEqual(evs[1].StateVector, sv) || !reflect.DeepEqual(evs[1].Texts, []string{"body"}) || evs[1].Size == 0 {
		t.Fatalf("room.changed %+v, want the client's state vector %x and text body", evs[1], sv)
	}

	req, _ := http.NewRequest(http.MethodDelete, "http://"+ln.Addr().String()+"/api/rooms/doc", nil)
	req.Header.Set("Authorization", "Bearer "+string(testSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("DELETE: %s", resp.Status)
	}
	waitFor(t, "room.deleted", func() bool { return len(r.events()) == 4 })
	if ev := r.events()[3]; ev.Type != EventDeleted || ev.Room != "doc" {
		t.Fatalf("got %s %s, want room.deleted doc", ev.Type, ev.Room)
	}
	if recs, err := st.ReadOutbox(prefixNotified); err != nil || len(recs) != 0 {
		t.Fatalf("notified records after the deletion: %d, %v", len(recs), err)
	}
}
