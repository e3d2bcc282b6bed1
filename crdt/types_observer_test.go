package crdt_test

import (
	"slices"
	"testing"

	"github.com/flowstate/flowstate/crdt"
)

// typesEventTests lists edits and the types ObserveTypes must report for
// them, on a replica that receives the edit as an update.
var typesEventTests = []struct {
	name  string
	edit  func(d *crdt.Doc) error
	texts []string
	maps  []string
}{
	{"insert", func(d *crdt.Doc) error { _, err := d.Text("body").Insert(0, "hi"); return err }, []string{"body"}, nil},
	{"delete", func(d *crdt.Doc) error { _, err := d.Text("seed").Delete(0, 2); return err }, []string{"seed"}, nil},
	{"map set", func(d *crdt.Doc) error { _, err := d.Map("meta").Set("k", 1); return err }, nil, []string{"meta"}},
	{"two texts and a map", func(d *crdt.Doc) error {
		_, err := d.Transact(func() error {
			d.Text("a").Insert(0, "x")
			d.Text("b").Insert(0, "y")
			d.Map("m").Set("k", "v")
			return nil
		})
		return err
	}, []string{"a", "b"}, []string{"m"}},
}

func TestObserveTypes(t *testing.T) {
	for _, tt := range typesEventTests {
		t.Run(tt.name, func(t *testing.T) {
			src := crdt.NewDoc()
			seed, err := src.Text("seed").Insert(0, "seed")
			if err != nil {
				t.Fatal(err)
			}
			dst := crdt.NewDoc()
			if err := dst.Apply(seed); err != nil {
				t.Fatal(err)
			}
			var got []crdt.TypesEvent
			cancel := dst.ObserveTypes(func(ev crdt.TypesEvent) { got = append(got, ev) })
			before := src.StateVector()
			if err := tt.edit(src); err != nil {
				t.Fatal(err)
			}
			if err := dst.Apply(src.Diff(before)); err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("%d events, want 1: %+v", len(got), got)
			}
			slices.Sort(got[0].Texts)
			if !slices.Equal(got[0].Texts, tt.texts) || !slices.Equal(got[0].Maps, tt.maps) || got[0].Local {
				t.Errorf("event %+v, want texts %v maps %v, remote", got[0], tt.texts, tt.maps)
			}
			// The same update again changes nothing, and tells nothing.
			if err := dst.Apply(src.Diff(before)); err != nil {
				t.Fatal(err)
			}
			cancel()
			if _, err := dst.Text("body").Insert(0, "z"); err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Errorf("events after a duplicate and after cancel: %+v", got[1:])
			}
		})
	}
}
