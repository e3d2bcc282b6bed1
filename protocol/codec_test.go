package protocol_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/flowstate/flowstate/protocol"
)

// manyUpdates returns n updates of one byte each.
func manyUpdates(n int) [][]byte {
	u := make([][]byte, n)
	for i := range u {
		u[i] = []byte{byte(i)}
	}
	return u
}

var roundTripTests = []struct {
	name string
	msg  protocol.Message
}{
	{"hello", &protocol.Hello{Version: 1, Room: "notes", Client: 42, Token: "tok", StateVector: []byte{0x81, 0x01, 0x02}}},
	{"hello/nil state vector", &protocol.Hello{Version: 1, Room: "r", Client: 0}},
	{"hello/max", &protocol.Hello{Version: 1, Room: strings.Repeat("x", protocol.MaxRoomBytes), Client: protocol.MaxClientID,
		Token: strings.Repeat("t", protocol.MaxTokenBytes), StateVector: bytes.Repeat([]byte{1}, 1<<16+1)}},
	{"hello/unicode token", &protocol.Hello{Version: 1, Room: "a.b_c~d-e", Client: 7, Token: "jeton-é-👋", StateVector: []byte{0x80}}},
	{"hello/version 2", &protocol.Hello{Version: 2, Room: "notes", Client: 42, StateVector: []byte{0x80}, HeartbeatMillis: 10000}},
	{"hello/version 2 no heartbeat", &protocol.Hello{Version: 2, Room: "notes", Client: 42}},
	{"hello/version 2 shortest heartbeat", &protocol.Hello{Version: 2, Room: "r", HeartbeatMillis: protocol.MinHeartbeatMillis}},
	{"hello/version 3", &protocol.Hello{Version: 3, Room: "notes", Client: 42, StateVector: []byte{0x80}, HeartbeatMillis: 10000}},
	{"hello/version 4", &protocol.Hello{Version: 4, Room: "notes", Client: 42, StateVector: []byte{0x80}, HeartbeatMillis: 10000, Format: 2}},
	{"hello/version 4 format 1", &protocol.Hello{Version: 4, Room: "notes", Client: 42, Format: 1}},
	{"hello/version 4 largest format", &protocol.Hello{Version: 4, Room: "r", Format: protocol.MaxFormat}},
	{"hello/version 5", &protocol.Hello{Version: 5, Room: "notes", Client: 42, StateVector: []byte{0x80}, HeartbeatMillis: 10000, Format: 3}},
	{"hello/version 6", &protocol.Hello{Version: 6}},
	{"hello/version max uint64", &protocol.Hello{Version: math.MaxUint64}},
	{"welcome", &protocol.Welcome{StateVector: []byte{0x80}, Update: unhex(crdtEmpty)}},
	{"welcome/nil", &protocol.Welcome{}},
	{"welcome/bin32 update", &protocol.Welcome{StateVector: []byte{0x80}, Update: bytes.Repeat([]byte{0xab}, 1<<16+10)}},
	{"update", &protocol.Update{Seq: 1, Updates: [][]byte{unhex(crdtA1), unhex(crdtB1)}}},
	{"update/nil updates", &protocol.Update{Seq: 3}},
	{"update/empty updates", &protocol.Update{Seq: 3, Updates: [][]byte{}}},
	{"update/nil and empty elements", &protocol.Update{Seq: 4, Updates: [][]byte{nil, {}, {0}}}},
	{"update/array16", &protocol.Update{Seq: 5, Updates: manyUpdates(16)}},
	{"update/array32", &protocol.Update{Seq: 6, Updates: manyUpdates(1<<16 + 1)}},
	{"update/seq max uint64", &protocol.Update{Seq: math.MaxUint64, Updates: [][]byte{{1}}}},
	{"update/relay seq 0", &protocol.Update{Seq: 0, Updates: [][]byte{{1}, {2}}}},
	{"ack/0", &protocol.Ack{}},
	{"ack/127", &protocol.Ack{Seq: 127}},
	{"ack/128", &protocol.Ack{Seq: 128}},
	{"ack/max uint64", &protocol.Ack{Seq: math.MaxUint64}},
	{"presence", &protocol.Presence{Entries: []protocol.PresenceEntry{{Client: 2, State: unhex(stateBea)}}}},
	{"presence/nil entries", &protocol.Presence{}},
	{"presence/nil state", &protocol.Presence{Entries: []protocol.PresenceEntry{{Client: 2}}}},
	{"presence/max", &protocol.Presence{Entries: []protocol.PresenceEntry{
		{Client: protocol.MaxClientID, State: bytes.Repeat([]byte{0xc0}, protocol.MaxPresenceBytes)},
		{Client: 0, State: []byte{}},
	}}},
	{"error", &protocol.Error{Code: protocol.CodeInvalidUpdate, Message: "bad update", Seq: 9}},
	{"error/empty", &protocol.Error{}},
	{"error/max", &protocol.Error{Code: math.MaxUint16, Message: strings.Repeat("é", protocol.MaxErrorMessageBytes/2), Seq: math.MaxUint64}},
	{"heartbeat/0", &protocol.Heartbeat{}},
	{"heartbeat/max uint64", &protocol.Heartbeat{ID: math.MaxUint64}},
	{"patch", &protocol.Patch{Front: 17, Back: 1, Middle: []byte{1, 2, 3}}},
	{"patch/seq", &protocol.Patch{Front: 300, Back: 70000, Middle: []byte{9}, Seq: 5}},
	{"patch/nil middle", &protocol.Patch{}},
	{"patch/max", &protocol.Patch{Front: protocol.MaxPatchKeep, Back: protocol.MaxPatchKeep, Middle: bytes.Repeat([]byte{7}, 70000), Seq: math.MaxUint64}},
}

