package crdt_test

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"testing"

	"github.com/flowstate/flowstate/crdt"
)

// Conformance vectors for ApplyDelta, change events with attributes and
// undo of formats, written to testdata/richdelta.json so that other
// implementations check themselves against the same bytes.

var updateRichDeltaVectors = flag.Bool("update-richdelta-vectors", false, "rewrite testdata/richdelta.json from the cases in richdelta_vectors_test.go")

const (
	richDeltaVectorsPath = "testdata/richdelta.json"
	richDeltaVectorsHint = "go test ./crdt -run TestRichDeltaVectors -update-richdelta-vectors"
	vecLocalClient       = 10
	vecRemoteClient      = 20
	vecOtherClient       = 30
)

// A deltaVecStep is one step of a rich delta case on replica a: a richStep
// (op "delta" applies Delta), "undo", "redo", or "apply", which applies
// the update of replica o (client vecOtherClient), which loaded the base
// and runs Steps in one transaction after its earlier "apply" steps,
// concurrently with everything a did.
type deltaVecStep struct {
	richStep
	Steps []richStep `json:"steps,omitempty"`
}

type richDeltaCase struct {
	name  string
	base  []richStep
	steps []deltaVecStep
}

func vs(s richStep) deltaVecStep { return deltaVecStep{richStep: s} }

var (
	vecUndo = deltaVecStep{richStep: richStep{Op: "undo"}}
	vecRedo = deltaVecStep{richStep: richStep{Op: "redo"}}
)

func vecApply(s ...richStep) deltaVecStep {
	return deltaVecStep{richStep: richStep{Op: "apply"}, Steps: s}
}

var richDeltaCases = []richDeltaCase{
	{"a Quill document from scratch", nil, []deltaVecStep{
		vs(deltaStep(crdt.DeltaOp{Insert: "Title"}, crdt.DeltaOp{Insert: "\n", Attributes: attrs("header", 1)},
			crdt.DeltaOp{Insert: "Some "}, crdt.DeltaOp{Insert: "bold", Attributes: attrs("bold", true)},
			crdt.DeltaOp{Insert: " text "}, crdt.DeltaOp{Embed: map[string]any{"image": "x.png"}, Attributes: attrs("link", "https://x")},
			crdt.DeltaOp{Insert: "\n"}, crdt.DeltaOp{Insert: "one", Attributes: attrs("italic", true)},
			crdt.DeltaOp{Insert: "\n", Attributes: attrs("list", "bullet")}, crdt.DeltaOp{Insert: "two"},
			crdt.DeltaOp{Insert: "\n", Attributes: attrs("indent", 1, "list", "bullet")})),
		vecUndo,
		vecRedo,
	}},
	{"retain formats, nil removes, values already set make no mark", steps(insStep(0, "Hello world\n")), []deltaVecStep{
		vs(deltaStep(crdt.DeltaOp{Retain: 6, Attributes: attrs("bold", true)}, crdt.DeltaOp{Retain: 5, Attributes: attrs("link", "https://w")})),
		vs(deltaStep(crdt.DeltaOp{Retain: 2}, crdt.DeltaOp{Retain: 6, Attributes: attrs("bold", nil, "link", nil)})),
		vs(deltaStep(crdt.DeltaOp{Retain: 2, Attributes: attrs("bold", true)})),
		vecUndo,
		vecUndo,
		vecRedo,
	}},
	{"an insert gets exactly its attributes", steps(insStep(0, "abc\n"), formatStep(0, 3, "bold", true), formatStep(1, 2, "link", "u")), []deltaVecStep{
		vs(deltaStep(crdt.DeltaOp{Retain: 3}, crdt.DeltaOp{Insert: "plain"})),
		vs(deltaStep(crdt.DeltaOp{Retain: 2}, crdt.DeltaOp{Insert: "X", Attributes: attrs("italic", true)})),
		vs(deltaStep(crdt.DeltaOp{Retain: 1}, crdt.DeltaOp{Insert: "Y", Attributes: attrs("bold", true, "link", "v")})),
		vs(insStep(0, "typed")),
	}},
	{"block keys go on newlines only", steps(insStep(0, "Title\nBody text\nEnd")), []deltaVecStep{
		vs(deltaStep(crdt.DeltaOp{Retain: 6, Attributes: attrs("header", 2)})),
		vs(deltaStep(crdt.DeltaOp{Retain: 16, Attributes: attrs("list", "ordered", "bold", true)})),
		vs(deltaStep(crdt.DeltaOp{Retain: 5}, crdt.DeltaOp{Insert: "\nSub", Attributes: attrs("header", 3)})),
		vs(deltaStep(crdt.DeltaOp{Retain: 20, Attributes: attrs("header", nil)})),
		vecUndo,
		vecUndo,
	}},
	{"delete across marks and embeds", steps(insStep(0, "abcdef"), formatStep(1, 2, "bold", true), embedStep(3, 5), formatStep(3, 3, "italic", true)), []deltaVecStep{
		vs(deltaStep(crdt.DeltaOp{Retain: 2}, crdt.DeltaOp{Delete: 3}, crdt.DeltaOp{Insert: "Z", Attributes: attrs("italic", true)})),
		vecUndo,
		vecRedo,
	}},
	{"concurrent formats and their events", steps(insStep(0, "The fox jumped.\n")), []deltaVecStep{
		vs(formatStep(0, 7, "bold", true)),
		vecApply(formatStep(4, 10, "bold", nil), formatStep(4, 3, "link", "https://fox")),
		vecApply(insStep(7, "es"), richStep{Op: "block", Pos: 0, Key: "header", Value: 1}),
		vs(deltaStep(crdt.DeltaOp{Retain: 4}, crdt.DeltaOp{Retain: 3, Attributes: attrs("italic", true)})),
		vecUndo,
		vecUndo,
	}},
	{"undo keeps what another replica set since", steps(insStep(0, "abcdef\n")), []deltaVecStep{
		vs(formatStep(0, 6, "link", "x")),
		vs(insStep(3, "!")),
		vecApply(formatStep(2, 2, "italic", true)),
		vecUndo,
		vecUndo,
		vecRedo,
		vecRedo,
	}},
	{"embeds deleted and brought back", steps(insStep(0, "ab\n")), []deltaVecStep{
		vs(embedStep(1, map[string]any{"image": "a.png", "w": 300})),
		vs(formatStep(0, 3, "link", "u")),
		vs(deleteStep(0, 3)),
		vecUndo,
		vecUndo,
		vecRedo,
	}},
}

