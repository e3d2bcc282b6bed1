package main

// This file holds the "token" command and the serve flags that control
// who may connect and how much they may do: the auth secret, the allowed
// origins and the limits.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	docsync "github.com/flowstate/flowstate/sync"
)

const tokenUsageText = `Usage:

	flowstate token --room ROOM --sub WHO [--perm read|write] [--ttl 1h] [--secret S | --secret-file F]

Prints a token for the user WHO that grants PERM in ROOM for TTL, signed
with the server's secret (FLOWSTATE_AUTH_SECRET or
FLOWSTATE_AUTH_SECRET_FILE when no flag gives it). WHO (the token's sub)
is required for write tokens: the server binds every client ID a writer
writes under to it, and refuses other users' writes under those IDs. A
read token without --sub is anonymous. ROOM is a room name, or a prefix ending in * that matches every
room starting with it ("team-*"; "*" alone matches every room). Clients
send the token in their Hello, or as ?token= on the WebSocket URL.

Flags:
`

// tokenFlags are the flags of "flowstate token".
type tokenFlags struct {
	room   string
	sub    string
	perm   string
	ttl    time.Duration
	secret secretFlags
}

func newTokenFlagSet(f *tokenFlags, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.room, "room", "", "the `room` the token grants: a name, or a prefix ending in *")
	fs.StringVar(&f.sub, "sub", "", "the `identity` of the holder (the token's sub), such as a user ID; required with --perm write")
	fs.StringVar(&f.perm, "perm", "write", "what the holder may do: read or write")
	f.ttl = time.Hour
	fs.Func("ttl", "how long the token is valid: a `duration` such as 30m, 24h or 720h (default 1h)", func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil {
			// Tokens always expire; say what is accepted instead of
			// flag's bare "parse error".
			return fmt.Errorf("want a duration such as 30m, 24h or 720h (units ns, us, ms, s, m, h); tokens always expire")
		}
		f.ttl = d
		return nil
	})
	f.secret.register(fs, "secret", "secret-file")
	fs.Usage = func() {
		fmt.Fprint(stderr, tokenUsageText)
		fs.PrintDefaults()
	}
	return fs
}

// runToken prints a token for the room, permission and lifetime of args.
func runToken(args []string, stdout, stderr io.Writer) int {
	var f tokenFlags
	fs := newTokenFlagSet(&f, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "flowstate token: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	if f.room == "" {
		return usageErr("--room is required")
	}
	perm, err := docsync.ParsePermission(f.perm)
	if err != nil {
		return usageErr("--perm %q: use read or write", f.perm)
	}
	if perm == docsync.PermWrite && f.sub == "" {
		return usageErr("--sub is required for a write token: the identity its client IDs belong to")
	}
	auth, err := f.secret.authenticator()
	if err != nil {
		return usageErr("%v", err)
	}
	if auth == nil {
		return usageErr("no secret: set --secret, --secret-file, FLOWSTATE_AUTH_SECRET or FLOWSTATE_AUTH_SECRET_FILE")
	}
	token, err := auth.Mint(f.sub, f.room, perm, f.ttl)
	if err != nil {
		return usageErr("%v", err)
	}
	fmt.Fprintln(stdout, token)
	return 0
}

// secretFlags are the flags that give the auth secret, inline or in a
// file (which keeps it out of the process list and the shell history).
type secretFlags struct {
	secret, file string
}

func (s *secretFlags) register(fs *flag.FlagSet, name, fileName string) {
	fs.StringVar(&s.secret, name, os.Getenv("FLOWSTATE_AUTH_SECRET"),
		fmt.Sprintf("HS256 `secret` that signs tokens, at least %d bytes (FLOWSTATE_AUTH_SECRET)", docsync.MinSecretBytes))
	fs.StringVar(&s.file, fileName, os.Getenv("FLOWSTATE_AUTH_SECRET_FILE"),
		"read the secret from `file`; surrounding white space is ignored (FLOWSTATE_AUTH_SECRET_FILE)")
}

// authenticator returns the Authenticator of the secret, or nil when no
// secret is set.
func (s *secretFlags) authenticator() (*docsync.Authenticator, error) {
	secret := s.secret
	if s.file != "" {
		if s.secret != "" {
			return nil, errors.New("give the secret inline or in a file, not both")
		}
		b, err := os.ReadFile(s.file)
		if err != nil {
			return nil, fmt.Errorf("auth secret: %w", err)
		}
		secret = strings.TrimSpace(string(b))
		if secret == "" {
			return nil, fmt.Errorf("auth secret file %s is empty", s.file)
		}
	}
	if secret == "" {
		return nil, nil
	}
	return docsync.NewAuthenticator([]byte(secret))
}

