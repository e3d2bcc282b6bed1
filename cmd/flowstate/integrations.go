package main

// This file holds the serve flags that connect the server to the
// application around it: webhooks (package sync/webhook) and the auth
// callback (package sync/authcallback).

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/flowstate/flowstate/store"
	docsync "github.com/flowstate/flowstate/sync"
	"github.com/flowstate/flowstate/sync/authcallback"
	"github.com/flowstate/flowstate/sync/webhook"
)

// webhookFlags are the serve flags of the webhooks.
type webhookFlags struct {
	endpoints   []webhook.Endpoint
	fromEnv     bool // endpoints came from FLOWSTATE_WEBHOOK; a --webhook replaces them
	secret      string
	secretFile  string
	debounce    time.Duration
	retryFor    time.Duration
	parseErrors []error
}

func (w *webhookFlags) register(fs *flag.FlagSet, a *accessFlags) {
	for _, s := range strings.Fields(os.Getenv("FLOWSTATE_WEBHOOK")) {
		e, err := webhook.ParseEndpoint(s)
		if err != nil {
			w.parseErrors = append(w.parseErrors, fmt.Errorf("FLOWSTATE_WEBHOOK: %w", err))
			continue
		}
		w.endpoints = append(w.endpoints, e)
		w.fromEnv = true
	}
	fs.Func("webhook", "POST signed events to this `URL`; repeat for more receivers. Append ;events=room.changed,room.created,room.deleted,room.idle "+
		"to send only those (default: all). Needs --webhook-secret (FLOWSTATE_WEBHOOK: space-separated)", func(s string) error {
		e, err := webhook.ParseEndpoint(s)
		if err != nil {
			return err
		}
		if w.fromEnv {
			w.endpoints, w.fromEnv = nil, false
		}
		w.endpoints = append(w.endpoints, e)
		return nil
	})
	fs.StringVar(&w.secret, "webhook-secret", os.Getenv("FLOWSTATE_WEBHOOK_SECRET"),
		fmt.Sprintf("`secret` that signs webhook requests (FlowState-Signature), at least %d bytes (FLOWSTATE_WEBHOOK_SECRET)", docsync.MinSecretBytes))
	fs.StringVar(&w.secretFile, "webhook-secret-file", os.Getenv("FLOWSTATE_WEBHOOK_SECRET_FILE"),
		"read the webhook secret from `file`; surrounding white space is ignored (FLOWSTATE_WEBHOOK_SECRET_FILE)")
	a.durationFlag(fs, &w.debounce, "webhook-debounce", "FLOWSTATE_WEBHOOK_DEBOUNCE", webhook.DefaultDebounce,
		"shortest time between two room.changed events of a room; the changes in between go out as one")
	a.durationFlag(fs, &w.retryFor, "webhook-retry-for", "FLOWSTATE_WEBHOOK_RETRY_FOR", webhook.DefaultRetryFor,
		"how long an undelivered webhook event is retried, with exponential backoff, before it is counted as failed")
}

// config checks the flags and returns the dispatcher's configuration;
// ok is false when no webhook is configured.
func (w *webhookFlags) config(logger *slog.Logger) (cfg webhook.Config, ok bool, err error) {
	if err := errors.Join(w.parseErrors...); err != nil {
		return cfg, false, err
	}
	secret := w.secret
	if w.secretFile != "" {
		if secret != "" {
			return cfg, false, errors.New("give the webhook secret inline or in a file, not both")
		}
		b, err := os.ReadFile(w.secretFile)
		if err != nil {
			return cfg, false, fmt.Errorf("webhook secret: %w", err)
		}
		secret = strings.TrimSpace(string(b))
	}
	if len(w.endpoints) == 0 {
		return cfg, false, nil
	}
	if len(secret) < docsync.MinSecretBytes {
		return cfg, false, fmt.Errorf("--webhook-secret is %d bytes: receivers check requests with it, and it must be at least %d bytes; make one with: openssl rand -hex 32", len(secret), docsync.MinSecretBytes)
	}
	if w.debounce <= 0 || w.retryFor <= 0 {
		return cfg, false, errors.New("--webhook-debounce and --webhook-retry-for must be positive")
	}
	return webhook.Config{
		Endpoints: w.endpoints,
		Secret:    []byte(secret),
		Debounce:  w.debounce,
		RetryFor:  w.retryFor,
		Logger:    logger,
	}, true, nil
}

// startWebhooks starts the webhooks of f, if any, on st's outbox, and
// announces the changes a crash kept from the outbox. It returns nil when
// no webhook is configured.
func startWebhooks(f serveFlags, st store.Store, logger *slog.Logger) (*webhook.Dispatcher, error) {
	cfg, ok, err := f.webhooks.config(logger)
	if err != nil || !ok {
		return nil, err
	}
	ob, isOutbox := st.(store.Outbox)
	if !isOutbox {
		return nil, errors.New("webhooks need a store with an outbox")
	}
	if f.data == memoryData {
		logger.Warn("webhooks with --data :memory: keep their undelivered events in memory only: a restart loses them")
	}
	d, err := webhook.New(cfg, ob)
	if err != nil {
		return nil, err
	}
	if err := d.Recover(st); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// authURLFlags are the serve flags of the auth callback.
type authURLFlags struct {
	url      string
	timeout  time.Duration
	cacheTTL time.Duration
}

func (u *authURLFlags) register(fs *flag.FlagSet, a *accessFlags) {
	fs.StringVar(&u.url, "auth-url", os.Getenv("FLOWSTATE_AUTH_URL"),
		"ask the application at this `URL` (POST, JSON) whether a caller without a token signed with --auth-secret may read or write a room (FLOWSTATE_AUTH_URL)")
	a.durationFlag(fs, &u.timeout, "auth-timeout", "FLOWSTATE_AUTH_TIMEOUT", authcallback.DefaultTimeout,
		"how long --auth-url may take to answer; then the caller is refused (1013, HTTP 503)")
	a.durationFlag(fs, &u.cacheTTL, "auth-cache-ttl", "FLOWSTATE_AUTH_CACHE_TTL", authcallback.DefaultCacheTTL,
		"how long an answer of --auth-url is reused for the same room, token and cookie, unless it gives its own ttl (0: not at all)")
}

// authorize returns the Authorize hook of the flags, or nil without
// --auth-url.
func (u *authURLFlags) authorize() (func(context.Context, *docsync.AuthRequest) (docsync.Grant, error), error) {
	if u.url == "" {
		return nil, nil
	}
	if u.timeout <= 0 || u.cacheTTL < 0 {
		return nil, errors.New("--auth-timeout must be positive and --auth-cache-ttl not negative")
	}
	ttl := u.cacheTTL
	if ttl == 0 {
		ttl = -1 // a Config's 0 is the default
	}
	cb, err := authcallback.New(authcallback.Config{URL: u.url, Timeout: u.timeout, CacheTTL: ttl})
	if err != nil {
		return nil, fmt.Errorf("--auth-url: %w", err)
	}
	return cb.Authorize, nil
}
