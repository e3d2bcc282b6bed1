package sync

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/flowstate/flowstate/store"
)

// A Server serves a Hub over HTTP: WebSocket sessions at GET /ws/{room}
// and health at GET /healthz, plus any routes added to Mux.
type Server struct {
	// Mux routes the server's requests. Callers may add routes (a static
	// site, an API) before calling Serve.
	Mux *http.ServeMux

	hub     *Hub
	http    *http.Server
	started time.Time
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
	s.http = &http.Server{
		Handler:           s.Mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          nil,
	}
	return s
}

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
	Status      string  `json:"status"`      // "ok"
	Rooms       int     `json:"rooms"`       // rooms open in memory
	Connections int     `json:"connections"` // WebSocket sessions
	UptimeS     float64 `json:"uptime_s"`    // seconds since the server started
	RSSBytes    int64   `json:"rss_bytes"`   // resident memory, 0 where unknown
	CPUSeconds  float64 `json:"cpu_s"`       // user and system CPU time used so far
	// Quarantined names the rooms refused because their stored records do
	// not decode, with what was found; omitted when there are none.
	Quarantined map[string]string `json:"quarantined,omitempty"`
}

func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	st := s.hub.Stats()
	h := Health{
		Status:      "ok",
		Rooms:       st.Rooms,
		Connections: st.Connections,
		UptimeS:     time.Since(s.started).Seconds(),
		RSSBytes:    residentBytes(),
		CPUSeconds:  cpuSeconds(),
	}
	for room, err := range s.hub.Quarantined() {
		if h.Quarantined == nil {
			h.Quarantined = make(map[string]string)
		}
		h.Quarantined[room] = err.Error()
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