// accessFlags are the serve flags that control access and limits. A
// limit of 0 turns it off.
type accessFlags struct {
	secret         secretFlags
	authURL        authURLFlags
	origins        string
	hosts          string
	maxMessage     int
	rateMessages   float64
	rateBurst      int
	rateBytes      int
	rateBytesBurst int
	maxConnsPerIP  int
	trustProxy     bool
	maxRooms       int
	maxDocBytes    int
	slowLag        time.Duration
	sendBuffer     int
	envErrs        []error // environment variables that did not parse
}

func (a *accessFlags) register(fs *flag.FlagSet) {
	a.secret.register(fs, "auth-secret", "auth-secret-file")
	a.authURL.register(fs, a)
	fs.StringVar(&a.origins, "allowed-origins", os.Getenv("FLOWSTATE_ALLOWED_ORIGINS"),
		"comma-separated `origins` (https://example.com) whose pages may connect besides the server's own; * allows all (FLOWSTATE_ALLOWED_ORIGINS)")
	fs.StringVar(&a.hosts, "allowed-hosts", os.Getenv("FLOWSTATE_ALLOWED_HOSTS"),
		"comma-separated host `names` (sync.example.com, *.example.com, name:port) the server answers besides IP addresses, localhost, the host of --addr and those of --allowed-origins; "+
			"other Host headers get 421 on every route, against DNS rebinding. The rule is the same on every --addr: behind a proxy that passes the client's Host, list that name "+
			"(serve warns at start-up when it listens beyond loopback without this flag); * answers all (FLOWSTATE_ALLOWED_HOSTS)")
	a.intFlag(fs, &a.maxMessage, "max-message-bytes", "FLOWSTATE_MAX_MESSAGE_BYTES", docsync.DefaultMaxMessageSize,
		"largest message a client may send; larger closes it with 1009")
	a.floatFlag(fs, &a.rateMessages, "rate-messages", "FLOWSTATE_RATE_MESSAGES", docsync.DefaultRateMessages,
		"messages per second one connection may send on average; more close it with 4429 (0: no limit)")
	a.intFlag(fs, &a.rateBurst, "rate-burst", "FLOWSTATE_RATE_BURST", docsync.DefaultRateBurst,
		"messages one connection may send at once")
	a.intFlag(fs, &a.rateBytes, "rate-bytes", "FLOWSTATE_RATE_BYTES", docsync.DefaultRateBytes,
		"bytes per second one connection may send on average; more close it with 4429 (0: no limit)")
	a.intFlag(fs, &a.rateBytesBurst, "rate-bytes-burst", "FLOWSTATE_RATE_BYTES_BURST", docsync.DefaultRateBytesBurst,
		"bytes one connection may send at once (at least --max-message-bytes)")
	a.intFlag(fs, &a.maxConnsPerIP, "max-conns-per-ip", "FLOWSTATE_MAX_CONNS_PER_IP", docsync.DefaultMaxConnsPerIP,
		"WebSocket connections one client address may hold; more get HTTP 429 (0: no limit)")
	a.boolFlag(fs, &a.trustProxy, "trust-proxy", "FLOWSTATE_TRUST_PROXY",
		"count connections by the last X-Forwarded-For address; only behind a proxy that sets it")
	a.intFlag(fs, &a.maxRooms, "max-rooms", "FLOWSTATE_MAX_ROOMS", docsync.DefaultMaxRooms,
		"rooms open in memory; at the limit idle ones close, and joins get 1013 when none is idle (0: no limit)")
	a.intFlag(fs, &a.maxDocBytes, "max-doc-bytes", "FLOWSTATE_MAX_DOC_BYTES", docsync.DefaultMaxDocBytes,
		"largest document of a room; an update past it is refused with 1009 (0: no limit)")
	a.durationFlag(fs, &a.slowLag, "slow-consumer-lag", "FLOWSTATE_SLOW_CONSUMER_LAG", docsync.DefaultSlowConsumerLag,
		"how far behind in reading a client may fall (a probe ping unanswered, or a socket that takes nothing, for this long); then it is closed with 4008 (slow consumer)")
	a.intFlag(fs, &a.sendBuffer, "send-buffer-bytes", "FLOWSTATE_SEND_BUFFER_BYTES", docsync.DefaultSendBuffer,
		"kernel send buffer (SO_SNDBUF) of each WebSocket connection; small, so that a stalled client shows within seconds (0: the kernel's default and tuning)")
}

func (a *accessFlags) durationFlag(fs *flag.FlagSet, p *time.Duration, name, env string, def time.Duration, usage string) {
	if v, ok := os.LookupEnv(env); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			a.envErrs = append(a.envErrs, fmt.Errorf("%s=%q: not a duration such as 10s", env, v))
		} else {
			def = d
		}
	}
	fs.DurationVar(p, name, def, usage+" ("+env+")")
}

