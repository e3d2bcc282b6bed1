package store_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/flowstate/flowstate/store"
)

// TestBoltMatchesMemory runs random appends, compactions and deletions
// against a Bolt store and the Memory model side by side, several rooms
// at once, with the journal folded often, and checks that both hold the
// same rooms: while open, in a hot copy, and after reopening.
func TestBoltMatchesMemory(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	ops := 300
	if testing.Short() {
		ops = 100
	}
	for _, limit := range []int{7, 1000} {
		t.Run(fmt.Sprintf("fold-every-%d", limit), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "flowstate.db")
			st := openBoltAt(t, path, store.BoltOptions{})
			store.SetFoldLimits(st, limit, 1<<20)
			model := store.NewMemory()
			var wg sync.WaitGroup
			for w := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(seed, uint64(w)))
					rooms := []string{fmt.Sprint("a-", w), fmt.Sprint("b-", w)}
					for i := range ops {
						room := rooms[rng.IntN(len(rooms))]
						var err error
						switch p := rng.IntN(100); {
						case p < 80:
							updates := make([][]byte, 1+rng.IntN(3))
							for j := range updates {
								updates[j] = fmt.Appendf(nil, "%s/%d/%d", room, i, j)
							}
							err = st.Append(room, updates...)
							model.Append(room, updates...)
						case p < 95:
							snap := fmt.Appendf(nil, "snapshot %s/%d", room, i)
							err = st.Compact(room, snap)
							model.Compact(room, snap)
						default:
							err = st.Delete(room)
							model.Delete(room)
						}
						if err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			want := dump(t, model)
			sameRooms(t, dump(t, st), want)
			checkInfo(t, st, model)

			copyPath := filepath.Join(dir, "copy.db")
			writeCopy(t, st, copyPath)
			sameRooms(t, dump(t, openBoltAt(t, copyPath, store.BoltOptions{ReadOnly: true})), want)

			st.Close()
			reopened := openBoltAt(t, path, store.BoltOptions{})
			sameRooms(t, dump(t, reopened), want)
			checkInfo(t, reopened, model)
		})
	}
}

// checkInfo compares what Rooms reports, but for LastChange.
func checkInfo(t *testing.T, got, want store.Store) {
	t.Helper()
	g, err := got.Rooms()
	if err != nil {
		t.Fatal(err)
	}
	w, _ := want.Rooms()
	if len(g) != len(w) {
		t.Fatalf("Rooms lists %d rooms, want %d", len(g), len(w))
	}
	for i := range g {
		if g[i].LastChange.IsZero() {
			t.Errorf("room %q has no last change", g[i].Name)
		}
		g[i].LastChange, w[i].LastChange = time.Time{}, time.Time{}
		if g[i] != w[i] {
			t.Errorf("Rooms()[%d] = %+v, want %+v", i, g[i], w[i])
		}
	}
}
