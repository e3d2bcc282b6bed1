package sync

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/flowstate/flowstate/protocol"
)

// MinSecretBytes is the shortest secret NewAuthenticator accepts: HS256
// needs a key at least as long as its 256-bit hash (RFC 7518, 3.2), and a
// shorter one could be guessed offline from any token it signed.
const MinSecretBytes = 32

// ErrShortSecret is returned by NewAuthenticator for a secret shorter than
// MinSecretBytes.
var ErrShortSecret = fmt.Errorf("sync: auth secret must be at least %d bytes", MinSecretBytes)

// Permission is what a token lets its holder do in a room.
type Permission uint8

// Permissions, from least to most.
const (
	// PermRead lets a client receive the document, its updates and the
	// presence of others, and publish its own presence (a viewer's cursor),
	// but not change the document.
	PermRead Permission = iota + 1
	// PermWrite adds sending updates.
	PermWrite
)

// String returns the permission's name in a token: "read" or "write".
func (p Permission) String() string {
	switch p {
	case PermRead:
		return "read"
	case PermWrite:
		return "write"
	}
	return fmt.Sprintf("Permission(%d)", uint8(p))
}

// ParsePermission returns the permission named s ("read" or "write").
func ParsePermission(s string) (Permission, error) {
	switch s {
	case "read":
		return PermRead, nil
	case "write":
		return PermWrite, nil
	}
	return 0, fmt.Errorf("sync: unknown permission %q: use read or write", s)
}

// Claims are what a verified token grants.
type Claims struct {
	// Room is the room the token is for: an exact name, or a prefix ending
	// in '*' that matches every room whose name starts with it ("team-*";
	// "*" alone matches every room).
	Room string
	// Perm is what the holder may do there.
	Perm Permission
	// Expiry is when the token stops being valid; a session that holds it
	// is closed with 4408 then. Zero (only from a Grant) never expires.
	Expiry time.Time
	// Subject is who holds the token (the JWT "sub" claim): the identity
	// that owns the client IDs it writes under. Write tokens always have
	// one; a read token may not, and is then anonymous.
	Subject string
}

// Allows reports whether the claims cover the room named room.
func (c *Claims) Allows(room string) bool {
	if prefix, ok := strings.CutSuffix(c.Room, "*"); ok {
		return strings.HasPrefix(room, prefix)
	}
	return c.Room == room
}

// An AuthError is why a token was refused. Code is the protocol code the
// server closes the session with: 4401 for a missing, malformed or forged
// token, 4403 for a token of another room, 4408 for an expired one.
type AuthError struct {
	Code   protocol.Code
	Reason string
}

// Error returns the reason with its code.
func (e *AuthError) Error() string {
	return fmt.Sprintf("sync: %s (%d): %s", e.Code, uint16(e.Code), e.Reason)
}

// An Authenticator verifies and mints HS256 JWTs whose claims are room
// (a name or "prefix*"), perm ("read" or "write"), exp (required) and
// sub (the holder's identity, required with perm "write"). It is safe
// for concurrent use.
type Authenticator struct {
	secret []byte
	parser *jwt.Parser
}

// tokenClaims is the JSON payload of a token.
type tokenClaims struct {
	Room string `json:"room"`
	Perm string `json:"perm"`
	jwt.RegisteredClaims
}

// NewAuthenticator returns an authenticator that signs and checks tokens
// with secret, which must be at least MinSecretBytes long.
func NewAuthenticator(secret []byte) (*Authenticator, error) {
	if len(secret) < MinSecretBytes {
		return nil, ErrShortSecret
	}
	return &Authenticator{
		secret: append([]byte(nil), secret...),
		// Only HS256: accepting the algorithm a token names would let
		// "none" or a public-key algorithm in, the classic JWT forgeries.
		// No leeway: the server's clock is the one that counts.
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
		),
	}, nil
}

// validRoomPattern reports whether pattern is a room name or a prefix of
// one followed by '*'.
func validRoomPattern(pattern string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return prefix == "" || protocol.ValidRoom(prefix)
	}
	return protocol.ValidRoom(pattern)
}

// MaxSubjectBytes bounds a token's subject.
const MaxSubjectBytes = 256

