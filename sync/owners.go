package sync

// This file holds the rules that bind client IDs to sessions and
// identities, so that no client can write or show presence under another
// one's ID (PROTOCOL.md, "Client IDs").

import (
	"fmt"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
)

// identity returns who holds the session's token (its subject), or ""
// on an open server and for an anonymous read token.
func (s *session) identity() string {
	if s.claims == nil {
		return ""
	}
	return s.claims.Subject
}

// claim decides whether s may join under the client ID of its Hello. An
// ID bound to another identity is refused (4403). A live session holding
// the ID is replaced (4410) when it has the same identity (the client
// reconnected before the server noticed its old connection died; on an
// open server every session counts as the same), and otherwise keeps it
// (4409).
func (r *room) claim(s *session, client uint64) (closeReason, string) {
	auth := r.hub.cfg.authenticated()
	who := s.identity()
	if owner, ok := r.owners[client]; auth && ok && owner != who {
		return closedForbidden, fmt.Sprintf("client ID %d belongs to another user in this room: pick a fresh client ID", client)
	}
	prev := r.byClient[client]
	if prev == nil {
		return 0, ""
	}
	if auth && (who == "" || prev.identity() != who) {
		return closedClientIDInUse, fmt.Sprintf("client ID %d is in use by another connection: pick a fresh client ID, or retry later", client)
	}
	r.hub.logger.Debug("a newer session took over its client ID", "room", r.name, "client", client, "remote", prev.remote)
	r.drop(prev, closedReplaced, "a newer connection with this client ID took over", 0)
	return 0, ""
}

// checkWrites decides whether s may send the updates of m, before any is
// applied: with auth, none may write new records under a client ID bound
// to another identity, or held by a live session of another identity.
// Records the room holds already (a client resending what it received)
// write nothing new and pass. It returns the client IDs m writes under
// that the room then binds to the session's identity, if unbound: its own,
// and any other it writes new records under. An honest client never
// writes first under another's ID: it receives others' records only once
// they are on disk (relayable), so it never holds one the room lacks.
func (r *room) checkWrites(s *session, m *protocol.Update) (reason closeReason, text string, writes []uint64) {
	return r.checkUpdates(s.identity(), s.client, fmt.Sprintf("message %d", m.Seq), m.Updates)
}

// checkUpdates is checkWrites for updates written by the identity who,
// whose own client ID (the join made sure it is theirs to use) is own, or
// 0 for none (the write API); what names the updates' message in errors.
func (r *room) checkUpdates(who string, own uint64, what string, updates [][]byte) (reason closeReason, text string, writes []uint64) {
	if !r.hub.cfg.authenticated() {
		return 0, "", nil
	}
	for i, u := range updates {
		runs, err := crdt.Writes(u)
		if err != nil {
			return closedInvalidUpdate, fmt.Sprintf("update %d of %s: %v", i, what, err), nil
		}
		for _, run := range runs {
			client := uint64(run.Client)
			if own != 0 && client == own {
				writes = append(writes, client)
				continue
			}
			if run.End <= r.doc.Clock(run.Client) {
				continue
			}
			owner, owned := r.owners[client]
			holder := r.byClient[client]
			if owned && owner != who || holder != nil && holder.identity() != who {
				return closedForbidden, fmt.Sprintf("update %d of %s writes under client ID %d, which belongs to another user; nothing of it was applied", i, what, client), nil
			}
			writes = append(writes, client)
		}
	}
	return 0, "", writes
}

// bind binds each client ID of ids that has no owner yet to the
// session's identity; the bindings are stored with the next write.
func (r *room) bind(s *session, ids []uint64) { r.bindTo(s.identity(), ids) }

// bindTo is bind for the identity who.
func (r *room) bindTo(who string, ids []uint64) {
	if who == "" {
		return
	}
	for _, id := range ids {
		if _, ok := r.owners[id]; ok {
			continue
		}
		if r.owners == nil {
			r.owners = make(map[uint64]string)
		}
		r.owners[id] = who
		if r.unbound == nil {
			r.unbound = make(map[uint64]string)
		}
		r.unbound[id] = who
	}
}