func TestRoundTrip(t *testing.T) {
	for _, tt := range roundTripTests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := protocol.Encode(tt.msg)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if b[0]&0xf0 != 0x90 || b[1] != byte(tt.msg.Type()) {
				t.Errorf("encoding starts % x, want a fixarray and tag %d", b[:2], tt.msg.Type())
			}
			got, err := protocol.Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got.Type() != tt.msg.Type() {
				t.Fatalf("Decode gave a %s, want a %s", got.Type(), tt.msg.Type())
			}
			if !equalMessages(got, tt.msg) {
				t.Errorf("Decode(Encode(m)) = %.300v\nwant %.300v", got, tt.msg)
			}
			again, err := protocol.Encode(got)
			if err != nil {
				t.Fatalf("re-Encode: %v", err)
			}
			if !bytes.Equal(again, b) {
				t.Errorf("re-encoding differs:\n%x\n%x", again, b)
			}
		})
	}
}

// TestDecodeCopies checks that a decoded message does not share memory with
// its input, which the caller may reuse.
func TestDecodeCopies(t *testing.T) {
	for _, v := range messageVectors {
		b, err := protocol.Encode(v.msg)
		if err != nil {
			t.Fatal(err)
		}
		m, err := protocol.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		for i := range b {
			b[i] = 0xee
		}
		if !equalMessages(m, v.msg) {
			t.Errorf("%s: overwriting the input changed the message to %v", v.name, m)
		}
	}
}

// TestEncodeFresh checks that Encode's result is not reused by later calls.
func TestEncodeFresh(t *testing.T) {
	a, _ := protocol.Encode(&protocol.Ack{Seq: 1})
	_, _ = protocol.Encode(&protocol.Ack{Seq: 2})
	if hex.EncodeToString(a) != "920301" {
		t.Errorf("first result changed to %x", a)
	}
}

