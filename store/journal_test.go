package store

import (
	"reflect"
	"testing"
)

var journalEntryTests = []struct {
	room    string
	changed int64
	updates [][]byte
}{
	{"r", 0, [][]byte{[]byte("u")}},
	{"room with spaces", 1764115200000000000, [][]byte{[]byte("a"), {}, []byte("ccc")}},
	{"ü", -1, nil},
	{string(make([]byte, 300)), 42, [][]byte{make([]byte, 70000)}},
}

func TestJournalEntryRoundTrip(t *testing.T) {
	for _, tt := range journalEntryTests {
		v := encodeJournalEntry(tt.room, tt.changed, tt.updates)
		e, err := decodeJournalEntry(v)
		if err != nil {
			t.Fatalf("decode(%d-byte room): %v", len(tt.room), err)
		}
		if room, err := journalRoom(v); err != nil || room != tt.room {
			t.Errorf("journalRoom = %q, %v; want %q", room, err, tt.room)
		}
		want := journalEntry{room: tt.room, changed: tt.changed, updates: tt.updates}
		if want.updates == nil {
			want.updates = [][]byte{}
		}
		if e.room != want.room || e.changed != want.changed || len(e.updates) != len(want.updates) {
			t.Fatalf("decoded %+v, want %+v", e, want)
		}
		for i := range e.updates {
			if string(e.updates[i]) != string(want.updates[i]) {
				t.Fatalf("update %d differs", i)
			}
		}
		// Every proper prefix is malformed.
		for _, n := range []int{0, 7, 8, len(v) - 1} {
			if _, err := decodeJournalEntry(v[:n]); err == nil {
				t.Errorf("a %d-byte prefix of a %d-byte entry decoded", n, len(v))
			}
		}
	}
}

// FuzzJournalEntry decodes arbitrary bytes as a journal entry: never a
// panic, and what decodes re-encodes to an entry that decodes the same.
func FuzzJournalEntry(f *testing.F) {
	for _, tt := range journalEntryTests[:3] {
		f.Add(encodeJournalEntry(tt.room, tt.changed, tt.updates))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		e, err := decodeJournalEntry(v)
		room, rerr := journalRoom(v)
		if err != nil {
			return
		}
		if rerr != nil || room != e.room {
			t.Fatalf("journalRoom = %q, %v; the entry names %q", room, rerr, e.room)
		}
		again, err := decodeJournalEntry(encodeJournalEntry(e.room, e.changed, e.updates))
		if err != nil || !reflect.DeepEqual(again, e) {
			t.Fatalf("re-encoded entry decodes as %+v, %v; want %+v", again, err, e)
		}
	})
}
