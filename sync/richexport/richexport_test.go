package richexport_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/sync/richexport"
)

// delta parses a delta from its JSON form.
func delta(t testing.TB, s string) []richexport.Op {
	t.Helper()
	var ops []richexport.Op
	if err := json.Unmarshal([]byte(s), &ops); err != nil {
		t.Fatalf("delta %s: %v", s, err)
	}
	return ops
}

var renderTests = []struct {
	name     string
	delta    string
	html     string
	markdown string
}{
	{"empty", `[]`, "", ""},
	{"paragraph", `[{"insert":"Hello\n"}]`, "<p>Hello</p>\n", "Hello\n"},
	{"no final newline", `[{"insert":"Hi"}]`, "<p>Hi</p>\n", "Hi\n"},
	{"empty line", `[{"insert":"a\n\nb\n"}]`, "<p>a</p>\n<p><br></p>\n<p>b</p>\n", "a\n\nb\n"},
	{"overlapping bold and italic",
		`[{"insert":"The ","attributes":{"bold":true}},{"insert":"fox","attributes":{"bold":true,"italic":true}},{"insert":" jumped","attributes":{"italic":true}},{"insert":".\n"}]`,
		"<p><strong>The </strong><strong><em>fox</em></strong><em> jumped</em>.</p>\n",
		"**The *fox*** *jumped*.\n"},
	{"every inline format",
		`[{"insert":"b","attributes":{"bold":true}},{"insert":"i","attributes":{"italic":true}},{"insert":"u","attributes":{"underline":true}},{"insert":"s","attributes":{"strike":true}},{"insert":"c","attributes":{"code":true}},{"insert":"\n"}]`,
		"<p><strong>b</strong><em>i</em><u>u</u><s>s</s><code>c</code></p>\n",
		"**b***i*<u>u</u>~~s~~`c`\n"},
	{"headers",
		`[{"insert":"Title"},{"insert":"\n","attributes":{"header":1}},{"insert":"Sub"},{"insert":"\n","attributes":{"header":3}}]`,
		"<h1>Title</h1>\n<h3>Sub</h3>\n",
		"# Title\n\n### Sub\n"},
	{"nested lists",
		`[{"insert":"a"},{"insert":"\n","attributes":{"list":"bullet"}},{"insert":"b"},{"insert":"\n","attributes":{"list":"bullet","indent":1}},{"insert":"c"},{"insert":"\n","attributes":{"list":"ordered"}},{"insert":"d"},{"insert":"\n","attributes":{"list":"ordered"}}]`,
		"<ul>\n<li>a<ul>\n<li>b</li>\n</ul></li>\n</ul>\n<ol>\n<li>c</li>\n<li>d</li>\n</ol>\n",
		"- a\n    - b\n1. c\n1. d\n"},
	{"task list",
		`[{"insert":"done"},{"insert":"\n","attributes":{"list":"checked"}},{"insert":"todo"},{"insert":"\n","attributes":{"list":"unchecked"}}]`,
		"<ul>\n<li data-checked=\"true\">done</li>\n<li data-checked=\"false\">todo</li>\n</ul>\n",
		"- [x] done\n- [ ] todo\n"},
	{"blockquote",
		`[{"insert":"said"},{"insert":"\n","attributes":{"blockquote":true}}]`,
		"<blockquote>said</blockquote>\n",
		"> said\n"},
	{"code block",
		`[{"insert":"x := 1"},{"insert":"\n","attributes":{"code-block":"go"}},{"insert":"if a < b {"},{"insert":"\n","attributes":{"code-block":"go"}},{"insert":"after\n"}]`,
		"<pre><code class=\"language-go\">x := 1\nif a &lt; b {</code></pre>\n<p>after</p>\n",
		"```go\nx := 1\nif a < b {\n```\n\nafter\n"},
	{"code block holding a fence",
		"[{\"insert\":\"```\"},{\"insert\":\"\\n\",\"attributes\":{\"code-block\":true}}]",
		"<pre><code>```</code></pre>\n",
		"````\n```\n````\n"},
	{"link and image",
		`[{"insert":"site","attributes":{"link":"https://example.com/a b"}},{"insert":{"image":"https://example.com/i.png"}},{"insert":"\n"}]`,
		"<p><a href=\"https://example.com/a b\" rel=\"noopener noreferrer\">site</a><img src=\"https://example.com/i.png\" alt=\"\"></p>\n",
		"[site](https://example.com/a%20b)![](https://example.com/i.png)\n"},
	{"bold link", `[{"insert":"go","attributes":{"bold":true,"link":"/docs#x"}},{"insert":"\n"}]`,
		"<p><a href=\"/docs#x\" rel=\"noopener noreferrer\"><strong>go</strong></a></p>\n",
		"**[go](/docs#x)**\n"},
	{"mailto link", `[{"insert":"mail","attributes":{"link":"mailto:a@b.c"}}]`,
		"<p><a href=\"mailto:a@b.c\" rel=\"noopener noreferrer\">mail</a></p>\n",
		"[mail](mailto:a@b.c)\n"},
	{"whitespace outside delimiters", `[{"insert":"a "},{"insert":" b ","attributes":{"bold":true}},{"insert":"c"}]`,
		"<p>a <strong> b </strong>c</p>\n",
		"a  **b** c\n"},
	{"code with backticks", "[{\"insert\":\"a`b\",\"attributes\":{\"code\":true}}]", "<p><code>a`b</code></p>\n", "``a`b``\n"},
	{"unknown embed", `[{"insert":"a"},{"insert":{"mention":"bob"}},{"insert":"b\n"}]`, "<p>ab</p>\n", "ab\n"},
	{"unknown attributes", `[{"insert":"a","attributes":{"color":"red","comment":"x"}},{"insert":"\n","attributes":{"align":"center"}}]`, "<p>a</p>\n", "a\n"},

	// What an editor of the room could write to attack a reader.
	{"script in text", `[{"insert":"<script>alert(1)</script>\n"}]`,
		"<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n",
		"\\<script\\>alert(1)\\</script\\>\n"},
	{"markup characters", `[{"insert":"*a* _b_ [c](d) \u0060e\u0060 & ~~f~~ | !g\n"}]`,
		"<p>*a* _b_ [c](d) `e` &amp; ~~f~~ | !g</p>\n",
		"\\*a\\* \\_b\\_ \\[c\\](d) \\`e\\` \\& \\~\\~f\\~\\~ \\| \\!g\n"},
	{"block markup at a line start", `[{"insert":"# no\n- no\n1. no\n+ no\n=\n"}]`,
		"<p># no</p>\n<p>- no</p>\n<p>1. no</p>\n<p>+ no</p>\n<p>=</p>\n",
		"\\# no\n\n\\- no\n\n1\\. no\n\n\\+ no\n\n\\=\n"},
	{"indented text", `[{"insert":"    not code\n"},{"insert":"  x"},{"insert":"\n","attributes":{"list":"bullet"}}]`,
		"<p>    not code</p>\n<ul>\n<li>  x</li>\n</ul>\n",
		"&#32;&#32;&#32;&#32;not code\n\n- &#32;&#32;x\n"},
	{"carriage return", "[{\"insert\":\"a\\r# b\\n\"}]", "<p>a\r# b</p>\n", "a # b\n"},
	{"quote in a link", `[{"insert":"x","attributes":{"link":"https://e.com/\"onmouseover=\"alert(1)"}}]`,
		"<p><a href=\"https://e.com/&#34;onmouseover=&#34;alert(1)\" rel=\"noopener noreferrer\">x</a></p>\n",
		"[x](https://e.com/%22onmouseover=%22alert%281%29)\n"},
	{"markup in a link's text", `[{"insert":"](javascript:x)","attributes":{"link":"https://e.com"}}]`,
		"<p><a href=\"https://e.com\" rel=\"noopener noreferrer\">](javascript:x)</a></p>\n",
		"[\\](javascript:x)](https://e.com)\n"},
	{"hostile header and indent", `[{"insert":"a"},{"insert":"\n","attributes":{"header":"1 onclick=x"}},{"insert":"b"},{"insert":"\n","attributes":{"list":"bullet","indent":1e9}}]`,
		"<p>a</p>\n<ul>\n<li><ul>\n<li><ul>\n<li><ul>\n<li><ul>\n<li><ul>\n<li><ul>\n<li><ul>\n<li><ul>\n<li>b</li>\n</ul></li>\n</ul></li>\n</ul></li>\n</ul></li>\n</ul></li>\n</ul></li>\n</ul></li>\n</ul></li>\n</ul>\n",
		"a\n\n                                - b\n"},
	{"hostile code language", `[{"insert":"x"},{"insert":"\n","attributes":{"code-block":"\"><script>"}}]`,
		"<pre><code>x</code></pre>\n", "```\nx\n```\n"},
}