// Mint returns a token for the identity sub that grants perm in room (a
// name or "prefix*") for ttl from now. A write token needs a subject: the
// server binds the client IDs a writer uses to it. Expiry is kept in
// whole seconds, as JWTs do, rounded down.
func (a *Authenticator) Mint(sub, room string, perm Permission, ttl time.Duration) (string, error) {
	switch {
	case perm == PermWrite && sub == "":
		return "", errors.New("sync: a write token needs a subject (sub): the identity its client IDs belong to")
	case len(sub) > MaxSubjectBytes:
		return "", fmt.Errorf("sync: subject of %d bytes, more than %d", len(sub), MaxSubjectBytes)
	case !validRoomPattern(room):
		return "", fmt.Errorf("sync: invalid room %q: use a room name, optionally ending in *", room)
	case perm != PermRead && perm != PermWrite:
		return "", fmt.Errorf("sync: invalid permission %d", perm)
	case ttl <= 0:
		return "", fmt.Errorf("sync: token lifetime %v must be positive", ttl)
	}
	now := time.Now()
	claims := tokenClaims{
		Room: room,
		Perm: perm.String(),
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   sub,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(a.secret)
}

// Verify checks token and that it grants room, and returns its claims. A
// refusal is an *AuthError whose Code says why.
func (a *Authenticator) Verify(token, room string) (*Claims, error) {
	if token == "" {
		return nil, &AuthError{protocol.CodeUnauthorized, "missing token"}
	}
	var tc tokenClaims
	if _, err := a.parser.ParseWithClaims(token, &tc, a.key); err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return nil, &AuthError{protocol.CodeTokenExpired, "token expired"}
		}
		return nil, &AuthError{protocol.CodeUnauthorized, "invalid token: " + err.Error()}
	}
	perm, err := ParsePermission(tc.Perm)
	if err != nil {
		return nil, &AuthError{protocol.CodeUnauthorized, fmt.Sprintf("invalid token: perm %q is neither read nor write", truncate(tc.Perm, 40))}
	}
	if !validRoomPattern(tc.Room) {
		return nil, &AuthError{protocol.CodeUnauthorized, fmt.Sprintf("invalid token: room %q is not a room name or prefix*", truncate(tc.Room, 200))}
	}
	switch {
	case perm == PermWrite && tc.Subject == "":
		return nil, &AuthError{protocol.CodeUnauthorized, "invalid token: a write token must name its holder (sub)"}
	case len(tc.Subject) > MaxSubjectBytes:
		return nil, &AuthError{protocol.CodeUnauthorized, fmt.Sprintf("invalid token: sub of %d bytes, more than %d", len(tc.Subject), MaxSubjectBytes)}
	}
	c := &Claims{Room: tc.Room, Perm: perm, Expiry: tc.ExpiresAt.Time, Subject: tc.Subject}
	if !c.Allows(room) {
		return nil, &AuthError{protocol.CodeForbidden, fmt.Sprintf("token is for room %q, not %q", tc.Room, room)}
	}
	return c, nil
}

// key gives the parser the secret, once it has checked the algorithm.
func (a *Authenticator) key(*jwt.Token) (any, error) { return a.secret, nil }

// authCloseReasons maps an AuthError's code to the session's close reason.
var authCloseReasons = map[protocol.Code]closeReason{
	protocol.CodeUnauthorized: closedUnauthorized,
	protocol.CodeForbidden:    closedForbidden,
	protocol.CodeTokenExpired: closedTokenExpired,
}

// authenticate decides what the session may do in room (Hub.authorize)
// and keeps its claims. The Hello's token counts; the URL's is for
// clients that cannot put one in the Hello, and is used only when the
// Hello has none. It runs on the session's goroutine, before the session
// reaches its room, so that a slow Hooks.Authorize delays only this
// session.
func (s *session) authenticate(room, helloToken string) (closeReason, string) {
	token := helloToken
	if token == "" {
		token = s.query
	}
	req := s.req
	s.req = nil // the upgrade request is needed no longer
	claims, reason, text := s.hub.authorize(req, room, token, false)
	if reason != 0 {
		return reason, text
	}
	s.claims = claims
	return 0, ""
}

// mayUpdate reports why the session may not send an Update, if it may
// not: its token is read-only, or has expired (the timer closing the
// session may not have run yet, and no update may slip in meanwhile).
func (s *session) mayUpdate() (closeReason, string) {
	switch {
	case s.claims == nil:
		return 0, ""
	case s.claims.Perm < PermWrite:
		return closedForbidden, "read-only token: this session may not send updates"
	case s.claims.expired(time.Now()):
		return closedTokenExpired, "token expired"
	}
	return 0, ""
}

// expired reports whether the claims have expired at now. Claims of a
// Grant with no Expiry never do.
func (c *Claims) expired(now time.Time) bool {
	return !c.Expiry.IsZero() && !now.Before(c.Expiry)
}

// watchExpiry arms a timer that closes the session with 4408 when its
// token expires. A timer costs no goroutine until it fires.
func (s *session) watchExpiry() {
	if s.claims == nil || s.claims.Expiry.IsZero() {
		return
	}
	s.expiry = time.AfterFunc(time.Until(s.claims.Expiry), func() {
		// The room forgets the session when its read pump ends, which the
		// client's answer to the close frame, or closeWait, brings about.
		s.queue.close(closedTokenExpired, "token expired", 0)
	})
}
