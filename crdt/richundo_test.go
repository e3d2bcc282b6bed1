package crdt_test

import (
	"testing"

	"github.com/flowstate/flowstate/crdt"
)

// A richUndoStep is one step of a rich undo case: a local edit of replica
// a (a richStep), "undo" or "redo" of a's UndoManager, a remote edit by
// replica b (Remote set), or "sync", which exchanges all updates.
type richUndoStep struct {
	richStep
	Remote bool
	Want   []crdt.RichOp // a's delta after the step, when set
	// Nothing is set for an undo or redo that finds nothing to change.
	Nothing bool
}

func do(s richStep, want ...crdt.RichOp) richUndoStep { return richUndoStep{richStep: s, Want: want} }
func remote(s richStep) richUndoStep                  { return richUndoStep{richStep: s, Remote: true} }
func undoTo(want ...crdt.RichOp) richUndoStep {
	return richUndoStep{richStep: richStep{Op: "undo"}, Want: want}
}
func redoTo(want ...crdt.RichOp) richUndoStep {
	return richUndoStep{richStep: richStep{Op: "redo"}, Want: want}
}
func syncTo(want ...crdt.RichOp) richUndoStep {
	return richUndoStep{richStep: richStep{Op: "sync"}, Want: want}
}
func deltaStep(ops ...crdt.DeltaOp) richStep { return richStep{Op: "delta", Delta: ops} }
func blockStep(pos int, key string, v any) richStep {
	return richStep{Op: "block", Pos: pos, Key: key, Value: v}
}
func embedStep(pos int, v any) richStep { return richStep{Op: "embed", Pos: pos, Value: v} }

var richUndoTests = []struct {
	name  string
	base  []richStep
	steps []richUndoStep
}{
	{"undo and redo a format", steps(insStep(0, "abcdef")), []richUndoStep{
		do(formatStep(1, 3, "bold", true), op("a"), op("bcd", "bold", true), op("ef")),
		undoTo(op("abcdef")),
		redoTo(op("a"), op("bcd", "bold", true), op("ef")),
		undoTo(op("abcdef")),
	}},
	{"undo restores the values the format replaced", steps(insStep(0, "abcdef"), formatStep(0, 2, "link", "x"), formatStep(4, 2, "link", "y")), []richUndoStep{
		do(formatStep(1, 4, "link", "z"), op("a", "link", "x"), op("bcde", "link", "z"), op("f", "link", "y")),
		undoTo(op("ab", "link", "x"), op("cd"), op("ef", "link", "y")),
		redoTo(op("a", "link", "x"), op("bcde", "link", "z"), op("f", "link", "y")),
	}},
	{"undo of an unformat", steps(insStep(0, "abcd"), formatStep(0, 4, "bold", true)), []richUndoStep{
		do(formatStep(1, 2, "bold", nil), op("a", "bold", true), op("bc"), op("d", "bold", true)),
		undoTo(op("abcd", "bold", true)),
	}},
	{"two steps of one key undo in turn", steps(insStep(0, "abcd")), []richUndoStep{
		do(formatStep(0, 4, "bold", true)),
		do(formatStep(1, 2, "bold", nil), op("a", "bold", true), op("bc"), op("d", "bold", true)),
		undoTo(op("abcd", "bold", true)),
		undoTo(op("abcd")),
		redoTo(op("abcd", "bold", true)),
		redoTo(op("a", "bold", true), op("bc"), op("d", "bold", true)),
	}},
	{"a remote format of another key stays", steps(insStep(0, "abcd")), []richUndoStep{
		do(formatStep(0, 4, "bold", true)),
		remote(formatStep(1, 2, "italic", true)),
		syncTo(op("a", "bold", true), op("bc", "bold", true, "italic", true), op("d", "bold", true)),
		undoTo(op("a"), op("bc", "italic", true), op("d")),
	}},
	{"a remote value set since stays", steps(insStep(0, "abcd")), []richUndoStep{
		do(formatStep(0, 4, "link", "x")),
		syncTo(op("abcd", "link", "x")),
		remote(formatStep(2, 2, "link", "y")),
		syncTo(op("ab", "link", "x"), op("cd", "link", "y")),
		undoTo(op("ab"), op("cd", "link", "y")),
	}},
	{"text typed since inside the format keeps it", steps(insStep(0, "abcd")), []richUndoStep{
		do(formatStep(0, 4, "link", "x")),
		syncTo(),
		remote(insStep(2, "XY")),
		syncTo(op("abXYcd", "link", "x")),
		undoTo(op("ab"), op("XY", "link", "x"), op("cd")),
	}},
	{"format of deleted text does nothing", steps(insStep(0, "abcd")), []richUndoStep{
		do(formatStep(1, 2, "bold", true)),
		syncTo(),
		remote(deleteStep(1, 2)),
		syncTo(op("ad")),
		{richStep: richStep{Op: "undo"}, Want: []crdt.RichOp{op("ad")}, Nothing: true},
	}},
	{"undo of a block attribute", steps(insStep(0, "ab\ncd\n"), blockStep(0, "header", 2)), []richUndoStep{
		do(blockStep(0, "header", 1), op("ab"), op("\n", "header", 1), op("cd\n")),
		undoTo(op("ab"), op("\n", "header", 2), op("cd\n")),
		redoTo(op("ab"), op("\n", "header", 1), op("cd\n")),
	}},
	{"undo of a delta", steps(insStep(0, "ab\ncd\n"), formatStep(0, 1, "bold", true)), []richUndoStep{
		do(deltaStep(crdt.DeltaOp{Retain: 1, Attributes: attrs("italic", true)}, crdt.DeltaOp{Insert: "X", Attributes: attrs("link", "u")},
			crdt.DeltaOp{Retain: 2, Attributes: attrs("list", "bullet")}, crdt.DeltaOp{Delete: 1}),
			op("a", "bold", true, "italic", true), op("X", "link", "u"), op("b"), op("\n", "list", "bullet"), op("d\n")),
		undoTo(op("a", "bold", true), op("b\ncd\n")),
		redoTo(op("a", "bold", true, "italic", true), op("X", "link", "u"), op("b"), op("\n", "list", "bullet"), op("d\n")),
	}},
	{"undo of an embed", steps(insStep(0, "ab")), []richUndoStep{
		do(embedStep(1, map[string]any{"image": "a.png"}), op("a"), op(map[string]any{"image": "a.png"}), op("b")),
		undoTo(op("ab")),
		redoTo(op("a"), op(map[string]any{"image": "a.png"}), op("b")),
	}},
	{"undo of deleting a formatted embed brings it back formatted", steps(insStep(0, "ab"), embedStep(1, 7), formatStep(0, 3, "link", "u")), []richUndoStep{
		do(deleteStep(0, 2), op("b", "link", "u")),
		undoTo(op("a", "link", "u"), op(7, "link", "u"), op("b", "link", "u")),
		redoTo(op("b", "link", "u")),
	}},
	{"undo of deleting bold text brings it back bold", steps(insStep(0, "abcd"), formatStep(1, 2, "bold", true)), []richUndoStep{
		do(deleteStep(0, 3), op("d")),
		undoTo(op("a"), op("bc", "bold", true), op("d")),
	}},
}

