package sync

import (
	"errors"
	"net"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of the limits in Config. A well-behaved editor stays far below
// each: people type a few characters a second, and clients batch what
// they type.
const (
	DefaultRateMessages   = 200
	DefaultRateBurst      = 400
	DefaultRateBytes      = 1 << 20
	DefaultRateBytesBurst = 4 << 20
	DefaultMaxConnsPerIP  = 64
	DefaultMaxRooms       = 10_000
	DefaultMaxDocBytes    = 64 << 20
)

// ErrTooManyRooms is returned for a join to a room that is not open while
// Config.MaxRooms rooms are open and none of them is idle.
var ErrTooManyRooms = errors.New("sync: too many open rooms")

// errRateLimited is returned by the control frame handlers of a session
// past its allowance; the read pump closes it with 4429.
var errRateLimited = errors.New("sync: rate limit exceeded")

// limitDefaults applies the defaults of the limits: zero selects the
// default, a negative value stays, meaning no limit.
func (c *Config) limitDefaults() {
	if c.RateMessages == 0 {
		c.RateMessages = DefaultRateMessages
	}
	limitDefault(&c.RateBurst, DefaultRateBurst)
	limitDefault(&c.RateBytes, DefaultRateBytes)
	limitDefault(&c.RateBytesBurst, DefaultRateBytesBurst)
	if c.RateBytes > 0 {
		// A message larger than the burst could never pass.
		c.RateBytesBurst = max(c.RateBytesBurst, c.MaxMessageSize)
	}
	limitDefault(&c.MaxConnsPerIP, DefaultMaxConnsPerIP)
	limitDefault(&c.MaxRooms, DefaultMaxRooms)
	limitDefault(&c.MaxDocBytes, DefaultMaxDocBytes)
}

func limitDefault(v *int, def int) {
	if *v == 0 {
		*v = def
	}
}

// A connLimiter holds the token buckets of one connection: one for its
// messages, one for their bytes. A nil bucket is no limit. It belongs to
// the session's read pump.
type connLimiter struct {
	msgs, bytes *rate.Limiter
}

func newConnLimiter(cfg *Config) connLimiter {
	var l connLimiter
	if cfg.RateMessages > 0 {
		l.msgs = rate.NewLimiter(rate.Limit(cfg.RateMessages), max(cfg.RateBurst, 1))
	}
	if cfg.RateBytes > 0 {
		l.bytes = rate.NewLimiter(rate.Limit(cfg.RateBytes), max(cfg.RateBytesBurst, 1))
	}
	return l
}

// allow takes one message of n bytes from the buckets, and reports false
// if either is empty. Reading is not delayed instead: a client past its
// allowance is misbehaving or broken, and waiting would hold its socket
// and its room's attention for as long as it keeps sending.
func (l *connLimiter) allow(n int) bool {
	now := time.Now()
	if l.msgs != nil && !l.msgs.AllowN(now, 1) {
		return false
	}
	return l.bytes == nil || l.bytes.AllowN(now, n)
}

// allowBytes reports whether n more bytes of the message just allowed
// may pass: what a Patch keeps of its base.
func (l *connLimiter) allowBytes(n int) bool {
	return l.bytes == nil || n <= 0 || l.bytes.AllowN(time.Now(), n)
}

// holdConn counts a connection from ip, and reports false, counting
// nothing, when ip already holds Config.MaxConnsPerIP.
func (h *Hub) holdConn(ip string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := h.conns[ip]; h.cfg.MaxConnsPerIP > 0 && n >= h.cfg.MaxConnsPerIP {
		return false
	}
	h.conns[ip]++
	return true
}

// releaseConn ends the count taken by holdConn.
func (h *Hub) releaseConn(ip string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.releaseConnLocked(ip)
}

// makeRoomLocked gets the hub below Config.MaxRooms open rooms, not
// counting those already closing, by asking the room idle the longest to
// save and close. It returns ErrTooManyRooms when every room has members.
// h.mu must be held.
func (h *Hub) makeRoomLocked() error {
	if h.cfg.MaxRooms <= 0 || len(h.rooms)-h.evicting < h.cfg.MaxRooms {
		return nil
	}
	var victim *room
	for _, r := range h.rooms {
		if r.refs == 0 && !r.evicting && (victim == nil || r.idleSince.Before(victim.idleSince)) {
			victim = r
		}
	}
	if victim == nil {
		return ErrTooManyRooms
	}
	victim.evicting = true
	h.evicting++
	close(victim.evict)
	h.logger.Debug("closing idle room to open another", "room", victim.name, "idle", time.Since(victim.idleSince).Round(time.Millisecond))
	return nil
}

// removeRoomLocked forgets r. h.mu must be held.
func (h *Hub) removeRoomLocked(r *room) {
	if h.rooms[r.name] != r {
		return
	}
	delete(h.rooms, r.name)
	if r.evicting {
		h.evicting--
	}
}

// docFits reports whether n more bytes of updates keep the document
// within Config.MaxDocBytes. The running size overestimates after
// deletions and duplicates, so before refusing, the room measures the
// document exactly: by compacting, which it would do soon anyway, or, with
// nothing to compact, by encoding a snapshot. Either happens at most once
// per refusal streak, as nothing is applied in between.
func (r *room) docFits(n int) bool {
	limit := r.hub.cfg.MaxDocBytes
	if limit <= 0 || r.docBytes+n <= limit {
		return true
	}
	if !r.docExact && r.logLen > 0 {
		r.save()
	}
	if !r.docExact {
		r.docBytes, r.docExact = len(r.doc.Snapshot()), true
	}
	return r.docBytes+n <= limit
}

// releaseConnLocked is releaseConn with h.mu held.
func (h *Hub) releaseConnLocked(ip string) {
	if h.conns[ip] <= 1 {
		delete(h.conns, ip)
	} else {
		h.conns[ip]--
	}
}

// awaitEvictionLocked waits, with h.mu released meanwhile, until no room
// named name is closing to make space: its save must end before a new
// room of that name loads, or the old room's compaction could drop the
// new one's appends. h.mu must be held.
func (h *Hub) awaitEvictionLocked(name string) {
	for r := h.rooms[name]; r != nil && r.evicting; r = h.rooms[name] {
		h.mu.Unlock()
		<-r.done
		h.mu.Lock()
	}
}

// setSendBuffer asks the kernel for a send buffer of n bytes on c, when c
// is a TCP connection and n is positive; see Config.SendBuffer.
func setSendBuffer(c net.Conn, n int) {
	if tc, ok := c.(*net.TCPConn); ok && n > 0 {
		_ = tc.SetWriteBuffer(n)
	}
}
