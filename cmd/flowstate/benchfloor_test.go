package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

func TestReadProcStat(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	a, err := readProcStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Spend CPU time and switch contexts, so the counters must move.
	x := 0
	for i := range 50_000_000 {
		x += i % 7
	}
	for range 20 {
		runtime.Gosched()
		_, _ = os.ReadFile("/proc/self/stat")
	}
	b, err := readProcStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if b.userS+b.systemS <= a.userS+a.systemS {
		t.Errorf("CPU time did not grow: %+v then %+v (x=%d)", a, b, x)
	}
	if b.vcsw+b.ivcsw == 0 {
		t.Errorf("no context switches counted: %+v", b)
	}
	if _, err := readProcStat(-1); err == nil {
		t.Error("readProcStat(-1): no error")
	}
}

func TestBenchFloor(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("RUSAGE_THREAD is Linux's")
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"json", []string{"--readers", "goroutines", "--sockets", "3", "--rate", "2000", "--duration", "300ms", "--json"}, 0, `"writer_cpu_us_per_write"`},
		{"text", []string{"--readers", "goroutines", "--sockets", "2", "--rate", "1000", "--duration", "200ms"}, 0, "writer thread"},
		{"bad readers", []string{"--readers", "threads"}, 2, ""},
		{"no sockets", []string{"--sockets", "0"}, 2, ""},
		{"negative rate", []string{"--rate", "-1"}, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := runBench(append([]string{"floor"}, tt.args...), &out, &errOut); code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, errOut.String())
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Errorf("output %q lacks %q", out.String(), tt.want)
			}
			if tt.code == 0 && strings.HasSuffix(tt.want, `"`) {
				var r floorResult
				if err := json.Unmarshal(out.Bytes(), &r); err != nil {
					t.Fatal(err)
				}
				if r.Writes < 100 || r.Sockets != 3 {
					t.Errorf("result %+v: want ≥100 writes to 3 sockets", r)
				}
			}
		})
	}
}

// The real binary runs its readers in a process of its own.
func TestBenchFloorReaderProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("RUSAGE_THREAD is Linux's")
	}
	bin := buildBinary(t)
	out, err := exec.Command(bin, "bench", "floor", "--sockets", "4", "--rate", "2000", "--duration", "300ms", "--json").Output()
	if err != nil {
		t.Fatalf("bench floor: %v", err)
	}
	var r floorResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if r.Writes < 100 || r.Sockets != 4 || r.CPUUs <= 0 {
		t.Errorf("result %+v: want ≥100 writes to 4 sockets, and their CPU time", r)
	}
}
