package protocol

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// fieldCount is the length of each message's msgpack array, type tag
// included. Decode requires exactly this many elements: a later version that
// adds a field also raises Version. A Hello's count depends on its
// version: helloFieldCount.
var fieldCount = [...]int{
	TypeHello:     6,
	TypeWelcome:   3,
	TypeUpdate:    3,
	TypeAck:       2,
	TypePresence:  2,
	TypeError:     4,
	TypeHeartbeat: 2,
	TypePatch:     4, // 5 with a seq
}

// helloFieldCount returns the element count of a Hello of version v: a
// Hello of version 2 or 3 adds the heartbeat interval, one of version 4
// or 5 the document format too. Hellos of versions this package does not speak
// are encoded in the layout of version 1.
func helloFieldCount(v uint64) int {
	switch {
	case hasFormat(v):
		return 8
	case hasHeartbeat(v):
		return 7
	}
	return 6
}

// hasHeartbeat reports whether a Hello of version v carries the heartbeat
// interval: versions 2 to 5 do.
func hasHeartbeat(v uint64) bool { return v >= 2 && v <= 5 }

// hasFormat reports whether a Hello of version v carries the document
// format its client reads: versions 4 and 5 do.
func hasFormat(v uint64) bool { return v == 4 || v == 5 }

var encoderPool = sync.Pool{New: func() any {
	var b bytes.Buffer
	return &pooledEncoder{buf: &b, enc: msgpack.NewEncoder(&b)}
}}

type pooledEncoder struct {
	buf *bytes.Buffer
	enc *msgpack.Encoder
}

// maxPooledBytes is the largest buffer Encode keeps for reuse: a
// Welcome can be tens of megabytes, and a pool must not pin that much.
const maxPooledBytes = 64 << 10

// Encode returns the wire form of m: one msgpack array whose first element
// is m's type tag (PROTOCOL.md). It returns an error wrapping
// ErrInvalidMessage if m breaks a limit, so that a peer would reject it.
func Encode(m Message) ([]byte, error) {
	if err := check(m); err != nil {
		return nil, err
	}
	p := encoderPool.Get().(*pooledEncoder)
	defer func() {
		if p.buf.Cap() <= maxPooledBytes {
			encoderPool.Put(p)
		}
	}()
	p.buf.Reset()
	e := p.enc
	// Writes to a bytes.Buffer cannot fail, so the encoder's errors are
	// not checked one by one.
	n := fieldCount[m.Type()]
	switch m := m.(type) {
	case *Hello:
		n = helloFieldCount(m.Version)
	case *Patch:
		if m.Seq > 0 {
			n++
		}
	}
	_ = e.EncodeArrayLen(n)
	_ = e.EncodeUint(uint64(m.Type()))
	switch m := m.(type) {
	case *Hello:
		_ = e.EncodeUint(m.Version)
		_ = e.EncodeString(m.Room)
		_ = e.EncodeUint(m.Client)
		_ = e.EncodeString(m.Token)
		_ = e.EncodeBytes(nonNil(m.StateVector))
		if hasHeartbeat(m.Version) {
			_ = e.EncodeUint(m.HeartbeatMillis)
		}
		if hasFormat(m.Version) {
			_ = e.EncodeUint(m.ReadsFormat())
		}
	case *Welcome:
		_ = e.EncodeBytes(nonNil(m.StateVector))
		_ = e.EncodeBytes(nonNil(m.Update))
	case *Update:
		_ = e.EncodeUint(m.Seq)
		_ = e.EncodeArrayLen(len(m.Updates))
		for _, u := range m.Updates {
			_ = e.EncodeBytes(nonNil(u))
		}
	case *Ack:
		_ = e.EncodeUint(m.Seq)
	case *Presence:
		_ = e.EncodeArrayLen(len(m.Entries))
		for _, p := range m.Entries {
			_ = e.EncodeArrayLen(2)
			_ = e.EncodeUint(p.Client)
			_ = e.EncodeBytes(nonNil(p.State))
		}
	case *Error:
		_ = e.EncodeUint(uint64(m.Code))
		_ = e.EncodeString(m.Message)
		_ = e.EncodeUint(m.Seq)
	case *Heartbeat:
		_ = e.EncodeUint(m.ID)
	case *Patch:
		_ = e.EncodeUint(m.Front)
		_ = e.EncodeUint(m.Back)
		_ = e.EncodeBytes(nonNil(m.Middle))
		if m.Seq > 0 {
			_ = e.EncodeUint(m.Seq)
		}
	}
	return bytes.Clone(p.buf.Bytes()), nil
}

