// Rich text in a Text (crdt/RICH.md; Go: rich.go): marks are pairs of
// invisible anchor items in the Text's sequence, embeds are one-position
// items holding a msgpack value. Both are text items told apart by
// item.rich, so that origins, lookups, validation and integration treat
// them like code points. The Text methods (format, insertEmbed, setBlock,
// toDelta) are in text.js; this file holds what they share with decoding
// and integration: mark schemas, mark values, the class order of siblings
// and the resolution of formatting into a delta.

import { unpack } from './pack.js';
import { RICH_END, RICH_START } from './item.js';
import { compareCodePoints, decodeUtf8, wellFormed } from './codec.js';
import { encodeValue } from './value.js';

/** EXPAND_NONE marks (links, comments) grow at neither end; encoded as 0. */
export const EXPAND_NONE = 'none';
/** EXPAND_AFTER marks (bold, italic) take text typed at their end; encoded as 1. */
export const EXPAND_AFTER = 'after';

/** The expand rule of each encoded value (RICH.md §R2); 2 and 3 are reserved. */
export const EXPAND_RULES = [EXPAND_NONE, EXPAND_AFTER];

/**
 * DEFAULT_MARK_SCHEMA gives the expand rule of the usual inline marks:
 * character styles grow at their end, links and comments do not grow.
 * Keys it does not list expand 'none'.
 * @type {Readonly<Record<string, 'none' | 'after'>>}
 */
export const DEFAULT_MARK_SCHEMA = Object.freeze({
  bold: EXPAND_AFTER,
  italic: EXPAND_AFTER,
  underline: EXPAND_AFTER,
  strike: EXPAND_AFTER,
  code: EXPAND_AFTER,
  link: EXPAND_NONE,
  comment: EXPAND_NONE,
});

/**
 * A Mark is what a start anchor carries; its end anchor is the next clock
 * of the same client.
 */
export class Mark {
  /**
   * @param {string} key
   * @param {Uint8Array | null} value msgpack; null removes the key
   * @param {number} seq Lamport number: one more than the greatest seen
   * @param {number} expand 0 (none) or 1 (after)
   */
  constructor(key, value, seq, expand) {
    this.key = key;
    this.value = value;
    this.seq = seq;
    this.expand = expand;
  }
}

/**
 * checkSchema returns schema as a map from key to encoded rule, or throws
 * a TypeError naming the first key whose rule is not 'none' or 'after'.
 * @param {Record<string, string>} schema
 * @returns {Map<string, number>}
 */
export function checkSchema(schema) {
  if (schema === null || typeof schema !== 'object') throw new TypeError('crdt: a mark schema is an object of expand rules');
  const out = new Map();
  for (const [k, r] of Object.entries(schema)) {
    const rule = EXPAND_RULES.indexOf(r);
    if (rule < 0) throw new TypeError(`crdt: expand rule ${JSON.stringify(r)} of mark ${JSON.stringify(k)} is not 'none' or 'after'`);
    out.set(k, rule);
  }
  return out;
}

/**
 * markValue checks a mark's key and returns its value in canonical msgpack
 * form, null for a removal (null or undefined).
 * @param {string} key
 * @param {unknown} value
 * @returns {Uint8Array | null}
 */
export function markValue(key, value) {
  if (typeof key !== 'string' || !wellFormed(key)) {
    throw new TypeError(`crdt: mark key ${typeof key === 'string' ? JSON.stringify(key) : typeof key} is not valid Unicode`);
  }
  if (value === null || value === undefined) return null;
  let b;
  try {
    b = encodeValue(value);
  } catch (e) {
    if (e instanceof TypeError) e.message = `crdt: mark value for ${JSON.stringify(key)}: ${e.message}`;
    throw e;
  }
  return b.length === 1 && b[0] === 0xc0 ? null : b;
}

/**
 * classOf orders siblings in the integration rule (RICH.md §R3): anchors
 * attached to the item before their gap come first (0: end anchors of
 * marks that expand none), code points and embeds next (1), anchors
 * attached to the item after their gap last (2: start anchors, end anchors
 * of marks that expand after).
 * @param {number} rich
 * @param {any} entry the item's entry (see Item.entry)
 */
export function classOf(rich, entry) {
  if (rich === RICH_START) return 2;
  if (rich === RICH_END) return entry.entry.expand === 1 ? 2 : 0;
  return 1;
}

/** beats reports whether mark a (of start anchor ia) wins over mark b (of ib) for the same key. */
function beats(a, ia, b, ib) {
  return a.seq > b.seq || (a.seq === b.seq && ia.client.id > ib.client.id);
}