// TestRichUndo runs undo cases on replica a with an UndoManager, each
// transaction a step of its own, beside replica b: after each step a's
// delta is as expected, and after a final sync both replicas agree.
func TestRichUndo(t *testing.T) {
	for _, tt := range richUndoTests {
		t.Run(tt.name, func(t *testing.T) {
			base, _ := richText(t, tt.base...)
			a, b := crdt.NewDocWithClient(10), crdt.NewDocWithClient(20)
			mustApply(t, a, base.Snapshot())
			mustApply(t, b, base.Snapshot())
			um := crdt.NewUndoManager(crdt.UndoOptions{CaptureTimeout: -1}, a.Text("t"))
			var toA, toB [][]byte
			for i, s := range tt.steps {
				switch {
				case s.Op == "undo" || s.Op == "redo":
					f := um.Undo
					if s.Op == "redo" {
						f = um.Redo
					}
					u, changed := f()
					if changed == s.Nothing {
						t.Fatalf("step %d: %s changed %v", i, s.Op, changed)
					}
					toB = append(toB, u)
				case s.Op == "sync":
					for _, u := range toA {
						mustApply(t, a, u)
					}
					for _, u := range toB {
						mustApply(t, b, u)
					}
					toA, toB = nil, nil
				case s.Remote:
					u, err := s.run(b.Text("t"))
					if err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
					toA = append(toA, u)
				default:
					u, err := s.run(a.Text("t"))
					if err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
					toB = append(toB, u)
				}
				if s.Want != nil {
					if got, want := jsonOf(a.Text("t").ToDelta()), jsonOf(s.Want); got != want {
						t.Fatalf("step %d (%s): delta\n got  %s\n want %s", i, s.Op, got, want)
					}
				}
			}
			for _, u := range toA {
				mustApply(t, a, u)
			}
			for _, u := range toB {
				mustApply(t, b, u)
			}
			if got, want := jsonOf(b.Text("t").ToDelta()), jsonOf(a.Text("t").ToDelta()); got != want {
				t.Fatalf("replicas differ: b %s, a %s", got, want)
			}
		})
	}
}
