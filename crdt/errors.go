package crdt

import (
	"errors"
	"fmt"
)

// Errors returned by local edits.
var (
	// ErrOutOfRange is returned when a position or length lies outside the text.
	ErrOutOfRange = errors.New("crdt: position out of range")

	// ErrInvalidDelta is returned by ApplyDelta for an op of a shape it
	// does not know or with an invalid value; a retain or delete past the
	// end of the text is ErrOutOfRange.
	ErrInvalidDelta = errors.New("crdt: invalid delta")
)

// Errors returned by Apply for updates that decode but cannot be applied.
var (
	// ErrInvalidUpdate is returned for an update that is well-formed msgpack
	// but breaks a rule of the format (see FORMAT.md), such as an origin that
	// names a map entry, or a clock that overflows.
	ErrInvalidUpdate = errors.New("crdt: invalid update")

	// ErrTooMuchPending is returned for an update that would take the
	// changes a Doc holds as pending past MaxPendingBytes: a peer sending
	// far more than it lets the document integrate. It wraps
	// ErrInvalidUpdate; the document is unchanged.
	ErrTooMuchPending = fmt.Errorf("%w: too much pending data", ErrInvalidUpdate)
)

// A DecodeError describes bytes that are not a valid update or state vector.
// Offset is the byte offset in the input where decoding failed.
type DecodeError struct {
	Offset int
	Msg    string
}

// Error implements error.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("crdt: decode error at byte %d: %s", e.Offset, e.Msg)
}
