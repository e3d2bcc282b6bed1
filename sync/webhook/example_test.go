package webhook_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/flowstate/flowstate/sync/webhook"
)

// A receiver checks each request's signature over the raw body before it
// trusts anything in it, and drops the events it has handled already.
func ExampleVerify() {
	secret := []byte("the --webhook-secret, 32 bytes or more")
	seen := make(map[string]bool) // a database table in a real receiver
	receiver := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "cannot read", http.StatusBadRequest)
			return
		}
		if err := webhook.Verify(secret, r.Header.Get(webhook.HeaderSignature), body, 5*time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var ev webhook.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		if !seen[ev.ID] {
			seen[ev.ID] = true
			fmt.Println("handled", ev.Type, ev.Room)
		}
		w.WriteHeader(http.StatusNoContent)
	})

	// What the server sends, twice (a retry), then a forgery.
	body := `{"id":"18a3c5e2f0b1c2d31a2b3c4d","type":"room.idle","room":"notes","time":"2026-12-06T12:00:00Z"}`
	send := func(signature string) int {
		req := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(body))
		req.Header.Set(webhook.HeaderSignature, signature)
		rec := httptest.NewRecorder()
		receiver.ServeHTTP(rec, req)
		return rec.Code
	}
	fmt.Println(send(webhook.Sign(secret, time.Now(), []byte(body))))
	fmt.Println(send(webhook.Sign(secret, time.Now(), []byte(body))))
	fmt.Println(send(webhook.Sign([]byte("a guess at the secret, 32 bytes!"), time.Now(), []byte(body))))
	// Output:
	// handled room.idle notes
	// 204
	// 204
	// 401
}
