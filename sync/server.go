package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flowstate/flowstate/store"
)

// A Server serves a Hub over HTTP: WebSocket sessions at GET /ws/{room},
// liveness at GET /healthz, readiness at GET /readyz, Prometheus metrics at
// GET /metrics and the read API at GET /api/rooms and GET /api/rooms/{room},
// plus any routes added to Mux.
type Server struct {
	// Mux routes the server's requests. Callers may add routes (a static
	// site, an API) before calling Serve.
	Mux *http.ServeMux

	// Version is reported by GET /healthz. Set it before calling Serve.
	Version string

	hub       *Hub
	http      *http.Server
	started   time.Time
	apiWrites *apiWrites // the write API's series (api_write.go)
}

// NewServer returns a server whose hub keeps documents in st.
func NewServer(cfg Config, st store.Store) *Server {
	s := &Server{
		Mux:     http.NewServeMux(),
		hub:     NewHub(cfg, st),
		started: time.Now(),
	}
	s.Mux.HandleFunc("GET /ws/{room}", s.hub.ServeWS)
	s.Mux.HandleFunc("GET /healthz", s.serveHealth)
	s.Mux.HandleFunc("GET /readyz", s.serveReady)
	s.Mux.Handle("GET /metrics", promhttp.HandlerFor(s.hub.metrics.reg, promhttp.HandlerOpts{}))
	s.Mux.HandleFunc("GET /api/rooms", s.serveRooms)
	s.Mux.HandleFunc("GET /api/rooms/{room}", s.serveRoom)
	s.Mux.Handle("POST /api/rooms/{room}/updates", s.counted("updates", s.serveUpdates))
	s.Mux.Handle("POST /api/rooms/{room}/edits", s.counted("edits", s.serveEdits))
	s.Mux.Handle("PUT /api/rooms/{room}", s.counted("create", s.serveCreate))
	s.Mux.Handle("DELETE /api/rooms/{room}", s.counted("delete", s.serveDelete))
	s.http = &http.Server{
		// Every route answers only the hosts the hub does (DNS
		// rebinding): the read API and /metrics as much as the upgrade.
		Handler:           s.hub.hostChecked(s.Mux),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          nil,
	}
	return s
}

// Handler returns the server's routes (those of Mux) behind its Host
// check, for a program that embeds FlowState: it mounts them on its own
// http.ServeMux, under a prefix with http.StripPrefix, or serves them
// from its own http.Server, instead of calling Serve. WebSocket sessions
// then outlive the program's HTTP server: the program calls Shutdown
// (after its own server's) to close them and save every room.
func (s *Server) Handler() http.Handler { return s.http.Handler }

// Hub returns the server's hub.
func (s *Server) Hub() *Hub { return s.hub }

// Serve accepts connections on ln until Shutdown. It returns
// http.ErrServerClosed after Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.http.Serve(ln) }

// Shutdown stops accepting connections, closes every session with "going
// away" after saving every room, and waits for them, or for ctx to end.
func (s *Server) Shutdown(ctx context.Context) error {
	errHTTP := s.http.Shutdown(ctx)
	errHub := s.hub.Shutdown(ctx)
	return errors.Join(errHTTP, errHub)
}

// Health is the JSON body of GET /healthz.
type Health struct {
	Status      string  `json:"status"`            // "ok"
	Version     string  `json:"version,omitempty"` // Server.Version
	Rooms       int     `json:"rooms"`             // rooms open in memory
	Connections int     `json:"connections"`       // WebSocket sessions
	UptimeS     float64 `json:"uptime_s"`          // seconds since the server started
	RSSBytes    int64   `json:"rss_bytes"`         // resident memory, 0 where unknown
	CPUSeconds  float64 `json:"cpu_s"`             // user and system CPU time used so far
	// PID is the server's process ID, so that a benchmark on the same
	// machine can read the process's counters from /proc.
	PID int `json:"pid"`
	// Quarantined names the rooms refused because their stored records do
	// not decode, with what was found; omitted when there are none.
	Quarantined map[string]string `json:"quarantined,omitempty"`
	// Cluster is the node's view of its cluster, with a store that has
	// one (ClusterReporter); omitted on a single node.
	Cluster *store.ClusterInfo `json:"cluster,omitempty"`
	// ClusterError says why the view of the cluster is partial.
	ClusterError string `json:"cluster_error,omitempty"`
}

// A ClusterReporter is a store shared by a cluster of servers, such as
// store/jsstore's, that can tell the cluster as this node sees it, for
// GET /healthz.
type ClusterReporter interface {
	ClusterInfo() (store.ClusterInfo, error)
}

func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	st := s.hub.Stats()
	h := Health{
		Status:      "ok",
		Version:     s.Version,
		Rooms:       st.Rooms,
		Connections: st.Connections,
		UptimeS:     time.Since(s.started).Seconds(),
		RSSBytes:    residentBytes(),
		CPUSeconds:  cpuSeconds(),
		PID:         os.Getpid(),
	}
	for room, err := range s.hub.Quarantined() {
		if h.Quarantined == nil {
			h.Quarantined = make(map[string]string)
		}
		h.Quarantined[room] = err.Error()
	}
	if cr, ok := s.hub.store.(ClusterReporter); ok {
		info, err := cr.ClusterInfo()
		h.Cluster = &info
		if err != nil {
			h.ClusterError = err.Error()
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(h)
}

// residentBytes returns the process's resident set size from
// /proc/self/status, or 0 where that file does not exist.
func residentBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// cpuSeconds returns the user and system CPU time the process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// A ReadyChecker is a store that can tell whether it is able to serve:
// its file open and usable. The hub's readiness asks stores that
// implement it; others count as ready while the hub runs.
type ReadyChecker interface {
	// Ready returns nil if the store can serve reads and writes now, and
	// otherwise why not.
	Ready() error
}

// Ready returns nil while the hub serves: ErrShuttingDown once Shutdown
// has begun, and the store's error if the store implements ReadyChecker
// and is not ready.
func (h *Hub) Ready() error {
	h.mu.Lock()
	closing := h.closing
	h.mu.Unlock()
	if closing {
		return ErrShuttingDown
	}
	if n := h.failingRooms.Load(); n > 0 {
		return fmt.Errorf("sync: the store cannot write: %d rooms hold updates they could not store", n)
	}
	if rc, ok := h.store.(ReadyChecker); ok {
		if err := rc.Ready(); err != nil {
			return fmt.Errorf("sync: store not ready: %w", err)
		}
	}
	return nil
}

// Readiness is the JSON body of GET /readyz.
type Readiness struct {
	Status string `json:"status"`          // "ready" or "not ready"
	Error  string `json:"error,omitempty"` // why not
}

// serveReady answers 200 while the hub serves and 503 while it shuts down
// or its store is not ready, so that a load balancer stops sending new
// clients before the server goes away. /healthz, by contrast, answers as
// long as the process runs.
func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	if err := s.hub.Ready(); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, Readiness{Status: "not ready", Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, Readiness{Status: "ready"})
}
