package sync

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/flowstate/flowstate/crdt"
)

// maxTypeNameBytes is the longest text or map name an edit may name, as
// crdt/FORMAT.md bounds type names.
const maxTypeNameBytes = 1024

// An Edit is one element of the JSON array POST /api/rooms/{room}/edits
// takes. Exactly one of Text and Map names the shared type it changes.
// A text edit holds exactly one of Delta and Replace; a map edit holds Set,
// Delete or both, with no key in both.
type Edit struct {
	// Text names the text the edit changes.
	Text string `json:"text,omitempty"`
	// Delta changes the text in the shape of a Quill Delta: each op
	// keeps (retain), inserts or deletes, from position 0 on, counting
	// code points. Retained and deleted code points must exist.
	Delta []DeltaOp `json:"delta,omitempty"`
	// Replace sets the whole text; it is applied as the smallest single
	// change from the current text (their common prefix and suffix are
	// kept), so that concurrent editors keep their cursors.
	Replace *string `json:"replace,omitempty"`

	// Map names the map the edit changes.
	Map string `json:"map,omitempty"`
	// Set sets each key to its JSON value (an integral number is stored as
	// an integer, any other as a float).
	Set map[string]any `json:"set,omitempty"`
	// Delete deletes each key.
	Delete []string `json:"delete,omitempty"`
}

// A DeltaOp is one step of an Edit's Delta: exactly one of Retain (at
// least 1), Insert (not empty) and Delete (at least 1) is set.
type DeltaOp struct {
	Retain *int    `json:"retain,omitempty"`
	Insert *string `json:"insert,omitempty"`
	Delete *int    `json:"delete,omitempty"`
}

// An EditError is why a body of edits is refused: the index of the edit
// (-1 for the body as a whole) and what is wrong with it.
type EditError struct {
	Index int
	Msg   string
}

func (e *EditError) Error() string {
	if e.Index < 0 {
		return "sync: edits: " + e.Msg
	}
	return fmt.Sprintf("sync: edit %d: %s", e.Index, e.Msg)
}

