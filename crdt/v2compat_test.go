package crdt_test

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/flowstate/flowstate/crdt"
)

// Format version 2 data stays readable: the vector files as they were
// recorded before version 3 replaced version 2 in what encoders write
// (testdata/*-v2.json) replay to the recorded deltas, verdicts and
// documents. Their snapshots are version 2 bytes, so documents are
// compared by what they hold: the recorded snapshot loaded into a fresh
// document must encode as the replayed document does now.

// readV2 reads the version 2 copy of a vector file into v and checks that
// it holds version 2 updates at all, so that these tests cannot pass on
// re-recorded bytes.
func readV2(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"9502`)) {
		t.Fatalf("%s holds no version 2 update", path)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// sameDocAs checks that the snapshot recorded (hex, any version) loads
// into a document that encodes as d does.
func sameDocAs(t *testing.T, what string, d *crdt.Doc, recorded string) {
	t.Helper()
	e := crdt.NewDoc()
	if err := e.Apply(mustHex(t, recorded)); err != nil {
		t.Fatalf("%s: the recorded snapshot does not load: %v", what, err)
	}
	if !bytes.Equal(e.Snapshot(), d.Snapshot()) {
		t.Fatalf("%s: the recorded snapshot holds another document", what)
	}
}

// TestRichVectorsV2 replays testdata/rich-v2.json: the version 2 updates,
// merged in both orders, give the recorded delta and the recorded
// snapshot's document.
func TestRichVectorsV2(t *testing.T) {
	var vf richVectorFile
	readV2(t, "testdata/rich-v2.json", &vf)
	v2 := 0
	for _, sc := range vf.Scenarios {
		var updates [][]byte
		var fwd, back []int
		for i, rep := range sc.Replicas {
			u := mustHex(t, rep.Update)
			if v, err := crdt.UpdateVersion(u); err != nil {
				t.Fatal(err)
			} else if v == 2 {
				v2++
			}
			updates = append(updates, u)
			fwd = append(fwd, i)
			back = append(back, len(sc.Replicas)-1-i)
		}
		want, _ := json.Marshal(sc.Want)
		for _, order := range [][]int{fwd, back} {
			d := merge(t, mustHex(t, sc.BaseSnapshot), updates, order)
			if got, _ := json.Marshal(d.Text("t").ToDelta()); !bytes.Equal(got, want) {
				t.Fatalf("%s, order %v: version 2 updates give %s, want %s", sc.Name, order, got, want)
			}
			sameDocAs(t, sc.Name, d, sc.Snapshot)
		}
	}
	if v2 == 0 {
		t.Fatal("no version 2 update replayed")
	}
}

// TestRichDeltaVectorsV2 replays testdata/richdelta-v2.json on a remote
// replica: each version 2 update gives the recorded remote delta, and the
// end state is the recorded snapshot's document.
func TestRichDeltaVectorsV2(t *testing.T) {
	var vf struct {
		Cases []committedDeltaCase `json:"cases"`
	}
	readV2(t, "testdata/richdelta-v2.json", &vf)
	for _, c := range vf.Cases {
		c.replayRemote(t, "version 2 updates")
		// a's snapshot: its delta is a's last one, which b's equals once
		// b has every update a made or applied.
		e := crdt.NewDoc()
		mustApply(t, e, mustHex(t, c.Snapshot))
		if last := c.Steps[len(c.Steps)-1]; string(compactJSON(t, []byte(jsonOf(nonNil(e.Text("t").ToDelta()))))) != string(compactJSON(t, last.Want)) {
			t.Fatalf("%s: the recorded snapshot gives another delta", c.Name)
		}
	}
}

func nonNil(ops []crdt.RichOp) []crdt.RichOp {
	if ops == nil {
		return []crdt.RichOp{}
	}
	return ops
}

// TestHostileCorpusV2 replays testdata/hostile-v2.json, the hostile cases
// that held version 2 bytes: every verdict, pending state and recorded
// delta comes out as recorded, and every accepted update leaves the
// recorded snapshot's document.
func TestHostileCorpusV2(t *testing.T) {
	var f hostileFile
	readV2(t, "testdata/hostile-v2.json", &f)
	for _, c := range f.Cases {
		replayHostileCase(t, c, false, map[string]int{})
	}
}
