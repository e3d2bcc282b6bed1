package crdt_test

import (
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
