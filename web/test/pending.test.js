// Pending changes: records and deletions that wait for clocks not yet
// integrated are held once however often they arrive, and are applied as
// soon as their clocks arrive, whatever the order of delivery.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Doc, toHex } from '../src/index.js';
import { Rand } from './helpers.js';

/** keystrokes returns the updates of n keystrokes at the end of a text, a fifth of them backspaces. */
function keystrokes(n, seed) {
  const rng = new Rand(seed);
  const d = new Doc({ clientID: 5 });
  const t = d.getText('t');
  const ups = [];
  while (ups.length < n) {
    if (rng.intn(5) === 0 && t.length > 0) ups.push(t.delete(t.length - 1, 1));
    else ups.push(t.insert(t.length, String.fromCharCode(97 + rng.intn(26))));
  }
  return { ups, snapshot: toHex(d.snapshot()), text: t.toString() };
}

test('pending: an update that waits is held once, however often it arrives', () => {
  const { ups } = keystrokes(40, 1);
  const d = new Doc({ clientID: 6 });
  const late = ups.slice(20); // clocks after those of ups[0..19]
  const deletes = late.filter((u) => u.length < 30); // the backspaces: deletions only
  assert.ok(deletes.length > 0);
  for (const u of late) d.apply(u);
  const c = d.clients.get(5);
  const records = c.pending.length;
  const ranges = c.pendingDeletes.size;
  assert.ok(records > 0 && ranges > 0, `${records} records, ${ranges} ranges wait`);
  for (let i = 0; i < 100; i++) for (const u of late) d.apply(u);
  assert.equal(c.pending.length, records, 'pending records');
  assert.equal(c.pendingDeletes.size, ranges, 'pending delete ranges');
  for (const u of ups.slice(0, 20)) d.apply(u);
  assert.equal(d.hasPending(), false);
  assert.equal(toHex(d.snapshot()), keystrokes(40, 1).snapshot);
});

test('pending: keystrokes delivered in reverse or shuffled give the document of in-order delivery', () => {
  for (const seed of [2, 3, 4]) {
    const { ups, snapshot, text } = keystrokes(400, seed);
    const orders = [[...ups].reverse(), new Rand(seed).shuffle([...ups])];
    for (const order of orders) {
      const d = new Doc({ clientID: 6 });
      for (const u of order) d.apply(u);
      assert.equal(d.hasPending(), false, `seed ${seed}`);
      assert.equal(d.getText('t').toString(), text, `seed ${seed}`);
      assert.equal(toHex(d.snapshot()), snapshot, `seed ${seed}`);
    }
  }
});

test('pending: a deletion reaching past the integrated clocks applies in parts as they arrive', () => {
  const a = new Doc({ clientID: 5 });
  const t = a.getText('t');
  const parts = [t.insert(0, 'abc'), t.insert(3, 'def'), t.insert(6, 'ghi')];
  const del = t.delete(1, 7); // "bcdefgh"
  const d = new Doc({ clientID: 6 });
  d.apply(del);
  d.apply(parts[0]);
  assert.equal(d.getText('t').toString(), 'a');
  assert.ok(d.hasPending());
  d.apply(parts[2]); // waits for clocks 3–5
  d.apply(parts[1]);
  assert.equal(d.getText('t').toString(), 'ai');
  assert.equal(d.hasPending(), false);
  assert.equal(toHex(d.snapshot()), toHex(a.snapshot()));
});
