// Package authcallback lets the application decide who may open a room:
// an implementation of sync.Hooks.Authorize that asks the application's
// backend over HTTP, with a short cache and a timeout.
//
// For each WebSocket session or API call that carries no FlowState-signed
// token, the server POSTs JSON to the configured URL:
//
//	{"room":"notes","token":"the caller's credential, if any",
//	 "cookie":"the request's Cookie header","origin":"https://app.example",
//	 "method":"GET","path":"/ws/notes","write":false}
//
// room is "*" for the list of rooms (GET /api/rooms); write is true for
// an API call that changes the room, false for a WebSocket session (which
// may write if the answer allows it) and for reads.
//
// and the application answers 200 with
//
//	{"allow":"write","subject":"user-42","ttl":60}
//
// allow is "read", "write" or "none"; subject names the caller (required
// for "write": the client IDs a caller writes under are bound to it); ttl,
// optional, is how many seconds the answer may be reused for the same
// room, token and cookie, and the same kind of call (write or not) (0:
// not at all; absent: Config.CacheTTL). Any
// other answer, a malformed body, or no answer within Config.Timeout
// refuses the caller; errors are never cached.
package authcallback

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sync"
	"time"

	docsync "github.com/flowstate/flowstate/sync"
)

// Defaults of the Config fields.
const (
	DefaultTimeout  = 2 * time.Second
	DefaultCacheTTL = 30 * time.Second
	DefaultMaxCache = 10_000
)

// maxTTL bounds the ttl an answer may ask for.
const maxTTL = 24 * time.Hour

// maxAnswer bounds the bytes read of an answer.
const maxAnswer = 64 << 10

// Config configures a Callback.
type Config struct {
	// URL is the application's endpoint: http or https.
	URL string
	// Timeout bounds one call, answer included. Zero means
	// DefaultTimeout (2 s).
	Timeout time.Duration
	// CacheTTL is how long an answer without a ttl is reused for the
	// same room, token and cookie. Zero means DefaultCacheTTL (30 s); a
	// negative value disables the cache.
	CacheTTL time.Duration
	// MaxCache bounds the answers kept. Zero means DefaultMaxCache.
	MaxCache int
}

// A Callback authorizes callers by asking the application. It is safe
// for concurrent use.
type Callback struct {
	cfg    Config
	client *http.Client
	now    func() time.Time

	// mu guards cache.
	mu    sync.Mutex
	cache map[[32]byte]cached
}

type cached struct {
	grant   docsync.Grant
	expires time.Time
}

// New returns a Callback for cfg.
func New(cfg Config) (*Callback, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("authcallback: the URL must be an http:// or https:// URL")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	if cfg.MaxCache <= 0 {
		cfg.MaxCache = DefaultMaxCache
	}
	return &Callback{
		cfg: cfg,
		client: &http.Client{
			Timeout:       cfg.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		now:   time.Now,
		cache: make(map[[32]byte]cached),
	}, nil
}

// A question is the JSON body of a call.
type question struct {
	Room   string `json:"room"`
	Token  string `json:"token,omitempty"`
	Cookie string `json:"cookie,omitempty"`
	Origin string `json:"origin,omitempty"`
	Method string `json:"method,omitempty"`
	Path   string `json:"path,omitempty"`
	Write  bool   `json:"write"`
}

// An answer is the application's JSON answer.
type answer struct {
	Allow   string   `json:"allow"`
	Subject string   `json:"subject"`
	TTL     *float64 `json:"ttl"`
}

// decodeAnswer decodes and checks an answer: the grant it gives and how
// long it may be cached (negative: use the default).
func decodeAnswer(b []byte) (docsync.Grant, time.Duration, error) {
	var a answer
	if err := json.Unmarshal(b, &a); err != nil {
		return docsync.Grant{}, 0, fmt.Errorf("authcallback: the answer is not the expected JSON: %v", err)
	}
	var g docsync.Grant
	switch a.Allow {
	case "none":
	case "read":
		g = docsync.Grant{Perm: docsync.PermRead, Subject: a.Subject}
	case "write":
		if a.Subject == "" {
			return docsync.Grant{}, 0, errors.New(`authcallback: the answer allows "write" without a subject`)
		}
		g = docsync.Grant{Perm: docsync.PermWrite, Subject: a.Subject}
	default:
		return docsync.Grant{}, 0, fmt.Errorf(`authcallback: the answer's "allow" is %q: want "read", "write" or "none"`, a.Allow)
	}
	ttl := time.Duration(-1)
	if a.TTL != nil {
		if *a.TTL < 0 || math.IsNaN(*a.TTL) {
			return docsync.Grant{}, 0, fmt.Errorf(`authcallback: the answer's "ttl" is %v: want seconds, 0 or more`, *a.TTL)
		}
		ttl = time.Duration(min(*a.TTL, maxTTL.Seconds()) * float64(time.Second))
	}
	return g, ttl, nil
}

// Authorize implements sync.Hooks.Authorize: the cached answer for the
// request's room, token and cookie, or the application's.
func (c *Callback) Authorize(ctx context.Context, req *docsync.AuthRequest) (docsync.Grant, error) {
	q := question{Room: req.Room, Token: req.Token, Write: req.Write}
	if r := req.Request; r != nil {
		q.Cookie, q.Origin, q.Method, q.Path = r.Header.Get("Cookie"), r.Header.Get("Origin"), r.Method, r.URL.Path
	}
	key := cacheKey(q)
	if g, ok := c.cached(key); ok {
		return g, nil
	}
	g, ttl, err := c.ask(ctx, q)
	if err != nil {
		return docsync.Grant{}, err // the hub logs it
	}
	if ttl < 0 {
		ttl = c.cfg.CacheTTL
	}
	if ttl > 0 {
		c.store(key, g, ttl)
	}
	return g, nil
}

// cacheKey hashes what an answer depends on, so that the cache holds no
// credential.
func cacheKey(q question) [32]byte {
	h := sha256.New()
	for _, s := range []string{q.Room, q.Token, q.Cookie} {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	fmt.Fprintf(h, "%t", q.Write)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

func (c *Callback) cached(key [32]byte) (docsync.Grant, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.cache[key]
	if !ok || !c.now().Before(e.expires) {
		return docsync.Grant{}, false
	}
	return e.grant, true
}

func (c *Callback) store(key [32]byte, g docsync.Grant, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.cache) >= c.cfg.MaxCache {
		for k, e := range c.cache {
			if !now.Before(e.expires) {
				delete(c.cache, k)
			}
		}
		// Still full: drop entries at random (map order) until there is
		// room; the cache is an optimisation, never an authority.
		for k := range c.cache {
			if len(c.cache) < c.cfg.MaxCache {
				break
			}
			delete(c.cache, k)
		}
	}
	c.cache[key] = cached{grant: g, expires: now.Add(ttl)}
}

// ask makes the call.
func (c *Callback) ask(ctx context.Context, q question) (docsync.Grant, time.Duration, error) {
	body, err := json.Marshal(q)
	if err != nil {
		return docsync.Grant{}, 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return docsync.Grant{}, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "FlowState-Auth/1")
	resp, err := c.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL may hold a credential
		}
		return docsync.Grant{}, 0, fmt.Errorf("authcallback: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return docsync.Grant{}, 0, fmt.Errorf("authcallback: reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return docsync.Grant{}, 0, fmt.Errorf("authcallback: the application answered %s", resp.Status)
	}
	if len(b) > maxAnswer {
		return docsync.Grant{}, 0, fmt.Errorf("authcallback: the answer is larger than %d bytes", maxAnswer)
	}
	return decodeAnswer(b)
}
