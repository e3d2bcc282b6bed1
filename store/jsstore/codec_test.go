package jsstore

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
		b := encodeEntry(updates)
		if len(b) != entrySize(updates) {
			t.Errorf("entrySize(%q) = %d, encoded %d bytes", updates, entrySize(updates), len(b))
		}
		got, err := decodeEntry(b)
		if err != nil || !slices.EqualFunc(got, updates, bytes.Equal) {
			t.Errorf("decodeEntry(encodeEntry(%q)) = %q, %v", updates, got, err)
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
		if got, err := decodeEntry(b); !errors.Is(err, errEntry) {
			t.Errorf("decodeEntry(%v) = %q, %v, want errEntry", b, got, err)
		}
	}
}

// FuzzDecodeEntry decodes any bytes as a log entry: an error or updates
// that encode back to exactly the input, never a panic.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(encodeEntry([][]byte{[]byte("u1"), []byte("u2")}))
	f.Add([]byte{1, 0})
	f.Add([]byte{1, 5, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		updates, err := decodeEntry(b)
		if err != nil {
			return
		}
		if again := encodeEntry(updates); !bytes.Equal(again, b) {
			t.Fatalf("decodeEntry(%x) = %q, which encodes as %x", b, updates, again)
		}
	})
}

func TestDecodeHead(t *testing.T) {
	h := head{Seq: 42, Object: "notes.abc", Bytes: 10, Time: 1, Marks: []mark{{Seq: 40, Time: 0}}}
	if got, err := decodeHead(encodeHead(h)); err != nil || !reflect.DeepEqual(got, h) {
		t.Errorf("decodeHead(encodeHead(%+v)) = %+v, %v", h, got, err)
	}
	for _, b := range []string{"", "{", "[]", `{"seq":1}`, `{"object":"x","bytes":-1}`, `{"seq":-1,"object":"x"}`} {
		if got, err := decodeHead([]byte(b)); !errors.Is(err, errHead) {
			t.Errorf("decodeHead(%q) = %+v, %v, want errHead", b, got, err)
		}
	}
}

// FuzzDecodeHead decodes any bytes as a head record: an error or a head
// that names a snapshot, never a panic.
func FuzzDecodeHead(f *testing.F) {
	f.Add(encodeHead(head{Seq: 42, Object: "notes.abc", Bytes: 10, Time: 1}))
	f.Add([]byte(`{"seq":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeHead(b)
		if err == nil && (h.Object == "" || h.Bytes < 0) {
			t.Fatalf("decodeHead(%q) = %+v without an error", b, h)
		}
	})
}
