package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowstate/flowstate/protocol"
	"github.com/flowstate/flowstate/store"
)

// Errors returned when joining a room.
var (
	// ErrShuttingDown is returned for joins that arrive while the hub shuts
	// down.
	ErrShuttingDown = errors.New("sync: server shutting down")
)

// A QuarantinedError refuses a join to a room whose stored records do not
// decode. The server leaves such a room's data as it found it, for an
// operator to export or repair, and refuses it until restarted.
type QuarantinedError struct {
	Room string
	Err  error // what loading the room found
}

func (e *QuarantinedError) Error() string {
	return fmt.Sprintf("room %q is quarantined: its stored data does not decode", e.Room)
}

func (e *QuarantinedError) Unwrap() error { return e.Err }

// writeBufferSize is the size of the buffer gorilla writes through. It
// borrows one from a pool shared by all connections, so an idle
// connection holds none. Reads go through a small buffer of the session's
// own (readBufferSize, idle.go).
const writeBufferSize = 4096

// A Hub maps room names to open rooms and owns every session. It opens a
// room when its first client joins and closes it once it has been empty for
// Config.RoomIdleTimeout, saving its document to the store first.
type Hub struct {
	cfg      Config
	logger   *slog.Logger
	store    store.Store
	upgrader websocket.Upgrader
	wg       sync.WaitGroup // rooms and sessions
	metrics  *hubMetrics
	hosts    *hostChecker // the Host headers answered
	refusals *refusalLog  // requests refused before a session began
	hooks    *hookQueue   // calls Config.Hooks off the rooms' goroutines

	pollOnce sync.Once
	poll     *poller // waits for idle sessions (idle.go); nil until needed, or where there is none

	// failingRooms counts the rooms whose last write failed; Ready is
	// false while it is not zero.
	failingRooms atomic.Int32

	mu sync.Mutex
	// mu guards the fields below, each session's pingAt, and each room's
	// refs, idleSince and evicting. It is never held while sending to a
	// room or a session.
	rooms       map[string]*room
	quarantined map[string]error // rooms whose stored records do not decode
	sessions    map[*session]struct{}
	closing     bool
	pinging     bool                     // pingLoop runs; it starts with the first session
	stop        chan struct{}            // closed by Shutdown
	conns       map[string]int           // connections per client address
	evicting    int                      // rooms closing to make space (Config.MaxRooms)
	deleting    map[string]chan struct{} // rooms being deleted; closed when done
}

// NewHub returns a hub that keeps documents in st.
func NewHub(cfg Config, st store.Store) *Hub {
	cfg = cfg.withDefaults()
	h := &Hub{
		cfg:    cfg,
		logger: cfg.Logger,
		store:  st,
		upgrader: websocket.Upgrader{
			// Zero: gorilla reads through the hijacked reader, which
			// hijackWriter makes the session's own.
			ReadBufferSize:  0,
			WriteBufferSize: writeBufferSize,
			WriteBufferPool: &sync.Pool{},
			// A nil CheckOrigin (no AllowedOrigins) is gorilla's
			// default: only requests whose Origin, if any, matches the
			// Host.
			CheckOrigin: originChecker(cfg.AllowedOrigins),
		},
		rooms:       make(map[string]*room),
		quarantined: make(map[string]error),
		sessions:    make(map[*session]struct{}),
		stop:        make(chan struct{}),
		conns:       make(map[string]int),
	}
	h.metrics = newHubMetrics(h.Stats)
	if mc, ok := st.(MetricsCollector); ok {
		h.metrics.reg.MustRegister(mc.Collectors()...)
	}
	h.hosts = newHostChecker(&cfg)
	h.refusals = newRefusalLog(cfg.Logger, h.metrics.reg)
	h.hooks = newHookQueue(cfg.Hooks, cfg.Logger, h.metrics.reg)
	h.upgrader.Error = h.upgradeFailed
	return h
}

// pingLoop asks the write pump of every session to ping its client once
// per pingPeriod, and to probe how far behind it reads while it receives
// data (probe.go), dropping those too far behind. One loop for all
// sessions costs less than a timer each, and its one-second steps spread
// the pings out.
func (h *Hub) pingLoop() {
	defer h.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var due, slow []*session
	for {
		select {
		case <-h.stop:
			return
		case now := <-t.C:
			h.mu.Lock()
			for s := range h.sessions {
				switch s.probe(now, h.cfg.SlowConsumerLag) {
				case probePing:
					due = append(due, s)
				case probeSlow:
					slow = append(slow, s)
				}
			}
			h.mu.Unlock()
			for _, s := range due {
				s.queue.pingDue(s)
			}
			for _, s := range slow {
				s.dropSlow(slowText(h.cfg.SlowConsumerLag))
			}
			clear(due)
			clear(slow)
			due, slow = due[:0], slow[:0]
		}
	}
}