// nonNil maps nil to an empty slice, which the encoder writes as an empty
// bin rather than as msgpack nil.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// check returns an error if m breaks a rule that Decode enforces.
func check(m Message) error {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidMessage, fmt.Sprintf(format, args...))
	}
	if isNil(m) {
		return invalid("nil message")
	}
	switch m := m.(type) {
	case *Hello:
		spoken := m.Version >= MinVersion && m.Version <= Version
		switch {
		case spoken && !ValidRoom(m.Room):
			return invalid("room name %q", m.Room)
		case hasHeartbeat(m.Version) && !ValidHeartbeat(m.HeartbeatMillis):
			return invalid("heartbeat interval of %d ms: want 0 or %d to %d", m.HeartbeatMillis, MinHeartbeatMillis, MaxHeartbeatMillis)
		case !hasHeartbeat(m.Version) && m.HeartbeatMillis != 0:
			return invalid("a heartbeat interval in a hello of version %d: only versions 2 to 5 have one", m.Version)
		case m.Format > MaxFormat:
			return invalid("document format %d: at most %d", m.Format, MaxFormat)
		case !hasFormat(m.Version) && m.Format > 1:
			return invalid("document format %d in a hello of version %d: only versions 4 and 5 name one, older clients read format 1", m.Format, m.Version)
		case m.Client > MaxClientID:
			return invalid("client ID %d exceeds 2^53-1", m.Client)
		case len(m.Token) > MaxTokenBytes || !utf8.ValidString(m.Token):
			return invalid("token is not UTF-8 of at most %d bytes", MaxTokenBytes)
		}
	case *Presence:
		for _, p := range m.Entries {
			if p.Client > MaxClientID {
				return invalid("client ID %d exceeds 2^53-1", p.Client)
			}
			if len(p.State) > MaxPresenceBytes {
				return invalid("presence state of %d bytes", len(p.State))
			}
		}
	case *Error:
		if len(m.Message) > MaxErrorMessageBytes || !utf8.ValidString(m.Message) {
			return invalid("error message is not UTF-8 of at most %d bytes", MaxErrorMessageBytes)
		}
	case *Patch:
		if m.Front > MaxPatchKeep || m.Back > MaxPatchKeep {
			return invalid("a patch keeping %d and %d bytes of its base: at most %d each", m.Front, m.Back, MaxPatchKeep)
		}
	case *Welcome, *Update, *Ack, *Heartbeat:
	default:
		return invalid("unknown message %T", m)
	}
	return nil
}

// isNil reports whether m is nil or a nil pointer of one of the message
// types, which Encode rejects instead of dereferencing.
func isNil(m Message) bool {
	switch m := m.(type) {
	case nil:
		return true
	case *Hello:
		return m == nil
	case *Welcome:
		return m == nil
	case *Update:
		return m == nil
	case *Ack:
		return m == nil
	case *Presence:
		return m == nil
	case *Error:
		return m == nil
	case *Heartbeat:
		return m == nil
	case *Patch:
		return m == nil
	}
	return false
}

var decoderPool = sync.Pool{New: func() any {
	d := &decoder{}
	d.dec = msgpack.NewDecoder(&d.br)
	return d
}}