var decodeErrorTests = []struct {
	name string
	in   []byte
}{
	{"nil input", nil},
	{"truncated hello", unhex("960001a56e6f74")},
	{"truncated str8 header", unhex("960001d9")},
	{"truncated bin16 header", unhex("9301c501")},
	{"truncated array16 header", unhex("dc00")},
	{"truncated array32 header", unhex("930201dd0000")},
	{"truncated uint64", unhex("9203cf00000000")},
	{"truncated presence entry", unhex("9204919202")},
	{"trailing nil", unhex("920301c0")},
	{"update wrong count", unhex("9202019090")},
	{"presence wrong count", unhex("930490c0")},
	{"update seq float32", unhex("9302ca3f80000090")},
	{"update seq int16", unhex("9302d1000190")},
	{"update seq negative int64", unhex("9302d3ffffffffffffffff90")},
	{"update element str", unhex("930201" + "91a3616263")},
	{"update element nil", unhex("930201" + "91c0")},
	{"update element uint", unhex("930201" + "9101")},
	{"updates array too long for its bins", unhex("930201" + "93c400c400")}, // 3 bins announced, 2 present
	{"presence entries too long", unhex("920493" + "9202c400")},
	{"presence state str", unhex("920491" + "9202a0")},
	{"presence client negative", unhex("920491" + "92ffc400")},
	{"presence entry not array", unhex("920491" + "02")},
	{"welcome ext type", unhex("9301d40000c400")},
	{"error code nil", unhex("9405c0a000")},
	{"error message bin", unhex("9405cd0fa4c40000")},
	{"error seq negative", unhex("9405cd0fa4a0ff")},
	{"hello room 129 a's", unhex("960001d981" + strings.Repeat("61", 129) + "02a0c40180")},
	{"hello room 128 then bad char", unhex("960001d980" + strings.Repeat("61", 127) + "2f" + "02a0c40180")},
	{"hello room percent", unhex("960001a3612562" + "02a0c40180")},
	{"hello room NUL", unhex("960001a3610062" + "02a0c40180")},
	{"hello client float", unhex("960001a56e6f746573cb3ff0000000000000a0c40180")},
	{"hello token nil", unhex("960001a56e6f74657302c0c40180")},
	{"hello token overlong UTF-8", unhex("960001a56e6f74657302a2c0afc40180")},
	{"hello version 1 as uint64 with 5 elements", unhex("9500cf0000000000000001a56e6f7465730280")},
	{"map at top level", unhex("80")},
	{"str at top level", unhex("a3616263")},
}

func TestDecodeErrors(t *testing.T) {
	for _, tt := range decodeErrorTests {
		t.Run(tt.name, func(t *testing.T) { checkDecodeError(t, tt.in, false) })
	}
	// The vectors' invalid inputs, which other implementations check too.
	for _, v := range invalidVectors {
		t.Run("vector/"+v.name, func(t *testing.T) { checkDecodeError(t, unhex(v.hex), v.unknownType) })
	}
	// Every proper prefix of every valid message is truncated.
	for _, v := range messageVectors {
		b, err := protocol.Encode(v.msg)
		if err != nil {
			t.Fatal(err)
		}
		t.Run("prefixes/"+v.name, func(t *testing.T) {
			for n := range len(b) {
				checkDecodeError(t, b[:n], false)
			}
		})
	}
}

func checkDecodeError(t *testing.T, in []byte, unknownType bool) {
	t.Helper()
	m, err := protocol.Decode(in)
	var de *protocol.DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("Decode(%x) = %v, %v; want a *DecodeError", in, m, err)
	}
	if m != nil {
		t.Errorf("Decode(%x) returned message %v with error %v", in, m, err)
	}
	if de.Offset < 0 || de.Offset > len(in) {
		t.Errorf("Decode(%x): offset %d outside the input", in, de.Offset)
	}
	if got := errors.Is(err, protocol.ErrUnknownType); got != unknownType {
		t.Errorf("Decode(%x): errors.Is(err, ErrUnknownType) = %v, want %v (%v)", in, got, unknownType, err)
	}
	if !strings.HasPrefix(err.Error(), "protocol: ") {
		t.Errorf("error %q lacks the package prefix", err)
	}
}

func TestDecodeUnknownTypes(t *testing.T) {
	for tag := 8; tag < 300; tag += 7 {
		b := append([]byte{0x92}, encodeUint(uint64(tag))...)
		b = append(b, 0x00)
		m, err := protocol.Decode(b)
		var de *protocol.DecodeError
		if !errors.As(err, &de) || !errors.Is(err, protocol.ErrUnknownType) {
			t.Fatalf("tag %d: Decode = %v, %v; want a *DecodeError wrapping ErrUnknownType", tag, m, err)
		}
		if de.Offset != 1 {
			t.Errorf("tag %d: offset %d, want 1 (the tag)", tag, de.Offset)
		}
	}
}

func encodeUint(v uint64) []byte {
	switch {
	case v < 128:
		return []byte{byte(v)}
	case v < 256:
		return []byte{0xcc, byte(v)}
	default:
		return []byte{0xcd, byte(v >> 8), byte(v)}
	}
}

