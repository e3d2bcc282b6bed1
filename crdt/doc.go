/*
Package crdt is FlowState's document model: a text CRDT and a
last-writer-wins map that replicas edit independently and that converge
once they have seen the same changes, in whatever order those arrived.

It is pure: no I/O, no goroutines, no locks. The server, the Go client and
the tests wrap it; the JavaScript client implements the same rules and the
same bytes from FORMAT.md.

# Overview

A Doc holds named Texts and Maps. Every replica has a random ClientID below
2^53, and every code point it inserts, and every map entry it writes, takes
the next value of its clock, so (client, clock) names each of them for good.
Local edits return an update, a msgpack value to send to the other replicas:

	alice := crdt.NewDoc()
	update, _ := alice.Text("body").Insert(0, "hello")
	bob := crdt.NewDoc()
	_ = bob.Apply(update) // bob's "body" now reads "hello"

Doc.Transact groups several edits into one update (a paste, an editor
transaction); Doc.Change makes edits without encoding an update, for
replicas that sync by state vector instead. Apply is idempotent, commutative
and associative. A change whose dependencies have not arrived is held and
applied as soon as they do (Doc.HasPending reports that). A StateVector says
how much of each client a replica has seen; Doc.Diff returns exactly what a
replica at a given state vector lacks, and Doc.Snapshot, the Diff against
nothing, holds the whole document: loading a snapshot is applying it.

Text positions and lengths count Unicode code points, so an emoji is one
position and is never split. Text.Observe reports what each transaction
changed as a Quill-style delta, with attributes and embeds in a rich
text, so an editor can patch its view; Text.ApplyDelta applies one.

# Undo

An UndoManager undoes and redoes this replica's own edits of a set of
Texts and Maps, the way an editor's undo does, while others edit too:

	um := crdt.NewUndoManager(crdt.UndoOptions{}, doc.Text("body"))
	update, changed := um.Undo() // send update like any local edit

Local transactions less than UndoOptions.CaptureTimeout apart (500 ms by
default) form one step, until StopCapturing. Remote edits are never
recorded and never undone: they stay where they are. Undo and Redo are
ordinary local edits, so the update format knows nothing of them: undoing
an insertion deletes the code points still there, undoing a deletion
inserts its text again as new code points right before its tombstones,
undoing a Map write puts the previous value back unless another replica
wrote the key since, undoing a Format gives the characters back the
values they had where they still hold the one it set (RICH.md §R7).
Text another replica deleted is never brought back,
so nothing appears twice. Steps track code points and entries by ID, so
a manager survives a change of the Doc's client ID. StackItem carries the
selection before and after a step as RelativePositions, for an editor
binding to restore. The JavaScript client has the same manager; both run
the cases of testdata/undo.json and reach the same bytes.

# Algorithm

Texts use FugueMax (Weidner and Kleppmann, "The Art of the Fugue") in its
list form, the YjsMod integration of Gentle's reference CRDTs: each inserted
run records the code points left and right of it when it was inserted, and
concurrent insertions between the same neighbours are ordered so that two
users typing at the same place never interleave, forwards or backwards.
Deleted code points stay as tombstones.

Text is stored as run-length items: a run typed in one go is one item until
an edit inside it splits it, and adjacent deleted pieces of a run merge
again. Items sit in the leaves of a B-tree (leaves of up to 64 items, nodes
of up to 64 children, each knowing its visible length), so a jump to any
position is one descent, O(log n); each node keeps its children's visible
lengths and each leaf its items' in arrays beside them, so that the
descent reads a few arrays rather than every child and item it passes,
which in a large text would each be a cache miss. A full leaf splits without
renumbering anything beyond its parent's children; a cursor at the last
edit makes sequential typing O(1). Each client's items are also indexed in
clock order (heads plus chains of split pieces), which serves the ID
lookups of remote updates by interpolation, then binary, search. The text
of live items sits in one buffer per Text, which is compacted once deleted
text fills half of it.

Map entries are last-writer-wins registers: a write carries a sequence
number one above the value its writer saw, and concurrent writes are ordered
by sequence number, then client ID.

# Encoding

Updates, snapshots and state vectors are msgpack values; FORMAT.md specifies
them byte for byte. Each client's changes form a block of records in clock
order (varint columns inside msgpack bin values), the text of live code
points is one string per block, and deletions are a set of clock ranges per
client. Decoding never panics on hostile bytes: it returns a *DecodeError or
an error wrapping ErrInvalidUpdate and leaves the Doc as it was, and no
length field makes it allocate more than the input's size allows.

# Guarantees

Apply either applies an update whole or refuses it with a *DecodeError
(bytes that break FORMAT.md) or an error wrapping ErrInvalidUpdate, and a
refused update changes nothing: not the texts, maps, state vector or
snapshot, not the pending changes, not the client ID. No input, and no
sequence of inputs, makes it panic or leaves a document whose texts
disagree with their lengths or whose snapshot does not load.

A client ID carries one history. An update that says something else about
clocks the document already holds, integrated or pending (another type,
other origins, other text, another map entry), is refused whole: a peer
that restarted from an old copy of itself, or a hostile one, cannot mix a
second history in. Re-sent updates, diffs and snapshots, overlapping or
not, are accepted and change nothing. A Doc that receives changes under its
own client ID that it did not make, or whose clock reaches 2^52, takes a
fresh random ID (ClientID reports it) before its next local edit, so no
input can stop a replica from writing or saving. Load stored snapshots into
NewDoc; ResumeClientID is for a caller that knows nothing written under
an ID was lost. Map.Set stores values in a canonical msgpack form, the same
bytes in every implementation. FORMAT.md §5.2, §6.5 and §8.1 give the
rules.

# Costs

Decoding allocates O(input size): no length field makes it reserve more
than the bytes that follow can hold (a test holds Apply of hostile inputs
on a fresh document to 16 KiB plus 128 bytes per input byte). Validation
costs one binary search per record and origin, O(records × log n) in the
document size n, plus a comparison of the clocks an update re-sends with
what the document holds, linear in that overlap.

What an update can make a Doc spend, with n the number of items of a Text
(its runs and their split pieces, tombstones included; at most its code
points) and k the number of records and delete ranges of the update:

  - Looking up an ID (the origins of every remote record) is a search in
    its client's heads, a few guesses by interpolation then a binary
    search, O(log n) at worst, plus a walk of at most 16 split pieces:
    find cuts longer chains, such as a run typed in one go and then split
    by many insertions, into heads of their own.
  - Placing a record or a local edit in the text is one descent of the
    tree, O(log n), and a full leaf or node splits in two, renumbering the
    children of one node only.
  - Integrating a record scans the items between its origins (FORMAT.md
    §7). Honest records have only concurrent insertions there. A hostile
    record may name origins far apart: the scan then passes over whole
    subtrees and whole leaves whose items all have their left origin right
    of the record's, so it costs a few subtrees per level of the tree plus
    the items of the leaves that hold an item whose left origin is at or
    before the record's, and the result is the plain scan's, item for item.
    The bounds are computed when a scan first needs them: the first such
    record after a load looks at every item once, O(n), and later ones
    share the result, as a split leaves its nodes' bounds as they were. A
    100-record update with origins at the two ends of a 100,000-item text
    costs about ten keystrokes per record, not a walk of the text
    (BenchmarkCostFarApartOrigins). What stays is inherent to the rule:
    the scan visits every sibling, an item whose left origin is the
    record's own. Concurrent insertions at one place make them; a peer can
    pile them up, one per record it sends, so that each further record
    with that origin costs one step per earlier one.
  - Records that wait for their dependencies are held per client sorted
    in chunks of 128 (placing one costs O(log p + 128 + p/128) in any
    order of arrival), their delete ranges merged in batches. A client's
    records are retried only when it receives records or when the client
    its lowest record waits for advances, and its delete ranges only when
    its own clock passes them, so an Apply costs what it unblocks, not
    what is pending: delivering N updates in reverse costs about what
    delivering them in order does (BenchmarkCostOutOfOrder), and a
    keystroke costs about the same whether or not thousands of clients
    have records waiting (BenchmarkCostWaitingClients).
    A record or delete range identical to one held, or covered by the ones
    held, is not held again, so the same update delivered many times holds
    its pending part once (BenchmarkCostPendingDeletes).
  - Pending data is bounded: an update whose pending part would take the
    Doc past MaxPendingBytes is refused with ErrTooMuchPending, which wraps
    ErrInvalidUpdate, and changes nothing. The estimate ahead of applying
    misses only records that integration drops for a bad origin, so a Doc
    holds at most MaxPendingBytes plus one update's worth.
  - Observers: the changes of a transaction compose into its delta in
    O(c log c + 128c) for c changes, so an observed Text loads a snapshot
    of many items at a few times the unobserved cost
    (BenchmarkCostObservedLoad).

# Concurrency

A Doc and everything in it belong to one goroutine. FlowState's server gives
each room's Doc to the room's goroutine and talks to it over channels.

Rich text (draft, RICH.md): Text.Format marks a range with a key and a
value (nil removes the key), Text.InsertEmbed inserts a one-position
msgpack value, Text.SetBlock sets a block attribute on the newline ending a
block, and Text.ToDelta returns the text as Quill-shaped inserts with
attributes. Marks are pairs of invisible anchor items in the sequence, so
they follow the characters they were applied to; concurrent marks of one
key resolve by last writer, identically on every replica. A document holding
rich content writes format version 2, which version 1 readers refuse; a
plain document keeps writing version 1.

# Caveats

An UndoManager keeps every step until Clear or Destroy, with the text of
the deletions it may restore: a long session with one grows by what it
deleted, as an editor's undo history does.

In a text with formatting, change events, ApplyDelta and an UndoManager's
recording of a Format resolve formatting from a per-leaf cache of the
marks open there, which any new mark makes stale: the first lookup after
a Format pays a walk over the text's leaves and marks. Plain texts do not
pay it.

Changes held as pending are not part of Diff or Snapshot until their
dependencies arrive. A pending change whose origin was unknown when it came
and turns out to be in another type is dropped when it would integrate, and
the client's later changes then stay pending: only a faulty or hostile peer
produces that. Which of two conflicting histories a replica keeps depends
on which it received first, so replicas fed conflicting histories by a
hostile peer may differ on that peer's changes and on what was inserted
next to them (never in a broken state). Deleted code points stay as
tombstones for as long as the document lives; their IDs and lengths are in
every snapshot, their text is not, and a Doc drops it from memory too (once
deleted text is half of a Text's buffer, the live text moves to a new one),
so a long-lived Doc holds about what the same document freshly loaded
does.
*/
package crdt
