package crdt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// Canonical map values (FORMAT.md §8.1): Map.Set encodes a value so that
// the same value gives the same bytes here and in every other
// implementation, whatever Go type holds it and whatever the order of a Go
// map. The value is marshalled by the msgpack library (so structs and
// custom marshalers work), and the result is rewritten in canonical form:
// integers, and floats holding an integer of magnitude at most 2^53, in
// their shortest integer form; other floats as float64; strings, binaries,
// arrays and maps with their shortest headers; map keys sorted by their
// UTF-8 bytes.

// errValue is wrapped by the errors of values that have no canonical form.
var errValue = errors.New("no canonical msgpack form")

// canonicalValue returns the canonical msgpack encoding of v.
func canonicalValue(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	c := canonicalizer{src: buf.Bytes()}
	out, err := c.value(nil, 0)
	if err != nil {
		return nil, err
	}
	if c.pos != len(c.src) {
		return nil, fmt.Errorf("%w: trailing bytes after the value", errValue)
	}
	return out, nil
}

// canonicalizer rewrites the msgpack value in src, which the library
// wrote, in canonical form.
type canonicalizer struct {
	src []byte
	pos int
}

func (c *canonicalizer) take(n int) ([]byte, error) {
	if n < 0 || len(c.src)-c.pos < n {
		return nil, fmt.Errorf("%w: truncated value", errValue)
	}
	b := c.src[c.pos : c.pos+n]
	c.pos += n
	return b, nil
}

func (c *canonicalizer) length(n int) (int, error) {
	b, err := c.take(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	if v > uint64(len(c.src)) {
		return 0, fmt.Errorf("%w: length past the value", errValue)
	}
	return int(v), nil
}

// value appends the canonical form of the next value to out.
func (c *canonicalizer) value(out []byte, depth int) ([]byte, error) {
	if depth >= maxValueDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d levels", errValue, maxValueDepth)
	}
	b, err := c.take(1)
	if err != nil {
		return nil, err
	}
	code := b[0]
	switch {
	case code <= msgpcode.PosFixedNumHigh:
		return append(out, code), nil
	case code >= 0xe0: // negative fixint
		return append(out, code), nil
	case code == msgpcode.Nil, code == msgpcode.False, code == msgpcode.True:
		return append(out, code), nil
	case code >= msgpcode.Uint8 && code <= msgpcode.Uint64:
		p, err := c.take(1 << (code - msgpcode.Uint8))
		if err != nil {
			return nil, err
		}
		var v uint64
		for _, x := range p {
			v = v<<8 | uint64(x)
		}
		return appendCanonicalUint(out, v), nil
	case code >= msgpcode.Int8 && code <= msgpcode.Int64:
		p, err := c.take(1 << (code - msgpcode.Int8))
		if err != nil {
			return nil, err
		}
		var v uint64
		for _, x := range p {
			v = v<<8 | uint64(x)
		}
		shift := 64 - 8*len(p)
		return appendCanonicalInt(out, int64(v<<shift)>>shift), nil
	case code == msgpcode.Float:
		p, err := c.take(4)
		if err != nil {
			return nil, err
		}
		return appendCanonicalFloat(out, float64(math.Float32frombits(binary.BigEndian.Uint32(p)))), nil
	case code == msgpcode.Double:
		p, err := c.take(8)
		if err != nil {
			return nil, err
		}
		return appendCanonicalFloat(out, math.Float64frombits(binary.BigEndian.Uint64(p))), nil
	case code&0xe0 == 0xa0, code == msgpcode.Str8, code == msgpcode.Str16, code == msgpcode.Str32:
		s, err := c.payload(code, 0xa0, msgpcode.Str8)
		if err != nil {
			return nil, err
		}
		if !utf8.Valid(s) {
			return nil, fmt.Errorf("%w: string is not valid UTF-8", errValue)
		}
		return appendStr(out, s), nil
	case code == msgpcode.Bin8, code == msgpcode.Bin16, code == msgpcode.Bin32:
		s, err := c.payload(code, 0, msgpcode.Bin8)
		if err != nil {
			return nil, err
		}
		return appendBin(out, s), nil
	case code&0xf0 == 0x90, code == msgpcode.Array16, code == msgpcode.Array32:
		n, err := c.count(code, 0x90, msgpcode.Array16)
		if err != nil {
			return nil, err
		}
		out = appendHeader(out, 0x90, msgpcode.Array16, n)
		for range n {
			if out, err = c.value(out, depth+1); err != nil {
				return nil, err
			}
		}
		return out, nil
	case code&0xf0 == 0x80, code == msgpcode.Map16, code == msgpcode.Map32:
		n, err := c.count(code, 0x80, msgpcode.Map16)
		if err != nil {
			return nil, err
		}
		return c.mapEntries(out, n, depth)
	}
	return nil, fmt.Errorf("%w: msgpack code 0x%02x (extension types such as time.Time have none)", errValue, code)
}

// payload reads a str (fix = 0xa0) or bin (fix = 0) payload whose header
// code was read; w8 is the family's 8-bit-length code.
func (c *canonicalizer) payload(code, fix, w8 byte) ([]byte, error) {
	var n int
	var err error
	switch {
	case fix != 0 && code&0xe0 == fix:
		n = int(code & 0x1f)
	default:
		n, err = c.length(1 << (code - w8))
	}
	if err != nil {
		return nil, err
	}
	return c.take(n)
}

