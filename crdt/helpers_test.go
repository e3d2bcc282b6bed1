package crdt_test

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/flowstate/flowstate/crdt"
	"pgregory.net/rapid"
)

// tracesDir is the shared editing-traces folder (/work/shared/traces).
var tracesDir = filepath.Join("..", "..", "shared", "traces")

// patch is one trace edit: delete Del code points at Pos, then insert Ins there.
type patch struct {
	Pos, Del int
	Ins      string
}

func (p *patch) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if len(raw) != 3 {
		return fmt.Errorf("patch has %d elements, want 3", len(raw))
	}
	if err := json.Unmarshal(raw[0], &p.Pos); err != nil {
		return err
	}
	if err := json.Unmarshal(raw[1], &p.Del); err != nil {
		return err
	}
	return json.Unmarshal(raw[2], &p.Ins)
}

type trace struct {
	StartContent string `json:"startContent"`
	EndContent   string `json:"endContent"`
	Txns         []struct {
		Patches []patch `json:"patches"`
	} `json:"txns"`
}

var traceCache sync.Map // name -> *trace

// loadTrace loads ../shared/traces/<name>.json.gz, skipping the test or
// benchmark when the traces folder is missing.
func loadTrace(tb rapid.TB, name string) *trace {
	tb.Helper()
	if v, ok := traceCache.Load(name); ok {
		return v.(*trace)
	}
	if _, err := os.Stat(tracesDir); errors.Is(err, os.ErrNotExist) {
		if os.Getenv("CI") == "true" {
			// CI has the shared folder beside the checkout: a missing
			// trace there is a broken setup, not a reason to test less.
			tb.Fatalf("editing traces not found at %s (CI=true)", tracesDir)
		}
		tb.Skipf("editing traces not found at %s (expected the shared josephg/editing-traces folder); skipping", tracesDir)
	}
	f, err := os.Open(filepath.Join(tracesDir, name+".json.gz"))
	if err != nil {
		tb.Fatalf("open trace: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatalf("gunzip trace %s: %v", name, err)
	}
	tr := new(trace)
	if err := json.NewDecoder(zr).Decode(tr); err != nil {
		tb.Fatalf("decode trace %s: %v", name, err)
	}
	if len(tr.Txns) == 0 {
		tb.Fatalf("trace %s has no transactions", name)
	}
	v, _ := traceCache.LoadOrStore(name, tr)
	return v.(*trace)
}

// applyTxnLocal applies one trace transaction's patches to t inside a Transact
// and returns the combined update.
func applyTxnLocal(d *crdt.Doc, t *crdt.Text, patches []patch) ([]byte, error) {
	return d.Transact(func() error {
		for _, p := range patches {
			if p.Del > 0 {
				if _, err := t.Delete(p.Pos, p.Del); err != nil {
					return fmt.Errorf("delete(%d,%d): %w", p.Pos, p.Del, err)
				}
			}
			if p.Ins != "" {
				if _, err := t.Insert(p.Pos, p.Ins); err != nil {
					return fmt.Errorf("insert(%d,%q): %w", p.Pos, p.Ins, err)
				}
			}
		}
		return nil
	})
}

// applyDelta applies a Quill-style delta (positions in code points) to old.
func applyDelta(old string, delta []crdt.DeltaOp) (string, error) {
	src := []rune(old)
	var out []rune
	for i, op := range delta {
		set := 0
		if op.Retain != 0 {
			set++
		}
		if op.Insert != "" {
			set++
		}
		if op.Delete != 0 {
			set++
		}
		if set != 1 || op.Retain < 0 || op.Delete < 0 {
			return "", fmt.Errorf("op %d %+v: want exactly one positive field", i, op)
		}
		switch {
		case op.Retain > 0:
			if op.Retain > len(src) {
				return "", fmt.Errorf("op %d retains %d, only %d left", i, op.Retain, len(src))
			}
			out = append(out, src[:op.Retain]...)
			src = src[op.Retain:]
		case op.Delete > 0:
			if op.Delete > len(src) {
				return "", fmt.Errorf("op %d deletes %d, only %d left", i, op.Delete, len(src))
			}
			src = src[op.Delete:]
		default:
			out = append(out, []rune(op.Insert)...)
		}
	}
	return string(append(out, src...)), nil
}

// normValue maps msgpack-decoded numbers to int64/uint64/float64 for loose
// comparison.
func normValue(v any) any {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if u := rv.Uint(); u <= 1<<63-1 {
			return int64(u)
		}
		return rv.Uint()
	case reflect.Float32, reflect.Float64:
		return rv.Float()
	}
	return v
}

