// pack and unpack (src/pack.js) against @msgpack/msgpack's encode and
// decode, which they replace in the core bundle for protocol messages,
// presence states and map values: the same bytes and the same values for
// every kind of value and random nestings of them, the same errors (or
// refusals, for unpack), and the documented differences (a lone surrogate
// in a short string becomes U+FFFD; a str that is not UTF-8 decodes with
// U+FFFD; a long str keeps its leading U+FEFF).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { ExtData, decode, encode } from '@msgpack/msgpack';
import { pack, unpack } from '../src/pack.js';
import { toHex } from '../src/index.js';
import { Rand } from './helpers.js';

/** same asserts that pack and encode agree on v: equal bytes, or equal errors. */
function same(v, what) {
  let want;
  try {
    want = toHex(encode(v));
  } catch (e) {
    assert.throws(() => pack(v), { message: e.message }, what);
    return;
  }
  assert.equal(toHex(pack(v)), want, what);
}

const ints = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1];
const numbers = [
  ...ints,
  ...ints.map((x) => -x),
  -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1,
  2 ** 53, -(2 ** 53), 2 ** 64, 1.5, -1.5, 0.1, 1e300, -1e-300, NaN, Infinity, -Infinity,
];

test('pack writes what @msgpack/msgpack encode writes, scalar by scalar', () => {
  for (const v of [null, undefined, true, false, ...numbers]) same(v, String(v));
  for (const n of [0, 1, 31, 32, 50, 51, 255, 256, 65535, 65536]) {
    same('a'.repeat(n), `ASCII ${n}`);
    same('é'.repeat(n), `2-byte ${n}`);
    same('中'.repeat(n), `3-byte ${n}`);
    same('😀'.repeat(n), `4-byte ${n}`);
  }
  // A lone surrogate past 50 units is U+FFFD for both.
  same('\ud800'.repeat(60), 'long lone surrogates');
  same('x'.repeat(60) + '\udc00', 'long, a lone low surrogate');
});

test('pack writes what @msgpack/msgpack encode writes for bin, extensions and containers', () => {
  for (const n of [0, 1, 255, 256, 65535, 65536]) same(new Uint8Array(n).fill(7), `bin ${n}`);
  const buf = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]).buffer;
  same(new Uint8Array(buf, 3, 4), 'a view into a larger buffer');
  same(new Int16Array([1, -2, 300]), 'Int16Array');
  same(new Float32Array([1.5, -0.25]), 'Float32Array');
  same(new DataView(buf, 1, 5), 'DataView');
  same(buf, 'an ArrayBuffer (an object without keys)');
  for (const d of [0, 1, -1, 1.5e12, Date.UTC(2106, 1, 8), Date.UTC(2500, 0, 1), -1e14, 1e15 + 0.5]) same(new Date(d), `Date ${d}`);
  for (const n of [0, 1, 2, 3, 4, 8, 16, 17, 255, 256, 65535, 65536]) same(new ExtData(5, new Uint8Array(n).fill(3)), `ext ${n}`);
  same(new ExtData(-7, () => new Uint8Array([1, 2, 3])), 'ext with data made on demand');
  same([], 'empty array');
  same(new Array(20).fill(1), 'array 16 and up');
  same(new Array(70000).fill(0), 'array 32');
  same([1, , 3], 'a sparse array'); // eslint-disable-line no-sparse-arrays
  same({}, 'empty object');
  same({ b: 1, a: [true, null], c: { d: 'x' }, u: undefined, 2: 'two' }, 'object in key order');
  same(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])), 'map 16');
  same(new Map([['a', 1]]), 'a Map (an object without keys)');
  same({ presence: { cursor: { anchor: 3, head: 5 }, user: { name: 'Ann', color: '#f80' } } }, 'a presence state');
  // Depth: 100 levels nest, 101 do not.
  let deep = 1;
  for (let i = 0; i < 99; i++) deep = [deep];
  same(deep, 'depth 100');
  same([deep], 'depth 101');
  same({ a: [deep] }, 'depth 101 under a key');
  // Values neither encodes.
  for (const v of [1n, Symbol('s'), () => 1, [1, 2n]]) same(v, `unencodable ${String(v)}`);
});