// TestDecodeOtherVersion checks that a Hello of another version decodes to
// its version alone, whatever follows, so that a server can answer it with
// CodeUnsupportedVersion.
func TestDecodeOtherVersion(t *testing.T) {
	tests := []struct {
		hex     string
		version uint64
	}{
		{"960006a56e6f74657302a0c40180", 6},
		{"920006", 6},
		{"9200cf0000000100000000", 1 << 32},
		{"9300cc0ac0", 10},
		{"960000a0c0c0c0c0", 0},
	}
	for _, tt := range tests {
		m, err := protocol.Decode(unhex(tt.hex))
		if err != nil {
			t.Errorf("Decode(%s): %v", tt.hex, err)
			continue
		}
		if want := (&protocol.Hello{Version: tt.version}); !equalMessages(m, want) {
			t.Errorf("Decode(%s) = %#v, want %#v", tt.hex, m, want)
		}
	}
}

func TestDecodeNonMinimal(t *testing.T) {
	for _, v := range decodeOnlyVectors {
		m, err := protocol.Decode(unhex(v.hex))
		if err != nil {
			t.Errorf("%s: %v", v.name, err)
			continue
		}
		if !equalMessages(m, v.msg) {
			t.Errorf("%s: Decode = %#v, want %#v", v.name, m, v.msg)
		}
	}
}

// foreign is a Message that is not one of the package's.
type foreign struct{}

func (foreign) Type() protocol.Type { return protocol.TypeAck }

var encodeErrorTests = []struct {
	name string
	msg  protocol.Message
}{
	{"nil", nil},
	{"nil hello", (*protocol.Hello)(nil)},
	{"nil welcome", (*protocol.Welcome)(nil)},
	{"nil update", (*protocol.Update)(nil)},
	{"nil ack", (*protocol.Ack)(nil)},
	{"nil presence", (*protocol.Presence)(nil)},
	{"nil error", (*protocol.Error)(nil)},
	{"foreign type", foreign{}},
	{"hello empty room", &protocol.Hello{Version: 1, Room: ""}},
	{"hello room too long", &protocol.Hello{Version: 1, Room: strings.Repeat("r", protocol.MaxRoomBytes+1)}},
	{"hello room slash", &protocol.Hello{Version: 1, Room: "a/b"}},
	{"hello room unicode", &protocol.Hello{Version: 1, Room: "café"}},
	{"hello client 2^53", &protocol.Hello{Version: 1, Room: "r", Client: protocol.MaxClientID + 1}},
	{"hello client max uint64", &protocol.Hello{Version: 1, Room: "r", Client: math.MaxUint64}},
	{"hello token too long", &protocol.Hello{Version: 1, Room: "r", Token: strings.Repeat("t", protocol.MaxTokenBytes+1)}},
	{"hello token invalid UTF-8", &protocol.Hello{Version: 1, Room: "r", Token: "\xff"}},
	{"hello version 6 client 2^53", &protocol.Hello{Version: 6, Client: protocol.MaxClientID + 1}},
	{"nil patch", (*protocol.Patch)(nil)},
	{"patch keep_front too big", &protocol.Patch{Front: protocol.MaxPatchKeep + 1}},
	{"patch keep_back too big", &protocol.Patch{Back: math.MaxUint64}},
	{"hello version 4 format too big", &protocol.Hello{Version: 4, Room: "r", Format: protocol.MaxFormat + 1}},
	{"hello version 3 with a format", &protocol.Hello{Version: 3, Room: "r", Format: 2}},
	{"hello version 1 with a format", &protocol.Hello{Version: 1, Room: "r", Format: 2}},
	{"hello version 3 heartbeat too short", &protocol.Hello{Version: 3, Room: "r", HeartbeatMillis: protocol.MinHeartbeatMillis - 1}},
	{"hello version 2 empty room", &protocol.Hello{Version: 2, Room: "", HeartbeatMillis: 1000}},
	{"hello heartbeat too short", &protocol.Hello{Version: 2, Room: "r", HeartbeatMillis: protocol.MinHeartbeatMillis - 1}},
	{"hello heartbeat too long", &protocol.Hello{Version: 2, Room: "r", HeartbeatMillis: protocol.MaxHeartbeatMillis + 1}},
	{"hello version 1 with a heartbeat", &protocol.Hello{Version: 1, Room: "r", HeartbeatMillis: 1000}},
	{"nil heartbeat", (*protocol.Heartbeat)(nil)},
	{"presence client 2^53", &protocol.Presence{Entries: []protocol.PresenceEntry{{Client: protocol.MaxClientID + 1}}}},
	{"presence state too big", &protocol.Presence{Entries: []protocol.PresenceEntry{{Client: 1}, {Client: 2, State: make([]byte, protocol.MaxPresenceBytes+1)}}}},
	{"error message too long", &protocol.Error{Code: protocol.CodeInternalError, Message: strings.Repeat("m", protocol.MaxErrorMessageBytes+1)}},
	{"error message invalid UTF-8", &protocol.Error{Code: protocol.CodeInternalError, Message: "bad \xc3\x28"}},
}

