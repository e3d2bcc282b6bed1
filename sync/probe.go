package sync

import (
	"encoding/binary"
	"fmt"
	"time"
)

// probeInterval is the shortest time between two probe pings to a session
// that is receiving data.
//
// A probe is a ping with a numbered payload, written after the data
// queued before it. TCP delivers in order, so the client's pong proves
// that it has read everything the server wrote before the ping: the time
// from the ping's write to its pong is how far behind the client reads,
// the kernel's buffers on both ends included, which no queue bound can
// see. A probe unanswered for Config.SlowConsumerLag drops the session as
// a slow consumer. The clock starts when the ping reaches the kernel, not
// when it is queued: a client downloading a large document steadily is
// not behind, and its queue is bounded by Config.QueueLength and
// QueueBytes anyway.
const probeInterval = 2 * time.Second

// probeVerdict is what the hub's ping loop does with a session.
type probeVerdict int

const (
	probeWait probeVerdict = iota // nothing to do
	probePing                     // ping it: a probe or the keep-alive
	probeSlow                     // drop it as a slow consumer
)

// probe decides, once a second, whether s needs a ping or has left a
// probe unanswered for longer than lag. h.mu must be held: it guards
// s.pingAt and s.probedAt.
func (s *session) probe(now time.Time, lag time.Duration) probeVerdict {
	if s.probeWritten.Load() > s.probeAnswered.Load() {
		if now.Sub(time.Unix(0, s.probeSentAt.Load())) > lag {
			return probeSlow
		}
		return probeWait // an unanswered ping also keeps the connection alive
	}
	switch {
	case s.pingAt.IsZero(): // a new session: no ping yet
		s.pingAt = now.Add(pingPeriod)
		return probeWait
	case now.After(s.pingAt):
	case now.Sub(s.probedAt) >= probeInterval && s.queue.takeFed():
	default:
		return probeWait
	}
	s.pingAt, s.probedAt = now.Add(pingPeriod), now
	return probePing
}

// pingFrame returns the next probe ping and its number. The write pump
// calls it, or pingDue while no pump runs, under the queue's lock.
func (s *session) pingFrame() ([]byte, uint64) {
	s.probeID++
	return frame(opPing, binary.BigEndian.AppendUint64(nil, s.probeID)), s.probeID
}

// pinged records that ping number id reached the kernel: from now on
// the session waits for its pong. The time is stored first, so that the
// hub's loop never pairs the new number with an old time. Its pong may
// well have come already, which probeAnswered then says.
func (s *session) pinged(id uint64) {
	s.probeSentAt.Store(time.Now().UnixNano())
	s.probeWritten.Store(id)
}

// ponged handles a pong: the answer to a probe ends the wait for it and
// every earlier one. Read pump only.
func (s *session) ponged(data string) {
	if len(data) == 8 {
		if id := binary.BigEndian.Uint64([]byte(data)); id > s.probeAnswered.Load() {
			s.probeAnswered.Store(id)
		}
	}
}

// dropSlow closes the session as a slow consumer, counts and logs it,
// and interrupts a write stuck on a full socket, if it was the first to
// close it.
func (s *session) dropSlow(why string) {
	if !s.queue.close(closedSlowConsumer, why, 0) {
		return
	}
	s.hub.metrics.slowConsumers.Inc()
	room := ""
	if s.room != nil {
		room = s.room.name
	}
	s.hub.logger.Warn("slow consumer disconnected", "room", room, "remote", s.remote, "detail", why)
	s.abort()
}

// slowText says why a session that left a probe unanswered was dropped.
func slowText(lag time.Duration) string {
	return fmt.Sprintf("the client was more than %v behind in reading: dropped as a slow consumer", lag)
}
