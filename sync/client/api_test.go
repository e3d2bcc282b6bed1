package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
	"github.com/flowstate/flowstate/store"
	docsync "github.com/flowstate/flowstate/sync"
	"github.com/flowstate/flowstate/sync/client"
)

// The API helpers create, edit and delete a room of a real server with a
// bbolt file; a connected client sees the edits, and errors come back as
// *APIError with the server's status and reason.
func TestAPI(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "api.db"), store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const admin = "admin-0123456789abcdef0123456789abcdef"
	srv := docsync.NewServer(docsync.Config{AdminToken: admin}, st)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer st.Close()
	defer srv.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	api := &client.API{BaseURL: "http://" + ln.Addr().String()}

	sv, err := api.CreateRoomContent(ctx, "doc", map[string]string{"body": "hello"}, nil)
	if err != nil || len(sv) != 1 {
		t.Fatalf("CreateRoomContent: %v %v", sv, err)
	}
	var ae *client.APIError
	if _, err := api.CreateRoomContent(ctx, "doc", map[string]string{"body": "again"}, nil); !errors.As(err, &ae) || ae.StatusCode != http.StatusConflict {
		t.Errorf("second create: %v, want a 409 *APIError", err)
	}
	c, err := client.Dial(ctx, "ws://"+ln.Addr().String()+"/ws/doc", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := api.PostEdits(ctx, "doc", []docsync.Edit{{Text: "body", Delta: []docsync.DeltaOp{{Retain: ptr(5)}, {Insert: ptr(", world")}}}}); err != nil {
		t.Fatalf("PostEdits: %v", err)
	}
	d := crdt.NewDoc()
	u, err := d.Map("meta").Set("k", "v")
	if err != nil {
		t.Fatal(err)
	}
	if sv, err := api.PostUpdate(ctx, "doc", u); err != nil || sv[d.ClientID()] != 1 {
		t.Fatalf("PostUpdate: %v %v", sv, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.Text("body") != "hello, world" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := c.Text("body"); got != "hello, world" {
		t.Errorf("client reads %q", got)
	}
	if _, err := api.PostEdits(ctx, "doc", []map[string]any{{"text": "body", "delta": []map[string]int{{"retain": 99}}}}); !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest || ae.Message == "" {
		t.Errorf("bad edit: %v, want a 400 *APIError with the reason", err)
	}
	if err := api.DeleteRoom(ctx, "doc"); !errors.As(err, &ae) || ae.StatusCode != http.StatusUnauthorized || ae.Code != protocol.CodeUnauthorized {
		t.Errorf("DeleteRoom without the admin token: %v", err)
	}
	adminAPI := &client.API{BaseURL: api.BaseURL, Token: admin}
	if err := adminAPI.DeleteRoom(ctx, "doc"); err != nil {
		t.Errorf("DeleteRoom: %v", err)
	}
	if snap, updates, err := st.Load("doc"); err != nil || snap != nil || len(updates) > 0 {
		t.Errorf("the room is still stored: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
