package sync

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
