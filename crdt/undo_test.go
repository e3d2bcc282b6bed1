package crdt_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flowstate/flowstate/crdt"
	"pgregory.net/rapid"
)

// An undoStep is one step of a case of testdata/undo.json, whose "about"
// says what each does.
type undoStep struct {
	Do        string         `json:"do"`
	Doc       string         `json:"doc"`
	Text      *string        `json:"text"`
	At        int            `json:"at"`
	Head      *int           `json:"head"`
	S         string         `json:"s"`
	N         int            `json:"n"`
	Key       string         `json:"key"`
	Value     any            `json:"value"`
	Ms        int            `json:"ms"`
	Changed   *bool          `json:"changed"`
	U         *string        `json:"u"`
	Map       map[string]any `json:"map"`
	Undo      *int           `json:"undo"`
	Redo      *int           `json:"redo"`
	Selection []int          `json:"selection"`
	Client    uint64         `json:"client"`
}

type undoCase struct {
	Name  string     `json:"name"`
	Scope []string   `json:"scope"`
	Steps []undoStep `json:"steps"`
}

func loadUndoCases(t *testing.T) []undoCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "undo.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Cases []undoCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	return file.Cases
}

// undoBench is the world of one undo case: replica a with an UndoManager
// and a selection kept the way an editor binding keeps it, replica b, the
// updates each made that the other has not received, and a's clock.
type undoBench struct {
	t       *testing.T
	a, b    *crdt.Doc
	um      *crdt.UndoManager
	now     time.Time
	toA     [][]byte // b's updates a has not received
	toB     [][]byte // a's updates b has not received
	sel     [2]int   // a's selection in t: anchor, head
	touched *crdt.StackItem
	added   bool
}

func newUndoBench(t *testing.T, scope []string) *undoBench {
	w := &undoBench{t: t, a: crdt.NewDocWithClient(1), b: crdt.NewDocWithClient(2), now: time.Unix(1000, 0)}
	if scope == nil {
		scope = []string{"t"}
	}
	var types []crdt.Shared
	for _, name := range scope {
		if name == "m" {
			types = append(types, w.a.Map(name))
		} else {
			types = append(types, w.a.Text(name))
		}
	}
	w.um = crdt.NewUndoManager(crdt.UndoOptions{Now: func() time.Time { return w.now }}, types...)
	// As a binding does: note the item a local edit added or grew, and
	// restore the selection of a popped one.
	w.um.Observe(func(ev crdt.UndoEvent) {
		switch {
		case ev.Kind == crdt.StackItemPopped:
			w.sel = w.resolve(ev.Item.SelectionBefore)
		case ev.Edit:
			w.touched, w.added = ev.Item, ev.Kind == crdt.StackItemAdded
		}
	})
	return w
}

// selection returns a's selection as relative positions.
func (w *undoBench) selection() *crdt.Selection {
	text := w.a.Text("t")
	anchor, err := text.RelativePosition(w.sel[0], 0)
	if err != nil {
		w.t.Fatal(err)
	}
	head, err := text.RelativePosition(w.sel[1], 0)
	if err != nil {
		w.t.Fatal(err)
	}
	return &crdt.Selection{Text: "t", Anchor: anchor, Head: head}
}

func (w *undoBench) resolve(s *crdt.Selection) [2]int {
	if s == nil {
		w.t.Fatal("a popped item has no selection")
	}
	text := w.a.Text(s.Text)
	anchor, ok1 := text.AbsolutePosition(s.Anchor)
	head, ok2 := text.AbsolutePosition(s.Head)
	if !ok1 || !ok2 {
		w.t.Fatalf("selection %+v does not resolve", s)
	}
	return [2]int{anchor, head}
}

// localEdit runs edit on a as a binding would: the selection before it
// goes into the item it adds, and the caret after goes to caret.
func (w *undoBench) localEdit(caret int, edit func() ([]byte, error)) {
	before := w.selection()
	w.touched = nil
	u, err := edit()
	if err != nil {
		w.t.Fatal(err)
	}
	if u != nil {
		w.toB = append(w.toB, u)
	}
	w.sel = [2]int{caret, caret}
	if w.touched != nil {
		if w.added {
			w.touched.SelectionBefore = before
		}
		w.touched.SelectionAfter = w.selection()
	}
}

