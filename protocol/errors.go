package protocol

import (
	"errors"
	"fmt"
)

// Errors returned by Decode, wrapped in a *DecodeError.
var (
	// ErrUnknownType is returned for a message whose type tag this version
	// of the protocol does not define.
	ErrUnknownType = errors.New("protocol: unknown message type")
)

// Errors returned by Encode.
var (
	// ErrInvalidMessage is returned for a message that breaks a limit or
	// rule of PROTOCOL.md, such as a client ID above MaxClientID.
	ErrInvalidMessage = errors.New("protocol: invalid message")
)

// A DecodeError describes bytes that are not a valid message. Offset is the
// byte offset where decoding failed; Err, when not nil, is a sentinel such as
// ErrUnknownType.
type DecodeError struct {
	Offset int
	Msg    string
	Err    error
}

// Error implements error.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("protocol: decode error at byte %d: %s", e.Offset, e.Msg)
}

// Unwrap returns e.Err.
func (e *DecodeError) Unwrap() error { return e.Err }
