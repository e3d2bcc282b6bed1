package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// relayClient is a WebSocket client of the relay whose received messages
// arrive, in order, on got.
type relayClient struct {
	conn *websocket.Conn
	got  chan []byte
}

func dialRelay(t *testing.T, base, room string) *relayClient {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(base+"/ws/"+room, nil)
	if err != nil {
		t.Fatalf("dial room %s: %v", room, err)
	}
	resp.Body.Close()
	rc := &relayClient{conn: c, got: make(chan []byte, 100)}
	go func() {
		defer close(rc.got)
		for {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if typ != websocket.BinaryMessage {
				msg = append([]byte("non-binary: "), msg...)
			}
			rc.got <- msg
		}
	}()
	t.Cleanup(func() { c.Close() })
	return rc
}

func (rc *relayClient) send(t *testing.T, msg string) {
	t.Helper()
	if err := rc.conn.WriteMessage(websocket.BinaryMessage, []byte(msg)); err != nil {
		t.Fatalf("send %q: %v", msg, err)
	}
}

// next returns the next message rc received.
func (rc *relayClient) next(t *testing.T) string {
	t.Helper()
	select {
	case msg, ok := <-rc.got:
		if !ok {
			t.Fatal("connection closed")
		}
		return string(msg)
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received in 5 s")
	}
	return ""
}

