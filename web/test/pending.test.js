// Pending changes: records and deletions that wait for clocks not yet
// integrated are held once however often they arrive, and are applied as
// soon as their clocks arrive, whatever the order of delivery.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Doc, InvalidUpdateError, TooMuchPendingError, toHex } from '../src/index.js';
import { Writer } from '../src/codec.js';
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

/**
 * waiting returns an update of client 77 holding one text record of n
 * code points at clock, with no origins: it waits for clocks 0 … clock − 1.
 */
function waiting(clock, n) {
  const w = new Writer();
  w.arrayLen(5);
  w.uint(1);
  w.arrayLen(1);
  w.arrayLen(2);
  w.uint(0);
  w.str('t');
  w.arrayLen(1);
  w.uint(77);
  w.arrayLen(0);
  w.arrayLen(1);
  w.arrayLen(5);
  w.uint(0);
  w.uint(clock);
  const col = new Writer();
  col.varint(7);
  col.varint(1 + (n - 1) * 128);
  const c = col.take();
  w.binHeader(c.length);
  w.bytes(c);
  w.str('a'.repeat(n));
  w.arrayLen(0);
  return w.take();
}

test('pending: an update that would hold more than MAX_PENDING_BYTES waiting is refused whole', () => {
  const n = 1 << 20;
  const d = new Doc({ clientID: 6 });
  // Each costs n + 160 bytes: 15 fit under 16 MiB, the 16th does not.
  for (let i = 1; i <= 15; i++) d.apply(waiting(i * 2 * n, n));
  assert.equal(d.pendingBytes, 15 * (n + 160));
  const before = toHex(d.snapshot());
  const sixteenth = waiting(16 * 2 * n, n);
  assert.throws(() => d.apply(sixteenth), TooMuchPendingError);
  assert.throws(() => d.apply(sixteenth), InvalidUpdateError);
  assert.equal(d.pendingBytes, 15 * (n + 160));
  assert.equal(toHex(d.snapshot()), before);
  // What is held already costs nothing: delivered again, it is accepted.
  d.apply(waiting(2 * n, n));
  assert.equal(d.pendingBytes, 15 * (n + 160));
  // Changes that integrate at once cost nothing either.
  d.getText('t').insert(0, 'still editable');
  const e = new Doc({ clientID: 8 });
  d.apply(e.getText('t').insert(0, 'and applicable'));
  assert.equal(d.getText('t').toString().length, 28);
});

/** waitingRecord returns an update of one code point of client at clock 1, which waits for clock 0. */
function waitingRecord(client) {
  const col = new Writer();
  col.varint(7);
  col.varint(1); // one code point, no origins
  const w = new Writer();
  w.arrayLen(5);
  w.uint(1);
  w.arrayLen(1);
  w.arrayLen(2);
  w.uint(0);
  w.str('t');
  w.arrayLen(1);
  w.uint(client);
  w.arrayLen(0);
  w.arrayLen(1);
  w.arrayLen(5);
  w.uint(0);
  w.uint(1);
  const c = col.take();
  w.binHeader(c.length);
  w.bytes(c);
  w.str('w');
  w.arrayLen(0);
  return w.take();
}

test('pending: an update tries the waiting records it may unblock, not those of every waiting client', () => {
  const d = new Doc({ clientID: 6 });
  const waiting = 2000;
  for (let i = 0; i < waiting; i++) d.apply(waitingRecord(1000 + i));
  const writer = new Doc({ clientID: 7 });
  const ups = [];
  for (let i = 0; i < 200; i++) ups.push(writer.getText('t').insert(i, 'k'));
  // Count the records integration looks at (the real method, counted).
  const tryIntegrate = d.tryIntegrate;
  let tries = 0;
  d.tryIntegrate = function (c, r) {
    tries++;
    return tryIntegrate.call(this, c, r);
  };
  for (const u of ups) d.apply(u);
  d.getText('t').insert(0, 'local');
  d.apply(writer.getText('t').insert(0, 'k'));
  delete d.tryIntegrate;
  assert.ok(tries <= 2 * (ups.length + 1), `${tries} records tried for ${ups.length + 1} updates of one record`);
  assert.equal(d.hasPending(), true);
});

test('pending: records waiting for other clients, and deletions of their clocks, apply as those arrive', () => {
  // Clients 11 … 16 each type after the text of the one before; client
  // 17 deletes across all of them. Delivered newest first, each record
  // waits for the client before it and the deletion for them all.
  const docs = [];
  const ups = [];
  let prev = null;
  for (let i = 0; i < 6; i++) {
    const d = new Doc({ clientID: 11 + i });
    if (prev !== null) d.apply(prev.snapshot());
    ups.push(d.getText('t').insert(d.getText('t').length, `<${i}>`));
    ups.push(d.getText('t').insert(1, `${i}`));
    docs.push(d);
    prev = d;
  }
  const del = new Doc({ clientID: 17 });
  del.apply(prev.snapshot());
  ups.push(del.getText('t').delete(2, 10));
  const want = toHex(del.snapshot());
  for (const order of [[...ups].reverse(), new Rand(5).shuffle([...ups])]) {
    const d = new Doc({ clientID: 6 });
    for (const u of order) d.apply(u);
    assert.equal(d.hasPending(), false);
    assert.equal(d.pendingBytes, 0);
    assert.equal(toHex(d.snapshot()), want);
    assert.equal(d.getText('t').toString(), del.getText('t').toString());
  }
});
