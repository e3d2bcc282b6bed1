package sync

import (
	"context"

	"github.com/flowstate/flowstate/sync/client"
)

// The Go client lives in package sync/client, which a program that only
// syncs documents can import without linking the server. These names keep
// the code written against package sync compiling.

// Client keeps a local document in sync with one room; see client.Client.
type Client = client.Client

// ClientOptions configures Dial; see client.Options.
type ClientOptions = client.Options

// Status is the state of a Client's connection; see client.Status.
type Status = client.Status

// ServerError is a permanent rejection by the server; see
// client.ServerError.
type ServerError = client.ServerError

// UpgradeError is a refused WebSocket handshake; see client.UpgradeError.
type UpgradeError = client.UpgradeError

// The statuses a Client goes through; see client.Status.
const (
	StatusConnecting = client.StatusConnecting
	StatusConnected  = client.StatusConnected
	StatusSynced     = client.StatusSynced
	StatusOffline    = client.StatusOffline
	StatusClosed     = client.StatusClosed
)

// Client defaults; see package client.
const (
	DefaultMinBackoff           = client.DefaultMinBackoff
	DefaultMaxBackoff           = client.DefaultMaxBackoff
	DefaultClientMaxMessageSize = client.DefaultMaxMessageSize
)

// ErrClientClosed is returned by a Client's methods after Close.
var ErrClientClosed = client.ErrClosed

// Dial connects to a room and returns once the document has caught up with
// the server; see client.Dial.
func Dial(ctx context.Context, rawURL string, opts *ClientOptions) (*Client, error) {
	return client.Dial(ctx, rawURL, opts)
}

// DialAny is Dial for a room served by several nodes; see client.DialAny.
func DialAny(ctx context.Context, urls []string, opts *ClientOptions) (*Client, error) {
	return client.DialAny(ctx, urls, opts)
}
