/*
Package store keeps rooms' documents so that they outlive a room's time in
memory and, with a durable implementation, the server process.

# Overview

A Store holds, per room, the latest snapshot of the room's document and a
log of the updates appended since. Loading a room applies the snapshot and
then every logged update, in order, to an empty crdt.Doc; since applying an
update is idempotent and a snapshot is just an update, replaying a log entry
the snapshot already covers is harmless. Compact folds the log into a new
snapshot. The stored bytes are opaque here: the store never decodes them.

Bolt keeps everything in one bbolt file (OpenBolt); Memory keeps rooms in
memory for tests and ephemeral servers.

# File format

A Bolt data file is a bbolt database laid out as follows. Numbers are
big-endian; FormatVersion is 1. Room names are keys, as UTF-8 bytes.

	meta                 bucket
	    format           8-byte version of this layout (1)
	rooms                bucket: <room> → 24-byte info record: last change
	                     (Unix ns), log entries, log bytes
	snapshots            bucket: <room> → the latest snapshot
	logs                 bucket: <room> → bucket of the updates since the
	                     snapshot: 8-byte sequence number → one update
	journal              bucket: 8-byte sequence number → one Append call
	                     not yet folded into logs (see below)
	owners               bucket, made by the first SetOwners: <room> →
	                     bucket of the room's client IDs bound to
	                     identities: 8-byte client ID → identity (UTF-8)
	outbox               bucket, made by the first WriteOutbox: key chosen
	                     by the writer → value it decodes itself (package
	                     sync/webhook keeps its deliveries there)

A journal entry is the call's time (8 bytes, Unix ns), the room name and
the number of updates (each a uvarint length and its bytes, the count a
uvarint), then each update as a uvarint length and its bytes. A room's
updates are its log in order, then its journal entries in order.

Each kind of record has its own top-level bucket, rather than each room a
bucket of its own, because bbolt gives every bucket larger than a quarter
page a page of its own and rewrites a whole page for any change to it: a
room's snapshot would be rewritten with every change to its info or log,
and 10,000 rooms of 1 KiB would take 40 MB instead of 12.

Compact deletes the room's log bucket, so sequence numbers restart with
each snapshot; only their order matters. The info record lets Rooms
answer without reading logs; a missing or malformed one is recounted from
the log.

The owners bucket came later than the others: a file without it reads
as having no owners, and SetOwners creates it, so files written before
it open unchanged (read-only too) and keep format version 1. The outbox
bucket came later still, the same way: a file without it has an empty
outbox, and WriteOutbox creates it. The server
binds a client ID to the identity (the token's subject) that first
wrote under it in the room, and refuses others' writes under it (package
sync); a binding is never changed, only deleted with its room.

OpenBolt refuses a file whose format version is newer than FormatVersion
(ErrFormat), so that an older server never misreads a newer file. A later
format that only adds buckets or keys keeps version 1; one that changes the
meaning of existing ones increments it and converts old files on open.

# Durability and group commit

An Append returns nil only after its transaction's fsync. Writes from all
rooms go to one committer goroutine, which takes every write waiting when
it starts a transaction and commits them together with one fsync, then
answers each writer. It adds no delay: an idle store commits a lone write
at once, and writes that arrive during a commit form the next group. Under
load this turns thousands of fsyncs a second into a few hundred. The one
exception is AppendLater, for writers in no hurry: while the committer
holds only such writes, it waits until BoltOptions.CommitInterval (20 ms)
has passed since its previous commit began, gathering more, unless a
write whose caller waits arrives; a busy store then makes at most 50 such
commits a second.

Appends land in the journal: a group commit of a hundred rooms' appends
then writes a few adjacent pages, where appending to each room's log
would rewrite a page or two per room, and page writes, not the fsync,
would bound the throughput. Once the journal holds 4096 entries or 4 MiB,
the next transaction folds it: it moves every entry to its room's log,
touching each room once for many appends. Close folds what is left, so a
file at rest has an empty journal unless the process died. Loading a room
reads its journal entries too, so nothing waits for a fold to be seen.

# What a failed write means

An error from Append or Compact means that nothing of that call is
stored, and says nothing of what the store holds beyond: the updates of
earlier successful calls are there, and a call can be made again (an
Append of the same updates after a failure stores them once). The
server's rooms build their durability on this (package sync, "#
Durability"): they acknowledge an update only once an Append or Compact
holding it returned nil, keep it after a failure and append it again, in
order, with backoff, and never fall back to a full snapshot per failed
Append. An error wrapping ErrCorrupt says the room's records are
damaged and retrying cannot help. Ready reports whether a store can take
writes at all (closed, read-only).

Within a group, a write that fails on its own, such as an Append to a room
whose records are damaged, gets its error alone: the transaction is rolled
back and the rest of the group committed without it. A failure of the
transaction itself (a full disk, a failed fsync) fails every write of the
group, and none of them is stored.

# Damage

OpenBolt checks a file before bbolt maps it: both meta pages, a length that
covers every page the meta page claims, and a walk over every page of the
tree and the free list with bounds checks, since bbolt itself trusts its
file and a damaged page can make it crash the process. The walk reads the
file once (about 10 ms for 10,000 small rooms); BoltOptions.SkipCheck
leaves it out. A damaged, truncated or foreign file is refused with an
error wrapping ErrCorrupt or ErrFormat, never a panic. Any panic bbolt
raises later is recovered and returned as an error wrapping ErrCorrupt.

A single room whose records have the wrong shape (an info record, snapshot
or log of the wrong kind, a log key that is not 8 bytes) makes Load fail with an
error wrapping ErrCorrupt that names the room; other rooms load as usual,
and Delete removes the damaged room. A journal entry that does not decode
names no room: reads skip it and folds leave it in place.

# Concurrency

Every Store is safe for concurrent use. The server calls it from each
room's goroutine, one room's calls never concurrent with each other.
Reads run in bbolt read transactions alongside the committer's writes.

A Bolt file is locked (flock) while open: a second OpenBolt on it, in this
process or another, waits BoltOptions.LockTimeout and fails with ErrLocked.
Read-only opens share the file with each other but not with a writer.

# Caveats

Memory loses everything when the process exits. A bbolt file never
shrinks by itself: CompactFile rewrites it, offline. While a long read
runs (WriteTo of a large file), a commit that must grow the file waits for
it, as bbolt remaps the file only between reads. Journal entries of a
room whose records are damaged stay in the journal until the room is
deleted. Bolt's writes, like
bbolt's, are serialised: group commit is what makes them fast.
*/
package store