// Decode parses one message from b. It never panics: bytes that are not a
// message of a known type, in the exact shape and within the limits of
// PROTOCOL.md, give a *DecodeError (wrapping ErrUnknownType for an unknown
// tag). The returned message does not share memory with b.
//
// A Hello of another protocol version decodes as far as its version only,
// so that a server can answer it with CodeUnsupportedVersion: its other
// fields are left empty.
func Decode(b []byte) (Message, error) {
	d := decoderPool.Get().(*decoder)
	defer func() {
		// Do not let the pool pin the caller's buffer.
		d.src = nil
		d.br.Reset(nil)
		decoderPool.Put(d)
	}()
	d.src = b
	d.br.Reset(b)
	d.dec.Reset(&d.br)
	m, err := d.message()
	if err != nil {
		return nil, err
	}
	if d.br.Len() > 0 {
		return nil, d.fail("%d bytes after the message", d.br.Len())
	}
	return m, nil
}

// decoder reads msgpack from src through the library's Decoder, checking
// every header itself first so that only the exact types of the spec pass
// (the Decoder would take nil for 0, or a negative number for a uint).
type decoder struct {
	src []byte
	br  bytes.Reader
	dec *msgpack.Decoder
}

func (d *decoder) message() (Message, error) {
	n, err := d.arrayLen(1)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, d.fail("empty array")
	}
	at := d.offset()
	tag, err := d.uint()
	if err != nil {
		return nil, err
	}
	if tag >= uint64(len(fieldCount)) {
		return nil, &DecodeError{Offset: at, Msg: fmt.Sprintf("unknown message type %d", tag), Err: ErrUnknownType}
	}
	t := Type(tag)
	if t == TypeHello && n >= 2 {
		v, err := d.uint()
		if err != nil {
			return nil, err
		}
		if v < MinVersion || v > Version {
			// Whatever follows belongs to that version's format.
			_, _ = d.br.Seek(0, io.SeekEnd)
			return &Hello{Version: v}, nil
		}
		if want := helloFieldCount(v); n != want {
			return nil, d.fail("a version %d hello has %d elements, want %d", v, n, want)
		}
		return d.helloFields(v)
	}
	if t == TypePatch {
		if n != 4 && n != 5 {
			return nil, d.fail("patch has %d elements, want 4, or 5 with a seq", n)
		}
		return d.patch(n == 5)
	}
	if n != fieldCount[t] {
		return nil, d.fail("%s has %d elements, want %d", t, n, fieldCount[t])
	}
	switch t {
	case TypeWelcome:
		m := &Welcome{}
		if m.StateVector, err = d.bin(-1); err != nil {
			return nil, err
		}
		if m.Update, err = d.bin(-1); err != nil {
			return nil, err
		}
		return m, nil
	case TypeUpdate:
		m := &Update{}
		if m.Seq, err = d.uint(); err != nil {
			return nil, err
		}
		n, err := d.arrayLen(minBinBytes)
		if err != nil {
			return nil, err
		}
		m.Updates = make([][]byte, n)
		for i := range m.Updates {
			if m.Updates[i], err = d.bin(-1); err != nil {
				return nil, err
			}
		}
		return m, nil
	case TypeAck:
		m := &Ack{}
		if m.Seq, err = d.uint(); err != nil {
			return nil, err
		}
		return m, nil
	case TypePresence:
		return d.presence()
	case TypeHeartbeat:
		m := &Heartbeat{}
		if m.ID, err = d.uint(); err != nil {
			return nil, err
		}
		return m, nil
	default: // TypeError
		m := &Error{}
		code, err := d.uint()
		if err != nil {
			return nil, err
		}
		if code > 0xffff {
			return nil, d.fail("error code %d out of range", code)
		}
		m.Code = Code(code)
		if m.Message, err = d.str(MaxErrorMessageBytes); err != nil {
			return nil, err
		}
		if m.Seq, err = d.uint(); err != nil {
			return nil, err
		}
		return m, nil
	}
}

