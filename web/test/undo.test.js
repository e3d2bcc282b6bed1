// Tests of UndoManager: the cases of crdt/testdata/undo.json, which the Go
// tests run too, and the property that undoing every local edit gives back
// the text from before them, on every replica.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Doc, UndoManager, toHex } from '../src/index.js';
import { REPO_ROOT } from './helpers.js';

const { cases } = JSON.parse(readFileSync(join(REPO_ROOT, 'crdt', 'testdata', 'undo.json'), 'utf8'));

/**
 * Bench is the world of one undo case: replica a with an UndoManager and a
 * selection kept the way an editor binding keeps it, replica b, the
 * updates each made that the other has not received, and a's clock.
 */
class Bench {
  constructor(scope = ['t']) {
    this.a = new Doc({ clientID: 1 });
    this.b = new Doc({ clientID: 2 });
    this.time = 1_000_000;
    this.toA = [];
    this.toB = [];
    this.sel = [0, 0];
    this.touched = null;
    this.added = false;
    this.a.onLocalUpdate((u) => u && this.toB.push(u));
    this.b.onLocalUpdate((u) => u && this.toA.push(u));
    const types = scope.map((name) => (name === 'm' ? this.a.getMap(name) : this.a.getText(name)));
    this.um = new UndoManager(types, { now: () => this.time });
    // As a binding does: note the item a local edit added or grew, and
    // restore the selection of a popped one.
    this.um.on('stack-item-popped', ({ item }) => (this.sel = this.resolve(item.selectionBefore)));
    for (const ev of ['stack-item-added', 'stack-item-updated']) {
      this.um.on(ev, ({ item, edit }) => {
        if (!edit) return;
        this.touched = item;
        this.added = ev === 'stack-item-added';
      });
    }
  }

  /** selection returns a's selection as relative positions. */
  selection() {
    const t = this.a.getText('t');
    return { text: 't', anchor: t.relativePosition(this.sel[0]), head: t.relativePosition(this.sel[1]) };
  }

  resolve(s) {
    assert.ok(s, 'a popped item has no selection');
    const t = this.a.getText(s.text);
    const r = [t.absolutePosition(s.anchor), t.absolutePosition(s.head)];
    assert.ok(r[0] !== null && r[1] !== null, 'the selection resolves');
    return r;
  }

  /** localEdit runs edit on a as a binding would. */
  localEdit(caret, edit) {
    const before = this.selection();
    this.touched = null;
    edit();
    this.sel = [caret, caret];
    if (this.touched !== null) {
      if (this.added) this.touched.selectionBefore = before;
      this.touched.selectionAfter = this.selection();
    }
  }

  sync() {
    const before = this.selection();
    for (const u of this.toA.splice(0)) this.a.apply(u);
    for (const u of this.toB.splice(0)) this.b.apply(u);
    this.sel = this.resolve(before);
  }

  step(i, s) {
    const doc = s.doc === 'b' ? this.b : this.a;
    const text = doc.getText(s.text ?? 't');
    const edit = (caret, fn) => (doc === this.a ? this.localEdit(caret, fn) : fn());
    const where = `step ${i} (${s.do})`;
    switch (s.do) {
      case 'insert':
        edit(s.at + s.s.length, () => text.insert(s.at, s.s));
        break;
      case 'delete':
        edit(s.at, () => text.delete(s.at, s.n));
        break;
      case 'set':
        edit(this.sel[1], () => doc.getMap('m').set(s.key, s.value));
        break;
      case 'del':
        edit(this.sel[1], () => doc.getMap('m').delete(s.key));
        break;
      case 'sync':
        this.sync();
        break;
      case 'tick':
        this.time += s.ms;
        break;
      case 'stop':
        this.um.stopCapturing();
        break;
      case 'switch':
        // What a Doc does when it takes a fresh client ID.
        this.a.me = this.a.client(s.client);
        break;
      case 'select':
        this.sel = [s.at, s.head];
        break;
      case 'undo':
      case 'redo': {
        const sent = this.toB.length;
        const changed = s.do === 'undo' ? this.um.undo() : this.um.redo();
        assert.equal(changed, s.changed, `${where}: returned ${changed}`);
        assert.equal(this.toB.length - sent, changed ? 1 : 0, `${where}: updates sent`);
        break;
      }
      case 'expect':
        if (s.text !== undefined) assert.equal(this.a.getText('t').toString(), s.text, `${where}: t`);
        if (s.u !== undefined) assert.equal(this.a.getText('u').toString(), s.u, `${where}: u`);
        if (s.map !== undefined) assert.deepEqual(mapState(this.a.getMap('m'), s.map), s.map, `${where}: m`);
        if (s.undo !== undefined) assert.equal(this.um.undoStack.length, s.undo, `${where}: undo items`);
        if (s.redo !== undefined) assert.equal(this.um.redoStack.length, s.redo, `${where}: redo items`);
        if (s.selection !== undefined) assert.deepEqual(this.sel, s.selection, `${where}: selection`);
        break;
      case 'expectB':
        if (s.text !== undefined) assert.equal(this.b.getText('t').toString(), s.text, `${where}: b's t`);
        if (s.map !== undefined) assert.deepEqual(mapState(this.b.getMap('m'), s.map), s.map, `${where}: b's m`);
        break;
      default:
        assert.fail(`${where}: unknown step`);
    }
  }
}

