// Inputs at the edges of the format's limits (FORMAT.md §2.4): clocks and
// lengths whose sums pass 2^53 only by a little, which a float64 rounds
// back to 2^53, and length fields that claim more than the input holds.
// The Go implementation refuses all of them with a DecodeError; so must
// this one, and without allocating more than the input's size allows.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Doc, DecodeError, decodeStateVector, fromHex, toHex } from '../src/index.js';
import { VarReader, Writer } from '../src/codec.js';
import { leb128 } from './helpers.js';

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

// A length field names at most 2^32 − 1 bytes or elements. Each input
// below is an otherwise valid update (or state vector) with one such field
// claiming 4 GiB; a decoder that allocated by the claim would take
// megabytes (or throw a RangeError) before failing.
const entryPrefix = '950191920' + '1a16d91059091950000c4020703a09193a16b01'; // map "m", client 5, entry ["k", 1, value]
const lyingLengths = [
  ['map value: str32', entryPrefix + 'dbffffffff41'],
  ['map value: bin32', entryPrefix + 'c6ffffffff41'],
  ['map value: ext32', entryPrefix + 'c9ffffffff0141'],
  ['map value: array32', entryPrefix + 'ddffffffff41'],
  ['map value: map32', entryPrefix + 'dfffffffff41'],
  ['map value: array16 in arrays', entryPrefix + '919191dcffff41'],
  ['map value: str16', entryPrefix + 'daffff41'],
  ['update: array32', 'ddffffffff01'],
  ['types: array32', '9501ddffffffff'],
  ['type name: str32', '95019192 00dbffffffff61'.replace(' ', '')],
  ['clients: array32', '950190ddffffffff05'],
  ['deletes: column bin32', '9501909105919200c6ffffffff01'],
  ['blocks: array32', '9501909105 90ddffffffff'.replace(' ', '')],
  ['block: column bin32', '95019091059091950000c6ffffffff07'],
  ['block: text str32', '9501919200a16191059091950000c4020701dbffffffff41'],
  ['block: entries array32', '950191920' + '1a16d91059091950000c4020703a0ddffffffff93'],
  ['entry: key str32', '950191920' + '1a16d91059091950000c4020703a09193dbffffffff6b'],
  ['state vector: map32', 'dfffffffff0101'],
];

/** heapBytes is what the heap and the array buffers hold. */
function heapBytes() {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

test('a length field cannot make decoding allocate more than the input allows', () => {
  v8.setFlagsFromString('--expose_gc');
  const gc = vm.runInNewContext('gc');
  for (const [name, hex] of lyingLengths) {
    const b = fromHex(hex);
    const d = new Doc({ clientID: 9 });
    const decode = name.startsWith('state vector') ? () => decodeStateVector(b) : () => d.apply(b);
    assert.throws(decode, DecodeError, name);
    // Measured right after a collection, one apply's garbage is what grows
    // the heap, along with what the engine allocates for itself (compiled
    // code: up to a few hundred kilobytes), hence the least of three runs
    // and a bound of 1 MiB: far below what a claim of 4 GiB would cost.
    let grown = Infinity;
    for (let i = 0; i < 3; i++) {
      gc();
      const before = heapBytes();
      assert.throws(decode, DecodeError, name);
      grown = Math.min(grown, heapBytes() - before);
    }
    assert.ok(grown < 1 << 20, `${name} (${b.length} bytes): the heap grew by ${grown} bytes`);
  }
});

test('Writer.varint writes the minimal LEB128 of every width, which the reader reads back', () => {
  const values = [0, 1, 0x7f, 0x80, 0x3fff, 0x4000];
  for (const bits of [21, 28, 31, 32, 35, 42, 49, 52, 53]) values.push(2 ** bits - 1, 2 ** bits);
  values.push(TWO53 - 2, 0x7fffffff + 0.0, 0x80000001);
  let seed = 11;
  for (let i = 0; i < 200; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    values.push(Math.floor((seed / 2 ** 31) * 2 ** (1 + (i % 53))));
  }
  // One writer for all, so that a varint starting near the end of its room is written too.
  const w = new Writer(8);
  const all = [];
  for (const v of values) {
    const one = varints(v);
    assert.deepEqual(one, leb128(v), `varint(${v})`);
    w.varint(v);
    all.push(...one);
  }
  assert.deepEqual(w.take(), Uint8Array.from(all));
  const r = new VarReader(Uint8Array.from(all), 0, all.length);
  for (const v of values) assert.equal(r.next(TWO53), v, `read back ${v}`);
  assert.equal(r.more(), false);
});
