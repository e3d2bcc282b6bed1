/*
Package client is FlowState's Go client: it keeps a local crdt.Doc in sync
with one room of a FlowState server over a WebSocket.

# Overview

Dial connects to ws://HOST:PORT/ws/ROOM (or wss://), performs the handshake
of protocol/PROTOCOL.md and returns once the document has caught up with the
server; Edit applies local edits and sends them, remote updates apply as
they arrive, and the client reconnects with jittered exponential backoff
until Close. DialAny takes the room's URL on several nodes of a cluster and
moves to the next one, round-robin, when a connection fails or is lost;
it works as well with independent single-node servers, since every
connection starts with the state vector exchange. API calls a server's HTTP write API instead, for a backend
that changes documents without a session. The package imports only crdt, protocol, gorilla/websocket,
msgpack and the standard library, so a program that only syncs documents
does not link the server's storage, metrics or token code. Package sync
re-exports these names (sync.Dial, sync.Client, …) for existing callers.

The client speaks protocol version 5: after its first update on a
connection, it sends each as a Patch against the one before it when that
is shorter (a keystroke: about 13 bytes instead of 42), and reads the
server's Patches against the last update the server sent it. Against an
older server it says hello again one version lower, and sends Updates.

# Concurrency

A Client is safe for concurrent use. One goroutine reads the connection
and reconnects; a second refreshes presence. Both end after Close.

# Caveats

A refused handshake (an HTTP status instead of 101) comes back from Dial as
an *UpgradeError with the status and the server's reason; a permanent
close code as a *ServerError. Later refusals, while reconnecting, only
delay the next attempt.
*/
package client
