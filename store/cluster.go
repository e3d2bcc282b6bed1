package store

// ClusterInfo is one node's view of the cluster that a shared store
// (store/jsstore) keeps its rooms in, as GET /healthz shows it. It is
// what this node sees, not the truth: a node cut off from the others
// reports them as not current, and no leader.
type ClusterInfo struct {
	// Node is the name of the NATS server the store is connected to.
	Node string `json:"node"`
	// Cluster is the name of that server's cluster.
	Cluster string `json:"cluster"`
	// MetaLeader is the server leading JetStream's meta group, empty
	// when this node sees none (no quorum) or cannot tell (an external
	// NATS server).
	MetaLeader string `json:"meta_leader,omitempty"`
	// Leader is the server leading the rooms' log, which every append
	// goes through; empty while none is elected. A leader cut off from
	// the others still names itself for a few seconds: Quorum tells.
	Leader string `json:"leader"`
	// Quorum is whether there is a leader and a majority of the peers,
	// it included, is current: appends can be acknowledged.
	Quorum bool `json:"quorum"`
	// Replicas is how many servers keep a copy of the log.
	Replicas int `json:"replicas"`
	// Peers are the servers keeping a copy of the log, the leader first.
	Peers []ClusterPeer `json:"peers"`
}

// ClusterPeer is one server keeping a copy of the rooms' log.
type ClusterPeer struct {
	Name string `json:"name"`
	// Current is whether the server is up to date with the leader: an
	// append is acknowledged once a majority is.
	Current bool `json:"current"`
	// Lag is how many log operations the server is behind the leader.
	Lag uint64 `json:"lag,omitempty"`
}
