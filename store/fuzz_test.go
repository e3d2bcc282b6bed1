package store_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/flowstate/flowstate/store"
)

// FuzzOpen opens arbitrary bytes as a data file. The store must refuse
// them with an error or, if they pass its checks, serve every call
// without panicking or crashing the process.
func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	for i, rooms := range []int{0, 3} {
		path := filepath.Join(dir, "seed"+string(rune('a'+i)))
		fill(f, openBoltAt(f, path, store.BoltOptions{}), rooms, 4)
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "flowstate.db")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := store.OpenBolt(path, store.BoltOptions{})
		if err != nil {
			return
		}
		defer st.Close()
		rooms, _ := st.Rooms()
		for _, r := range rooms {
			st.Load(r.Name)
		}
		st.Append("fuzz", []byte("update"))
		st.Compact("room-0001", []byte("snapshot"))
	})
}
