// Relative positions (Text.relativePosition / absolutePosition): anchored
// to character IDs, they follow edits made before them on other replicas,
// survive the deletion of their anchor, and round-trip through msgpack.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode } from '@msgpack/msgpack';
import { Doc } from '../src/index.js';
import { Rand } from './helpers.js';

/** pair returns two replicas holding the same text s, written by the first. */
function pair(s) {
  const a = new Doc({ clientID: 1 });
  const b = new Doc({ clientID: 2 });
  b.apply(a.getText('t').insert(0, s));
  return [a, b];
}

const followTests = [
  // index and assoc on replica a; b edits, then a applies b's edit.
  { name: 'insert before', s: 'hello world', index: 6, assoc: 0, edit: (t) => t.insert(0, '>> '), want: 9 },
  { name: 'insert after', s: 'hello world', index: 6, assoc: 0, edit: (t) => t.insert(8, 'XYZ'), want: 6 },
  { name: 'insert at, assoc 0 stays before its character', s: 'hello world', index: 6, assoc: 0, edit: (t) => t.insert(6, 'big '), want: 10 },
  { name: 'insert at, assoc -1 stays after the previous character', s: 'hello world', index: 6, assoc: -1, edit: (t) => t.insert(6, 'big '), want: 6 },
  { name: 'delete before', s: 'hello world', index: 6, assoc: 0, edit: (t) => t.delete(0, 3), want: 3 },
  { name: 'delete of the anchor', s: 'hello world', index: 6, assoc: 0, edit: (t) => t.delete(4, 4), want: 4 },
  { name: 'delete of the anchor, assoc -1', s: 'hello world', index: 6, assoc: -1, edit: (t) => t.delete(2, 6), want: 2 },
  { name: 'delete of everything', s: 'hello world', index: 6, assoc: 0, edit: (t) => t.delete(0, 11), want: 0 },
  { name: 'end follows appends', s: 'hello', index: 5, assoc: 0, edit: (t) => t.insert(5, '!!'), want: 7 },
  { name: 'end with assoc -1 stays after the last character', s: 'hello', index: 5, assoc: -1, edit: (t) => t.insert(5, '!!'), want: 5 },
  { name: 'start with assoc -1 stays at 0', s: 'hello', index: 0, assoc: -1, edit: (t) => t.insert(0, 'ab'), want: 0 },
  { name: 'start with assoc 0 follows its character', s: 'hello', index: 0, assoc: 0, edit: (t) => t.insert(0, 'ab'), want: 2 },
  { name: 'emoji before', s: 'a😀b', index: 3, assoc: 0, edit: (t) => t.insert(0, '🎉'), want: 5 },
  { name: 'emoji anchor, assoc -1', s: 'a😀b', index: 3, assoc: -1, edit: (t) => t.insert(0, 'xy'), want: 5 },
  { name: 'inside a pair rounds down', s: 'a😀b', index: 2, assoc: 0, edit: (t) => t.insert(0, 'x'), want: 2 },
];

test('relative positions follow edits made on another replica', async (t) => {
  for (const tt of followTests) {
    await t.test(tt.name, () => {
      const [a, b] = pair(tt.s);
      const ta = a.getText('t');
      const rel = ta.relativePosition(tt.index, tt.assoc);
      // Positions travel as msgpack in presence: they must survive it.
      const wire = decode(encode(rel));
      a.apply(tt.edit(b.getText('t')));
      assert.equal(ta.toString(), b.getText('t').toString());
      assert.equal(ta.absolutePosition(wire), tt.want);
      assert.equal(b.getText('t').absolutePosition(wire), tt.want, 'the replica that made the edit');
    });
  }
});

test('a position made on one replica resolves on another', () => {
  const [a, b] = pair('the quick fox');
  const rel = a.getText('t').relativePosition(4);
  assert.equal(b.getText('t').absolutePosition(rel), 4);
  assert.equal(b.getText('t').toString().slice(4), 'quick fox');
});

test('unknown anchors resolve to null', () => {
  const a = new Doc({ clientID: 1 });
  const t = a.getText('t');
  t.insert(0, 'abc');
  a.getMap('m').set('k', 1);
  const other = new Doc({ clientID: 9 });
  other.getText('t').insert(0, 'zzz');
  const foreign = other.getText('t').relativePosition(1);
  assert.equal(t.absolutePosition(foreign), null, 'a client this replica never heard of');
  assert.equal(t.absolutePosition({ client: 1, clock: 99, assoc: 0 }), null, 'a clock not received yet');
  assert.equal(t.absolutePosition({ client: 1, clock: 3, assoc: 0 }), null, 'a map entry');
  assert.equal(a.getText('u').absolutePosition(t.relativePosition(1)), null, 'another text');
  assert.equal(t.absolutePosition(null), null);
  assert.equal(t.absolutePosition({ client: 1, clock: -1, assoc: 0 }), null);
});

test('relativePosition rejects out-of-range indices', () => {
  const t = new Doc().getText('t');
  t.insert(0, 'ab');
  assert.throws(() => t.relativePosition(3), RangeError);
  assert.throws(() => t.relativePosition(-1), RangeError);
  assert.throws(() => t.relativePosition(1.5), RangeError);
});

test('positions under random concurrent edits stay on their character', () => {
  const seed = Number(process.env.CRDT_SEED ?? Date.now() % 1e9);
  const rnd = new Rand(seed);
  for (let round = 0; round < 200; round++) {
    const [a, b] = pair('abcdefghijklmnopqrstuvwxyz');
    const ta = a.getText('t');
    const tb = b.getText('t');
    // Mark the character the position anchors to by its ID.
    const index = rnd.intn(ta.length);
    const rel = ta.relativePosition(index);
    const ch = ta.toString()[index];
    for (let k = 0; k < 5; k++) {
      const at = rnd.intn(tb.length + 1);
      if (rnd.intn(2) === 0 || at === tb.length) a.apply(tb.insert(at, 'XY'));
      else a.apply(tb.delete(at, Math.min(1 + rnd.intn(3), tb.length - at)));
    }
    // The letters are unique and inserts add only X and Y.
    const deleted = !ta.toString().includes(ch);
    const got = ta.absolutePosition(rel);
    assert.ok(got !== null && got >= 0 && got <= ta.length, `seed ${seed} round ${round}`);
    if (!deleted) assert.equal(ta.toString()[got], ch, `seed ${seed} round ${round}: position moved off its character`);
  }
});
