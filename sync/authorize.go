package sync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/flowstate/flowstate/protocol"
)

// authorize decides what a caller may do in room: by its FlowState-signed
// token with Config.Auth, and otherwise by Hooks.Authorize; a server with
// neither is open. It returns the caller's claims (nil on an open server)
// or why it is refused. write tells Hooks.Authorize that the caller is
// an API call that changes the room. req may be nil.
func (h *Hub) authorize(req *http.Request, room, token string, write bool) (*Claims, closeReason, string) {
	auth, hook := h.cfg.Auth, h.cfg.Hooks.Authorize
	if auth == nil && hook == nil {
		return nil, 0, ""
	}
	if auth != nil {
		claims, err := auth.Verify(token, room)
		if err == nil {
			return claims, 0, ""
		}
		var ae *AuthError
		if !errors.As(err, &ae) {
			ae = &AuthError{Code: protocol.CodeUnauthorized, Reason: err.Error()}
		}
		// A token this server signed keeps its verdict (expired, another
		// room); anything else may be the application's to judge.
		if hook == nil || ae.Code != protocol.CodeUnauthorized {
			return nil, authReason(ae.Code), ae.Reason
		}
	}
	return h.askAuthorize(hook, req, room, token, write)
}

// askAuthorize asks Hooks.Authorize about a caller, within
// Config.AuthorizeTimeout, and turns its Grant into Claims.
func (h *Hub) askAuthorize(hook func(context.Context, *AuthRequest) (Grant, error), req *http.Request, room, token string, write bool) (*Claims, closeReason, string) {
	// Not the request's context: a WebSocket upgrade's ends as soon as
	// the handler returns, before the Hello arrives.
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.AuthorizeTimeout)
	defer cancel()
	if req != nil {
		req = req.WithContext(ctx)
	}
	g, err := callAuthorize(ctx, hook, &AuthRequest{Room: room, Token: token, Request: req, Write: write})
	var ae *AuthError
	switch {
	case errors.Is(err, ErrUnauthorized):
		return nil, closedUnauthorized, "not authorized: " + err.Error()
	case errors.Is(err, ErrForbidden):
		return nil, closedForbidden, fmt.Sprintf("not allowed in room %q: %v", room, err)
	case errors.As(err, &ae):
		return nil, authReason(ae.Code), ae.Reason
	case err != nil:
		h.logger.Warn("authorization failed: the caller is told to try again later", "room", room, "err", err)
		return nil, closedAuthUnavailable, "authorization is unavailable; try again later"
	case g.Perm == 0:
		return nil, closedUnauthorized, "not authorized"
	case g.Perm != PermRead && g.Perm != PermWrite:
		h.logger.Error("Authorize returned an invalid permission", "room", room, "perm", g.Perm)
		return nil, closedUnauthorized, "not authorized: the server's authorizer returned an invalid permission"
	case g.Perm == PermWrite && g.Subject == "":
		h.logger.Error("Authorize granted write without a subject: refused, as client IDs are bound to subjects", "room", room)
		return nil, closedUnauthorized, "not authorized: the server's authorizer granted write without naming the caller"
	case len(g.Subject) > MaxSubjectBytes:
		return nil, closedUnauthorized, fmt.Sprintf("not authorized: subject of %d bytes, more than %d", len(g.Subject), MaxSubjectBytes)
	case !g.Expiry.IsZero() && !time.Now().Before(g.Expiry):
		return nil, closedTokenExpired, "grant expired"
	}
	return &Claims{Room: room, Perm: g.Perm, Expiry: g.Expiry, Subject: g.Subject}, 0, ""
}

// callAuthorize calls hook, turning a panic into an error, so that a bug
// in the application refuses one caller instead of ending the process.
func callAuthorize(ctx context.Context, hook func(context.Context, *AuthRequest) (Grant, error), req *AuthRequest) (g Grant, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sync: Authorize panicked: %v", p)
		}
	}()
	g, err = hook(ctx, req)
	if err == nil && ctx.Err() != nil {
		// Too late: the caller may have been given up on already.
		err = ctx.Err()
	}
	return g, err
}

// authReason maps an authentication code to the session's close reason.
func authReason(code protocol.Code) closeReason {
	if reason, ok := authCloseReasons[code]; ok {
		return reason
	}
	return closedUnauthorized
}

// httpStatus returns the HTTP status answering an API call refused for
// reason, and sets the headers that go with it.
func httpStatus(w http.ResponseWriter, reason closeReason) int {
	switch reason {
	case closedForbidden:
		return http.StatusForbidden
	case closedAuthUnavailable:
		w.Header().Set("Retry-After", "1")
		return http.StatusServiceUnavailable
	}
	// RFC 6750, 3: a refused or missing bearer token gets a challenge.
	w.Header().Set("WWW-Authenticate", `Bearer realm="flowstate", error="invalid_token"`)
	return http.StatusUnauthorized
}
