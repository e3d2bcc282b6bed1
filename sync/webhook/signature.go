package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Headers of every webhook request.
const (
	// HeaderSignature holds "t=<Unix seconds>,v1=<hex HMAC-SHA256>": the
	// HMAC, keyed with the webhook secret, of the timestamp, a dot and
	// the request body. Each attempt is signed anew with its own time.
	HeaderSignature = "FlowState-Signature"
	// HeaderEventID holds the event's ID, the same on every attempt and
	// for every receiver: the idempotency key.
	HeaderEventID = "FlowState-Event-Id"
	// HeaderEventType holds the event's type, as in the body.
	HeaderEventType = "FlowState-Event-Type"
)

// DefaultTolerance is the clock difference Verify accepts when given zero.
const DefaultTolerance = 5 * time.Minute

// Errors of Verify.
var (
	// ErrSignatureHeader means the header is missing or malformed.
	ErrSignatureHeader = errors.New("webhook: missing or malformed " + HeaderSignature + " header")
	// ErrSignatureMismatch means no signature of the header matches the
	// body: a wrong secret, or a body or timestamp changed on the way.
	ErrSignatureMismatch = errors.New("webhook: signature does not match")
	// ErrSignatureExpired means the timestamp is further from now than
	// the tolerance: a replay, or a clock far off.
	ErrSignatureExpired = errors.New("webhook: timestamp outside the tolerance")
)

// Sign returns the HeaderSignature value for body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret []byte, ts string, body []byte) string {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// Verify checks a webhook request as its receiver should: header is the
// request's HeaderSignature, body its unmodified body. It returns nil
// when one of the header's v1 signatures is the HMAC of the header's
// timestamp and body under secret, and that timestamp is within
// tolerance of the receiver's clock (zero means DefaultTolerance), which
// bounds how long a captured request can be replayed; the event ID
// (HeaderEventID) lets the receiver drop a replay within that time, and
// the retries it must expect anyway.
func Verify(secret []byte, header string, body []byte, tolerance time.Duration) error {
	return verifyAt(secret, header, body, tolerance, time.Now())
}

func verifyAt(secret []byte, header string, body []byte, tolerance time.Duration, now time.Time) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrSignatureHeader
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrSignatureHeader
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed %s ago", ErrSignatureExpired, d.Round(time.Second))
	}
	want := []byte(mac(secret, ts, body))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), want) {
			return nil
		}
	}
	return ErrSignatureMismatch
}