func (a *accessFlags) intFlag(fs *flag.FlagSet, p *int, name, env string, def int, usage string) {
	if v, ok := os.LookupEnv(env); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			a.envErrs = append(a.envErrs, fmt.Errorf("%s=%q: not an integer", env, v))
		} else {
			def = n
		}
	}
	fs.IntVar(p, name, def, usage+" ("+env+")")
}

func (a *accessFlags) floatFlag(fs *flag.FlagSet, p *float64, name, env string, def float64, usage string) {
	if v, ok := os.LookupEnv(env); ok {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			a.envErrs = append(a.envErrs, fmt.Errorf("%s=%q: not a number", env, v))
		} else {
			def = n
		}
	}
	fs.Float64Var(p, name, def, usage+" ("+env+")")
}

func (a *accessFlags) boolFlag(fs *flag.FlagSet, p *bool, name, env string, usage string) {
	def := false
	if v, ok := os.LookupEnv(env); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			a.envErrs = append(a.envErrs, fmt.Errorf("%s=%q: use true or false", env, v))
		}
		def = b
	}
	fs.BoolVar(p, name, def, usage+" ("+env+")")
}

// apply sets the access fields of cfg from the flags, and logs a warning
// for each setting that leaves the server open.
func (a *accessFlags) apply(cfg *docsync.Config, logger *slog.Logger) error {
	if err := errors.Join(a.envErrs...); err != nil {
		return err
	}
	auth, err := a.secret.authenticator()
	if err != nil {
		return err
	}
	origins, err := docsync.ParseOrigins(a.origins)
	if err != nil {
		return err
	}
	authorize, err := a.authURL.authorize()
	if err != nil {
		return err
	}
	hosts, err := docsync.ParseHosts(a.hosts)
	if err != nil {
		return fmt.Errorf("--allowed-hosts: %w", err)
	}
	for _, v := range []struct {
		name string
		n    int
	}{
		{"max-message-bytes", a.maxMessage}, {"rate-burst", a.rateBurst}, {"rate-bytes", a.rateBytes},
		{"rate-bytes-burst", a.rateBytesBurst}, {"max-conns-per-ip", a.maxConnsPerIP},
		{"max-rooms", a.maxRooms}, {"max-doc-bytes", a.maxDocBytes}, {"send-buffer-bytes", a.sendBuffer},
	} {
		if v.n < 0 {
			return fmt.Errorf("--%s %d: must not be negative", v.name, v.n)
		}
	}
	if a.maxMessage == 0 {
		return errors.New("--max-message-bytes must be positive")
	}
	if a.slowLag <= 0 {
		return fmt.Errorf("--slow-consumer-lag %v: must be positive", a.slowLag)
	}
	if a.rateMessages < 0 {
		return fmt.Errorf("--rate-messages %v: must not be negative", a.rateMessages)
	}
	cfg.Auth = auth
	cfg.Hooks.Authorize = authorize
	cfg.AllowedOrigins = origins
	cfg.AllowedHosts = hosts
	cfg.MaxMessageSize = a.maxMessage
	cfg.RateMessages = offIfZero(a.rateMessages)
	cfg.RateBurst = a.rateBurst
	cfg.RateBytes = offIfZero(a.rateBytes)
	cfg.RateBytesBurst = a.rateBytesBurst
	cfg.MaxConnsPerIP = offIfZero(a.maxConnsPerIP)
	cfg.TrustProxy = a.trustProxy
	cfg.MaxRooms = offIfZero(a.maxRooms)
	cfg.MaxDocBytes = offIfZero(a.maxDocBytes)
	cfg.SlowConsumerLag = a.slowLag
	cfg.SendBuffer = offIfZero(a.sendBuffer)
	if auth == nil && authorize == nil {
		logger.Warn("no auth secret: the server is open, and anyone who can reach it may read and write every room; set --auth-secret or FLOWSTATE_AUTH_SECRET, or --auth-url")
	}
	if len(origins) == 1 && origins[0] == "*" {
		logger.Warn("--allowed-origins is *: pages of every site may open sessions from their visitors' browsers")
	}
	if len(hosts) == 1 && hosts[0] == "*" {
		logger.Warn("--allowed-hosts is *: the server answers every Host, so pages of other sites can reach it by DNS rebinding")
	}
	return nil
}

// offIfZero turns a flag's 0 ("no limit") into the Config's -1: in a
// Config, 0 selects the default.
func offIfZero[T int | float64](v T) T {
	if v == 0 {
		return -1
	}
	return v
}
