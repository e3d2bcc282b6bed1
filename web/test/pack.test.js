// pack (src/pack.js) against @msgpack/msgpack's encode, which it replaces
// in the core bundle for protocol messages and presence states: the same
// bytes for every kind of value and random nestings of them, the same
// errors, and the one documented difference (a lone surrogate in a short
// string becomes U+FFFD).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExtData, decode, encode } from '@msgpack/msgpack';
import { pack } from '../src/pack.js';
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