func (w *undoBench) sync() {
	before := w.selection()
	for _, u := range w.toA {
		if err := w.a.Apply(u); err != nil {
			w.t.Fatal(err)
		}
	}
	for _, u := range w.toB {
		if err := w.b.Apply(u); err != nil {
			w.t.Fatal(err)
		}
	}
	w.toA, w.toB = nil, nil
	w.sel = w.resolve(before)
}

func mapState(m *crdt.Map, want map[string]any) map[string]any {
	got := make(map[string]any, len(want))
	for k := range want {
		v, ok := m.Get(k)
		if !ok {
			got[k] = nil
			continue
		}
		// Through JSON, so that msgpack's int8 and JSON's float64 compare.
		b, _ := json.Marshal(v)
		var x any
		_ = json.Unmarshal(b, &x)
		got[k] = x
	}
	return got
}

func (w *undoBench) step(i int, s undoStep) {
	t := w.t
	doc := w.a
	if s.Doc == "b" {
		doc = w.b
	}
	textName := "t"
	if s.Text != nil {
		textName = *s.Text
	}
	text := doc.Text(textName)
	edit := func(caret int, fn func() ([]byte, error)) {
		if doc == w.a {
			w.localEdit(caret, fn)
			return
		}
		u, err := fn()
		if err != nil {
			t.Fatal(err)
		}
		w.toA = append(w.toA, u)
	}
	where := fmt.Sprintf("step %d (%s)", i, s.Do)
	switch s.Do {
	case "insert":
		edit(s.At+len([]rune(s.S)), func() ([]byte, error) { return text.Insert(s.At, s.S) })
	case "delete":
		edit(s.At, func() ([]byte, error) { return text.Delete(s.At, s.N) })
	case "set":
		v := s.Value
		if f, ok := v.(float64); ok && f == math.Trunc(f) {
			v = int(f) // a JSON integer: the shortest form, as JavaScript sets it
		}
		edit(w.sel[1], func() ([]byte, error) { return doc.Map("m").Set(s.Key, v) })
	case "del":
		edit(w.sel[1], func() ([]byte, error) { return doc.Map("m").Delete(s.Key) })
	case "sync":
		w.sync()
	case "tick":
		w.now = w.now.Add(time.Duration(s.Ms) * time.Millisecond)
	case "stop":
		w.um.StopCapturing()
	case "switch":
		crdt.SetLocalClient(w.a, crdt.ClientID(s.Client))
	case "select":
		w.sel = [2]int{s.At, *s.Head}
	case "undo", "redo":
		var u []byte
		var changed bool
		if s.Do == "undo" {
			u, changed = w.um.Undo()
		} else {
			u, changed = w.um.Redo()
		}
		if changed != *s.Changed {
			t.Fatalf("%s: returned %v, want %v", where, changed, *s.Changed)
		}
		if changed != (u != nil) {
			t.Fatalf("%s: changed %v with update %x", where, changed, u)
		}
		if u != nil {
			w.toB = append(w.toB, u)
		}
	case "expect":
		if s.Text != nil {
			if got := w.a.Text("t").String(); got != *s.Text {
				t.Fatalf("%s: t is %q, want %q", where, got, *s.Text)
			}
		}
		if s.U != nil {
			if got := w.a.Text("u").String(); got != *s.U {
				t.Fatalf("%s: u is %q, want %q", where, got, *s.U)
			}
		}
		if s.Map != nil {
			if got := mapState(w.a.Map("m"), s.Map); !reflect.DeepEqual(got, s.Map) {
				t.Fatalf("%s: m is %v, want %v", where, got, s.Map)
			}
		}
		if s.Undo != nil && w.um.UndoStackLen() != *s.Undo {
			t.Fatalf("%s: %d undo items, want %d", where, w.um.UndoStackLen(), *s.Undo)
		}
		if s.Redo != nil && w.um.RedoStackLen() != *s.Redo {
			t.Fatalf("%s: %d redo items, want %d", where, w.um.RedoStackLen(), *s.Redo)
		}
		if s.Selection != nil && (w.sel[0] != s.Selection[0] || w.sel[1] != s.Selection[1]) {
			t.Fatalf("%s: selection %v, want %v", where, w.sel, s.Selection)
		}
	case "expectB":
		if s.Text != nil {
			if got := w.b.Text("t").String(); got != *s.Text {
				t.Fatalf("%s: b's t is %q, want %q", where, got, *s.Text)
			}
		}
		if s.Map != nil {
			if got := mapState(w.b.Map("m"), s.Map); !reflect.DeepEqual(got, s.Map) {
				t.Fatalf("%s: b's m is %v, want %v", where, got, s.Map)
			}
		}
	default:
		t.Fatalf("%s: unknown step", where)
	}
}

