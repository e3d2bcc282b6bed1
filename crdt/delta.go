package crdt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Quill deltas with attributes applied to a Text (RICH.md §R7).

// MarshalJSON writes op in Quill's shape, an embed as the value of
// "insert".
func (op DeltaOp) MarshalJSON() ([]byte, error) {
	if op.Embed != nil {
		return json.Marshal(struct {
			Insert     any            `json:"insert"`
			Attributes map[string]any `json:"attributes,omitempty"`
		}{op.Embed, op.Attributes})
	}
	type plain DeltaOp // without the methods
	return json.Marshal(plain(op))
}

// UnmarshalJSON reads an op in Quill's shape: an "insert" that is not a
// string is an embed. Fields other than insert, retain, delete and
// attributes are an error, so that a delta this package does not
// understand (Quill 2's retain of an embed change, say) is refused
// rather than half applied.
func (op *DeltaOp) UnmarshalJSON(b []byte) error {
	var raw struct {
		Insert     json.RawMessage `json:"insert"`
		Retain     int             `json:"retain"`
		Delete     int             `json:"delete"`
		Attributes map[string]any  `json:"attributes"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("crdt: delta op %s: %w", b, err)
	}
	*op = DeltaOp{Retain: raw.Retain, Delete: raw.Delete, Attributes: raw.Attributes}
	if raw.Insert == nil {
		return nil
	}
	if raw.Insert[0] == '"' {
		return json.Unmarshal(raw.Insert, &op.Insert)
	}
	if err := json.Unmarshal(raw.Insert, &op.Embed); err != nil {
		return err
	}
	if op.Embed == nil {
		return fmt.Errorf("crdt: delta op %s: insert of null", b)
	}
	return nil
}

// DefaultBlockKeys are the attribute keys ApplyDelta treats as block
// attributes unless SetBlockKeys says otherwise: Quill's block formats.
var DefaultBlockKeys = []string{"align", "blockquote", "code-block", "direction", "header", "indent", "list"}

// SetBlockKeys sets the attribute keys that ApplyDelta applies as block
// attributes (RICH.md §R5): on the newlines an op covers only, each with
// a mark that never expands, as SetBlock does. A nil keys restores
// DefaultBlockKeys.
func (t *Text) SetBlockKeys(keys []string) error {
	for _, k := range keys {
		if !utf8.ValidString(k) {
			return fmt.Errorf("crdt: block key %q is not valid UTF-8", k)
		}
	}
	if keys == nil {
		t.blockKeys = nil
		return nil
	}
	t.blockKeys = make(map[string]bool, len(keys))
	for _, k := range keys {
		t.blockKeys[k] = true
	}
	return nil
}

// isBlockKey reports whether ApplyDelta applies key as a block attribute.
func (t *Text) isBlockKey(key string) bool {
	if t.blockKeys != nil {
		return t.blockKeys[key]
	}
	return slices.Contains(DefaultBlockKeys, key)
}

// A deltaStep is a checked op of ApplyDelta.
type deltaStep struct {
	retain, delete int
	insert         string
	runes          int    // code points of insert
	embed          []byte // canonical embed value, or nil
	attrs          []attr // sorted by key; a nil value removes the key
}

// ApplyDelta applies a Quill delta to t in one transaction and returns
// its update (nil inside Doc.Transact). Positions count code points and
// embeds, from position 0; the text after the last op is kept.
//
//   - An insert of text or of an embed (DeltaOp.Embed) gives the inserted
//     positions exactly the attributes of the op: marks the insertion
//     would take from its neighbours (typing at the end of a bold run) are
//     removed by a mark with value nil, as in Quill.
//   - A retain with attributes sets each key to its value over the
//     retained positions, a nil value removing it; a key already at that
//     value everywhere there makes no mark.
//   - A block key (SetBlockKeys, DefaultBlockKeys) is applied only to the
//     newlines the op covers, each by a mark that never expands, as
//     SetBlock does; on other characters it is ignored, since in Quill's
//     model block formats live on the newline ending the block. Other keys
//     are marks over the whole op with the rule of the Text's schema.
//
// Attribute keys are applied in the order of their UTF-8 bytes. A delta
// that is not valid (an op with none or several of retain, insert, embed
// and delete, a negative count, a retain or delete past the end of the
// text, a delete with attributes, invalid UTF-8, a value with no canonical
// form) returns an error and changes nothing.
func (t *Text) ApplyDelta(ops []DeltaOp) ([]byte, error) {
	steps, err := t.checkDelta(ops)
	if err != nil {
		return nil, err
	}
	if len(steps) == 0 {
		return nil, nil
	}
	return t.doc.local(func() {
		pos := 0
		for _, s := range steps {
			switch {
			case s.delete > 0:
				t.delete(pos, s.delete)
			case s.retain > 0:
				t.applyAttrs(pos, s.retain, s.attrs, false)
				pos += s.retain
			case s.embed != nil:
				t.insertEmbed(pos, s.embed)
				t.applyAttrs(pos, 1, s.attrs, true)
				pos++
			default:
				t.insert(pos, s.insert)
				t.applyAttrs(pos, s.runes, s.attrs, true)
				pos += s.runes
			}
		}
	})
}

// checkDelta validates ops against t and returns them as steps, dropping
// the retains without attributes at the end, which change nothing.
func (t *Text) checkDelta(ops []DeltaOp) ([]deltaStep, error) {
	steps := make([]deltaStep, 0, len(ops))
	pos, length := 0, t.length
	for i, op := range ops {
		kinds := 0
		for _, set := range []bool{op.Retain != 0, op.Insert != "", op.Embed != nil, op.Delete != 0} {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			return nil, fmt.Errorf("%w: delta op %d sets %d of retain, insert, embed and delete, want one", ErrInvalidDelta, i, kinds)
		}
		if op.Retain < 0 || op.Delete < 0 {
			return nil, fmt.Errorf("%w: delta op %d has a negative count", ErrInvalidDelta, i)
		}
		s := deltaStep{retain: op.Retain, delete: op.Delete, insert: op.Insert}
		if len(op.Attributes) > 0 {
			if op.Delete > 0 {
				return nil, fmt.Errorf("%w: delta op %d deletes with attributes", ErrInvalidDelta, i)
			}
			keys := make([]string, 0, len(op.Attributes))
			for k := range op.Attributes {
				keys = append(keys, k)
			}
			slices.Sort(keys) // Go compares strings by their UTF-8 bytes
			for _, k := range keys {
				v, err := markValue(k, op.Attributes[k])
				if err != nil {
					return nil, fmt.Errorf("%w: delta op %d: %w", ErrInvalidDelta, i, err)
				}
				s.attrs = append(s.attrs, attr{k, v})
			}
		}
		switch {
		case op.Retain > 0:
			if op.Retain > length-pos {
				return nil, fmt.Errorf("%w: delta op %d retains %d at %d in a text of length %d", ErrOutOfRange, i, op.Retain, pos, length)
			}
			pos += op.Retain
		case op.Delete > 0:
			if op.Delete > length-pos {
				return nil, fmt.Errorf("%w: delta op %d deletes %d at %d in a text of length %d", ErrOutOfRange, i, op.Delete, pos, length)
			}
			length -= op.Delete
		case op.Embed != nil:
			b, err := canonicalValue(op.Embed)
			if err == nil {
				err = checkValue(b)
			}
			if err != nil {
				return nil, fmt.Errorf("%w: delta op %d: embed value: %w", ErrInvalidDelta, i, err)
			}
			s.embed = b
			pos, length = pos+1, length+1
		default:
			if !utf8.ValidString(op.Insert) {
				return nil, fmt.Errorf("%w: delta op %d inserts invalid UTF-8", ErrInvalidDelta, i)
			}
			s.runes = utf8.RuneCountInString(op.Insert)
			pos, length = pos+s.runes, length+s.runes
		}
		steps = append(steps, s)
	}
	for len(steps) > 0 && steps[len(steps)-1].retain > 0 && len(steps[len(steps)-1].attrs) == 0 {
		steps = steps[:len(steps)-1]
	}
	return steps, nil
}

// insertEmbed inserts an embed holding value (canonical msgpack) at pos.
func (t *Text) insertEmbed(pos int, value []byte) {
	c := t.doc.me
	t.setEmbed(ID{c.id, c.next}, value)
	lf, i, leftItem, rightItem := t.gapAt(pos)
	left, right := gapRefs(leftItem, rightItem)
	t.place(c, 1, leftItem, left, right, lf, i, embedContent, richEmbed)
}

// A cell is n visible positions of a Text with the same formatting, all
// newlines or none.
type cell struct {
	n       int
	newline bool
	attrs   []attr
}

// cells returns the formatting of the n positions from pos, in one walk
// from the start of the text (marks may open anywhere before pos).
func (t *Text) cells(pos, n int) []cell {
	var out []cell
	add := func(k int, nl bool, attrs []attr) {
		if m := len(out); m > 0 && out[m-1].newline == nl && sameAttrs(out[m-1].attrs, attrs) {
			out[m-1].n += k
			return
		}
		out = append(out, cell{k, nl, attrs})
	}
	t.eachVisible(pos, n, func(it *item, p, lo, hi int, attrs []attr) {
		if it.rich == richEmbed {
			add(1, false, attrs)
			return
		}
		s := t.arena[it.start:it.end]
		s = s[byteOffset(s, it.length, uint64(lo-p)):]
		for k := lo; k < hi; {
			// Stretches of newlines and of other code points.
			nl := s[0] == '\n'
			j := 0
			m := 0
			for k+m < hi && (s[j] == '\n') == nl {
				_, size := utf8.DecodeRune(s[j:])
				j += size
				m++
			}
			add(m, nl, attrs)
			s, k = s[j:], k+m
		}
	})
	return out
}

// valueOf returns the value of key in attrs, nil if absent.
func valueOf(attrs []attr, key string) []byte {
	for _, a := range attrs {
		if a.key == key {
			return a.value
		}
	}
	return nil
}

// applyAttrs formats the n positions from pos with attrs (a nil value
// removes its key), as ApplyDelta describes. For an insertion (inserted
// set), keys the positions took from their neighbours and attrs does not
// name are removed.
func (t *Text) applyAttrs(pos, n int, attrs []attr, inserted bool) {
	if len(attrs) == 0 && (!inserted || len(t.marks) == 0) {
		return
	}
	cells := t.cells(pos, n)
	keys := attrs
	if inserted {
		// An insertion is one gap's worth of positions: one formatting.
		for _, a := range cells[0].attrs {
			if !slices.ContainsFunc(attrs, func(b attr) bool { return b.key == a.key }) {
				keys = append(slices.Clip(keys), attr{a.key, nil})
			}
		}
		slices.SortFunc(keys, func(a, b attr) int { return strings.Compare(a.key, b.key) })
	}
	for _, a := range keys {
		if !t.isBlockKey(a.key) {
			if slices.ContainsFunc(cells, func(c cell) bool { return !bytes.Equal(valueOf(c.attrs, a.key), a.value) }) {
				t.format(pos, n, a.key, a.value, t.expandRule(a.key))
			}
			continue
		}
		// A block key goes on newlines only; an insertion also loses it
		// elsewhere. Each stretch of positions that needs one value is
		// one mark that never expands.
		p := pos
		from, want := -1, []byte(nil)
		end := func(at int) {
			if from >= 0 {
				t.format(from, at-from, a.key, want, ExpandNone)
				from = -1
			}
		}
		for _, c := range cells {
			v := a.value
			if !c.newline {
				if !inserted {
					end(p)
					p += c.n
					continue
				}
				v = nil
			}
			if bytes.Equal(valueOf(c.attrs, a.key), v) {
				end(p)
			} else if from < 0 || !bytes.Equal(want, v) {
				end(p)
				from, want = p, v
			}
			p += c.n
		}
		end(p)
	}
}
