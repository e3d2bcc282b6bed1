package crdt_test

import (
	"encoding/json"
	"fmt"

	"github.com/flowstate/flowstate/crdt"
)

func ExampleDoc() {
	alice := crdt.NewDocWithClient(1)
	bob := crdt.NewDocWithClient(2)

	// Alice writes, Bob receives her update.
	u, _ := alice.Text("notes").Insert(0, "Hello")
	_ = bob.Apply(u)

	// Both edit concurrently, then exchange their updates.
	ua, _ := alice.Text("notes").Insert(0, "👋 ")
	ub, _ := bob.Text("notes").Insert(5, ", world")
	_ = alice.Apply(ub)
	_ = bob.Apply(ua)

	fmt.Println(alice.Text("notes").String())
	fmt.Println(bob.Text("notes").String())
	fmt.Println(alice.StateVector().Equal(bob.StateVector()))
	// Output:
	// 👋 Hello, world
	// 👋 Hello, world
	// true
}

func ExampleUndoManager() {
	alice := crdt.NewDocWithClient(1)
	bob := crdt.NewDocWithClient(2)
	text := alice.Text("notes")
	um := crdt.NewUndoManager(crdt.UndoOptions{}, text)

	// Alice types; Bob, who has her text, types inside it.
	u, _ := text.Insert(0, "Hello world")
	_ = bob.Apply(u)
	ub, _ := bob.Text("notes").Insert(5, " big")
	_ = alice.Apply(ub)
	fmt.Println(text.String())

	// Alice's undo takes back her words only; its update goes to Bob.
	undo, _ := um.Undo()
	_ = bob.Apply(undo)
	fmt.Printf("%q %q\n", text.String(), bob.Text("notes").String())

	redo, _ := um.Redo()
	_ = bob.Apply(redo)
	fmt.Println(bob.Text("notes").String())
	// Output:
	// Hello big world
	// " big" " big"
	// Hello big world
}

func ExampleText_Format() {
	alice := crdt.NewDocWithClient(1)
	bob := crdt.NewDocWithClient(2)
	u, _ := alice.Text("notes").Insert(0, "The fox jumped.")
	_ = bob.Apply(u)

	// Alice bolds "The fox" while Bob types at its end: bold grows at its
	// end, so his text is bold too.
	ua, _ := alice.Text("notes").Format(0, 7, "bold", true)
	ub, _ := bob.Text("notes").Insert(7, "es")
	_ = alice.Apply(ub)
	_ = bob.Apply(ua)

	for _, op := range bob.Text("notes").ToDelta() {
		fmt.Printf("%q %v\n", op.Insert, op.Attributes)
	}
	// Output:
	// "The foxes" map[bold:true]
	// " jumped." map[]
}

func ExampleText_ApplyDelta() {
	d := crdt.NewDocWithClient(1)
	x := d.Text("notes")
	x.Observe(func(e crdt.TextEvent) {
		b, _ := json.Marshal(e.Delta)
		fmt.Println("event", string(b))
	})
	// A Quill document, then a change as Quill's editor reports it: a
	// heading on the first line and an italic word typed at the end.
	_, _ = x.ApplyDelta([]crdt.DeltaOp{{Insert: "Title\nSome "}, {Insert: "bold", Attributes: map[string]any{"bold": true}}})
	_, _ = x.ApplyDelta([]crdt.DeltaOp{{Retain: 5}, {Retain: 1, Attributes: map[string]any{"header": 1}}, {Retain: 9}, {Insert: " text"}})
	b, _ := json.Marshal(x.ToDelta())
	fmt.Println(string(b))
	// Output:
	// event [{"insert":"Title\nSome "},{"insert":"bold","attributes":{"bold":true}}]
	// event [{"retain":5},{"retain":1,"attributes":{"header":1}},{"retain":9},{"insert":" text"}]
	// [{"insert":"Title"},{"insert":"\n","attributes":{"header":1}},{"insert":"Some "},{"insert":"bold","attributes":{"bold":true}},{"insert":" text"}]
}
