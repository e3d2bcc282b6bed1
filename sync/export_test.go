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
