package main

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// syntheticTrace is a small trace with multi-byte code points, a patch that
// deletes and inserts, several patches in one txn and an empty txn.
var syntheticTrace = map[string]any{
	"startContent": "héllo",
	"endContent":   "¡Héllo there!",
	"txns": []any{
		map[string]any{"time": "2026-01-01T00:00:00Z", "patches": []any{[]any{5, 0, " wörld"}}},
		map[string]any{"patches": []any{[]any{0, 1, "H"}}},
		map[string]any{"patches": []any{[]any{11, 0, "😀"}, []any{6, 5, "there"}}},
		map[string]any{"patches": []any{}},
		map[string]any{"patches": []any{[]any{11, 1, ""}, []any{11, 0, "!"}}},
		map[string]any{"patches": []any{[]any{0, 0, "¡"}}},
	},
}

// syntheticOps is the number of patches in syntheticTrace.
const syntheticOps = 7

// writeTrace writes tr as a gzipped JSON trace file named name+".json.gz"
// in a temporary directory and returns its path.
func writeTrace(t *testing.T, name string, tr map[string]any) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(tr); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name+".json.gz")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// withEndContent returns a copy of tr with endContent replaced.
func withEndContent(tr map[string]any, end string) map[string]any {
	c := make(map[string]any, len(tr))
	for k, v := range tr {
		c[k] = v
	}
	c["endContent"] = end
	return c
}

// jsonLine matches one line of "bench trace --json" output: exactly these
// fields in this order, durations with 3 decimals.
var jsonLine = regexp.MustCompile(`^\{"trace":"([^"]*)","ops":(\d+),"local_ms":\d+\.\d{3},"merge_ms":\d+\.\d{3},"update_bytes":[1-9]\d*\.\d,"message_bytes":[1-9]\d*\.\d,"patch_bytes":[1-9]\d*\.\d,"snapshot_bytes":[1-9]\d*,"encode_ms":\d+\.\d{3},"load_ms":\d+\.\d{3},"heap_bytes":-?\d+,"ok":(true|false)\}$`)

func TestBenchTrace_JSON(t *testing.T) {
	path := writeTrace(t, "synthetic", syntheticTrace)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"bench", "trace", "--json", "--runs", "3", path}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1:\n%s", len(lines), stdout.String())
	}
	m := jsonLine.FindStringSubmatch(lines[0])
	if m == nil {
		t.Fatalf("output line does not have the expected fields:\n%s", lines[0])
	}
	if m[1] != "synthetic" || m[2] != "7" || m[3] != "true" {
		t.Errorf("trace=%s ops=%s ok=%s, want synthetic, %d, true", m[1], m[2], m[3], syntheticOps)
	}
	if !strings.Contains(stderr.String(), "bench trace synthetic: merge run 3/3\n") {
		t.Errorf("stderr has no plain progress line for merge run 3/3:\n%s", stderr.String())
	}
}

func TestBenchTrace_Mismatch(t *testing.T) {
	good := writeTrace(t, "good", syntheticTrace)
	bad := writeTrace(t, "bad", withEndContent(syntheticTrace, "¡Héllo there?"))
	var stdout, stderr bytes.Buffer
	// Flags after file names are accepted too.
	code := run([]string{"bench", "trace", bad, good, "--runs", "1", "--json"}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit status %d, want 1; stderr:\n%s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), stdout.String())
	}
	for i, want := range []struct{ trace, ok string }{{"bad", "false"}, {"good", "true"}} {
		m := jsonLine.FindStringSubmatch(lines[i])
		if m == nil {
			t.Fatalf("line %d does not have the expected fields:\n%s", i, lines[i])
		}
		if m[1] != want.trace || m[3] != want.ok {
			t.Errorf("line %d: trace=%s ok=%s, want %s %s", i, m[1], m[3], want.trace, want.ok)
		}
	}
	if !strings.Contains(stderr.String(), "bad: local: final text differs from endContent at code point 12") {
		t.Errorf("stderr does not explain the mismatch:\n%s", stderr.String())
	}
}

func TestBenchTrace_Table(t *testing.T) {
	path := writeTrace(t, "synthetic", syntheticTrace)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"bench", "trace", "--runs=1", path}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want a header and one row:\n%s", len(lines), stdout.String())
	}
	header := strings.Fields(lines[0])
	want := []string{"trace", "ops", "local_ms", "merge_ms", "update_bytes", "message_bytes", "patch_bytes", "snapshot_bytes", "encode_ms", "load_ms", "heap_bytes", "ok"}
	if strings.Join(header, " ") != strings.Join(want, " ") {
		t.Errorf("header %q, want %q", header, want)
	}
	row := strings.Fields(lines[1])
	if len(row) != len(want) || row[0] != "synthetic" || row[1] != "7" || row[len(row)-1] != "true" {
		t.Errorf("unexpected row %q", row)
	}
	if len(lines[0]) != len(lines[1]) {
		t.Errorf("header and row are not aligned:\n%s", stdout.String())
	}
}

