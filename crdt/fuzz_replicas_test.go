package crdt_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/flowstate/flowstate/crdt"
)

// FuzzReplicas reads its input as a script for 2–3 replicas of one document
// (texts "t" and "u", map "m") that edit locally and exchange updates over
// a network that reorders, duplicates and loses them. At the end everything
// is delivered and the replicas must agree.
//
// Script format (every read past the end gives 0):
//
//	header byte: bit 0 = three replicas (else two); bit 1 = the last
//	    replica's client is MaxClientID (else its index+1); bit 2 = the final
//	    delivery replays the update log newest first
//	then up to scriptMaxOps ops, each an op byte o followed by its arguments:
//	    o & 15 is the kind (the scriptOp constants), (o >> 4) % replicas
//	    the replica r that performs or receives it.
//
// Arguments, per kind:
//
//	insert      a, p: text a&1; piece (a>>1)&15 (with a&32, a second piece
//	            appended); position p % (Len+1)
//	delete      a, p: text a&1; count 1+(a>>1)&7 (+8 with a&16); position
//	            p % Len; the count is clamped to the end of the text
//	mapSet      a, b: key a%3; value kind (a/3)%6, drawn from b
//	mapDelete   a: key a%3
//	transact,   a, then 2+a%3 (transact) or 1+a%4 (change) sub-edits: a byte
//	change      s picking insert/delete/mapSet/mapDelete by s%4, then that
//	            edit's arguments. Change produces no update: peers catch up
//	            only by Diff or Snapshot.
//	deliver     a: apply r's queued update (a>>1) % len(queue); a&1 keeps it
//	            queued, so that it is delivered again later
//	redeliver   a: apply the update log's entry len-1-a%len to r (any
//	            update ever made, including r's own: duplicates)
//	resync      a: peer p = r+1+a%(n-1); r drops every queued update from p
//	            and applies p.Diff(r.StateVector())
//	snapshot    a: r applies peer p's Snapshot (p as for resync)
//	drop        a: r loses its queued update a % len(queue)
func FuzzReplicas(f *testing.F) {
	for _, s := range replicaSeeds() {
		f.Add(s.script)
	}
	f.Fuzz(runReplicaScript)
}

// Op kinds, the low four bits of an op byte. Inserts and deliveries take
// several codes so that random bytes draw them more often.
const (
	scriptInsert    = 0 // 0–2
	scriptDelete    = 3 // 3–4
	scriptMapSet    = 5
	scriptMapDelete = 6
	scriptTransact  = 7
	scriptChange    = 8
	scriptDeliver   = 9 // 9–11
	scriptRedeliver = 12
	scriptResync    = 13
	scriptSnapshot  = 14
	scriptDrop      = 15
)

// scriptMaxOps caps a script so that each execution stays fast.
const scriptMaxOps = 200

// scriptPieces are the strings inserts draw from: ASCII, a combining mark
// alone and after a letter, CJK, emoji (one with a skin-tone modifier) and
// a code point outside the BMP.
var scriptPieces = [16]string{
	"a", "b", "c", " ", "xy", "\n", "ß", "é",
	"e\u0301", "\u0301", "中", "日本語", "😀", "👍🏽", "𝄞", "a😀\u0301中",
}

var scriptKeys = [3]string{"k0", "k1", "k2"}

// scriptTexts are the texts the replicas edit; stateOf covers "t", the
// checks below also cover "u".
var scriptTexts = [2]string{"t", "u"}

// scriptValue returns a small map value of kind k (mod 6) drawn from b.
func scriptValue(k, b int) any {
	switch k % 6 {
	case 0:
		return b - 128
	case 1:
		return scriptPieces[b&15]
	case 2:
		return []any{b, scriptPieces[(b>>4)&15]}
	case 3:
		return map[string]any{"n": b, "l": []any{b&1 == 1, nil, map[string]any{"s": scriptPieces[b&15]}}}
	case 4:
		return b&1 == 1
	default:
		return uint64(b) << 40
	}
}

// scriptReader hands out the script's bytes, then zeros.
type scriptReader struct {
	b []byte
	i int
}

func (s *scriptReader) more() bool { return s.i < len(s.b) }

