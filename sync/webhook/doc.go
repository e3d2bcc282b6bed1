/*
Package webhook tells an application's backend about the rooms of a
FlowState server: it POSTs signed JSON events to the receivers configured,
keeps every event in a durable outbox in the data file until its receiver
acknowledged it, and retries with exponential backoff for a day.

# Events

A Dispatcher is fed by the hub's hooks (Dispatcher.Hooks): room.created,
room.deleted and room.idle go out as they happen; room.changed is
debounced per room, at most one per Config.Debounce (2 s), merging the
changes made in that window: it carries the room's state vector and size
after them and the names of the texts and maps they changed. The body is an Event
in JSON:

	{"id":"18a3c5e2f0b1c2d3e4f5a6b7","type":"room.changed","room":"notes",
	 "time":"2026-12-06T12:00:00.123Z","state_vector":"AQID",
	 "size":1834,"texts":["body"],"maps":["meta"]}

# Verifying a request

Every request has three headers: FlowState-Event-Id (the event's ID, the
same on every attempt and for every receiver: the idempotency key),
FlowState-Event-Type, and FlowState-Signature:

	FlowState-Signature: t=1796558400,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd

v1 is the hex HMAC-SHA256, keyed with the webhook secret, of the
timestamp t (Unix seconds, the time of this attempt), a dot, and the raw
body. A receiver recomputes it over the body as received, before parsing
it, compares in constant time, rejects a t too far from its clock (a
replay), and keeps the IDs it has processed to drop duplicates. In Go:

	body, _ := io.ReadAll(r.Body)
	err := webhook.Verify(secret, r.Header.Get(webhook.HeaderSignature), body, 5*time.Minute)

Elsewhere: hmac_sha256(secret, t + "." + body) in hex equals v1. Answer
2xx once the event is handled (or stored for handling); anything else, or
no answer within Config.Timeout, is a failure and is retried.

# Delivery

An event is written to the outbox (store.Outbox) before any attempt, and
removed once its receiver answered 2xx: at least once, across restarts
and outages. Each receiver has its own goroutine, which sends the event
due first, one at a time; a failure pauses that receiver for a backoff
that doubles from Config.MinBackoff (1 s) to Config.MaxBackoff (1 h), half
of it random, and the event itself is retried after its own backoff.
An event still failing Config.RetryFor (24 h) after it was made is
counted as failed and dropped. Events are sent in the order they were
made, but a retried event may arrive after later ones: receivers order
by ID if they need to.

# Crashes

An event lives in memory from its hook call until it is in the outbox:
up to the debounce window for room.changed. If the process dies then,
Recover, at the next start, finds the rooms whose stored state differs
from the state vector last notified (kept in the outbox too) and sends a
room.changed for each, naming every text and map, and a room.deleted for a room
notified but gone. A room.created or room.idle lost that way is not made
up for.

# Outbox layout

	d/<receiver>/<event ID>  one delivery: version 1, creation time (Unix
	                         ns, 8 bytes big-endian), the request body
	s/<room hash>            the room's last notified state vector:
	                         version 1, time, uvarint length and bytes
	                         of the room's name, state vector
	m/since                  when webhooks were first enabled on the file
	                         (a record of the same shape, without room)

<receiver> is the first 8 bytes of the SHA-256 of its URL, <room hash>
the first 16 of the room name's, in hex.
*/
package webhook
