package sync

import (
	"fmt"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
)

// Document formats (PROTOCOL.md §6.2). A client reads the formats up to the
// one its Hello declared, 1 for a Hello before protocol version 4; rich
// text is format 2 or 3 (3 writes marks compactly; the CRDT writes 3 and
// reads both). A room keeps the newest format of any update its
// document took: marks are never removed, so a room that took rich text
// holds it for good. Clients that read less are refused at the Hello and
// dropped when the room's format rises, so that no relay or Welcome ever
// carries what a member cannot read; and a client may not send an update
// in a format it did not declare, which would make the room's format rise
// past its own.

// helloFormat returns the format h declares, as a session keeps it.
func helloFormat(h *protocol.Hello) uint8 {
	return uint8(min(h.ReadsFormat(), protocol.MaxFormat))
}

// updateFormat returns the format u is written in, or 0 if u does not open
// as an update (applying it then fails with the reason).
func updateFormat(u []byte) uint8 {
	v, err := crdt.UpdateVersion(u)
	if err != nil {
		return 0
	}
	return uint8(v)
}

// storedFormat returns the newest format of a room's stored snapshot and
// log.
func storedFormat(snapshot []byte, updates [][]byte) uint8 {
	f := max(updateFormat(snapshot), 1)
	for _, u := range updates {
		f = max(f, updateFormat(u))
	}
	return f
}

// richFormat is the first format of rich text: a room of this format or
// newer holds marks or embeds, and its read API shows the deltas.
const richFormat = 2

// formatText explains to a client that reads format reads why it cannot
// follow room, whose document needs format needs.
func formatText(room string, needs, reads uint8) string {
	return fmt.Sprintf("room %q holds rich text (document format %d) and this client reads format %d only: a newer client is needed", room, needs, reads)
}

// checkFormat refuses an Update of s that holds an update of a format
// newer than s declared: the room would take it, and then have to drop s
// for not reading its own update. Nothing of the message is applied.
func (s *session) checkFormat(m *protocol.Update) (closeReason, string) {
	if s.format >= crdt.NewestVersion {
		return 0, "" // whatever a newer format is, this server's CRDT refuses it
	}
	for i, u := range m.Updates {
		if f := updateFormat(u); f > s.format {
			return closedUnsupportedFormat, fmt.Sprintf("update %d of message %d is of document format %d, but this client's hello declared it reads format %d only: nothing of the message was applied", i, m.Seq, f, s.format)
		}
	}
	return 0, ""
}

// took records that the document took u: when u is of a newer format than
// the room's, the room's format rises, and the members that cannot read it
// are closed before anything of that format is relayed to them.
func (r *room) took(u []byte) {
	f := updateFormat(u)
	if f <= r.format {
		return
	}
	r.format = f
	for s := range r.members {
		if s.format < f {
			r.drop(s, closedUnsupportedFormat, formatText(r.name, f, s.format), 0)
		}
	}
}