// ServeWS upgrades the request to a WebSocket session in the room named by
// the last segment of the path (the route is GET /ws/{room}), with the
// token, if any, of the query parameter "token". An invalid room name is
// reported over the upgraded connection, with close code 4002, so that
// browsers can see it. A Host the hub does not answer (Config.AllowedHosts)
// gets HTTP 421, a refused Origin 403 and an address over
// Config.MaxConnsPerIP 429, all before the upgrade; each refusal is
// logged, rate-limited, and counted.
func (h *Hub) ServeWS(w http.ResponseWriter, r *http.Request) {
	if !h.checkHost(w, r) {
		return
	}
	ip := clientIP(r, h.cfg.TrustProxy)
	if !h.holdConn(ip) {
		// Refused before the upgrade, where it costs least: the client
		// retries with backoff as after any failed connection.
		w.Header().Set("Retry-After", "10")
		h.refuse(w, r, refusedConnsPerIP, fmt.Sprintf("too many connections from your address: the server allows %d per address", h.cfg.MaxConnsPerIP))
		return
	}
	hw := &hijackWriter{ResponseWriter: w}
	conn, err := h.upgrader.Upgrade(hw, r, nil)
	if err != nil {
		h.releaseConn(ip)
		return // the upgrader has answered with an HTTP error
	}
	setSendBuffer(conn.NetConn(), h.cfg.SendBuffer)
	target := parseTarget(r.URL.EscapedPath(), r.URL.RawQuery)
	if !protocol.ValidRoom(target.room) {
		// The handshake closes the session with 4002, which a browser
		// can show; the operator learns of it here.
		h.refusals.record(r, ip, refusedInvalidRoom, fmt.Sprintf("invalid room name %q", truncate(target.room, 200)))
	}
	s := &session{
		hub:     h,
		conn:    conn,
		br:      hw.br,
		rawConn: rawConnOf(conn.NetConn()),
		remote:  r.RemoteAddr,
		ip:      ip,
		query:   target.token,
		req:     r,
	}
	s.queue.init(h.cfg.QueueLength, h.cfg.QueueBytes, conn.NetConn(), s.writePump)
	if !h.addSession(s) {
		h.releaseConn(ip)
		s.readEnded.Store(true) // nothing reads this connection
		s.queue.close(closedGoingAway, "server shutting down", 0)
		<-s.queue.finished
		return
	}
	// The session runs in a goroutine of its own so that the handler
	// returns, and the request, the response and the HTTP server's
	// goroutine stack can be collected: an idle connection should cost
	// little more than its socket.
	go s.serve(target.room)
}

// Stats is a moment's count of a hub's rooms and connections.
type Stats struct {
	Rooms       int // rooms open in memory
	Connections int // WebSocket sessions, joined or not
}

// Stats returns the hub's current counts.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return Stats{Rooms: len(h.rooms), Connections: len(h.sessions)}
}

// Shutdown closes every session with "going away" (1001), stops every
// room after saving its document, and waits for all of their goroutines,
// or for ctx to end. New connections are refused from the first call on.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	first := !h.closing
	h.closing = true
	if first {
		close(h.stop)
	}
	var rooms []*room
	if first {
		for _, r := range h.rooms {
			rooms = append(rooms, r)
		}
	}
	sessions := make([]*session, 0, len(h.sessions))
	for s := range h.sessions {
		sessions = append(sessions, s)
	}
	h.mu.Unlock()
	for _, r := range rooms {
		close(r.stop)
	}
	for _, s := range sessions {
		s.queue.close(closedGoingAway, "server shutting down", 0)
	}
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		h.stopPoller()
		// The rooms have told the hooks everything: the hooks hear it
		// before Shutdown returns.
		h.hooks.close()
		<-h.hooks.done
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hub) addSession(s *session) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	if len(h.sessions) == 0 && !h.pinging {
		h.pinging = true
		h.wg.Add(1)
		go h.pingLoop()
	}
	h.sessions[s] = struct{}{}
	h.wg.Add(1)
	return true
}

func (h *Hub) removeSession(s *session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.sessions, s)
	h.releaseConnLocked(s.ip)
}

// acquire returns the open room with the given name, opening it if
// needed, and counts the caller as one of its holders until release.
func (h *Hub) acquire(name string) (*room, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.awaitEvictionLocked(name)
	h.awaitDeletionLocked(name)
	if h.closing {
		return nil, ErrShuttingDown
	}
	if err := h.quarantined[name]; err != nil {
		return nil, &QuarantinedError{Room: name, Err: err}
	}
	r := h.rooms[name]
	if r == nil {
		if err := h.makeRoomLocked(); err != nil {
			return nil, err
		}
		r = newRoom(h, name)
		h.rooms[name] = r
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			r.run()
		}()
	}
	r.refs++
	return r, nil
}

// release ends a hold taken by acquire.
func (h *Hub) release(r *room) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r.refs--
	if r.refs == 0 {
		r.idleSince = time.Now()
	}
}

// closeIfIdle removes r from the hub if no session holds it, and reports
// whether it did: after that no session can reach r, so r may stop.
func (h *Hub) closeIfIdle(r *room) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.refs > 0 || h.closing {
		return false
	}
	h.removeRoomLocked(r)
	return true
}

// quarantine removes a room whose stored records do not decode and keeps
// its name, so that later joins are refused without touching the store.
func (h *Hub) quarantine(r *room) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rooms[r.name] == r {
		delete(h.rooms, r.name)
	}
	h.quarantined[r.name] = r.err
}

// Quarantined lists the rooms refused since start-up because their stored
// records do not decode, with the error found in each.
func (h *Hub) Quarantined() map[string]error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.quarantined)
}

// forget removes a room that failed to load, so that the next join tries
// again.
func (h *Hub) forget(r *room) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeRoomLocked(r)
}
