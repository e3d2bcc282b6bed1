package store_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/flowstate/flowstate/store"
)

// A room's updates are appended as they arrive and folded into a snapshot
// now and then; loading the room returns the snapshot and what came after.
func ExampleOpenBolt() {
	dir, err := os.MkdirTemp("", "flowstate-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	st, err := store.OpenBolt(filepath.Join(dir, "flowstate.db"), store.BoltOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	// The bytes are opaque to the store; a server stores CRDT updates.
	if err := st.Append("notes", []byte("update 1"), []byte("update 2")); err != nil {
		log.Fatal(err)
	}
	if err := st.Compact("notes", []byte("snapshot of 1 and 2")); err != nil {
		log.Fatal(err)
	}
	if err := st.Append("notes", []byte("update 3")); err != nil {
		log.Fatal(err)
	}

	snapshot, updates, err := st.Load("notes")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s + %q\n", snapshot, updates)
	// Output: snapshot of 1 and 2 + ["update 3"]
}
