//go:build !linux

package sync

// A poller waits for idle sessions' connections to become readable where
// the system offers a way (poller_linux.go); elsewhere there is none, and
// every session waits in a goroutine of its own.
type poller struct{}

// newPoller returns nil: sessions wait in goroutines.
func newPoller() *poller { return nil }

// wait returns false: the session must wait in a goroutine.
func (p *poller) wait(*session, int64) bool { return false }

// unschedule does nothing.
func (p *poller) unschedule(*session) {}

// forget does nothing.
func (p *poller) forget(*session) {}

// stop does nothing.
func (p *poller) stop() {}