// badDeltaVectors are deltas ApplyDelta refuses on the text "ab\n" with
// "ab" bold, with the kind of error: "range" (ErrOutOfRange) or "invalid"
// (ErrInvalidDelta).
var badDeltaVectors = []struct {
	name  string
	delta string
	kind  string
}{
	{"retain past the end", `[{"retain":4}]`, "range"},
	{"retain past the end after a delete", `[{"delete":1},{"retain":3,"attributes":{"bold":true}}]`, "range"},
	{"delete past the end", `[{"retain":2},{"delete":2}]`, "range"},
	{"bad op after good ones", `[{"insert":"x","attributes":{"bold":true}},{"retain":1,"attributes":{"link":"u"}},{"delete":9}]`, "range"},
	{"empty op", `[{"insert":"a"},{}]`, "invalid"},
	{"attributes alone", `[{"attributes":{"bold":true}}]`, "invalid"},
	{"retain and insert", `[{"retain":1,"insert":"a"}]`, "invalid"},
	{"negative retain", `[{"retain":-1}]`, "invalid"},
	{"delete with attributes", `[{"delete":1,"attributes":{"bold":true}}]`, "invalid"},
}

type richDeltaVectorFile struct {
	About string                `json:"about"`
	Cases []richDeltaVectorCase `json:"cases"`
	Bad   []badDeltaVector      `json:"bad"`
}

type richDeltaVectorCase struct {
	Name         string           `json:"name"`
	BaseClient   crdt.ClientID    `json:"base_client"`
	BaseSteps    []richStep       `json:"base_steps"`
	BaseSnapshot string           `json:"base_snapshot"`
	Client       crdt.ClientID    `json:"client"`
	RemoteClient crdt.ClientID    `json:"remote_client"`
	OtherClient  crdt.ClientID    `json:"other_client"`
	Steps        []deltaVecResult `json:"steps"`
	Snapshot     string           `json:"snapshot"`
}

