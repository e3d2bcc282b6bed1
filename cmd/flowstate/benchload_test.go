package main

import (
	"encoding/json"
	"testing"

	docsync "github.com/flowstate/flowstate/sync"
)

// With several URLs, bench load spreads its clients over the nodes
// round-robin: each of two single-node servers serves half of them.
func TestBenchLoadSpreadsOverNodes(t *testing.T) {
	a := serveWithDemo(t, docsync.Config{})
	b := serveWithDemo(t, docsync.Config{})
	status, stdout, stderr := runCmd("bench", "load", "--url", "ws://"+a+",ws://"+b,
		"--rooms", "2", "--clients", "2", "--rate", "0", "--duration", "100ms", "--settle", "5s")
	if status != 0 {
		t.Fatalf("bench load: status %d\n%s%s", status, stdout, stderr)
	}
	// A server counts a session once the client's close reaches it.
	closed := func(addr string) float64 { return scrape(t, addr, "flowstate_sessions_closed_total") }
	waitUntil(t, "the four sessions to close", func() bool { return closed(a)+closed(b) >= 4 })
	if na, nb := closed(a), closed(b); na != 2 || nb != 2 {
		t.Errorf("sessions: %v at the first node, %v at the second; want 2 and 2", na, nb)
	}
}

// With --rate 0, bench load reports what the idle connections cost the
// server: its memory and its goroutines before and after connecting.
func TestBenchLoadReportsIdleCost(t *testing.T) {
	addr := serveWithDemo(t, docsync.Config{})
	status, stdout, stderr := runCmd("bench", "load", "--url", "ws://"+addr,
		"--rooms", "2", "--clients", "3", "--rate", "0", "--duration", "100ms", "--settle", "5s", "--json")
	if status != 0 {
		t.Fatalf("bench load: status %d\n%s%s", status, stdout, stderr)
	}
	var res loadResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("bench load --json: %v\n%s", err, stdout)
	}
	if res.Connections != 6 || res.ServerRSSConn <= 0 || res.ServerGoroutinesIdle <= 0 || res.ServerGoroutinesConn <= 0 {
		t.Errorf("got %d connections, RSS %d B connected, goroutines %d before and %d connected; want 6 and the rest positive",
			res.Connections, res.ServerRSSConn, res.ServerGoroutinesIdle, res.ServerGoroutinesConn)
	}
}
