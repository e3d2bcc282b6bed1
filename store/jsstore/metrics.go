package jsstore

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flowstate/flowstate/store"
)

// publishBuckets are the buckets of the append latency, in seconds: from
// 100µs (an in-process server, one replica) to 5 s (DefaultTimeout).
var publishBuckets = []float64{1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5}

// Collectors returns the store's Prometheus series, for the registry of
// the server it serves (sync registers them in the hub's). They are
// made once per Store, so registering them twice fails rather than
// counting twice.
func (s *Store) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.publishSeconds, s.pendingGauge, clusterCollector{s}}
}

// newMetrics makes the store's series.
func (s *Store) newMetrics() {
	s.publishSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "flowstate", Subsystem: "jetstream", Name: "publish_seconds",
		Help:    "Time from publishing a log entry to JetStream's acknowledgement (a majority of the replicas stored it), failures included.",
		Buckets: publishBuckets,
	})
	s.pendingGauge = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "flowstate", Subsystem: "jetstream", Name: "follow_pending",
		Help: "Log entries of the rooms this node follows that its rooms have yet to apply, as last told by JetStream.",
	}, func() float64 { return float64(s.pending.Load()) })
}

var (
	peersDesc = prometheus.NewDesc("flowstate_cluster_peers",
		"Servers keeping a copy of the rooms' log, as this node sees them.", nil, nil)
	currentDesc = prometheus.NewDesc("flowstate_cluster_peers_current",
		"Servers keeping a copy of the rooms' log that are up to date with its leader, as this node sees them.", nil, nil)
	quorumDesc = prometheus.NewDesc("flowstate_cluster_quorum",
		"1 if this node sees a leader of the rooms' log and a majority of its servers current (appends can be acknowledged), else 0.", nil, nil)
	metaLeaderDesc = prometheus.NewDesc("flowstate_cluster_meta_leader",
		"1 if this node sees a JetStream meta leader, else 0; only with an embedded server (Options.Server).", nil, nil)
	scrapeErrorDesc = prometheus.NewDesc("flowstate_cluster_info_error",
		"1 if this node could not ask JetStream about the cluster at this scrape, else 0.", nil, nil)
)

// clusterCollector asks JetStream about the cluster at each scrape,
// rather than keeping gauges up to date, since membership changes
// without this node doing anything.
type clusterCollector struct{ s *Store }

func (c clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- peersDesc
	ch <- currentDesc
	ch <- quorumDesc
	ch <- metaLeaderDesc
	ch <- scrapeErrorDesc
}

func (c clusterCollector) Collect(ch chan<- prometheus.Metric) {
	info, err := c.s.ClusterInfo()
	current := 0
	for _, p := range info.Peers {
		if p.Current {
			current++
		}
	}
	ch <- prometheus.MustNewConstMetric(peersDesc, prometheus.GaugeValue, float64(len(info.Peers)))
	ch <- prometheus.MustNewConstMetric(currentDesc, prometheus.GaugeValue, float64(current))
	ch <- prometheus.MustNewConstMetric(quorumDesc, prometheus.GaugeValue, bit(info.Quorum))
	if c.s.opts.Server != nil {
		ch <- prometheus.MustNewConstMetric(metaLeaderDesc, prometheus.GaugeValue, bit(info.MetaLeader != ""))
	}
	ch <- prometheus.MustNewConstMetric(scrapeErrorDesc, prometheus.GaugeValue, bit(err != nil))
}

func bit(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// clusterInfoTimeout bounds ClusterInfo's question to JetStream, which
// goes unanswered without a quorum: /healthz, a liveness probe often
// given 1 s, must answer within it anyway.
const clusterInfoTimeout = 500 * time.Millisecond

// ClusterInfo returns this node's view of the cluster: the servers
// keeping the rooms' log, whether each is current, and its leader. On
// an error (no NATS connection, no quorum to answer), what could be
// told is returned with it.
func (s *Store) ClusterInfo() (store.ClusterInfo, error) {
	info := store.ClusterInfo{
		Node:     s.nc.ConnectedServerName(),
		Cluster:  s.nc.ConnectedClusterName(),
		Replicas: s.opts.Replicas,
	}
	if ns := s.opts.Server; ns != nil {
		info.Node = ns.Name()
		if jsz, err := ns.Jsz(nil); err == nil && jsz.Meta != nil {
			info.MetaLeader = jsz.Meta.Leader
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(s.opts.Timeout, clusterInfoTimeout))
	defer cancel()
	si, err := s.stream.Info(ctx)
	if err != nil {
		return info, fmt.Errorf("jsstore: stream info: %w", err)
	}
	if cl := si.Cluster; cl != nil {
		if cl.Name != "" {
			info.Cluster = cl.Name
		}
		info.Leader = cl.Leader
		if cl.Leader != "" {
			info.Peers = append(info.Peers, store.ClusterPeer{Name: cl.Leader, Current: true})
		}
		for _, p := range cl.Replicas {
			info.Peers = append(info.Peers, store.ClusterPeer{Name: p.Name, Current: p.Current && !p.Offline, Lag: p.Lag})
		}
	} else {
		// One server, no cluster: it is the log.
		info.Leader = info.Node
		info.Peers = []store.ClusterPeer{{Name: info.Node, Current: true}}
	}
	current := 0
	for _, p := range info.Peers {
		if p.Current {
			current++
		}
	}
	info.Quorum = info.Leader != "" && current > len(info.Peers)/2
	return info, nil
}
