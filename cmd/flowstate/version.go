package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is the release this binary was built as. Release builds set it
// with -ldflags "-X main.version=v1.2.3"; a plain go build leaves "dev", and
// the VCS revision in the build info tells such builds apart.
var version = "dev"

// revision is the commit this binary was built from, for builds that set it
// with -ldflags "-X main.revision=<sha>" because the toolchain cannot read
// it: a container build without the .git directory, or -buildvcs=false.
// The toolchain's own record, when there is one, takes precedence.
var revision = ""

// buildInfo describes the running binary.
type buildInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"` // VCS commit, when built from a checkout
	Time     string `json:"time,omitempty"`     // commit time, RFC 3339
	Modified bool   `json:"modified,omitempty"` // built with uncommitted changes
	Go       string `json:"go"`                 // Go version
	Platform string `json:"platform"`           // GOOS/GOARCH
}

// readBuildInfo returns the version and what the Go toolchain recorded in
// the binary. The VCS fields are empty for builds outside a checkout or
// with -buildvcs=false.
func readBuildInfo() buildInfo {
	bi := buildInfo{
		Version:  version,
		Revision: revision,
		Go:       runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH,
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return bi
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			bi.Revision = s.Value
		case "vcs.time":
			bi.Time = s.Value
		case "vcs.modified":
			bi.Modified = s.Value == "true"
		}
	}
	// A binary installed with "go install module@version" records the
	// module's version instead of VCS settings.
	if bi.Version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		bi.Version = info.Main.Version
	}
	return bi
}

// String returns the one-line form, such as
// "flowstate v1.2.0 (3f2a9c1e0b7d, 2026-11-26T20:31:00Z) go1.26.8 linux/amd64".
func (bi buildInfo) String() string {
	s := "flowstate " + bi.Version
	if bi.Revision != "" {
		rev := bi.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if bi.Modified {
			rev += "+modified"
		}
		if bi.Time != "" {
			rev += ", " + bi.Time
		}
		s += " (" + rev + ")"
	}
	return s + " " + bi.Go + " " + bi.Platform
}

const versionUsageText = `Usage:

	flowstate version [--json]
	flowstate --version

Prints the version, the VCS revision and time the binary was built from,
and the Go version.

Flags:
`

func newVersionFlagSet(asJSON *bool, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(w)
	fs.BoolVar(asJSON, "json", false, "print the build information as a JSON object")
	fs.Usage = func() {
		fmt.Fprint(w, versionUsageText)
		fs.PrintDefaults()
	}
	return fs
}

// runVersion prints the build information.
func runVersion(args []string, stdout, stderr io.Writer) int {
	var asJSON bool
	fs := newVersionFlagSet(&asJSON, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "flowstate version: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	bi := readBuildInfo()
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(bi); err != nil {
			fmt.Fprintf(stderr, "flowstate version: %v\n", err)
			return 1
		}
		return 0
	}
	fmt.Fprintln(stdout, bi)
	return 0
}
