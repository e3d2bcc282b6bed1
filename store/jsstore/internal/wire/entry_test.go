package wire

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"testing"
)

func TestEntryRoundTrip(t *testing.T) {
	tests := [][][]byte{
		{},
		{{}},
		{[]byte("u1")},
		{[]byte("u1"), {}, bytes.Repeat([]byte{7}, 300)},
	}
	for _, updates := range tests {
		b := EncodeEntry(updates)
		if len(b) != EntrySize(updates) {
			t.Errorf("EntrySize(%q) = %d, encoded %d bytes", updates, EntrySize(updates), len(b))
		}
		got, err := DecodeEntry(b)
		if err != nil || !slices.EqualFunc(got, updates, bytes.Equal) {
			t.Errorf("DecodeEntry(EncodeEntry(%q)) = %q, %v", updates, got, err)
		}
	}
}

func TestDecodeEntryRefuses(t *testing.T) {
	for _, b := range [][]byte{
		nil,
		{2, 0},                      // unknown version
		{1},                         // no count
		{1, 0x80},                   // truncated count
		{1, 5, 0},                   // more updates than bytes
		{1, 1, 3, 'a'},              // update shorter than its length
		{1, 1, 0xff, 0xff, 0xff, 1}, // length past the end
		{1, 0, 0},                   // trailing byte
		{1, 1, 1, 'a', 'b'},         // trailing byte after an update
		{1, 0x81, 0},                // count not in its shortest form
		{1, 1, 0x80, 0},             // length not in its shortest form
	} {
		if got, err := DecodeEntry(b); !errors.Is(err, ErrEntry) {
			t.Errorf("DecodeEntry(%v) = %q, %v, want ErrEntry", b, got, err)
		}
	}
}

// FuzzDecodeEntry decodes any bytes as a log entry: an error or updates
// that encode back to exactly the input, never a panic.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(EncodeEntry([][]byte{[]byte("u1"), []byte("u2")}))
	f.Add([]byte{1, 0})
	f.Add([]byte{1, 5, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		updates, err := DecodeEntry(b)
		if err != nil {
			return
		}
		if again := EncodeEntry(updates); !bytes.Equal(again, b) {
			t.Fatalf("DecodeEntry(%x) = %q, which encodes as %x", b, updates, again)
		}
	})
}

func TestDecodeHead(t *testing.T) {
	h := Head{Seq: 42, Object: "notes.abc", Bytes: 10, Time: 1, Marks: []Mark{{Seq: 40, Time: 0}}}
	if got, err := DecodeHead(EncodeHead(h)); err != nil || !reflect.DeepEqual(got, h) {
		t.Errorf("DecodeHead(EncodeHead(%+v)) = %+v, %v", h, got, err)
	}
	for _, b := range []string{"", "{", "[]", `{"seq":1}`, `{"object":"x","bytes":-1}`, `{"seq":-1,"object":"x"}`} {
		if got, err := DecodeHead([]byte(b)); !errors.Is(err, ErrHead) {
			t.Errorf("DecodeHead(%q) = %+v, %v, want ErrHead", b, got, err)
		}
	}
}

// FuzzDecodeHead decodes any bytes as a head record: an error or a head
// that names a snapshot, never a panic.
func FuzzDecodeHead(f *testing.F) {
	f.Add(EncodeHead(Head{Seq: 42, Object: "notes.abc", Bytes: 10, Time: 1}))
	f.Add([]byte(`{"seq":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHead(b)
		if err == nil && (h.Object == "" || h.Bytes < 0) {
			t.Fatalf("DecodeHead(%q) = %+v without an error", b, h)
		}
	})
}
