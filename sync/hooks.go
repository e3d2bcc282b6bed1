package sync

import (
	"context"
	"net/http"
	"time"
)

// Hooks let a program that embeds FlowState take part in its decisions and
// hear about its changes. Every field is optional. The hub never calls a
// hook from a room's goroutine: a slow hook delays only itself (and, for
// Authorize, the one connection or API call it decides on), never a room.
type Hooks struct {
	// Authorize decides on a WebSocket session or an API call that
	// carries no FlowState-signed token (with Config.Auth set, a valid
	// signed token is checked as before and Authorize is not asked). It
	// returns what the caller may do; a Grant with Perm 0, or an error
	// (the callback failed or timed out), refuses the caller with the
	// documented codes.
	Authorize func(ctx context.Context, req *AuthRequest) (Grant, error)

	// OnLoad is called when a room is opened in memory, after its
	// document has been loaded from the store.
	OnLoad func(room string)

	// OnChange is called after each update applied to a room has become
	// durable (after the store's Append returned), in the room's order.
	OnChange func(ev ChangeEvent)

	// OnIdle is called when a room closes because it had no members for
	// Config.RoomIdleTimeout, after its document was saved.
	OnIdle func(room string)

	// OnCreate is called when a room that had nothing stored receives its
	// first durable content (its first update, or PUT /api/rooms/{room}).
	OnCreate func(room string)

	// OnDelete is called after a room and its history were removed
	// (DELETE /api/rooms/{room}).
	OnDelete func(room string)
}

// An AuthRequest is what Hooks.Authorize is asked about.
type AuthRequest struct {
	// Room is the room the caller wants.
	Room string
	// Token is the credential the caller presented that is not a
	// FlowState-signed token: the Hello's token (or the URL's token
	// parameter) for a WebSocket session, the bearer token for an API
	// call; empty when there is none.
	Token string
	// Request is the HTTP request: the WebSocket upgrade or the API
	// call. Authorize may read its headers (cookies) but not its body.
	Request *http.Request
}

// A Grant is what Hooks.Authorize allows a caller.
type Grant struct {
	// Perm is what the caller may do in the room; 0 refuses it.
	Perm Permission
	// Subject is who the caller is: the identity its client IDs are
	// bound to, as a token's "sub". A write grant needs one.
	Subject string
	// Expiry, if not zero, ends the session then, as a token's expiry
	// does (4408); zero lets it last.
	Expiry time.Time
}

// A ChangeEvent describes one durable update applied to a room.
type ChangeEvent struct {
	// Room is the room's name.
	Room string
	// Update is the update as applied (the crdt update format). The hook
	// must not modify it.
	Update []byte
	// StateVector is the room's state vector after the update, encoded
	// as in the crdt format.
	StateVector []byte
	// Size is the document's size in bytes as Config.MaxDocBytes counts
	// it: its last snapshot plus the updates applied since.
	Size int
	// Texts names the texts the update changed.
	Texts []string
}
