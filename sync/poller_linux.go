package sync

import (
	"container/heap"
	"errors"
	"sync"
	"syscall"
	"time"
)

// A poller waits, in one goroutine for all of a hub's idle sessions, for
// their connections to become readable or their read deadlines to pass
// (idle.go). It registers each connection with an epoll instance of its
// own, one-shot, keyed by a number of the session's; the runtime's poller
// keeps its own registration of the same socket for the reads and writes
// that block. The deadlines wait in a heap, earliest first, which sets
// how long each epoll_wait may sleep: no session needs a timer of its own.
type poller struct {
	epfd         int
	pokeR, pokeW int           // a pipe that interrupts the loop's wait
	done         chan struct{} // closed when the loop has returned
	stopOnce     sync.Once

	mu sync.Mutex
	// mu guards the fields below and each session's pollDeadline and
	// pollIndex.
	sessions  map[uint32]*session // by pollID
	last      uint32              // the last pollID given
	deadlines deadlineHeap        // the parked sessions with a read deadline
	sleeping  int64               // when the loop's wait ends (Unix ns); 0: never
	stopping  bool
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
		pokeR:    pipe[0],
		pokeW:    pipe[1],
		done:     make(chan struct{}),
		sessions: make(map[uint32]*session),
	}
	go p.loop()
	return p
}

// loop wakes the sessions whose connections the kernel reports and those
// whose deadlines have passed, until stop.
func (p *poller) loop() {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 128)
	var due []*session
	for {
		timeout := -1
		p.mu.Lock()
		if p.stopping {
			p.mu.Unlock()
			return
		}
		p.sleeping = 0
		if len(p.deadlines) > 0 {
			p.sleeping = p.deadlines[0].pollDeadline
			// Rounded up: waking early only means waiting again.
			timeout = int(max(0, (p.sleeping-time.Now().UnixNano()+int64(time.Millisecond)-1)/int64(time.Millisecond)))
		}
		p.mu.Unlock()
		n, err := syscall.EpollWait(p.epfd, events, timeout)
		if err != nil && !errors.Is(err, syscall.EINTR) {
			p.fail()
			return
		}
		for _, ev := range events[:max(n, 0)] {
			if ev.Fd == 0 {
				p.drain()
				continue
			}
			p.mu.Lock()
			s := p.sessions[uint32(ev.Fd)]
			p.mu.Unlock()
			if s != nil {
				s.wake()
			}
		}
		now := time.Now().UnixNano()
		p.mu.Lock()
		for len(p.deadlines) > 0 && p.deadlines[0].pollDeadline <= now {
			due = append(due, heap.Pop(&p.deadlines).(*session))
		}
		p.mu.Unlock()
		for _, s := range due {
			s.wake()
		}
		clear(due)
		due = due[:0]
	}
}

// fail resumes every session when nothing can be waited for any more;
// each then waits in a goroutine of its own.
func (p *poller) fail() {
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
}

// poke interrupts the loop's wait.
func (p *poller) poke() { _, _ = syscall.Write(p.pokeW, []byte{0}) }

// drain empties the pipe after a poke.
func (p *poller) drain() {
	var b [64]byte
	for {
		if n, err := syscall.Read(p.pokeR, b[:]); n <= 0 || err != nil {
			return
		}
	}
}

// wait arms the poller to wake s when its connection becomes readable or
// deadline (Unix ns, 0 for none) passes; the session has
// marked itself parked, and may be woken before wait returns. It returns
// false if the poller cannot wait for s: its socket has closed, or the
// poller has failed.
func (p *poller) wait(s *session, deadline int64) bool {
	op := syscall.EPOLL_CTL_MOD
	p.mu.Lock()
	if p.sessions == nil {
		p.mu.Unlock()
		return false
	}
	if s.pollID == 0 {
		for p.last++; p.last == 0 || p.sessions[p.last] != nil; p.last++ {
		}
		s.pollID = p.last
		p.sessions[s.pollID] = s
		op = syscall.EPOLL_CTL_ADD
	}
	poke := false
	if deadline != 0 {
		s.pollDeadline = deadline
		if s.pollIndex > 0 {
			heap.Fix(&p.deadlines, int(s.pollIndex-1))
		} else {
			heap.Push(&p.deadlines, s)
		}
		poke = p.sleeping == 0 || deadline < p.sleeping
	}
	p.mu.Unlock()
	if poke {
		p.poke()
	}
	id := s.pollID
	var ctlErr error
	// Inside Control the socket is open: a connection closed meanwhile
	// cannot have passed its number on to another one.
	err := s.rawConn.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: pollEvents, Fd: int32(id)}
		ctlErr = syscall.EpollCtl(p.epfd, op, int(fd), &ev)
	})
	return err == nil && ctlErr == nil
}

// unschedule drops the deadline of a session that woke.
func (p *poller) unschedule(s *session) {
	p.mu.Lock()
	if s.pollIndex > 0 {
		heap.Remove(&p.deadlines, int(s.pollIndex-1))
	}
	p.mu.Unlock()
}

// forget drops a session that has ended. The kernel dropped its socket's
// registration when the socket closed.
func (p *poller) forget(s *session) {
	p.mu.Lock()
	if p.sessions != nil {
		delete(p.sessions, s.pollID)
	}
	if s.pollIndex > 0 {
		heap.Remove(&p.deadlines, int(s.pollIndex-1))
	}
	p.mu.Unlock()
}

// stop ends the loop and releases the poller's descriptors, once no
// session waits any more. Later calls do nothing.
func (p *poller) stop() {
	if p == nil {
		return
	}
	p.stopOnce.Do(func() {
		p.mu.Lock()
		p.stopping = true
		p.mu.Unlock()
		p.poke()
		<-p.done
		syscall.Close(p.epfd)
		syscall.Close(p.pokeR)
		syscall.Close(p.pokeW)
	})
}

// A deadlineHeap orders parked sessions by pollDeadline; each session's
// pollIndex is its position plus one, 0 when it is not in the heap.
type deadlineHeap []*session

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].pollDeadline < h[j].pollDeadline }
func (h deadlineHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].pollIndex, h[j].pollIndex = int32(i+1), int32(j+1)
}
func (h *deadlineHeap) Push(x any) {
	s := x.(*session)
	s.pollIndex = int32(len(*h) + 1)
	*h = append(*h, s)
}
func (h *deadlineHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	s.pollIndex = 0
	return s
}