func TestRender(t *testing.T) {
	for _, tt := range renderTests {
		t.Run(tt.name, func(t *testing.T) {
			ops := delta(t, tt.delta)
			if got := richexport.HTML(ops); got != tt.html {
				t.Errorf("HTML:\n got %q\nwant %q", got, tt.html)
			}
			if got := richexport.Markdown(ops); got != tt.markdown {
				t.Errorf("Markdown:\n got %q\nwant %q", got, tt.markdown)
			}
		})
	}
}

// TestHostileURLs: links and images of any scheme but the allowed ones are
// dropped, however a browser would be tricked into reading the scheme.
func TestHostileURLs(t *testing.T) {
	for _, u := range []string{
		"javascript:alert(1)",
		"JavaScript:alert(1)",
		" javascript:alert(1)",
		"\x01javascript:alert(1)",
		"java\tscript:alert(1)",
		"java\nscript:alert(1)",
		"javascript\r:alert(1)",
		"vbscript:msgbox(1)",
		"data:text/html,<script>alert(1)</script>",
		"data:image/svg+xml,<svg onload=alert(1)>",
		"file:///etc/passwd",
		"jAvAsCrIpT:alert(1)",
		"javascript:",
		"\u0000javascript:alert(1)",
		"",
	} {
		for _, d := range []string{
			`[{"insert":"click","attributes":{"link":` + jsonString(u) + `}}]`,
			`[{"insert":"click"},{"insert":{"image":` + jsonString(u) + `}}]`,
		} {
			ops := delta(t, d)
			h, md := richexport.HTML(ops), richexport.Markdown(ops)
			if h != "<p>click</p>\n" || md != "click\n" {
				t.Errorf("URL %q: HTML %q, Markdown %q; want the text alone", u, h, md)
			}
		}
	}
}

