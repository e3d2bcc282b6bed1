package sync

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Hooks let a program that embeds FlowState take part in its decisions and
// hear about its changes. Every field is optional. The hub never calls a
// hook from a room's goroutine: a slow hook delays only itself (and, for
// Authorize, the one connection or API call it decides on), never a room.
//
// OnLoad, OnChange, OnIdle, OnCreate and OnDelete are called one at a
// time, from one goroutine of the hub's, in the order the rooms reported
// the events: a room's events arrive in its order (OnCreate before the
// OnChange of the content that created the room, OnIdle after the last
// change before it closed). A hook may block; the calls wait in a queue
// meanwhile. When more than 4096 calls wait, the queue stops growing: a
// room's changes are folded into the room's OnChange call already
// waiting, whose ChangeEvent then carries the room's state after the last
// of them (its StateVector, Size and the union of the types changed) with
// Update nil and Coalesced counting the changes folded in; and OnLoad,
// OnIdle, OnCreate and OnDelete calls are dropped, each counted in
// flowstate_hook_events_dropped_total. No change is ever dropped: a
// hook that falls behind learns of every room that changed, late, and
// with the latest state, which is what counts; a program that must not
// miss a lifecycle event across restarts reconciles from the store.
//
// Hooks must not call back into the hub synchronously in a way that waits
// for the hook queue. A hook that panics is logged and skipped.
type Hooks struct {
	// Authorize decides on a WebSocket session (at its Hello) or an API
	// call that carries no FlowState-signed token. With Config.Auth set,
	// a valid signed token is checked as before and Authorize is not
	// asked; a signed token that is expired or for another room is
	// refused as before (4408, 4403); any other token, or none, goes to
	// Authorize. With Config.Auth nil, Authorize decides on every caller.
	// It runs on the caller's goroutine, never a room's, bounded by
	// Config.AuthorizeTimeout through ctx.
	//
	// The Grant acts as a token's Claims: Perm, Subject (the identity
	// client IDs are bound to; a write grant without one is refused with
	// 4401) and Expiry (the session is closed with 4408 then). A Grant
	// with Perm 0 refuses the caller with 4401. An error refuses it too:
	// one wrapping ErrUnauthorized with 4401, one wrapping ErrForbidden
	// with 4403, an *AuthError with its Code, and any other (the callback
	// failed, or ctx ended) with 1013, try again later, which clients
	// retry with backoff. API calls get the matching HTTP status: 401,
	// 403, or 503 with Retry-After.
	Authorize func(ctx context.Context, req *AuthRequest) (Grant, error)

	// OnLoad is called when a room is opened in memory, after its
	// document has been loaded from the store.
	OnLoad func(room string)

	// OnChange is called after each update applied to a room has become
	// durable (after the store's Append returned), in the room's order:
	// a member's update or a write of the API. An update that changed
	// nothing (a duplicate) is not reported.
	OnChange func(ev ChangeEvent)

	// OnIdle is called when a room closes because it had no members for
	// Config.RoomIdleTimeout (or, idle, to make space for another under
	// Config.MaxRooms), after its document was saved.
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
	// Room is the room the caller wants; AllRooms ("*") for the list of
	// rooms (GET /api/rooms), which a Grant then opens in full.
	Room string
	// Token is the credential the caller presented that is not a
	// FlowState-signed token: the Hello's token (or the URL's token
	// parameter) for a WebSocket session, the bearer token for an API
	// call; empty when there is none.
	Token string
	// Request is the HTTP request: the WebSocket upgrade or the API
	// call. Authorize may read its headers (cookies) but not its body.
	Request *http.Request
	// Write is true for an API call that changes the room (the write
	// API), so that Authorize can tell it needs PermWrite; false for a
	// WebSocket session (which may write later, as its Grant allows) and
	// for a read.
	Write bool
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
	// Maps names the maps the update changed.
	Maps []string
	// Coalesced is how many later changes this event stands for besides
	// its own, when the hooks fell behind (see Hooks); Update is nil then,
	// and StateVector, Size, Texts and Maps describe the room after all
	// of them.
	Coalesced int
}

// Errors an Authorize hook returns to choose how a caller is refused.
var (
	// ErrUnauthorized refuses a caller the application does not know:
	// 4401, HTTP 401.
	ErrUnauthorized = errors.New("sync: unauthorized")
	// ErrForbidden refuses a known caller this room: 4403, HTTP 403.
	ErrForbidden = errors.New("sync: forbidden")
)
