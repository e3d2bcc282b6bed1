package crdt

import (
	"bytes"
	"fmt"
)

// Validation runs before an update changes anything, so that an update is
// applied whole or refused whole (FORMAT.md §5.1). It refuses two things:
//
//   - a second history under one client ID: a record covering clocks the
//     document already holds, or holds in pending, that says something else
//     about them (another type, other origins, other content, another map
//     entry). Peers that restart from an old copy of themselves and keep
//     their client ID produce these, and so can a hostile peer; mixing the
//     two histories would break the document.
//   - a text record whose origin, where the document or the update holds
//     it, is not a code point of the record's own text.
//
// Each record costs a binary search in the document plus the document
// items and pending records it overlaps: O(records × log n) for new
// changes, and linear in the overlap for re-sent ones.

// validate checks update u against the document.
func (d *Doc) validate(u *decoded) error {
	for bi := range u.blocks {
		b := &u.blocks[bi]
		c := d.clients[b.client]
		var ov overlap
		for i := b.from; i < b.to; i++ {
			r := &u.recs[i]
			if c != nil {
				if err := ov.check(d, u, c, r); err != nil {
					return err
				}
			}
			if r.kind != kindText || c != nil && r.clock+r.length <= c.next {
				// Compatible with what the document holds, origins included.
				continue
			}
			if !d.originsOK(u, r) {
				return badOrigin(b.client, r.clock)
			}
		}
	}
	return nil
}

// badOrigin is the error for a text record of client at clock whose origin
// is not a code point of the record's own text.
func badOrigin(client ClientID, clock uint64) error {
	return fmt.Errorf("%w: an origin of client %d at clock %d is not a code point of the same text", ErrInvalidUpdate, client, clock)
}

// conflict is the error for a record that gives clocks the document holds
// a different history.
func conflict(client ClientID, clock uint64, what string) error {
	return fmt.Errorf("%w: client %d at clock %d conflicts with what the document holds (%s)", ErrInvalidUpdate, client, clock, what)
}

// originsOK reports whether both origins of text record r can serve it:
// each must be a code point of r's text where the document or u holds
// it. An origin neither holds is checked when the record integrates.
func (d *Doc) originsOK(u *decoded, r *record) bool {
	left, leftIn := d.knownRef(r.hasLeft, r.left)
	right, rightIn := d.knownRef(r.hasRight, r.right)
	if leftIn && rightIn && r.hasLeft && r.hasRight {
		// Both in the document, the common case: look them up together.
		l, rt := findPair(left, right)
		return u.servesText(l, r.typ) && u.servesText(rt, r.typ)
	}
	return d.originOK(u, r.hasLeft, r.left, left, leftIn, r.typ) &&
		d.originOK(u, r.hasRight, r.right, right, rightIn, r.typ)
}

// originOK is originsOK for one origin id (if has is set): at and in are
// what knownRef says of it.
func (d *Doc) originOK(u *decoded, has bool, id ID, at ref, in bool, typ int) bool {
	switch {
	case !has:
		return true
	case in:
		return u.servesText(at.c.find(at.clock), typ)
	}
	if rt, found := u.textTypeOf(id); found {
		return rt == typ
	}
	return true
}

// servesText reports whether document item it is a code point of u's
// type typ.
func (u *decoded) servesText(it *item, typ int) bool {
	return it.kind == kindText && it.leaf.t.name == string(u.types[typ].name)
}

// overlap compares the records of one block with what the document holds
// at their clocks. It keeps the byte offset reached in the current record's
// content, so that a record overlapping many items is read once.
type overlap struct {
	r        *record
	runes    uint64 // code points of r.content before off
	off      int
	typeName []byte
	// The same for the document item or pending record compared last: a
	// hostile update may cut one long run into many one-code-point
	// records, which must not each count the run's bytes from its start.
	other      any
	otherClock uint64 // the clock at otherOff
	otherOff   int
}