func (s *scriptReader) next() int {
	if s.i >= len(s.b) {
		return 0
	}
	c := s.b[s.i]
	s.i++
	return int(c)
}

// scriptMsg is an update in flight, and which replica made it.
type scriptMsg struct {
	from int
	u    []byte
}

// scriptReplica is one replica and what its Text observers have rebuilt.
type scriptReplica struct {
	idx   int
	doc   *crdt.Doc
	seen  [2]string // each text as replayed from its TextEvent deltas
	local bool      // whether the running operation is local
	queue []scriptMsg
}

// scriptRun is the state of one script execution.
type scriptRun struct {
	t     *testing.T
	reps  []*scriptReplica
	log   []scriptMsg     // every update ever made, in order
	descs []func() string // what ran, for the failure report
}

// note records a step; describe runs only when the test fails.
func (run *scriptRun) note(describe func() string) {
	run.descs = append(run.descs, describe)
}

func runReplicaScript(t *testing.T, script []byte) {
	s := &scriptReader{b: script}
	h := s.next()
	n := 2 + h&1
	run := &scriptRun{t: t}
	for i := range n {
		id := crdt.ClientID(i + 1)
		if i == n-1 && h&2 != 0 {
			id = crdt.MaxClientID
		}
		r := &scriptReplica{idx: i, doc: crdt.NewDocWithClient(id)}
		for ti, name := range scriptTexts {
			r.doc.Text(name).Observe(func(e crdt.TextEvent) {
				if e.Local != r.local {
					t.Fatalf("replica %d text %s: event Local=%v during a %s operation", i, name, e.Local, map[bool]string{true: "local", false: "remote"}[r.local])
				}
				got, err := applyDelta(r.seen[ti], e.Delta)
				if err != nil {
					t.Fatalf("replica %d text %s: delta %+v on %q: %v", i, name, e.Delta, r.seen[ti], err)
				}
				r.seen[ti] = got
			})
		}
		r.doc.Map("m")
		run.reps = append(run.reps, r)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		var b strings.Builder
		fmt.Fprintf(&b, "replicas:")
		for _, r := range run.reps {
			fmt.Fprintf(&b, " r%d=client %d", r.idx, r.doc.ClientID())
		}
		b.WriteString("\nscript as run (the last step is the failing one):\n")
		for i, d := range run.descs {
			fmt.Fprintf(&b, "  %3d %s\n", i, d())
		}
		t.Log(b.String())
	})

	for ops := 0; ops < scriptMaxOps && s.more(); ops++ {
		o := s.next()
		r := run.reps[(o>>4)%n]
		switch kind := o & 15; {
		case kind <= scriptDelete+1 || kind == scriptMapSet || kind == scriptMapDelete:
			r.local = true
			u := run.edit(r, editKind(kind), s, "")
			run.sent(r, u)
		case kind == scriptTransact || kind == scriptChange:
			a := s.next()
			r.local = true
			var u []byte
			var err error
			if kind == scriptTransact {
				k := 2 + a%3
				run.note(func() string { return fmt.Sprintf("r%d Transact of %d edits {", r.idx, k) })
				u, err = r.doc.Transact(func() error {
					for range k {
						if inner := run.edit(r, s.next()%4, s, "    "); inner != nil {
							t.Fatalf("replica %d: edit inside Transact returned a %d-byte update", r.idx, len(inner))
						}
					}
					return nil
				})
			} else {
				k := 1 + a%4
				run.note(func() string { return fmt.Sprintf("r%d Change of %d edits (no update) {", r.idx, k) })
				err = r.doc.Change(func() error {
					for range k {
						if inner := run.edit(r, s.next()%4, s, "    "); inner != nil {
							t.Fatalf("replica %d: edit inside Change returned a %d-byte update", r.idx, len(inner))
						}
					}
					return nil
				})
			}
			if err != nil {
				t.Fatalf("replica %d: %v", r.idx, err)
			}
			run.note(func() string { return "    }" })
			run.sent(r, u)
		case kind <= scriptDeliver+2:
			a := s.next()
			if len(r.queue) == 0 {
				continue
			}
			k := (a >> 1) % len(r.queue)
			m := r.queue[k]
			keep := a&1 == 1
			if !keep {
				r.queue = slices.Delete(r.queue, k, k+1)
			}
			run.note(func() string {
				return fmt.Sprintf("deliver to r%d: update #%d from r%d (queue slot %d, keep=%v)", r.idx, run.logIndex(m), m.from, k, keep)
			})
			run.apply(r, m.u)
		case kind == scriptRedeliver:
			a := s.next()
			if len(run.log) == 0 {
				continue
			}
			k := len(run.log) - 1 - a%len(run.log)
			m := run.log[k]
			run.note(func() string { return fmt.Sprintf("redeliver to r%d: update #%d from r%d", r.idx, k, m.from) })
			run.apply(r, m.u)
		case kind == scriptResync:
			p := run.peer(r, s.next())
			r.queue = slices.DeleteFunc(r.queue, func(m scriptMsg) bool { return m.from == p.idx })
			sv := r.doc.StateVector()
			run.note(func() string {
				return fmt.Sprintf("resync r%d: drop queued updates from r%d, apply r%d.Diff(r%d.StateVector()=%v)", r.idx, p.idx, p.idx, r.idx, sv)
			})
			run.apply(r, p.doc.Diff(sv))
		case kind == scriptSnapshot:
			p := run.peer(r, s.next())
			run.note(func() string { return fmt.Sprintf("r%d applies r%d.Snapshot()", r.idx, p.idx) })
			run.apply(r, p.doc.Snapshot())
		default: // scriptDrop
			a := s.next()
			if len(r.queue) == 0 {
				continue
			}
			k := a % len(r.queue)
			m := r.queue[k]
			r.queue = slices.Delete(r.queue, k, k+1)
			run.note(func() string { return fmt.Sprintf("r%d loses update #%d from r%d", r.idx, run.logIndex(m), m.from) })
		}
		run.check(r)
	}

	// Deliver everything: every update ever made to every replica, then a
	// Diff from every replica to every other.
	order := slices.Clone(run.log)
	if h&4 != 0 {
		slices.Reverse(order)
	}
	run.note(func() string {
		return fmt.Sprintf("final: every replica applies all %d updates (newest first=%v), then Diff from every peer", len(order), h&4 != 0)
	})
	for _, r := range run.reps {
		for _, m := range order {
			run.apply(r, m.u)
		}
	}
	for _, r := range run.reps {
		for _, p := range run.reps {
			if p != r {
				run.apply(r, p.doc.Diff(r.doc.StateVector()))
			}
		}
	}
	run.converged()
}

