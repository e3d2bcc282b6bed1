// Rich text in a Text (crdt/RICH.md; Go: rich.go): marks are pairs of
// invisible anchor items in the Text's sequence, embeds are one-position
// items holding a msgpack value. Both are text items told apart by
// item.rich, so that origins, lookups, validation and integration treat
// them like code points. The Text methods (format, insertEmbed, setBlock,
// toDelta) are in text.js; this file holds what they share with decoding
// and integration: mark schemas, mark values, the class order of siblings
// and the resolution of formatting into a delta.

import { decode } from '@msgpack/msgpack';
import { RICH_END, RICH_START } from './item.js';
import { compareCodePoints, wellFormed } from './codec.js';
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

/** sameAttrs reports whether two resolved attribute lists ([key, value bytes] sorted by key) are equal. */
function sameAttrs(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i][1];
    const y = b[i][1];
    if (a[i][0] !== b[i][0] || x.length !== y.length) return false;
    for (let k = 0; k < x.length; k++) if (x[k] !== y[k]) return false;
  }
  return true;
}

/** decodeAttrs returns the attributes object of a delta op, or undefined when there are none. */
function decodeAttrs(as) {
  if (as.length === 0) return undefined;
  const out = {};
  for (const [k, v] of as) out[k] = decode(v);
  return out;
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
  const ops = [];
  /** @type {Array<[string, Uint8Array]>} the formatting in effect, sorted by key */
  let attrs = [];
  let runAttrs = attrs;
  let run = '';
  /** open start anchors by key, in the order they were passed @type {Map<string, any[]>} */
  const openByKey = new Map();
  /** the winning start anchor of each key @type {Map<string, any>} */
  const winner = new Map();
  let dirty = false;
  const flush = () => {
    if (run.length > 0) {
      ops.push(op(run, decodeAttrs(runAttrs)));
      run = '';
    }
  };
  for (let lf = first; lf !== null; lf = lf.next) {
    for (const it of lf.items) {
      if (it.rich === RICH_START) {
        const m = it.entry;
        let os = openByKey.get(m.key);
        if (os === undefined) openByKey.set(m.key, (os = []));
        os.push(it);
        const w = winner.get(m.key);
        if (w === undefined || beats(m, it, w.entry, w)) {
          winner.set(m.key, it);
          dirty = true;
        }
      } else if (it.rich === RICH_END) {
        const start = it.entry;
        const key = start.entry.key;
        const os = openByKey.get(key);
        if (os !== undefined) {
          const k = os.indexOf(start);
          if (k >= 0) os.splice(k, 1);
        }
        if (winner.get(key) === start) {
          winner.delete(key);
          for (const o of os) {
            const w = winner.get(key);
            if (w === undefined || beats(o.entry, o, w.entry, w)) winner.set(key, o);
          }
          dirty = true;
        }
      } else if (!it.deleted) {
        if (dirty) {
          attrs = [];
          for (const [k, w] of winner) if (w.entry.value !== null) attrs.push([k, w.entry.value]);
          attrs.sort((a, b) => compareCodePoints(a[0], b[0]));
          dirty = false;
        }
        if (it.rich !== 0) {
          flush();
          ops.push(op(it.entry === null ? null : decode(it.entry), decodeAttrs(attrs)));
          continue;
        }
        if (run.length > 0 && !sameAttrs(attrs, runAttrs)) flush();
        runAttrs = attrs;
        run += it.content;
      }
    }
  }
  flush();
  return ops;
}

/** op returns a delta op, with attributes only when there are some. */
function op(insert, attributes) {
  return attributes === undefined ? { insert } : { insert, attributes };
}
