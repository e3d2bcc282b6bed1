// Inputs at the edges of the format's limits (FORMAT.md §2.4): clocks and
// lengths whose sums pass 2^53 only by a little, which a float64 rounds
// back to 2^53, and length fields that claim more than the input holds.
// The Go implementation refuses all of them with a DecodeError; so must
// this one, and without allocating more than the input's size allows.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Doc, DecodeError, toHex } from '../src/index.js';
import { Writer } from '../src/codec.js';

const TWO53 = 2 ** 53;

/** varints returns the LEB128 varints of vs (numbers or BigInts). */
function varints(...vs) {
  const w = new Writer();
  for (const v of vs) w.varint(v);
  return w.take();
}

/**
 * update writes [1, types, clients, deletes, blocks] with types as
 * [kind, name] pairs, deletes as [clientIndex, column] and blocks as
 * [clientIndex, clock, column, text, entries] where entries are raw bytes.
 */
function update({ types = [], clients = [], deletes = [], blocks = [] }) {
  const w = new Writer();
  w.arrayLen(5);
  w.uint(1);
  w.arrayLen(types.length);
  for (const [kind, name] of types) {
    w.arrayLen(2);
    w.uint(kind);
    w.str(name);
  }
  w.arrayLen(clients.length);
  for (const c of clients) w.uint(c);
  w.arrayLen(deletes.length);
  for (const [ci, col] of deletes) {
    w.arrayLen(2);
    w.uint(ci);
    w.binHeader(col.length);
    w.bytes(col);
  }
  w.arrayLen(blocks.length);
  for (const [ci, clock, col, text, entries] of blocks) {
    w.arrayLen(5);
    w.uint(ci);
    w.uint(clock);
    w.binHeader(col.length);
    w.bytes(col);
    w.str(text);
    w.bytes(entries);
  }
  return w.take();
}

// Each case has an accepted twin one step inside the limit, so that the
// test shows the limit itself, not some other rule, refuses it.
const edgeCases = [
  {
    name: 'delete range: gap 2^53−1, length 2',
    bad: update({ clients: [5], deletes: [[0, varints(TWO53 - 1, 2)]] }),
    good: update({ clients: [5], deletes: [[0, varints(TWO53 - 2, 2)]] }),
  },
  {
    name: 'delete range: second range ends at 2^53 + 1',
    bad: update({ clients: [5], deletes: [[0, varints(1, TWO53 - 2, 1, 1)]] }),
    good: update({ clients: [5], deletes: [[0, varints(1, TWO53 - 3, 1, 1)]] }),
  },
  {
    name: 'skip of 2^53 + 1 clocks',
    bad: update({ clients: [5], blocks: [[0, 0, varints(5n | (BigInt(TWO53) << 3n)), '', [0x90]]] }),
    good: update({ clients: [5], blocks: [[0, 0, varints(5n | (BigInt(TWO53 - 1) << 3n)), '', [0x90]]] }),
  },
  {
    name: 'skip of 2 clocks at 2^53 − 1',
    bad: update({ clients: [5], blocks: [[0, TWO53 - 1, varints(5 | (1 << 3)), '', [0x90]]] }),
    good: update({ clients: [5], blocks: [[0, TWO53 - 2, varints(5 | (1 << 3)), '', [0x90]]] }),
  },
  {
    name: 'map record at clock 2^53',
    bad: update({ types: [[1, 'm']], clients: [5], blocks: [[0, TWO53, varints(7, 3), '', [0x91, 0x93, 0xa1, 0x6b, 0x01, 0xc0]]] }),
    good: update({ types: [[1, 'm']], clients: [5], blocks: [[0, TWO53 - 1, varints(7, 3), '', [0x91, 0x93, 0xa1, 0x6b, 0x01, 0xc0]]] }),
  },
  {
    name: 'text of 2 code points at 2^53 − 1',
    bad: update({ types: [[0, 't']], clients: [5], blocks: [[0, TWO53 - 1, varints(7, 1 | (1 << 7)), 'ab', [0x90]]] }),
    good: update({ types: [[0, 't']], clients: [5], blocks: [[0, TWO53 - 2, varints(7, 1 | (1 << 7)), 'ab', [0x90]]] }),
  },
  {
    name: 'text of 2^53 code points at clock 1',
    bad: update({ types: [[0, 't']], clients: [5], deletes: [[0, varints(1, TWO53 - 1)]], blocks: [[0, 1, varints(7, 1n | (BigInt(TWO53 - 1) << 7n)), '', [0x90]]] }),
    good: update({ types: [[0, 't']], clients: [5], deletes: [[0, varints(1, TWO53 - 1)]], blocks: [[0, 1, varints(7, 1n | (BigInt(TWO53 - 2) << 7n)), '', [0x90]]] }),
  },
  {
    name: 'text of 2^53 + 1 code points, short form',
    bad: update({ types: [[0, 't']], clients: [5], blocks: [[0, 0, varints(7, BigInt(TWO53) << 2n, 1), '', [0x90]]] }),
    good: update({ types: [[0, 't']], clients: [5], blocks: [[0, 0, varints(7, 1), 'a', [0x90]]] }),
  },
];

for (const c of edgeCases) {
  test(`past 2^53 by a rounding margin is refused: ${c.name}`, () => {
    new Doc({ clientID: 9 }).apply(c.good);
    const d = new Doc({ clientID: 9 });
    const before = toHex(d.snapshot());
    assert.throws(() => d.apply(c.bad), DecodeError, toHex(c.bad));
    assert.equal(toHex(d.snapshot()), before);
  });
}