// members counts the connections of room name, as the relay holds them.
func (r *relay) members(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	rm := r.rooms[name]
	if rm == nil {
		return 0
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	return len(rm.conns)
}

// waitMembers waits until room name of r has n connections.
func waitMembers(t *testing.T, r *relay, name string, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); r.members(name) != n; {
		if time.Now().After(deadline) {
			t.Fatalf("room %s has %d members, want %d", name, r.members(name), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func startRelay(t *testing.T, writeTimeout time.Duration) (*relay, string) {
	t.Helper()
	r := newRelay(writeTimeout)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, "ws" + strings.TrimPrefix(srv.URL, "http")
}

// Each step's message must be the next one each of its receivers reads.
// Every client reads something after each of its sends, and b0's last
// message comes from a client of b that joins at the end, so that a
// message a client should not have got (its own, another room's, a
// second copy) shows up as the wrong next message.
func TestRelayFanOut(t *testing.T) {
	r, base := startRelay(t, relayWriteTimeout)
	clients := map[string]*relayClient{}
	for _, name := range []string{"a0", "a1", "a2", "b0"} {
		clients[name] = dialRelay(t, base, name[:1])
	}
	waitMembers(t, r, "a", 3)
	waitMembers(t, r, "b", 1)
	steps := []struct {
		from string
		msg  string
		to   []string
	}{
		{"a0", "one", []string{"a1", "a2"}},
		{"a1", "two", []string{"a0", "a2"}},
		{"b0", "alone", nil},
		{"a2", strings.Repeat("x", relayReadLimit), []string{"a0", "a1"}},
		{"a0", "\x00\xff binary", []string{"a1", "a2"}},
		{"b1", "fence", []string{"b0"}}, // b1 joins here
	}
	for _, s := range steps {
		if clients[s.from] == nil {
			clients[s.from] = dialRelay(t, base, s.from[:1])
			waitMembers(t, r, s.from[:1], 2)
		}
		clients[s.from].send(t, s.msg)
		for _, to := range s.to {
			if got := clients[to].next(t); got != s.msg {
				t.Fatalf("%s sent %.20q: %s read %.20q first", s.from, s.msg, to, got)
			}
		}
	}

	// A member that closes is dropped; the others go on.
	clients["a1"].conn.Close()
	waitMembers(t, r, "a", 2)
	clients["a2"].send(t, "after a1")
	if got := clients["a0"].next(t); got != "after a1" {
		t.Fatalf("a0 read %q, want the message sent after a1 left", got)
	}
	clients["a0"].send(t, "to a2")
	if got := clients["a2"].next(t); got != "to a2" {
		t.Fatalf("a2 read %q, want a0's message", got)
	}

	// The last member of a room takes the room with it.
	clients["a0"].conn.Close()
	clients["a2"].conn.Close()
	waitMembers(t, r, "a", 0)
	r.mu.Lock()
	_, kept := r.rooms["a"]
	r.mu.Unlock()
	if kept {
		t.Error("room a is still held after its last member left")
	}
}

func TestRelayRefuses(t *testing.T) {
	r, base := startRelay(t, relayWriteTimeout)
	httpBase := "http" + strings.TrimPrefix(base, "ws")
	tests := []struct {
		name, path string
		status     int
	}{
		{"healthz", "/healthz", http.StatusOK},
		{"plain GET of a room", "/ws/a", http.StatusBadRequest},
		{"no room", "/ws/", http.StatusNotFound},
		{"other path", "/rooms/a", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Get(httpBase + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("GET %s: %d, want %d", tt.path, resp.StatusCode, tt.status)
			}
		})
	}

	// A message over the read limit ends its sender's connection, and
	// only its.
	big := dialRelay(t, base, "a")
	dialRelay(t, base, "a")
	waitMembers(t, r, "a", 2)
	big.send(t, strings.Repeat("x", relayReadLimit+1))
	for range big.got {
	}
	waitMembers(t, r, "a", 1)
}

// A member that stops reading is dropped once a write to it times out;
// the members that read get every message.
func TestRelaySlowMemberDropped(t *testing.T) {
	r, base := startRelay(t, 50*time.Millisecond)
	sender := dialRelay(t, base, "a")
	reader := dialRelay(t, base, "a")
	// A raw client that never reads: the kernel's buffers fill up.
	stalled, resp, err := websocket.DefaultDialer.Dial(base+"/ws/a", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	defer stalled.Close()
	waitMembers(t, r, "a", 3)
	msg := bytes.Repeat([]byte("y"), relayReadLimit)
	for i := 0; r.members("a") == 3; i++ {
		if i == 2000 { // 128 MB: more than any loopback buffer holds
			t.Fatal("the member that does not read was never dropped")
		}
		sender.send(t, string(msg))
		if got := reader.next(t); got != string(msg) {
			t.Fatalf("message %d: reader read %d bytes, want the %d sent", i, len(got), len(msg))
		}
	}
	waitMembers(t, r, "a", 2)
	sender.send(t, "still here")
	if got := reader.next(t); got != "still here" {
		t.Fatalf("reader read %.20q, want the message sent after the drop", got)
	}
}

// The binary serves the relay at the address it prints.
func TestBenchRelayCommand(t *testing.T) {
	bin := buildBinary(t)
	cmd := exec.Command(bin, "bench", "relay", "--addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the address: %v", err)
	}
	addr := strings.TrimSpace(line)
	resp, err := http.Get(fmt.Sprintf("http://%s/healthz", addr))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}
	a := dialRelay(t, "ws://"+addr, "r")
	b := dialRelay(t, "ws://"+addr, "r")
	// The relay may not have added b when a sends: send until b reads.
	for i := 0; ; i++ {
		a.send(t, "hello")
		select {
		case got := <-b.got:
			if string(got) != "hello" {
				t.Fatalf("b read %q", got)
			}
			return
		case <-time.After(50 * time.Millisecond):
		}
		if i == 100 {
			t.Fatal("b read nothing in 5 s")
		}
	}
}

func TestBenchRelayMisuse(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"help", []string{"-h"}, 0},
		{"extra argument", []string{"now"}, 2},
		{"unknown flag", []string{"--rooms", "3"}, 2},
		{"bad address", []string{"--addr", "127.0.0.1:99999"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := runBench(append([]string{"relay"}, tt.args...), &out, &errOut); code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, errOut.String())
			}
		})
	}
}
