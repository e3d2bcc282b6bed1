package client

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/flowstate/flowstate/protocol"
)

// A ServerError is a permanent rejection by the server: reconnecting with
// the same document and token would fail again (protocol.Code.Permanent).
type ServerError struct {
	Code    protocol.Code
	Message string
}

// Error implements error.
func (e *ServerError) Error() string {
	return fmt.Sprintf("sync: server closed the session: %d %s: %s", e.Code, e.Code, e.Message)
}

// An UpgradeError is an HTTP answer other than 101 Switching Protocols to
// the WebSocket handshake: the server refused the connection before any
// session began, and said why in the status and the body.
type UpgradeError struct {
	StatusCode int    // such as 429
	Status     string // such as "429 Too Many Requests"
	Reason     string // the first line of the body, at most maxReason bytes
}

// Error implements error. It names the status, the server's reason and,
// for the refusals a FlowState server makes, what to change.
func (e *UpgradeError) Error() string {
	msg := "the server refused the WebSocket upgrade: " + e.Status
	if e.Reason != "" && !strings.EqualFold(e.Reason, http.StatusText(e.StatusCode)) {
		msg += ": " + e.Reason
	}
	if hint := upgradeHints[e.StatusCode]; hint != "" {
		msg += " (" + hint + ")"
	}
	return msg
}

// maxReason bounds how much of a refusal's body becomes its Reason.
const maxReason = 200

// upgradeHints say, by HTTP status, what usually causes a FlowState
// server's refusal and what to change.
var upgradeHints = map[int]string{
	http.StatusForbidden:       "the server refused the request's Origin: add it to the server's --allowed-origins",
	http.StatusNotFound:        "no WebSocket endpoint at this path: a room's URL is ws://HOST:PORT/ws/ROOM",
	http.StatusTooManyRequests: "the server caps connections per address with --max-conns-per-ip",
}

// refusal reads the status and the first line of the body of a refused
// handshake. gorilla keeps up to 1 KiB of the body for this.
func refusal(resp *http.Response) *UpgradeError {
	e := &UpgradeError{StatusCode: resp.StatusCode, Status: resp.Status}
	if resp.Body != nil {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		e.Reason = truncate(strings.TrimSpace(line), maxReason)
	}
	return e
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
