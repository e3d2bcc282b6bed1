package webhook

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// FuzzDecodeDelivery checks that an outbox record never panics its
// decoder, and that a record that decodes encodes back to itself.
func FuzzDecodeDelivery(f *testing.F) {
	body, _ := json.Marshal(Event{ID: "0001", Type: EventChanged, Room: "r", StateVector: []byte{1, 2}, Size: 3, Texts: []string{"t"}})
	f.Add(encodeDelivery(time.Unix(1, 2), body))
	f.Add(encodeDelivery(time.Now(), []byte(`{"id":"x","type":"room.idle"}`)))
	f.Add([]byte{1})
	f.Add([]byte{2, 0, 0, 0, 0, 0, 0, 0, 0, '{', '}'})
	f.Fuzz(func(t *testing.T, b []byte) {
		created, body, ev, err := decodeDelivery(b)
		if err != nil {
			return
		}
		if ev.ID == "" || !knownType(ev.Type) {
			t.Fatalf("decoded an event without ID or known type: %+v", ev)
		}
		if again := encodeDelivery(created, body); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding gives %x, want %x", again, b)
		}
	})
}

// FuzzDecodeNotified checks that a notified record never panics its
// decoder, and that one that decodes encodes back to itself.
func FuzzDecodeNotified(f *testing.F) {
	f.Add(encodeNotified(time.Unix(3, 4), "notes", []byte{1, 2, 3}))
	f.Add(encodeNotified(time.Now(), "", nil))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		at, room, sv, err := decodeNotified(b)
		if err != nil {
			return
		}
		if again := encodeNotified(at, room, sv); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding gives %x, want %x", again, b)
		}
	})
}

// FuzzVerify checks that Verify never panics and accepts no header the
// fuzzer makes. No seed holds a signature under testSecret that is still
// fresh, whatever its body: a fresh one signed under another secret, and
// one under testSecret from long ago, which a mutation cannot make fresh
// without changing what it signs. (A fresh seed signed for a body one
// byte away from another seed's was found by the fuzzer: a mutation of
// that byte made it valid.)
func FuzzVerify(f *testing.F) {
	body := []byte(`{"id":"1"}`)
	f.Add(Sign([]byte("another secret"), time.Now(), body), body)
	f.Add(Sign(testSecret, time.Unix(1, 0), body), body)
	f.Add("t=1,v1=00", body)
	f.Add("v1=,t=", body)
	f.Fuzz(func(t *testing.T, header string, b []byte) {
		if Verify(testSecret, header, b, 0) == nil {
			t.Fatalf("accepted %q for %q", header, b)
		}
	})
}