func TestEncodeErrors(t *testing.T) {
	for _, tt := range encodeErrorTests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := protocol.Encode(tt.msg)
			if !errors.Is(err, protocol.ErrInvalidMessage) {
				t.Fatalf("Encode = %x, %v; want ErrInvalidMessage", b, err)
			}
			if b != nil {
				t.Errorf("Encode returned %x with its error", b)
			}
		})
	}
}

var validRoomTests = []struct {
	room string
	ok   bool
}{
	{"", false},
	{"a", true},
	{"notes", true},
	{"Team-42.design_v2~draft", true},
	{"..", true}, // unreserved characters only; "." and ".." are allowed names
	{"~", true},
	{strings.Repeat("z", protocol.MaxRoomBytes), true},
	{strings.Repeat("z", protocol.MaxRoomBytes+1), false},
	{"a b", false},
	{"a/b", false},
	{"a%20b", false},
	{"a?b", false},
	{"a#b", false},
	{"a+b", false},
	{"a:b", false},
	{"café", false},
	{"a\x00", false},
	{"a\n", false},
	{"é", false},
	{"\xff", false},
}

func TestValidRoom(t *testing.T) {
	for _, tt := range validRoomTests {
		if got := protocol.ValidRoom(tt.room); got != tt.ok {
			t.Errorf("ValidRoom(%q) = %v, want %v", tt.room, got, tt.ok)
		}
	}
	// Every byte: exactly the 66 unreserved characters of RFC 3986.
	n := 0
	for c := range 256 {
		ok := protocol.ValidRoom(string([]byte{byte(c)}))
		want := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~", byte(c)) >= 0
		if ok != want {
			t.Errorf("ValidRoom(%q) = %v, want %v", string(rune(c)), ok, want)
		}
		if ok {
			n++
		}
	}
	if n != 66 {
		t.Errorf("%d valid one-byte rooms, want 66", n)
	}
}

var codeTests = []struct {
	code      protocol.Code
	value     int
	name      string
	permanent bool
}{
	{protocol.CodeNormal, 1000, "normal", false},
	{protocol.CodeGoingAway, 1001, "going away", false},
	{protocol.CodeProtocolError, 1002, "protocol error", true},
	{protocol.CodeUnsupportedData, 1003, "unsupported data", true},
	{protocol.CodeMessageTooBig, 1009, "message too big", true},
	{protocol.CodeInternalError, 1011, "internal error", false},
	{protocol.CodeTryAgainLater, 1013, "try again later", false},
	{protocol.CodeUnknownType, 4000, "unknown message type", true},
	{protocol.CodeUnsupportedVersion, 4001, "unsupported protocol version", true},
	{protocol.CodeInvalidRoom, 4002, "invalid room", true},
	{protocol.CodeHelloTimeout, 4003, "hello timeout", false},
	{protocol.CodeHeartbeatTimeout, 4005, "heartbeat timeout", false},
	{protocol.CodeUnsupportedFormat, 4006, "unsupported document format", true},
	{protocol.CodeInvalidUpdate, 4004, "invalid update", true},
	{protocol.CodeSlowConsumer, 4008, "slow consumer", false},
	{protocol.CodeUnauthorized, 4401, "unauthorized", true},
	{protocol.CodeForbidden, 4403, "forbidden", true},
	{protocol.CodeTokenExpired, 4408, "token expired", false},
	{protocol.CodeRateLimited, 4429, "rate limited", false},
	{protocol.CodeClientIDInUse, 4409, "client ID in use", false},
	{protocol.CodeReplaced, 4410, "replaced", true},
	{1005, 1005, "code 1005", false}, // no status received
	{1006, 1006, "code 1006", false}, // abnormal closure: the connection dropped
	{4999, 4999, "code 4999", false},
	{0, 0, "code 0", false},
}

