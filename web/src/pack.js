// pack: msgpack for protocol messages and presence states, the bytes that
// @msgpack/msgpack's encode writes with its default options, written with
// the Writer and integer and float forms of the map value encoder. The
// core bundle then holds no copy of that library's Encoder, which is most
// of what it would weigh there; its decoder and extension codec (dates)
// stay. test/pack.test.js compares the two on every kind of value, errors
// included.

import { ExtensionCodec } from '@msgpack/msgpack';
import { Writer, wellFormed } from './codec.js';
import { header, writeFloat, writeInt } from './value.js';

const textEncoder = new TextEncoder();

/**
 * pack returns the msgpack encoding of v, exactly as encode(v) of
 * @msgpack/msgpack: safe integers in their shortest form, other numbers as
 * float64 (NaN as 7ff8…), Dates as timestamps, typed arrays as bin,
 * objects as maps in key order, undefined as nil.
 * @param {unknown} v
 * @returns {Uint8Array}
 */
export function pack(v) {
  const w = new Writer(64);
  put(w, v, 1);
  return w.take();
}

/** put appends v at nesting level depth. */
function put(w, v, depth) {
  if (depth > 100) throw new Error(`Too deep objects in depth ${depth}`);
  if (v == null) return w.byte(0xc0);
  if (typeof v === 'boolean') return w.byte(v ? 0xc3 : 0xc2);
  if (typeof v === 'number') return Number.isSafeInteger(v) ? writeInt(w, BigInt(v)) : writeFloat(w, v);
  if (typeof v === 'string') return putStr(w, v);
  const ext = ExtensionCodec.defaultCodec.tryToEncode(v, undefined);
  if (ext != null) {
    // The timestamp of a Date, or an ExtData given as the value.
    const fn = typeof ext.data === 'function';
    const data = fn ? ext.data(w.pos + 6) : ext.data;
    const n = data.length;
    const f = fn ? -1 : [1, 2, 4, 8, 16].indexOf(n); // fixext 1 … 16
    if (f >= 0) w.byte(0xd4 + f);
    else if (fn || n >= 0x10000) header(w, 0xc9, n, 4);
    else if (n >= 0x100) header(w, 0xc8, n, 2);
    else header(w, 0xc7, n, 1);
    w.byte(ext.type & 0xff);
    w.bytes(data);
  } else if (Array.isArray(v)) {
    w.arrayLen(v.length);
    for (const x of v) put(w, x, depth + 1);
  } else if (ArrayBuffer.isView(v)) {
    w.binHeader(v.byteLength);
    w.bytes(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  } else if (typeof v === 'object') {
    const keys = Object.keys(v);
    w.mapLen(keys.length);
    for (const k of keys) {
      putStr(w, k);
      put(w, v[k], depth + 1);
    }
  } else throw new Error(`Unrecognized object: ${Object.prototype.toString.apply(v)}`);
}

/**
 * putStr appends a str. A lone surrogate becomes U+FFFD, as TextEncoder
 * writes it; @msgpack/msgpack does so past 50 UTF-16 units only, and below
 * writes the surrogate's three bytes, which are not UTF-8.
 */
function putStr(w, s) {
  if (wellFormed(s)) return w.str(s);
  const b = textEncoder.encode(s);
  w.strHeader(b.length);
  w.bytes(b);
}