// patch reads the fields of a Patch after its tag; withSeq says the
// array has the fifth element.
func (d *decoder) patch(withSeq bool) (*Patch, error) {
	m := &Patch{}
	var err error
	for _, f := range []*uint64{&m.Front, &m.Back} {
		at := d.offset()
		if *f, err = d.uint(); err != nil {
			return nil, err
		}
		if *f > MaxPatchKeep {
			return nil, &DecodeError{Offset: at, Msg: fmt.Sprintf("a patch keeping %d bytes of its base: at most %d", *f, MaxPatchKeep)}
		}
	}
	if m.Middle, err = d.bin(-1); err != nil {
		return nil, err
	}
	if withSeq {
		at := d.offset()
		if m.Seq, err = d.uint(); err != nil {
			return nil, err
		}
		if m.Seq == 0 {
			// 0 is written by leaving the seq out: one message, one form.
			return nil, &DecodeError{Offset: at, Msg: "a patch's seq is 0: leave it out"}
		}
	}
	return m, nil
}

// helloFields reads the fields of a Hello after its version.
func (d *decoder) helloFields(version uint64) (*Hello, error) {
	m := &Hello{Version: version}
	var err error
	at := d.offset()
	if m.Room, err = d.str(MaxRoomBytes); err != nil {
		return nil, err
	}
	if !ValidRoom(m.Room) {
		return nil, &DecodeError{Offset: at, Msg: fmt.Sprintf("invalid room name %q", m.Room)}
	}
	at = d.offset()
	if m.Client, err = d.uint(); err != nil {
		return nil, err
	}
	if m.Client > MaxClientID {
		return nil, &DecodeError{Offset: at, Msg: fmt.Sprintf("client ID %d exceeds 2^53-1", m.Client)}
	}
	if m.Token, err = d.str(MaxTokenBytes); err != nil {
		return nil, err
	}
	if m.StateVector, err = d.bin(-1); err != nil {
		return nil, err
	}
	if hasHeartbeat(version) {
		at = d.offset()
		if m.HeartbeatMillis, err = d.uint(); err != nil {
			return nil, err
		}
		if !ValidHeartbeat(m.HeartbeatMillis) {
			return nil, &DecodeError{Offset: at, Msg: fmt.Sprintf("heartbeat interval of %d ms: want 0 or %d to %d", m.HeartbeatMillis, MinHeartbeatMillis, MaxHeartbeatMillis)}
		}
	}
	if hasFormat(version) {
		at = d.offset()
		if m.Format, err = d.uint(); err != nil {
			return nil, err
		}
		if m.Format < 1 || m.Format > MaxFormat {
			return nil, &DecodeError{Offset: at, Msg: fmt.Sprintf("document format %d: want 1 to %d", m.Format, MaxFormat)}
		}
	}
	return m, nil
}

// ValidHeartbeat reports whether ms is a heartbeat interval a version 2
// Hello may carry: 0 (no heartbeat), or MinHeartbeatMillis to
// MaxHeartbeatMillis.
func ValidHeartbeat(ms uint64) bool {
	return ms == 0 || ms >= MinHeartbeatMillis && ms <= MaxHeartbeatMillis
}

