package webhook

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func TestVerify(t *testing.T) {
	body := []byte(`{"id":"1","type":"room.idle","room":"notes"}`)
	now := time.Unix(1_800_000_000, 0)
	good := Sign(testSecret, now, body)
	v1 := good[strings.Index(good, "v1="):]
	tests := []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"good", testSecret, good, body, now, nil},
		{"good, 4 minutes late", testSecret, good, body, now.Add(4 * time.Minute), nil},
		{"replayed 6 minutes later", testSecret, good, body, now.Add(6 * time.Minute), ErrSignatureExpired},
		{"from the future", testSecret, good, body, now.Add(-6 * time.Minute), ErrSignatureExpired},
		{"tampered body", testSecret, good, []byte(`{"id":"1","type":"room.idle","room":"admin"}`), now, ErrSignatureMismatch},
		{"timestamp moved forward", testSecret, "t=1800000300," + v1, body, now.Add(5 * time.Minute), ErrSignatureMismatch},
		{"wrong secret", []byte("another secret of thirty-two byte"), good, body, now, ErrSignatureMismatch},
		{"second signature matches (rotation)", testSecret, "t=1800000000,v1=00ff," + v1, body, now, nil},
		{"empty header", testSecret, "", body, now, ErrSignatureHeader},
		{"no signature", testSecret, "t=1800000000", body, now, ErrSignatureHeader},
		{"no timestamp", testSecret, v1, body, now, ErrSignatureHeader},
		{"bad timestamp", testSecret, "t=soon," + v1, body, now, ErrSignatureHeader},
		{"garbage", testSecret, "sha256 abc", body, now, ErrSignatureHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := verifyAt(tt.secret, tt.header, tt.body, 0, tt.now)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("verify = %v, want %v", err, tt.want)
			}
		})
	}
}

// Verify itself reads the clock: a fresh signature passes, an old one not.
func TestVerifyNow(t *testing.T) {
	body := []byte("{}")
	if err := Verify(testSecret, Sign(testSecret, time.Now(), body), body, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := Verify(testSecret, Sign(testSecret, time.Now().Add(-2*time.Minute), body), body, time.Minute); !errors.Is(err, ErrSignatureExpired) {
		t.Fatalf("an old signature: %v", err)
	}
}
