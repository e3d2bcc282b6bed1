// The canonical encoding of map values (crdt/FORMAT.md): the bytes that
// SharedMap.set writes for a value, the same as the Go Map.Set writes for
// the equivalent Go value. Each value has exactly one encoding: integers
// (and integral numbers up to 2^53) in their shortest form, every other
// number as a float64, object keys sorted by their UTF-8 bytes, and every
// length in its shortest header. A general msgpack library picks widths and
// orders of its own (float32 for some numbers, UTF-16 key order), so the
// encoding is written out here.

import { MAX_VALUE_DEPTH, Writer, compareCodePoints, wellFormed } from './codec.js';

const TWO53 = 2 ** 53;
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

/**
 * ValueError reports a value that has no canonical encoding: a lone
 * surrogate, a non-string key, a Date or another type msgpack would write
 * as an extension, a function, a BigInt outside the 64-bit range, or
 * nesting deeper than 64 levels.
 */
export class ValueError extends TypeError {
  /** @param {string} msg */
  constructor(msg) {
    super(msg);
    this.name = 'ValueError';
  }
}

/**
 * encodeValue returns the canonical msgpack encoding of v.
 * @param {unknown} v
 * @returns {Uint8Array}
 * @throws {ValueError} if v has no canonical encoding
 */
export function encodeValue(v) {
  const w = new Writer(64);
  write(w, v, 1);
  return w.take();
}

/** write appends the encoding of v, at nesting level depth (1 at the top). */
function write(w, v, depth) {
  if (v === null || v === undefined) return w.byte(0xc0);
  switch (typeof v) {
    case 'boolean':
      return w.byte(v ? 0xc3 : 0xc2);
    case 'number':
      if (Number.isInteger(v) && Math.abs(v) <= TWO53) return writeInt(w, v === 0 ? 0n : BigInt(v));
      return writeFloat(w, v);
    case 'bigint':
      if (v < INT64_MIN || v > UINT64_MAX) throw new ValueError(`integer ${v} is outside the 64-bit range`);
      return writeInt(w, v);
    case 'string':
      if (!wellFormed(v)) throw new ValueError('string holds a lone surrogate (not valid Unicode)');
      return w.str(v);
    case 'object':
      break;
    default:
      throw new ValueError(`a ${typeof v} has no msgpack encoding`);
  }
  if (v instanceof Uint8Array) {
    w.binHeader(v.length);
    return w.bytes(v);
  }
  // Containers hold values one level deeper; past the limit, decoders
  // refuse the value (and a cyclic value would never end).
  if (depth >= MAX_VALUE_DEPTH) throw new ValueError(`value nested deeper than ${MAX_VALUE_DEPTH} levels`);
  if (Array.isArray(v)) {
    w.arrayLen(v.length);
    for (const x of v) write(w, x, depth + 1);
    return;
  }
  if (v instanceof Date || ArrayBuffer.isView(v) || v instanceof ArrayBuffer) {
    throw new ValueError(`a ${v.constructor.name} has no canonical encoding (msgpack extension types and typed arrays other than Uint8Array are not supported)`);
  }
  /** @type {Array<[string, unknown]>} */
  let entries;
  if (v instanceof Map) {
    entries = [...v];
    for (const [k] of entries) {
      if (typeof k !== 'string') throw new ValueError(`a map key must be a string, not a ${typeof k}`);
    }
  } else {
    entries = Object.entries(v);
  }
  // UTF-8 byte order, which is code point order, not UTF-16's.
  entries.sort((a, b) => compareCodePoints(a[0], b[0]));
  w.mapLen(entries.length);
  for (const [k, x] of entries) {
    if (!wellFormed(k)) throw new ValueError('key holds a lone surrogate (not valid Unicode)');
    w.str(k);
    write(w, x, depth + 1);
  }
}

/** writeInt appends integer v (−2^63 ≤ v < 2^64) in its shortest msgpack form. */
export function writeInt(w, v) {
  if (v >= 0n && v < 0x80n) {
    w.byte(Number(v)); // positive fixint
  } else if (v < 0n && v >= -32n) {
    w.byte(Number(v) & 0xff); // negative fixint
  } else if (v >= 0n) {
    if (v < 0x100n) header(w, 0xcc, Number(v), 1);
    else if (v < 0x10000n) header(w, 0xcd, Number(v), 2);
    else if (v < 0x100000000n) header(w, 0xce, Number(v), 4);
    else {
      w.byte(0xcf);
      big64(w, v);
    }
  } else if (v >= -0x80n) header(w, 0xd0, Number(v) & 0xff, 1);
  else if (v >= -0x8000n) header(w, 0xd1, Number(v) & 0xffff, 2);
  else if (v >= -0x80000000n) header(w, 0xd2, Number(v) >>> 0, 4);
  else {
    w.byte(0xd3);
    big64(w, BigInt.asUintN(64, v));
  }
}

/** header appends code c and then u (unsigned, < 2^32) in n big-endian bytes. */
export function header(w, c, u, n) {
  w.byte(c);
  w.bigEndian(u, n);
}

/** big64 appends v (0 ≤ v < 2^64) as 8 big-endian bytes. */
function big64(w, v) {
  w.ensure(8);
  new DataView(w.buf.buffer, w.buf.byteOffset + w.pos, 8).setBigUint64(0, v);
  w.pos += 8;
}

/** writeFloat appends v as a float64; NaN in its one canonical form. */
export function writeFloat(w, v) {
  w.byte(0xcb);
  w.ensure(8);
  const dv = new DataView(w.buf.buffer, w.buf.byteOffset + w.pos, 8);
  if (Number.isNaN(v)) dv.setBigUint64(0, 0x7ff8000000000000n);
  else dv.setFloat64(0, v);
  w.pos += 8;
}