/**
 * toDelta returns the Quill-shaped delta of the text whose first leaf is
 * first (RICH.md §R4, §R7): runs of text with equal formatting are one
 * op, each embed is one op. For each key, the mark covering a position
 * with the greatest (seq, client) gives its value; a removal gives none.
 * One walk over the items: a start anchor opens its mark, an end anchor
 * closes it and, when it closed the key's winner, elects another among
 * the marks of the key still open.
 * @param {any} first
 * @returns {Array<{insert: any, attributes?: Record<string, any>}>}
 */
export function toDelta(first) {
  const ops = []; // [insert, attrs, whether insert is text]
  const r = new Resolver();
  for (let lf = first; lf !== null; lf = lf.next) {
    for (const it of lf.items) {
      if (it.rich >= RICH_START) r.anchor(it);
      else if (!it.deleted) {
        const attrs = r.current();
        const last = ops[ops.length - 1];
        const text = it.rich === 0;
        if (text && last && last[2] && attrsEqual(last[1], attrs)) last[0] += it.content;
        else ops.push([text ? it.content : embedValue(it), attrs, text]);
      }
    }
  }
  return ops.map(([insert, attrs]) => (attrs.length === 0 ? { insert } : { insert, attributes: attributesOf(attrs) }));
}

/** embedValue returns the decoded value of embed item it (null once forgotten). */
export function embedValue(it) {
  return it.entry === null ? null : unpack(it.entry);
}

/**
 * A Resolver follows a walk over a Text's sequence, anchor by anchor, and
 * gives the formatting in effect (RICH.md §R4): for each key, the open
 * mark with the greatest (seq, client) wins. current() returns
 * [key, value bytes] pairs sorted by key; the array is never changed
 * afterwards.
 */
export class Resolver {
  constructor() {
    /** open start anchors by key @type {Map<string, any[]>} */
    this.open = new Map();
    /** the winning start anchor of each key @type {Map<string, any>} */
    this.winner = new Map();
    this.dirty = false;
    /** @type {Array<[string, Uint8Array]>} */
    this.attrs = [];
  }

  /** anchor takes the start or end anchor it into account. */
  anchor(it) {
    const start = it.rich === RICH_START ? it : it.entry;
    const key = start.entry.key;
    let os = this.open.get(key);
    if (!os) this.open.set(key, (os = []));
    if (it === start) os.push(it);
    else if (os.includes(start)) os.splice(os.indexOf(start), 1);
    else return; // an end whose start is not open closes nothing
    let w;
    for (const o of os) if (w === undefined || beats(o.entry, o, w.entry, w)) w = o;
    if (w !== this.winner.get(key)) {
      if (w === undefined) this.winner.delete(key);
      else this.winner.set(key, w);
      this.dirty = true;
    }
  }

  /** current returns the formatting in effect, without removals. */
  current() {
    if (this.dirty) {
      const a = [];
      for (const [k, w] of this.winner) if (w.entry.value !== null) a.push([k, w.entry.value]);
      a.sort((x, y) => compareCodePoints(x[0], y[0]));
      this.attrs = a;
      this.dirty = false;
    }
    return this.attrs;
  }
}

/** bytesEqual reports whether two msgpack values (null for none) are the same bytes. */
export function bytesEqual(a, b) {
  if (!a || !b) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** valueOf returns the value of key in resolved attributes, null if absent. */
export function valueOf(attrs, key) {
  for (const [k, v] of attrs) if (k === key) return v;
  return null;
}

/** attrsEqual reports whether two resolved attribute lists (or lists of changes, with null values) are equal. */
export function attrsEqual(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i][0] !== b[i][0] || !bytesEqual(a[i][1], b[i][1])) return false;
  return true;
}

/**
 * changedAttrs returns the keys whose value differs between resolved
 * attribute lists was and now, with their value now (null when removed),
 * sorted by key.
 */
export function changedAttrs(was, now) {
  const out = now.filter(([k, v]) => !bytesEqual(valueOf(was, k), v));
  for (const [k] of was) if (valueOf(now, k) === null) out.push([k, null]);
  return out.sort((a, b) => compareCodePoints(a[0], b[0]));
}

/** attributesOf returns the attributes object of a delta op (null values kept), or undefined when there are none. */
export function attributesOf(as) {
  if (as.length === 0) return undefined;
  const out = {};
  for (const [k, v] of as) out[k] = v === null ? null : decodeValue(v);
  return out;
}

/**
 * decodeValue decodes a msgpack value. The usual mark values (true, a
 * short string, a small integer) are read here: a delta holds one per
 * attribute of every op, and the general decoder's set-up per call costs
 * more than the value.
 * @param {Uint8Array} b
 */
function decodeValue(b) {
  const c = b[0];
  if (b.length === 1) {
    if (c === 0xc3) return true;
    if (c <= 0x7f) return c;
  } else if ((c & 0xe0) === 0xa0 && b.length === 1 + (c & 0x1f)) {
    const s = decodeUtf8(b, 1, b.length);
    if (s !== null) return s;
  }
  return unpack(b);
}
