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
	vf := readVectors(f)
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

// FuzzPatch checks patches against the bytes they stand for: the patch
// MakePatch writes turns its base into its update, Smaller says exactly
// whether its encoding is shorter than the Update's, and Apply either
// refuses a patch with ErrPatch or returns the base's kept ends around
// the middle, within its limit, in memory of its own.
func FuzzPatch(f *testing.F) {
	vf := readVectors(f)
	for _, v := range vf.Patches {
		f.Add(unhex(v.BaseHex), unhex(v.UpdateHex), v.KeepFront, v.KeepBack, uint64(3), 64)
	}
	for _, v := range vf.BadPatches {
		base := []byte(nil)
		if v.BaseHex != nil {
			base = unhex(*v.BaseHex)
		}
		max := -1
		if v.MaxBytes != nil {
			max = *v.MaxBytes
		}
		f.Add(base, unhex(v.MiddleHex), v.KeepFront, v.KeepBack, uint64(70000), max)
	}
	f.Fuzz(func(t *testing.T, base, update []byte, front, back, seq uint64, max int) {
		have := append([]byte{}, base...) // a base, even if empty
		p := protocol.MakePatch(have, update)
		got, err := p.Apply(have, -1)
		if err != nil || !bytes.Equal(got, update) {
			t.Fatalf("MakePatch(%x, %x) = %+v, which makes %x, %v", base, update, p, got, err)
		}
		ub, err := protocol.Encode(&protocol.Update{Seq: seq, Updates: [][]byte{update}})
		if err != nil {
			t.Fatal(err)
		}
		// A client's Patch (no seq) and the server's (the Update's seq).
		for _, ps := range []uint64{0, seq} {
			p.Seq = ps
			pb, err := protocol.Encode(p)
			if err != nil {
				t.Fatal(err)
			}
			if want := len(pb) < len(ub); p.Smaller(len(update), seq) != want {
				t.Fatalf("Smaller = %t: the patch of seq %d takes %d bytes, the Update of seq %d %d", !want, ps, len(pb), seq, len(ub))
			}
		}

		q := &protocol.Patch{Front: front, Back: back, Middle: update}
		if base == nil && len(update)%2 == 0 {
			base = []byte{} // an empty base, not none
		}
		u, err := q.Apply(base, max)
		if err != nil {
			if !errors.Is(err, protocol.ErrPatch) || u != nil {
				t.Fatalf("Apply = %x, %v; want nil and ErrPatch", u, err)
			}
			fits := base != nil && front <= uint64(len(base)) && back <= uint64(len(base))-front &&
				(max < 0 || int(front)+len(update)+int(back) <= max)
			if fits {
				t.Fatalf("Apply refused a patch that fits: %v", err)
			}
			return
		}
		n := len(base)
		if !bytes.Equal(u[:front], base[:front]) || !bytes.Equal(u[front:len(u)-int(back)], update) || !bytes.Equal(u[len(u)-int(back):], base[n-int(back):]) {
			t.Fatalf("Apply(%x) with %d, %d, %x = %x", base, front, back, update, u)
		}
		if max >= 0 && len(u) > max {
			t.Fatalf("Apply made %d bytes, over its limit of %d", len(u), max)
		}
		if len(u) > 0 && len(base) > 0 && &u[0] == &base[0] {
			t.Fatal("Apply returned the base's memory")
		}
	})
}

// readVectors reads testdata/vectors.json, the fuzz targets' seeds.
func readVectors(f *testing.F) vectorFile {
	raw, err := os.ReadFile(vectorsPath)
	if err != nil {
		f.Fatal(err)
	}
	var vf vectorFile
	if err := json.Unmarshal(raw, &vf); err != nil {
		f.Fatal(err)
	}
	return vf
}
