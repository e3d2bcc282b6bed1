package sync

import (
	"bytes"
	"testing"
)

// unwrittenTests cut a batch of three frames (3, 2 and 4 bytes) after n
// bytes; partial marks the first as the end of a frame begun earlier.
var unwrittenTests = []struct {
	n       int64
	partial bool
	want    string
}{
	{0, false, ""},
	{0, true, "abc"}, // the end of a frame begun is owed whole
	{1, false, "bc"},
	{3, false, ""},
	{4, false, "e"},
	{5, true, ""},
	{8, false, "i"},
	{9, false, ""},
}

func TestUnwritten(t *testing.T) {
	msgs := [][]byte{[]byte("abc"), []byte("de"), []byte("fghi")}
	for _, tt := range unwrittenTests {
		if got := unwritten(msgs, tt.partial, tt.n); !bytes.Equal(got, []byte(tt.want)) {
			t.Errorf("unwritten(n=%d, partial=%v) = %q, want %q", tt.n, tt.partial, got, tt.want)
		}
	}
}