// editKind maps the op kinds of local edits to sub-edit codes 0–3.
func editKind(kind int) int {
	switch {
	case kind <= scriptInsert+2:
		return 0
	case kind <= scriptDelete+1:
		return 1
	case kind == scriptMapSet:
		return 2
	}
	return 3
}

// edit performs one local edit of kind k (0 insert, 1 delete, 2 map set,
// 3 map delete) on r, reading its arguments from s.
func (run *scriptRun) edit(r *scriptReplica, k int, s *scriptReader, indent string) []byte {
	t, d := run.t, r.doc
	var u []byte
	var err error
	switch k {
	case 0:
		a, p := s.next(), s.next()
		ti := a & 1
		txt := d.Text(scriptTexts[ti])
		str := scriptPieces[(a>>1)&15]
		if a&32 != 0 {
			str += scriptPieces[((a>>1)+5)&15]
		}
		pos := p % (txt.Len() + 1)
		run.note(func() string { return fmt.Sprintf("%sr%d %s.Insert(%d, %q)", indent, r.idx, txt.Name(), pos, str) })
		u, err = txt.Insert(pos, str)
	case 1:
		a, p := s.next(), s.next()
		txt := d.Text(scriptTexts[a&1])
		if txt.Len() == 0 {
			return nil
		}
		cnt := 1 + (a>>1)&7
		if a&16 != 0 {
			cnt += 8
		}
		pos := p % txt.Len()
		cnt = min(cnt, txt.Len()-pos)
		run.note(func() string { return fmt.Sprintf("%sr%d %s.Delete(%d, %d)", indent, r.idx, txt.Name(), pos, cnt) })
		u, err = txt.Delete(pos, cnt)
	case 2:
		a, b := s.next(), s.next()
		key, v := scriptKeys[a%3], scriptValue(a/3, b)
		run.note(func() string { return fmt.Sprintf("%sr%d m.Set(%q, %#v)", indent, r.idx, key, v) })
		u, err = d.Map("m").Set(key, v)
	default:
		key := scriptKeys[s.next()%3]
		run.note(func() string { return fmt.Sprintf("%sr%d m.Delete(%q)", indent, r.idx, key) })
		u, err = d.Map("m").Delete(key)
	}
	if err != nil {
		t.Fatalf("replica %d: local edit: %v", r.idx, err)
	}
	return u
}

