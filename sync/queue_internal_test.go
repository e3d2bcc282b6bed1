package sync

import (
	"io"
	"net"
	"testing"
)

// A delivery the socket takes at once is one write and no allocation:
// at many deliveries a second, per-delivery garbage is collector time.
func TestDirectPushAllocatesNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	go io.Copy(io.Discard, client)

	var q sendQueue
	pumps := 0
	q.init(16, 1<<20, server, func() { pumps++ })
	msg := frame(opBinary, make([]byte, 40))
	allocs := testing.AllocsPerRun(200, func() {
		if !q.push(msg) {
			t.Fatal("push refused")
		}
	})
	if allocs != 0 {
		t.Errorf("push allocates %.1f times, want 0", allocs)
	}
	if pumps != 0 || len(q.msgs) != 0 {
		t.Errorf("%d pumps started, %d frames queued: the socket should have taken every frame", pumps, len(q.msgs))
	}
}
