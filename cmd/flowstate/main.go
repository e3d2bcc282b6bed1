// Command flowstate is the FlowState document-sync server and its tools.
//
// Usage:
//
//	flowstate <command> [arguments]
//
// The commands are:
//
//	serve         run the server (the default)
//	bench trace   replay editing traces through the CRDT and report timings
//	bench load    drive a running server with WebSocket clients
//	bench replay  replay a trace through a running server, one update per edit
//	bench api     post JSON edits to a running server's write API
//	token         mint an access token for a room
//	healthcheck   ask a running server whether it is ready
//	version       print the version and build information
//	rooms         list the rooms in the data file
//	export        write a room's document (text, JSON or snapshot)
//	import        merge a snapshot or update file into a room
//	compact       fold every room's log and shrink the data file
//	backup        write a consistent copy of the data file
//	migrate       copy every room of a data file into a cluster
//	help          print this help
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
)

const usageText = `FlowState: a self-hosted CRDT document-sync server.

Usage:

	flowstate [command] [arguments]

Commands:

	serve         run the server (the default when no command is given)
	bench trace   replay editing traces through the CRDT and report timings
	bench load    drive a running server with WebSocket clients and report latency
	bench replay  replay a trace through a running server, one acknowledged update per edit
	bench api     post JSON edits to a running server's write API and report durable edits/s
	token         mint an access token for a room (servers run with --auth-secret)
	healthcheck   ask a running server whether it is ready (for container health checks)
	version       print the version and build information (also --version)
	rooms         list the rooms in the data file (or a cluster's, with --nats)
	export        write a room's document as text, JSON or a binary snapshot
	import        merge a snapshot or update file into a room
	compact       fold every room's log into its snapshot and shrink the data file
	backup        write a consistent copy of the data file (or of a running server's)
	migrate       copy every room of a data file into a cluster
	help          print this help

Run "flowstate help <command>" for the flags of a command.
`

const benchUsageText = `Usage:

	flowstate bench trace [--json] [--runs N] FILE...
	flowstate bench load --url ws://HOST:PORT [flags]
	flowstate bench replay --url ws://HOST:PORT [--room ROOM] TRACE
	flowstate bench floor [--sockets N] [--rate R] [--json]
	flowstate bench relay [--addr HOST:PORT]
	flowstate bench api --url http://HOST:PORT [--clients N] [--duration D]

Subcommands:

	trace   replay editing traces through the CRDT and report timings
	load    drive a running server with WebSocket clients and report latency
	replay  replay an editing trace through a running server, one update per edit
	floor   measure the CPU time of one small write to a loopback socket
	relay   serve a bare WebSocket relay, the least a Go server can do per delivery
	api     drive a running server's write API with HTTP clients and report durable edits/s
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches args (without the program name) to a command and returns
// the process exit status: 0 on success, 1 on failure, 2 on misuse.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && isVersionFlag(args[0]) {
		return runVersion(args[1:], stdout, stderr)
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && !isHelpFlag(args[0]) {
		return runServe(args, stdout, stderr)
	}
	switch args[0] {
	case "serve":
		return runServe(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		return runHelp(args[1:], stdout, stderr)
	case "bench":
		return runBench(args[1:], stdout, stderr)
	case "token":
		return runToken(args[1:], stdout, stderr)
	case "version":
		return runVersion(args[1:], stdout, stderr)
	case "healthcheck":
		return runHealthcheck(args[1:], stdout, stderr)
	case "rooms", "export", "import", "compact", "backup", "migrate":
		return adminCommands[args[0]](args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "flowstate: unknown command %q\n\n%s", args[0], usageText)
		return 2
	}
}

// runHelp prints the usage of the command named by args, or the general
// usage when args is empty.
func runHelp(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0 || args[0] == "help" && len(args) == 1:
		fmt.Fprint(stdout, usageText)
	case args[0] == "bench" && len(args) == 1:
		fmt.Fprint(stdout, benchUsageText)
	case args[0] == "serve":
		var f serveFlags
		newServeFlagSet(&f, stdout).Usage()
	case args[0] == "token":
		var f tokenFlags
		newTokenFlagSet(&f, stdout).Usage()
	case args[0] == "version":
		var asJSON bool
		newVersionFlagSet(&asJSON, stdout).Usage()
	case args[0] == "healthcheck":
		var f healthcheckFlags
		newHealthcheckFlagSet(&f, stdout).Usage()
	case adminCommands[args[0]] != nil:
		return adminCommands[args[0]]([]string{"-h"}, stdout, stdout)
	case args[0] == "bench" && len(args) > 2:
		fmt.Fprintf(stderr, "flowstate help: unknown command %q\n", strings.Join(args, " "))
		return 2
	case args[0] == "bench" && args[1] == "trace":
		printBenchTraceUsage(stdout)
	case args[0] == "bench" && args[1] == "load":
		var f loadFlags
		newLoadFlagSet(&f, stdout).Usage()
	case args[0] == "bench" && args[1] == "replay":
		var f benchReplayFlags
		newBenchReplayFlagSet(&f, stdout).Usage()
	case args[0] == "bench" && args[1] == "floor":
		var f floorFlags
		newFloorFlagSet(&f, stdout).Usage()
	case args[0] == "bench" && args[1] == "relay":
		var addr string
		newRelayFlagSet(&addr, stdout).Usage()
	case args[0] == "bench" && args[1] == "api":
		var f benchAPIFlags
		newBenchAPIFlagSet(&f, stdout).Usage()
	default:
		fmt.Fprintf(stderr, "flowstate help: unknown command %q\n", strings.Join(args, " "))
		return 2
	}
	return 0
}

// runBench dispatches the bench subcommands.
func runBench(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, benchUsageText)
		return 2
	}
	switch args[0] {
	case "trace":
		return runBenchTrace(args[1:], stdout, stderr)
	case "load":
		return runBenchLoad(args[1:], stdout, stderr)
	case "replay":
		return runBenchReplay(args[1:], stdout, stderr)
	case "floor":
		return runBenchFloor(args[1:], stdout, stderr)
	case "relay":
		return runBenchRelay(args[1:], stdout, stderr)
	case "api":
		return runBenchAPI(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, benchUsageText)
		return 0
	default:
		fmt.Fprintf(stderr, "flowstate bench: unknown subcommand %q\n\n%s", args[0], benchUsageText)
		return 2
	}
}

func isHelpFlag(s string) bool {
	return s == "-h" || s == "-help" || s == "--help"
}

func isVersionFlag(s string) bool {
	return s == "-version" || s == "--version"
}

// startCPUProfile writes a CPU profile to path until the returned function
// is called. An empty path profiles nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// writeHeapProfile writes a heap profile, after a collection, to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
