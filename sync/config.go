package sync

import (
	"log/slog"
	"time"
)

// Connection deadlines, as in the gorilla/websocket examples.
const (
	// writeWait is the time allowed to write one message to a client.
	writeWait = 10 * time.Second
	// pongWait is the time allowed between two messages (or pongs) from a
	// client; a connection silent for longer is dead.
	pongWait = 60 * time.Second
	// pingPeriod is how often the server pings. Must be less than pongWait.
	pingPeriod = pongWait * 9 / 10
	// closeWait bounds the farewell (Error message and close frame) written
	// to a client being disconnected.
	closeWait = time.Second
)

// Defaults of the Config fields.
const (
	DefaultMaxMessageSize   = 4 << 20
	DefaultHelloTimeout     = 10 * time.Second
	DefaultRoomIdleTimeout  = 30 * time.Second
	DefaultQueueLength      = 256
	DefaultQueueBytes       = 16 << 20
	DefaultRelayInterval    = 5 * time.Millisecond
	DefaultPresenceInterval = 50 * time.Millisecond
	DefaultPresenceTimeout  = 30 * time.Second
)

// Config configures a Hub. The zero value of each field selects its default.
type Config struct {
	// MaxMessageSize is the largest message, in bytes, a client may send.
	// A larger one closes the connection with 1009. Zero means
	// DefaultMaxMessageSize (4 MiB).
	MaxMessageSize int

	// HelloTimeout is how long a new connection may take to send its Hello
	// before it is closed with 4003. Zero means DefaultHelloTimeout (10 s).
	HelloTimeout time.Duration

	// RoomIdleTimeout is how long a room with no members stays open, so
	// that a client reconnecting soon finds it warm. Zero means
	// DefaultRoomIdleTimeout (30 s).
	RoomIdleTimeout time.Duration

	// QueueLength is the most messages waiting to be written to one
	// client; QueueBytes the most bytes. A client past either is
	// disconnected as a slow consumer (4008) rather than slowing its room.
	// Zero means DefaultQueueLength (256) and DefaultQueueBytes (16 MiB).
	// A single message larger than QueueBytes is still sent if it is the
	// only one waiting, so that a large document can reach a new member.
	QueueLength int
	QueueBytes  int

	// RelayInterval is the shortest time between two relays of a room's
	// updates. Updates that arrive sooner wait for the interval to pass and
	// go out together, as one message per member, which saves the server
	// and every client a message per update under load; updates to a quiet
	// room go out at once. Zero means DefaultRelayInterval (5 ms).
	RelayInterval time.Duration

	// PresenceInterval is the shortest time between two fan-outs of one
	// client's presence; changes in between are coalesced and the latest
	// state is sent. Zero means DefaultPresenceInterval (50 ms).
	PresenceInterval time.Duration

	// PresenceTimeout is how long a client's presence lasts without a
	// refresh. Zero means DefaultPresenceTimeout (30 s).
	PresenceTimeout time.Duration

	// Logger receives the hub's logs. Nil means slog.Default().
	Logger *slog.Logger
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	setDefault(&c.MaxMessageSize, DefaultMaxMessageSize)
	setDefault(&c.HelloTimeout, DefaultHelloTimeout)
	setDefault(&c.RoomIdleTimeout, DefaultRoomIdleTimeout)
	setDefault(&c.QueueLength, DefaultQueueLength)
	setDefault(&c.QueueBytes, DefaultQueueBytes)
	setDefault(&c.RelayInterval, DefaultRelayInterval)
	setDefault(&c.PresenceInterval, DefaultPresenceInterval)
	setDefault(&c.PresenceTimeout, DefaultPresenceTimeout)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}
