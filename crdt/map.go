package crdt

import (
	"bytes"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
)

// A Map is a named last-writer-wins map from strings to msgpack values,
// shared by all replicas of a Doc: a Set that saw an earlier value of its
// key wins over it; of two concurrent Sets, the one with the greater
// sequence number wins, then the one from the greater client ID.
//
// A Map belongs to its Doc and, like the Doc, is not safe for concurrent use.
type Map struct {
	doc     *Doc
	name    string
	entries map[string]*mapEntry

	observers []*mapObserver
	changed   []string // keys changed in the current transaction, when observed
	touched   bool     // listed in the transaction's touchedMaps
}

// A mapEntry is the winning value of one key.
type mapEntry struct {
	key     string
	seq     uint64 // one more than the seq of the entry its writer saw
	value   []byte // msgpack encoding; nil for a deletion
	deleted bool
	it      *item
	m       *Map
}

func newMap(d *Doc, name string) *Map {
	return &Map{doc: d, name: name, entries: make(map[string]*mapEntry)}
}

// Name returns the map's name in its Doc.
func (m *Map) Name() string { return m.name }

// Set sets key to v and returns the update describing the change. Inside
// Doc.Transact it returns a nil update. v is stored in canonical msgpack
// form (FORMAT.md §8.1), so the same value gives the same bytes whatever Go
// type holds it, here and in other implementations: v may be nil, a
// bool, any integer or float type, a string (valid UTF-8), []byte, a slice
// or array, a map with string keys, or a struct or other type the msgpack
// library marshals to those; extension types such as time.Time are an
// error.
func (m *Map) Set(key string, v any) ([]byte, error) {
	if !utf8.ValidString(key) {
		return nil, fmt.Errorf("crdt: map key %q is not valid UTF-8", key)
	}
	b, err := canonicalValue(v)
	if err == nil {
		err = checkValue(b)
	}
	if err != nil {
		return nil, fmt.Errorf("crdt: map value for %q: %w", key, err)
	}
	return m.doc.local(func() { m.write(key, b, false) })
}

// SetRaw sets key to the msgpack value b, stored and sent byte for byte as
// given, and returns the update describing the change. b must be exactly
// one msgpack value nested at most 64 deep.
func (m *Map) SetRaw(key string, b []byte) ([]byte, error) {
	if !utf8.ValidString(key) {
		return nil, fmt.Errorf("crdt: map key %q is not valid UTF-8", key)
	}
	if err := checkValue(b); err != nil {
		return nil, fmt.Errorf("crdt: map value for %q: %w", key, err)
	}
	b = bytes.Clone(b)
	return m.doc.local(func() { m.write(key, b, false) })
}

// Delete removes key and returns the update describing the change; it
// returns a nil update when the key is absent.
func (m *Map) Delete(key string) ([]byte, error) {
	if _, ok := m.entries[key]; !ok || m.entries[key].deleted {
		return nil, nil
	}
	return m.doc.local(func() { m.write(key, nil, true) })
}

func (m *Map) write(key string, value []byte, del bool) {
	seq := uint64(1)
	if cur := m.entries[key]; cur != nil {
		// Capped at 2^53, the largest seq an update may carry: a peer
		// that wrote 2^53 must not make this replica's writes undecodable.
		seq = min(cur.seq+1, maxClock)
	}
	me := m.doc.me
	if cp := m.doc.txn.capture; cp != nil {
		cp.wrote(m, key, m.entries[key], ID{me.id, me.next})
	}
	m.integrate(me, me.next, key, seq, value, del)
}

// Get returns the value of key decoded from msgpack (integers come back as
// the smallest Go integer type that holds them), and whether it is set.
func (m *Map) Get(key string) (any, bool) {
	e := m.entries[key]
	if e == nil || e.deleted {
		return nil, false
	}
	var v any
	if err := msgpack.Unmarshal(e.value, &v); err != nil {
		return nil, false
	}
	return v, true
}

// GetRaw returns the msgpack encoding of key's value.
func (m *Map) GetRaw(key string) ([]byte, bool) {
	e := m.entries[key]
	if e == nil || e.deleted {
		return nil, false
	}
	return e.value, true
}

// Keys returns the keys that have a value, sorted.
func (m *Map) Keys() []string {
	keys := make([]string, 0, len(m.entries))
	for k, e := range m.entries {
		if !e.deleted {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// Len returns the number of keys that have a value.
func (m *Map) Len() int {
	n := 0
	for _, e := range m.entries {
		if !e.deleted {
			n++
		}
	}
	return n
}

// wins reports whether entry a beats entry b.
func (a *mapEntry) wins(b *mapEntry) bool {
	if a.seq != b.seq {
		return a.seq > b.seq
	}
	return a.it.c.id > b.it.c.id
}

// integrate adds an entry at clock of client c (c.next == clock). A losing
// entry, and the entry a winner replaces, become skip items: their clocks
// stay accounted for, their values are dropped.
func (m *Map) integrate(c *clientState, clock uint64, key string, seq uint64, value []byte, del bool) {
	it := m.doc.newItem()
	*it = item{clock: clock, length: 1, c: c, kind: kindMap}
	e := &mapEntry{key: key, seq: seq, value: value, deleted: del, it: it, m: m}
	c.addHead(it)
	c.next++
	cur := m.entries[key]
	if cur != nil && !e.wins(cur) {
		it.kind = kindSkip
		return
	}
	it.entry = e
	if cur != nil {
		cur.it.kind = kindSkip
		cur.it.entry = nil
	}
	m.entries[key] = e
	m.recordChange(key)
}
