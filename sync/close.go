package sync

import "github.com/flowstate/flowstate/protocol"

// A closeReason records why the server ended a session, for logs and
// counters; each maps to the protocol code the client sees.
type closeReason int

const (
	closedByClient          closeReason = iota + 1 // the client closed or dropped the connection
	closedGoingAway                                // the server is shutting down
	closedProtocolError                            // malformed or out-of-order message
	closedUnsupportedData                          // a text frame
	closedMessageTooBig                            // a message over MaxMessageSize
	closedUnknownType                              // a message type this version does not know
	closedBadVersion                               // a Hello of another protocol version
	closedInvalidRoom                              // a bad room name
	closedHelloTimeout                             // no Hello in time
	closedInvalidUpdate                            // an update that failed to decode or apply
	closedSlowConsumer                             // the send queue overflowed
	closedInternalError                            // the room failed
	closedUnauthorized                             // a missing, malformed or forged token
	closedForbidden                                // a token of another room, or a read-only one that wrote
	closedTokenExpired                             // the token expired, before the Hello or since
	closedRateLimited                              // the client sent more than its allowance
	closedTryAgainLater                            // the hub holds Config.MaxRooms busy rooms
	closedDocTooBig                                // an update would grow the document past Config.MaxDocBytes
	closedStoreFailing                             // an update came while the room's writes fail
	closedClientIDInUse                            // a Hello claimed a client ID another identity's session holds
	closedReplaced                                 // a newer session took over the client ID
	closedAuthUnavailable                          // Hooks.Authorize failed or timed out
	closedRoomDeleted                              // the room was deleted (DELETE /api/rooms/{room})
	closedHeartbeatTimeout                         // a client that asked for a heartbeat fell silent
	closedUnsupportedFormat                        // the room's document, or the client's update, is of a format the client did not declare (format.go)
)

var closeReasons = [...]struct {
	name string
	code protocol.Code
}{
	closedByClient:          {"client closed", protocol.CodeNormal},
	closedGoingAway:         {"going away", protocol.CodeGoingAway},
	closedProtocolError:     {"protocol error", protocol.CodeProtocolError},
	closedUnsupportedData:   {"unsupported data", protocol.CodeUnsupportedData},
	closedMessageTooBig:     {"message too big", protocol.CodeMessageTooBig},
	closedUnknownType:       {"unknown message type", protocol.CodeUnknownType},
	closedBadVersion:        {"unsupported version", protocol.CodeUnsupportedVersion},
	closedInvalidRoom:       {"invalid room", protocol.CodeInvalidRoom},
	closedHelloTimeout:      {"hello timeout", protocol.CodeHelloTimeout},
	closedInvalidUpdate:     {"invalid update", protocol.CodeInvalidUpdate},
	closedSlowConsumer:      {"slow consumer", protocol.CodeSlowConsumer},
	closedInternalError:     {"internal error", protocol.CodeInternalError},
	closedUnauthorized:      {"unauthorized", protocol.CodeUnauthorized},
	closedForbidden:         {"forbidden", protocol.CodeForbidden},
	closedTokenExpired:      {"token expired", protocol.CodeTokenExpired},
	closedRateLimited:       {"rate limited", protocol.CodeRateLimited},
	closedTryAgainLater:     {"too many rooms", protocol.CodeTryAgainLater},
	closedDocTooBig:         {"document too big", protocol.CodeMessageTooBig},
	closedStoreFailing:      {"store failing", protocol.CodeTryAgainLater},
	closedClientIDInUse:     {"client ID in use", protocol.CodeClientIDInUse},
	closedReplaced:          {"replaced", protocol.CodeReplaced},
	closedAuthUnavailable:   {"authorization unavailable", protocol.CodeTryAgainLater},
	closedRoomDeleted:       {"room deleted", protocol.CodeRoomDeleted},
	closedHeartbeatTimeout:  {"heartbeat timeout", protocol.CodeHeartbeatTimeout},
	closedUnsupportedFormat: {"unsupported format", protocol.CodeUnsupportedFormat},
}

// String returns the reason's name, such as "slow consumer".
func (r closeReason) String() string { return closeReasons[r].name }

// code returns the WebSocket close code the client sees.
func (r closeReason) code() protocol.Code { return closeReasons[r].code }
