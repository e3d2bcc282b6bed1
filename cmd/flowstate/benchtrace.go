package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
)

const benchTraceUsageText = `Usage:

	flowstate bench trace [--json] [--runs N] FILE...

Replays editing traces through the CRDT. Each FILE is an editing trace in the
josephg/editing-traces format: gzipped JSON holding startContent, endContent
and txns, each txn a list of [pos, delCount, insText] patches with positions
in Unicode code points.

For each trace, after one warm-up run, it reports the median of N runs of:

	ops             number of patches in the trace
	local_ms        every txn applied as local edits to a new document
	merge_ms        the per-txn updates applied to another new document
	update_bytes    average size of a txn's update
	message_bytes   average size of the protocol message a client sends it in
	patch_bytes     the same in protocol version 5, which sends an update as a
	                Patch against the one before it where that is smaller
	snapshot_bytes  size of the final document's snapshot
	encode_ms       encoding the snapshot
	load_ms         loading the snapshot into a new document and reading its text
	heap_bytes      live heap held by the final document
	ok              every path ended with the trace's endContent

The exit status is 1 if any trace is not ok or cannot be replayed.

Flags:
`

// benchTextName names the Text every trace is replayed into.
const benchTextName = "text"

// benchTraceFlags returns the flag set of "bench trace", bound to opts.
func benchTraceFlags(opts *benchTraceOptions, output io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("flowstate bench trace", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.BoolVar(&opts.json, "json", false, "print one JSON object per trace per line instead of a table")
	fs.IntVar(&opts.runs, "runs", 5, "number of measured runs per trace, after one warm-up run")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), benchTraceUsageText)
		fs.PrintDefaults()
	}
	return fs
}

// printBenchTraceUsage writes the usage of "bench trace" to w.
func printBenchTraceUsage(w io.Writer) {
	benchTraceFlags(new(benchTraceOptions), w).Usage()
}

// benchTraceOptions holds the flags of "bench trace".
type benchTraceOptions struct {
	json bool // print JSON lines instead of a table
	runs int  // measured runs per trace; at least 1
}

// runBenchTrace runs "flowstate bench trace" with args (the arguments after
// "trace") and returns the exit status.
func runBenchTrace(args []string, stdout, stderr io.Writer) int {
	var opts benchTraceOptions
	fs := benchTraceFlags(&opts, stderr)
	files, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if opts.runs < 1 {
		fmt.Fprintf(stderr, "flowstate bench trace: --runs must be at least 1, got %d\n", opts.runs)
		return 2
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "flowstate bench trace: no trace files given")
		fs.Usage()
		return 2
	}

	prog := newProgress(stderr)
	status := 0
	var results []traceResult
	for _, file := range files {
		res, err := benchTraceFile(file, opts.runs, prog)
		if err != nil {
			prog.printf("flowstate bench trace: %v\n", err)
			status = 1
			continue
		}
		if !res.OK {
			status = 1
		}
		if opts.json {
			line, err := json.Marshal(res)
			if err != nil {
				prog.printf("flowstate bench trace: %s: %v\n", res.Trace, err)
				status = 1
				continue
			}
			prog.clear()
			stdout.Write(append(line, '\n'))
		} else {
			results = append(results, res)
		}
	}
	prog.clear()
	if !opts.json && len(results) > 0 {
		writeTraceTable(stdout, results)
	}
	return status
}

// parseInterspersed parses args with fs, accepting flags after file names
// too, and returns the non-flag arguments. Everything after "--" is a file.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		remaining := fs.Args()
		consumed := len(args) - len(remaining)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(rest, remaining...), nil
		}
		if len(remaining) == 0 {
			return rest, nil
		}
		rest = append(rest, remaining[0])
		args = remaining[1:]
	}
}

// A patch is one edit of a trace: delete del code points at pos, then
// insert ins at pos.
type patch struct {
	pos int
	del int
	ins string
}

// UnmarshalJSON decodes a patch from its JSON form [pos, delCount, insText].
func (p *patch) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if len(raw) != 3 {
		return fmt.Errorf("patch %s: want [pos, delCount, insText]", b)
	}
	if err := json.Unmarshal(raw[0], &p.pos); err != nil {
		return fmt.Errorf("patch %s: pos: %w", b, err)
	}
	if err := json.Unmarshal(raw[1], &p.del); err != nil {
		return fmt.Errorf("patch %s: delCount: %w", b, err)
	}
	if err := json.Unmarshal(raw[2], &p.ins); err != nil {
		return fmt.Errorf("patch %s: insText: %w", b, err)
	}
	if p.pos < 0 || p.del < 0 {
		return fmt.Errorf("patch %s: negative pos or delCount", b)
	}
	return nil
}

