// Low-level byte handling for updates and state vectors (FORMAT.md §2):
// msgpack headers, LEB128 varints and strict UTF-8.
//
// Like the Go implementation (codec.go), the headers of an update (arrays,
// maps, unsigned integers, str and bin) are read and written here by hand:
// an update holds a dozen of them, and going through a general msgpack
// decoder for each would cost as much as integrating the update. Map entry
// values are the exception: they are opaque msgpack values that are only
// walked here (to find where they end and to bound their nesting) and are
// encoded by value.js and decoded by pack.js (as @msgpack/msgpack decodes).

import { DecodeError } from './errors.js';
import { MAX_CLIENT_ID } from './id.js';

const TWO32 = 2 ** 32;
const TWO53 = 2 ** 53;

/** Arrays and maps inside a map value nest at most this deep (FORMAT.md §2.4). */
export const MAX_VALUE_DEPTH = 64;

// ---------------------------------------------------------------------------
// UTF-8

const fatalDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/**
 * decodeUtf8 decodes b[start:end] as strict UTF-8 (no surrogates, no
 * overlong forms, nothing above U+10FFFF, a leading U+FEFF kept), the rule
 * of Go's utf8.Valid. It returns null when the bytes are not valid.
 * @param {Uint8Array} b
 * @param {number} start
 * @param {number} end
 * @returns {string | null}
 */
export function decodeUtf8(b, start, end) {
  const n = end - start;
  if (n === 1 && b[start] < 0x80) return String.fromCharCode(b[start]);
  if (n > 48) {
    // TextDecoder wins on long input; its call overhead loses on short.
    try {
      return fatalDecoder.decode(b.subarray(start, end));
    } catch {
      return null;
    }
  }
  let s = '';
  let i = start;
  while (i < end) {
    const c = b[i];
    if (c < 0x80) {
      s += String.fromCharCode(c);
      i++;
      continue;
    }
    let cp;
    if (c >= 0xc2 && c <= 0xdf) {
      if (i + 1 >= end) return null;
      const c1 = b[i + 1];
      if ((c1 & 0xc0) !== 0x80) return null;
      cp = ((c & 0x1f) << 6) | (c1 & 0x3f);
      i += 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      if (i + 2 >= end) return null;
      const c1 = b[i + 1];
      const c2 = b[i + 2];
      const lo = c === 0xe0 ? 0xa0 : 0x80;
      const hi = c === 0xed ? 0x9f : 0xbf; // ED A0..BF would be a surrogate
      if (c1 < lo || c1 > hi || (c2 & 0xc0) !== 0x80) return null;
      cp = ((c & 0x0f) << 12) | ((c1 & 0x3f) << 6) | (c2 & 0x3f);
      i += 3;
    } else if (c >= 0xf0 && c <= 0xf4) {
      if (i + 3 >= end) return null;
      const c1 = b[i + 1];
      const c2 = b[i + 2];
      const c3 = b[i + 3];
      const lo = c === 0xf0 ? 0x90 : 0x80;
      const hi = c === 0xf4 ? 0x8f : 0xbf;
      if (c1 < lo || c1 > hi || (c2 & 0xc0) !== 0x80 || (c3 & 0xc0) !== 0x80) return null;
      cp = ((c & 0x07) << 18) | ((c1 & 0x3f) << 12) | ((c2 & 0x3f) << 6) | (c3 & 0x3f);
      i += 4;
      s += String.fromCharCode(0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff));
      continue;
    } else {
      return null;
    }
    s += String.fromCharCode(cp);
  }
  return s;
}

/**
 * utf8Length returns the UTF-8 byte length of s, which holds no lone
 * surrogates.
 * @param {string} s
 * @returns {number}
 */
export function utf8Length(s) {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 2; // four bytes for two UTF-16 units
      i++;
    } else n += 2;
  }
  return n;
}

/**
 * wellFormed reports whether s holds no lone surrogate, that is whether it
 * is valid Unicode and so encodes to valid UTF-8.
 * @param {string} s
 * @returns {boolean}
 */
