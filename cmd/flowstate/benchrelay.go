package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

const relayUsageText = `Usage:

	flowstate bench relay [--addr HOST:PORT]

Serves the least a Go WebSocket relay can do, as a measuring instrument
for server CPU per delivered message: every binary message a connection to
/ws/ROOM sends is written, as the same bytes, to every other connection of
ROOM, by the goroutine that read it, under the room's lock. There is no
document, no persistence, no acknowledgement, no writer goroutine, no
buffering and no timer; a connection that cannot take a write within 5 s
is dropped, and holds up its room until then. Compare its figures in
web/bench/load-driver.mjs (--servers flowstate,peer,relay) with the
server's and with "bench floor". It is not a server to deploy: it checks
no origin beyond gorilla/websocket's default, no token and no rate.

It prints the address it listens on; GET /healthz answers 200.

Flags:
`

// relayWriteTimeout bounds how long a slow member can hold up its room:
// the relay writes from the sender's goroutine under the room's lock, so
// a member that stops reading would otherwise stop the room for good.
const relayWriteTimeout = 5 * time.Second

// relayReadLimit is the largest message the relay takes: a keystroke's
// update is about 40 bytes, and a bound keeps one member from making the
// relay buffer without end.
const relayReadLimit = 64 << 10

func newRelayFlagSet(addr *string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("bench relay", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(addr, "addr", "127.0.0.1:0", "address to listen on (port 0: any free port, printed on stdout)")
	fs.Usage = func() {
		fmt.Fprint(out, relayUsageText)
		fs.PrintDefaults()
	}
	return fs
}

func runBenchRelay(args []string, stdout, stderr io.Writer) int {
	var addr string
	if _, code, ok := parseAdmin(newRelayFlagSet(&addr, stderr), args, 0, stderr); !ok {
		return code
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "flowstate bench relay: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, ln.Addr())
	// It runs until it is killed: there is nothing to flush or close.
	if err := http.Serve(ln, newRelay(relayWriteTimeout)); err != nil {
		fmt.Fprintf(stderr, "flowstate bench relay: %v\n", err)
		return 1
	}
	return 0
}

// relay is the handler of "bench relay": its rooms by name.
type relay struct {
	mux *http.ServeMux
	// The zero Upgrader: no per-message compression, 4 KiB buffers, and
	// only requests whose Origin, if any, matches their Host.
	upgrader     websocket.Upgrader
	writeTimeout time.Duration
	mu           sync.Mutex
	rooms        map[string]*relayRoom
}

// relayRoom is the connections of one room. Its lock is held for a whole
// fan-out, which both serialises the writes to each connection (gorilla
// allows one writer at a time) and keeps each member's messages in order.
type relayRoom struct {
	mu    sync.Mutex
	conns map[*websocket.Conn]struct{}
}

// newRelay returns the relay's handler, /healthz and /ws/{room}, which
// drops a member that takes longer than writeTimeout to take a message.
func newRelay(writeTimeout time.Duration) *relay {
	r := &relay{mux: http.NewServeMux(), writeTimeout: writeTimeout, rooms: make(map[string]*relayRoom)}
	r.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	r.mux.HandleFunc("GET /ws/{room}", r.serveWS)
	return r
}

func (r *relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mux.ServeHTTP(w, req)
}

func (r *relay) serveWS(w http.ResponseWriter, req *http.Request) {
	c, err := r.upgrader.Upgrade(w, req, nil)
	if err != nil {
		return // Upgrade answered the request
	}
	c.SetReadLimit(relayReadLimit)
	name := req.PathValue("room")
	rm := r.join(name, c)
	defer r.leave(name, rm, c)
	// One buffer per connection, reused: a fan-out ends before the next
	// read.
	var buf bytes.Buffer
	for {
		typ, rd, err := c.NextReader()
		if err != nil {
			return
		}
		if typ != websocket.BinaryMessage {
			continue // NextReader discards what is left of it
		}
		buf.Reset()
		if _, err := buf.ReadFrom(rd); err != nil {
			return
		}
		rm.fanOut(c, buf.Bytes(), r.writeTimeout)
	}
}

// fanOut writes msg to every member of rm but from, dropping those whose
// write fails or takes longer than timeout.
func (rm *relayRoom) fanOut(from *websocket.Conn, msg []byte, timeout time.Duration) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	for c := range rm.conns {
		if c == from {
			continue
		}
		// Each write its own deadline: one slow member must not use up
		// the time of those written after it.
		_ = c.SetWriteDeadline(time.Now().Add(timeout))
		if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			// Its reader fails on the closed socket and leaves the room.
			c.Close()
			delete(rm.conns, c)
		}
	}
}

// join adds c to the room name, creating the room.
func (r *relay) join(name string, c *websocket.Conn) *relayRoom {
	r.mu.Lock()
	defer r.mu.Unlock()
	rm := r.rooms[name]
	if rm == nil {
		rm = &relayRoom{conns: make(map[*websocket.Conn]struct{})}
		r.rooms[name] = rm
	}
	rm.mu.Lock()
	rm.conns[c] = struct{}{}
	rm.mu.Unlock()
	return rm
}

// leave closes c, removes it from rm, and forgets rm once it is empty. A
// fan-out may have removed c already.
func (r *relay) leave(name string, rm *relayRoom, c *websocket.Conn) {
	c.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	rm.mu.Lock()
	delete(rm.conns, c)
	empty := len(rm.conns) == 0
	rm.mu.Unlock()
	if empty && r.rooms[name] == rm {
		delete(r.rooms, name)
	}
}