// A txn is one transaction of a trace: patches applied in order.
type txn struct {
	Patches []patch `json:"patches"`
}

// A trace is an editing history in the josephg/editing-traces format.
type trace struct {
	StartContent string `json:"startContent"`
	EndContent   string `json:"endContent"`
	Txns         []txn  `json:"txns"`
}

// ops returns the number of patches in the trace.
func (tr *trace) ops() int {
	n := 0
	for _, t := range tr.Txns {
		n += len(t.Patches)
	}
	return n
}

// readTrace reads a trace from a gzipped (or plain) JSON file.
func readTrace(path string) (*trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	var tr trace
	if err := json.NewDecoder(r).Decode(&tr); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &tr, nil
}

// traceName returns the name a trace is reported under: the base name of
// its file without ".json.gz".
func traceName(path string) string {
	name := filepath.Base(path)
	name = strings.TrimSuffix(name, ".gz")
	return strings.TrimSuffix(name, ".json")
}

// millis is a duration in milliseconds, encoded in JSON with 3 decimals.
type millis float64

// toMillis converts d to milliseconds.
func toMillis(d time.Duration) millis {
	return millis(float64(d) / float64(time.Millisecond))
}

// MarshalJSON encodes m as a number with 3 decimals.
func (m millis) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(m), 'f', 3, 64), nil
}

// String formats m with 3 decimals.
func (m millis) String() string {
	return strconv.FormatFloat(float64(m), 'f', 3, 64)
}

// An average is a mean size in bytes, reported with one decimal.
type average float64

// MarshalJSON encodes a as a number with 1 decimal.
func (a average) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(a), 'f', 1, 64), nil
}

// String formats a with 1 decimal.
func (a average) String() string {
	return strconv.FormatFloat(float64(a), 'f', 1, 64)
}

// wireSizes returns the mean size of updates, of the protocol Update
// messages a client would send them in, one per message numbered from 1,
// and of the messages a version 5 client sends instead: each a Patch
// against the update before it where that is smaller. That is what one
// keystroke costs on the wire, before the WebSocket frame.
func wireSizes(updates [][]byte) (update, message, patched average, err error) {
	if len(updates) == 0 {
		return 0, 0, 0, nil
	}
	var u, m, p int
	var base []byte
	for i, up := range updates {
		msg, err := protocol.Encode(&protocol.Update{Seq: uint64(i + 1), Updates: [][]byte{up}})
		if err != nil {
			return 0, 0, 0, err
		}
		u += len(up)
		m += len(msg)
		if base != nil {
			if pm := protocol.MakePatch(base, up); pm.Smaller(len(up), uint64(i+1)) {
				if msg, err = protocol.Encode(pm); err != nil {
					return 0, 0, 0, err
				}
			}
		}
		p += len(msg)
		base = up
	}
	n := float64(len(updates))
	return average(float64(u) / n), average(float64(m) / n), average(float64(p) / n), nil
}

// A traceResult is what "bench trace" reports for one trace. The JSON field
// names and their order are part of the command's output format.
type traceResult struct {
	Trace         string  `json:"trace"`
	Ops           int     `json:"ops"`
	LocalMS       millis  `json:"local_ms"`
	MergeMS       millis  `json:"merge_ms"`
	UpdateBytes   average `json:"update_bytes"`
	MessageBytes  average `json:"message_bytes"`
	PatchBytes    average `json:"patch_bytes"`
	SnapshotBytes int     `json:"snapshot_bytes"`
	EncodeMS      millis  `json:"encode_ms"`
	LoadMS        millis  `json:"load_ms"`
	HeapBytes     int64   `json:"heap_bytes"`
	OK            bool    `json:"ok"`
}

// benchTraceFile reads the trace at path and measures it with runs
// measured runs per path.
func benchTraceFile(path string, runs int, prog *progress) (traceResult, error) {
	name := traceName(path)
	prog.status("bench trace %s: reading", name)
	tr, err := readTrace(path)
	if err != nil {
		return traceResult{}, err
	}
	b := &traceBench{name: name, tr: tr, runs: runs, prog: prog}
	res, err := b.measure()
	if err != nil {
		return traceResult{}, fmt.Errorf("%s: %w", name, err)
	}
	return res, nil
}

// A traceBench measures one trace.
type traceBench struct {
	name string
	tr   *trace
	runs int
	prog *progress

	failed map[string]bool // paths already reported as not ok
}

