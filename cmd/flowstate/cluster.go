package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/flowstate/flowstate/store"
	"github.com/flowstate/flowstate/store/jsstore"
	docsync "github.com/flowstate/flowstate/sync"
)

// clusterWait bounds how long a node waits at start-up for its JetStream
// cluster to elect leaders (the other nodes may start a little later).
const clusterWait = 2 * time.Minute

// clusterFlags are the flags of cluster mode: nodes that share rooms
// through NATS JetStream, either an embedded nats-server per node
// (--cluster-name) or an external NATS cluster (--nats).
type clusterFlags struct {
	nats     string // comma-separated NATS URLs of an external cluster
	name     string // cluster name of the embedded servers
	listen   string // host:port of the embedded server's routes
	peers    string // comma-separated host:port of the other nodes' routes
	nodeName string // this node's name in the cluster
	client   string // host:port of the embedded server's NATS clients
	storeDir string // the embedded server's JetStream directory
	replicas string // replicas of the stream and buckets; empty: automatic
}

func (c *clusterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.nats, "nats", os.Getenv("FLOWSTATE_NATS"), "comma-separated `URLs` of an external NATS cluster with JetStream to keep rooms in, shared with other nodes, instead of the data file (FLOWSTATE_NATS)")
	fs.StringVar(&c.name, "cluster-name", os.Getenv("FLOWSTATE_CLUSTER_NAME"), "run an embedded NATS JetStream server that forms the cluster of this `name` with the --cluster-peers, and keep rooms there, shared with them, instead of the data file (FLOWSTATE_CLUSTER_NAME)")
	fs.StringVar(&c.listen, "cluster-listen", envOr("FLOWSTATE_CLUSTER_LISTEN", "0.0.0.0:6222"), "`host:port` on which the embedded server accepts the other nodes' routes (FLOWSTATE_CLUSTER_LISTEN)")
	fs.StringVar(&c.peers, "cluster-peers", os.Getenv("FLOWSTATE_CLUSTER_PEERS"), "comma-separated `host:port` route addresses of the other nodes; this node's own may be listed too (FLOWSTATE_CLUSTER_PEERS)")
	fs.StringVar(&c.nodeName, "node-name", os.Getenv("FLOWSTATE_NODE_NAME"), "this node's `name` in the cluster, unique in it; default: the host name and the --cluster-listen port (FLOWSTATE_NODE_NAME)")
	fs.StringVar(&c.client, "cluster-client-listen", os.Getenv("FLOWSTATE_CLUSTER_CLIENT_LISTEN"), "`host:port` on which the embedded server accepts NATS clients, such as flowstate migrate, rooms, export and import with --nats; default: a free port of 127.0.0.1, for this node only (FLOWSTATE_CLUSTER_CLIENT_LISTEN)")
	fs.StringVar(&c.storeDir, "cluster-store", os.Getenv("FLOWSTATE_CLUSTER_STORE"), "`directory` of the embedded server's JetStream data; default: jetstream beside the --data file (FLOWSTATE_CLUSTER_STORE)")
	fs.StringVar(&c.replicas, "replicas", os.Getenv("FLOWSTATE_REPLICAS"), "copies of every update and snapshot in the cluster, 1 to 5; default: 3, or fewer nodes if the cluster has fewer (FLOWSTATE_REPLICAS)")
}

// enabled reports whether the server runs in cluster mode.
func (c *clusterFlags) enabled() bool { return c.nats != "" || c.name != "" }

// check refuses contradictory or malformed cluster flags.
func (c *clusterFlags) check() error {
	if c.nats != "" && c.name != "" {
		return errors.New("--nats joins an external NATS cluster and --cluster-name starts an embedded one: give one of them")
	}
	if c.name == "" && c.peers != "" {
		return errors.New("--cluster-peers needs --cluster-name")
	}
	if c.name == "" && c.client != "" {
		return errors.New("--cluster-client-listen needs --cluster-name")
	}
	if c.replicas != "" {
		n, err := strconv.Atoi(c.replicas)
		if err != nil || n < 1 || n > 5 {
			return fmt.Errorf("--replicas %q: a number from 1 to 5", c.replicas)
		}
	}
	return nil
}

// peerList returns the peers, without blanks and without this node's
// own route address.
func (c *clusterFlags) peerList() []string {
	var out []string
	for _, p := range strings.Split(c.peers, ",") {
		if p = strings.TrimSpace(p); p != "" && p != c.listen {
			out = append(out, p)
		}
	}
	return out
}

