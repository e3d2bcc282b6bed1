package crdt

// A DeltaOp is one step of a Delta: keep Retain code points, insert the
// text Insert, or remove Delete code points. Exactly one field is set.
type DeltaOp struct {
	Retain int    `json:"retain,omitempty"`
	Insert string `json:"insert,omitempty"`
	Delete int    `json:"delete,omitempty"`
}

// A TextEvent tells an observer how a transaction changed a Text. Delta,
// applied from position 0 of the text as it was before, gives the text as
// it is now; positions count code points. Local is true for edits made on
// this replica.
type TextEvent struct {
	Delta []DeltaOp
	Local bool
}

// A MapEvent tells an observer which keys of a Map a transaction changed.
type MapEvent struct {
	Keys  []string
	Local bool
}

type textObserver struct{ fn func(TextEvent) }

type mapObserver struct{ fn func(MapEvent) }

// Observe calls fn after every transaction that changed t, local or remote,
// and returns a function that stops the calls. An editor binding uses the
// event's Delta to patch its view instead of re-reading the text.
func (t *Text) Observe(fn func(TextEvent)) (cancel func()) {
	o := &textObserver{fn}
	t.observers = append(t.observers, o)
	return func() {
		for i, x := range t.observers {
			if x == o {
				t.observers = append(t.observers[:i:i], t.observers[i+1:]...)
				return
			}
		}
	}
}

// Observe calls fn after every transaction that changed m and returns a
// function that stops the calls.
func (m *Map) Observe(fn func(MapEvent)) (cancel func()) {
	o := &mapObserver{fn}
	m.observers = append(m.observers, o)
	return func() {
		for i, x := range m.observers {
			if x == o {
				m.observers = append(m.observers[:i:i], m.observers[i+1:]...)
				return
			}
		}
	}
}

// change is one positional edit, in the coordinates of the text as it was
// right before it.
type change struct {
	pos    int
	insert string
	delete int
}

func (t *Text) observed() bool { return len(t.observers) > 0 }

func (t *Text) record(ch change) {
	if !t.observed() {
		return
	}
	if len(t.changes) == 0 {
		t.doc.txn.texts = append(t.doc.txn.texts, t)
	}
	t.changes = append(t.changes, ch)
}

func (t *Text) recordInsert(pos int, s string) { t.record(change{pos: pos, insert: s}) }

func (t *Text) recordDelete(pos, n int) { t.record(change{pos: pos, delete: n}) }

func (m *Map) recordChange(key string) {
	if len(m.observers) == 0 {
		return
	}
	if len(m.changed) == 0 {
		m.doc.txn.maps = append(m.doc.txn.maps, m)
	}
	m.changed = append(m.changed, key)
}

// flush composes the recorded changes into one delta and calls observers.
func (t *Text) flush(local bool) {
	if len(t.changes) == 0 {
		return
	}
	ev := TextEvent{Delta: compose(t.changes), Local: local}
	t.changes = nil
	if len(ev.Delta) == 0 {
		return // text inserted and deleted again: nothing to tell
	}
	for _, o := range append([]*textObserver(nil), t.observers...) {
		o.fn(ev)
	}
}

func (m *Map) flush(local bool) {
	if len(m.changed) == 0 {
		return
	}
	seen := make(map[string]bool, len(m.changed))
	var keys []string
	for _, k := range m.changed {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	m.changed = nil
	ev := MapEvent{Keys: keys, Local: local}
	for _, o := range append([]*mapObserver(nil), m.observers...) {
		o.fn(ev)
	}
}

// span is a piece of a delta being built: n code points that are either
// kept from the old text (ins == nil, del false), removed from it (del), or
// inserted (ins holds them).
type span struct {
	n   int
	del bool
	ins []rune
}

// compose turns a sequence of positional changes into one delta from the
// text before the first change to the text after the last.
func compose(changes []change) []DeltaOp {
	// A single retain of "the rest" is implicit at the end; spans cover
	// only the prefix of the text the changes reached.
	var spans []span
	for _, ch := range changes {
		if ch.insert != "" {
			spans = insertSpan(spans, ch.pos, []rune(ch.insert))
		} else if ch.delete > 0 {
			spans = deleteSpan(spans, ch.pos, ch.delete)
		}
	}
	var out []DeltaOp
	push := func(op DeltaOp) {
		if n := len(out); n > 0 {
			last := &out[n-1]
			switch {
			case op.Retain > 0 && last.Retain > 0:
				last.Retain += op.Retain
				return
			case op.Delete > 0 && last.Delete > 0:
				last.Delete += op.Delete
				return
			case op.Insert != "" && last.Insert != "":
				last.Insert += op.Insert
				return
			}
		}
		out = append(out, op)
	}
	for _, s := range spans {
		switch {
		case s.ins != nil:
			if len(s.ins) > 0 {
				push(DeltaOp{Insert: string(s.ins)})
			}
		case s.del:
			push(DeltaOp{Delete: s.n})
		default:
			push(DeltaOp{Retain: s.n})
		}
	}
	for len(out) > 0 && out[len(out)-1].Retain > 0 {
		out = out[:len(out)-1]
	}
	return out
}

// seekSpan splits spans so that a span boundary falls at new-text position
// pos and returns the index of the first span at or after it. Positions
// past the covered prefix extend it with a kept span.
func seekSpan(spans []span, pos int) ([]span, int) {
	p := 0
	for i := 0; i < len(spans); i++ {
		s := spans[i]
		if s.del {
			continue
		}
		n := s.n
		if s.ins != nil {
			n = len(s.ins)
		}
		if pos == p {
			return spans, i
		}
		if pos < p+n {
			k := pos - p
			var a, b span
			if s.ins != nil {
				a = span{ins: append([]rune(nil), s.ins[:k]...)}
				b = span{ins: append([]rune(nil), s.ins[k:]...)}
			} else {
				a, b = span{n: k}, span{n: n - k}
			}
			spans[i] = a
			spans = append(spans, span{})
			copy(spans[i+2:], spans[i+1:])
			spans[i+1] = b
			return spans, i + 1
		}
		p += n
	}
	if pos > p {
		spans = append(spans, span{n: pos - p})
	}
	return spans, len(spans)
}

func insertSpan(spans []span, pos int, ins []rune) []span {
	spans, i := seekSpan(spans, pos)
	spans = append(spans, span{})
	copy(spans[i+1:], spans[i:])
	spans[i] = span{ins: ins}
	return spans
}

func deleteSpan(spans []span, pos, n int) []span {
	spans, i := seekSpan(spans, pos)
	spans, _ = seekSpan(spans, pos+n)
	for ; n > 0 && i < len(spans); i++ {
		s := &spans[i]
		switch {
		case s.del:
		case s.ins != nil:
			n -= len(s.ins)
			s.ins = s.ins[:0]
		default:
			n -= s.n
			s.del = true
		}
	}
	return spans
}