// sent queues update u of replica r (if any) for every other replica.
func (run *scriptRun) sent(r *scriptReplica, u []byte) {
	r.local = false
	if u == nil {
		return
	}
	m := scriptMsg{from: r.idx, u: u}
	run.log = append(run.log, m)
	for _, q := range run.reps {
		if q != r {
			q.queue = append(q.queue, m)
		}
	}
}

// logIndex returns m's position in the update log, for reports.
func (run *scriptRun) logIndex(m scriptMsg) int {
	for i, l := range run.log {
		if &l.u[0] == &m.u[0] {
			return i
		}
	}
	return -1
}

// peer returns the replica other than r that a picks.
func (run *scriptRun) peer(r *scriptReplica, a int) *scriptReplica {
	n := len(run.reps)
	return run.reps[(r.idx+1+a%(n-1))%n]
}

// apply applies u to r and checks r's observed texts.
func (run *scriptRun) apply(r *scriptReplica, u []byte) {
	run.t.Helper()
	r.local = false
	mustApply(run.t, r.doc, u)
	run.check(r)
}

// check verifies that r's TextEvents replay to its texts and that Len counts
// code points.
func (run *scriptRun) check(r *scriptReplica) {
	t := run.t
	t.Helper()
	for ti, name := range scriptTexts {
		txt := r.doc.Text(name)
		got := txt.String()
		if r.seen[ti] != got {
			t.Fatalf("replica %d text %s: TextEvent deltas replay to %q, text is %q", r.idx, name, r.seen[ti], got)
		}
		if n := utf8.RuneCountInString(got); txt.Len() != n {
			t.Fatalf("replica %d text %s: Len()=%d, but %q has %d code points", r.idx, name, txt.Len(), got, n)
		}
	}
}

// converged checks the replicas' final state: equal texts, maps and state
// vectors, nothing pending, and snapshots that reload to the same state and
// re-encode to the same bytes (and, FORMAT.md §9, equal across replicas).
func (run *scriptRun) converged() {
	t := run.t
	t.Helper()
	r0 := run.reps[0]
	want, wantU := stateOf(t, r0.doc), r0.doc.Text("u").String()
	wantSnap := r0.doc.Snapshot()
	for _, r := range run.reps {
		d := r.doc
		if d.HasPending() {
			t.Fatalf("replica %d (client %d) still has pending changes after full delivery", r.idx, d.ClientID())
		}
		st := stateOf(t, d)
		sameState(t, fmt.Sprintf("replicas 0 and %d", r.idx), want, st)
		if got := d.Text("u").String(); got != wantU {
			t.Fatalf("replicas 0 and %d: texts u differ:\n  %q\n  %q", r.idx, wantU, got)
		}
		snap := d.Snapshot()
		fresh := loadSnapshot(t, snap)
		if fresh.HasPending() {
			t.Fatalf("replica %d: loading its snapshot left pending changes", r.idx)
		}
		sameState(t, fmt.Sprintf("replica %d snapshot reload", r.idx), st, stateOf(t, fresh))
		if got := fresh.Text("u").String(); got != wantU {
			t.Fatalf("replica %d snapshot reload: text u is %q, want %q", r.idx, got, wantU)
		}
		if again := fresh.Snapshot(); !bytes.Equal(again, snap) {
			t.Fatalf("replica %d: snapshot re-encodes differently after reload:\n  %x\n  %x", r.idx, snap, again)
		}
		if !bytes.Equal(snap, wantSnap) {
			t.Fatalf("replicas 0 and %d: converged but snapshots differ (FORMAT.md §9):\n  %x\n  %x", r.idx, wantSnap, snap)
		}
	}
}

// A replicaSeed is a named seed script.
type replicaSeed struct {
	name   string
	script []byte
}