// count reads the element count of an array or map header.
func (c *canonicalizer) count(code, fix, w16 byte) (int, error) {
	if code&0xf0 == fix {
		return int(code & 0x0f), nil
	}
	return c.length(2 << (code - w16))
}

// mapEntries rewrites n key-value pairs sorted by key bytes.
func (c *canonicalizer) mapEntries(out []byte, n int, depth int) ([]byte, error) {
	type entry struct{ key, kv []byte }
	entries := make([]entry, 0, n)
	for range n {
		b, err := c.take(1)
		if err != nil {
			return nil, err
		}
		code := b[0]
		if code&0xe0 != 0xa0 && code != msgpcode.Str8 && code != msgpcode.Str16 && code != msgpcode.Str32 {
			return nil, fmt.Errorf("%w: map key is not a string", errValue)
		}
		key, err := c.payload(code, 0xa0, msgpcode.Str8)
		if err != nil {
			return nil, err
		}
		if !utf8.Valid(key) {
			return nil, fmt.Errorf("%w: map key is not valid UTF-8", errValue)
		}
		kv := appendStr(nil, key)
		if kv, err = c.value(kv, depth+1); err != nil {
			return nil, err
		}
		entries = append(entries, entry{key, kv})
	}
	slices.SortFunc(entries, func(a, b entry) int { return bytes.Compare(a.key, b.key) })
	for i := 1; i < len(entries); i++ {
		if bytes.Equal(entries[i-1].key, entries[i].key) {
			return nil, fmt.Errorf("%w: duplicate map key %q", errValue, entries[i].key)
		}
	}
	out = appendHeader(out, 0x80, msgpcode.Map16, n)
	for _, e := range entries {
		out = append(out, e.kv...)
	}
	return out, nil
}

func appendBE(out []byte, v uint64, n int) []byte {
	for s := 8 * (n - 1); s >= 0; s -= 8 {
		out = append(out, byte(v>>s))
	}
	return out
}

func appendCanonicalUint(out []byte, v uint64) []byte {
	switch {
	case v <= uint64(msgpcode.PosFixedNumHigh):
		return append(out, byte(v))
	case v <= math.MaxUint8:
		return appendBE(append(out, msgpcode.Uint8), v, 1)
	case v <= math.MaxUint16:
		return appendBE(append(out, msgpcode.Uint16), v, 2)
	case v <= math.MaxUint32:
		return appendBE(append(out, msgpcode.Uint32), v, 4)
	}
	return appendBE(append(out, msgpcode.Uint64), v, 8)
}

func appendCanonicalInt(out []byte, v int64) []byte {
	switch {
	case v >= 0:
		return appendCanonicalUint(out, uint64(v))
	case v >= -32:
		return append(out, byte(v))
	case v >= math.MinInt8:
		return appendBE(append(out, msgpcode.Int8), uint64(v), 1)
	case v >= math.MinInt16:
		return appendBE(append(out, msgpcode.Int16), uint64(v), 2)
	case v >= math.MinInt32:
		return appendBE(append(out, msgpcode.Int32), uint64(v), 4)
	}
	return appendBE(append(out, msgpcode.Int64), uint64(v), 8)
}

// appendCanonicalFloat writes an integral f with |f| ≤ 2^53 as an integer
// (so 1.0 and 1 are the same value, as in JavaScript), anything else as a
// float64, NaN always with the same bits.
func appendCanonicalFloat(out []byte, f float64) []byte {
	if f == math.Trunc(f) && math.Abs(f) <= maxClock {
		return appendCanonicalInt(out, int64(f)) // -0 becomes 0
	}
	bits := math.Float64bits(f)
	if math.IsNaN(f) {
		bits = 0x7ff8000000000000
	}
	return appendBE(append(out, msgpcode.Double), bits, 8)
}

// appendHeader writes an array (fix 0x90) or map (fix 0x80) header.
func appendHeader(out []byte, fix, w16 byte, n int) []byte {
	switch {
	case n < 16:
		return append(out, fix|byte(n))
	case n <= math.MaxUint16:
		return appendBE(append(out, w16), uint64(n), 2)
	}
	return appendBE(append(out, w16+1), uint64(n), 4)
}

func appendStr(out, s []byte) []byte {
	n := uint64(len(s))
	switch {
	case n < 32:
		out = append(out, 0xa0|byte(n))
	case n <= math.MaxUint8:
		out = appendBE(append(out, msgpcode.Str8), n, 1)
	case n <= math.MaxUint16:
		out = appendBE(append(out, msgpcode.Str16), n, 2)
	default:
		out = appendBE(append(out, msgpcode.Str32), n, 4)
	}
	return append(out, s...)
}

func appendBin(out, s []byte) []byte {
	n := uint64(len(s))
	switch {
	case n <= math.MaxUint8:
		out = appendBE(append(out, msgpcode.Bin8), n, 1)
	case n <= math.MaxUint16:
		out = appendBE(append(out, msgpcode.Bin16), n, 2)
	default:
		out = appendBE(append(out, msgpcode.Bin32), n, 4)
	}
	return append(out, s...)
}