/** randomValue returns a random value of nesting at most depth. */
function randomValue(rng, depth) {
  const k = rng.intn(depth > 0 ? 12 : 8);
  switch (k) {
    case 0:
      return null;
    case 1:
      return rng.intn(2) === 0;
    case 2:
      return numbers[rng.intn(numbers.length)];
    case 3:
      return rng.intn(2 ** 31) - 2 ** 30;
    case 4:
      return (rng.intn(2 ** 31) - 2 ** 30) / 7;
    case 5: {
      const parts = ['a', 'é', '中', '😀', ' ', 'key', '\u0000'];
      let s = '';
      for (let i = rng.intn(70); i > 0; i--) s += parts[rng.intn(parts.length)];
      return s;
    }
    case 6:
      return Uint8Array.from({ length: rng.intn(40) }, () => rng.intn(256));
    case 7:
      return new Date(rng.intn(2 ** 31) * 1000 - 2 ** 40);
    case 8:
    case 9:
      return Array.from({ length: rng.intn(20) }, () => randomValue(rng, depth - 1));
    default: {
      const o = {};
      for (let i = rng.intn(20); i > 0; i--) o[`k${rng.intn(30)}`] = randomValue(rng, depth - 1);
      return o;
    }
  }
}

test('pack writes what @msgpack/msgpack encode writes for random values', () => {
  const rng = new Rand(13);
  for (let i = 0; i < 2000; i++) {
    const v = randomValue(rng, 4);
    same(v, `value ${i}`);
  }
});

test('pack writes a lone surrogate of a short string as U+FFFD, where encode writes its three bytes', () => {
  for (const s of ['\ud800', 'a\udc00b', '\ud83d😀']) {
    const b = pack(s);
    assert.equal(decode(b), s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'));
    assert.notEqual(toHex(b), toHex(encode(s)));
  }
});

/**
 * sameDecode asserts that unpack and decode agree on b: equal values, or
 * both refuse it. Where b holds a str that is not UTF-8 (random bytes
 * often do), the two decode that str differently by design, and agree
 * must find U+FFFD in unpack's.
 */
function sameDecode(b, what) {
  let want;
  try {
    want = decode(b);
  } catch {
    assert.throws(() => unpack(b), Error, `${what}: decode refuses ${toHex(b)}, unpack must too`);
    return;
  }
  const got = unpack(b);
  assert.ok(agree(got, want), `${what}: ${toHex(b)} decodes to ${inspect(got)}, decode gives ${inspect(want)}`);
}

/**
 * agree reports whether got, from unpack, is want, from decode: the same
 * types and values throughout (an invalid Date equal to another, unlike
 * deepStrictEqual), except a str or key of got that holds U+FFFD.
 */
function agree(got, want) {
  if (typeof got === 'string' && typeof want === 'string') return got === want || got.includes('\ufffd');
  if (typeof got !== 'object' || got === null) return Object.is(got, want);
  if (Object.getPrototypeOf(got) !== Object.getPrototypeOf(want)) return false;
  if (got instanceof Date) return Object.is(got.getTime(), want.getTime());
  if (got instanceof ExtData) return got.type === want.type && toHex(got.data) === toHex(want.data);
  if (got instanceof Uint8Array) return toHex(got) === toHex(want);
  const gk = Object.keys(got);
  const wk = Object.keys(want);
  if (gk.join('\0') !== wk.join('\0')) return gk.some((k) => k.includes('\ufffd'));
  return gk.every((k) => agree(got[k], want[k]));
}

/** hex returns the bytes written in hex. */
const hex = (s) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));

