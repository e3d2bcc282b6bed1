package crdt_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"testing"

	"github.com/flowstate/flowstate/crdt"
)

// The concurrency examples of the Peritext paper as declarative scenarios,
// written with their updates, expected deltas and merged snapshots to
// testdata/rich.json so that other implementations check themselves
// against the same bytes.

var updateRichVectors = flag.Bool("update-rich-vectors", false, "rewrite testdata/rich.json from the scenarios in peritext_test.go")

const (
	richVectorsPath = "testdata/rich.json"
	richVectorsHint = "go test ./crdt -run TestPeritextExamples -update-rich-vectors"
	peritextBase    = "The fox jumped."
	baseClient      = 100
	mergeClient     = 200
)

// A richStep is one local edit: insert Text, delete N, format N positions
// with Key = Value (nil removes), embed Value, or block (SetBlock).
type richStep struct {
	Op    string `json:"op"`
	Pos   int    `json:"pos"`
	N     int    `json:"n,omitempty"`
	Text  string `json:"text,omitempty"`
	Key   string `json:"key,omitempty"`
	Value any    `json:"value,omitempty"`
	// Delta is the delta of op "delta" (ApplyDelta).
	Delta []crdt.DeltaOp `json:"delta,omitempty"`
}

func insStep(pos int, s string) richStep { return richStep{Op: "insert", Pos: pos, Text: s} }
func deleteStep(pos, n int) richStep     { return richStep{Op: "delete", Pos: pos, N: n} }
func formatStep(pos, n int, key string, v any) richStep {
	return richStep{Op: "format", Pos: pos, N: n, Key: key, Value: v}
}

// run performs s on x.
func (s richStep) run(x *crdt.Text) ([]byte, error) {
	switch s.Op {
	case "insert":
		return x.Insert(s.Pos, s.Text)
	case "delete":
		return x.Delete(s.Pos, s.N)
	case "format":
		return x.Format(s.Pos, s.N, s.Key, s.Value)
	case "embed":
		return x.InsertEmbed(s.Pos, s.Value)
	case "block":
		return x.SetBlock(s.Pos, s.Key, s.Value)
	case "delta":
		return x.ApplyDelta(s.Delta)
	}
	return nil, fmt.Errorf("unknown step %q", s.Op)
}

// A peritextScenario starts from a base document (client baseClient holding
// peritextBase plus Base), loaded by one replica per entry of Replicas,
// each making its steps in one transaction concurrently with the others.
type peritextScenario struct {
	Name     string
	Base     []richStep
	Replicas []peritextReplica
	Want     []crdt.RichOp
}

type peritextReplica struct {
	Client crdt.ClientID `json:"client"`
	Steps  []richStep    `json:"steps"`
}

func reps(ids []crdt.ClientID, steps ...[]richStep) []peritextReplica {
	out := make([]peritextReplica, len(steps))
	for i, s := range steps {
		out[i] = peritextReplica{Client: crdt.ClientID(i + 1), Steps: s}
		if ids != nil {
			out[i].Client = ids[i]
		}
	}
	return out
}

func steps(s ...richStep) []richStep { return s }