export function wellFormed(s) {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c > 0xdbff) return false; // a low surrogate with no high one
    const d = s.charCodeAt(i + 1); // NaN past the end
    if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
    i++;
  }
  return true;
}

/**
 * codePoints returns the number of code points of s (valid UTF-16).
 * @param {string} s
 * @returns {number}
 */
export function codePoints(s) {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      n--;
      i++;
    }
  }
  return n;
}

/**
 * unitsOf returns the UTF-16 length of the first n code points of s taken
 * from UTF-16 offset from, or -1 if s holds fewer. When s has no
 * surrogates (s.length equals its code point count) callers skip this.
 * @param {string} s
 * @param {number} from
 * @param {number} n
 * @returns {number}
 */
export function unitsOf(s, from, n) {
  let i = from;
  for (; n > 0; n--) {
    if (i >= s.length) return -1;
    const c = s.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff ? 2 : 1;
  }
  return i - from;
}

/**
 * compareCodePoints orders strings by code point, which is the byte order
 * of their UTF-8 (FORMAT.md §2.5), unlike `<` on JavaScript strings: a
 * surrogate pair (U+10000 and up) sorts after U+E000–U+FFFF.
 * @param {string} a
 * @param {string} b
 * @returns {number}
 */
export function compareCodePoints(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Move U+E000–U+FFFF below the surrogates, which stand for higher code points.
    x = x >= 0xe000 ? x - 0x800 : x >= 0xd800 ? x + 0x2000 : x;
    y = y >= 0xe000 ? y - 0x800 : y >= 0xd800 ? y + 0x2000 : y;
    return x - y;
  }
  return a.length - b.length;
}

// ---------------------------------------------------------------------------
// Writing

/**
 * A Writer builds msgpack and varint bytes in a growing buffer. It writes
 * every integer and header in its smallest form (FORMAT.md §2.1).
 */
export class Writer {
  /** @param {number} [cap] initial capacity in bytes */
  constructor(cap = 256) {
    this.buf = new Uint8Array(cap);
    this.pos = 0;
  }

  /** ensure makes room for n more bytes. @param {number} n */
  ensure(n) {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const nb = new Uint8Array(cap);
    nb.set(this.buf.subarray(0, this.pos));
    this.buf = nb;
  }