// storage describes where the documents are kept, for the start-up log.
func (c *clusterFlags) storage(data string) string {
	switch {
	case c.nats != "":
		return "NATS JetStream cluster at " + c.nats
	case c.name != "":
		return "embedded NATS JetStream, cluster " + c.name
	}
	return storageKind(data)
}

// openStore opens the store of f: a JetStream store in cluster mode,
// otherwise the data file (or memory). stop releases what cluster mode
// started (the connection and embedded server); call it after the
// store's Close.
func openStore(ctx context.Context, f serveFlags, logger *slog.Logger) (st store.Store, bolt *store.Bolt, stop func(), err error) {
	if !f.cluster.enabled() {
		st, bolt, err = openServeStore(f.data, f.syncEach, f.commitIvl)
		return st, bolt, func() {}, err
	}
	st, stop, err = f.cluster.open(ctx, f.data, logger)
	return st, nil, stop, err
}

// open starts the embedded server or connects to the external cluster,
// then opens the JetStream store, waiting for the cluster to be ready.
func (c *clusterFlags) open(ctx context.Context, data string, logger *slog.Logger) (store.Store, func(), error) {
	var nc *nats.Conn
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	replicas := 0
	if c.replicas != "" {
		replicas, _ = strconv.Atoi(c.replicas) // check has vetted it
	}
	var embedded *server.Server // /healthz and /metrics tell its meta leader
	if c.name != "" {
		cfg, err := c.serverConfig(data, logger)
		if err != nil {
			return nil, nil, err
		}
		ns, err := jsstore.StartServer(cfg)
		if err != nil {
			return nil, nil, err
		}
		embedded = ns
		stops = append(stops, func() {
			ns.Shutdown()
			ns.WaitForShutdown()
		})
		if nc, err = jsstore.Connect(ns, "flowstate "+cfg.Name); err != nil {
			stop()
			return nil, nil, err
		}
		if replicas == 0 {
			replicas = min(3, len(cfg.Peers)+1)
		}
		logger.Info("embedded NATS server started", "cluster", c.name, "node", cfg.Name, "routes", c.listen, "clients", ns.ClientURL(), "peers", cfg.Peers, "jetstream", cfg.StoreDir)
	} else {
		var err error
		nc, err = nats.Connect(c.nats, nats.Name("flowstate"), nats.MaxReconnects(-1))
		if err != nil {
			return nil, nil, fmt.Errorf("connect to NATS at %s: %w", c.nats, err)
		}
		if replicas == 0 {
			replicas = min(3, len(nc.Servers()))
		}
	}
	stops = append(stops, nc.Close)
	logger.Info("waiting for the JetStream cluster", "replicas", replicas)
	octx, cancel := context.WithTimeout(ctx, clusterWait)
	defer cancel()
	st, err := jsstore.Open(octx, nc, jsstore.Options{Replicas: replicas, Merge: docsync.MergeUpdates, Server: embedded})
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("%w (are at least %d nodes up, with --replicas %d?)", err, replicas/2+1, replicas)
	}
	return st, stop, nil
}

// serverConfig returns the embedded server's configuration.
func (c *clusterFlags) serverConfig(data string, logger *slog.Logger) (jsstore.ServerConfig, error) {
	dir := c.storeDir
	if dir == "" {
		if data == memoryData {
			return jsstore.ServerConfig{}, errors.New("--data :memory: has no directory for the embedded NATS server: give --cluster-store")
		}
		dir = filepath.Join(filepath.Dir(data), "jetstream")
	}
	name := c.nodeName
	if name == "" {
		host, err := os.Hostname()
		if err != nil {
			return jsstore.ServerConfig{}, fmt.Errorf("--node-name: the host name is unknown (%w): give a name", err)
		}
		_, port, err := net.SplitHostPort(c.listen)
		if err != nil {
			return jsstore.ServerConfig{}, fmt.Errorf("--cluster-listen %q: %w", c.listen, err)
		}
		name = host + ":" + port
	}
	return jsstore.ServerConfig{
		Name:          name,
		ClusterName:   c.name,
		ClusterListen: c.listen,
		Peers:         c.peerList(),
		ClientListen:  c.client,
		StoreDir:      dir,
		Logger:        logger,
	}, nil
}
