package sync

import (
	"bytes"
	stdsync "sync"

	"github.com/flowstate/flowstate/crdt"
)

// SessionRemotes returns the remote addresses of h's sessions, so that
// tests can tell whether the server still holds a given connection. A
// session's remote address is its client's local address.
func SessionRemotes(h *Hub) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.sessions))
	for s := range h.sessions {
		out = append(out, s.remote)
	}
	return out
}

// DropConnections abruptly closes the sockets of up to n of h's joined
// sessions, as a network failure would: no close frame, no farewell. It
// returns how many it closed.
func DropConnections(h *Hub, n int) int {
	h.mu.Lock()
	var victims []*session
	for s := range h.sessions {
		if len(victims) == n {
			break
		}
		victims = append(victims, s)
	}
	h.mu.Unlock()
	for _, s := range victims {
		_ = s.conn.NetConn().Close()
	}
	return len(victims)
}

// SetCompactEvery makes rooms compact their logs every n appended
// updates until the test ends. Only tests that do not run in parallel may
// call it.
func SetCompactEvery(t interface{ Cleanup(func()) }, n int) {
	old := compactEvery
	compactEvery = n
	t.Cleanup(func() { compactEvery = old })
}

// PanicOn makes applying an update equal to marker apply it and then
// panic, as a CRDT bug might halfway through an update, until the test
// ends. Only tests that do not run in parallel may call it, before their
// server starts.
func PanicOn(t interface{ Cleanup(func()) }, marker []byte) {
	old := crdtApply
	crdtApply = func(doc *crdt.Doc, u []byte) error {
		err := old(doc, u)
		if bytes.Equal(u, marker) {
			panic("test: injected CRDT panic") // after changing the document
		}
		return err
	}
	t.Cleanup(func() { crdtApply = old })
}

// PanicOnceOnRemote makes the first apply of marker that came from
// another server's log apply it and then panic, until the test ends.
// Members' updates and rebuilds from the store are not affected. Only
// tests that do not run in parallel may call it, before their servers
// start.
func PanicOnceOnRemote(t interface{ Cleanup(func()) }, marker []byte) {
	old := crdtApplyRemote
	var once stdsync.Once
	crdtApplyRemote = func(doc *crdt.Doc, u []byte) error {
		err := old(doc, u)
		if bytes.Equal(u, marker) {
			once.Do(func() { panic("test: injected CRDT panic") })
		}
		return err
	}
	t.Cleanup(func() { crdtApplyRemote = old })
}
