package richexport

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strings"
)

// An Op is one insert of a delta: a string, or an embed value such as
// {"image": url}, with its attributes. It has the fields of crdt.RichOp,
// which converts to it.
type Op struct {
	Insert     any            `json:"insert"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

// JSONSafe makes ops encodable as JSON, in place, and returns them: embeds
// and attribute values decoded from msgpack may hold maps with keys that
// are not strings, which JSON objects cannot have; their keys become
// strings (fmt.Sprint).
func JSONSafe(ops []Op) []Op {
	for i := range ops {
		ops[i].Insert = JSONValue(ops[i].Insert)
		for k, v := range ops[i].Attributes {
			ops[i].Attributes[k] = JSONValue(v)
		}
	}
	return ops
}

// JSONValue makes a value decoded from msgpack encodable as JSON, in place
// where it can, and returns it: msgpack maps may have keys of any type,
// JSON objects only strings.
func JSONValue(v any) any {
	switch v := v.(type) {
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[fmt.Sprint(k)] = JSONValue(e)
		}
		return out
	case map[string]any:
		for k, e := range v {
			v[k] = JSONValue(e)
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = JSONValue(e)
		}
		return v
	}
	return v
}

// A segment is one inline piece of a line: text, or an embed.
type segment struct {
	text  string
	embed any // non-nil for an embed
	attrs map[string]any
}

// A line is one block: its inline pieces and the attributes of the newline
// that ends it (none for text after the last newline).
type line struct {
	segs  []segment
	attrs map[string]any
}

// lines splits a delta at its newlines.
func lines(ops []Op) []line {
	var out []line
	var cur line
	for _, op := range ops {
		s, ok := op.Insert.(string)
		if !ok {
			if op.Insert != nil {
				cur.segs = append(cur.segs, segment{embed: op.Insert, attrs: op.Attributes})
			}
			continue
		}
		for {
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				break
			}
			if i > 0 {
				cur.segs = append(cur.segs, segment{text: s[:i], attrs: op.Attributes})
			}
			cur.attrs = op.Attributes
			out = append(out, cur)
			cur = line{}
			s = s[i+1:]
		}
		if s != "" {
			cur.segs = append(cur.segs, segment{text: s, attrs: op.Attributes})
		}
	}
	if len(cur.segs) > 0 {
		out = append(out, cur)
	}
	return out
}

// A block is what a line's attributes make of it.
type block struct {
	kind   string // "p", "header", "list", "blockquote" or "code"
	level  int    // of a header, 1 to 6
	list   string // of a list: "bullet", "ordered", "checked" or "unchecked"
	indent int    // of a list item, 0 to maxIndent
	lang   string // of a code block, if valid
}

// maxIndent bounds list nesting: Quill's own limit is 8, and a hostile
// indent must not cost output proportional to its value.
const maxIndent = 8

var langRE = regexp.MustCompile(`^[A-Za-z0-9_+#.-]{1,32}$`)

func blockOf(attrs map[string]any) block {
	if v, ok := attrs["code-block"]; ok && truthy(v) {
		b := block{kind: "code"}
		if s, ok := v.(string); ok && langRE.MatchString(s) && s != "plain" {
			b.lang = s
		}
		return b
	}
	if n, ok := intOf(attrs["header"]); ok && n >= 1 && n <= 6 {
		return block{kind: "header", level: n}
	}
	if s, ok := attrs["list"].(string); ok {
		switch s {
		case "bullet", "ordered", "checked", "unchecked":
			n, _ := intOf(attrs["indent"])
			return block{kind: "list", list: s, indent: min(max(n, 0), maxIndent)}
		}
	}
	if truthy(attrs["blockquote"]) {
		return block{kind: "blockquote"}
	}
	return block{kind: "p"}
}

// truthy reports whether an attribute value turns its format on.
func truthy(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		return v != ""
	}
	return true
}

// intOf returns v as an int if it is a whole number (msgpack and JSON
// decode numbers as various types).
func intOf(v any) (int, bool) {
	switch v := v.(type) {
	case int:
		return v, true
	case int8:
		return int(v), true
	case int16:
		return int(v), true
	case int32:
		return int(v), true
	case int64:
		return clampInt(float64(v))
	case uint8:
		return int(v), true
	case uint16:
		return int(v), true
	case uint32:
		return clampInt(float64(v))
	case uint64:
		return clampInt(float64(v))
	case float32:
		return clampInt(float64(v))
	case float64:
		return clampInt(v)
	case string:
		var n int
		if _, err := fmt.Sscanf(v, "%d", &n); err == nil && fmt.Sprint(n) == v {
			return n, true
		}
	}
	return 0, false
}

func clampInt(f float64) (int, bool) {
	if f != math.Trunc(f) || math.IsNaN(f) {
		return 0, false
	}
	return int(max(min(f, 1<<30), -1<<30)), true
}

// Allowed URL schemes; a URL without a scheme is relative and allowed.
var (
	linkSchemes  = map[string]bool{"http": true, "https": true, "mailto": true, "tel": true}
	imageSchemes = map[string]bool{"http": true, "https": true}
)

// safeURL returns v as a URL of an allowed scheme, cleaned as a browser
// would read it, or false. Browsers drop tabs and newlines anywhere in a
// URL and control characters and spaces around it, so "java\tscript:" is
// a javascript: URL to them: the scheme is judged after the same cleaning.
func safeURL(v any, schemes map[string]bool) (string, bool) {
	s, ok := v.(string)
	if !ok {
		return "", false
	}
	s = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
	s = strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
	if s == "" || len(s) > 8<<10 {
		return "", false
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return "", false
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", false
	}
	if u.Scheme == "" {
		// A relative URL: no colon may come before the first '/', '?'
		// or '#', or a browser could still take a scheme from it.
		if i := strings.IndexAny(s, ":/?#"); i >= 0 && s[i] == ':' {
			return "", false
		}
		return s, true
	}
	if !schemes[strings.ToLower(u.Scheme)] {
		return "", false
	}
	return s, true
}

// imageOf returns the URL of an image embed, if it is one with a safe URL.
func imageOf(embed any) (string, bool) {
	var src any
	switch m := embed.(type) {
	case map[string]any:
		src = m["image"]
	case map[any]any:
		src = m["image"]
	default:
		return "", false
	}
	return safeURL(src, imageSchemes)
}