function mapState(m, want) {
  const out = {};
  for (const k of Object.keys(want)) out[k] = m.has(k) ? m.get(k) : null;
  return out;
}

for (const tc of cases) {
  test(`undo case: ${tc.name}`, () => {
    const w = new Bench(tc.scope);
    tc.steps.forEach((s, i) => w.step(i, s));
    // Whatever happened, the replicas agree once they have met.
    w.sync();
    assert.equal(w.a.getText('t').toString(), w.b.getText('t').toString());
  });
}

test('undo: emoji are counted in code points when a deletion is split around text of the same step', () => {
  const a = new Doc({ clientID: 1 });
  const t = a.getText('t');
  t.insert(0, 'é😀ü');
  const um = new UndoManager(t);
  t.insert(3, '🎉🎊'); // after 😀 (UTF-16 index 3)
  t.delete(1, 6); // 😀🎉🎊
  assert.equal(t.toString(), 'éü');
  assert.equal(um.undo(), true);
  assert.equal(t.toString(), 'é😀ü');
  assert.equal(um.redo(), true);
  assert.equal(t.toString(), 'éü');
});

test('undo: does nothing inside transact; a destroyed manager records nothing', () => {
  const a = new Doc({ clientID: 1 });
  const t = a.getText('t');
  const um = new UndoManager(t);
  t.insert(0, 'x');
  a.transact(() => assert.equal(um.undo(), false));
  assert.equal(t.toString(), 'x');
  assert.ok(um.canUndo());
  um.destroy();
  t.insert(1, 'y');
  assert.ok(!um.canUndo());
  assert.throws(() => new UndoManager([]), TypeError);
  assert.throws(() => new UndoManager([t, new Doc().getText('t')]), TypeError);
  assert.throws(() => new UndoManager({}), TypeError);
});

