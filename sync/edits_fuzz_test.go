package sync

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/flowstate/flowstate/crdt"
)

// FuzzDecodeEdits feeds DecodeEdits arbitrary bodies. It must never
// panic; edits it accepts must apply to a document whole or be refused
// whole with an *EditError, leaving the document as it was; and they must
// survive being encoded as JSON and decoded again.
func FuzzDecodeEdits(f *testing.F) {
	for _, seed := range []string{
		`[{"text": "body", "delta": [{"retain": 2}, {"insert": "hi"}, {"delete": 1}]}]`,
		`[{"text": "body", "replace": "whole 🌍 new"}]`,
		`[{"map": "meta", "set": {"k": 1, "f": 1.5, "l": [true, null, {"x": "y"}]}, "delete": ["old"]}]`,
		`[{"text": "a", "delta": [{"retain": 99}]}]`,
		`[{"text": "a", "map": "b"}]`,
		`[]`, `null`, `{}`, `[{"map": "m", "set": {"n": 18446744073709551615}}]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		edits, err := DecodeEdits(body)
		if err != nil {
			var ee *EditError
			if !errors.As(err, &ee) {
				t.Fatalf("error %v is not an *EditError", err)
			}
			return
		}
		doc := crdt.NewDoc()
		if _, err := doc.Text("body").Insert(0, "hello"); err != nil {
			t.Fatal(err)
		}
		before := doc.Snapshot()
		if _, err := applyEdits(doc, edits); err != nil {
			var ee *EditError
			if !errors.As(err, &ee) {
				t.Fatalf("apply: error %v is not an *EditError", err)
			}
			if string(doc.Snapshot()) != string(before) {
				t.Fatal("refused edits changed the document")
			}
		}
		again, err := json.Marshal(edits)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if _, err := DecodeEdits(again); err != nil {
			t.Fatalf("re-decode of %s: %v", again, err)
		}
	})
}
