package main

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
	docsync "github.com/flowstate/flowstate/sync"
)

// The three updates that crashed the server (two histories under client
// 5), sent over a real socket to the real binary: the process stays up,
// the sender is closed with 4004 at the update the CRDT refuses, and the
// other clients keep a document that every fresh client agrees with.
func TestHostileUpdatesOverTheWire(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	updates := []string{
		"9501919200a16191069091950000c4020701a15190",
		"9501919201a16d91059091950000c406070303030303a09593a26b30010093a26b31010193a26b32010293a26b33010393a26b340104",
		"9501919200a1619205069091950003c4080791020100610100a44142434490",
	}
	_, addr, logs := startBinary(t, buildBinary(t))
	url := "ws://" + addr + "/ws/hostile"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	witness, err := docsync.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer witness.Close()
	if err := witness.Edit(func(d *crdt.Doc) error { _, err := d.Text("body").Insert(0, "witness"); return err }); err != nil {
		t.Fatal(err)
	}
	if err := witness.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}

	raw, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetReadDeadline(time.Now().Add(20 * time.Second))
	send := func(m protocol.Message) {
		t.Helper()
		b, err := protocol.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := raw.WriteMessage(websocket.BinaryMessage, b); err != nil {
			t.Fatal(err)
		}
	}
	read := func() (protocol.Message, error) {
		_, b, err := raw.ReadMessage()
		if err != nil {
			return nil, err
		}
		return protocol.Decode(b)
	}
	send(&protocol.Hello{Version: protocol.Version, Room: "hostile", Client: 6, StateVector: crdt.StateVector{}.Encode()})
	if m, err := read(); err != nil {
		t.Fatal(err)
	} else if _, ok := m.(*protocol.Welcome); !ok {
		t.Fatalf("got %T, want the Welcome", m)
	}

	// want follows what the server should do: apply in order until the
	// first update the CRDT refuses.
	want := crdt.NewDoc()
	refused := -1
	for i, h := range updates {
		u, _ := hex.DecodeString(h)
		send(&protocol.Update{Seq: uint64(i + 1), Updates: [][]byte{u}})
		if err := want.Apply(u); err != nil {
			refused = i
			break
		}
	}
	if refused < 0 {
		t.Fatal("the CRDT accepts all three updates: they no longer test a conflicting history")
	}
	var closeErr *websocket.CloseError
	for {
		m, err := read()
		if errors.As(err, &closeErr) {
			break
		}
		if err != nil {
			t.Fatalf("reading until the close: %v\n%s", err, logs)
		}
		if e, ok := m.(*protocol.Error); ok && e.Code != protocol.CodeInvalidUpdate {
			t.Fatalf("error %d %q, want %d", e.Code, e.Message, protocol.CodeInvalidUpdate)
		}
	}
	if closeErr.Code != int(protocol.CodeInvalidUpdate) {
		t.Fatalf("closed with %d %q, want %d", closeErr.Code, closeErr.Text, protocol.CodeInvalidUpdate)
	}

	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("the server is gone: %v\n%s", err, logs)
	}
	resp.Body.Close()
	fresh, err := docsync.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	for _, name := range []string{"a", "m"} {
		w := want.Text(name).String()
		if got := fresh.Text(name); got != w {
			t.Errorf("fresh client: text %q = %q, want %q", name, got, w)
		}
	}
	if got := fresh.Text("body"); got != "witness" {
		t.Errorf("fresh client: body = %q, want %q", got, "witness")
	}
	deadline := time.Now().Add(10 * time.Second)
	for witness.Text("a") != want.Text("a").String() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := witness.Text("body"); got != "witness" {
		t.Errorf("witness: body = %q, want %q", got, "witness")
	}
	if got, w := witness.Text("a"), want.Text("a").String(); got != w {
		t.Errorf("witness: a = %q, want %q", got, w)
	}
}
