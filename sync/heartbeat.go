package sync

import (
	"fmt"
	"time"

	"github.com/flowstate/flowstate/protocol"
)

// heartbeatMisses is how many of its heartbeat intervals a client that
// asked for a heartbeat may stay silent before the server takes its
// connection as dead (PROTOCOL.md §10). The client sends something at
// least once an interval; the rest is room for its timers and the network.
const heartbeatMisses = 3

// readWait is how long the read pump waits for the next frame of a joined
// session before giving up on it: three heartbeat intervals for a client
// that asked for a heartbeat, the keep-alive's pong timeout otherwise.
//
// The wait is the socket's read deadline, which the read pump sets anyway
// after every frame: the heartbeat costs an idle session no goroutine and
// no timer of its own.
func (s *session) readWait() time.Duration {
	if s.heartbeat > 0 {
		return heartbeatMisses * s.heartbeat
	}
	return pongWait
}

// heartbeatReceived answers a client's heartbeat that asks for an echo.
// The echo goes through the send queue, behind whatever the room queued
// before it, like the pong of a ping: when it arrives, the client has
// everything the server sent until then. Read pump only.
func (s *session) heartbeatReceived(m *protocol.Heartbeat) {
	if m.ID == 0 {
		return // the client shows itself alive and asks for nothing
	}
	if b, err := encodeFrame(m); err == nil {
		s.queue.push(b)
	}
}

// heartbeatText says why a silent session was closed.
func heartbeatText(interval time.Duration) string {
	return fmt.Sprintf("nothing received for %v (%d heartbeat intervals of %v): the connection is taken as dead", heartbeatMisses*interval, heartbeatMisses, interval)
}
