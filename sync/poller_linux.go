package sync

import (
	"errors"
	"sync"
	"syscall"
)

// A poller waits, in one goroutine for all of a hub's idle sessions, for
// their connections to become readable (idle.go). It registers each
// connection with an epoll instance of its own, one-shot, keyed by a
// number of the session's; the runtime's poller keeps its own
// registration of the same socket for the reads and writes that block.
type poller struct {
	epfd         int
	stopR, stopW int           // a pipe whose readability stops the loop
	done         chan struct{} // closed when the loop has returned
	stopOnce     sync.Once

	mu sync.Mutex
	// mu guards sessions and last.
	sessions map[uint64]*session // by pollID
	last     uint64              // the last pollID given
}

// pollEvents are the events that end a session's wait: bytes to read, the
// client's end of the connection closed, or an error. The registration
// disarms itself after one event, so that only one goroutine resumes the
// session; waiting again re-arms it.
const pollEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

// newPoller starts a poller, or returns nil if the system refuses one;
// sessions then wait in a goroutine each.
func newPoller() *poller {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	var pipe [2]int
	if err := syscall.Pipe2(pipe[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return nil
	}
	// The pipe's number is 0, which no session has.
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, pipe[0], &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(pipe[0])
		syscall.Close(pipe[1])
		return nil
	}
	p := &poller{
		epfd:     epfd,
		stopR:    pipe[0],
		stopW:    pipe[1],
		done:     make(chan struct{}),
		sessions: make(map[uint64]*session),
	}
	go p.loop()
	return p
}

// loop wakes the sessions whose connections the kernel reports, until
// stop.
func (p *poller) loop() {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 128)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			// Nothing can be waited for any more: resume every
			// session, which then waits in a goroutine of its own.
			p.mu.Lock()
			waiting := make([]*session, 0, len(p.sessions))
			for _, s := range p.sessions {
				waiting = append(waiting, s)
			}
			p.sessions = nil
			p.mu.Unlock()
			for _, s := range waiting {
				s.wake()
			}
			return
		}
		for _, ev := range events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if id == 0 {
				return
			}
			p.mu.Lock()
			s := p.sessions[id]
			p.mu.Unlock()
			if s != nil {
				s.wake()
			}
		}
	}
}

// wait arms the poller to wake s when its connection becomes readable;
// the session has marked itself parked, and may be woken before wait
// returns. It returns false if the poller cannot wait for s: its socket
// has closed, or the poller has failed.
func (p *poller) wait(s *session) bool {
	op := syscall.EPOLL_CTL_MOD
	p.mu.Lock()
	if p.sessions == nil {
		p.mu.Unlock()
		return false
	}
	if s.pollID == 0 {
		p.last++
		s.pollID = p.last
		p.sessions[s.pollID] = s
		op = syscall.EPOLL_CTL_ADD
	}
	p.mu.Unlock()
	id := s.pollID
	var ctlErr error
	// Inside Control the socket is open: a connection closed meanwhile
	// cannot have passed its number on to another one.
	err := s.rawConn.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: pollEvents, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
		ctlErr = syscall.EpollCtl(p.epfd, op, int(fd), &ev)
	})
	return err == nil && ctlErr == nil
}

// forget drops a session that has ended. The kernel dropped its socket's
// registration when the socket closed.
func (p *poller) forget(s *session) {
	if p == nil || s.pollID == 0 {
		return
	}
	p.mu.Lock()
	delete(p.sessions, s.pollID)
	p.mu.Unlock()
}

// stop ends the loop and releases the poller's descriptors, once no
// session waits any more. Later calls do nothing.
func (p *poller) stop() {
	if p == nil {
		return
	}
	p.stopOnce.Do(func() {
		_, _ = syscall.Write(p.stopW, []byte{0})
		<-p.done
		syscall.Close(p.epfd)
		syscall.Close(p.stopR)
		syscall.Close(p.stopW)
	})
}
