package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

const floorUsageText = `Usage:

	flowstate bench floor [flags]

Measures the kernel's floor under a delivery: the CPU time the writing
thread spends on one small write(2) to a loopback TCP socket whose reader
is parked waiting for it, at a given rate spread round-robin over a number
of sockets. A server that writes each delivery once cannot spend less per
delivery than this; compare "bench load" figures with it at the same write
rate and number of connections.

Flags:
`

// floorFlags are the flags of "flowstate bench floor".
type floorFlags struct {
	sockets  int
	rate     float64
	size     int
	duration time.Duration
	json     bool
	readers  string // "process" or "goroutines"
	reader   string // the address to read from, in the reader process
}

func newFloorFlagSet(f *floorFlags, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("bench floor", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.IntVar(&f.sockets, "sockets", 100, "number of loopback connections written to in turn")
	fs.Float64Var(&f.rate, "rate", 10000, "writes per second, over all sockets")
	fs.IntVar(&f.size, "size", 40, "bytes per write")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "how long to write")
	fs.BoolVar(&f.json, "json", false, "print one JSON object instead of text")
	fs.StringVar(&f.readers, "readers", "process", "where the readers run: process (another process, as clients do) or goroutines (this one)")
	fs.StringVar(&f.reader, "reader", "", "run as the reader process, reading from `addr` (started by bench floor itself)")
	fs.Usage = func() {
		fmt.Fprint(out, floorUsageText)
		fs.PrintDefaults()
	}
	return fs
}

// floorResult is what "bench floor --json" prints.
type floorResult struct {
	Sockets      int     `json:"sockets"`
	Writes       int64   `json:"writes"`
	WritesPerS   float64 `json:"writes_per_s"`
	UserUs       float64 `json:"writer_user_us_per_write"`
	SystemUs     float64 `json:"writer_system_us_per_write"`
	CPUUs        float64 `json:"writer_cpu_us_per_write"`
	ProcessCPUUs float64 `json:"process_cpu_us_per_write"` // the readers' wake-ups and reads too
}

func runBenchFloor(args []string, stdout, stderr io.Writer) int {
	var f floorFlags
	fs := newFloorFlagSet(&f, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if f.sockets < 1 || f.rate <= 0 || f.size < 1 || f.duration <= 0 {
		fmt.Fprintln(stderr, "flowstate bench floor: --sockets, --rate, --size and --duration must be positive")
		return 2
	}
	if f.readers != "process" && f.readers != "goroutines" {
		fmt.Fprintf(stderr, "flowstate bench floor: --readers %q: want process or goroutines\n", f.readers)
		return 2
	}
	raiseFileLimit(stderr)
	if f.reader != "" {
		if err := floorReader(f.reader, f.sockets); err != nil {
			fmt.Fprintf(stderr, "flowstate bench floor: reader: %v\n", err)
			return 1
		}
		return 0
	}
	res, err := benchFloor(f)
	if err != nil {
		fmt.Fprintf(stderr, "flowstate bench floor: %v\n", err)
		return 1
	}
	if f.json {
		_ = json.NewEncoder(stdout).Encode(res)
	} else {
		fmt.Fprintf(stdout, "%d writes of %d bytes to %d sockets (%.0f/s): writer thread %.2f µs per write (user %.2f, system %.2f); whole process %.2f µs\n",
			res.Writes, f.size, res.Sockets, res.WritesPerS, res.CPUUs, res.UserUs, res.SystemUs, res.ProcessCPUUs)
	}
	return 0
}

// rusageThread is RUSAGE_THREAD, which package syscall does not name.
const rusageThread = 1

func threadCPU(who int) (user, system time.Duration) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(who, &ru)
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

func benchFloor(f floorFlags) (*floorResult, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	fds := make([]int, 0, f.sockets)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if f.readers == "process" {
		// The readers run in a process of their own, as clients do, so
		// that each write wakes a thread of another process.
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(exe, "bench", "floor", "--reader", ln.Addr().String(), "--sockets", strconv.Itoa(f.sockets))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		defer func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}()
	}
	for range f.sockets {
		if f.readers == "goroutines" {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				return nil, err
			}
			conns = append(conns, c)
			go drain(c)
		}
		s, err := ln.Accept()
		if err != nil {
			return nil, err
		}
		conns = append(conns, s)
		rc, err := s.(*net.TCPConn).SyscallConn()
		if err != nil {
			return nil, err
		}
		_ = rc.Control(func(fd uintptr) { fds = append(fds, int(fd)) })
	}
	msg := make([]byte, f.size)
	done := make(chan *floorResult)
	go func() {
		// One OS thread does every write, so that its CPU time is theirs.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var user, system time.Duration
		var writes int64
		pu0, ps0 := threadCPU(syscall.RUSAGE_SELF)
		start := time.Now()
		for next := 0; ; {
			elapsed := time.Since(start)
			if elapsed >= f.duration {
				break
			}
			due := int64(elapsed.Seconds()*f.rate) - writes
			if due > 0 {
				u0, s0 := threadCPU(rusageThread)
				for range due {
					_, _ = syscall.Write(fds[next], msg)
					next = (next + 1) % len(fds)
				}
				u1, s1 := threadCPU(rusageThread)
				user, system, writes = user+u1-u0, system+s1-s0, writes+due
			}
			time.Sleep(time.Millisecond)
		}
		elapsed := time.Since(start)
		pu1, ps1 := threadCPU(syscall.RUSAGE_SELF)
		n := float64(max(writes, 1))
		done <- &floorResult{
			Sockets:      f.sockets,
			Writes:       writes,
			WritesPerS:   float64(writes) / elapsed.Seconds(),
			UserUs:       float64(user.Microseconds()) / n,
			SystemUs:     float64(system.Microseconds()) / n,
			CPUUs:        float64((user + system).Microseconds()) / n,
			ProcessCPUUs: float64((pu1 + ps1 - pu0 - ps0).Microseconds()) / n,
		}
	}()
	return <-done, nil
}

// drain reads c until it fails. The reader parks in the runtime's poller
// until data arrives, as a client waiting for the next edit does.
func drain(c net.Conn) {
	buf := make([]byte, 4096)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

// floorReader is the reader process: it opens n connections to addr and
// reads them until the writer goes away.
func floorReader(addr string, n int) error {
	var wg sync.WaitGroup
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			drain(c)
		}()
	}
	wg.Wait()
	return nil
}