  /** byte appends one byte. @param {number} b */
  byte(b) {
    if (this.pos >= this.buf.length) this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** bigEndian appends v (< 2^53) in n bytes. @param {number} v @param {number} n */
  bigEndian(v, n) {
    this.ensure(n);
    const b = this.buf;
    let p = this.pos + n;
    if (n === 8) {
      const lo = v % TWO32;
      const hi = (v - lo) / TWO32;
      for (let k = 0; k < 4; k++) {
        b[--p] = (lo >>> (8 * k)) & 0xff;
      }
      for (let k = 0; k < 4; k++) {
        b[--p] = (hi >>> (8 * k)) & 0xff;
      }
    } else {
      for (let k = 0; k < n; k++) b[--p] = (v >>> (8 * k)) & 0xff;
    }
    this.pos += n;
  }

  /** uint appends a msgpack unsigned integer (0 ≤ v ≤ 2^53). @param {number} v */
  uint(v) {
    if (v < 0x80) this.byte(v);
    else if (v < 0x100) {
      this.byte(0xcc);
      this.byte(v);
    } else if (v < 0x10000) {
      this.byte(0xcd);
      this.bigEndian(v, 2);
    } else if (v < TWO32) {
      this.byte(0xce);
      this.bigEndian(v, 4);
    } else {
      this.byte(0xcf);
      this.bigEndian(v, 8);
    }
  }

  /** header appends an array or map header. */
  _header(n, fix, c16, c32) {
    if (n < 16) this.byte(fix | n);
    else if (n < 0x10000) {
      this.byte(c16);
      this.bigEndian(n, 2);
    } else {
      this.byte(c32);
      this.bigEndian(n, 4);
    }
  }

  /** arrayLen appends an array header. @param {number} n */
  arrayLen(n) {
    this._header(n, 0x90, 0xdc, 0xdd);
  }

  /** mapLen appends a map header. @param {number} n */
  mapLen(n) {
    this._header(n, 0x80, 0xde, 0xdf);
  }

  /** strHeader appends the header of a str of n bytes. @param {number} n */
  strHeader(n) {
    if (n < 32) this.byte(0xa0 | n);
    else if (n < 0x100) {
      this.byte(0xd9);
      this.byte(n);
    } else if (n < 0x10000) {
      this.byte(0xda);
      this.bigEndian(n, 2);
    } else {
      this.byte(0xdb);
      this.bigEndian(n, 4);
    }
  }

  /** binHeader appends the header of a bin of n bytes (always c4 or wider). @param {number} n */
  binHeader(n) {
    if (n < 0x100) {
      this.byte(0xc4);
      this.byte(n);
    } else if (n < 0x10000) {
      this.byte(0xc5);
      this.bigEndian(n, 2);
    } else {
      this.byte(0xc6);
      this.bigEndian(n, 4);
    }
  }

  /** bytes appends raw bytes. @param {Uint8Array} b */
  bytes(b) {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** copy appends what Writer o holds. @param {Writer} o */
  copy(o) {
    const n = o.pos;
    this.ensure(n);
    const b = this.buf;
    const src = o.buf;
    let p = this.pos;
    if (n > 32) b.set(src.subarray(0, n), p);
    else for (let i = 0; i < n; i++) b[p + i] = src[i];
    this.pos = p + n;
  }

  /**
   * utf8 appends the UTF-8 of s (valid UTF-16), whose UTF-8 length is
   * known to be n.
   * @param {string} s
   * @param {number} n
   */
  utf8(s, n) {
    this.ensure(n);
    const b = this.buf;
    if (n === s.length) {
      // ASCII: one byte per unit.
      let p = this.pos;
      for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
      this.pos = p;
      return;
    }
    if (n > 64) {
      this.pos += utf8Encoder.encodeInto(s, b.subarray(this.pos)).written;
      return;
    }
    let p = this.pos;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) b[p++] = c;
      else if (c < 0x800) {
        b[p++] = 0xc0 | (c >> 6);
        b[p++] = 0x80 | (c & 0x3f);
      } else if (c >= 0xd800 && c <= 0xdbff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00);
        b[p++] = 0xf0 | (c >> 18);
        b[p++] = 0x80 | ((c >> 12) & 0x3f);
        b[p++] = 0x80 | ((c >> 6) & 0x3f);
        b[p++] = 0x80 | (c & 0x3f);
      } else {
        b[p++] = 0xe0 | (c >> 12);
        b[p++] = 0x80 | ((c >> 6) & 0x3f);
        b[p++] = 0x80 | (c & 0x3f);
      }
    }
    this.pos = p;
  }

  /** str appends a msgpack str. @param {string} s */
  str(s) {
    const n = utf8Length(s);
    this.strHeader(n);
    this.utf8(s, n);
  }

  /**
   * varint appends v as an unsigned LEB128 varint; v is a number below
   * 2^53 or, for the rare record header above that, a BigInt.
   * @param {number | bigint} v
   */
  varint(v) {
    if (typeof v === 'bigint') {
      while (v >= 0x80n) {
        this.byte(Number(v & 0x7fn) | 0x80);
        v >>= 7n;
      }
      this.byte(Number(v));
      return;
    }
    if (v < 0x80) {
      this.byte(v);
      return;
    }
    if (v < 0x80000000) {
      // Below 2^31 (nearly every operand): integer arithmetic, one check of room.
      this.ensure(5);
      const b = this.buf;
      let p = this.pos;
      while (v >= 0x80) {
        b[p++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      b[p++] = v;
      this.pos = p;
      return;
    }
    while (v >= 0x80) {
      this.byte((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.byte(v);
  }

  /** take returns a copy of what was written and empties the writer. @returns {Uint8Array} */
  take() {
    const out = this.buf.slice(0, this.pos);
    this.pos = 0;
    return out;
  }
}

// ---------------------------------------------------------------------------
// Reading

/**
 * A Reader decodes msgpack headers from a byte array. Lengths are checked
 * against the bytes left, so no header makes it allocate more than the
 * input's size allows.
 */
export class Reader {
  /** @param {Uint8Array} buf */
  constructor(buf) {
    this.buf = buf;
    this.pos = 0;
  }

  /** error returns a DecodeError at the current offset. @param {string} msg */
  error(msg) {
    return new DecodeError(this.pos, msg);
  }

  /** next returns the next byte. */
  next() {
    if (this.pos >= this.buf.length) throw this.error('unexpected end of input');
    return this.buf[this.pos++];
  }

  /**
   * bigEndian reads an n-byte big-endian unsigned integer. An 8-byte value
   * above 2^53 comes back as Infinity: every limit is at most 2^53, so it
   * is out of range whatever it is.
   */
  bigEndian(n) {
    if (this.buf.length - this.pos < n) throw this.error('unexpected end of input');
    const b = this.buf;
    let p = this.pos;
    this.pos += n;
    if (n === 8) {
      const hi = ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
      const lo = ((b[p + 4] << 24) | (b[p + 5] << 16) | (b[p + 6] << 8) | b[p + 7]) >>> 0;
      if (hi > 0x200000 || (hi === 0x200000 && lo > 0)) return Infinity;
      return hi * TWO32 + lo;
    }
    if (n === 4) return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
    if (n === 2) return (b[p] << 8) | b[p + 1];
    return b[p]; // n is 1, 2, 4 or 8
  }

  /** count checks a length read from a header against the bytes left. */
  count(n) {
    const left = this.buf.length - this.pos;
    if (n > left) throw this.error(`length ${n} exceeds the remaining ${left} bytes`);
    return n;
  }

  /** arrayOrMapLen reads an array header, or a map header when isMap. */
  arrayOrMapLen(isMap) {
    const c = this.next();
    let n;
    if ((c & 0xf0) === (isMap ? 0x80 : 0x90)) n = c & 0x0f;
    else if (c === (isMap ? 0xde : 0xdc)) n = this.bigEndian(2);
    else if (c === (isMap ? 0xdf : 0xdd)) n = this.bigEndian(4);
    else {
      this.pos--;
      throw this.error(`expected ${isMap ? 'a map' : 'an array'}, found code 0x${hex2(c)}`);
    }
    return this.count(n);
  }

  /** arrayLen reads an array header. */
  arrayLen() {
    const b = this.buf;
    if (this.pos < b.length) {
      const c = b[this.pos];
      if ((c & 0xf0) === 0x90 && (c & 0x0f) < b.length - this.pos) {
        this.pos++;
        return c & 0x0f;
      }
    }
    return this.arrayOrMapLen(false);
  }

  /** tuple reads an array header that must have n elements. */
  tuple(n, what) {
    const k = this.arrayLen();
    if (k !== n) throw this.error(`expected ${what}, found an array of ${k}`);
  }

  /** uint reads an unsigned integer no larger than limit. */
  uint(limit) {
    const b = this.buf;
    if (this.pos < b.length) {
      const c = b[this.pos];
      if (c <= 0x7f && c <= limit) {
        this.pos++;
        return c;
      }
    }
    const c = this.next();
    let v;
    if (c <= 0x7f) v = c;
    else if (c === 0xcc) v = this.bigEndian(1);
    else if (c === 0xcd) v = this.bigEndian(2);
    else if (c === 0xce) v = this.bigEndian(4);
    else if (c === 0xcf) v = this.bigEndian(8);
    else {
      this.pos--;
      throw this.error(`expected an unsigned integer, found code 0x${hex2(c)}`);
    }
    if (v > limit) throw this.error(`integer ${v === Infinity ? 'above 2^53' : v} exceeds ${limit}`);
    return v;
  }

  /** clientID reads a client ID (≤ 2^53 − 1). */
  clientID() {
    return this.uint(MAX_CLIENT_ID);
  }

  /**
   * raw reads a str (wantStr) or bin header and returns the payload's
   * length; the payload is buf[pos − length, pos).
   */
  raw(wantStr) {
    const c = this.next();
    let n;
    if (wantStr && (c & 0xe0) === 0xa0) n = c & 0x1f;
    else if (c === (wantStr ? 0xd9 : 0xc4)) n = this.bigEndian(1);
    else if (c === (wantStr ? 0xda : 0xc5)) n = this.bigEndian(2);
    else if (c === (wantStr ? 0xdb : 0xc6)) n = this.bigEndian(4);
    else {
      this.pos--;
      throw this.error(`expected ${wantStr ? 'a string' : 'binary'}, found code 0x${hex2(c)}`);
    }
    this.count(n);
    this.pos += n;
    return n;
  }

  /** str reads a msgpack str that must be valid UTF-8 and returns it. */
  str() {
    const n = this.raw(true);
    const s = decodeUtf8(this.buf, this.pos - n, this.pos);
    if (s === null) throw new DecodeError(this.pos - n, 'string is not valid UTF-8');
    return s;
  }

  /**
   * value reads one complete msgpack value of any type and returns its
   * offset; it ends at this.pos. Containers are walked by their headers
   * with a bound on nesting, scalars skipped by their sizes: the checks of
   * the Go implementation's reader.value, so both accept the same values.
   */
  value() {
    const off = this.pos;
    const b = this.buf;
    // left[i] counts the values still to read at depth i.
    const left = [1];
    while (left.length > 0) {
      if (left[left.length - 1] === 0) {
        left.pop();
        continue;
      }
      left[left.length - 1]--;
      if (this.pos >= b.length) throw this.error('unexpected end of input');
      const c = b[this.pos];
      let n = -1;
      if ((c & 0xf0) === 0x90 || c === 0xdc || c === 0xdd) n = this.arrayOrMapLen(false);
      else if ((c & 0xf0) === 0x80 || c === 0xde || c === 0xdf) n = 2 * this.arrayOrMapLen(true);
      else this.skipScalar();
      if (n < 0) continue;
      if (n > b.length - this.pos) {
        throw this.error(`length ${n} exceeds the remaining ${b.length - this.pos} bytes`);
      }
      if (left.length >= MAX_VALUE_DEPTH) throw this.error(`value nested deeper than ${MAX_VALUE_DEPTH} levels`);
      left.push(n);
    }
    return off;
  }

  /** skipScalar skips one msgpack value that is not an array or a map. */
  skipScalar() {
    const c = this.next();
    let n; // payload bytes after the code
    if (c <= 0x7f || c >= 0xe0 || c === 0xc0 || c === 0xc2 || c === 0xc3) n = 0;
    else if ((c & 0xe0) === 0xa0) n = c & 0x1f;
    else {
      switch (c) {
        case 0xcc: case 0xd0: n = 1; break;
        case 0xcd: case 0xd1: n = 2; break;
        case 0xce: case 0xd2: case 0xca: n = 4; break;
        case 0xcf: case 0xd3: case 0xcb: n = 8; break;
        case 0xd4: n = 2; break; // fixext: type byte + data
        case 0xd5: n = 3; break;
        case 0xd6: n = 5; break;
        case 0xd7: n = 9; break;
        case 0xd8: n = 17; break;
        case 0xc4: case 0xd9: n = this.bigEndian(1); break;
        case 0xc5: case 0xda: n = this.bigEndian(2); break;
        case 0xc6: case 0xdb: n = this.bigEndian(4); break;
        case 0xc7: n = this.bigEndian(1) + 1; break; // ext: length, type, data
        case 0xc8: n = this.bigEndian(2) + 1; break;
        case 0xc9: n = this.bigEndian(4) + 1; break;
        default:
          this.pos--;
          throw this.error(`invalid msgpack code 0x${hex2(c)}`);
      }
    }
    if (n > this.buf.length - this.pos) throw this.error('unexpected end of input');
    this.pos += n;
  }

  /** end checks that the input is used up. */
  end() {
    if (this.pos !== this.buf.length) throw this.error(`${this.buf.length - this.pos} trailing bytes`);
  }
}

/**
 * checkValue throws a DecodeError unless b is exactly one msgpack value
 * that a decoder of updates accepts (FORMAT.md §4.8).
 * @param {Uint8Array} b
 */
export function checkValue(b) {
  const r = new Reader(b);
  r.value();
  r.end();
}

/**
 * A VarReader reads unsigned LEB128 varints from buf[pos, end), a bin
 * column of an update (FORMAT.md §2.3).
 */
export class VarReader {
  /**
   * @param {Uint8Array} buf the whole input, so errors give whole-input offsets
   * @param {number} pos
   * @param {number} end
   */
  constructor(buf, pos, end) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  /** reset makes the reader read buf[pos, end) instead. */
  reset(buf, pos, end) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  /** more reports whether varints are left. */
  more() {
    return this.pos < this.end;
  }

  /** error returns a DecodeError at the current offset. @param {string} msg */
  error(msg) {
    return new DecodeError(this.pos, msg);
  }

  /**
   * raw reads one minimal varint and returns it as a number when it is at
   * most 2^53, else as a BigInt.
   * @returns {number | bigint}
   */
  raw() {
    const b = this.buf;
    let p = this.pos;
    if (p < this.end && b[p] < 0x80) {
      this.pos = p + 1;
      return b[p];
    }
    let x = 0;
    let mul = 1;
    for (let i = 0; ; i++) {
      if (p >= this.end) {
        this.pos = p;
        throw this.error('truncated varint');
      }
      const c = b[p++];
      if ((i === 9 && c > 1) || i > 9) {
        this.pos = p;
        throw this.error('varint overflows 64 bits');
      }
      if (i === 7) return this._big(); // 49 bits or more: finish exactly
      x += (c & 0x7f) * mul;
      if (c < 0x80) {
        if (i > 0 && c === 0) {
          this.pos = p;
          throw this.error('varint is not minimally encoded');
        }
        break;
      }
      mul *= 128;
    }
    this.pos = p;
    return x;
  }

  /** _big re-reads a long varint at pos with BigInt arithmetic. */
  _big() {
    const b = this.buf;
    let p = this.pos;
    let x = 0n;
    let shift = 0n;
    for (let i = 0; ; i++) {
      if (p >= this.end) {
        this.pos = p;
        throw this.error('truncated varint');
      }
      const c = b[p++];
      if ((i === 9 && c > 1) || i > 9) {
        this.pos = p;
        throw this.error('varint overflows 64 bits');
      }
      x |= BigInt(c & 0x7f) << shift;
      if (c < 0x80) {
        if (c === 0) {
          this.pos = p;
          throw this.error('varint is not minimally encoded');
        }
        break;
      }
      shift += 7n;
    }
    this.pos = p;
    return x <= BigInt(TWO53) ? Number(x) : x;
  }

  /**
   * next reads one varint no larger than limit (≤ 2^53).
   * @param {number} limit
   * @returns {number}
   */
  next(limit) {
    const b = this.buf;
    const p = this.pos;
    if (p < this.end && b[p] < 0x80 && b[p] <= limit) {
      this.pos = p + 1;
      return b[p];
    }
    const v = this.raw();
    if (typeof v === 'bigint' || v > limit) throw this.error(`value ${v} exceeds ${limit}`);
    return v;
  }
}

/** hex2 formats a byte as two hex digits. */
function hex2(c) {
  return c.toString(16).padStart(2, '0');
}

/**
 * toHex formats bytes as lowercase hex.
 * @param {Uint8Array} b
 * @returns {string}
 */
export function toHex(b) {
  let s = '';
  for (let i = 0; i < b.length; i++) s += hex2(b[i]);
  return s;
}

/**
 * fromHex parses lowercase or uppercase hex.
 * @param {string} s
 * @returns {Uint8Array}
 */
export function fromHex(s) {
  if (s.length % 2 !== 0 || /[^0-9a-fA-F]/.test(s)) throw new Error('crdt: invalid hex');
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
  return out;
}
