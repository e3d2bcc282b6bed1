/*
Package sync is FlowState's server: it relays CRDT updates between the
members of a room over WebSocket and keeps each room's document. Callers
import it as docsync, since it shadows the standard library's sync. The Go
client is package sync/client; Dial, Client and ClientOptions here are
aliases of it, kept for existing callers.

# Overview

A Server serves a Hub over HTTP: WebSocket sessions at GET /ws/{room},
GET /healthz (liveness), GET /readyz (readiness), Prometheus metrics at
GET /metrics (Hub.Registry) and a JSON read API at GET /api/rooms and
GET /api/rooms/{room}, and a write API (POST /api/rooms/{room}/updates
and /edits, PUT and DELETE /api/rooms/{room}; api_write.go), whose
writes are answered once durable. A program embeds the server by
mounting Server.Handler on its own mux and registering Config.Hooks
(hooks.go): Authorize decides on callers at their Hello or API call, and
the other hooks hear of loads, durable changes, idle rooms, creations and
deletions from one goroutine of the hub's, never a room's.

The Hub maps room names to rooms; it opens a room, loading its document
from a store.Store, when the first client joins, and closes it, saving a
snapshot, once it has been empty for Config.RoomIdleTimeout.

Each room is one goroutine that owns a crdt.Doc and the set of members.
Sessions send it joins, leaves, updates and presence over one channel; it
answers a join with exactly what the joiner lacks (a Diff of the joiner's
state vector) and the room's state vector, from which the joiner computes
what the room lacks and sends it. Updates are applied and relayed to the
other members at once, then appended to the store, from a goroutine of
the room's, one Append at a time, holding every update applied since the
last one that succeeded. On an open server a member may thus see an
update before it is durable; if the server dies then, the sender, never
acknowledged, sends it again after reconnecting, and so may the member.
With Config.Auth, where only its author may write under a client ID,
updates are relayed only once written, and a join waits until everything
the room applied is written (updates that arrive meanwhile wait for the
join; while the store fails, such a join is refused with 1013): a member
never holds another user's update that the server may still lose, which
it could not send back after a crash. A room whose stored records do not decode
is quarantined: joins are refused and its records left untouched. A
room drains the updates waiting in its channel before it relays them, so
that under load many updates travel in one message: the message is encoded
once and the same bytes go to every member who sent none of them.

# Several servers

A store that is also a Feed (store/jsstore, over NATS JetStream) is shared
by several servers. Each open room then follows the store's log from where
its load read up to: updates appended through other servers arrive in the
room's channel like any other event, are applied, and are relayed to the
members; they are durable already, so nobody is owed an Ack for them. A
compaction appends the room's unwritten updates to the log before storing
the snapshot, so that the other servers see them too. A store that is
also a PresenceBus carries the presence changes of each server's members
to the others', whose members see them as their own members'; one that
is an OwnerWatcher tells each room, with Config.Auth, of the client IDs
bound through other servers, which it then enforces as its own. See
store/jsstore/CLUSTER.md.

# Hostile updates

The CRDT applies an update whole or refuses it whole, and never panics
(crdt/doc.go, Guarantees); a refused update closes its sender with 4004
and changes nothing. As defence in depth the room also recovers a panic
of the CRDT: the sender is closed with 4004, the panic is logged with the
start of the update in hex and counted (flowstate_apply_panics_total),
and the document, which the panic may have left half changed, is rebuilt
from the store's records and the updates not yet written, so the room
goes on exactly as it was before that update. If it cannot be rebuilt,
the room is quarantined, as for damaged stored records; the process and
every other room keep running. An update whose apply takes longer than
50 ms is logged and counted (flowstate_slow_updates_total), beside the
flowstate_apply_seconds histogram of every apply.

# Document formats

Rich text is format 2 or 3 of the CRDT's byte format (3 writes marks
compactly; the CRDT reads both and writes 3), which a client of an older
format cannot read (PROTOCOL.md §6.2). A session keeps the format its Hello
declared (1 before protocol version 4), and a room the newest format of
any update its document took, stored ones included: it rises when a rich
update arrives, and never falls. A session that reads less than its room
is refused at the Hello, or closed when the room's format rises, with
4006, before any update of that format is queued for it; an Update of a
format its sender did not declare is refused with 4006 in the read pump,
before the room sees any of it (format.go).

# Durability

The room keeps one promise: an Ack, and so a client's synced status, is
sent only for updates that are on disk (as durable as the store makes
them), and never while an update the room accepted earlier is not. The
room counts the updates it applied and those the store wrote, and an Ack
is due once every update up to its message's last is written. On a
connection of protocol version 3 or later, an Ack due while a relay to the same
member waits for the relay interval goes out in that relay's seq instead:
one message and one write rather than two, and never sooner. With a
store that can append without a waiting goroutine (AppendAsync, as
*store.Bolt does), the room hands its Append over and the store's
committer reports back to it. When nothing but Acks waits for the write
(no Config.Auth, no write of the HTTP API, fewer than 32 updates), the
room lets such a store gather it with other rooms' writes for up to its
commit interval (AppendLater): fewer fsyncs, later Acks.

On a connection of protocol version 5, a relay of one update goes as a
Patch against the last update relayed to that member (member.base) when
that is shorter: a keystroke then costs each member a third of the bytes.
The room makes the Patch once per relay for every member whose base is
the same update in memory, which in a room with one typist is every
other member, so a relay is still encoded once. A session reads a
client's Patch against the last update that client sent (session.upBase)
and hands the room the Update it stands for.

A failed write loses nothing and acknowledges nothing. The room keeps the
updates it could not write, retries them in one Append (never a full
snapshot per failure) after 50 ms, doubling up to 5 s, until one
succeeds; meanwhile it takes no new update (the sender is closed with
1013, try again later, and clients back off before reconnecting),
Hub.Ready and GET /readyz report that the store cannot write, and the
members stay connected, receiving what others sent before the failure.
Once a write succeeds, the Acks it makes due go out and the room takes
updates again. A store that reports the room's records damaged
(store.ErrCorrupt) gets the room quarantined instead.

The Welcome's state vector is that of what the store holds, not of the
document: a client that (re)joins is never told that the server keeps
an update it may still lose, so it sends back whatever is not written
yet, and gets its Ack only once that is on disk. A room that must close
(idle, evicted, shut down) with updates it cannot write logs them; their
senders were never acknowledged and still hold them.

Presence (cursor, selection, name, colour) is relayed as opaque bytes,
coalesced to one fan-out per client per Config.PresenceInterval, and cleared
when its client leaves or stops refreshing it.

A session has a read pump and a write pump, as in the gorilla/websocket
examples, but neither holds a goroutine while the connection is idle: the
write pump runs while there is something to write, and a session that has
read everything waits (idle.go) in the hub's epoll poller on Linux, or in
a goroutine with a small stack elsewhere and over TLS, until its client
sends, closes, or lets its read deadline pass. The room never blocks on a session: it pushes to a bounded queue,
and a session whose queue overflows, or that falls Config.SlowConsumerLag
behind in reading, is disconnected as a slow consumer (close code 4008).
How far behind a client reads is measured end to end with probe pings
(probe.go): a pong proves the client read everything sent before its
ping. Each connection asks for a small kernel send buffer
(Config.SendBuffer), so that what the kernel holds, which neither bound
sees, stays small. A drop never truncates a frame: the frame being
written is finished before the farewell. Its client reconnects, and the handshake's state vectors
make the resync lossless. protocol/PROTOCOL.md lists every message and
close code.

A client of protocol version 2 may ask for a heartbeat in its Hello
(heartbeat.go): the session echoes its echo requests through the queue and
closes it with 4005 when nothing has arrived for three of its intervals.
That deadline is the read deadline the read pump sets after every frame
anyway, so the heartbeat costs an idle session nothing of its own, and the
server sends no heartbeat of its own.

A Client (Dial) is the Go end of the same protocol: it keeps a local
crdt.Doc in sync with a room, reconnects with jittered exponential backoff,
and on every reconnection sends the server whatever it lacks, so that edits
made offline or never acknowledged are not lost. After 1013 it waits at
least a second (or MaxBackoff, if smaller), doubling while the server
keeps answering 1013, as a Welcome does not reset that wait; an Ack does.

# Access and limits

With Config.Auth, every session presents an HS256 token (in its Hello or
the token query parameter) naming a room or a room prefix, a permission
(read or write) and an expiry; it is checked before joining, and a session
is closed with 4408 when its token expires. Config also bounds message
size, each connection's message and byte rates, connections per client
address, rooms held in memory and each document's size, and lists the
origins whose pages may connect. Ping and pong frames draw on the message
allowance like messages, and the Hello deadline is absolute. Each
rejection has its own close code.

Every route of a Server, and Hub.ServeWS, answers only the Host headers
it is configured for (Config.AllowedHosts): IP addresses, localhost, the
listed names and the hosts of Config.AllowedOrigins; others get HTTP 421.
This stops DNS rebinding, in which a page of another site has its own
name resolve to the server's address. Requests refused before a session
(421, 403, 429, a bad handshake, an invalid room) are logged, at most 10
lines a second, and counted in flowstate_refused_requests_total.

Client IDs are bound to those who use them, per room (owners.go,
PROTOCOL.md section 6.1). At most one member holds a client ID: a Hello
for an ID a member holds replaces that member (4410) when both are of the
same user (on an open server, always), so that a client reconnecting
before its old connection was noticed dead gets in at once, and is
refused (4409) otherwise. With Config.Auth, the first identity (the
token's sub, which write tokens must have) to write under a client ID
owns it in that room, a binding stored with the room (store.Store's
SetOwners) before the write that made it; a Hello for an ID another
identity owns is refused (4403), and so is an Update holding new records
under such an ID, or under an ID a member of another identity holds,
before anything of it is applied. Presence is only ever for the
session's own ID.

# Concurrency

A room's document, members and presence belong to its goroutine; nothing
else touches them, and no lock guards them. The Hub's registry of rooms and
sessions is guarded by one mutex, never held while sending on a channel.
Each session's queue has its own mutex, taken by the room (push) and the
write pump (take) for a few instructions. Of the wakes of a parked session
(its socket, its read deadline, the server closing it), the first to clear
its parked flag resumes its read pump; the others do nothing. Every
goroutine has an owner and an exit: Hub.Shutdown closes every session with 1001, stops every room after
saving it, and waits for all of them.

Client methods are safe for concurrent use; one mutex guards the local
document and the connection's writes.

# Caveats

An Ack is as durable as the store: with store.Memory a restart of the
process loses everything. A client that reconnects resends the whole
delete set of its document with what the server lacks, as crdt.Doc.Diff
does.
*/
package sync
