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

Memory keeps rooms in memory for tests and ephemeral servers.

# Concurrency

Every Store is safe for concurrent use. The server calls it from each
room's goroutine, one room's calls never concurrent with each other.

# Caveats

Memory loses everything when the process exits.
*/
package store