var peritextScenarios = []peritextScenario{
	{"overlapping bold and italic", nil, reps(nil,
		steps(formatStep(0, 7, "bold", true)),
		steps(formatStep(4, 10, "italic", true))),
		[]crdt.RichOp{op("The ", "bold", true), op("fox", "bold", true, "italic", true), op(" jumped", "italic", true), op(".")}},
	{"bold and unbold over overlapping ranges, unbold from the greater client", nil, reps(nil,
		steps(formatStep(0, 7, "bold", true)),
		steps(formatStep(4, 10, "bold", nil))),
		[]crdt.RichOp{op("The ", "bold", true), op("fox jumped.")}},
	{"bold and unbold over overlapping ranges, bold from the greater client", nil, reps([]crdt.ClientID{2, 1},
		steps(formatStep(0, 7, "bold", true)),
		steps(formatStep(4, 10, "bold", nil))),
		[]crdt.RichOp{op("The fox", "bold", true), op(" jumped.")}},
	{"unbold after seeing the bold wins over a concurrent italic", steps(formatStep(0, 15, "bold", true)), reps(nil,
		steps(formatStep(4, 3, "bold", nil)),
		steps(formatStep(4, 6, "italic", true))),
		[]crdt.RichOp{op("The ", "bold", true), op("fox", "italic", true), op(" ju", "bold", true, "italic", true), op("mped.", "bold", true)}},
	{"typing at the end of bold, concurrently", steps(formatStep(0, 7, "bold", true)), reps(nil,
		steps(insStep(7, "es")),
		steps(insStep(15, "!"))),
		[]crdt.RichOp{op("The foxes", "bold", true), op(" jumped.!")}},
	{"typing at the end of a link, concurrently", steps(formatStep(4, 3, "link", "https://fox")), reps(nil,
		steps(insStep(7, "es")),
		steps(insStep(4, "red "))),
		[]crdt.RichOp{op("The red "), op("fox", "link", "https://fox"), op("es jumped.")}},
	{"insert at the end boundary concurrently with bold", nil, reps(nil,
		steps(formatStep(0, 7, "bold", true)),
		steps(insStep(7, "es"))),
		[]crdt.RichOp{op("The foxes", "bold", true), op(" jumped.")}},
	{"insert at the end boundary concurrently with bold, other client order", nil, reps([]crdt.ClientID{2, 1},
		steps(formatStep(0, 7, "bold", true)),
		steps(insStep(7, "es"))),
		[]crdt.RichOp{op("The foxes", "bold", true), op(" jumped.")}},
	{"insert at the end boundary concurrently with a link", nil, reps(nil,
		steps(formatStep(4, 3, "link", "https://fox")),
		steps(insStep(7, "es"))),
		[]crdt.RichOp{op("The "), op("fox", "link", "https://fox"), op("es jumped.")}},
	{"insert at the end boundary concurrently with a link, other client order", nil, reps([]crdt.ClientID{2, 1},
		steps(formatStep(4, 3, "link", "https://fox")),
		steps(insStep(7, "es"))),
		[]crdt.RichOp{op("The "), op("fox", "link", "https://fox"), op("es jumped.")}},
	{"insert at the start boundary concurrently with bold", nil, reps([]crdt.ClientID{2, 1},
		steps(formatStep(4, 3, "bold", true)),
		steps(insStep(4, "red "))),
		[]crdt.RichOp{op("The red "), op("fox", "bold", true), op(" jumped.")}},
	{"formatting concurrently with deleting the formatted text", nil, reps(nil,
		steps(formatStep(4, 3, "bold", true)),
		steps(deleteStep(4, 4))),
		[]crdt.RichOp{op("The jumped.")}},
	{"formatting concurrently with deleting part of the formatted text", nil, reps(nil,
		steps(formatStep(0, 7, "italic", true)),
		steps(deleteStep(2, 3)),
		steps(insStep(5, "o"))),
		[]crdt.RichOp{op("Thoox", "italic", true), op(" jumped.")}},
	{"embed and block attribute concurrently with formatting", steps(insStep(15, "\nEnd")), reps(nil,
		steps(formatStep(0, 7, "bold", true), richStep{Op: "block", Pos: 0, Key: "header", Value: "h1"}),
		steps(richStep{Op: "embed", Pos: 4, Value: map[string]any{"image": "fox.png"}})),
		[]crdt.RichOp{op("The ", "bold", true), op(map[string]any{"image": "fox.png"}, "bold", true), op("fox", "bold", true), op(" jumped."), op("\n", "header", "h1"), op("End")}},
}

// peritextRun holds the bytes a scenario produced.
type peritextRun struct {
	base    []byte   // the base document's snapshot
	updates [][]byte // one per replica
}

