package sync

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// A refusal is why a request was refused before any session began. Each
// has its HTTP status, a name for logs and metrics, and a log level: a
// refused host or origin is most often a configuration to fix, and an
// operator should see it; the others are the server working as intended.
type refusal int

const (
	refusedHost        refusal = iota // the Host is not one the server answers (421)
	refusedOrigin                     // the page's Origin is not allowed (403)
	refusedConnsPerIP                 // the address holds Config.MaxConnsPerIP connections (429)
	refusedHandshake                  // not a valid WebSocket handshake (400)
	refusedInvalidRoom                // a room name the server refuses, after the upgrade (4002)
	numRefusals
)

var refusals = [numRefusals]struct {
	name   string
	status int // the HTTP status, or the close code after the upgrade
	level  slog.Level
}{
	refusedHost:        {"host", http.StatusMisdirectedRequest, slog.LevelWarn},
	refusedOrigin:      {"origin", http.StatusForbidden, slog.LevelWarn},
	refusedConnsPerIP:  {"conns_per_ip", http.StatusTooManyRequests, slog.LevelInfo},
	refusedHandshake:   {"bad_handshake", http.StatusBadRequest, slog.LevelInfo},
	refusedInvalidRoom: {"invalid_room", 4002, slog.LevelInfo},
}

// Refusal logs are rate-limited: a flood of refused requests (a
// misconfigured page reconnecting in a loop, a scan) must not flood the
// log. Lines past the limit are counted and the next line says how many
// were left out; the metric counts every one.
const (
	refusalLogEvery = time.Second
	refusalLogBurst = 10
)

// refusalLog writes the hub's refusal log lines within the rate limit.
type refusalLog struct {
	logger *slog.Logger
	limit  *rate.Limiter
	counts [numRefusals]prometheus.Counter

	mu sync.Mutex
	// mu guards suppressed.
	suppressed int // lines left out since the last one written
}

// newRefusalLog returns the refusal log of logger, counting refusals in
// reg as flowstate_refused_requests_total{reason,code}.
func newRefusalLog(logger *slog.Logger, reg prometheus.Registerer) *refusalLog {
	l := &refusalLog{logger: logger, limit: rate.NewLimiter(rate.Every(refusalLogEvery), refusalLogBurst)}
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Name: "refused_requests_total",
		Help: "Requests and WebSocket upgrades refused before a session began, by reason and HTTP status (or close code).",
	}, []string{"reason", "code"})
	reg.MustRegister(vec)
	for i, r := range refusals {
		l.counts[i] = vec.WithLabelValues(r.name, strconv.Itoa(r.status))
	}
	return l
}

// record counts a refusal and logs it with the request's address, host,
// origin and path (never the query, which may hold a token), unless the
// rate limit leaves the line out.
func (l *refusalLog) record(r *http.Request, ip string, why refusal, detail string) {
	l.counts[why].Inc()
	if !l.limit.Allow() {
		l.mu.Lock()
		l.suppressed++
		l.mu.Unlock()
		return
	}
	l.mu.Lock()
	n := l.suppressed
	l.suppressed = 0
	l.mu.Unlock()
	attrs := []any{
		"reason", refusals[why].name, "status", refusals[why].status, "remote", r.RemoteAddr, "ip", ip,
		"host", truncate(r.Host, 200), "path", truncate(r.URL.Path, 200), "detail", detail,
	}
	if o := r.Header.Get("Origin"); o != "" {
		attrs = append(attrs, "origin", truncate(o, 200))
	}
	if n > 0 {
		attrs = append(attrs, "suppressed", n)
	}
	l.logger.Log(context.Background(), refusals[why].level, "request refused", attrs...)
}

// refuse answers r with the refusal's status and detail as a plain-text
// body, and records it.
func (h *Hub) refuse(w http.ResponseWriter, r *http.Request, why refusal, detail string) {
	h.refusals.record(r, clientIP(r, h.cfg.TrustProxy), why, detail)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.Error(w, detail, refusals[why].status)
}

// upgradeFailed is the upgrader's Error: gorilla calls it for a refused
// Origin (403) and for a request that is not a valid WebSocket handshake.
func (h *Hub) upgradeFailed(w http.ResponseWriter, r *http.Request, status int, reason error) {
	why, detail := refusedHandshake, reason.Error()
	if status == http.StatusForbidden {
		why = refusedOrigin
		detail = fmt.Sprintf("pages of origin %q may not open sessions here: only the server's own origin and its allowed origins may (flowstate serve --allowed-origins)",
			truncate(r.Header.Get("Origin"), 200))
	}
	h.refusals.record(r, clientIP(r, h.cfg.TrustProxy), why, detail)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Sec-Websocket-Version", "13")
	http.Error(w, detail, status)
}