/** mulberry32 is a small seeded PRNG. */
function mulberry32(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

test('undo: undoing every local edit gives back the start on every replica, redoing gives back the edits', () => {
  const seed = Number(process.env.UNDO_SEED ?? Date.now() % 1e9);
  const rand = mulberry32(seed);
  const int = (n) => Math.floor(rand() * n);
  const pieces = ['a', 'b', 'Z', ' ', '😀', 'xy'];
  for (let round = 0; round < 300; round++) {
    const a = new Doc({ clientID: 1 });
    const b = new Doc({ clientID: 2 });
    const updates = [];
    a.onLocalUpdate((u) => u && updates.push(u));
    let start = '';
    for (let k = int(6); k > 0; k--) start += pieces[int(pieces.length)];
    if (start !== '') a.apply(b.getText('t').insert(0, start));
    let time = 0;
    const t = a.getText('t');
    const um = new UndoManager(t, { now: () => time });
    for (let n = 1 + int(30); n > 0; n--) {
      const gap = int(4);
      if (gap === 0) time += 1000;
      else if (gap === 1) um.stopCapturing();
      const len = t.length;
      if (len > 0 && rand() < 0.5) {
        const pos = int(len);
        t.delete(pos, 1 + int(len - pos));
      } else {
        let s = '';
        for (let k = 1 + int(3); k > 0; k--) s += pieces[int(pieces.length)];
        t.insert(int(len + 1), s);
      }
    }
    const edited = t.toString();
    const where = `seed ${seed} round ${round}`;
    while (um.undo());
    assert.equal(t.toString(), start, `${where}: after undoing everything`);
    for (const u of updates) b.apply(u);
    assert.equal(b.getText('t').toString(), start, `${where}: the other replica`);
    while (um.redo());
    assert.equal(t.toString(), edited, `${where}: after redoing everything`);
    for (const u of updates) b.apply(u);
    assert.equal(b.getText('t').toString(), edited, `${where}: the other replica after redo`);
  }
});

test('undo: every case ends with the bytes Go made (crdt/testdata/undo-snapshots.json)', () => {
  const want = JSON.parse(readFileSync(join(REPO_ROOT, 'crdt', 'testdata', 'undo-snapshots.json'), 'utf8'));
  assert.deepEqual(Object.keys(want).sort(), cases.map((c) => c.name).sort());
  for (const tc of cases) {
    const w = new Bench(tc.scope);
    tc.steps.forEach((s, i) => w.step(i, s));
    w.sync();
    assert.equal(toHex(w.a.snapshot()), want[tc.name], tc.name);
  }
});

test('undo: hundreds of steps undone and redone three times over find their copies', () => {
  const a = new Doc({ clientID: 1 });
  const b = new Doc({ clientID: 2 });
  const start = 'abcdefghij'.repeat(40);
  a.apply(b.getText('t').insert(0, start));
  const t = a.getText('t');
  const um = new UndoManager(t, { captureTimeout: 0 });
  for (let i = 1; i < t.length; i++) t.delete(i, 1); // every other character, from the front
  const edited = t.toString();
  assert.equal(edited.length, start.length / 2);
  for (let round = 0; round < 3; round++) {
    let n = 0;
    while (um.undo()) n++;
    assert.equal(n, start.length / 2);
    assert.equal(t.toString(), start, `round ${round}: undo`);
    while (um.redo());
    assert.equal(t.toString(), edited, `round ${round}: redo`);
  }
  assert.ok(um.moves.sorted.length > 0, 'the moves were merged into the sorted index');
});

/**
 * splitAt cuts the item of text holding UTF-16 position pos in front of
 * it, if it is not the item's first: nothing visible changes, only how the
 * replica holds the text, as it differs between replicas and between Go
 * and JavaScript.
 */
function splitAt(text, pos) {
  text.locate(pos);
  const it = text._lf.items[text._i];
  const off = text._off;
  if (off === 0) return;
  const c = it.content.charCodeAt(off);
  if (c >= 0xdc00 && c <= 0xdfff) return; // inside a surrogate pair
  text.split(it, [...it.content.slice(0, off)].length);
}

test('undo: two replicas whose items are split at different places make the same updates (Go: TestUndoWhateverTheSplitsRandom)', () => {
  const seed = Number(process.env.UNDO_SEED ?? Date.now() % 1e9);
  const rand = mulberry32(seed);
  const int = (n) => Math.floor(rand() * n);
  const words = ['abc', 'de', 'fghij', 'k', 'lmno', 'é€', '😀x', '\n'];
  for (let round = 0; round < 200; round++) {
    const docs = [new Doc({ clientID: 1 }), new Doc({ clientID: 1 })];
    const ums = docs.map((d) => new UndoManager(d.getText('t'), { captureTimeout: -1 }));
    const other = new Doc({ clientID: 2 });
    const toOther = [];
    const where = (step) => `seed ${seed} round ${round} step ${step}`;
    // local runs one edit on both replicas, which must make the same bytes.
    const local = (what, fn) => {
      const got = docs.map((d, i) => {
        let u = null;
        const off = d.onLocalUpdate((x) => (u = x));
        fn(d.getText('t'), ums[i]);
        off();
        return u === null ? 'none' : toHex(u);
      });
      assert.equal(docs[1].getText('t').toString(), docs[0].getText('t').toString(), `${what}: the texts`);
      assert.equal(got[1], got[0], `${what}: the updates (items as made, then split)`);
      if (got[0] !== 'none') toOther.push(got[0]);
    };
    local(where(-1), (t) => t.insert(0, 'the quick brown fox'));
    for (let step = 0; step < 40; step++) {
      const t = docs[0].getText('t');
      const n = t.length;
      const r = int(12);
      if (r < 3) {
        const pos = int(n + 1);
        const s = words[int(words.length)];
        local(where(step), (x) => x.insert(Math.min(pos, x.length), s));
      } else if (r < 6 && n > 0) {
        const pos = int(n);
        const m = 1 + int(Math.min(n - pos, 8));
        local(where(step), (x) => x.delete(pos, m));
      } else if (r < 7 && n > 0) {
        const pos = int(n);
        const m = 1 + int(n - pos);
        const v = int(3) === 0 ? null : true;
        local(where(step), (x) => x.format(pos, m, 'bold', v));
      } else if (r < 9) {
        const redo = int(3) === 0;
        local(where(step), (x, um) => (redo ? um.redo() : um.undo()));
      } else if (r < 11) {
        // The other replica catches up, edits, and sends its edit.
        for (const h of toOther.splice(0)) other.apply(Uint8Array.from(Buffer.from(h, 'hex')));
        const o = other.getText('t');
        const m = o.length;
        let u;
        if (m > 0 && int(3) === 0) {
          const pos = int(m);
          u = o.delete(pos, 1 + int(Math.min(m - pos, 4)));
        } else u = o.insert(int(m + 1), words[int(words.length)]);
        for (const d of docs) d.apply(u);
      } else if (n > 1) {
        splitAt(docs[1].getText('t'), 1 + int(n - 1));
      }
    }
  }
});