func runPeritext(t *testing.T, sc *peritextScenario) peritextRun {
	t.Helper()
	base := crdt.NewDocWithClient(baseClient)
	for _, s := range append([]richStep{insStep(0, peritextBase)}, sc.Base...) {
		if _, err := s.run(base.Text("t")); err != nil {
			t.Fatal(err)
		}
	}
	r := peritextRun{base: base.Snapshot()}
	for _, rep := range sc.Replicas {
		d := crdt.NewDocWithClient(rep.Client)
		if err := d.Apply(r.base); err != nil {
			t.Fatal(err)
		}
		u, err := d.Transact(func() error {
			for _, s := range rep.Steps {
				if _, err := s.run(d.Text("t")); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		r.updates = append(r.updates, u)
	}
	return r
}

// merge loads base into a fresh replica and applies updates in order.
func merge(t *testing.T, base []byte, updates [][]byte, order []int) *crdt.Doc {
	t.Helper()
	d := crdt.NewDocWithClient(mergeClient)
	if err := d.Apply(base); err != nil {
		t.Fatal(err)
	}
	for _, k := range order {
		if err := d.Apply(updates[k]); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// TestPeritextExamples runs every scenario, delivering the replicas'
// updates to a fresh copy of the base in every order: each order must give
// the expected delta and the same snapshot bytes. It also checks
// testdata/rich.json against what the scenarios produce.
func TestPeritextExamples(t *testing.T) {
	committed := checkGoldenFile(t, richVectorsPath, generateRichVectors, *updateRichVectors, richVectorsHint,
		"If the change is intended, regenerate with `%s` and review the diff")
	for i := range peritextScenarios {
		sc := &peritextScenarios[i]
		t.Run(sc.Name, func(t *testing.T) {
			r := runPeritext(t, sc)
			var first []byte
			for _, order := range permutations(len(r.updates)) {
				d := merge(t, r.base, r.updates, order)
				sameDelta(t, fmt.Sprint("order ", order), d.Text("t").ToDelta(), sc.Want)
				if s := d.Snapshot(); first == nil {
					first = s
				} else if !bytes.Equal(s, first) {
					t.Fatalf("order %v: snapshot differs", order)
				}
			}
		})
	}
	// The committed bytes replay to the expected deltas.
	var vf richVectorFile
	if err := json.Unmarshal(committed, &vf); err != nil {
		t.Fatal(err)
	}
	for _, sc := range vf.Scenarios {
		base := mustHex(t, sc.BaseSnapshot)
		var updates [][]byte
		var order []int
		for i, rep := range sc.Replicas {
			updates = append(updates, mustHex(t, rep.Update))
			order = append(order, len(sc.Replicas)-1-i) // reversed: another order than the generator's
		}
		d := merge(t, base, updates, order)
		got, _ := json.Marshal(d.Text("t").ToDelta())
		if want, _ := json.Marshal(sc.Want); !bytes.Equal(got, want) {
			t.Fatalf("%s: committed updates give %s, want %s", sc.Name, got, want)
		}
		if hex.EncodeToString(d.Snapshot()) != sc.Snapshot {
			t.Fatalf("%s: committed updates give another snapshot", sc.Name)
		}
	}
}

type richVectorFile struct {
	About     string           `json:"about"`
	Scenarios []richVectorCase `json:"scenarios"`
}

type richVectorCase struct {
	Name         string        `json:"name"`
	BaseClient   crdt.ClientID `json:"base_client"`
	BaseSteps    []richStep    `json:"base_steps"`
	BaseSnapshot string        `json:"base_snapshot"`
	Replicas     []struct {
		peritextReplica
		Update string `json:"update"`
	} `json:"replicas"`
	MergeClient crdt.ClientID `json:"merge_client"`
	Want        []crdt.RichOp `json:"want"`
	Snapshot    string        `json:"snapshot"`
}

// generateRichVectors returns the content of testdata/rich.json.
func generateRichVectors(t *testing.T) []byte {
	vf := richVectorFile{About: "Rich text conformance vectors (see RICH.md). Generated by `" + richVectorsHint +
		"`; do not edit by hand. Each scenario: client base_client types the base text and runs base_steps (base_snapshot is its snapshot); " +
		"each replica loads it, runs its steps in one transaction and produces update; a fresh doc of merge_client loads the base snapshot and " +
		"applies the updates in any order, giving the delta want and the snapshot bytes snapshot. A step without value has value nil (format: a removal). Byte strings are lowercase hex."}
	for i := range peritextScenarios {
		sc := &peritextScenarios[i]
		r := runPeritext(t, sc)
		c := richVectorCase{Name: sc.Name, BaseClient: baseClient, BaseSteps: append([]richStep{insStep(0, peritextBase)}, sc.Base...),
			BaseSnapshot: hex.EncodeToString(r.base), MergeClient: mergeClient, Want: sc.Want}
		var order []int
		for k, rep := range sc.Replicas {
			c.Replicas = append(c.Replicas, struct {
				peritextReplica
				Update string `json:"update"`
			}{rep, hex.EncodeToString(r.updates[k])})
			order = append(order, k)
		}
		c.Snapshot = hex.EncodeToString(merge(t, r.base, r.updates, order).Snapshot())
		vf.Scenarios = append(vf.Scenarios, c)
	}
	b, err := json.MarshalIndent(vf, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}
