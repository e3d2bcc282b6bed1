package crdt

import (
	"fmt"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// reader decodes the msgpack values of updates and state vectors from a
// byte slice. Their headers (arrays, maps, unsigned integers, str and bin)
// are read here, straight from the slice: an update holds a dozen of them,
// and reading them through the Decoder's interface calls cost as much as
// integrating the update. The scalars inside map values are skipped by
// their headers too. Byte and string payloads are returned as
// sub-slices of the input, so decoding copies nothing.
type reader struct {
	buf []byte
	pos int
}

func (r *reader) reset(b []byte) {
	r.buf, r.pos = b, 0
}

func (r *reader) offset() int { return r.pos }

func (r *reader) errorf(format string, args ...any) error {
	return &DecodeError{Offset: r.pos, Msg: fmt.Sprintf(format, args...)}
}

// next returns the next byte.
func (r *reader) next() (byte, error) {
	if r.pos >= len(r.buf) {
		return 0, r.errorf("unexpected end of input")
	}
	c := r.buf[r.pos]
	r.pos++
	return c, nil
}

// bigEndian reads an n-byte big-endian unsigned integer.
func (r *reader) bigEndian(n int) (uint64, error) {
	if len(r.buf)-r.pos < n {
		return 0, r.errorf("unexpected end of input")
	}
	var v uint64
	for _, b := range r.buf[r.pos : r.pos+n] {
		v = v<<8 | uint64(b)
	}
	r.pos += n
	return v, nil
}

// count checks a length read from a header: it cannot exceed the bytes
// left, each element taking at least one.
func (r *reader) count(n uint64) (int, error) {
	if n > uint64(len(r.buf)-r.pos) {
		return 0, r.errorf("length %d exceeds the remaining %d bytes", n, len(r.buf)-r.pos)
	}
	return int(n), nil
}

// arrayOrMapLen reads an array header (or a map header when isMap is set).
func (r *reader) arrayOrMapLen(isMap bool) (int, error) {
	c, err := r.next()
	if err != nil {
		return 0, err
	}
	fix, w16, w32, what := byte(0x90), msgpcode.Array16, msgpcode.Array32, "an array"
	if isMap {
		fix, w16, w32, what = 0x80, msgpcode.Map16, msgpcode.Map32, "a map"
	}
	var n uint64
	switch {
	case c&0xf0 == fix:
		n = uint64(c & 0x0f)
	case c == w16:
		n, err = r.bigEndian(2)
	case c == w32:
		n, err = r.bigEndian(4)
	default:
		r.pos--
		return 0, r.errorf("expected %s, found code 0x%02x", what, c)
	}
	if err != nil {
		return 0, err
	}
	return r.count(n)
}

// arrayLen reads an array header. The fixarray test is kept small enough
// to be inlined: it is most of the headers of an update.
func (r *reader) arrayLen() (int, error) {
	if r.pos < len(r.buf) {
		if c := r.buf[r.pos]; c&0xf0 == 0x90 && int(c&0x0f) < len(r.buf)-r.pos {
			r.pos++
			return int(c & 0x0f), nil
		}
	}
	return r.arrayOrMapLen(false)
}

// tuple reads an array header that must have n elements; what describes
// the expected value for the error.
func (r *reader) tuple(n int, what string) error {
	k, err := r.arrayLen()
	if err != nil {
		return err
	}
	if k != n {
		return r.errorf("expected %s, found an array of %d", what, k)
	}
	return nil
}

// uint reads an unsigned integer no larger than limit, with an inlined
// test for the one-byte form.
func (r *reader) uint(limit uint64) (uint64, error) {
	if r.pos < len(r.buf) {
		if c := r.buf[r.pos]; c <= msgpcode.PosFixedNumHigh && uint64(c) <= limit {
			r.pos++
			return uint64(c), nil
		}
	}
	return r.uintSlow(limit)
}

func (r *reader) uintSlow(limit uint64) (uint64, error) {
	c, err := r.next()
	if err != nil {
		return 0, err
	}
	var v uint64
	switch {
	case c <= msgpcode.PosFixedNumHigh:
		v = uint64(c)
	case c == msgpcode.Uint8:
		v, err = r.bigEndian(1)
	case c == msgpcode.Uint16:
		v, err = r.bigEndian(2)
	case c == msgpcode.Uint32:
		v, err = r.bigEndian(4)
	case c == msgpcode.Uint64:
		v, err = r.bigEndian(8)
	default:
		r.pos--
		return 0, r.errorf("expected an unsigned integer, found code 0x%02x", c)
	}
	if err != nil {
		return 0, err
	}
	if v > limit {
		return 0, r.errorf("integer %d exceeds %d", v, limit)
	}
	return v, nil
}

func (r *reader) clientID() (ClientID, error) {
	v, err := r.uint(uint64(MaxClientID))
	return ClientID(v), err
}

// raw reads a str (wantStr) or bin header and returns its payload.
func (r *reader) raw(wantStr bool) ([]byte, error) {
	c, err := r.next()
	if err != nil {
		return nil, err
	}
	var n uint64
	switch {
	case wantStr && c&0xe0 == 0xa0: // fixstr
		n = uint64(c & 0x1f)
	case wantStr && c == msgpcode.Str8, !wantStr && c == msgpcode.Bin8:
		n, err = r.bigEndian(1)
	case wantStr && c == msgpcode.Str16, !wantStr && c == msgpcode.Bin16:
		n, err = r.bigEndian(2)
	case wantStr && c == msgpcode.Str32, !wantStr && c == msgpcode.Bin32:
		n, err = r.bigEndian(4)
	default:
		r.pos--
		what := "binary"
		if wantStr {
			what = "a string"
		}
		return nil, r.errorf("expected %s, found code 0x%02x", what, c)
	}
	if err != nil {
		return nil, err
	}
	k, err := r.count(n)
	if err != nil {
		return nil, err
	}
	b := r.buf[r.pos : r.pos+k : r.pos+k]
	r.pos += k
	return b, nil
}

// str reads a msgpack str that must be valid UTF-8.
func (r *reader) str() ([]byte, error) {
	b, err := r.raw(true)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(b) {
		return nil, &DecodeError{Offset: r.pos - len(b), Msg: "string is not valid UTF-8"}
	}
	return b, nil
}

// value reads one complete msgpack value of any type and returns its
// bytes. The library's Skip recurses into arrays and maps with no bound, so
// containers are walked here, by their headers, and only scalars go to Skip.
func (r *reader) value() ([]byte, error) {
	off := r.pos
	// left[i] counts the values still to read at depth i.
	left := make([]int, 1, 8)
	left[0] = 1
	for len(left) > 0 {
		if left[len(left)-1] == 0 {
			left = left[:len(left)-1]
			continue
		}
		left[len(left)-1]--
		if r.pos >= len(r.buf) {
			return nil, r.errorf("unexpected end of input")
		}
		n := -1
		var err error
		switch c := r.buf[r.pos]; {
		case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
			n, err = r.arrayOrMapLen(false)
		case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
			n, err = r.arrayOrMapLen(true)
			n *= 2
		default:
			err = r.skipScalar()
		}
		if err != nil {
			return nil, err
		}
		if n < 0 {
			continue
		}
		if n > len(r.buf)-r.pos {
			return nil, r.errorf("length %d exceeds the remaining %d bytes", n, len(r.buf)-r.pos)
		}
		if len(left) >= maxValueDepth {
			return nil, r.errorf("value nested deeper than %d levels", maxValueDepth)
		}
		left = append(left, n)
	}
	return r.buf[off:r.pos:r.pos], nil
}

// skipScalar skips one value that is not an array or a map. Lengths are
// checked against the bytes left before anything is skipped, so a header
// claiming gigabytes costs nothing (the msgpack Decoder's Skip reads such
// payloads into buffers as it goes).
func (r *reader) skipScalar() error {
	c, err := r.next()
	if err != nil {
		return err
	}
	var n uint64 // payload bytes after the header
	switch {
	case c <= msgpcode.PosFixedNumHigh || c >= 0xe0, // fixints
		c == msgpcode.Nil, c == msgpcode.False, c == msgpcode.True:
	case c&0xe0 == 0xa0: // fixstr
		n = uint64(c & 0x1f)
	case c == msgpcode.Uint8, c == msgpcode.Int8:
		n = 1
	case c == msgpcode.Uint16, c == msgpcode.Int16:
		n = 2
	case c == msgpcode.Uint32, c == msgpcode.Int32, c == msgpcode.Float:
		n = 4
	case c == msgpcode.Uint64, c == msgpcode.Int64, c == msgpcode.Double:
		n = 8
	case c == msgpcode.FixExt1, c == msgpcode.FixExt2, c == msgpcode.FixExt4,
		c == msgpcode.FixExt8, c == msgpcode.FixExt16:
		n = 1 + 1<<(c-msgpcode.FixExt1) // type byte and 1, 2, 4, 8 or 16 bytes
	case c == msgpcode.Str8, c == msgpcode.Bin8:
		n, err = r.bigEndian(1)
	case c == msgpcode.Str16, c == msgpcode.Bin16:
		n, err = r.bigEndian(2)
	case c == msgpcode.Str32, c == msgpcode.Bin32:
		n, err = r.bigEndian(4)
	case c == msgpcode.Ext8:
		n, err = r.bigEndian(1)
		n++ // the type byte
	case c == msgpcode.Ext16:
		n, err = r.bigEndian(2)
		n++
	case c == msgpcode.Ext32:
		n, err = r.bigEndian(4)
		n++
	default:
		r.pos--
		return r.errorf("invalid msgpack code 0x%02x", c)
	}
	if err != nil {
		return err
	}
	if n > uint64(len(r.buf)-r.pos) {
		return r.errorf("length %d exceeds the remaining %d bytes", n, len(r.buf)-r.pos)
	}
	r.pos += int(n)
	return nil
}

// maxValueDepth bounds the nesting of map values.
const maxValueDepth = 64

// checkValue reports whether b is exactly one msgpack value that a decoder
// of updates accepts.
func checkValue(b []byte) error {
	var r reader
	r.reset(b)
	if _, err := r.value(); err != nil {
		return err
	}
	return r.end()
}

func (r *reader) end() error {
	if r.pos != len(r.buf) {
		return r.errorf("%d trailing bytes", len(r.buf)-r.pos)
	}
	return nil
}

// varReader reads unsigned LEB128 varints from a bin column.
type varReader struct {
	b   []byte
	pos int
	// base is the column's offset in the whole input, for error offsets.
	base int
}

func (v *varReader) more() bool { return v.pos < len(v.b) }

func (v *varReader) errorf(format string, args ...any) error {
	return &DecodeError{Offset: v.base + v.pos, Msg: fmt.Sprintf(format, args...)}
}

// next reads one varint no larger than limit.
func (v *varReader) next(limit uint64) (uint64, error) {
	var x uint64
	var shift uint
	for i := 0; ; i++ {
		if v.pos >= len(v.b) {
			return 0, v.errorf("truncated varint")
		}
		c := v.b[v.pos]
		v.pos++
		if i == 9 && c > 1 || i > 9 {
			return 0, v.errorf("varint overflows 64 bits")
		}
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			if i > 0 && c == 0 {
				return 0, v.errorf("varint is not minimally encoded")
			}
			break
		}
		shift += 7
	}
	if x > limit {
		return 0, v.errorf("value %d exceeds %d", x, limit)
	}
	return x, nil
}

// appendVar appends x as an unsigned LEB128 varint.
func appendVar(b []byte, x uint64) []byte {
	for x >= 0x80 {
		b = append(b, byte(x)|0x80)
		x >>= 7
	}
	return append(b, byte(x))
}
