// The conflict scan (FORMAT.md §7) passes over leaves and groups of leaves
// whose items all have their left origin right of the new run's. That must
// change nothing: the same updates give the same document with the
// skipping on and off, for records whose origins lie anywhere in the text.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Doc, toHex } from '../src/index.js';
import { Writer } from '../src/codec.js';
import { scanOptions } from '../src/text.js';
import { Rand } from './helpers.js';

/** fragmented returns the snapshot of n code points typed one at a time at random places by client 1, and n. */
function fragmented(rng, n) {
  const d = new Doc({ clientID: 1 });
  const t = d.getText('t');
  d.change(() => {
    for (let i = 0; i < n; i++) t.insert(rng.intn(t.length + 1), 'x');
  });
  return d.snapshot();
}

/**
 * origins returns an update of client with k records of one code point at
 * clocks 0 … k − 1, each with a left and a right origin among client 1's
 * first n clocks (or none).
 */
function origins(rng, client, k, n) {
  const col = new Writer();
  col.varint(7);
  for (let i = 0; i < k; i++) {
    const lm = rng.intn(8) === 0 ? 0 : 2;
    const rm = rng.intn(8) === 0 ? 0 : 3;
    col.varint(1 | (lm << 3) | (rm << 5));
    if (lm === 2) {
      col.varint(0);
      col.varint(rng.intn(n));
    }
    if (rm === 3) {
      col.varint(0);
      col.varint(rng.intn(n));
    }
  }
  const w = new Writer();
  w.arrayLen(5);
  w.uint(1);
  w.arrayLen(1);
  w.arrayLen(2);
  w.uint(0);
  w.str('t');
  w.arrayLen(2);
  w.uint(1);
  w.uint(client);
  w.arrayLen(0);
  w.arrayLen(1);
  w.arrayLen(5);
  w.uint(1);
  w.uint(0);
  const c = col.take();
  w.binHeader(c.length);
  w.bytes(c);
  w.str('abcdefghijklmnopqrstuvwxyz'.slice(0, k));
  w.arrayLen(0);
  return w.take();
}

test('the conflict scan gives the same document with and without skipping', () => {
  for (let seed = 1; seed <= 6; seed++) {
    const rng = new Rand(seed);
    const n = 3000 + rng.intn(3000);
    const snap = fragmented(rng, n);
    const updates = [];
    for (let u = 0; u < 40; u++) updates.push(origins(rng, 100 + rng.intn(60), 1 + rng.intn(6), n));
    const docs = [true, false].map((skips) => {
      scanOptions.skips = skips;
      try {
        const d = new Doc({ clientID: 2 });
        d.apply(snap);
        for (const u of updates) {
          try {
            d.apply(u);
          } catch {
            // a record of a client that wrote already: refused alike
          }
        }
        return d;
      } finally {
        scanOptions.skips = true;
      }
    });
    assert.equal(docs[0].getText('t').toString(), docs[1].getText('t').toString(), `seed ${seed}`);
    assert.equal(toHex(docs[0].snapshot()), toHex(docs[1].snapshot()), `seed ${seed}`);
  }
});
