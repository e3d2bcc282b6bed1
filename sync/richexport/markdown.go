package richexport

import (
	"strconv"
	"strings"
)

// Markdown renders a delta as CommonMark (with GitHub's ~~strike~~ and
// task list items): # headers, - and 1. lists indented four spaces per
// level, > quotes, fenced code blocks, **bold**, *italic*, ~~strike~~,
// `code`, [links](url) and ![](images); underline, which Markdown lacks,
// is <u>. Text is escaped so that none of it becomes markup or raw HTML,
// and links and images keep only URLs of allowed schemes.
func Markdown(ops []Op) string {
	var b strings.Builder
	ls := lines(ops)
	prev := ""
	for i := 0; i < len(ls); i++ {
		bl := blockOf(ls[i].attrs)
		if bl.kind == "p" && len(ls[i].segs) == 0 {
			continue // an empty paragraph: the blank lines say as much
		}
		// Blocks are separated by a blank line, except items of one list.
		if prev != "" && (bl.kind != "list" || prev != "list") {
			b.WriteString("\n")
		}
		prev = bl.kind
		switch bl.kind {
		case "code":
			var code []string
			for j := i; j < len(ls) && blockOf(ls[j].attrs) == bl; j++ {
				code = append(code, strings.ReplaceAll(plainText(ls[j].segs), "\r", " "))
				i = j
			}
			body := strings.Join(code, "\n")
			fence := strings.Repeat("`", max(3, longestRun(body, '`')+1))
			b.WriteString(fence + bl.lang + "\n" + body + "\n" + fence + "\n")
		case "header":
			b.WriteString(strings.Repeat("#", bl.level) + " ")
			mdInline(&b, ls[i].segs)
			b.WriteString("\n")
		case "blockquote":
			b.WriteString("> ")
			mdInline(&b, ls[i].segs)
			b.WriteString("\n")
		case "list":
			b.WriteString(strings.Repeat("    ", bl.indent))
			switch bl.list {
			case "ordered":
				b.WriteString("1. ")
			case "checked":
				b.WriteString("- [x] ")
			case "unchecked":
				b.WriteString("- [ ] ")
			default:
				b.WriteString("- ")
			}
			mdInline(&b, ls[i].segs)
			b.WriteString("\n")
		default:
			mdInline(&b, ls[i].segs)
			b.WriteString("\n")
		}
	}
	return b.String()
}

// mdMarks are the inline formats that open and close around runs, in the
// order they nest, with their delimiters.
var mdMarks = []struct{ key, open, close string }{
	{"bold", "**", "**"}, {"italic", "*", "*"}, {"strike", "~~", "~~"}, {"underline", "<u>", "</u>"},
}

// mdInline writes the inline pieces of a line. Formats stay open across
// pieces that share them, so that adjacent delimiters never run together
// ("**a****b**"), and whitespace at a piece's edges goes outside the
// delimiters, where CommonMark requires it.
func mdInline(b *strings.Builder, segs []segment) {
	var open []int // indexes into mdMarks, outermost first
	tail := ""     // trailing whitespace of the last piece, not yet written
	start := true  // nothing of the line written yet
	for _, s := range segs {
		var body, after string
		if s.embed != nil {
			src, ok := imageOf(s.embed)
			if !ok {
				continue
			}
			body = "![](" + mdURL(src) + ")"
		} else {
			text := strings.ReplaceAll(s.text, "\r", " ")
			lead := len(text) - len(strings.TrimLeft(text, " \t"))
			trail := len(strings.TrimRight(text, " \t"))
			if trail < lead {
				// Whitespace only: it belongs to no format.
				tail += text
				continue
			}
			if truthy(s.attrs["code"]) {
				body = codeSpan(text[lead:trail])
			} else {
				body = escapeMD(text[lead:trail], start && lead == 0 && tail == "")
			}
			tail += text[:lead] // written before any delimiter
			after = text[trail:]
		}
		if href, ok := safeURL(s.attrs["link"], linkSchemes); ok {
			body = "[" + body + "](" + mdURL(href) + ")"
		}
		want := wantedMarks(s.attrs)
		keep := 0
		for keep < len(open) && keep < len(want) && open[keep] == want[keep] {
			keep++
		}
		for i := len(open) - 1; i >= keep; i-- {
			b.WriteString(mdMarks[open[i]].close)
		}
		if start {
			// Spaces opening a line would indent it into a code block.
			tail = strings.NewReplacer(" ", "&#32;", "\t", "&#9;").Replace(tail)
		}
		b.WriteString(tail)
		for _, m := range want[keep:] {
			b.WriteString(mdMarks[m].open)
		}
		open = want
		b.WriteString(body)
		start = false
		tail = after
	}
	for i := len(open) - 1; i >= 0; i-- {
		b.WriteString(mdMarks[open[i]].close)
	}
	b.WriteString(tail)
}

// wantedMarks returns the delimited formats attrs turns on, in nesting
// order.
func wantedMarks(attrs map[string]any) []int {
	var want []int
	for i, m := range mdMarks {
		if truthy(attrs[m.key]) {
			want = append(want, i)
		}
	}
	return want
}

// escapeMD escapes text so that it reads as itself: every character that
// can start inline markup or raw HTML anywhere, and, at the start of a
// line, those that start a block (a header, a list item, a thematic break).
func escapeMD(text string, lineStart bool) string {
	var b strings.Builder
	for i, r := range text {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '&', '~', '|', '!':
			b.WriteByte('\\')
		case '#', '-', '+', '=':
			if lineStart && i == 0 {
				b.WriteByte('\\')
			}
		case '.', ')':
			// "1. " or "1) " at the start of a line is a list item.
			if lineStart && i > 0 && allDigits(text[:i]) {
				b.WriteByte('\\')
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// codeSpan writes text as an inline code span, fenced by more backticks
// than it holds in a row, so that nothing inside ends it.
func codeSpan(text string) string {
	fence := strings.Repeat("`", longestRun(text, '`')+1)
	if strings.HasPrefix(text, "`") || strings.HasSuffix(text, "`") {
		text = " " + text + " "
	}
	return fence + text + fence
}

// longestRun returns the length of the longest run of c in s.
func longestRun(s string, c byte) int {
	best, n := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}

// mdURL percent-encodes the characters that would end or break a link
// destination, so that the URL stays one destination whatever it holds.
func mdURL(u string) string {
	var b strings.Builder
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch c {
		case ' ', '(', ')', '<', '>', '\\', '`', '"', '\'', '[', ']', '*', '_':
			b.WriteString("%" + strings.ToUpper(strconv.FormatUint(uint64(c), 16)))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
