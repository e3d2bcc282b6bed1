// pack and unpack: msgpack for protocol messages, presence states and map
// values. pack writes the bytes that @msgpack/msgpack's encode writes with
// its default options, with the Writer and the integer and float forms of
// the map value encoder; unpack returns what that library's decode returns.
// The core bundle then holds no copy of the library's Encoder and Decoder,
// most of what it would weigh there: only its extension codec (dates, and
// ExtData for other extension types) stays. test/pack.test.js compares
// them with the library on every kind of value and on random bytes, errors
// included.

import { ExtData, ExtensionCodec, decodeTimestampExtension } from '@msgpack/msgpack';
import { Writer, decodeUtf8, wellFormed } from './codec.js';
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

const lenientUtf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * unpack decodes b, exactly one msgpack value, as decode(b) of
 * @msgpack/msgpack with its default options: maps as plain objects (keys
 * must be strings or numbers, and not "__proto__"), bin as a Uint8Array
 * view into b, timestamps as Dates, other extensions as ExtData, 64-bit
 * integers as the nearest number. It throws an Error on bytes that are not
 * one value, as decode does. Three differences, on input a FlowState
 * peer never writes: a str that is not UTF-8 decodes with U+FFFD for each
 * bad sequence (decode garbles a short one); a leading U+FEFF of a str is
 * kept whatever its length (decode drops it from one above 200 bytes); and
 * arrays and maps are read by recursion, so that a value nested some
 * thousands deep (far past what a document holds, and past what a
 * presence state's 4,096 bytes can) may throw a RangeError for the stack.
 * @param {Uint8Array} b
 * @returns {unknown}
 */
export function unpack(b) {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let pos = 0;
  const fail = (msg) => new Error(`msgpack: ${msg} at byte ${pos}`);
  // need checks that n more bytes are there; every value takes at least
  // one, which also bounds an array's or a map's count before any work.
  const need = (n) => {
    if (n > b.length - pos) throw fail('unexpected end of input');
  };
  const uint = (n) => {
    need(n);
    const v = n === 1 ? b[pos] : n === 2 ? view.getUint16(pos) : n === 4 ? view.getUint32(pos) : view.getUint32(pos) * 2 ** 32 + view.getUint32(pos + 4);
    pos += n;
    return v;
  };
  const int = (n) => {
    need(n);
    const v = n === 1 ? view.getInt8(pos) : n === 2 ? view.getInt16(pos) : n === 4 ? view.getInt32(pos) : view.getInt32(pos) * 2 ** 32 + view.getUint32(pos + 4);
    pos += n;
    return v;
  };
  const bytes = (n) => {
    need(n);
    pos += n;
    return b.subarray(pos - n, pos);
  };
  const str = (n) => {
    const s = bytes(n);
    return decodeUtf8(s, 0, n) ?? lenientUtf8.decode(s);
  };
  const ext = (n) => {
    const type = int(1);
    const data = bytes(n);
    return type === -1 ? decodeTimestampExtension(data) : new ExtData(type, data);
  };
  const array = (n) => {
    need(n);
    const a = new Array(n);
    for (let i = 0; i < n; i++) a[i] = any();
    return a;
  };
  const map = (n) => {
    need(n);
    const o = {};
    for (let i = 0; i < n; i++) {
      const k = any();
      if (k === '__proto__') throw fail('the key __proto__ is not allowed');
      if (typeof k !== 'string' && typeof k !== 'number') throw fail(`a key must be a string or a number, not ${typeof k}`);
      o[k] = any();
    }
    return o;
  };
  const any = () => {
    const c = uint(1);
    if (c < 0x80) return c;
    if (c >= 0xe0) return c - 0x100;
    if (c < 0x90) return map(c & 0x0f);
    if (c < 0xa0) return array(c & 0x0f);
    if (c < 0xc0) return str(c & 0x1f);
    if (c === 0xc0) return null;
    if (c === 0xc2 || c === 0xc3) return c === 0xc3;
    if (c >= 0xc4 && c <= 0xc6) return bytes(uint(1 << (c - 0xc4)));
    if (c >= 0xc7 && c <= 0xc9) return ext(uint(1 << (c - 0xc7)));
    if (c === 0xca || c === 0xcb) {
      const n = c === 0xca ? 4 : 8;
      need(n);
      pos += n;
      return n === 4 ? view.getFloat32(pos - 4) : view.getFloat64(pos - 8);
    }
    if (c >= 0xcc && c <= 0xcf) return uint(1 << (c - 0xcc));
    if (c >= 0xd0 && c <= 0xd3) return int(1 << (c - 0xd0));
    if (c >= 0xd4 && c <= 0xd8) return ext(1 << (c - 0xd4));
    if (c >= 0xd9 && c <= 0xdb) return str(uint(1 << (c - 0xd9)));
    if (c === 0xdc || c === 0xdd) return array(uint(c === 0xdc ? 2 : 4));
    if (c === 0xde || c === 0xdf) return map(uint(c === 0xde ? 2 : 4));
    pos--;
    throw fail(`invalid type byte 0x${c.toString(16)}`);
  };
  const v = any();
  if (pos !== b.length) throw fail(`${b.length - pos} bytes after the value`);
  return v;
}
