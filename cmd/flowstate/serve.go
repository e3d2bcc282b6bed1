package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/flowstate/flowstate/store"
	docsync "github.com/flowstate/flowstate/sync"
	"github.com/flowstate/flowstate/web"
)

// defaultAddr is where the server listens unless told otherwise.
const defaultAddr = "127.0.0.1:8080"

// shutdownTimeout bounds the graceful shutdown after SIGTERM or SIGINT.
const shutdownTimeout = 10 * time.Second

const serveUsageText = `Usage:

	flowstate [serve] [flags]

Runs the server: WebSocket sessions at /ws/{room}, liveness at /healthz,
readiness at /readyz, Prometheus metrics at /metrics, the read API at
/api/rooms and /api/rooms/{room}, the demo page at / and the browser
client at /flowstate.js, with its editor bindings beside it
(/flowstate-textarea.js, -codemirror.js, -prosemirror.js, -tiptap.js,
-quill.js).
Every flag can also be set by the environment variable named after it.

--webhook sends signed room.changed, room.created, room.deleted and
room.idle events to the application, kept in the data file until
delivered; --auth-url lets the application decide who may open a room.
The README describes their payloads, headers and verification.

Flags:
`

// serveFlags are the flags of "flowstate serve".
type serveFlags struct {
	addr      string
	data      string
	logFormat string
	logLevel  string
	cpuProf   string
	pprof     bool
	adminTok  string         // enables GET /admin/backup (admin.go)
	tlsCert   string         // PEM certificate chain; with tlsKey, serve HTTPS
	tlsKey    string         // PEM private key of tlsCert
	syncEach  bool           // one fsync per update, for benchmarks
	commitIvl time.Duration  // store.BoltOptions.CommitInterval
	access    accessFlags    // auth, origins and limits (token.go)
	webhooks  webhookFlags   // integrations.go
	cluster   clusterFlags   // several nodes over NATS JetStream (cluster.go)
	config    docsync.Config // built by runServe from access
}

func newServeFlagSet(f *serveFlags, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.addr, "addr", envOr("FLOWSTATE_ADDR", defaultAddr), "`host:port` to listen on (FLOWSTATE_ADDR)")
	fs.StringVar(&f.data, "data", envOr("FLOWSTATE_DATA", "./flowstate.db"), "data `file`, or :memory: to keep documents in memory only (FLOWSTATE_DATA)")
	fs.StringVar(&f.adminTok, "admin-token", envOr("FLOWSTATE_ADMIN_TOKEN", ""), fmt.Sprintf("serve a hot backup at GET /admin/backup, and allow DELETE /api/rooms/{room}, to callers presenting this bearer `token`, at least %d bytes; empty disables both (FLOWSTATE_ADMIN_TOKEN)", docsync.MinSecretBytes))
	fs.StringVar(&f.logFormat, "log-format", envOr("FLOWSTATE_LOG_FORMAT", "text"), "log format: text or json (FLOWSTATE_LOG_FORMAT)")
	fs.StringVar(&f.logLevel, "log-level", envOr("FLOWSTATE_LOG_LEVEL", "info"), "log level: debug, info, warn or error (FLOWSTATE_LOG_LEVEL)")
	fs.BoolVar(&f.pprof, "pprof", envOr("FLOWSTATE_PPROF", "") == "true", "serve net/http/pprof profiles at /debug/pprof/ (FLOWSTATE_PPROF=true)")
	fs.StringVar(&f.cpuProf, "cpuprofile", "", "write a CPU profile to `file` until the server stops")
	fs.BoolVar(&f.syncEach, "fsync-each-update", false, "commit every update in a transaction (and fsync) of its own instead of group-committing; only to measure what group commit gains")
	f.access.durationFlag(fs, &f.commitIvl, "commit-interval", "FLOWSTATE_COMMIT_INTERVAL", store.DefaultCommitInterval, "how long after one commit to the data file the next may wait, gathering more rooms' writes, while only Acks wait for them: fewer fsyncs on a busy server for Acks up to this much later (negative: no wait)")
	fs.StringVar(&f.tlsCert, "tls-cert", envOr("FLOWSTATE_TLS_CERT", ""), "serve HTTPS and wss:// with this PEM certificate `file` (the full chain), with --tls-key (FLOWSTATE_TLS_CERT)")
	fs.StringVar(&f.tlsKey, "tls-key", envOr("FLOWSTATE_TLS_KEY", ""), "PEM private key `file` of --tls-cert (FLOWSTATE_TLS_KEY)")
	f.access.register(fs)
	f.webhooks.register(fs, &f.access)
	f.cluster.register(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, serveUsageText)
		fs.PrintDefaults()
	}
	return fs
}

// envOr returns the environment variable key, or def when it is unset.
func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