// mapContents returns m's entries with normalised values, checking that
// Keys, Len and Get agree with each other.
func mapContents(tb rapid.TB, m *crdt.Map) map[string]any {
	tb.Helper()
	keys := m.Keys()
	if len(keys) != m.Len() {
		tb.Fatalf("Map.Len()=%d but Keys()=%q", m.Len(), keys)
	}
	out := make(map[string]any, len(keys))
	for i, k := range keys {
		if i > 0 && keys[i-1] >= k {
			tb.Fatalf("Map.Keys() not sorted/unique: %q", keys)
		}
		v, ok := m.Get(k)
		if !ok {
			tb.Fatalf("Map.Get(%q) missing although listed in Keys()", k)
		}
		out[k] = normValue(v)
	}
	return out
}

// docState is everything observable about a doc's "t" text and "m" map.
type docState struct {
	Text string
	SV   crdt.StateVector
	Map  map[string]any
}

func stateOf(tb rapid.TB, d *crdt.Doc) docState {
	tb.Helper()
	t := d.Text("t")
	s := t.String()
	if n := utf8.RuneCountInString(s); t.Len() != n {
		tb.Fatalf("Len()=%d but String() has %d code points", t.Len(), n)
	}
	return docState{Text: s, SV: d.StateVector(), Map: mapContents(tb, d.Map("m"))}
}

// sameState fails tb unless a and b are equal (what names the pair).
func sameState(tb rapid.TB, what string, a, b docState) {
	tb.Helper()
	if a.Text != b.Text {
		tb.Fatalf("%s: texts differ:\n  %q\n  %q", what, a.Text, b.Text)
	}
	if !a.SV.Equal(b.SV) {
		tb.Fatalf("%s: state vectors differ: %v vs %v", what, a.SV, b.SV)
	}
	if !reflect.DeepEqual(a.Map, b.Map) {
		tb.Fatalf("%s: maps differ: %v vs %v", what, a.Map, b.Map)
	}
}

// mustApply applies u to d (skipping nil updates) and fails on error.
func mustApply(tb rapid.TB, d *crdt.Doc, u []byte) {
	tb.Helper()
	if u == nil {
		return
	}
	if err := d.Apply(u); err != nil {
		tb.Fatalf("Apply(%d bytes): %v", len(u), err)
	}
}

// loadSnapshot returns a fresh doc loaded from snap.
func loadSnapshot(tb rapid.TB, snap []byte) *crdt.Doc {
	tb.Helper()
	d := crdt.NewDoc()
	if err := d.Apply(snap); err != nil {
		tb.Fatalf("loading snapshot (%d bytes): %v", len(snap), err)
	}
	return d
}

// testSeed returns a math/rand seed, from $FLOWSTATE_SEED if set, and logs it
// so failures can be reproduced.
func testSeed(tb rapid.TB) uint64 {
	tb.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("FLOWSTATE_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			tb.Fatalf("bad FLOWSTATE_SEED %q: %v", s, err)
		}
		seed = v
	}
	tb.Logf("math/rand seed %d (rerun with FLOWSTATE_SEED=%d)", seed, seed)
	return seed
}
