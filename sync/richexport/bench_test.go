package richexport_test

import (
	"fmt"
	"testing"

	"github.com/flowstate/flowstate/sync/richexport"
)

// benchDelta is a delta of n lines of a few formatted runs each, with
// headers, nested lists, code blocks and an image every 50 lines.
func benchDelta(n int) []richexport.Op {
	var ops []richexport.Op
	for i := range n {
		ops = append(ops,
			richexport.Op{Insert: fmt.Sprintf("line %d with ", i)},
			richexport.Op{Insert: "bold <and> linked", Attributes: map[string]any{"bold": true, "link": "https://example.com/" + fmt.Sprint(i)}},
			richexport.Op{Insert: " text & more", Attributes: map[string]any{"italic": i%2 == 0}},
		)
		if i%50 == 0 {
			ops = append(ops, richexport.Op{Insert: map[string]any{"image": "https://example.com/i.png"}})
		}
		var block map[string]any
		switch i % 7 {
		case 0:
			block = map[string]any{"header": 2}
		case 1, 2:
			block = map[string]any{"list": "bullet", "indent": i % 3}
		case 3:
			block = map[string]any{"code-block": "go"}
		}
		ops = append(ops, richexport.Op{Insert: "\n", Attributes: block})
	}
	return ops
}

func BenchmarkHTML(b *testing.B) {
	ops := benchDelta(10_000)
	b.ReportAllocs()
	for b.Loop() {
		richexport.HTML(ops)
	}
}

func BenchmarkMarkdown(b *testing.B) {
	ops := benchDelta(10_000)
	b.ReportAllocs()
	for b.Loop() {
		richexport.Markdown(ops)
	}
}