// measure runs every measurement of the trace and returns its result.
func (b *traceBench) measure() (traceResult, error) {
	res := traceResult{Trace: b.name, Ops: b.tr.ops()}

	// Capture pass: the updates each txn produces, and the final document
	// whose snapshot is encoded and loaded below.
	b.prog.status("bench trace %s: capture", b.name)
	var updates [][]byte
	doc, _, err := replayLocal(b.tr, func(u []byte) { updates = append(updates, u) })
	if err != nil {
		return res, fmt.Errorf("capture: %w", err)
	}
	res.UpdateBytes, res.MessageBytes, res.PatchBytes, err = wireSizes(updates)
	if err != nil {
		return res, fmt.Errorf("capture: %w", err)
	}

	res.LocalMS, err = b.phase("local", func() (time.Duration, error) {
		d, elapsed, err := replayLocal(b.tr, nil)
		if err != nil {
			return 0, err
		}
		b.check("local", d.Text(benchTextName).String())
		return elapsed, nil
	})
	if err != nil {
		return res, err
	}

	res.MergeMS, err = b.phase("merge", func() (time.Duration, error) {
		d := crdt.NewDoc()
		start := time.Now()
		for i, u := range updates {
			if err := d.Apply(u); err != nil {
				return 0, fmt.Errorf("update %d: %w", i, err)
			}
		}
		elapsed := time.Since(start)
		if d.HasPending() {
			b.fail("merge", "updates still pending after applying all of them")
		}
		b.check("merge", d.Text(benchTextName).String())
		return elapsed, nil
	})
	if err != nil {
		return res, err
	}

	var snapshot []byte
	res.EncodeMS, err = b.phase("encode", func() (time.Duration, error) {
		start := time.Now()
		snapshot = doc.Snapshot()
		return time.Since(start), nil
	})
	if err != nil {
		return res, err
	}
	res.SnapshotBytes = len(snapshot)

	res.LoadMS, err = b.phase("load", func() (time.Duration, error) {
		start := time.Now()
		d := crdt.NewDoc()
		if err := d.Apply(snapshot); err != nil {
			return 0, fmt.Errorf("snapshot: %w", err)
		}
		text := d.Text(benchTextName).String()
		elapsed := time.Since(start)
		b.check("load", text)
		return elapsed, nil
	})
	if err != nil {
		return res, err
	}

	// Drop every reference to documents and updates before measuring the
	// heap, so that only the document built by liveHeap differs between
	// its two readings.
	doc, updates, snapshot = nil, nil, nil
	b.prog.status("bench trace %s: heap", b.name)
	res.HeapBytes, err = liveHeap(func() (*crdt.Doc, error) {
		d, _, err := replayLocal(b.tr, nil)
		return d, err
	})
	if err != nil {
		return res, fmt.Errorf("heap: %w", err)
	}

	res.OK = len(b.failed) == 0
	return res, nil
}

// phase runs fn once to warm up and then b.runs times, and returns the
// median duration of the measured runs. fn returns the duration of its
// timed part; it records wrong results with b.check or b.fail.
func (b *traceBench) phase(name string, fn func() (time.Duration, error)) (millis, error) {
	times := make([]time.Duration, 0, b.runs)
	for i := 0; i <= b.runs; i++ {
		if i == 0 {
			b.prog.status("bench trace %s: %s warm-up", b.name, name)
		} else {
			b.prog.status("bench trace %s: %s run %d/%d", b.name, name, i, b.runs)
		}
		// Collect the previous run's garbage outside the timed part.
		runtime.GC()
		elapsed, err := fn()
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		if i > 0 {
			times = append(times, elapsed)
		}
	}
	return toMillis(median(times)), nil
}

// check reports whether got equals the trace's endContent, and records a
// failure of path the first time it does not.
func (b *traceBench) check(path, got string) bool {
	want := b.tr.EndContent
	if got == want {
		return true
	}
	b.fail(path, fmt.Sprintf("final text differs from endContent at code point %d (got %d code points, want %d)",
		firstDifference(got, want), len([]rune(got)), len([]rune(want))))
	return false
}

// fail records that path produced a wrong result, reporting msg once.
func (b *traceBench) fail(path, msg string) {
	if b.failed[path] {
		return
	}
	if b.failed == nil {
		b.failed = make(map[string]bool)
	}
	b.failed[path] = true
	b.prog.printf("flowstate bench trace: %s: %s: %s\n", b.name, path, msg)
}

// firstDifference returns the index, in code points, of the first code
// point where a and b differ.
func firstDifference(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	n := min(len(ra), len(rb))
	for i := range n {
		if ra[i] != rb[i] {
			return i
		}
	}
	return n
}

