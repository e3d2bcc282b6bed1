package main

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

var versionTests = []struct {
	args []string
	code int
	want string // in stdout, or stderr when code != 0
}{
	{[]string{"version"}, 0, "flowstate dev"},
	{[]string{"--version"}, 0, "flowstate dev"},
	{[]string{"-version"}, 0, runtime.Version()},
	{[]string{"version", "--json"}, 0, `"version": "dev"`},
	{[]string{"version", "extra"}, 2, `unexpected argument "extra"`},
	{[]string{"version", "--nope"}, 2, "flag provided but not defined"},
	{[]string{"help", "version"}, 0, "flowstate version [--json]"},
}

func TestVersion(t *testing.T) {
	for _, tt := range versionTests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			out := stdout.String()
			if tt.code != 0 {
				out = stderr.String()
			}
			if code != tt.code || !strings.Contains(out, tt.want) {
				t.Errorf("run(%q) = %d, stdout %q, stderr %q; want %d and %q", tt.args, code, stdout.String(), stderr.String(), tt.code, tt.want)
			}
		})
	}
}

// The JSON form carries the fields a deployment check reads.
func TestVersionJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"version", "--json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var bi buildInfo
	if err := json.Unmarshal(stdout.Bytes(), &bi); err != nil {
		t.Fatal(err)
	}
	if bi.Version != version || bi.Go != runtime.Version() || bi.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("build info %+v", bi)
	}
}

var buildInfoStringTests = []struct {
	bi   buildInfo
	want string
}{
	{buildInfo{Version: "dev", Go: "go1.26.8", Platform: "linux/amd64"}, "flowstate dev go1.26.8 linux/amd64"},
	{
		buildInfo{Version: "v1.2.0", Revision: "3f2a9c1e0b7d55aa", Time: "2026-11-26T20:31:00Z", Go: "go1.26.8", Platform: "linux/arm64"},
		"flowstate v1.2.0 (3f2a9c1e0b7d, 2026-11-26T20:31:00Z) go1.26.8 linux/arm64",
	},
	{
		buildInfo{Version: "dev", Revision: "abc", Modified: true, Go: "go1.26.8", Platform: "linux/amd64"},
		"flowstate dev (abc+modified) go1.26.8 linux/amd64",
	},
}

func TestBuildInfoString(t *testing.T) {
	for _, tt := range buildInfoStringTests {
		if got := tt.bi.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

// A release build, made as the Dockerfile makes it, is a static binary
// that reports the version and revision its -ldflags set.
func TestReleaseBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "flowstate")
	// The Dockerfile's build command: goBuild's settings (CGO_ENABLED=0
	// -trimpath -buildvcs=false), which buildBinary shares, so that this
	// build finds the packages compiled and only links. -buildvcs=false:
	// the toolchain's record of the checkout, where there is one, would
	// take precedence over main.revision.
	build := goBuild("-ldflags", "-s -w -X main.version=v9.8.7-test -X main.revision=0123456789abcdef0123", "-o", bin, ".")
	if !slices.Equal(build.Args[1:], []string{"build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -X main.version=v9.8.7-test -X main.revision=0123456789abcdef0123", "-o", bin, "."}) ||
		!slices.Contains(build.Env, "CGO_ENABLED=0") {
		t.Fatalf("goBuild no longer makes the Dockerfile's build: %q", build.Args)
	}
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "flowstate v9.8.7-test (0123456789ab) " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if string(out) != want {
		t.Errorf("--version printed %q, want %q", out, want)
	}
	if runtime.GOOS == "linux" {
		requireStatic(t, bin)
	}
}

// requireStatic fails unless the ELF file at path is statically linked:
// no program interpreter and no shared libraries, so that it runs on an
// image without libc (distroless static, scratch).
func requireStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s names a program interpreter: it is dynamically linked", path)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	if len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v", path, libs)
	}
}
