package crdt

import "fmt"

// A RelativePosition is a place in a Text that follows concurrent edits:
// it is anchored to the ID of a code point rather than to a number, so text
// inserted or deleted elsewhere does not move it off its neighbours. It is
// the Go twin of the JavaScript Text.relativePosition: {client, clock,
// assoc}, with a null client where Anchored is false.
type RelativePosition struct {
	// ID is the code point the position sticks to when Anchored is set.
	ID ID
	// Anchored is false at the start or end of the text, where there is no
	// code point to stick to: the position is then the start (Assoc < 0)
	// or the end (Assoc ≥ 0) itself.
	Anchored bool
	// Assoc ≥ 0 keeps the position just before its code point; Assoc < 0
	// keeps it just after. Only its sign matters.
	Assoc int
}

// A Selection is a selection in a Text, as relative positions: Anchor is
// where it started, Head where it ends (the caret). A caret has Anchor
// equal to Head.
type Selection struct {
	Text         string // the Text's name
	Anchor, Head RelativePosition
}

// RelativePosition returns a position that follows concurrent edits: with
// assoc ≥ 0 it is anchored to the code point at pos and stays just before
// it; with assoc < 0 it is anchored to the code point before pos and stays
// just after it. At the end (assoc ≥ 0) or the start (assoc < 0) there is
// no such code point, and the position is the end or the start itself. It
// returns an error wrapping ErrOutOfRange unless 0 ≤ pos ≤ t.Len().
func (t *Text) RelativePosition(pos, assoc int) (RelativePosition, error) {
	if pos < 0 || pos > t.length {
		return RelativePosition{}, fmt.Errorf("%w: position %d in a text of length %d", ErrOutOfRange, pos, t.length)
	}
	if assoc < 0 {
		if pos == 0 {
			return RelativePosition{Assoc: -1}, nil
		}
		return RelativePosition{ID: t.idAt(pos - 1), Anchored: true, Assoc: -1}, nil
	}
	if pos == t.length {
		return RelativePosition{}, nil
	}
	return RelativePosition{ID: t.idAt(pos), Anchored: true}, nil
}

// idAt returns the ID of the visible code point at pos (pos < t.length).
func (t *Text) idAt(pos int) ID {
	lf, i, off := t.locate(pos)
	it := lf.items[i]
	return ID{it.c.id, it.clock + off}
}

// AbsolutePosition returns the code-point position p stands for now, and
// false when this replica does not hold its anchor (yet) or the anchor is
// not a code point of t. A deleted anchor resolves to where it was.
func (t *Text) AbsolutePosition(p RelativePosition) (int, bool) {
	if !p.Anchored {
		if p.Assoc < 0 {
			return 0, true
		}
		return t.length, true
	}
	c := t.doc.clients[p.ID.Client]
	if c == nil || p.ID.Clock >= c.next {
		return 0, false
	}
	it := c.find(p.ID.Clock)
	if it.kind != kindText || it.leaf.t != t {
		return 0, false
	}
	pos := t.posOf(it)
	if it.deleted {
		return pos, true
	}
	pos += int(p.ID.Clock - it.clock)
	if p.Assoc < 0 {
		pos++
	}
	return pos, true
}
