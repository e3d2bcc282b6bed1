package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// procStat is what /proc says a process has used so far: CPU time, context
// switches summed over its threads, and write system calls.
type procStat struct {
	userS, systemS float64
	vcsw, ivcsw    int64 // voluntary and involuntary context switches
	syscw          int64 // write system calls; -1 where /proc/PID/io is unreadable
}

// clockTicks is the unit of utime and stime in /proc/PID/stat (USER_HZ),
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// readProcStat reads the counters of process pid from /proc.
func readProcStat(pid int) (procStat, error) {
	var st procStat
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, err
	}
	// The command name, in parentheses, may hold spaces: count fields from
	// its end. utime and stime are fields 14 and 15 of the line.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return st, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return st, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	stm, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return st, fmt.Errorf("/proc/%d/stat: bad utime or stime", pid)
	}
	st.userS, st.systemS = float64(ut)/clockTicks, float64(stm)/clockTicks
	// /proc/PID/status counts the main thread's switches only.
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return st, err
	}
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, t.Name()))
		if err != nil {
			continue // the thread ended
		}
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				st.vcsw += n
			} else if v, ok := strings.CutPrefix(line, "nonvoluntary_ctxt_switches:"); ok {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				st.ivcsw += n
			}
		}
	}
	st.syscw = -1
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid)); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "syscw:"); ok {
				if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
					st.syscw = n
				}
			}
		}
	}
	return st, nil
}

// perDelivery divides the use between a and b by n deliveries into r.
func (r *loadResult) setPerDelivery(a, b procStat, n int64) {
	if n <= 0 {
		return
	}
	d := float64(n)
	r.ServerUserUs = (b.userS - a.userS) * 1e6 / d
	r.ServerSystemUs = (b.systemS - a.systemS) * 1e6 / d
	r.ServerCPUUs = r.ServerUserUs + r.ServerSystemUs
	r.ServerVCSW = float64(b.vcsw-a.vcsw) / d
	r.ServerIVCSW = float64(b.ivcsw-a.ivcsw) / d
	if a.syscw >= 0 && b.syscw >= 0 {
		w := float64(b.syscw-a.syscw) / d
		r.ServerWrites = &w
	}
}