// otherContent returns the code points [lo, hi) of content s, which starts
// at clock start and belongs to owner (an item or a pending record).
func (ov *overlap) otherContent(owner any, s []byte, start, lo, hi uint64) []byte {
	if ov.other != owner || lo < ov.otherClock {
		ov.other, ov.otherClock, ov.otherOff = owner, start, 0
	}
	ov.otherOff += takeRunes(s[ov.otherOff:], lo-ov.otherClock)
	ov.otherClock = lo
	rest := s[ov.otherOff:]
	return rest[:takeRunes(rest, hi-lo)]
}

// contentAt returns the content of r's code points [lo, hi), which must
// not lie before the previous call's.
func (ov *overlap) contentAt(r *record, lo, hi uint64) []byte {
	if ov.r != r || lo-r.clock < ov.runes {
		ov.r, ov.runes, ov.off = r, 0, 0
	}
	rest := r.content[ov.off:]
	skip := takeRunes(rest, lo-r.clock-ov.runes)
	ov.off += skip
	ov.runes = lo - r.clock
	return r.content[ov.off:][:takeRunes(r.content[ov.off:], hi-lo)]
}

// check compares record r of client c with the document's items and
// pending records at r's clocks.
func (ov *overlap) check(d *Doc, u *decoded, c *clientState, r *record) error {
	end := r.clock + r.length
	if r.kind == kindText || r.kind == kindMap {
		ov.typeName = u.types[r.typ].name
	}
	if r.clock < c.next {
		stop := min(end, c.next)
		it := c.find(r.clock)
		for clock := r.clock; clock < stop; {
			if it.clock+it.length <= clock {
				if it = it.next; it == nil {
					it = c.find(clock)
				}
				continue
			}
			hi := min(it.clock+it.length, stop)
			if what := ov.againstItem(c, r, it, clock, hi); what != "" {
				return conflict(c.id, clock, what)
			}
			clock = hi
		}
	}
	if end > c.next {
		lo := max(r.clock, c.next)
		var err error
		c.pendingOverlapping(lo, end, func(p *record) bool {
			from := max(lo, p.clock)
			if what := ov.againstPending(c, r, p, from, min(end, p.clock+p.length)); what != "" {
				err = conflict(c.id, from, what)
				return false
			}
			return true
		})
		return err
	}
	return nil
}

// leftAt is the left origin of clock k of a run of client c that starts at
// clock start with left origin (has, left).
func leftAt(c ClientID, start, k uint64, has bool, left ID) (bool, ID) {
	if k > start {
		return true, ID{c, k - 1}
	}
	return has, left
}

func refID(r ref) (bool, ID) {
	if r.none() {
		return false, ID{}
	}
	return true, ID{r.c.id, r.clock}
}

// againstItem compares r with document item it over clocks [lo, hi) and
// returns what differs, or "".
func (ov *overlap) againstItem(c *clientState, r *record, it *item, lo, hi uint64) string {
	switch r.kind {
	case kindText:
		if it.kind != kindText {
			return "text where the document has a map entry"
		}
		t := it.leaf.t
		if t.name != string(ov.typeName) {
			return "another text"
		}
		hl, l := leftAt(c.id, r.clock, lo, r.hasLeft, r.left)
		il, iLeft := refID(it.left)
		il, iLeft = leftAt(c.id, it.clock, lo, il, iLeft)
		ir, iRight := refID(it.right)
		if hl != il || l != iLeft || r.hasRight != ir || r.right != iRight {
			return "other origins"
		}
		if r.rich != it.rich {
			return "another kind of text item"
		}
		if r.rich == richStart {
			m := t.marks[ID{c.id, it.clock}]
			if m.key != string(r.key) || !bytes.Equal(m.value, r.value) || m.seq != r.seq || m.expand != r.expand {
				return "another mark"
			}
		}
		if r.rich == richEmbed && r.value != nil && !it.deleted && !bytes.Equal(t.embeds[ID{c.id, it.clock}], r.value) {
			return "another embed"
		}
		if r.content != nil && !it.deleted {
			s := ov.otherContent(it, t.arena[it.start:it.end], it.clock, lo, hi)
			if !bytes.Equal(s, ov.contentAt(r, lo, hi)) {
				return "other text"
			}
		}
	case kindMap:
		switch it.kind {
		case kindText:
			return "a map entry where the document has text"
		case kindMap:
			e := it.entry
			if e.m.name != string(ov.typeName) || e.key != string(r.key) || e.seq != r.seq ||
				e.deleted != r.del || !bytes.Equal(e.value, r.value) {
				return "another map entry"
			}
		}
	case kindSkip:
		if it.kind == kindText {
			return "a skip where the document has text"
		}
	}
	return ""
}