var benchTraceErrorTests = []struct {
	name string
	args func(t *testing.T) []string
	code int
}{
	{"no files", func(*testing.T) []string { return nil }, 2},
	{"zero runs", func(t *testing.T) []string {
		return []string{"--runs", "0", writeTrace(t, "x", syntheticTrace)}
	}, 2},
	{"unknown flag", func(*testing.T) []string { return []string{"--nope"} }, 2},
	{"help", func(*testing.T) []string { return []string{"-h"} }, 0},
	{"missing file", func(t *testing.T) []string {
		return []string{filepath.Join(t.TempDir(), "missing.json.gz")}
	}, 1},
	{"patch with two elements", func(t *testing.T) []string {
		tr := withEndContent(syntheticTrace, "a")
		tr["txns"] = []any{map[string]any{"patches": []any{[]any{0, "a"}}}}
		return []string{writeTrace(t, "short", tr)}
	}, 1},
	{"delete out of range", func(t *testing.T) []string {
		tr := withEndContent(syntheticTrace, "")
		tr["startContent"] = ""
		tr["txns"] = []any{map[string]any{"patches": []any{[]any{0, 3, ""}}}}
		return []string{writeTrace(t, "range", tr)}
	}, 1},
}

func TestBenchTrace_Errors(t *testing.T) {
	for _, tt := range benchTraceErrorTests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"bench", "trace", "--runs", "1"}, tt.args(t)...)
			if code := run(args, &stdout, &stderr); code != tt.code {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, tt.code, stderr.String())
			}
			if tt.code != 0 && stdout.Len() != 0 {
				t.Errorf("unexpected output:\n%s", stdout.String())
			}
		})
	}
}

func TestRun_Usage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"frobnicate"}, &stdout, &stderr); code != 2 {
		t.Errorf("unknown command: exit status %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "bench trace") {
		t.Errorf("usage does not list bench trace:\n%s", stderr.String())
	}
	stdout.Reset()
	if code := run([]string{"help"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "bench trace") {
		t.Errorf("help: exit status %d, output:\n%s", code, stdout.String())
	}
	stdout.Reset()
	if code := run([]string{"help", "bench", "trace"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "-runs") {
		t.Errorf("help bench trace: exit status %d, output:\n%s", code, stdout.String())
	}
	if code := run([]string{"nope"}, &stdout, &stderr); code != 2 {
		t.Errorf("unknown command: exit status %d, want 2", code)
	}
}

func TestTraceName(t *testing.T) {
	for in, want := range map[string]string{
		"../shared/traces/automerge-paper.json.gz": "automerge-paper",
		"seph-blog1.json":                          "seph-blog1",
		"dir/plain":                                "plain",
	} {
		if got := traceName(in); got != want {
			t.Errorf("traceName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMedian(t *testing.T) {
	if got := median([]time.Duration{5, 1, 3}); got != 3 {
		t.Errorf("odd: got %v, want 3", got)
	}
	if got := median([]time.Duration{4, 1, 2, 8}); got != 3 {
		t.Errorf("even: got %v, want 3", got)
	}
}

func TestMillisJSON(t *testing.T) {
	b, err := json.Marshal(toMillis(1234567 * time.Nanosecond))
	if err != nil || string(b) != "1.235" {
		t.Errorf("got %s, %v, want 1.235", b, err)
	}
}

func TestWireSizes(t *testing.T) {
	// FORMAT.md §10.1 and §10.2: 26 and 28 bytes. An Update message adds
	// array(3), its tag, its seq and array(1) and bin8 headers: 6 bytes
	// for a seq below 128, 7 for one that takes a uint8 (up to 255).
	first, _ := hex.DecodeString("950191920" + "0a474657874910190919500" + "00c403078101a2686990")
	second, _ := hex.DecodeString("950191920" + "0a47465787492010290919501" + "00c40407310000a2c3a990")
	many := make([][]byte, 200)
	for i := range many {
		many[i] = first
	}
	tests := []struct {
		name            string
		updates         [][]byte
		update, message average
		patched         average
	}{
		{"none", nil, 0, 0, 0},
		// The second as a Patch: 94 07 0a 01 c4 11, then the 17 bytes
		// from its type's first difference to its text.
		{"two", [][]byte{first, second}, 27, 33, (33 + 22) / 2.0},
		// The same update again keeps all of it: 94 07 1a 00 c4 00.
		{"seq past 127", many, 26, (127*32 + 73*33) / 200.0, (32 + 199*6) / 200.0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, m, p, err := wireSizes(tt.updates)
			if err != nil {
				t.Fatal(err)
			}
			if u != tt.update || m != tt.message || p.String() != tt.patched.String() {
				t.Errorf("wireSizes = %v, %v, %v; want %v, %v, %v", u, m, p, tt.update, tt.message, tt.patched)
			}
		})
	}
}
