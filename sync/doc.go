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
GET /api/rooms/{room}. The Hub maps room names to rooms; it opens a room, loading its
document from a store.Store, when the first client joins, and closes it,
saving a snapshot, once it has been empty for Config.RoomIdleTimeout.

Each room is one goroutine that owns a crdt.Doc and the set of members.
Sessions send it joins, leaves, updates and presence over one channel; it
answers a join with exactly what the joiner lacks (a Diff of the joiner's
state vector) and the room's state vector, from which the joiner computes
what the room lacks and sends it. Updates are applied and relayed to the
other members at once; the updates applied since the last commit are
appended to the store in one call, from a goroutine of the room's (one
call at a time), and only after it returned are they acknowledged to
their senders, so that an Ack means the update is as durable as the store
makes it (on disk, for the bbolt store). A member may thus see an update
before it is durable; if the server dies then, the sender, never
acknowledged, sends it again after reconnecting. A room whose
stored records do not decode is quarantined: joins are refused and its
records left untouched. A
room drains the updates waiting in its channel before it relays them, so
that under load many updates travel in one message: the message is encoded
once and the same bytes go to every member who sent none of them.

Presence (cursor, selection, name, colour) is relayed as opaque bytes,
coalesced to one fan-out per client per Config.PresenceInterval, and cleared
when its client leaves or stops refreshing it.

A session has a read pump and a write pump, as in the gorilla/websocket
examples. The room never blocks on a session: it pushes to a bounded queue,
and a session whose queue overflows is disconnected as a slow consumer
(close code 4008). Its client reconnects, and the handshake's state vectors
make the resync lossless. protocol/PROTOCOL.md lists every message and
close code.

A Client (Dial) is the Go end of the same protocol: it keeps a local
crdt.Doc in sync with a room, reconnects with jittered exponential backoff,
and on every reconnection sends the server whatever it lacks, so that edits
made offline or never acknowledged are not lost.

# Access and limits

With Config.Auth, every session presents an HS256 token (in its Hello or
the token query parameter) naming a room or a room prefix, a permission
(read or write) and an expiry; it is checked before joining, and a session
is closed with 4408 when its token expires. Config also bounds message
size, each connection's message and byte rates, connections per client
address, rooms held in memory and each document's size, and lists the
origins whose pages may connect. Each rejection has its own close code.

# Concurrency

A room's document, members and presence belong to its goroutine; nothing
else touches them, and no lock guards them. The Hub's registry of rooms and
sessions is guarded by one mutex, never held while sending on a channel.
Each session's queue has its own mutex, taken by the room (push) and the
write pump (take) for a few instructions. Every goroutine has an owner and
an exit: Hub.Shutdown closes every session with 1001, stops every room after
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
