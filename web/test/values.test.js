// The canonical encoding of map values (crdt/FORMAT.md §8.1): the same
// value gives the same bytes in JS and in Go. crdt/testdata/values.json,
// written by the Go tests, is the shared table; the one below adds
// JavaScript's own cases (undefined, Map, BigInt, refused values).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Doc, fromHex, toHex } from '../src/index.js';
import { encodeValue, ValueError } from '../src/value.js';
import { checkValue } from '../src/codec.js';
import { REPO_ROOT } from './helpers.js';

/**
 * fromDescription builds the JavaScript value that values.json describes:
 * an int is a number when |v| ≤ 2^53 and a BigInt beyond; a float is a
 * number; a map is a plain object built in the order given.
 */
function fromDescription(d) {
  switch (d.type) {
    case 'nil':
      return null;
    case 'bool':
      return d.v;
    case 'int': {
      const v = BigInt(d.v);
      return v >= -(2n ** 53n) && v <= 2n ** 53n ? Number(v) : v;
    }
    case 'float':
      return { NaN: NaN, '+Inf': Infinity, '-Inf': -Infinity, '-0': -0 }[d.v] ?? Number(d.v);
    case 'str':
      return d.v;
    case 'bin':
      return fromHex(d.v);
    case 'array':
      return d.v.map(fromDescription);
    case 'map':
      return Object.fromEntries(d.v.map(([k, x]) => [k, fromDescription(x)]));
    default:
      throw new Error(`values.json: unknown type ${d.type}`);
  }
}

test('canonical map value encoding: crdt/testdata/values.json, as Go writes it', () => {
  const table = JSON.parse(readFileSync(join(REPO_ROOT, 'crdt', 'testdata', 'values.json'), 'utf8'));
  assert.equal(table.format_version, 1);
  assert.ok(table.values.length > 50, `only ${table.values.length} values`);
  const d = new Doc({ clientID: 1 });
  for (const { name, value, hex } of table.values) {
    assert.equal(toHex(encodeValue(fromDescription(value))), hex, name);
    d.getMap('m').set('k', fromDescription(value));
    assert.equal(toHex(d.getMap('m').getRaw('k')), hex, `${name}: map.set`);
  }
});

/** nest returns v inside n arrays. */
function nest(n, v) {
  for (let i = 0; i < n; i++) v = [v];
  return v;
}

const canonical = [
  ['null', null, 'c0'],
  ['undefined', undefined, 'c0'],
  ['false', false, 'c2'],
  ['true', true, 'c3'],
  ['0', 0, '00'],
  ['−0', -0, '00'],
  ['1.0', 1.0, '01'],
  ['127', 127, '7f'],
  ['128', 128, 'cc80'],
  ['255', 255, 'ccff'],
  ['256', 256, 'cd0100'],
  ['65536', 65536, 'ce00010000'],
  ['2^32', 2 ** 32, 'cf0000000100000000'],
  ['2^40', 2 ** 40, 'cf0000010000000000'],
  ['2^53', 2 ** 53, 'cf0020000000000000'],
  ['−1', -1, 'ff'],
  ['−32', -32, 'e0'],
  ['−33', -33, 'd0df'],
  ['−128', -128, 'd080'],
  ['−129', -129, 'd1ff7f'],
  ['−32769', -32769, 'd2ffff7fff'],
  ['−2^31 − 1', -(2 ** 31) - 1, 'd3ffffffff7fffffff'],
  ['−2^53', -(2 ** 53), 'd3ffe0000000000000'],
  ['2^53 + 2: a float past 2^53', 2 ** 53 + 2, 'cb4340000000000001'],
  ['2^60 as a number', 2 ** 60, 'cb43b0000000000000'],
  ['0.5', 0.5, 'cb3fe0000000000000'],
  ['0.1', 0.1, 'cb3fb999999999999a'],
  ['NaN', NaN, 'cb7ff8000000000000'],
  ['+Inf', Infinity, 'cb7ff0000000000000'],
  ['−Inf', -Infinity, 'cbfff0000000000000'],
  ['BigInt 5', 5n, '05'],
  ['BigInt 2^63', 2n ** 63n, 'cf8000000000000000'],
  ['BigInt 2^64 − 1', 2n ** 64n - 1n, 'cfffffffffffffffff'],
  ['BigInt −2^63', -(2n ** 63n), 'd38000000000000000'],
  ['""', '', 'a0'],
  ['31 bytes', 'a'.repeat(31), 'bf' + '61'.repeat(31)],
  ['32 bytes', 'a'.repeat(32), 'd920' + '61'.repeat(32)],
  ['256 bytes', 'a'.repeat(256), 'da0100' + '61'.repeat(256)],
  ['é😀', 'é😀', 'a6c3a9f09f9880'],
  ['bin', Uint8Array.of(1, 2), 'c4020102'],
  ['empty bin', new Uint8Array(0), 'c400'],
  ['[]', [], '90'],
  ['{}', {}, '80'],
  ['16 elements', new Array(16).fill(0), 'dc0010' + '00'.repeat(16)],
  ['keys by UTF-8 bytes, not UTF-16', { '\u{1F600}': 1, '\uFFFF': 2 }, '82a3efbfbf02a4f09f988001'],
  ['keys sorted', { b: 1, a: 2, '': 3 }, '83a003a16102a16201'],
  ['a Map', new Map([['b', 1], ['a', [true]]]), '82a16191c3a16201'],
  ['nested', [1, [2, { b: null, a: [] }]], '9201920282a16190a162c0'],
  ['63 nested arrays', nest(63, 0), '91'.repeat(63) + '00'],
];

test('canonical map value encoding: the table', () => {
  for (const [name, v, hex] of canonical) {
    const b = encodeValue(v);
    assert.equal(toHex(b), hex, name);
    checkValue(b); // and a decoder of updates takes it
  }
});

test('canonical map value encoding: values with no encoding are refused', () => {
  const bad = [
    ['a lone surrogate', '\ud800'],
    ['a key with a lone surrogate', { '\udc00': 1 }],
    ['a Map with a number key', new Map([[1, 'x']])],
    ['a Date (msgpack extension)', new Date(0)],
    ['a typed array other than Uint8Array', Float32Array.of(1)],
    ['BigInt 2^64', 2n ** 64n],
    ['BigInt −2^63 − 1', -(2n ** 63n) - 1n],
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['64 nested arrays', nest(64, 0)],
  ];
  const cyclic = { a: [] };
  cyclic.a.push(cyclic);
  bad.push(['a cyclic value', cyclic]);
  for (const [name, v] of bad) {
    assert.throws(() => encodeValue(v), ValueError, name);
    assert.throws(() => new Doc({ clientID: 1 }).getMap('m').set('k', v), TypeError, name);
  }
});

test('map.set writes the canonical bytes, whatever the key order of the object', () => {
  const d = new Doc({ clientID: 1 });
  const m = d.getMap('m');
  m.set('x', { z: 1.0, a: [-1, 0.5], '\u{1F600}': 2 ** 40 });
  m.set('y', new Map([['\u{1F600}', 2 ** 40], ['a', [-1, 0.5]], ['z', 1]]));
  assert.equal(toHex(m.getRaw('x')), '83a161' + '92ff' + 'cb3fe0000000000000' + 'a17a01' + 'a4f09f9880' + 'cf0000010000000000');
  assert.equal(toHex(m.getRaw('y')), toHex(m.getRaw('x')));
  assert.deepEqual(m.get('x'), { a: [-1, 0.5], z: 1, '\u{1F600}': 2 ** 40 });
});
