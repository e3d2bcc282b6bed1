package crdt_test

import (
	"errors"
	"testing"

	"github.com/flowstate/flowstate/crdt"
)

func TestUpdateVersion(t *testing.T) {
	plain := crdt.NewDocWithClient(1)
	a, err := plain.Text("t").Insert(0, "ab")
	if err != nil {
		t.Fatal(err)
	}
	rich := crdt.NewDocWithClient(2)
	if _, err := rich.Text("t").Insert(0, "ab"); err != nil {
		t.Fatal(err)
	}
	bold, err := rich.Text("t").Format(0, 2, "bold", true)
	if err != nil {
		t.Fatal(err)
	}
	embed, err := rich.Text("t").InsertEmbed(1, map[string]any{"image": "x.png"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		update []byte
		want   int
	}{
		{"plain insert", a, 1},
		{"plain snapshot", plain.Snapshot(), 1},
		{"empty document", crdt.NewDoc().Snapshot(), 1},
		{"format", bold, 3},
		{"embed", embed, 3},
		{"rich snapshot", rich.Snapshot(), 3},
		{"diff of a rich document", rich.Diff(crdt.StateVector{}), 3},
		{"a uint8 version", []byte{0x95, 0xcc, 0x02, 0x90, 0x90, 0x90, 0x90}, 2},
		{"version 3", []byte{0x96, 0x03, 0x90, 0x90, 0x90, 0x90, 0x90}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := crdt.UpdateVersion(tt.update)
			if err != nil || got != tt.want {
				t.Fatalf("UpdateVersion = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func TestUpdateVersionRejects(t *testing.T) {
	for _, b := range [][]byte{
		nil,
		{0x94, 0x01},       // 4 elements
		{0x95},             // no version
		{0x95, 0x01},       // too short for 5 elements
		{0x95, 0x03},       // version 3 with 5 elements
		{0x96, 0x02},       // version 2 with 6 elements
		{0x96, 0x01},       // version 1 with 6 elements
		{0x95, 0x04},       // version 4
		{0x95, 0x00},       // version 0
		{0x95, 0xd0, 0x01}, // a signed version
		{0x81, 0x01, 0x02}, // a map
		{0xc4, 0x00},       // bin
	} {
		_, err := crdt.UpdateVersion(b)
		var de *crdt.DecodeError
		if !errors.As(err, &de) {
			t.Errorf("UpdateVersion(% x) = %v, want a *DecodeError", b, err)
		}
	}
}

func FuzzUpdateVersion(f *testing.F) {
	d := crdt.NewDocWithClient(1)
	u, _ := d.Text("t").Insert(0, "ab")
	f.Add(u)
	r, _ := d.Text("t").Format(0, 1, "bold", true)
	f.Add(r)
	f.Add([]byte{0x95, 0x02})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := crdt.UpdateVersion(b)
		if err == nil && v != 1 && v != 2 && v != 3 {
			t.Fatalf("version %d", v)
		}
		// Every update that applies opens as one: the server's check of
		// a version never refuses what a document takes.
		if crdt.NewDoc().Apply(b) == nil && err != nil {
			t.Fatalf("% x applies, but UpdateVersion: %v", b, err)
		}
	})
}

func BenchmarkUpdateVersion(b *testing.B) {
	d := crdt.NewDocWithClient(1)
	u, _ := d.Text("t").Insert(0, "a")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := crdt.UpdateVersion(u); err != nil {
			b.Fatal(err)
		}
	}
}
