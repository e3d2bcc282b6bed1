package protocol_test

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/flowstate/flowstate/protocol"
)

const specPath = "PROTOCOL.md"

// specExample is an annotated hex dump of PROTOCOL.md: a fenced block whose
// info string is "hex <vector name>".
type specExample struct {
	name string
	line int
	hex  string
}

var hexByte = regexp.MustCompile(`^[0-9a-f]{2}$`)

// parseSpecExamples returns the annotated dumps of PROTOCOL.md. On each
// line of a dump, the bytes come first, separated by single spaces; two
// spaces start the annotation.
func parseSpecExamples(t *testing.T, spec string) []specExample {
	t.Helper()
	var out []specExample
	var cur *specExample
	sc := bufio.NewScanner(strings.NewReader(spec))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```hex "):
			cur = &specExample{name: strings.TrimSpace(strings.TrimPrefix(line, "```hex ")), line: n}
		case cur != nil && strings.HasPrefix(line, "```"):
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			bytesPart, _, _ := strings.Cut(strings.TrimLeft(line, " "), "  ")
			if bytesPart == "" {
				continue
			}
			for _, tok := range strings.Split(bytesPart, " ") {
				if !hexByte.MatchString(tok) {
					t.Errorf("%s:%d: %q is not a hex byte (annotations start after two spaces)", specPath, n, tok)
					break
				}
				cur.hex += tok
			}
		}
	}
	if cur != nil {
		t.Errorf("%s:%d: unterminated hex block", specPath, cur.line)
	}
	return out
}

// TestSpecExamples checks that every worked example of PROTOCOL.md is the
// exact encoding of the vector it names, printed both as an annotated dump
// and as one hex string, and that every message type has an example.
func TestSpecExamples(t *testing.T) {
	raw, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	spec := string(raw)
	vectors := map[string]messageVector{}
	for _, v := range messageVectors {
		vectors[v.name] = v
	}
	examples := parseSpecExamples(t, spec)
	shown := map[string]bool{}
	types := map[protocol.Type]bool{}
	for _, ex := range examples {
		v, ok := vectors[ex.name]
		if !ok {
			t.Errorf("%s:%d: example %q names no message vector", specPath, ex.line, ex.name)
			continue
		}
		shown[ex.name] = true
		b, err := protocol.Encode(v.msg)
		if err != nil {
			t.Fatal(err)
		}
		want := hex.EncodeToString(b)
		if ex.hex != want {
			t.Errorf("%s:%d: example %s is\n%s\nwant\n%s", specPath, ex.line, ex.name, ex.hex, want)
		}
		if !strings.Contains(spec, "`"+want+"`") {
			t.Errorf("%s: example %s lacks its one-line hex `%s`", specPath, ex.name, want)
		}
		m, err := protocol.Decode(b)
		if err != nil {
			t.Errorf("example %s: %v", ex.name, err)
		} else {
			types[m.Type()] = true
		}
	}
	for _, v := range messageVectors {
		if v.spec && !shown[v.name] {
			t.Errorf("%s has no worked example of vector %s", specPath, v.name)
		}
		if !v.spec && shown[v.name] {
			t.Errorf("%s shows vector %s, which is not marked spec", specPath, v.name)
		}
	}
	for typ := protocol.TypeHello; typ <= protocol.TypeError; typ++ {
		if !types[typ] {
			t.Errorf("%s has no worked example of a %s", specPath, typ)
		}
	}
}

var codeRow = regexp.MustCompile(`(?m)^\| (\d{4}) \| ([A-Za-z ]+) \|.*\| (\*\*yes\*\*|no) \|$`)

// TestSpecCodes checks that the code table of PROTOCOL.md lists every code
// with its name and permanence as code.go has them.
func TestSpecCodes(t *testing.T) {
	raw, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	rows := codeRow.FindAllStringSubmatch(string(raw), -1)
	listed := map[protocol.Code]bool{}
	for _, r := range rows {
		n, _ := strconv.Atoi(r[1])
		c := protocol.Code(n)
		listed[c] = true
		if c.String() != r[2] {
			t.Errorf("%s: code %d is named %q, code.go says %q", specPath, n, r[2], c.String())
		}
		if perm := r[3] == "**yes**"; perm != c.Permanent() {
			t.Errorf("%s: code %d permanent = %v, Code.Permanent says %v", specPath, n, perm, c.Permanent())
		}
	}
	for _, c := range codeTable {
		if !listed[c] {
			t.Errorf("%s: the code table lacks %d (%s)", specPath, c, c)
		}
	}
	if len(rows) != len(codeTable) {
		t.Errorf("%s lists %d codes, want %d", specPath, len(rows), len(codeTable))
	}
}

// TestSpecLimits checks that PROTOCOL.md states the limits of message.go.
func TestSpecLimits(t *testing.T) {
	raw, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	spec := string(raw)
	for _, s := range []string{
		"# The FlowState sync protocol, version " + strconv.Itoa(protocol.Version),
		fmt.Sprintf("1–%d bytes of `[A-Za-z0-9._~-]`", protocol.MaxRoomBytes),
		fmt.Sprintf("at most %d bytes of UTF-8 |", protocol.MaxTokenBytes),
		fmt.Sprintf("| presence state | at most %d bytes |", protocol.MaxPresenceBytes),
		fmt.Sprintf("| error message | at most %d bytes of UTF-8 |", protocol.MaxErrorMessageBytes),
		"0 … 2^53−1",
	} {
		if !strings.Contains(spec, s) {
			t.Errorf("%s does not contain %q", specPath, s)
		}
	}
	if protocol.MaxClientID != 1<<53-1 {
		t.Errorf("MaxClientID changed: update PROTOCOL.md")
	}
}