// TestImageSchemes: images keep http and https, not mailto or tel.
func TestImageSchemes(t *testing.T) {
	for u, ok := range map[string]bool{"https://e.com/i.png": true, "http://e.com/i.png": true, "/i.png": true, "mailto:a@b.c": false, "tel:1": false} {
		got := richexport.HTML(delta(t, `[{"insert":{"image":`+jsonString(u)+`}}]`))
		if strings.Contains(got, "<img") != ok {
			t.Errorf("image %q: %q", u, got)
		}
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Everything HTML may write: the tags it makes, with only their attributes,
// each quoted, and text with no markup characters unescaped.
var (
	htmlTag     = regexp.MustCompile(`<(/?)(p|h[1-6]|blockquote|ul|ol|li|pre|code|strong|em|u|s|a|img|br)((?: (?:href|src|alt|rel|class|data-checked)="[^"<>]*")*)>`)
	htmlNoMarks = regexp.MustCompile(`^[^<>"]*$`)
)

// FuzzRender renders arbitrary deltas: neither renderer may panic, and the
// HTML holds only the renderer's own tags and attributes, with links and
// images of allowed schemes only.
func FuzzRender(f *testing.F) {
	for _, tt := range renderTests {
		f.Add([]byte(tt.delta))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var ops []richexport.Op
		if json.Unmarshal(b, &ops) != nil {
			return
		}
		richexport.Markdown(ops)
		h := richexport.HTML(ops)
		rest := htmlTag.ReplaceAllStringFunc(h, func(tag string) string {
			for _, m := range regexp.MustCompile(`(?:href|src)="([^"]*)"`).FindAllStringSubmatch(tag, -1) {
				u := strings.ToLower(m[1])
				if i := strings.IndexAny(u, ":/?#"); i >= 0 && u[i] == ':' {
					if s := u[:i]; s != "http" && s != "https" && s != "mailto" && s != "tel" {
						t.Fatalf("URL of scheme %q in %q", s, tag)
					}
				}
			}
			return ""
		})
		if !htmlNoMarks.MatchString(rest) {
			t.Fatalf("markup the renderer did not make in %q (left: %q)", h, rest)
		}
	})
}

// TestFromCRDT renders what crdt.Text.ToDelta returns, whose ops convert
// to Op, embeds and block attributes included.
func TestFromCRDT(t *testing.T) {
	d := crdt.NewDocWithClient(1)
	tx := d.Text("body")
	steps := []func() ([]byte, error){
		func() ([]byte, error) { return tx.Insert(0, "Title\nbold and <b>\n") },
		func() ([]byte, error) { return tx.SetBlock(0, "header", 2) },
		func() ([]byte, error) { return tx.Format(6, 4, "bold", true) },
		func() ([]byte, error) { return tx.InsertEmbed(6, map[string]any{"image": "https://e.com/x.png"}) },
	}
	for i, step := range steps {
		if _, err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	var ops []richexport.Op
	for _, op := range tx.ToDelta() {
		ops = append(ops, richexport.Op(op))
	}
	if got, want := richexport.HTML(ops), "<h2>Title</h2>\n<p><img src=\"https://e.com/x.png\" alt=\"\"><strong>bold</strong> and &lt;b&gt;</p>\n"; got != want {
		t.Errorf("HTML:\n got %q\nwant %q", got, want)
	}
	if got, want := richexport.Markdown(ops), "## Title\n\n![](https://e.com/x.png)**bold** and \\<b\\>\n"; got != want {
		t.Errorf("Markdown:\n got %q\nwant %q", got, want)
	}
}
