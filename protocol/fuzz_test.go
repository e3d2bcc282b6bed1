package protocol_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/flowstate/flowstate/protocol"
)

// FuzzDecode checks that Decode never panics, that it fails only with a
// *DecodeError, and that whatever it accepts re-encodes: Encode succeeds,
// decoding the result gives the same message, re-encoding is stable, and
// an input written in the smallest msgpack forms comes back byte for byte.
//
// It is seeded with every input of testdata/vectors.json and of the tables
// in this package's tests.
func FuzzDecode(f *testing.F) {
	raw, err := os.ReadFile(vectorsPath)
	if err != nil {
		f.Fatal(err)
	}
	var vf vectorFile
	if err := json.Unmarshal(raw, &vf); err != nil {
		f.Fatal(err)
	}
	add := func(h string) {
		b, err := hex.DecodeString(h)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, v := range vf.Messages {
		add(v.Hex)
	}
	for _, v := range vf.DecodeOnly {
		add(v.Hex)
		add(v.CanonicalHex)
	}
	for _, v := range vf.Invalid {
		add(v.Hex)
	}
	for _, tt := range decodeErrorTests {
		f.Add(tt.in)
	}

	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := protocol.Decode(in)
		if err != nil {
			var de *protocol.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Decode(%x): error %v (%T) is not a *DecodeError", in, err, err)
			}
			if m != nil {
				t.Fatalf("Decode(%x): message %v with error %v", in, m, err)
			}
			if de.Offset < 0 || de.Offset > len(in) {
				t.Fatalf("Decode(%x): offset %d outside the input", in, de.Offset)
			}
			return
		}
		enc, err := protocol.Encode(m)
		if err != nil {
			t.Fatalf("Decode(%x) = %#v, which Encode rejects: %v", in, m, err)
		}
		m2, err := protocol.Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode(%#v)) = %v (encoded %x)", m, err, enc)
		}
		if !equalMessages(m, m2) {
			t.Fatalf("round trip changed the message:\n%#v\n%#v", m, m2)
		}
		enc2, err := protocol.Encode(m2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("re-encoding is not stable: %x, then %x (%v)", enc, enc2, err)
		}
		if h, ok := m.(*protocol.Hello); ok && h.Version != protocol.Version {
			return // the rest of another version's Hello is not decoded
		}
		// Every accepted non-minimal form is longer than the minimal one,
		// so an input no longer than its re-encoding must be identical.
		if len(enc) > len(in) || (len(enc) == len(in) && !bytes.Equal(enc, in)) {
			t.Fatalf("Decode(%x) re-encodes as %x", in, enc)
		}
	})
}