// DecodeEdits decodes and checks a JSON array of edits, as POST
// /api/rooms/{room}/edits takes it. It refuses unknown fields, a value
// after the array, and any edit that is not well formed, with an
// *EditError; it does not look at a document, so a delta that reaches past
// the end of its text is refused only when applied.
func DecodeEdits(body []byte) ([]Edit, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var edits []Edit
	if err := dec.Decode(&edits); err != nil {
		return nil, &EditError{Index: -1, Msg: "not a JSON array of edits: " + err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &EditError{Index: -1, Msg: "data after the array"}
	}
	if edits == nil {
		return nil, &EditError{Index: -1, Msg: "not a JSON array of edits: null"}
	}
	for i := range edits {
		if err := edits[i].check(); err != nil {
			return nil, &EditError{Index: i, Msg: err.Error()}
		}
	}
	return edits, nil
}

// scratch is a document that checks map values as a Map would take them,
// without touching a room's document.
func checkMapValue(key string, v any) error {
	_, err := crdt.NewDocWithClient(1).Map("m").Set(key, v)
	return err
}

// check reports what is wrong with e, on its own, and turns the JSON
// numbers of its values into Go integers or floats.
func (e *Edit) check() error {
	switch {
	case e.Text != "" && e.Map != "":
		return errors.New(`an edit names either a "text" or a "map", not both`)
	case e.Text == "" && e.Map == "":
		return errors.New(`an edit names a "text" or a "map" (a non-empty name)`)
	case len(e.Text) > maxTypeNameBytes || len(e.Map) > maxTypeNameBytes:
		return fmt.Errorf("a name is longer than %d bytes", maxTypeNameBytes)
	}
	if e.Text != "" {
		switch {
		case e.Set != nil || e.Delete != nil:
			return errors.New(`"set" and "delete" belong to map edits`)
		case (e.Delta != nil) == (e.Replace != nil):
			return errors.New(`a text edit holds exactly one of "delta" and "replace"`)
		case e.Delta != nil && len(e.Delta) == 0:
			return errors.New(`"delta" holds no ops`)
		}
		for j, op := range e.Delta {
			n := 0
			if op.Retain != nil {
				n++
				if *op.Retain < 1 {
					return fmt.Errorf("delta op %d: retain must be at least 1", j)
				}
			}
			if op.Delete != nil {
				n++
				if *op.Delete < 1 {
					return fmt.Errorf("delta op %d: delete must be at least 1", j)
				}
			}
			if op.Insert != nil {
				n++
				if *op.Insert == "" {
					return fmt.Errorf("delta op %d: insert must not be empty", j)
				}
			}
			if n != 1 {
				return fmt.Errorf(`delta op %d: holds exactly one of "retain", "insert" and "delete"`, j)
			}
		}
		return nil
	}
	switch {
	case e.Delta != nil || e.Replace != nil:
		return errors.New(`"delta" and "replace" belong to text edits`)
	case len(e.Set) == 0 && len(e.Delete) == 0:
		return errors.New(`a map edit holds "set", "delete" or both, not empty`)
	}
	for k, v := range e.Set {
		if slices.Contains(e.Delete, k) {
			return fmt.Errorf("key %q is both set and deleted", k)
		}
		v, err := jsonNumbers(v)
		if err == nil {
			err = checkMapValue(k, v)
		}
		if err != nil {
			return fmt.Errorf("key %q: %v", k, strings.TrimPrefix(err.Error(), "crdt: "))
		}
		e.Set[k] = v
	}
	for _, k := range e.Delete {
		if !utf8.ValidString(k) {
			return fmt.Errorf("key %q is not valid UTF-8", k)
		}
	}
	return nil
}

// jsonNumbers replaces the json.Numbers in v by int64, uint64 or float64.
func jsonNumbers(v any) (any, error) {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i, nil
		}
		if u, err := parseUint(string(v)); err == nil {
			return u, nil
		}
		f, err := v.Float64()
		if err != nil {
			return nil, fmt.Errorf("number %s out of range", v)
		}
		return f, nil
	case []any:
		for i, e := range v {
			var err error
			if v[i], err = jsonNumbers(e); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		for k, e := range v {
			var err error
			if v[k], err = jsonNumbers(e); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// parseUint parses a decimal integer that fits a uint64.
func parseUint(s string) (uint64, error) {
	var u uint64
	if s == "" {
		return 0, errors.New("empty")
	}
	for _, c := range s {
		if c < '0' || c > '9' || u > (1<<64-1-uint64(c-'0'))/10 {
			return 0, errors.New("not a uint64")
		}
		u = u*10 + uint64(c-'0')
	}
	return u, nil
}

// applyEdits applies edits to doc in one transaction and returns its
// update (nil if nothing changed). It checks every edit against the
// document first, so that a refused body changes nothing; the edits must
// have passed DecodeEdits (or be built as it would build them).
func applyEdits(doc *crdt.Doc, edits []Edit) ([]byte, error) {
	// Lengths of the texts as the edits before each one leave them.
	lengths := make(map[string]int)
	for i, e := range edits {
		if e.Text == "" {
			continue
		}
		n, ok := lengths[e.Text]
		if !ok {
			n = textLen(doc, e.Text)
		}
		if e.Replace != nil {
			lengths[e.Text] = utf8.RuneCountInString(*e.Replace)
			continue
		}
		// Applied in order, each op moves through the text as the ops
		// before it left it: pos and n are the cursor and the length.
		// Comparing with n-pos rather than adding first keeps huge
		// numbers from wrapping around.
		pos := 0
		for j, op := range e.Delta {
			switch {
			case op.Retain != nil:
				if *op.Retain > n-pos {
					return nil, &EditError{Index: i, Msg: fmt.Sprintf("delta op %d retains past the end of text %q", j, e.Text)}
				}
				pos += *op.Retain
			case op.Delete != nil:
				if *op.Delete > n-pos {
					return nil, &EditError{Index: i, Msg: fmt.Sprintf("delta op %d deletes past the end of text %q", j, e.Text)}
				}
				n -= *op.Delete
			default:
				ins := utf8.RuneCountInString(*op.Insert)
				pos += ins
				n += ins
			}
		}
		lengths[e.Text] = n
	}
	return doc.Transact(func() error {
		for _, e := range edits {
			if e.Text != "" {
				if err := applyTextEdit(doc.Text(e.Text), e); err != nil {
					return err // checked above: cannot happen
				}
				continue
			}
			m := doc.Map(e.Map)
			for _, k := range slices.Sorted(maps.Keys(e.Set)) {
				if _, err := m.Set(k, e.Set[k]); err != nil {
					return err // checked by DecodeEdits: cannot happen
				}
			}
			for _, k := range e.Delete {
				if _, err := m.Delete(k); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// textLen returns the length of doc's text name, without creating it.
func textLen(doc *crdt.Doc, name string) int {
	if !slices.Contains(doc.TextNames(), name) {
		return 0
	}
	return doc.Text(name).Len()
}

// applyTextEdit applies a checked text edit inside a transaction.
func applyTextEdit(t *crdt.Text, e Edit) error {
	if e.Replace != nil {
		pos, del, ins := textDiff(t.String(), *e.Replace)
		if del > 0 {
			if _, err := t.Delete(pos, del); err != nil {
				return err
			}
		}
		if ins != "" {
			if _, err := t.Insert(pos, ins); err != nil {
				return err
			}
		}
		return nil
	}
	pos := 0
	for _, op := range e.Delta {
		var err error
		switch {
		case op.Retain != nil:
			pos += *op.Retain
		case op.Delete != nil:
			_, err = t.Delete(pos, *op.Delete)
		default:
			_, err = t.Insert(pos, *op.Insert)
			pos += utf8.RuneCountInString(*op.Insert)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// textDiff returns the smallest single change that turns before into
// after, in code points: delete del code points at pos, then insert ins
// there. Their common prefix and suffix are kept, as the JS bindings'
// diffText does.
func textDiff(before, after string) (pos, del int, ins string) {
	// The common prefix, in bytes, backed up to where a code point
	// starts in both.
	p := 0
	for p < len(before) && p < len(after) && before[p] == after[p] {
		p++
	}
	for p > 0 && (p < len(before) && !utf8.RuneStart(before[p]) || p < len(after) && !utf8.RuneStart(after[p])) {
		p--
	}
	b, a := before[p:], after[p:]
	s := 0
	for s < len(b) && s < len(a) && b[len(b)-1-s] == a[len(a)-1-s] {
		s++
	}
	for s > 0 && !utf8.RuneStart(b[len(b)-s]) {
		s--
	}
	return utf8.RuneCountInString(before[:p]), utf8.RuneCountInString(b[:len(b)-s]), a[:len(a)-s]
}