type deltaVecResult struct {
	deltaVecStep
	Update       string           `json:"update,omitempty"`
	Changed      *bool            `json:"changed,omitempty"`
	Events       [][]crdt.DeltaOp `json:"events"`
	RemoteEvents [][]crdt.DeltaOp `json:"remote_events"`
	Want         []crdt.RichOp    `json:"want"`
	RemoteWant   []crdt.RichOp    `json:"remote_want"`
}

type badDeltaVector struct {
	Name  string          `json:"name"`
	Base  []richStep      `json:"base_steps"`
	Delta json.RawMessage `json:"delta"`
	Error string          `json:"error"`
}

// runRichDeltaCase runs c and returns its results.
func runRichDeltaCase(t *testing.T, c richDeltaCase) richDeltaVectorCase {
	t.Helper()
	base := crdt.NewDocWithClient(baseClient)
	for _, s := range c.base {
		if _, err := s.run(base.Text("t")); err != nil {
			t.Fatal(err)
		}
	}
	snap := base.Snapshot()
	out := richDeltaVectorCase{Name: c.name, BaseClient: baseClient, BaseSteps: c.base, BaseSnapshot: hex.EncodeToString(snap),
		Client: vecLocalClient, RemoteClient: vecRemoteClient, OtherClient: vecOtherClient}
	a, b := crdt.NewDocWithClient(vecLocalClient), crdt.NewDocWithClient(vecRemoteClient)
	mustApply(t, a, snap)
	mustApply(t, b, snap)
	var events, remoteEvents [][]crdt.DeltaOp
	a.Text("t").Observe(func(e crdt.TextEvent) { events = append(events, e.Delta) })
	b.Text("t").Observe(func(e crdt.TextEvent) { remoteEvents = append(remoteEvents, e.Delta) })
	um := crdt.NewUndoManager(crdt.UndoOptions{CaptureTimeout: -1}, a.Text("t"))
	o := crdt.NewDocWithClient(vecOtherClient)
	mustApply(t, o, snap)
	for i, s := range c.steps {
		events, remoteEvents = [][]crdt.DeltaOp{}, [][]crdt.DeltaOp{}
		r := deltaVecResult{deltaVecStep: s}
		var u []byte
		switch s.Op {
		case "undo", "redo":
			f := um.Undo
			if s.Op == "redo" {
				f = um.Redo
			}
			var changed bool
			u, changed = f()
			r.Changed = &changed
		case "apply":
			var err error
			u, err = o.Transact(func() error {
				for _, s := range s.Steps {
					if _, err := s.run(o.Text("t")); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatalf("%s: step %d: %v", c.name, i, err)
			}
			mustApply(t, a, u)
		default:
			var err error
			if u, err = s.run(a.Text("t")); err != nil {
				t.Fatalf("%s: step %d: %v", c.name, i, err)
			}
		}
		if u != nil {
			r.Update = hex.EncodeToString(u)
			mustApply(t, b, u)
		}
		r.Events, r.RemoteEvents = events, remoteEvents
		r.Want, r.RemoteWant = a.Text("t").ToDelta(), b.Text("t").ToDelta()
		// An empty text is [] in JSON, as in JavaScript.
		if r.Want == nil {
			r.Want = []crdt.RichOp{}
		}
		if r.RemoteWant == nil {
			r.RemoteWant = []crdt.RichOp{}
		}
		out.Steps = append(out.Steps, r)
	}
	out.Snapshot = hex.EncodeToString(a.Snapshot())
	return out
}

// generateRichDeltaVectors returns the content of testdata/richdelta.json.
func generateRichDeltaVectors(t *testing.T) []byte {
	vf := richDeltaVectorFile{About: "Conformance vectors for ApplyDelta, change events with attributes and undo of formats (see RICH.md §R7, §R8). " +
		"Generated by `" + richDeltaVectorsHint + "`; do not edit by hand. Each case: client base_client runs base_steps on an empty text \"t\" " +
		"(base_snapshot is its snapshot). Replica a (client) and replica b (remote_client) load it; a has an UndoManager on \"t\" that makes " +
		"every transaction a step of its own. Each step runs on a: a local edit (ops as in rich.json, plus \"delta\": ApplyDelta of delta), " +
		"\"undo\" or \"redo\" (changed is what they return), or \"apply\": replica o (other_client), which loaded base_snapshot and " +
		"never receives anything else, runs steps in one transaction, and a applies its update. update is the update the step made (absent when none); b applies it. events and remote_events " +
		"are the deltas of the TextEvents a and b observed during the step; want and remote_want their ToDelta after it; snapshot is a's " +
		"snapshot after the last step. bad: deltas ApplyDelta refuses on a text built by base_steps, with error \"range\" (a retain or delete past " +
		"the end) or \"invalid\" (an op of a shape it does not know); the text must not change. Byte strings are lowercase hex."}
	for _, c := range richDeltaCases {
		vf.Cases = append(vf.Cases, runRichDeltaCase(t, c))
	}
	for _, bad := range badDeltaVectors {
		vf.Bad = append(vf.Bad, badDeltaVector{Name: bad.name, Base: steps(insStep(0, "ab\n"), formatStep(0, 2, "bold", true)),
			Delta: json.RawMessage(bad.delta), Error: bad.kind})
	}
	b, err := json.MarshalIndent(vf, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// committedDeltaCase is a case of a committed richdelta vector file, as a
// remote replica replays it.
type committedDeltaCase struct {
	Name         string `json:"name"`
	BaseSnapshot string `json:"base_snapshot"`
	Steps        []struct {
		Update     string          `json:"update"`
		Want       json.RawMessage `json:"want"`
		RemoteWant json.RawMessage `json:"remote_want"`
	} `json:"steps"`
	Snapshot string `json:"snapshot"`
}

// replayRemote applies c's updates to a fresh remote replica, requiring
// the recorded remote delta after each step, and returns the replica; what
// names the updates in a failure.
func (c *committedDeltaCase) replayRemote(t *testing.T, what string) *crdt.Doc {
	t.Helper()
	d := crdt.NewDocWithClient(vecRemoteClient)
	mustApply(t, d, mustHex(t, c.BaseSnapshot))
	for i, s := range c.Steps {
		if s.Update != "" {
			mustApply(t, d, mustHex(t, s.Update))
		}
		got := compactJSON(t, []byte(jsonOf(nonNil(d.Text("t").ToDelta()))))
		if string(got) != string(compactJSON(t, s.RemoteWant)) {
			t.Fatalf("%s: step %d: %s give %s, want %s", c.Name, i, what, got, s.RemoteWant)
		}
	}
	return d
}

// TestRichDeltaVectors checks testdata/richdelta.json against what the
// cases produce now, that the committed updates give the committed deltas
// on a fresh replica, and that every bad delta is refused as recorded.
func TestRichDeltaVectors(t *testing.T) {
	committed := checkGoldenFile(t, richDeltaVectorsPath, generateRichDeltaVectors, *updateRichDeltaVectors, richDeltaVectorsHint,
		"If the change is intended, regenerate with `%s` and review the diff")
	var vf struct {
		Cases []committedDeltaCase `json:"cases"`
		Bad   []struct {
			Name  string          `json:"name"`
			Base  []richStep      `json:"base_steps"`
			Delta json.RawMessage `json:"delta"`
			Error string          `json:"error"`
		} `json:"bad"`
	}
	if err := json.Unmarshal(committed, &vf); err != nil {
		t.Fatal(err)
	}
	for _, c := range vf.Cases {
		c.replayRemote(t, "committed updates")
	}
	for _, bad := range vf.Bad {
		d, x := richText(t, bad.Base...)
		before := d.Snapshot()
		var delta []crdt.DeltaOp
		if err := json.Unmarshal(bad.Delta, &delta); err != nil {
			t.Fatalf("%s: %v", bad.Name, err)
		}
		_, err := x.ApplyDelta(delta)
		want := map[string]error{"range": crdt.ErrOutOfRange, "invalid": crdt.ErrInvalidDelta}[bad.Error]
		if !errors.Is(err, want) {
			t.Fatalf("%s: error %v, want %v", bad.Name, err, want)
		}
		if hex.EncodeToString(d.Snapshot()) != hex.EncodeToString(before) {
			t.Fatalf("%s: the text changed", bad.Name)
		}
	}
}

// compactJSON returns b without insignificant space.
func compactJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