func TestCode(t *testing.T) {
	for _, tt := range codeTests {
		t.Run(fmt.Sprint(tt.value), func(t *testing.T) {
			if int(tt.code) != tt.value {
				t.Errorf("code = %d, want %d", tt.code, tt.value)
			}
			if got := tt.code.String(); got != tt.name {
				t.Errorf("String() = %q, want %q", got, tt.name)
			}
			if got := tt.code.Permanent(); got != tt.permanent {
				t.Errorf("Permanent() = %v, want %v", got, tt.permanent)
			}
		})
	}
	if len(codeTable) != 22 {
		t.Errorf("codeTable has %d codes, want the 22 of code.go", len(codeTable))
	}
}

func TestTypeString(t *testing.T) {
	want := []string{"hello", "welcome", "update", "ack", "presence", "error", "heartbeat", "patch", "type(8)"}
	for i, w := range want {
		if got := protocol.Type(i).String(); got != w {
			t.Errorf("Type(%d).String() = %q, want %q", i, got, w)
		}
	}
	if got := protocol.Type(255).String(); got != "type(255)" {
		t.Errorf("Type(255).String() = %q", got)
	}
}

func TestDecodeErrorError(t *testing.T) {
	e := &protocol.DecodeError{Offset: 3, Msg: "bad", Err: protocol.ErrUnknownType}
	if got, want := e.Error(), "protocol: decode error at byte 3: bad"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(e, protocol.ErrUnknownType) || errors.Unwrap(e) != protocol.ErrUnknownType {
		t.Error("DecodeError does not unwrap to its Err")
	}
	if errors.Unwrap(&protocol.DecodeError{}) != nil {
		t.Error("DecodeError without Err unwraps to non-nil")
	}
}

// TestConcurrent runs Encode and Decode from many goroutines; with -race it
// checks that the pooled buffers are not shared.
func TestConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				v := messageVectors[(g+i)%len(messageVectors)]
				b, err := protocol.Encode(v.msg)
				if err != nil {
					t.Error(err)
					return
				}
				m, err := protocol.Decode(b)
				if err != nil {
					t.Error(err)
					return
				}
				if !equalMessages(m, v.msg) {
					t.Errorf("%s: round trip gave %v", v.name, m)
					return
				}
				if _, err := protocol.Decode(unhex(invalidVectors[i%len(invalidVectors)].hex)); err == nil {
					t.Error("invalid vector decoded")
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestLargeMessage checks that encoding and decoding a large
// message works repeatedly (the pools drop big buffers).
func TestLargeMessage(t *testing.T) {
	big := &protocol.Welcome{StateVector: []byte{0x80}, Update: bytes.Repeat([]byte{7}, 4<<20)}
	for range 3 {
		b, err := protocol.Encode(big)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != 4<<20+10 { // 93 01 c4 01 80 c6 xx xx xx xx, then the update
			t.Fatalf("len %d", len(b))
		}
		m, err := protocol.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if !equalMessages(m, big) {
			t.Fatal("round trip differs")
		}
	}
}

// TestDecodeAllocationBounded checks that an array header announcing more
// elements than the rest of the input can hold fails before anything is
// allocated for them.
func TestDecodeAllocationBounded(t *testing.T) {
	// 3072 updates announced in 4 KiB: each needs at least 2 bytes.
	in := append(unhex("930201dc0c00"), bytes.Repeat([]byte{0xc4}, 4096-6)...)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 10 {
		if _, err := protocol.Decode(in); err == nil {
			t.Fatal("decoded")
		}
	}
	runtime.ReadMemStats(&after)
	if perRun := (after.TotalAlloc - before.TotalAlloc) / 10; perRun > 16<<10 {
		t.Errorf("%d bytes allocated to reject an array header (3072 slice headers would be 72 KiB)", perRun)
	}
}

func TestBase(t *testing.T) {
	for _, n := range []int{0, 1, protocol.MaxPatchBase - 1, protocol.MaxPatchBase, protocol.MaxPatchBase + 1, 1 << 20} {
		u := make([]byte, n)
		got := protocol.Base(u)
		if want := n <= protocol.MaxPatchBase; (got != nil) != want || (got != nil && len(got) != n) {
			t.Errorf("Base of %d bytes = %d bytes (nil %t), want a base: %t", n, len(got), got == nil, want)
		}
	}
}