// sop returns the op byte of kind for replica r.
func sop(kind, r int) byte { return byte(r<<4 | kind) }

// insArg returns the insert argument byte for text ti and piece p.
func insArg(ti, p int) byte { return byte(ti | p<<1) }

// replicaSeeds are the hand-written scripts FuzzReplicas starts from.
func replicaSeeds() []replicaSeed {
	const (
		ins, del, set, mdel = scriptInsert, scriptDelete, scriptMapSet, scriptMapDelete
		txn, chg, dlv, rdl  = scriptTransact, scriptChange, scriptDeliver, scriptRedeliver
		rsy, snp, drp       = scriptResync, scriptSnapshot, scriptDrop
	)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	b := func(bs ...byte) []byte { return bs }
	return []replicaSeed{
		{"concurrent-typing-same-spot", cat(
			b(0), // two replicas, clients 1 and 2
			b(sop(ins, 0), insArg(0, 0), 0, sop(ins, 0), insArg(0, 1), 1, sop(ins, 0), insArg(0, 2), 2),
			b(sop(ins, 1), insArg(0, 4), 0, sop(ins, 1), insArg(0, 12), 2),
			b(sop(dlv, 0), 0, sop(dlv, 0), 0, sop(dlv, 1), 0, sop(dlv, 1), 0, sop(dlv, 1), 0),
			b(sop(ins, 0), insArg(0, 3), 2, sop(ins, 1), insArg(0, 3), 2),
		)},
		{"out-of-order-pending-max-client", cat(
			b(3), // three replicas, clients 1, 2 and 2^53-1
			b(sop(ins, 2), insArg(0, 11), 0, sop(ins, 2), insArg(0, 12), 3, sop(del, 2), 1<<1, 1, sop(ins, 2), insArg(0, 8), 0),
			// replica 0 gets them newest first: all but the last wait
			b(sop(dlv, 0), 3<<1, sop(dlv, 0), 2<<1, sop(dlv, 0), 1<<1, sop(dlv, 0), 0),
			b(sop(dlv, 1), 2<<1, sop(dlv, 1), 0, sop(ins, 1), insArg(0, 13), 1, sop(dlv, 1), 1<<1, sop(dlv, 1), 0),
		)},
		{"duplicates-and-self-delivery", cat(
			b(1),
			b(sop(ins, 0), insArg(0, 15), 0, sop(ins, 1), insArg(1, 14), 0, sop(del, 2), 0, 0),
			b(sop(dlv, 1), 1, sop(dlv, 1), 1, sop(dlv, 1), 0, sop(rdl, 0), 0, sop(rdl, 0), 1, sop(rdl, 1), 1),
			b(sop(ins, 1), insArg(0, 9), 1, sop(rdl, 2), 0, sop(rdl, 2), 2, sop(rdl, 2), 1),
		)},
		{"map-lww-conflicts", cat(
			b(3),
			b(sop(set, 0), 0, 7, sop(set, 1), 0, 9, sop(set, 2), 0, 1),      // concurrent ints on k0
			b(sop(set, 0), 3*3+1, 42, sop(set, 1), 3*3+1, 200),              // nested maps on k1
			b(sop(set, 2), 2*3+2, 17, sop(mdel, 0), 1, sop(set, 1), 5*3, 3), // list, delete, big int
			b(sop(dlv, 0), 0, sop(dlv, 0), 0, sop(mdel, 0), 0, sop(set, 0), 4*3+2, 1),
			b(sop(dlv, 2), 4, sop(dlv, 2), 0, sop(dlv, 1), 0, sop(mdel, 1), 0),
		)},
		{"transact-batches", cat(
			b(1),
			b(sop(txn, 0), 2, 0, insArg(0, 11), 0, 0, insArg(1, 12), 0, 1, 2, 1, 2, 3, 9),
			b(sop(txn, 1), 1, 0, insArg(0, 5), 0, 2, 1, 4, 3, 1),
			b(sop(dlv, 1), 0, sop(dlv, 2), 0, sop(dlv, 2), 0),
			b(sop(txn, 2), 0, 1, 0, 0, 0, insArg(0, 13), 1),
			b(sop(dlv, 0), 0, sop(dlv, 0), 0, sop(dlv, 0), 0, sop(dlv, 1), 0),
		)},
		{"change-then-diff", cat(
			b(0),
			b(sop(ins, 0), insArg(0, 4), 0, sop(chg, 0), 2, 0, insArg(0, 12), 1, 1, 0, 0, 2, 0, 3),
			b(sop(ins, 0), insArg(0, 0), 0, sop(dlv, 1), 1<<1, sop(dlv, 1), 0), // the later update waits
			b(sop(rsy, 1), 0, sop(chg, 1), 0, 0, insArg(1, 10), 0),
			b(sop(rsy, 0), 0),
		)},
		{"snapshot-transfer", cat(
			b(3),
			b(sop(ins, 0), insArg(0, 11)|32, 0, sop(ins, 1), insArg(1, 13), 0, sop(set, 2), 3, 5),
			b(sop(snp, 0), 0, sop(snp, 0), 1, sop(ins, 0), insArg(1, 7), 1),
			b(sop(snp, 1), 0, sop(dlv, 1), 0, sop(dlv, 2), 1),
			b(sop(del, 1), 1|16, 0, sop(snp, 2), 1),
		)},
		{"drop-and-resync", cat(
			b(1),
			b(sop(ins, 0), insArg(0, 11), 0, sop(ins, 0), insArg(0, 2), 3, sop(ins, 0), insArg(0, 6), 1),
			b(sop(drp, 1), 0, sop(dlv, 1), 2, sop(dlv, 1), 0), // lost the first: the rest wait
			b(sop(ins, 2), insArg(0, 14), 0, sop(drp, 0), 0, sop(dlv, 1), 0),
			b(sop(rsy, 1), 0, sop(rsy, 0), 1, sop(rsy, 2), 0),
		)},
		{"concurrent-delete-and-insert", cat(
			b(1),
			b(sop(ins, 0), insArg(0, 11)|32, 0, sop(ins, 0), insArg(0, 15), 2),
			b(sop(snp, 1), 0, sop(snp, 2), 1),
			b(sop(del, 0), 4<<1, 1, sop(ins, 1), insArg(0, 9), 3, sop(del, 2), 2<<1, 2, sop(ins, 2), insArg(0, 12), 4),
			b(sop(dlv, 0), 2, sop(dlv, 0), 0, sop(dlv, 1), 0, sop(dlv, 2), 0, sop(dlv, 2), 0, sop(dlv, 1), 0),
		)},
		{"unicode-both-texts", cat(
			b(2), // two replicas, clients 1 and 2^53-1
			b(sop(ins, 0), insArg(1, 8), 0, sop(ins, 0), insArg(1, 9), 1, sop(ins, 0), insArg(1, 13), 1),
			b(sop(ins, 1), insArg(0, 14)|32, 0, sop(del, 0), 1, 1, sop(dlv, 1), 0, sop(dlv, 1), 0),
			b(sop(ins, 1), insArg(1, 10), 2, sop(del, 1), 1|2<<1, 0, sop(dlv, 0), 0, sop(dlv, 0), 0, sop(dlv, 0), 0),
		)},
		{"lost-everything-reverse-final", cat(
			b(5), // three replicas; the final delivery runs newest first
			b(sop(ins, 0), insArg(0, 0), 0, sop(ins, 0), insArg(0, 1), 1, sop(ins, 1), insArg(1, 2), 0),
			b(sop(txn, 2), 0, 0, insArg(0, 3), 0, 2, 2, 9, sop(set, 0), 1, 1),
			b(sop(drp, 0), 0, sop(drp, 1), 0, sop(chg, 1), 1, 0, insArg(1, 5), 0, 2, 0, 3),
		)},
	}
}

// TestWriteReplicasCorpus regenerates testdata/fuzz/FuzzReplicas/seed-* from
// replicaSeeds when FLOWSTATE_WRITE_CORPUS=1.
func TestWriteReplicasCorpus(t *testing.T) {
	if os.Getenv("FLOWSTATE_WRITE_CORPUS") != "1" {
		t.Skip("set FLOWSTATE_WRITE_CORPUS=1 to rewrite testdata/fuzz seed files")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzReplicas")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range replicaSeeds() {
		data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s.script)
		if err := os.WriteFile(filepath.Join(dir, "seed-"+s.name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