test('unpack reads what @msgpack/msgpack decode reads, form by form', () => {
  for (const v of [null, true, false, ...numbers, 'a'.repeat(300), 'é'.repeat(40), '😀x', '\ufeffa', new Date(1.5e12)]) {
    sameDecode(encode(v), String(v).slice(0, 20));
  }
  const forms = [
    // every integer form, at its edges
    'cc00', 'ccff', 'cd0000', 'cdffff', 'ce00000000', 'ceffffffff', 'cf0000000000000000', 'cf001fffffffffffff', 'cfffffffffffffffff',
    'd000', 'd080', 'd07f', 'd18000', 'd27fffffff', 'd280000000', 'd3ffffffffffffffff', 'd38000000000000000', 'd3ffe0000000000000',
    'e0', 'ff', '7f', '00',
    // floats, NaN and -0 included
    'ca3fc00000', 'ca7fc00000', 'ca80000000', 'cb3ff8000000000000', 'cb8000000000000000', 'cb7ff8000000000000',
    // str and bin of every header
    'a0', 'a161', 'd90161', 'da000161', 'db0000000161', 'c400', 'c40101', 'c5000101', 'c60000000101',
    // strs that are not UTF-8 or hold a BOM
    'a3efbbbf', 'a2c328', 'a3eda080', 'a1ff',
    // timestamps of 4, 8 and 12 bytes, and of sizes that are refused
    'd6ff00000001', 'd7ff0000000400000001', 'c70cff000000010000000000000002', 'd4ff00', 'd5ff0000', 'c703ff000000',
    // other extensions: ExtData
    'd40501', 'd50501ff', 'c70005', 'c7010501', 'c800020502ff', 'c900000001f701', 'd8' + '05' + '00'.repeat(16),
    // arrays and maps of every header
    '90', '9101', 'dc0000', 'dc000101', 'dd00000000', 'dd0000000101', '80', '81a16101', 'de0000', 'de0001a16101', 'df00000001a16101',
    // map keys: numbers and strings taken, the rest refused, later keys win
    '8101a161', '81ffa161', '81cb3ff8000000000000c0', '82a16101a16102', '81c0c0', '81c3c0', '819001c0', '818001c0', '81c400c0', '81d40501c0',
    '81a95f5f70726f746f5f5fc0', '81a9636f6e7374727563746f72c0',
    // refusals: reserved code, truncation, trailing bytes, counts past the end
    'c1', '', 'cd00', 'a2', 'c40201', '92', '9201', 'dcffff', 'ddffffffff', 'dfffffffff', 'c9ffffffff05', '0000', '9000',
  ];
  for (const f of forms) sameDecode(hex(f), f);
});

test('unpack reads what @msgpack/msgpack decode reads for random values, and refuses what it refuses', () => {
  const rng = new Rand(17);
  for (let i = 0; i < 2000; i++) {
    const b = encode(randomValue(rng, 4));
    sameDecode(b, `value ${i}`);
    // Every cut of the value, and the value with a byte after it.
    if (i % 10 === 0) for (let n = 0; n < b.length; n++) sameDecode(b.subarray(0, n), `value ${i} cut at ${n}`);
    const more = new Uint8Array(b.length + 1);
    more.set(b);
    sameDecode(more, `value ${i} and a byte`);
    // One byte changed: whatever it now says, the two agree.
    const bad = b.slice();
    bad[rng.intn(bad.length)] = rng.intn(256);
    sameDecode(bad, `value ${i} with a byte changed`);
  }
  // Random bytes, mostly refused.
  for (let i = 0; i < 20000; i++) sameDecode(Uint8Array.from({ length: 1 + rng.intn(12) }, () => rng.intn(256)), `random ${i}`);
});

test('unpack decodes a long str with a leading U+FEFF, a str that is not UTF-8 and a deep value', () => {
  const bom = '\ufeff' + 'x'.repeat(300);
  assert.equal(unpack(encode(bom)), bom); // decode drops the U+FEFF
  assert.equal(unpack(hex('a4c32861ff')), '\ufffd(a\ufffd');
  let deep = 1;
  for (let i = 0; i < 1000; i++) deep = [deep];
  assert.deepStrictEqual(unpack(encode(deep, { maxDepth: 2000 })), deep);
});