// againstPending compares r with pending record p over clocks [lo, hi).
func (ov *overlap) againstPending(c *clientState, r, p *record, lo, hi uint64) string {
	if r.kind == kindText || p.kind == kindText {
		if r.kind != p.kind {
			return "text against a map entry or skip"
		}
		if p.text.name != string(ov.typeName) {
			return "another text"
		}
		hl, l := leftAt(c.id, r.clock, lo, r.hasLeft, r.left)
		pl, pLeft := leftAt(c.id, p.clock, lo, p.hasLeft, p.left)
		if hl != pl || l != pLeft || r.hasRight != p.hasRight || r.right != p.right {
			return "other origins"
		}
		if r.rich != p.rich || r.expand != p.expand || r.seq != p.seq || !bytes.Equal(r.key, p.key) {
			return "another kind of text item or mark"
		}
		if r.content != nil && p.content != nil {
			s := ov.otherContent(p, p.content, p.clock, lo, hi)
			if !bytes.Equal(s, ov.contentAt(r, lo, hi)) {
				return "other text"
			}
		}
		return ""
	}
	if r.kind == kindMap && p.kind == kindMap {
		if p.m.name != string(ov.typeName) || !bytes.Equal(p.key, r.key) || p.seq != r.seq ||
			p.del != r.del || !bytes.Equal(p.value, r.value) {
			return "another map entry"
		}
	}
	return ""
}

// noteOwnClient records that u, which is about to be applied, holds
// changes under the document's own client ID that the document did not
// make: clocks at or past its own. The document then takes a fresh client
// ID before its next local edit, so that it never writes a second history
// under the old one (FORMAT.md §6.5).
func (d *Doc) noteOwnClient(u *decoded) {
	me := d.me
	for _, b := range u.blocks {
		if b.client == me.id && b.end > me.next {
			d.foreignOwn = true
		}
	}
	for _, dc := range u.deletes {
		if dc.client == me.id && u.ranges[dc.to-1].end > me.next {
			d.foreignOwn = true
		}
	}
}

// switchClockLimit is the own clock from which a Doc takes a fresh client
// ID before a local edit: far below 2^53, so no transaction can cross it.
const switchClockLimit = 1 << 52

// freshClientIfNeeded switches the local client ID, before a local
// transaction, when the old one can no longer be written safely.
func (d *Doc) freshClientIfNeeded() {
	if !d.foreignOwn && d.me.next < switchClockLimit {
		return
	}
	id := randomClientID()
	for d.clients[id] != nil {
		id = randomClientID()
	}
	d.me = d.client(id)
	d.foreignOwn = false
}

// ResumeClientID makes id the client ID of the document's local edits. The
// caller asserts that the document holds every change ever made under id
// (it is the only copy of that replica and nothing it wrote was lost), so
// that new edits continue id's history rather than write a second one. A
// Doc never reuses a client ID on its own: one that receives changes under
// its own ID it did not make, its own snapshot included, switches to a
// fresh ID before its next edit, and so does one whose clock nears 2^53.
func (d *Doc) ResumeClientID(id ClientID) error {
	if id > MaxClientID {
		return fmt.Errorf("crdt: client ID %d exceeds 2^53-1", id)
	}
	if d.txn != nil {
		return fmt.Errorf("crdt: ResumeClientID called inside a transaction")
	}
	d.me = d.client(id)
	d.foreignOwn = false
	return nil
}
