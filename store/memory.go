package store

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Memory is a Store that keeps everything in memory: rooms survive being
// closed and reopened, but not the process. It is for tests and for
// explicitly ephemeral servers.
type Memory struct {
	mu sync.Mutex
	// mu guards rooms, outbox and closed.
	rooms  map[string]*memoryRoom
	outbox map[string][]byte
	closed bool
}

type memoryRoom struct {
	snapshot []byte
	log      [][]byte
	logBytes int
	changed  time.Time
	owners   map[uint64]string
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{rooms: make(map[string]*memoryRoom)}
}

// Load implements Store.
func (m *Memory) Load(room string) ([]byte, [][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, nil, ErrClosed
	}
	r := m.rooms[room]
	if r == nil {
		return nil, nil, nil
	}
	return r.snapshot, slices.Clone(r.log), nil
}

// Append implements Store. It copies updates, so the caller may reuse
// them.
func (m *Memory) Append(room string, updates ...[]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if len(updates) == 0 {
		return nil
	}
	r := m.room(room)
	for _, u := range updates {
		r.log = append(r.log, slices.Clone(u))
		r.logBytes += len(u)
	}
	r.changed = time.Now()
	return nil
}

// Compact implements Store.
func (m *Memory) Compact(room string, snapshot []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	r := m.room(room)
	r.snapshot, r.log, r.logBytes, r.changed = snapshot, nil, 0, time.Now()
	return nil
}

// Owners implements Store.
func (m *Memory) Owners(room string) (map[uint64]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if r := m.rooms[room]; r != nil && len(r.owners) > 0 {
		return maps.Clone(r.owners), nil
	}
	return nil, nil
}

// SetOwners implements Store.
func (m *Memory) SetOwners(room string, owners map[uint64]string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if len(owners) == 0 {
		return nil
	}
	r := m.room(room)
	if r.owners == nil {
		r.owners = make(map[uint64]string, len(owners))
	}
	for id, who := range owners {
		if _, ok := r.owners[id]; !ok {
			r.owners[id] = who
		}
	}
	return nil
}

// Rooms implements Store.
func (m *Memory) Rooms() ([]RoomInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	out := make([]RoomInfo, 0, len(m.rooms))
	for name, r := range m.rooms {
		out = append(out, RoomInfo{Name: name, SnapshotBytes: len(r.snapshot), LogEntries: len(r.log), LogBytes: r.logBytes, LastChange: r.changed})
	}
	slices.SortFunc(out, func(a, b RoomInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Delete implements Store.
func (m *Memory) Delete(room string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	delete(m.rooms, room)
	return nil
}

// Close implements Store.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.rooms = nil
	return nil
}

// room returns the named room, creating it. m.mu must be held.
func (m *Memory) room(name string) *memoryRoom {
	r := m.rooms[name]
	if r == nil {
		r = &memoryRoom{}
		m.rooms[name] = r
	}
	return r
}

// Ready reports whether the store can take writes: nil until it is closed,
// then ErrClosed.
func (m *Memory) Ready() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	return nil
}
