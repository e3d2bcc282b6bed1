package richexport

import (
	"html"
	"strings"
)

// HTML renders a delta as an HTML fragment: one element per block (p, h1
// to h6, blockquote, nested ul and ol, one pre for a run of code-block
// lines), and strong, em, u, s, code, a and img inside, as Quill's
// getSemanticHTML does. Every text and attribute value is escaped, and
// links and images keep only URLs of allowed schemes.
func HTML(ops []Op) string {
	var b strings.Builder
	var lists []htmlList
	ls := lines(ops)
	for i := 0; i < len(ls); i++ {
		bl := blockOf(ls[i].attrs)
		if bl.kind != "list" {
			closeLists(&b, &lists, 0)
		}
		switch bl.kind {
		case "code":
			b.WriteString("<pre><code")
			if bl.lang != "" {
				b.WriteString(` class="language-` + html.EscapeString(bl.lang) + `"`)
			}
			b.WriteString(">")
			for j := i; j < len(ls) && blockOf(ls[j].attrs) == bl; j++ {
				if j > i {
					b.WriteString("\n")
				}
				b.WriteString(html.EscapeString(plainText(ls[j].segs)))
				i = j
			}
			b.WriteString("</code></pre>\n")
		case "header":
			tag := "h" + string(rune('0'+bl.level))
			b.WriteString("<" + tag + ">")
			htmlInline(&b, ls[i].segs)
			b.WriteString("</" + tag + ">\n")
		case "blockquote":
			b.WriteString("<blockquote>")
			htmlInline(&b, ls[i].segs)
			b.WriteString("</blockquote>\n")
		case "list":
			openItem(&b, &lists, bl)
			htmlInline(&b, ls[i].segs)
		default:
			b.WriteString("<p>")
			if len(ls[i].segs) == 0 {
				b.WriteString("<br>")
			}
			htmlInline(&b, ls[i].segs)
			b.WriteString("</p>\n")
		}
	}
	closeLists(&b, &lists, 0)
	return b.String()
}

// An htmlList is one open list: its tag, and whether an item of it is
// open (a nested list goes inside it).
type htmlList struct {
	tag    string
	itemOn bool
}

// openItem opens a list item of bl, closing and opening lists so that it
// sits at its indent in a list of its kind.
func openItem(b *strings.Builder, lists *[]htmlList, bl block) {
	tag := "ul"
	if bl.list == "ordered" {
		tag = "ol"
	}
	closeLists(b, lists, bl.indent+1)
	if n := len(*lists); n == bl.indent+1 && (*lists)[n-1].tag != tag {
		closeLists(b, lists, n-1)
	}
	for len(*lists) < bl.indent+1 {
		if n := len(*lists); n > 0 && !(*lists)[n-1].itemOn {
			b.WriteString("<li>")
			(*lists)[n-1].itemOn = true
		}
		b.WriteString("<" + tag + ">\n")
		*lists = append(*lists, htmlList{tag: tag})
	}
	top := &(*lists)[len(*lists)-1]
	if top.itemOn {
		b.WriteString("</li>\n")
	}
	switch bl.list {
	case "checked":
		b.WriteString(`<li data-checked="true">`)
	case "unchecked":
		b.WriteString(`<li data-checked="false">`)
	default:
		b.WriteString("<li>")
	}
	top.itemOn = true
}

// closeLists closes the open lists deeper than keep.
func closeLists(b *strings.Builder, lists *[]htmlList, keep int) {
	for len(*lists) > keep {
		top := (*lists)[len(*lists)-1]
		if top.itemOn {
			b.WriteString("</li>\n")
		}
		b.WriteString("</" + top.tag + ">")
		*lists = (*lists)[:len(*lists)-1]
		if len(*lists) == 0 {
			b.WriteString("\n")
		}
	}
}

// inlineTags are the inline formats, outermost first, with their tags.
var inlineTags = []struct{ key, tag string }{
	{"bold", "strong"}, {"italic", "em"}, {"underline", "u"}, {"strike", "s"}, {"code", "code"},
}

// htmlInline writes the inline pieces of a line.
func htmlInline(b *strings.Builder, segs []segment) {
	for _, s := range segs {
		var body string
		if s.embed != nil {
			src, ok := imageOf(s.embed)
			if !ok {
				continue
			}
			body = `<img src="` + html.EscapeString(src) + `" alt="">`
		} else {
			body = html.EscapeString(s.text)
		}
		href, link := safeURL(s.attrs["link"], linkSchemes)
		if link {
			b.WriteString(`<a href="` + html.EscapeString(href) + `" rel="noopener noreferrer">`)
		}
		for _, t := range inlineTags {
			if truthy(s.attrs[t.key]) {
				b.WriteString("<" + t.tag + ">")
			}
		}
		b.WriteString(body)
		for i := len(inlineTags) - 1; i >= 0; i-- {
			if truthy(s.attrs[inlineTags[i].key]) {
				b.WriteString("</" + inlineTags[i].tag + ">")
			}
		}
		if link {
			b.WriteString("</a>")
		}
	}
}

// plainText returns the text of a line's pieces, without its embeds.
func plainText(segs []segment) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteString(s.text)
	}
	return b.String()
}
