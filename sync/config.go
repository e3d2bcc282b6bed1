package sync

import (
	"log/slog"
	"time"
)

// Connection deadlines, as in the gorilla/websocket examples.
const (
	// writeWait is the time a client dropped as a slow consumer gets to
	// read the rest of a frame begun and its farewell, and the time the
	// Go client allows for one write.
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
	DefaultSlowConsumerLag  = 10 * time.Second
	DefaultSendBuffer       = 64 << 10
	DefaultAuthorizeTimeout = 5 * time.Second
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

	// SlowConsumerLag is how far behind in reading a client may fall: a
	// session that leaves a probe ping unanswered for this long (the
	// server pings a session it sends data to at most every 2 s, and the
	// pong proves the client read everything before the ping), or whose
	// socket takes no byte for this long, is disconnected as a slow
	// consumer (4008). The hub checks once a second. A client that reads,
	// but too slowly to keep up, may fill its queue first, and is dropped
	// by QueueLength and QueueBytes. Zero means DefaultSlowConsumerLag
	// (10 s).
	SlowConsumerLag time.Duration

	// SendBuffer is the kernel send buffer (SO_SNDBUF), in bytes, asked
	// for each WebSocket connection; Linux doubles it for its own
	// bookkeeping. What sits there is invisible to the queue bounds and
	// to SlowConsumerLag, and the kernel's own tuning grows it to several
	// MiB, which a stalled client takes minutes to fill; a small buffer
	// lets the server see a stalled client within seconds. It also caps
	// one connection's throughput at about twice SendBuffer per round
	// trip (64 KiB: about 1.3 MB/s at 100 ms). Zero means
	// DefaultSendBuffer (64 KiB); a negative value leaves the kernel's
	// default and tuning.
	SendBuffer int

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

	// Auth checks the token of every Hello. Nil means the server is open:
	// anyone may read and write every room.
	Auth *Authenticator

	// Hooks let an embedding program authorize callers and hear about
	// changes; see Hooks.
	Hooks Hooks

	// AuthorizeTimeout bounds each call of Hooks.Authorize: past it, the
	// call's context ends and the caller is refused with 1013 (HTTP 503),
	// to retry. Zero means DefaultAuthorizeTimeout (5 s).
	AuthorizeTimeout time.Duration

	// AdminToken is the bearer token DELETE /api/rooms/{room} requires;
	// empty refuses every deletion (403). It must be at least
	// MinSecretBytes long to be accepted.
	AdminToken string

	// AllowedOrigins lists the browser origins ("https://example.com")
	// allowed to open sessions besides the server's own; "*" allows every
	// origin. Nil allows only requests whose Origin header, if any, names
	// the server's own host. A refused origin gets HTTP 403.
	AllowedOrigins []string

	// AllowedHosts lists the host names ("sync.example.com",
	// "sync.example.com:8443", "*.example.com") the server answers
	// besides IP addresses and localhost, which it always answers; the
	// hosts of AllowedOrigins count too, and "*" answers every host. A
	// request naming another host in its Host header gets HTTP 421 on
	// every route, WebSocket upgrades included: this stops DNS rebinding,
	// in which a page of another site makes its own name resolve to the
	// server's address, so that the browser lets it read the server's
	// answers. Nil answers IP addresses and localhost only.
	AllowedHosts []string

	// The limits below take zero for their default and a negative value
	// for no limit.

	// RateMessages is how many messages (updates and presence) per second
	// one connection may send on average, and RateBurst how many it may
	// send at once; RateBytes and RateBytesBurst bound their bytes the
	// same way. A client past either is closed with 4429. Defaults:
	// DefaultRateMessages (200/s), DefaultRateBurst (400),
	// DefaultRateBytes (1 MiB/s), DefaultRateBytesBurst (4 MiB, and never
	// less than MaxMessageSize, so that any message that fits can pass).
	RateMessages   float64
	RateBurst      int
	RateBytes      int
	RateBytesBurst int

	// MaxConnsPerIP is how many WebSocket connections one client address
	// may hold; more are refused with HTTP 429 before the upgrade. Zero
	// means DefaultMaxConnsPerIP (64).
	MaxConnsPerIP int

	// TrustProxy takes the client address from the last entry of the
	// X-Forwarded-For header (the one the proxy in front added) instead of
	// the connection's peer address. Set it only behind such a proxy:
	// otherwise clients choose their address.
	TrustProxy bool

	// MaxRooms is how many rooms may be open in memory. At the limit,
	// opening another closes the room idle the longest (saved first); when
	// every room has members the join is refused with 1013. Zero means
	// DefaultMaxRooms (10,000).
	MaxRooms int

	// MaxDocBytes bounds each room's document, measured as its snapshot's
	// size at the last compaction plus the size of every update applied
	// since. An update that would pass it is refused with 1009 and not
	// applied. Zero means DefaultMaxDocBytes (64 MiB).
	MaxDocBytes int
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
	setDefault(&c.SlowConsumerLag, DefaultSlowConsumerLag)
	setDefault(&c.AuthorizeTimeout, DefaultAuthorizeTimeout)
	if c.SendBuffer == 0 {
		c.SendBuffer = DefaultSendBuffer
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.limitDefaults()
	return c
}

// authenticated reports whether callers must be authorized, by a token or
// by Hooks.Authorize: then client IDs are bound to identities
// (owners.go), and a room relays only what is written (relayable).
func (c *Config) authenticated() bool {
	return c.Auth != nil || c.Hooks.Authorize != nil
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}