var updateUndo = flag.Bool("update-undo", false, "rewrite testdata/undo-snapshots.json from the cases of testdata/undo.json")

// undoSnapshotsPath holds the snapshot of replica a at the end of each undo
// case, which the JavaScript tests must reproduce byte for byte.
var undoSnapshotsPath = filepath.Join("testdata", "undo-snapshots.json")

func TestUndoCases(t *testing.T) {
	snapshots := make(map[string]string)
	for _, tc := range loadUndoCases(t) {
		t.Run(tc.Name, func(t *testing.T) {
			w := newUndoBench(t, tc.Scope)
			for i, s := range tc.Steps {
				w.step(i, s)
			}
			// Whatever happened, the replicas agree once they have met.
			w.sync()
			if a, b := w.a.Text("t").String(), w.b.Text("t").String(); a != b {
				t.Fatalf("the replicas differ: a %q, b %q", a, b)
			}
			snapshots[tc.Name] = hex.EncodeToString(w.a.Snapshot())
		})
	}
	got, err := json.MarshalIndent(snapshots, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *updateUndo {
		if err := os.WriteFile(undoSnapshotsPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(undoSnapshotsPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date: go test ./crdt -run TestUndoCases -update-undo", undoSnapshotsPath)
	}
}

// TestUndoEmoji checks that code points, not bytes, are counted when a
// deletion of emoji is split around text typed in the same step.
func TestUndoEmoji(t *testing.T) {
	a := crdt.NewDocWithClient(1)
	text := a.Text("t")
	if _, err := text.Insert(0, "é😀ü"); err != nil {
		t.Fatal(err)
	}
	um := crdt.NewUndoManager(crdt.UndoOptions{}, text)
	// One step: type two emoji inside, then delete across old and new.
	mustDo(t, func() error { _, err := text.Insert(2, "🎉🎊"); return err })
	mustDo(t, func() error { _, err := text.Delete(1, 3); return err })
	if got := text.String(); got != "éü" {
		t.Fatalf("after the step: %q", got)
	}
	if _, ok := um.Undo(); !ok {
		t.Fatal("undo changed nothing")
	}
	if got := text.String(); got != "é😀ü" {
		t.Fatalf("after undo: %q, want the text before the step", got)
	}
	if _, ok := um.Redo(); !ok || text.String() != "éü" {
		t.Fatalf("after redo: %q", text.String())
	}
}

func mustDo(t *testing.T, fn func() error) {
	t.Helper()
	if err := fn(); err != nil {
		t.Fatal(err)
	}
}

func TestUndoInsideTransact(t *testing.T) {
	a := crdt.NewDocWithClient(1)
	text := a.Text("t")
	um := crdt.NewUndoManager(crdt.UndoOptions{}, text)
	mustDo(t, func() error { _, err := text.Insert(0, "x"); return err })
	_, _ = a.Transact(func() error {
		if _, ok := um.Undo(); ok {
			t.Error("Undo inside Transact changed something")
		}
		return nil
	})
	if text.String() != "x" || !um.CanUndo() {
		t.Fatalf("text %q, CanUndo %v", text.String(), um.CanUndo())
	}
	um.Destroy()
	mustDo(t, func() error { _, err := text.Insert(1, "y"); return err })
	if um.CanUndo() {
		t.Fatal("a destroyed manager recorded an edit")
	}
}

// TestUndoEverythingLocal is the property behind undo: a replica that
// only edits locally and then undoes everything has the text it started
// with, and so has every replica that receives its updates; redoing
// everything gives back the edited text.
func TestUndoEverythingLocal(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		start := rapid.StringMatching(`[a-z😀 ]{0,12}`).Draw(rt, "start")
		a := crdt.NewDocWithClient(1)
		b := crdt.NewDocWithClient(2)
		// The start comes from b: it is not a's to undo.
		u, err := b.Text("t").Insert(0, start)
		if err != nil {
			rt.Fatal(err)
		}
		if u != nil {
			if err := a.Apply(u); err != nil {
				rt.Fatal(err)
			}
		}
		now := time.Unix(0, 0)
		text := a.Text("t")
		um := crdt.NewUndoManager(crdt.UndoOptions{Now: func() time.Time { return now }}, text)
		var updates [][]byte
		keep := func(u []byte) {
			if u != nil {
				updates = append(updates, u)
			}
		}
		n := rapid.IntRange(1, 30).Draw(rt, "edits")
		for i := 0; i < n; i++ {
			switch rapid.IntRange(0, 3).Draw(rt, "gap") {
			case 0:
				now = now.Add(time.Second)
			case 1:
				um.StopCapturing()
			}
			l := text.Len()
			if l > 0 && rapid.Bool().Draw(rt, "delete") {
				pos := rapid.IntRange(0, l-1).Draw(rt, "pos")
				u, err := text.Delete(pos, rapid.IntRange(1, l-pos).Draw(rt, "n"))
				if err != nil {
					rt.Fatal(err)
				}
				keep(u)
			} else {
				s := rapid.StringMatching(`[A-Z😀]{1,4}`).Draw(rt, "s")
				u, err := text.Insert(rapid.IntRange(0, l).Draw(rt, "pos"), s)
				if err != nil {
					rt.Fatal(err)
				}
				keep(u)
			}
		}
		edited := text.String()
		for {
			u, ok := um.Undo()
			if !ok {
				break
			}
			keep(u)
		}
		if got := text.String(); got != start {
			rt.Fatalf("after undoing everything: %q, want %q (edited: %q)", got, start, edited)
		}
		for _, u := range updates {
			if err := b.Apply(u); err != nil {
				rt.Fatal(err)
			}
		}
		if got := b.Text("t").String(); got != start {
			rt.Fatalf("the other replica has %q, want %q", got, start)
		}
		for {
			u, ok := um.Redo()
			if !ok {
				break
			}
			keep(u)
		}
		if got := text.String(); got != edited {
			rt.Fatalf("after redoing everything: %q, want %q", got, edited)
		}
		c := crdt.NewDoc()
		if u != nil {
			if err := c.Apply(u); err != nil {
				rt.Fatal(err)
			}
		}
		for _, u := range updates {
			if err := c.Apply(u); err != nil {
				rt.Fatal(err)
			}
		}
		if got := c.Text("t").String(); got != edited {
			rt.Fatalf("a replica of every update has %q, want %q", got, edited)
		}
	})
}

func TestRelativePosition(t *testing.T) {
	a := crdt.NewDocWithClient(1)
	b := crdt.NewDocWithClient(2)
	text := a.Text("t")
	u, _ := text.Insert(0, "héllo")
	_ = b.Apply(u)
	tests := []struct {
		pos, assoc int
		want       int // after b inserts "> " at 0 and deletes "ll"
	}{
		{0, 0, 2},  // before h
		{0, -1, 0}, // the start
		{2, 0, 4},  // before l (deleted: where it was)
		{2, -1, 4}, // after é
		{5, 0, 5},  // the end
		{5, -1, 5}, // after o
	}
	var rels []crdt.RelativePosition
	for _, tt := range tests {
		rp, err := text.RelativePosition(tt.pos, tt.assoc)
		if err != nil {
			t.Fatal(err)
		}
		rels = append(rels, rp)
	}
	if _, err := text.RelativePosition(6, 0); err == nil {
		t.Fatal("a position past the end was accepted")
	}
	u1, _ := b.Text("t").Insert(0, "> ")
	u2, _ := b.Text("t").Delete(4, 2)
	_ = a.Apply(u1)
	_ = a.Apply(u2)
	if got := text.String(); got != "> héo" {
		t.Fatalf("text %q", got)
	}
	for i, tt := range tests {
		got, ok := text.AbsolutePosition(rels[i])
		if !ok || got != tt.want {
			t.Errorf("%d/%d: resolves to %d %v, want %d", tt.pos, tt.assoc, got, ok, tt.want)
		}
	}
	if _, ok := a.Text("other").AbsolutePosition(rels[0]); ok {
		t.Error("a position resolved in another text")
	}
	if _, ok := text.AbsolutePosition(crdt.RelativePosition{ID: crdt.ID{Client: 9, Clock: 0}, Anchored: true}); ok {
		t.Error("a position of an unknown client resolved")
	}
}

// BenchmarkLocalApplyWithUndo replays a trace, one transaction per trace
// transaction, without an UndoManager (none), with one recording every
// edit, each transaction a step of its own as the clock moves a second per
// transaction (record: the cost undo adds to typing), and then undoing
// every step (record+undo-all: the cost of undo itself).
func BenchmarkLocalApplyWithUndo(b *testing.B) {
	tr := loadTrace(b, benchTrace)
	for _, mode := range []string{"none", "record", "record+undo-all"} {
		b.Run(mode, func(b *testing.B) {
			for b.Loop() {
				d := crdt.NewDocWithClient(1)
				txt := d.Text("t")
				now := time.Unix(0, 0)
				var um *crdt.UndoManager
				if mode != "none" {
					um = crdt.NewUndoManager(crdt.UndoOptions{Now: func() time.Time { return now }}, txt)
				}
				for _, txn := range tr.Txns {
					now = now.Add(time.Second)
					if _, err := applyTxnLocal(d, txt, txn.Patches); err != nil {
						b.Fatal(err)
					}
				}
				if um == nil {
					continue
				}
				if um.UndoStackLen() != len(tr.Txns) {
					b.Fatalf("%d steps for %d transactions", um.UndoStackLen(), len(tr.Txns))
				}
				if mode == "record" {
					continue
				}
				for {
					if _, ok := um.Undo(); !ok {
						break
					}
				}
				if txt.String() != tr.StartContent {
					b.Fatal("undoing everything does not give back the start")
				}
			}
			b.ReportMetric(float64(len(tr.Txns)), "txns/op")
		})
	}
}

// TestUndoManySteps undoes and redoes hundreds of deletions, each a step
// of its own, three times over, so that the copies undo makes are found
// through many generations of moves.
func TestUndoManySteps(t *testing.T) {
	a := crdt.NewDocWithClient(1)
	b := crdt.NewDocWithClient(2)
	start := strings.Repeat("abcdefghij", 40)
	u, _ := b.Text("t").Insert(0, start)
	mustDo(t, func() error { return a.Apply(u) })
	text := a.Text("t")
	um := crdt.NewUndoManager(crdt.UndoOptions{CaptureTimeout: -1}, text)
	for i := 1; i < text.Len(); i++ { // every other code point, from the front
		mustDo(t, func() error { _, err := text.Delete(i, 1); return err })
	}
	edited := text.String()
	if len(edited) != len(start)/2 {
		t.Fatalf("edited %q", edited)
	}
	for round := range 3 {
		n := 0
		for _, ok := um.Undo(); ok; _, ok = um.Undo() {
			n++
		}
		if got := text.String(); got != start || n != len(start)/2 {
			t.Fatalf("round %d: %d undos give %q", round, n, got)
		}
		for _, ok := um.Redo(); ok; _, ok = um.Redo() {
		}
		if got := text.String(); got != edited {
			t.Fatalf("round %d: redo gives %q", round, got)
		}
	}
}

// FuzzUndo runs undo and redo amid local and remote edits in any order,
// with updates delivered late, and a client ID switch now and then: no
// panic, and replicas that have exchanged everything are equal.
func FuzzUndo(f *testing.F) {
	f.Add([]byte{0, 0, 5, 4, 0, 0, 2, 3, 1, 5, 0, 0, 6, 0, 0, 4, 0, 0, 7, 0, 0})
	f.Add([]byte{0, 0, 9, 8, 0, 0, 1, 2, 3, 10, 1, 1, 12, 0, 0, 6, 0, 0, 6, 0, 0, 5, 0, 0, 7, 0, 0, 4, 0, 0})
	f.Fuzz(runUndoOps)
}

// runUndoOps is the body of FuzzUndo: three bytes an operation.
func runUndoOps(t *testing.T, ops []byte) {
	a := crdt.NewDocWithClient(1)
	b := crdt.NewDocWithClient(2)
	now := time.Unix(0, 0)
	um := crdt.NewUndoManager(crdt.UndoOptions{Now: func() time.Time { return now }}, a.Text("t"), a.Map("m"))
	var toA, toB [][]byte
	keep := func(q *[][]byte, u []byte, err error) {
		if err != nil {
			t.Fatal(err)
		}
		if u != nil {
			*q = append(*q, u)
		}
	}
	deliver := func(d *crdt.Doc, q *[][]byte) {
		for _, u := range *q {
			if err := d.Apply(u); err != nil {
				t.Fatal(err)
			}
		}
		*q = nil
	}
	next := crdt.ClientID(10)
	for len(ops) >= 3 {
		op, x, y := ops[0]%13, int(ops[1]), int(ops[2])
		ops = ops[3:]
		d, q := a, &toB
		if op == 2 || op == 3 || op == 11 {
			d, q = b, &toA
		}
		text := d.Text("t")
		switch op {
		case 0, 2:
			u, err := text.Insert(x%(text.Len()+1), strings.Repeat(string(rune('a'+y%26)), 1+y%3))
			keep(q, u, err)
		case 1, 3:
			if text.Len() > 0 {
				pos := x % text.Len()
				u, err := text.Delete(pos, 1+y%(text.Len()-pos))
				keep(q, u, err)
			}
		case 4:
			deliver(b, &toB)
		case 5:
			deliver(a, &toA)
		case 6:
			u, _ := um.Undo()
			keep(&toB, u, nil)
		case 7:
			u, _ := um.Redo()
			keep(&toB, u, nil)
		case 8:
			now = now.Add(time.Duration(x) * 10 * time.Millisecond)
		case 9:
			um.StopCapturing()
		case 10, 11:
			u, err := d.Map("m").Set(string(rune('k'+x%3)), y)
			keep(q, u, err)
		case 12:
			crdt.SetLocalClient(a, next)
			next++
		}
	}
	deliver(a, &toA)
	deliver(b, &toB)
	if a.Text("t").String() != b.Text("t").String() || !reflect.DeepEqual(mapState(a.Map("m"), map[string]any{"k": 0, "l": 0, "m": 0}), mapState(b.Map("m"), map[string]any{"k": 0, "l": 0, "m": 0})) {
		t.Fatalf("replicas differ: %q and %q", a.Text("t").String(), b.Text("t").String())
	}
	for {
		u, ok := um.Undo()
		if !ok {
			break
		}
		if err := b.Apply(u); err != nil {
			t.Fatal(err)
		}
	}
	if a.Text("t").String() != b.Text("t").String() {
		t.Fatalf("after undoing everything, replicas differ: %q and %q", a.Text("t").String(), b.Text("t").String())
	}
}
