package crdt

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// reader decodes msgpack values from a byte slice with the msgpack
// Decoder's primitives. Byte and string payloads are returned as sub-slices
// of the input, so decoding an update copies nothing.
type reader struct {
	buf []byte
	br  bytes.Reader
	dec *msgpack.Decoder
}

func (r *reader) reset(b []byte) {
	r.buf = b
	r.br.Reset(b)
	if r.dec == nil {
		// bytes.Reader is an io.ByteScanner, so the decoder reads from it
		// directly and never buffers ahead of the offset we track.
		r.dec = msgpack.NewDecoder(&r.br)
	} else {
		r.dec.ResetReader(&r.br)
	}
}

func (r *reader) offset() int { return len(r.buf) - r.br.Len() }

func (r *reader) errorf(format string, args ...any) error {
	return &DecodeError{Offset: r.offset(), Msg: fmt.Sprintf(format, args...)}
}

func (r *reader) wrap(err error) error {
	return &DecodeError{Offset: r.offset(), Msg: err.Error()}
}

// arrayOrMapLen reads an array header (or a map header when isMap is set)
// and rejects lengths that could not fit in the remaining input.
func (r *reader) arrayOrMapLen(isMap bool) (int, error) {
	var n int
	var err error
	if c, ok := r.fast(); ok && !isMap && c >= 0x90 && c <= 0x9f {
		// fixarray: the common case, read without a call into the decoder.
		r.skip(1)
		n = int(c & 0x0f)
	} else if isMap {
		n, err = r.dec.DecodeMapLen()
	} else {
		n, err = r.dec.DecodeArrayLen()
	}
	if err != nil {
		return 0, r.wrap(err)
	}
	if n < 0 {
		return 0, r.errorf("unexpected nil")
	}
	if n > r.br.Len() {
		return 0, r.errorf("length %d exceeds the remaining %d bytes", n, r.br.Len())
	}
	return n, nil
}

func (r *reader) arrayLen() (int, error) { return r.arrayOrMapLen(false) }

// fast returns the next byte when there is one. The single-byte forms of
// msgpack (fixint, fixarray, fixstr) make up most of an update; reading
// them here instead of through the Decoder's interface calls halves the
// cost of decoding a small update. Every other form goes through the
// Decoder.
func (r *reader) fast() (byte, bool) {
	off := r.offset()
	if off >= len(r.buf) {
		return 0, false
	}
	return r.buf[off], true
}

// skip consumes n bytes that fast has looked at.
func (r *reader) skip(n int) { _, _ = r.br.Seek(int64(n), 1) }

// peek returns the type code of the next value without consuming it.
func (r *reader) peek() (byte, error) {
	off := r.offset()
	if off >= len(r.buf) {
		return 0, r.errorf("unexpected end of input")
	}
	return r.buf[off], nil
}

// uint reads an unsigned integer no larger than limit.
func (r *reader) uint(limit uint64) (uint64, error) {
	c, err := r.peek()
	if err != nil {
		return 0, err
	}
	if c <= msgpcode.PosFixedNumHigh {
		r.skip(1)
		if uint64(c) > limit {
			return 0, r.errorf("integer %d exceeds %d", c, limit)
		}
		return uint64(c), nil
	}
	if c != msgpcode.Uint8 && c != msgpcode.Uint16 && c != msgpcode.Uint32 && c != msgpcode.Uint64 {
		return 0, r.errorf("expected an unsigned integer, found code 0x%02x", c)
	}
	v, err := r.dec.DecodeUint64()
	if err != nil {
		return 0, r.wrap(err)
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

// raw reads a str or bin header and returns its payload as a sub-slice.
func (r *reader) raw(wantStr bool) ([]byte, error) {
	c, err := r.peek()
	if err != nil {
		return nil, err
	}
	isStr := msgpcode.IsFixedString(c) || c == msgpcode.Str8 || c == msgpcode.Str16 || c == msgpcode.Str32
	isBin := c == msgpcode.Bin8 || c == msgpcode.Bin16 || c == msgpcode.Bin32
	if wantStr && !isStr || !wantStr && !isBin {
		return nil, r.errorf("expected %s, found code 0x%02x", map[bool]string{true: "a string", false: "binary"}[wantStr], c)
	}
	var n int
	if c >= 0xa0 && c <= 0xbf { // fixstr
		r.skip(1)
		n = int(c & 0x1f)
	} else if n, err = r.dec.DecodeBytesLen(); err != nil {
		return nil, r.wrap(err)
	}
	if n > r.br.Len() {
		return nil, r.errorf("length %d exceeds the remaining %d bytes", n, r.br.Len())
	}
	off := r.offset()
	if _, err := r.br.Seek(int64(n), 1); err != nil {
		return nil, r.wrap(err)
	}
	return r.buf[off : off+n : off+n], nil
}

// str reads a msgpack str that must be valid UTF-8.
func (r *reader) str() ([]byte, error) {
	b, err := r.raw(true)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(b) {
		return nil, r.errorf("string is not valid UTF-8")
	}
	return b, nil
}

// value reads one complete msgpack value of any type and returns its bytes.
// The library's Skip recurses into arrays and maps with no bound, so
// values are walked here instead: containers by their headers, scalars
// through Skip, which does not recurse for them.
func (r *reader) value() ([]byte, error) {
	off := r.offset()
	// left[i] counts the values still to read at depth i.
	left := make([]int, 1, 8)
	left[0] = 1
	for len(left) > 0 {
		if left[len(left)-1] == 0 {
			left = left[:len(left)-1]
			continue
		}
		left[len(left)-1]--
		c, err := r.peek()
		if err != nil {
			return nil, err
		}
		n := -1
		switch {
		case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
			n, err = r.dec.DecodeArrayLen()
		case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
			n, err = r.dec.DecodeMapLen()
			n *= 2
		default:
			err = r.dec.Skip()
		}
		if err != nil {
			return nil, r.wrap(err)
		}
		if n < 0 {
			continue
		}
		if n > r.br.Len() {
			return nil, r.errorf("length %d exceeds the remaining %d bytes", n, r.br.Len())
		}
		if len(left) >= maxValueDepth {
			return nil, r.errorf("value nested deeper than %d levels", maxValueDepth)
		}
		left = append(left, n)
	}
	end := r.offset()
	return r.buf[off:end:end], nil
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
	if r.br.Len() != 0 {
		return r.errorf("%d trailing bytes", r.br.Len())
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
