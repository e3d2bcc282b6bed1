package jsstore

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// MaxPayload is the largest message an embedded server accepts, 8 MiB:
// twice the largest message a client may send a FlowState server by
// default, so that any one update fits in one log entry. An external
// NATS server needs max_payload at least as large as the largest update.
const MaxPayload = 8 << 20

// ServerConfig configures an embedded nats-server.
type ServerConfig struct {
	// Name names the server in its cluster; every node needs its own.
	// Empty means the cluster address (host:port).
	Name string

	// ClusterName is the name every node of the cluster shares. Empty
	// means a server of its own, without routes.
	ClusterName string

	// ClusterListen is the host:port on which the server accepts the
	// routes of the other nodes ("0.0.0.0:6222"); port 0 picks a free
	// one. Required with ClusterName.
	ClusterListen string

	// Peers lists the host:port route addresses of the other nodes. A
	// node's own address may be listed too: it is ignored, so that every
	// node can be given the same list.
	Peers []string

	// ClientListen is the host:port on which the server accepts NATS
	// clients (for "flowstate rooms --nats" and other tools); the node's
	// own FlowState connects in-process either way. Empty means none for
	// a server of its own, and a free port of 127.0.0.1 in a cluster,
	// where the server needs a client listener to start its routes.
	ClientListen string

	// StoreDir is the directory JetStream keeps its data in. Required.
	StoreDir string

	// Logger receives the server's notices, warnings and errors. Nil
	// means none.
	Logger *slog.Logger
}

// StartServer starts an embedded nats-server with JetStream, and returns
// once it accepts connections (Connect). The caller stops it with
// Shutdown, then WaitForShutdown.
func StartServer(cfg ServerConfig) (*server.Server, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("jsstore: the embedded server needs a store directory")
	}
	opts := &server.Options{
		ServerName: cfg.Name,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		MaxPayload: MaxPayload,
		NoSigs:     true,
		NoLog:      cfg.Logger == nil,
		DontListen: cfg.ClientListen == "" && cfg.ClusterName == "",
	}
	if cfg.ClientListen == "" && cfg.ClusterName != "" {
		opts.Host, opts.Port = "127.0.0.1", server.RANDOM_PORT
	}
	if cfg.ClientListen != "" {
		host, port, err := splitHostPort(cfg.ClientListen)
		if err != nil {
			return nil, fmt.Errorf("jsstore: client address: %w", err)
		}
		opts.Host, opts.Port = host, randomIfZero(port)
	}
	if cfg.ClusterName != "" {
		host, port, err := splitHostPort(cfg.ClusterListen)
		if err != nil {
			return nil, fmt.Errorf("jsstore: cluster address: %w", err)
		}
		opts.Cluster.Name, opts.Cluster.Host, opts.Cluster.Port = cfg.ClusterName, host, randomIfZero(port)
		if opts.ServerName == "" {
			opts.ServerName = cfg.ClusterListen
		}
		for _, p := range cfg.Peers {
			if p == cfg.ClusterListen {
				continue
			}
			if _, _, err := splitHostPort(p); err != nil {
				return nil, fmt.Errorf("jsstore: cluster peer: %w", err)
			}
			opts.Routes = append(opts.Routes, &url.URL{Scheme: "nats", Host: p})
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("jsstore: embedded NATS server: %w", err)
	}
	if cfg.Logger != nil {
		s.SetLoggerV2(slogAdapter{cfg.Logger.With("component", "nats")}, false, false, false)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, errors.New("jsstore: the embedded NATS server did not start within 10 s (is the cluster port in use?)")
	}
	return s, nil
}

// Connect connects to an embedded server in-process, without a socket.
func Connect(s *server.Server, name string) (*nats.Conn, error) {
	nc, err := nats.Connect("", nats.InProcessServer(s), nats.Name(name), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("jsstore: connect to the embedded NATS server: %w", err)
	}
	return nc, nil
}

// randomIfZero turns port 0 into the server's "any free port", which
// it spells -1 (0 means its default port).
func randomIfZero(port int) int {
	if port == 0 {
		return server.RANDOM_PORT
	}
	return port
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("address %q: invalid port", addr)
	}
	return host, port, nil
}

// slogAdapter writes the server's log through slog. Its debug and trace
// lines are off (SetLoggerV2's flags).
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(format string, v ...any) { a.l.Info(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Fatalf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Errorf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Tracef(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