// runServe runs the server until SIGINT or SIGTERM.
func runServe(args []string, stdout, stderr io.Writer) int {
	var f serveFlags
	fs := newServeFlagSet(&f, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "flowstate serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		fmt.Fprintln(stderr, "flowstate serve: --tls-cert and --tls-key go together: give both (or FLOWSTATE_TLS_CERT and FLOWSTATE_TLS_KEY), or neither for plain HTTP")
		return 2
	}
	if err := f.cluster.check(); err != nil {
		fmt.Fprintf(stderr, "flowstate serve: %v\n", err)
		return 2
	}
	logger, err := newLogger(f.logFormat, f.logLevel, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "flowstate serve: %v\n", err)
		return 2
	}
	if err := f.access.apply(&f.config, logger); err != nil {
		fmt.Fprintf(stderr, "flowstate serve: %v\n", err)
		return 2
	}
	if _, _, err := f.webhooks.config(logger); err != nil {
		fmt.Fprintf(stderr, "flowstate serve: %v\n", err)
		return 2
	}
	if f.adminTok != "" && len(f.adminTok) < docsync.MinSecretBytes {
		fmt.Fprintf(stderr, "flowstate serve: --admin-token is %d bytes: it grants a copy of every document and must be at least %d bytes; make one with: openssl rand -hex 32\n", len(f.adminTok), docsync.MinSecretBytes)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopProfile, err := startCPUProfile(f.cpuProf)
	if err != nil {
		fmt.Fprintf(stderr, "flowstate serve: %v\n", err)
		return 1
	}
	defer stopProfile()
	if err := serve(ctx, f, logger); err != nil {
		logger.Error("server failed", "err", err)
		return 1
	}
	return 0
}

// serve listens on f.addr and serves until ctx ends, then shuts down.
func serve(ctx context.Context, f serveFlags, logger *slog.Logger) error {
	// The certificate first: a bad one should stop the server before it
	// opens, and locks, the data file.
	var tlsConfig *tls.Config
	if f.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return fmt.Errorf("TLS certificate %s and key %s: %w", f.tlsCert, f.tlsKey, err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	st, bolt, stopCluster, err := openStore(ctx, f, logger)
	if err != nil {
		return err
	}
	defer stopCluster()
	// Deferred, so it runs after the shutdown below has saved every room.
	defer func() {
		if err := st.Close(); err != nil {
			logger.Error("closing the store failed", "err", err)
		}
	}()
	hooks, err := startWebhooks(f, st, logger)
	if err != nil {
		return err
	}
	cfg := f.config
	cfg.Logger = logger
	cfg.AllowedHosts = withListenHost(cfg.AllowedHosts, f.addr)
	if hooks != nil {
		// Deferred after the store's Close, so it runs before it: the
		// events of the rooms saved at shutdown reach the outbox.
		defer hooks.Close()
		cfg.Hooks = hooks.Hooks(cfg.Hooks)
	}
	cfg.AdminToken = f.adminTok // DELETE /api/rooms/{room}
	srv := docsync.NewServer(cfg, st)
	if hooks != nil {
		// The webhooks' series beside the hub's, at /metrics.
		for _, c := range hooks.Collectors() {
			if err := srv.Hub().Registry().Register(c); err != nil {
				return err
			}
		}
	}
	srv.Version = readBuildInfo().String()
	// The demo page and the client bundles; more specific routes
	// (/ws/{room}, /healthz) take precedence over "GET /".
	srv.Mux.Handle("GET /", web.Handler())
	if f.adminTok != "" && bolt != nil {
		srv.Mux.Handle("GET /admin/backup", backupHandler(bolt, f.adminTok, logger))
	}
	if f.pprof {
		srv.Mux.HandleFunc("GET /debug/pprof/", httppprof.Index)
		srv.Mux.HandleFunc("GET /debug/pprof/profile", httppprof.Profile)
		srv.Mux.HandleFunc("GET /debug/pprof/symbol", httppprof.Symbol)
		srv.Mux.HandleFunc("GET /debug/pprof/trace", httppprof.Trace)
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	web, ws := "http", "ws"
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
		web, ws = "https", "wss"
	}
	logger.Info("listening", "addr", ln.Addr().String(), "demo", demoURL(web, ln.Addr().String()), "websocket", ws+"://"+ln.Addr().String()+"/ws/{room}",
		"data", f.data, "storage", f.cluster.storage(f.data))
	if len(f.config.AllowedHosts) == 0 && !isLoopback(ln.Addr()) {
		logger.Warn("listening beyond loopback without --allowed-hosts: requests that name this server by a DNS name " +
			"(a proxy passing Host: sync.example.com, a browser at http://sync.example.com) get 421; IP addresses and localhost are answered. " +
			"List the names with --allowed-hosts or FLOWSTATE_ALLOWED_HOSTS")
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}

// demoURL returns the address of the demo page of a server listening on
// addr, to open in a browser: one listening on every interface is opened
// on loopback. scheme is http or https.
func demoURL(scheme, addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return scheme + "://" + addr + "/"
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/"
}

// newLogger returns a slog logger writing to w in the given format.
func newLogger(format, level string, w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: use text or json", format)
}

// withListenHost adds the host of addr to hosts when it is a name: a
// server told to listen on "sync.internal:8080" answers for that name.
func withListenHost(hosts []string, addr string) []string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" || net.ParseIP(host) != nil || slices.Contains(hosts, "*") {
		return hosts
	}
	return append(slices.Clip(hosts), strings.ToLower(host))
}

// isLoopback reports whether a listens on a loopback address only.
func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}
