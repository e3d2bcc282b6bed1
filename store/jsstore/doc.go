/*
Package jsstore keeps rooms in NATS JetStream (the design, with the data
flow across nodes, is CLUSTER.md beside this file), so that several FlowState
nodes share them: a store.Store whose appends are acknowledged once a
quorum of JetStream servers stored them, and an embedded nats-server
(StartServer) that makes three copies of the FlowState binary a cluster by
themselves.

# Overview

Each room has a log, a subject of one stream, and at most one snapshot,
an object of an object store, found through the room's key in a KV
bucket (its head), which names the stream sequence the snapshot covers.
With the default prefix "flowstate":

	stream FLOWSTATE_ROOMS    subjects flowstate.room.*: one message per
	                          Append (or per max_payload of it), holding
	                          its updates (encodeEntry); headers
	                          Nats-Msg-Id (a hash of subject and bytes)
	                          and Flowstate-Node (the appending store)
	KV flowstate_heads        <token> → head (JSON): {seq, object, bytes,
	                          time}: the snapshot holds the room's log up
	                          to stream sequence seq
	objects flowstate_snapshots
	                          <token>.<nuid> → one snapshot (chunked by
	                          the object store, so tens of MB are fine)
	KV flowstate_owners       <token>.<client ID> → identity bound to it
	subject flowstate.presence.<token>
	                          core NATS, not stored: presence changes of
	                          one node's members (PublishPresence)

The stream, buckets and object store have Options.Replicas replicas,
and every read of them goes to its stream's leader: nats.go makes a
bucket with direct gets, which any replica may answer, one that lags
(an old head: a load would miss acknowledged appends) or one that is
paused (the request is lost until the route to it is found dead,
minutes later), so Open turns them off. A handle made while another
store had them on (stores opening at once) makes direct gets that no one
answers: a read that meets no responders makes the handles again.

Room names map to tokens with RoomToken: ASCII letters, digits and '-'
stand for themselves, every other byte is '_' and two upper-case hex
digits ("notes.v2" → "notes_2Ev2"). A token is a valid subject token, KV
key and object name, and RoomFromToken reverses it.

Follow hands a room the entries other stores append after the point its
load read up to (package sync's Feed), through an ordered consumer.

Load reads the head, the snapshot and the log after the head's sequence,
then the head again; if a compaction changed it meanwhile (and may have
purged what was read), it starts again.

Compact stores a new snapshot under a new object name, then replaces the
head by compare-and-set on its KV revision, then purges the room's log up
to the sequence of earlier heads at least Options.PurgeDelay (a minute)
old, then deletes the old object. The head keeps the younger ones'
sequences (marks). The delay lets a room on another node that follows the
log (Follow), and fell behind (its consumer was on a node that died and
is being made again), still read every entry: loads read only what
follows the current head. A follower further behind than that would skip
the purged entries without knowing (a consumer delivers the next entry
there is), so each head records how far its compaction purged, one
watcher per store follows the heads, and a follower that a head purged
past is handed that head's snapshot, which holds every purged entry. The caller's snapshot holds what it loaded and
what it appended itself; whatever other nodes appended after its load,
and a snapshot stored by another node (or one this store completed with
such entries), is folded in with Options.Merge before the snapshot is
stored. Of two nodes compacting at once, one's compare-and-set fails: it
starts again, folding in the winner's snapshot. Nothing is purged before a snapshot holding it is stored, so a crash at
any step loses nothing: a leftover object only takes space, and log
entries older than the head are never read.

# Failure cases

  - No quorum (a majority of a stream's replicas down or unreachable):
    Append returns an error after Options.Timeout, and the room keeps the
    updates, acknowledges nothing, refuses new ones with 1013 and retries
    (package sync); /readyz answers 503. Loads may still succeed from a
    replica.
  - An Append whose acknowledgement was lost may still be stored: the
    retry carries the same message ID, and JetStream keeps one copy within
    its duplicate window (2 minutes); beyond it, a second copy is harmless,
    as applying an update twice changes nothing.
  - A node that dies mid-compaction leaves at worst an unreferenced
    object.

# Concurrency

A Store is safe for concurrent use. It expects, as package sync does, one
caller per room at a time per store, whose Compact snapshot holds
everything that caller loaded and appended.

# Caveats

Rooms reports LogEntries as messages, not updates, and no LogBytes. An
external NATS server needs max_payload of at least the largest update
(the embedded one allows MaxPayload). The embedded server in a cluster
listens for NATS clients on a free port of 127.0.0.1 unless told
otherwise, without authentication: it trusts the local machine.
*/
package jsstore