// replayLocal applies tr as local edits to a new Doc, one transaction per
// txn, after inserting startContent if it is not empty. If capture is not
// nil, every transaction runs in Transact and capture gets its update;
// otherwise it runs in Change, which encodes no update, so that local_ms
// measures the edits alone, as the peer libraries' local apply does. It
// returns the Doc and the time the edits took.
func replayLocal(tr *trace, capture func(update []byte)) (*crdt.Doc, time.Duration, error) {
	doc := crdt.NewDoc()
	text := doc.Text(benchTextName)
	var cur []patch
	edit := func() error {
		for _, p := range cur {
			if p.del > 0 {
				if _, err := text.Delete(p.pos, p.del); err != nil {
					return fmt.Errorf("patch [%d, %d, %q]: %w", p.pos, p.del, p.ins, err)
				}
			}
			if p.ins != "" {
				if _, err := text.Insert(p.pos, p.ins); err != nil {
					return fmt.Errorf("patch [%d, %d, %q]: %w", p.pos, p.del, p.ins, err)
				}
			}
		}
		return nil
	}
	apply := func(patches []patch) error {
		cur = patches
		if capture == nil {
			return doc.Change(edit)
		}
		update, err := doc.Transact(edit)
		if err != nil {
			return err
		}
		if update != nil {
			capture(update)
		}
		return nil
	}

	start := time.Now()
	if tr.StartContent != "" {
		if err := apply([]patch{{ins: tr.StartContent}}); err != nil {
			return nil, 0, fmt.Errorf("startContent: %w", err)
		}
	}
	for i, t := range tr.Txns {
		if err := apply(t.Patches); err != nil {
			return nil, 0, fmt.Errorf("txn %d: %w", i, err)
		}
	}
	return doc, time.Since(start), nil
}

// liveHeap returns the heap held by the Doc that build returns: the live
// heap after a full collection with the Doc held, minus the same with it
// released.
func liveHeap(build func() (*crdt.Doc, error)) (int64, error) {
	doc, err := build()
	if err != nil {
		return 0, err
	}
	var held, released runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&held)
	runtime.KeepAlive(doc) // doc stays reachable until held has been read
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&released)
	return int64(held.HeapAlloc) - int64(released.HeapAlloc), nil
}

// median returns the median of ds; ds must not be empty. It sorts ds.
func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	n := len(ds)
	if n%2 == 1 {
		return ds[n/2]
	}
	return (ds[n/2-1] + ds[n/2]) / 2
}

// writeTraceTable writes results as an aligned table to w.
func writeTraceTable(w io.Writer, results []traceResult) {
	rows := [][]string{{"trace", "ops", "local_ms", "merge_ms", "update_bytes", "message_bytes", "patch_bytes", "snapshot_bytes", "encode_ms", "load_ms", "heap_bytes", "ok"}}
	for _, r := range results {
		rows = append(rows, []string{
			r.Trace,
			strconv.Itoa(r.Ops),
			r.LocalMS.String(),
			r.MergeMS.String(),
			r.UpdateBytes.String(),
			r.MessageBytes.String(),
			r.PatchBytes.String(),
			strconv.Itoa(r.SnapshotBytes),
			r.EncodeMS.String(),
			r.LoadMS.String(),
			strconv.FormatInt(r.HeapBytes, 10),
			strconv.FormatBool(r.OK),
		})
	}
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], len(cell))
		}
	}
	var sb strings.Builder
	for _, row := range rows {
		for i, cell := range row {
			switch {
			case i == 0: // the trace name, left-aligned
				fmt.Fprintf(&sb, "%-*s", widths[i], cell)
			default:
				fmt.Fprintf(&sb, "  %*s", widths[i], cell)
			}
		}
		sb.WriteByte('\n')
	}
	io.WriteString(w, sb.String())
}

// A progress writes a status line to a writer: rewritten in place with \r
// when the writer is a terminal, one plain line per status otherwise.
type progress struct {
	w      io.Writer
	tty    bool
	active bool // a status line is on screen and not yet cleared
}

// newProgress returns a progress writing to w.
func newProgress(w io.Writer) *progress {
	return &progress{w: w, tty: isTerminal(w)}
}

// status replaces the status line with the formatted text.
func (p *progress) status(format string, args ...any) {
	if p.tty {
		fmt.Fprintf(p.w, "\r\x1b[K"+format, args...)
		p.active = true
		return
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}

// clear removes the status line from a terminal.
func (p *progress) clear() {
	if p.active {
		io.WriteString(p.w, "\r\x1b[K")
		p.active = false
	}
}

// printf writes a message that stays, clearing the status line first.
func (p *progress) printf(format string, args ...any) {
	p.clear()
	fmt.Fprintf(p.w, format, args...)
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