func (d *decoder) presence() (*Presence, error) {
	n, err := d.arrayLen(minEntryBytes)
	if err != nil {
		return nil, err
	}
	m := &Presence{Entries: make([]PresenceEntry, n)}
	for i := range m.Entries {
		p := &m.Entries[i]
		k, err := d.arrayLen(1)
		if err != nil {
			return nil, err
		}
		if k != 2 {
			return nil, d.fail("presence entry has %d elements, want 2", k)
		}
		at := d.offset()
		if p.Client, err = d.uint(); err != nil {
			return nil, err
		}
		if p.Client > MaxClientID {
			return nil, &DecodeError{Offset: at, Msg: fmt.Sprintf("client ID %d exceeds 2^53-1", p.Client)}
		}
		if p.State, err = d.bin(MaxPresenceBytes); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (d *decoder) offset() int { return len(d.src) - d.br.Len() }

func (d *decoder) fail(format string, args ...any) error {
	return &DecodeError{Offset: d.offset(), Msg: fmt.Sprintf(format, args...)}
}

// peek returns the next msgpack type code without consuming it.
func (d *decoder) peek() (byte, error) {
	c, err := d.dec.PeekCode()
	if err != nil {
		return 0, d.fail("unexpected end of input")
	}
	return c, nil
}

// The fewest bytes an element can take: a bin is at least "c4 00", a
// presence entry at least "92 00 c4 00".
const (
	minBinBytes   = 2
	minEntryBytes = 4
)

// arrayLen reads an array header of elements that take at least minSize
// bytes each, so that a length the bytes left cannot hold is rejected
// before anything is allocated for it.
func (d *decoder) arrayLen(minSize int) (int, error) {
	c, err := d.peek()
	if err != nil {
		return 0, err
	}
	if !msgpcode.IsFixedArray(c) && c != msgpcode.Array16 && c != msgpcode.Array32 {
		return 0, d.fail("expected an array, found code 0x%02x", c)
	}
	start := d.offset()
	n, err := d.dec.DecodeArrayLen()
	if err != nil {
		return 0, &DecodeError{Offset: start, Msg: "truncated array header"}
	}
	if n > d.br.Len()/minSize {
		return 0, &DecodeError{Offset: start, Msg: fmt.Sprintf("array of %d elements cannot fit in %d bytes", n, d.br.Len())}
	}
	return n, nil
}

// uint reads an unsigned integer in any of msgpack's unsigned forms.
func (d *decoder) uint() (uint64, error) {
	c, err := d.peek()
	if err != nil {
		return 0, err
	}
	if c > msgpcode.PosFixedNumHigh && (c < msgpcode.Uint8 || c > msgpcode.Uint64) {
		return 0, d.fail("expected an unsigned integer, found code 0x%02x", c)
	}
	v, err := d.dec.DecodeUint64()
	if err != nil {
		return 0, d.fail("truncated integer")
	}
	return v, nil
}

// str reads a UTF-8 string of at most max bytes.
func (d *decoder) str(max int) (string, error) {
	c, err := d.peek()
	if err != nil {
		return "", err
	}
	if !msgpcode.IsFixedString(c) && (c < msgpcode.Str8 || c > msgpcode.Str32) {
		return "", d.fail("expected a string, found code 0x%02x", c)
	}
	at := d.offset()
	b, err := d.payload(max)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return "", &DecodeError{Offset: at, Msg: "string is not valid UTF-8"}
	}
	return string(b), nil
}

// bin reads a byte string of at most max bytes (no limit when max < 0)
// and returns a copy of it.
func (d *decoder) bin(max int) ([]byte, error) {
	c, err := d.peek()
	if err != nil {
		return nil, err
	}
	if c < msgpcode.Bin8 || c > msgpcode.Bin32 {
		return nil, d.fail("expected a byte string, found code 0x%02x", c)
	}
	b, err := d.payload(max)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(b), nil
}

// payload reads the header of a str or bin and returns its bytes, a view
// of src. Its errors are at the offset of the header.
func (d *decoder) payload(max int) ([]byte, error) {
	start := d.offset()
	fail := func(format string, args ...any) error {
		return &DecodeError{Offset: start, Msg: fmt.Sprintf(format, args...)}
	}
	n, err := d.dec.DecodeBytesLen()
	if err != nil {
		return nil, fail("truncated length")
	}
	if max >= 0 && n > max {
		return nil, fail("%d bytes, at most %d allowed", n, max)
	}
	if n > d.br.Len() {
		return nil, fail("%d bytes announced, %d left", n, d.br.Len())
	}
	at := d.offset()
	_, _ = d.br.Seek(int64(n), 1)
	return d.src[at : at+n], nil
}
