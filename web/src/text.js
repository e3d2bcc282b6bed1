// Text: a named sequence of Unicode code points shared by all replicas of a
// Doc (Go: text.go). The CRDT counts code points (clocks, origins, the
// wire); this API counts UTF-16 units, as JavaScript strings do, and
// converts at its edge.
//
// Storage mirrors the Go design (tree.go): run-length items in the leaves
// of a B-tree (leaves of up to 64 items, nodes of up to 64 children, each
// knowing its visible length, leaves chained in document order), so that a
// position is found by one descent and a split renumbers only its parent's
// children, plus a cursor at the last edit so that sequential typing costs
// O(1). Visible lengths here are in UTF-16 units:
// positions given by the API need no conversion, and only the item holding
// a position converts its offset to code points, when it holds a surrogate
// pair at all.

import { Item, KIND_TEXT, RICH_EMBED, RICH_END, RICH_NONE, RICH_START } from './item.js';
import { unitsOf } from './codec.js';
import { compose, notify } from './events.js';
import {
  DEFAULT_MARK_SCHEMA,
  EXPAND_RULES,
  Mark,
  Resolver,
  attributesOf,
  attrsEqual,
  bytesEqual,
  changedAttrs,
  checkSchema,
  classOf,
  embedValue,
  markValue,
  toDelta as richDelta,
  valueOf,
} from './rich.js';
import { encodeValue } from './value.js';

/** EMBED is what an embed shows in toString: the object replacement character. */
const EMBED = '\uFFFC';

/**
 * MAX_RUN is the most code points typing adds to one item: past it, typing
 * on starts a new item (with the same origins, so the update's bytes are
 * the same). A local update that starts inside an item slices the item's
 * text, which costs its length; without the bound, every keystroke after
 * a long run (a paste, or a long stretch of typing) would cost as much.
 */
const MAX_RUN = 1024;

/**
 * The most items a leaf holds before it splits in two, and the most
 * children a node holds. Tests lower them (setFanout) to build deep trees
 * out of few items.
 */
let MAX_LEAF = 64;
let MAX_KIDS = 64;
/** KEY_BITS is the bits of a leaf key per level of the tree (leafKey). */
let KEY_BITS = 32 - Math.clz32(MAX_KIDS);

/** setFanout sets the most items of a leaf and children of a node, for tests; it returns the old values. */
export function setFanout(leaf, kids) {
  const old = [MAX_LEAF, MAX_KIDS];
  MAX_LEAF = leaf;
  MAX_KIDS = kids;
  KEY_BITS = 32 - Math.clz32(MAX_KIDS);
  return old;
}

/** A Leaf is a block of consecutive items of a Text. */
class Leaf {
  /**
   * @param {Text} t
   * @param {Node} parent
   */
  constructor(t, parent) {
    /** @type {Item[]} */
    this.items = [];
    /**
     * vis holds the visible UTF-16 units of each item, beside items: a
     * position lookup reads this one array instead of every item it passes
     * (each an object of its own, and a cache miss in a large text).
     * @type {number[]}
     */
    this.vis = [];
    this.visible = 0; // UTF-16 units of the live items
    this.parent = parent; // never null: the root is always a Node
    this.pidx = 0; // index in parent.leaves
    /** prev and next chain the leaves in document order. @type {Leaf | null} */
    this.prev = null;
    /** @type {Leaf | null} */
    this.next = null;
    this.t = t;
    /** minLeft bounds the left origins of the items, for the conflict scan. @type {Bound} */
    this.minLeft = UNKNOWN;
    /** The anchors among items, in order; listed again when anchorsStale (leafAnchors). @type {Item[]} */
    this.anchors = NO_ITEMS;
    this.anchorsStale = false;
    /**
     * opens are the start anchors of the marks open where the leaf starts,
     * valid while opensGen equals the text's anchorGen (Text.opensAt).
     * @type {Item[]}
     */
    this.opens = NO_ITEMS;
    this.opensGen = 0;
  }
}

/** An empty list of items, shared. */
const NO_ITEMS = [];

/**
 * A Node is an inner node of a Text's tree: the nodes of the lowest level
 * hold leaves, the others hold nodes; all leaves are at the same depth.
 */
class Node {
  /** @param {Node | null} parent */
  constructor(parent) {
    this.parent = parent; // null for the root
    this.pidx = 0; // index in parent.kids
    this.visible = 0; // UTF-16 units in the subtree
    /** @type {Leaf[] | null} */
    this.leaves = null;
    /** @type {Node[] | null} */
    this.kids = null;
    /** counts holds the visible units of each of leaves or kids, beside them (see Leaf.vis). @type {number[]} */
    this.counts = [];
    /** minLeft bounds the left origins of the items of the subtree. @type {Bound} */
    this.minLeft = UNKNOWN;
  }
}

/**
 * leafKey orders leaves: of two leaves, the one that comes first in the
 * text has the smaller key. It is the path from the root, KEY_BITS per
 * level, so it costs the depth of the tree; a node other than the root
 * holds at least half its most children, so the key stays an exact integer
 * for any tree that fits in memory.
 * @param {Leaf} lf
 */
function leafKey(lf) {
  let k = lf.pidx;
  let mul = 1 << KEY_BITS;
  for (let n = lf.parent; n.parent !== null; n = n.parent) {
    k += n.pidx * mul;
    mul *= 1 << KEY_BITS;
  }
  return k;
}

/** lastLeaf returns the last leaf of n's subtree. @param {Node} n */
function lastLeaf(n) {
  while (n.leaves === null) n = n.kids[n.kids.length - 1];
  return n.leaves[n.leaves.length - 1];
}

/** holdsLeaf reports whether lf (null for none) is in n's subtree. */
function holdsLeaf(n, lf) {
  if (lf === null) return false;
  for (let p = lf.parent; p !== null; p = p.parent) if (p === n) return true;
  return false;
}

/**
 * A Bound is a code point at or before the left origin of every item of a
 * leaf or of a group of leaves: the conflict scan passes over them without
 * looking at their items when the bound lies right of the new run's left
 * origin. Code points never change order, so a bound stays one while items
 * only leave. state is UNKNOWN_STATE (to be computed from the items),
 * AT (the code point (c, k); c null is before all) or EMPTY (no items);
 * at is the item that held (c, k) when last looked up (see holder).
 * @typedef {{state: number, c: any, k: number, at: Item | null}} Bound
 */
const UNKNOWN_STATE = 0;
const AT = 1;
const EMPTY_STATE = 2;
/** @type {Bound} */
const UNKNOWN = { state: UNKNOWN_STATE, c: null, k: 0, at: null };
/** @type {Bound} */
const EMPTY = { state: EMPTY_STATE, c: null, k: 0, at: null };

/** scanOptions.skips is cleared by tests, to check the skipping scan against the plain one. */
export const scanOptions = { skips: true };

/** isLow reports whether UTF-16 unit c is a low (trailing) surrogate. */
function isLow(c) {
  return c >= 0xdc00 && c <= 0xdfff;
}

/**
 * cpCount returns the number of code points of s, or -1 if s holds a lone
 * surrogate and so is not valid Unicode.
 * @param {string} s
 */
function cpCount(s) {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c > 0xdbff || !isLow(s.charCodeAt(i + 1))) return -1;
    n--;
    i++;
  }
  return n;
}

/**
 * cpsIn returns the number of code points in the first u UTF-16 units of
 * the item's content.
 * @param {Item} it
 * @param {number} u
 */
function cpsIn(it, u) {
  const s = it.content;
  if (s.length === it.length) return u;
  let n = 0;
  for (let i = 0; i < u; i++, n++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) i++;
  }
  return n;
}

/**
 * insertAt inserts x at index i of a (i ≤ a.length). It is splice(i, 0, x)
 * without the array of removed elements splice allocates, once per item a
 * text ever places.
 * @template T
 * @param {T[]} a
 * @param {number} i
 * @param {T} x
 */
function insertAt(a, i, x) {
  let j = a.length;
  a.push(x);
  for (; j > i; j--) a[j] = a[j - 1];
  a[i] = x;
}

/**
 * grows reports whether a live run of client c at c.next with right origin
 * (rc, rk), placed right after item it, continues it's run, so that it
 * grows it instead of becoming an item of its own (what typing does).
 * @param {Item | null} it
 */
function grows(it, c, rc, rk) {
  return (
    it !== null &&
    it.length < MAX_RUN &&
    it.rich === RICH_NONE &&
    it.client === c &&
    it.clock + it.length === c.next &&
    !it.deleted &&
    it.rightClient === rc &&
    it.rightClock === rk
  );
}

/** newRun returns a new item of the plain run of n code points of c at c.next with those origins (content null: deleted). */
function newRun(c, n, lc, lk, rc, rk, content) {
  const it = new Item(c.next, n, c, KIND_TEXT);
  it.leftClient = lc;
  it.leftClock = lk;
  it.rightClient = rc;
  it.rightClock = rk;
  if (content === null) it.deleted = true;
  else it.content = content;
  return it;
}

/**
 * cut cuts item it after n code points (0 < n < it.length) and returns the
 * second piece, which follows it in clock order and, once placed, in the
 * text; it has the first piece's last code point as left origin.
 * @param {Item} it
 * @param {number} n
 * @returns {Item}
 */
function cut(it, n) {
  const nx = new Item(it.clock + n, it.length - n, it.client, KIND_TEXT);
  nx.next = it.next;
  nx.leftClient = it.client;
  nx.leftClock = it.clock + n - 1;
  nx.rightClient = it.rightClient;
  nx.rightClock = it.rightClock;
  nx.deleted = it.deleted;
  if (!it.deleted) {
    const s = it.content;
    const u = s.length === it.length ? n : unitsOf(s, 0, n);
    nx.content = s.slice(u);
    it.content = s.slice(0, u);
  }
  it.next = nx;
  it.length = n;
  return nx;
}

/** indexIn returns the index of it in its leaf. @param {Item} it */
function indexIn(it) {
  const i = it.leaf.items.indexOf(it);
  if (i < 0) throw new Error('crdt: item missing from its leaf');
  return i;
}

/**
 * absorbs reports whether deleted item b can join deleted item a: b
 * follows a in the text and in clock order, and continues a's run.
 * @param {Item} a
 * @param {Item} b
 */
function absorbs(a, b) {
  if (
    !a.deleted ||
    !b.deleted ||
    a.rich !== RICH_NONE ||
    b.rich !== RICH_NONE ||
    a.client !== b.client ||
    a.clock + a.length !== b.clock ||
    b.leftClient !== a.client ||
    b.leftClock !== b.clock - 1 ||
    b.rightClient !== a.rightClient ||
    b.rightClock !== a.rightClock
  ) {
    return false;
  }
  // b must follow a in a's chain, or be the client's newest head.
  const heads = b.client.heads;
  return a.next === b || (a.next === null && heads[heads.length - 1] === b);
}

/**
 * A Text is a named sequence of Unicode code points shared by all replicas
 * of a Doc. Get one with `doc.getText(name)`.
 *
 * Positions and lengths in this API count UTF-16 code units, like
 * JavaScript strings; the CRDT and the wire count code points and the Text
 * converts at its edge, so a surrogate pair (an emoji, say) is one code
 * point for the CRDT and is never split:
 *
 * - `insert` at an index that falls between the two units of a surrogate
 *   pair inserts before the pair (the index is rounded down);
 * - `delete` of a range that starts or ends inside a surrogate pair deletes
 *   the whole pair (the range is widened to whole code points).
 *
 * Grapheme clusters (ZWJ sequences, combining marks) are several code
 * points and may be split like any other text: that is the editor's call.
 */
export class Text {
  /**
   * @param {import('./doc.js').Doc} doc
   * @param {string} name
   */
  constructor(doc, name) {
    this.doc = doc;
    /** The text's name in its Doc. @type {string} */
    this.name = name;
    /** The kind of the type in the types table of an update (FORMAT.md §4.1). */
    this.typeKind = 0;
    /** The top of the tree of items. @type {Node} */
    this.root = new Node(null);
    const lf = new Leaf(this, this.root);
    this.root.leaves = [lf];
    this.root.counts = [0];
    /** The first and last leaves. @type {Leaf} */
    this.first = lf;
    /** @type {Leaf} */
    this.last = lf;
    this.len = 0; // visible UTF-16 units
    // The cursor: leaf cur (null for none) starts at visible position curPos.
    /** @type {Leaf | null} */
    this.cur = null;
    this.curPos = 0;
    /** astral is set once the text has held a surrogate pair: until then no index can fall inside one. */
    this.astral = false;
    /** @type {Array<(ev: import('./events.js').TextEvent) => void>} */
    this.observers = [];
    /** Positional changes recorded in the current transaction, when observed. */
    this.changes = [];
    // Scratch results of lookups (leaf, index, offset), to avoid allocating.
    /** @type {Leaf} */
    this._lf = lf;
    this._i = 0;
    this._off = 0;
    this._pl = 0;
    this._pi = 0;
    this._po = 0;
    /** The items left and right of the gap gapAt found (null for the ends). @type {Item | null} */
    this._left = null;
    /** @type {Item | null} */
    this._right = null;
    // Rich text (rich.js): the greatest mark seq integrated, and the
    // expand rules of keys for local marks (null: the default schema).
    this.maxSeq = 0;
    /** @type {Map<string, number> | null} */
    this.schema = null;
    /** rich is set once the text has held an anchor or an embed: its events then carry attributes and embeds. */
    this.rich = false;
    /** The anchors placed during a transaction, when observed. @type {Set<Item>} */
    this.newAnchors = new Set();
    /** anchorGen counts the anchors placed, so that the marks open at the start of a leaf are cached until the next (opensAt). */
    this.anchorGen = 0;
  }

  /** The length of the text in UTF-16 code units, like `toString().length`. */
  get length() {
    return this.len;
  }

  /**
   * toString returns the text's content.
   * @returns {string}
   */
  toString() {
    const parts = [];
    for (let lf = this.first; lf !== null; lf = lf.next) {
      for (const it of lf.items) if (!it.deleted) parts.push(it.content);
    }
    return parts.join('');
  }

  /**
   * insert inserts s at UTF-16 position index and returns the update that
   * describes the edit, to send to other replicas, or null inside
   * `doc.transact` (which returns the combined update) and for an empty s.
   * An index inside a surrogate pair is rounded down to the pair's start.
   * @param {number} index 0 ≤ index ≤ length
   * @param {string} s valid Unicode: a lone surrogate is refused
   * @returns {Uint8Array | null}
   * @throws {RangeError} if index is out of range
   * @throws {TypeError} if s is not a string or holds a lone surrogate
   */
  insert(index, s) {
    if (typeof s !== 'string') throw new TypeError('crdt: insert of a non-string');
    if (!Number.isInteger(index) || index < 0 || index > this.len) {
      throw new RangeError(`crdt: position out of range: insert at ${index} in a text of length ${this.len}`);
    }
    const n = cpCount(s);
    if (n < 0) throw new TypeError('crdt: insert of a string with a lone surrogate (not valid Unicode)');
    if (n === 0) return null;
    const d = this.doc;
    if (d.txn !== null) {
      this._insert(index, s, n);
      return null;
    }
    d.begin(true);
    try {
      this._insert(index, s, n);
    } catch (e) {
      d.commit();
      throw e;
    }
    return d.commit();
  }

  /**
   * delete deletes length UTF-16 units from index and returns the update
   * that describes the edit, or null inside `doc.transact` and for a zero
   * length. A range that starts or ends inside a surrogate pair is widened
   * to delete the whole pair.
   * @param {number} index
   * @param {number} length index + length ≤ this.length
   * @returns {Uint8Array | null}
   * @throws {RangeError} if the range is out of range
   */
  delete(index, length) {
    if (
      !Number.isInteger(index) ||
      !Number.isInteger(length) ||
      index < 0 ||
      length < 0 ||
      index > this.len ||
      length > this.len - index
    ) {
      throw new RangeError(`crdt: position out of range: delete of ${length} at ${index} in a text of length ${this.len}`);
    }
    if (length === 0) return null;
    const d = this.doc;
    if (d.txn !== null) {
      this._delete(index, length);
      return null;
    }
    d.begin(true);
    try {
      this._delete(index, length);
    } catch (e) {
      d.commit();
      throw e;
    }
    return d.commit();
  }

  // -------------------------------------------------------------------------
  // Rich text (RICH.md): marks, embeds, block attributes

  /**
   * format applies key = value to the length UTF-16 units from index and
   * returns the update, or null inside `doc.transact` and for a zero
   * length. A null (or undefined) value removes the key from those
   * positions. The value is stored in canonical msgpack form, like a Map
   * value; the mark's expand rule comes from the Text's schema
   * (setMarkSchema, DEFAULT_MARK_SCHEMA). A range that starts or ends
   * inside a surrogate pair is widened to the whole pair.
   *
   * The mark is anchored to characters, not positions (RICH.md §R2–R4):
   * text typed at the end of a mark that expands 'after' (bold) takes it,
   * text typed at the end of one that expands 'none' (a link) does not;
   * of concurrent marks of one key, the one with the greater (seq, client)
   * wins on the characters both cover.
   * @param {number} index
   * @param {number} length index + length ≤ this.length
   * @param {string} key valid Unicode
   * @param {unknown} value anything SharedMap.set accepts; null removes the key
   * @returns {Uint8Array | null}
   * @throws {RangeError} if the range is out of range
   * @throws {TypeError} for a key that is not a valid string or a value with no canonical encoding
   */
  format(index, length, key, value) {
    if (
      !Number.isInteger(index) ||
      !Number.isInteger(length) ||
      index < 0 ||
      length < 0 ||
      index > this.len ||
      length > this.len - index
    ) {
      throw new RangeError(`crdt: position out of range: format of ${length} at ${index} in a text of length ${this.len}`);
    }
    const v = markValue(key, value);
    if (length === 0) return null;
    const rule = this.expandRule(key);
    return this.doc.local(() => {
      if (this.astral) {
        // Widen the range to whole code points.
        if (this.insideAt(index)) {
          index--;
          length++;
        }
        if (index + length < this.len && this.insideAt(index + length)) length++;
      }
      this._format(index, length, key, v, rule);
    });
  }

  /**
   * insertEmbed inserts one position holding value (an image, a mention)
   * at index and returns the update, or null inside `doc.transact`. The
   * value is stored in canonical msgpack form; toString shows the embed as
   * U+FFFC and toDelta as `{insert: value}`. An index inside a surrogate
   * pair is rounded down.
   * @param {number} index 0 ≤ index ≤ length
   * @param {unknown} value anything SharedMap.set accepts
   * @returns {Uint8Array | null}
   * @throws {RangeError} if index is out of range
   * @throws {TypeError} for a value with no canonical encoding
   */
  insertEmbed(index, value) {
    if (!Number.isInteger(index) || index < 0 || index > this.len) {
      throw new RangeError(`crdt: position out of range: insert at ${index} in a text of length ${this.len}`);
    }
    let b;
    try {
      b = encodeValue(value);
    } catch (e) {
      if (e instanceof TypeError) e.message = `crdt: embed value: ${e.message}`;
      throw e;
    }
    return this.doc.local(() => {
      this.gapAt(index);
      const left = this._left;
      const right = this._right;
      this.placeRich(this.doc.me, left, right, this._lf, this._i, EMBED, RICH_EMBED, b);
    });
  }

  /**
   * setBlock sets block attribute key (heading level, list kind, …) of the
   * block holding index to value, null removing it, and returns the update
   * (null inside `doc.transact`). As in Quill, a block's attributes are
   * carried by the newline that ends it: setBlock formats the first "\n"
   * at or after index with a mark that never expands, so text typed in the
   * block does not take it.
   * @param {number} index 0 ≤ index ≤ length
   * @param {string} key
   * @param {unknown} value
   * @returns {Uint8Array | null}
   * @throws {RangeError} if index is out of range or no newline follows it
   * @throws {TypeError} for a key that is not a valid string or a value with no canonical encoding
   */
  setBlock(index, key, value) {
    if (!Number.isInteger(index) || index < 0 || index > this.len) {
      throw new RangeError(`crdt: position out of range: block at ${index} in a text of length ${this.len}`);
    }
    const nl = this.newlineFrom(index);
    if (nl < 0) throw new RangeError(`crdt: position out of range: no newline ends the block at ${index}`);
    const v = markValue(key, value);
    return this.doc.local(() => this._format(nl, 1, key, v, 0));
  }

  /**
   * setMarkSchema sets the expand rules of mark keys for later calls of
   * format: 'after' (the mark takes text typed at its end) or 'none'. Keys
   * it does not list take DEFAULT_MARK_SCHEMA's rule, or 'none'. A rule is
   * stored with each mark, so replicas with different schemas still agree
   * on marks already made.
   * @param {Record<string, 'none' | 'after'>} schema
   * @throws {TypeError} for a rule other than 'none' and 'after'
   */
  setMarkSchema(schema) {
    this.schema = checkSchema(schema);
  }

  /**
   * toDelta returns the text as a Quill-shaped delta of inserts: runs of
   * text with equal formatting are one op, each embed is one op whose
   * insert is its decoded value; `attributes` is absent when empty.
   * @returns {Array<{insert: any, attributes?: Record<string, any>}>}
   */
  toDelta() {
    return richDelta(this.first);
  }

  /**
   * walkRange calls fn(it, lo, hi, p, attrs) for each live item overlapping
   * the n UTF-16 units from pos: the part [lo, hi) of it, which starts at
   * p, with its formatting. It walks from the start of the text, since
   * marks may open anywhere before pos.
   */
  walkRange(pos, n, fn) {
    const end = pos + n;
    const r = new Resolver();
    let p = 0;
    for (let lf = this.first; lf !== null && p < end; lf = lf.next) {
      for (const it of lf.items) {
        if (p >= end) break;
        if (it.rich >= RICH_START) r.anchor(it);
        else if (!it.deleted) {
          const v = it.content.length;
          if (p + v > pos) fn(it, Math.max(pos, p), Math.min(end, p + v), p, r.current());
          p += v;
        }
      }
    }
  }

  /** expandRule returns the encoded expand rule of key under the Text's schema. */
  expandRule(key) {
    const r = this.schema?.get(key);
    if (r !== undefined) return r;
    return Object.hasOwn(DEFAULT_MARK_SCHEMA, key) ? EXPAND_RULES.indexOf(DEFAULT_MARK_SCHEMA[key]) : 0;
  }

  /**
   * _format places a mark's two anchors around the n UTF-16 units (whole
   * code points) from pos (RICH.md §R3): the start anchor right before the
   * first formatted item; the end anchor right before the next visible
   * item when the mark expands after (the whole gap is inside), right
   * after the last formatted item when it does not.
   */
  _format(pos, n, key, value, rule) {
    if (this.doc.txn.capture) this.captureFormat(this.doc.txn.capture, pos, n, key, value, rule);
    const c = this.doc.me;
    const mark = new Mark(key, value, this.maxSeq + 1, rule);
    this.maxSeq = mark.seq;
    this.splitAt(pos);
    let lf = this._lf;
    let i = this._i;
    let right = this._right;
    let left = this.prev(lf, i);
    const start = this.placeRich(c, left, right, lf, i, '', RICH_START, mark);
    if (rule === 1) {
      this.splitAt(pos + n);
      lf = this._lf;
      i = this._i;
      right = this._right;
      left = this.prev(lf, i);
    } else {
      // The last formatted code point, as an item of its own.
      this.locate(pos + n - 1);
      left = this._lf.items[this._i];
      let off = this._off;
      if (off > 0 && left.content.length !== left.length && isLow(left.content.charCodeAt(off))) off--;
      if (off > 0) left = this.split(left, cpsIn(left, off));
      if (left.length > 1) this.split(left, 1);
      lf = left.leaf;
      i = indexIn(left) + 1;
      right = this.nextFrom(lf, i);
    }
    this.placeRich(c, left, right, lf, i, '', RICH_END, start);
  }

  /**
   * captureFormat records for undo the values key has on the n units from
   * pos, which a mark setting it to value with rule is about to cover,
   * skipping the characters that already have value (Go: undoCapture.formatted).
   */
  captureFormat(capture, pos, n, key, value, rule) {
    this.walkRange(pos, n, (it, lo, hi, p, attrs) => {
      const prev = valueOf(attrs, key);
      if (bytesEqual(prev, value)) return;
      const from = cpsIn(it, lo - p);
      const to = cpsIn(it, hi - p);
      const clock = it.clock + from;
      // A run goes on across items: where one replica's items are split
      // is not another's, and the undo's marks must not depend on it.
      const last = capture.formats[capture.formats.length - 1];
      if (last !== undefined && last.text === this && last.client === it.client.id && last.clock + last.length === clock &&
        last.key === key && last.rule === rule && bytesEqual(last.prev, prev) && bytesEqual(last.set, value)) {
        last.length += to - from;
        return;
      }
      capture.formats.push({ text: this, client: it.client.id, clock, length: to - from, key, prev, set: value, rule });
    });
  }

  /** placeRich places an embed or anchor of client c at index i of lf, between left and right (null for the ends). */
  placeRich(c, left, right, lf, i, content, rich, entry) {
    let lc = null;
    let lk = 0;
    if (left !== null) {
      lc = left.client;
      lk = left.clock + left.length - 1;
    }
    let rc = null;
    let rk = 0;
    if (right !== null) {
      rc = right.client;
      rk = right.clock;
    }
    return this.place(c, 1, left, lc, lk, rc, rk, lf, i, content, rich, entry);
  }

  /**
   * splitAt leaves in _lf, _i and _right the visible item at UTF-16
   * position pos (on a code point boundary), split so that it starts
   * there, or the end of the text (_right null) at this.length.
   */
  splitAt(pos) {
    if (pos === this.len) {
      this._lf = this.last;
      this._i = this.last.items.length;
      this._right = null;
      return;
    }
    this.locate(pos);
    let it = this._lf.items[this._i];
    if (this._off > 0) {
      it = this.split(it, cpsIn(it, this._off));
      this._lf = it.leaf;
      this._i = indexIn(it);
    }
    this._right = it;
  }

  /** newlineFrom returns the UTF-16 position of the first visible "\n" at or after pos, or -1. */
  newlineFrom(pos) {
    if (pos === this.len) return -1;
    this.locate(pos);
    const first = this._lf.items[this._i];
    let p = pos - this._off;
    for (let lf = this._lf, i = this._i; lf !== null; lf = lf.next, i = 0) {
      for (; i < lf.items.length; i++) {
        const it = lf.items[i];
        if (it.deleted) continue;
        const k = it.content.indexOf('\n', it === first ? pos - p : 0);
        if (k >= 0) return p + k;
        p += it.content.length;
      }
    }
    return -1;
  }

  /**
   * observe calls fn after every transaction that changed the text, local
   * or remote, with a Quill-style delta in UTF-16 units; it returns a
   * function that stops the calls.
   * @param {(ev: import('./events.js').TextEvent) => void} fn
   * @returns {() => void}
   */
  observe(fn) {
    if (typeof fn !== 'function') throw new TypeError('crdt: observe needs a function');
    const o = (ev) => fn(ev); // a fresh identity, so the same fn may observe twice
    this.observers.push(o);
    return () => {
      const i = this.observers.indexOf(o);
      if (i >= 0) this.observers.splice(i, 1);
    };
  }

  /**
   * relativePosition returns a position that follows concurrent edits:
   * anchored to the ID (client, clock) of the character at index when
   * assoc ≥ 0 (the position stays just before that character), or of the
   * character before index when assoc < 0 (it stays just after it). At the
   * end (assoc ≥ 0) or the start (assoc < 0) of the text there is no such
   * character, and the anchor is the end or the start itself. An index
   * inside a surrogate pair is rounded down. The result is plain data
   * (JSON and msgpack), meant for presence.
   * @param {number} index UTF-16 position, 0 ≤ index ≤ length
   * @param {number} [assoc] ≥ 0 (default): before the next character; < 0: after the previous one
   * @returns {{client: number | null, clock: number | null, assoc: number}}
   * @throws {RangeError} if index is out of range
   */
  relativePosition(index, assoc = 0) {
    if (!Number.isInteger(index) || index < 0 || index > this.len) {
      throw new RangeError(`crdt: position out of range: ${index} in a text of length ${this.len}`);
    }
    if (typeof assoc !== 'number' || Number.isNaN(assoc)) throw new TypeError('crdt: assoc must be a number');
    assoc = assoc < 0 ? -1 : 0;
    if (index < this.len && this.astral && this.insideAt(index)) index--;
    let at = index; // the anchor character's position
    if (assoc < 0) {
      if (index === 0) return { client: null, clock: null, assoc };
      at = index - 1;
      if (this.astral && this.insideAt(at)) at--;
    } else if (index === this.len) {
      return { client: null, clock: null, assoc };
    }
    this.locate(at);
    const it = this._lf.items[this._i];
    return { client: it.client.id, clock: it.clock + cpsIn(it, this._off), assoc };
  }

  /**
   * absolutePosition returns the UTF-16 index a relative position stands
   * for now, or null when this replica does not hold its anchor (yet) or
   * the anchor is not a character of this text. A deleted anchor resolves
   * to where it was.
   * @param {{client: number | null, clock: number | null, assoc?: number}} pos
   * @returns {number | null}
   */
  absolutePosition(pos) {
    if (pos === null || typeof pos !== 'object') return null;
    const after = typeof pos.assoc === 'number' && pos.assoc < 0;
    if (pos.client === null || pos.client === undefined) return after ? 0 : this.len;
    const c = this.doc.clients.get(pos.client);
    const clock = pos.clock;
    if (c === undefined || !Number.isInteger(clock) || clock < 0 || clock >= c.next) return null;
    const it = c.find(clock);
    if (it.kind !== KIND_TEXT || it.leaf === null || it.leaf.t !== this) return null;
    const start = this.posOf(it);
    if (it.deleted) return start;
    const s = it.content;
    const k = clock - it.clock; // code points before the anchor in the item
    let off = s.length === it.length ? k : unitsOf(s, 0, k);
    if (after) off += s.charCodeAt(off) >= 0xd800 && s.charCodeAt(off) <= 0xdbff ? 2 : 1;
    return start + off;
  }

  // -------------------------------------------------------------------------
  // Finding positions

  /**
   * seekLeaf returns the leaf holding visible position pos (pos < len) and
   * leaves the cursor there (curPos is where it starts). Typing is mostly
   * sequential, so it first looks at the cursor's leaf and its neighbours.
   * @returns {Leaf}
   */
  seekLeaf(pos) {
    let lf = this.cur;
    // Only a position within a leaf's width of the cursor's leaf is worth
    // the walk: each neighbour looked at is another miss for a far one.
    const w = lf === null ? 0 : Math.max(lf.visible, 64);
    if (lf !== null && pos >= this.curPos - w && pos < this.curPos + lf.visible + w) {
      let start = this.curPos;
      for (let k = 0; k < 4 && lf !== null; k++) {
        if (pos < start) {
          lf = lf.prev;
          if (lf !== null) start -= lf.visible;
        } else if (pos >= start + lf.visible) {
          start += lf.visible;
          lf = lf.next;
        } else {
          this.cur = lf;
          this.curPos = start;
          return lf;
        }
      }
    }
    let n = this.root;
    let start = 0;
    for (;;) {
      const cs = n.counts;
      let j = 0;
      while (j < cs.length && pos >= start + cs[j]) start += cs[j++];
      if (j === cs.length) throw new Error('crdt: tree visible counts are wrong');
      if (n.leaves !== null) {
        const l = n.leaves[j];
        this.cur = l;
        this.curPos = start;
        return l;
      }
      n = n.kids[j];
    }
  }

  /** leafStart returns the visible position where leaf lf starts. @param {Leaf} lf */
  leafStart(lf) {
    const cur = this.cur;
    if (lf === cur) return this.curPos;
    if (cur !== null && lf === cur.next) {
      this.curPos += cur.visible;
    } else if (cur !== null && lf === cur.prev) {
      this.curPos -= lf.visible;
    } else {
      let start = 0;
      const ls = lf.parent.counts;
      for (let j = 0; j < lf.pidx; j++) start += ls[j];
      for (let n = lf.parent; n.parent !== null; n = n.parent) {
        const ks = n.parent.counts;
        for (let j = 0; j < n.pidx; j++) start += ks[j];
      }
      this.curPos = start;
    }
    this.cur = lf;
    return this.curPos;
  }

  /** posOf returns the visible position of the first code point of it. */
  posOf(it) {
    const lf = it.leaf;
    let p = this.leafStart(lf);
    const i = indexIn(it);
    for (let j = 0; j < i; j++) p += lf.vis[j];
    return p;
  }

  /**
   * locate finds the live item holding visible position pos (pos < len):
   * it leaves the leaf, the index and the UTF-16 offset in _lf, _i, _off.
   */
  locate(pos) {
    const lf = this.seekLeaf(pos);
    let p = this.curPos;
    const vis = lf.vis;
    for (let i = 0; i < vis.length; i++) {
      const v = vis[i];
      if (pos < p + v) {
        this._lf = lf;
        this._i = i;
        this._off = pos - p;
        return;
      }
      p += v;
    }
    throw new Error('crdt: leaf visible count is wrong');
  }

  /**
   * insideAt reports whether visible position pos (< len) falls between
   * the two units of a surrogate pair.
   */
  insideAt(pos) {
    this.locate(pos);
    const it = this._lf.items[this._i];
    return this._off > 0 && it.content.length !== it.length && isLow(it.content.charCodeAt(this._off));
  }

  // -------------------------------------------------------------------------
  // The tree

  /**
   * addVisible records that leaf lf gained delta visible units (the
   * caller updates the item's count in lf.vis).
   */
  addVisible(lf, delta) {
    lf.visible += delta;
    lf.parent.counts[lf.pidx] += delta;
    for (let n = lf.parent; n !== null; n = n.parent) {
      n.visible += delta;
      if (n.parent !== null) n.parent.counts[n.pidx] += delta;
    }
    this.len += delta;
    const cur = this.cur;
    if (cur !== null && cur !== lf && leafKey(lf) < leafKey(cur)) this.curPos += delta;
  }

  /**
   * insertItem puts it at index i of lf and splits lf when it is full.
   * leftLeaf is the leaf holding it's left origin (null if none).
   */
  insertItem(lf, i, it, leftLeaf) {
    if (leftLeaf !== lf || it.leftClient === null) {
      // An origin inside lf lies right of the left origin of lf's first
      // item, so only one from elsewhere can lower the bounds.
      this.lowerBounds(lf, { state: AT, c: it.leftClient, k: it.leftClock, at: null });
    }
    it.leaf = lf;
    if (it.rich >= RICH_START) lf.anchorsStale = true;
    const v = it.deleted ? 0 : it.content.length;
    insertAt(lf.items, i, it);
    insertAt(lf.vis, i, v);
    if (v > 0) this.addVisible(lf, v);
    if (lf.items.length > MAX_LEAF) this.splitLeaf(lf);
  }

  /**
   * lowerBounds lowers the bounds of lf and of the nodes above it to b. A
   * known bound of a node is at or before those of its subtree, so the
   * walk stops at the first known one that b does not lower.
   */
  lowerBounds(lf, b) {
    lf.minLeft = this.lower(lf.minLeft, b);
    for (let n = lf.parent; n !== null; n = n.parent) {
      const old = n.minLeft;
      if (old.state === UNKNOWN_STATE) continue;
      n.minLeft = this.lower(old, b);
      if (n.minLeft === old) return;
    }
  }

  /** splitLeaf moves the second half of lf's items to a new leaf after it. */
  splitLeaf(lf) {
    const p = lf.parent;
    const nl = new Leaf(this, p);
    const half = lf.items.length >> 1;
    nl.items = lf.items.splice(half);
    nl.vis = lf.vis.splice(half);
    for (const it of nl.items) it.leaf = nl;
    for (const v of nl.vis) nl.visible += v;
    lf.visible -= nl.visible;
    p.counts[lf.pidx] = lf.visible;
    p.counts.splice(lf.pidx + 1, 0, nl.visible);
    if (lf.anchors.length > 0 || lf.anchorsStale) lf.anchorsStale = nl.anchorsStale = true;
    // lf keeps its bound: it only lost items; nl's is computed when needed.
    // The nodes above hold the same items as before, so theirs stay.
    nl.prev = lf;
    nl.next = lf.next;
    if (lf.next !== null) lf.next.prev = nl;
    else this.last = nl;
    lf.next = nl;
    p.leaves.splice(lf.pidx + 1, 0, nl);
    for (let j = lf.pidx + 1; j < p.leaves.length; j++) p.leaves[j].pidx = j;
    if (p.leaves.length > MAX_KIDS) this.splitNode(p);
  }

  /**
   * splitNode moves the second half of n's children to a new node after
   * it, and gives the tree a new root when n was the root.
   * @param {Node} n
   */
  splitNode(n) {
    const nn = new Node(n.parent);
    nn.minLeft = n.minLeft; // a bound of n bounds its parts
    const list = n.leaves !== null ? n.leaves : n.kids;
    const half = list.length >> 1;
    const moved = list.splice(half);
    if (n.leaves !== null) nn.leaves = moved;
    else nn.kids = moved;
    nn.counts = n.counts.splice(half);
    for (let j = 0; j < moved.length; j++) {
      moved[j].parent = nn;
      moved[j].pidx = j;
      nn.visible += nn.counts[j];
    }
    n.visible -= nn.visible;
    let p = n.parent;
    if (p === null) {
      p = new Node(null);
      p.kids = [n];
      p.counts = [n.visible + nn.visible];
      p.visible = n.visible + nn.visible;
      p.minLeft = n.minLeft;
      n.parent = p;
      nn.parent = p;
      this.root = p;
    }
    p.kids.splice(n.pidx + 1, 0, nn);
    p.counts[n.pidx] = n.visible;
    p.counts.splice(n.pidx + 1, 0, nn.visible);
    for (let j = n.pidx + 1; j < p.kids.length; j++) p.kids[j].pidx = j;
    if (p.kids.length > MAX_KIDS) this.splitNode(p);
  }

  /**
   * split cuts it after n code points (0 < n < it.length) and returns the
   * second piece, which follows it both in the text and in clock order.
   * @param {Item} it
   * @param {number} n
   * @returns {Item}
   */
  split(it, n) {
    const nx = cut(it, n);
    const v = nx.deleted ? 0 : nx.content.length;
    const lf = it.leaf;
    const i = indexIn(it);
    // The leaf's visible count does not change: the pieces hold what it held.
    if (v > 0) {
      lf.vis[i] -= v;
      this.addVisible(lf, -v);
    }
    this.insertItem(lf, i + 1, nx, lf);
    return nx;
  }

  /** prev returns the item before index i of lf in document order, or null. */
  prev(lf, i) {
    if (i > 0) return lf.items[i - 1];
    for (let l = lf.prev; l !== null; l = l.prev) {
      const items = l.items;
      if (items.length > 0) return items[items.length - 1];
    }
    return null;
  }

  /**
   * after returns the item just after it (the first item for null), or
   * null at the end; the place just after it is left in _lf, _i.
   */
  after(it) {
    if (it === null) return this.nextFrom(this.first, 0);
    return this.nextFrom(it.leaf, indexIn(it) + 1);
  }

  /** nextFrom returns the first item at or after index i of lf (its place in _lf, _i), or null. */
  nextFrom(lf, i) {
    if (i < lf.items.length) {
      this._lf = lf;
      this._i = i;
      return lf.items[i];
    }
    for (let l = lf.next; l !== null; l = l.next) {
      if (l.items.length > 0) {
        this._lf = l;
        this._i = 0;
        return l.items[0];
      }
    }
    this._lf = lf;
    this._i = i;
    return null;
  }

  // -------------------------------------------------------------------------
  // Local edits

  /**
   * _insert performs a local insertion of s (n code points, non-empty) at
   * UTF-16 position pos.
   *
   * The new text goes right before the visible code point at pos, after any
   * deleted code points in front of it: its left origin is whatever stands
   * immediately left (deleted or not), its right origin the code point at
   * pos. Going after the deleted ones lets typing after a backspace
   * continue the run it deleted from.
   */
  _insert(pos, s, n) {
    this.gapAt(pos);
    const leftItem = this._left;
    const rightItem = this._right;
    let lc = null;
    let lk = 0;
    if (leftItem !== null) {
      lc = leftItem.client;
      lk = leftItem.clock + leftItem.length - 1;
    }
    let rc = null;
    let rk = 0;
    if (rightItem !== null) {
      rc = rightItem.client;
      rk = rightItem.clock;
    }
    this.place(this.doc.me, n, leftItem, lc, lk, rc, rk, this._lf, this._i, s, RICH_NONE, null);
  }

  /**
   * gapAt finds where a local insertion at UTF-16 position pos goes and
   * leaves it in _lf, _i (the index it takes), _left and _right (the
   * items around it, null for the ends of the text); see _insert.
   *
   * Among the anchors of the gap (RICH.md §R3), the insertion steps left
   * over start anchors and end anchors of marks that expand after: typing
   * at the end of a bold run lands inside it, typing at the start of any
   * mark outside it.
   */
  gapAt(pos) {
    let lf;
    let i;
    let leftItem;
    let rightItem = null;
    if (pos === this.len) {
      lf = this.last;
      i = lf.items.length;
      leftItem = this.prev(lf, i);
    } else {
      this.locate(pos);
      lf = this._lf;
      i = this._i;
      let off = this._off;
      rightItem = lf.items[i];
      if (off > 0) {
        let cp = off;
        if (rightItem.content.length !== rightItem.length) {
          // Never split a surrogate pair: inside one means before it.
          if (isLow(rightItem.content.charCodeAt(off))) off--;
          cp = cpsIn(rightItem, off);
        }
        if (cp > 0) {
          rightItem = this.split(rightItem, cp);
          lf = rightItem.leaf;
          i = indexIn(rightItem);
        }
      }
      leftItem = this.prev(lf, i);
    }
    while (leftItem !== null && leftItem.rich >= RICH_START && classOf(leftItem.rich, leftItem.entry) === 2) {
      rightItem = leftItem;
      lf = leftItem.leaf;
      i = indexIn(leftItem);
      leftItem = this.prev(lf, i);
    }
    this._lf = lf;
    this._i = i;
    this._left = leftItem;
    this._right = rightItem;
  }

  /** _delete performs a local deletion of n UTF-16 units at pos. */
  _delete(pos, n) {
    if (this.astral) {
      // Widen the range to whole code points.
      if (this.insideAt(pos)) {
        pos--;
        n++;
      }
      if (pos + n < this.len && this.insideAt(pos + n)) n++;
    }
    const tx = this.doc.txn;
    while (n > 0) {
      this.locate(pos);
      let it = this._lf.items[this._i];
      if (this._off > 0) it = this.split(it, cpsIn(it, this._off));
      if (it.content.length > n) this.split(it, cpsIn(it, n));
      const piece = it.content.length;
      this.recordDelete(pos, piece);
      const c = it.client;
      const clock = it.clock;
      const length = it.length;
      if (tx.capture !== null) {
        tx.capture.deletes.push({ text: this, client: c.id, clock, length, content: it.content, embed: it.entry }); // entry: an embed's value, else null
      }
      this.markDeleted(it);
      if (tx.quiet) tx.quietDeletes = true;
      else tx.addDelete(c, clock, length);
      n -= piece;
    }
  }

  /**
   * place puts a run of n code points of client c, at clock c.next, at
   * index i of lf, right after leftItem (null at the start). The run grows
   * leftItem when it continues it, which is what typing does; otherwise it
   * becomes a new item. content is null for a run that arrives deleted.
   * An embed or an anchor (rich, with its entry: see Item.entry) is one
   * clock and always an item of its own; an embed's content is U+FFFC, an
   * anchor's is ''. It returns the new item of an embed or an anchor.
   */
  place(c, n, leftItem, lc, lk, rc, rk, lf, i, content, rich, entry) {
    if (rich !== RICH_NONE) {
      this.rich = true;
      const it = new Item(c.next, 1, c, KIND_TEXT);
      it.leftClient = lc;
      it.leftClock = lk;
      it.rightClient = rc;
      it.rightClock = rk;
      it.rich = rich;
      it.entry = entry;
      if (rich >= RICH_START) it.content = '';
      else if (content === null) it.deleted = true;
      else it.content = content;
      c.next++;
      c.addHead(it);
      this.insertItem(lf, i, it, leftItem === null ? null : leftItem.leaf);
      if (rich >= RICH_START) this.anchorGen++;
      if (rich === RICH_EMBED && content !== null && this.observers.length > 0) this.recordInsert(this.posOf(it), content);
      if (rich >= RICH_START && this.observers.length > 0) {
        if (this.changes.length === 0 && this.newAnchors.size === 0) this.doc.txn.texts.push(this);
        this.newAnchors.add(it);
      }
      return it;
    }
    if (content !== null && content.length !== n) this.astral = true;
    if (content !== null && grows(leftItem, c, rc, rk) && this.prev(lf, i) === leftItem) {
      if (this.observers.length > 0) this.recordInsert(this.posOf(leftItem) + leftItem.content.length, content);
      leftItem.content += content;
      leftItem.length += n;
      c.next += n;
      // leftItem is just before index i of lf: in lf, or last in its leaf.
      const ll = leftItem.leaf;
      ll.vis[ll === lf ? i - 1 : ll.items.length - 1] += content.length;
      this.addVisible(ll, content.length);
      return;
    }
    const it = newRun(c, n, lc, lk, rc, rk, content);
    c.next += n;
    c.addHead(it);
    this.insertItem(lf, i, it, leftItem === null ? null : leftItem.leaf);
    if (content !== null && this.observers.length > 0) this.recordInsert(this.posOf(it), content);
  }

  /**
   * markDeleted deletes live item it and merges it with deleted neighbours
   * of the same run, so that a document with many deletions does not keep
   * one item per deleted code point. It returns the item that now holds it.
   */
  markDeleted(it) {
    const v = it.content.length;
    it.deleted = true;
    it.content = null;
    const i = indexIn(it);
    it.leaf.vis[i] = 0;
    this.addVisible(it.leaf, -v);
    const p = this.prev(it.leaf, i);
    if (p !== null && absorbs(p, it)) {
      this.absorb(p, it);
      it = p;
    }
    const nx = this.nextFrom(it.leaf, indexIn(it) + 1);
    if (nx !== null && absorbs(it, nx)) this.absorb(it, nx);
    return it;
  }

  /** absorb merges deleted item b into a. */
  absorb(a, b) {
    if (a.next !== b) b.client.popHead();
    a.length += b.length;
    a.next = b.next;
    const i = indexIn(b);
    b.leaf.items.splice(i, 1);
    b.leaf.vis.splice(i, 1);
    b.leaf = null; // b is no item of the text any more (see holder)
  }

  // -------------------------------------------------------------------------
  // Remote runs

  /**
   * integrate places a remote run of n code points of client c (starting
   * at c.next) following the FugueMax rule (FORMAT.md §7): between its
   * origins, concurrent insertions are ordered so that none interleave.
   * leftItem and rightItem hold the origins (null for none); content is
   * the run's text, or null when it arrives deleted; rich and entry say
   * whether it is an embed or an anchor instead (RICH.md).
   */
  integrate(c, n, lc, lk, rc, rk, leftItem, rightItem, content, rich, entry) {
    if (leftItem !== null && lk < leftItem.clock + leftItem.length - 1) {
      this.split(leftItem, lk - leftItem.clock + 1);
    }
    if (rightItem !== null) {
      // Splitting the left item may have moved the right origin into the
      // piece after it.
      while (rightItem.clock + rightItem.length <= rk) rightItem = rightItem.next;
      if (rk > rightItem.clock) rightItem = this.split(rightItem, rk - rightItem.clock);
    }
    const o = this.after(leftItem);
    if (o !== rightItem) this.resolveConflict(c, classOf(rich, entry), leftItem, rightItem, lc, lk, rc, rk, this._lf, this._i, o);
    this.place(c, n, leftItem, lc, lk, rc, rk, this._lf, this._i, content, rich, entry);
  }

  /**
   * originsFit reports whether a run's origins could have been neighbours
   * for its author (FORMAT.md §5.3; Go: Text.originsFit): lc, lk before
   * rc, rk; the right origin's own left origin not after the left one; the
   * left origin's own right origin not before the right one. Its author
   * had integrated its origins, so their origins too, which keep their
   * order on every replica; origins that break it skip code points their
   * author had, and the rule of §7 does not converge for them.
   * leftItem and rightItem hold the origins (null for none).
   */
  originsFit(lc, lk, rc, rk, leftItem, rightItem) {
    // Origins that name each other fit in every document whose runs all
    // fit, and cost no lookup: typing after one's own last character.
    if (leftItem !== null && leftItem.rightClient === rc && (rc === null || leftItem.rightClock === rk)) return true;
    if (rightItem !== null && rk === rightItem.clock && rightItem.leftClient === lc && (lc === null || rightItem.leftClock === lk)) return true;
    if (leftItem !== null && lk < leftItem.clock + leftItem.length - 1) {
      if (rightItem === leftItem && rk === lk + 1) return true;
    } else {
      const o = this.after(leftItem);
      if (o === rightItem && (o === null || rk === o.clock)) return true;
    }
    this.positionIn(leftItem, lk, false);
    const lpL = this._pl;
    const lpI = this._pi;
    const lpO = this._po;
    this.positionIn(rightItem, rk, true);
    const rpL = this._pl;
    const rpI = this._pi;
    const rpO = this._po;
    if (cmpPos(lpL, lpI, lpO, rpL, rpI, rpO) >= 0) return false;
    if (rightItem !== null) {
      // A code point inside its item has its predecessor as left origin,
      // which is not the left origin (they are not neighbours) and lies
      // after it.
      if (rk > rightItem.clock) return false;
      this.positionOf(rightItem.leftClient, rightItem.leftClock, false);
      if (cmpPos(this._pl, this._pi, this._po, lpL, lpI, lpO) > 0) return false;
    }
    if (leftItem === null) return true;
    this.positionOf(leftItem.rightClient, leftItem.rightClock, true);
    return cmpPos(this._pl, this._pi, this._po, rpL, rpI, rpO) >= 0;
  }

  /**
   * positionOf leaves in _pl, _pi, _po the position of an origin (leaf
   * index, index in the leaf, offset in the item); none is before all for
   * a left origin and after all for a right one.
   */
  positionOf(client, clock, isRight) {
    this.positionIn(client === null ? null : client.find(clock), clock, isRight);
  }

  /** positionIn is positionOf for code point clock of item it (null: none). */
  positionIn(it, clock, isRight) {
    if (it === null) {
      this._pl = isRight ? Infinity : -1;
      this._pi = 0;
      this._po = 0;
      return;
    }
    this._pl = leafKey(it.leaf);
    this._pi = indexIn(it);
    this._po = clock - it.clock;
  }

  /**
   * resolveConflict scans the items between the new run's origins, which
   * were inserted concurrently with it, and leaves where the run goes in
   * _lf, _i. It is the YjsMod loop over items instead of code points: a
   * code point after the first of an item has its predecessor as left
   * origin, inside the scanned range, so only an item's first code point
   * can stop the scan (FORMAT.md §7, "Working on runs"). leftItem and
   * rightItem hold the origins (null for none); the scan starts at index i
   * of lf, just after leftItem, with item o. Siblings (items with the
   * same origins) are ordered by class cls (classOf), then client (RICH.md
   * §R3).
   */
  resolveConflict(c, cls, leftItem, rightItem, lc, lk, rc, rk, lf, i, o) {
    // The origins' positions, from the items that hold them.
    let lpL = -1; // before all
    let lpI = 0;
    let lpO = 0;
    if (leftItem !== null) {
      lpL = leafKey(leftItem.leaf);
      lpI = lf === leftItem.leaf ? i - 1 : indexIn(leftItem);
      lpO = lk - leftItem.clock;
    }
    let rpL = Infinity; // after all
    let rpI = 0;
    let rpO = 0;
    if (rightItem !== null) {
      rpL = leafKey(rightItem.leaf);
      rpI = indexIn(rightItem);
      rpO = rk - rightItem.clock;
    }
    let destLeaf = lf;
    let destIdx = i;
    let scanning = false;
    for (;;) {
      if (!scanning) {
        destLeaf = lf;
        destIdx = i;
      }
      if (o === null || o === rightItem) break;
      const cl = o.leftClient === lc && o.leftClock === lk ? 0 : this.cmpLeft(o.leftClient, o.leftClock, lpL, lpI, lpO, lf, i);
      if (cl < 0) break;
      if (cl === 0) {
        let cr = 0;
        if (o.rightClient !== rc || o.rightClock !== rk) {
          this.positionOf(o.rightClient, o.rightClock, true);
          cr = cmpPos(this._pl, this._pi, this._po, rpL, rpI, rpO);
        }
        if (cr < 0) scanning = true;
        else if (cr === 0) {
          const oc = o.rich === RICH_NONE ? 1 : classOf(o.rich, o.entry);
          if (cls < oc || (cls === oc && c.id < o.client.id)) break;
          scanning = false;
        } else scanning = false;
      }
      o = this.nextCandidate(lf, i + 1, lpL, lpI, lpO, rightItem);
      lf = this._lf;
      i = this._i;
    }
    this._lf = destLeaf;
    this._i = destIdx;
  }

  /**
   * nextCandidate is nextFrom for resolveConflict: it passes over whole
   * subtrees and whole leaves whose items all have their left origin right
   * of the new run's (at position lpL, lpI, lpO), since such items neither
   * end the scan nor are siblings of the new run; the scan over them would
   * only move its destination past them. A scan between far-apart origins,
   * which only a hostile peer sends, then costs a few subtrees per level of
   * the tree plus two leaves' worth of items, instead of the number of
   * items between them.
   */
  nextCandidate(lf, i, lpL, lpI, lpO, rightItem) {
    if (i < lf.items.length || !scanOptions.skips) return this.nextFrom(lf, i);
    const rightLeaf = rightItem === null ? null : rightItem.leaf;
    let cur = lf; // the last leaf passed
    for (;;) {
      // The next subtree: the sibling after cur, or after the lowest node
      // above it that has one.
      let l = null;
      let n = null;
      let p = cur.parent;
      if (cur.pidx + 1 < p.leaves.length) {
        l = p.leaves[cur.pidx + 1];
      } else {
        while (p.parent !== null && p.pidx + 1 === p.parent.kids.length) p = p.parent;
        if (p.parent === null) break; // the end of the text
        n = p.parent.kids[p.pidx + 1];
      }
      // Pass over it whole if its bound allows, else go down into it.
      while (n !== null) {
        if (!holdsLeaf(n, rightLeaf) && this.rightOf(this.nodeBound(n), lpL, lpI, lpO)) break;
        if (n.leaves !== null) {
          l = n.leaves[0];
          n = null;
        } else n = n.kids[0];
      }
      if (n !== null) {
        cur = lastLeaf(n);
        lf = cur; // as if the scan had walked it
        i = cur.items.length;
        continue;
      }
      cur = l;
      if (l.items.length === 0) continue;
      if (l !== rightLeaf && this.rightOf(this.leafBound(l), lpL, lpI, lpO)) {
        lf = l; // as if the scan had walked it
        i = l.items.length;
        continue;
      }
      this._lf = l;
      this._i = 0;
      return l.items[0];
    }
    this._lf = lf;
    this._i = i;
    return null;
  }

  /** leafBound returns lf's bound, computing it from the items if unknown. */
  leafBound(lf) {
    if (lf.minLeft.state === UNKNOWN_STATE) {
      lf.minLeft = this.minBound(lf.items.length, (k) => {
        const it = lf.items[k];
        const c = it.leftClient;
        if (c === null) return { state: AT, c: null, k: 0, at: null };
        // An origin lies left of its item: most are in an item just
        // before it in the leaf, found without searching the client's.
        const lk = it.leftClock;
        for (let j = k - 1; j >= 0; j--) {
          const p = lf.items[j];
          if (p.client === c && p.clock <= lk && lk < p.clock + p.length) return EMPTY; // right of the origin of lf's first item
        }
        const at = c.find(lk);
        if (at.leaf === lf) return EMPTY;
        return { state: AT, c, k: lk, at };
      });
    }
    return lf.minLeft;
  }

  /** nodeBound returns n's bound, computing it from its children's if unknown. @param {Node} n */
  nodeBound(n) {
    if (n.minLeft.state === UNKNOWN_STATE) {
      if (n.leaves !== null) n.minLeft = this.minBound(n.leaves.length, (k) => this.leafBound(n.leaves[k]));
      else n.minLeft = this.minBound(n.kids.length, (k) => this.nodeBound(n.kids[k]));
    }
    return n.minLeft;
  }

  /** minBound returns the least of the known bounds at(0) … at(n − 1). */
  minBound(n, at) {
    let best = EMPTY;
    for (let k = 0; k < n; k++) {
      const b = at(k);
      if (b.state === EMPTY_STATE) continue;
      if (best.state === EMPTY_STATE || this.cmpBounds(b, best) < 0) {
        best = b;
        if (b.c === null) break; // before all
      }
    }
    return best;
  }

  /** cmpBounds compares two bounds in state AT by the positions of their code points. */
  cmpBounds(a, b) {
    if (a.c === null || b.c === null) return a.c === b.c ? 0 : a.c === null ? -1 : 1;
    const x = holder(a);
    const y = holder(b);
    const xl = leafKey(x.leaf);
    const yl = leafKey(y.leaf);
    if (xl !== yl) return xl < yl ? -1 : 1;
    return cmpPos(xl, indexIn(x), a.k - x.clock, yl, indexIn(y), b.k - y.clock);
  }

  /** lower returns the lesser of two bounds: unknown if either is. */
  lower(a, b) {
    if (a.state === UNKNOWN_STATE || b.state === UNKNOWN_STATE) return UNKNOWN;
    if (a.state === EMPTY_STATE) return b;
    if (b.state === EMPTY_STATE || a.c === null) return a;
    if (b.c === null) return b;
    return this.cmpBounds(b, a) < 0 ? b : a;
  }

  /** rightOf reports whether a known bound lies right of position (pl, pi, po). */
  rightOf(b, pl, pi, po) {
    if (b.state === EMPTY_STATE) return true;
    if (b.c === null) return false; // before all
    const it = holder(b);
    const li = leafKey(it.leaf);
    if (li !== pl) return li > pl;
    return cmpPos(li, indexIn(it), b.k - it.clock, pl, pi, po) > 0;
  }

  /**
   * cmpLeft compares the position of left origin (client, clock) (client
   * null: before all) with position (pl, pi, po), like positionOf and
   * cmpPos but looking into the origin's leaf only when the position is in
   * it. The origin is that of the item at index i of lf: when it lies in
   * lf too, it lies before i, mostly just before.
   */
  cmpLeft(client, clock, pl, pi, po, lf, i) {
    if (client === null) return pl === -1 ? 0 : -1;
    const it = client.find(clock);
    const li = leafKey(it.leaf);
    if (li !== pl) return li < pl ? -1 : 1;
    const k = it.leaf === lf ? lf.items.lastIndexOf(it, i) : -1;
    return cmpPos(li, k >= 0 ? k : indexIn(it), clock - it.clock, pl, pi, po);
  }

  // -------------------------------------------------------------------------
  // Events

  /**
   * annotate adds formatting and embeds to the plain delta of a
   * transaction on a rich text (Go: Text.annotate, RICH.md §R7): inserts
   * get the attributes they have now and embeds their value; when the
   * transaction placed anchors, retains get the changes of formatting of
   * the positions they keep. It reads the text from the first insert or
   * new anchor to the end of the last change (attrRuns), not from its
   * start: an event costs what changed, not the length of the text.
   */
  annotate(delta) {
    const full = this.newAnchors.size > 0;
    const first = delta.findIndex((op) => op.insert !== undefined);
    if (first < 0 && !full) return delta; // deletions only
    let from = -1;
    let end = 0;
    for (let i = 0; i < delta.length; i++) {
      if (i === first) from = end;
      end += (delta[i].retain ?? 0) + (delta[i].insert?.length ?? 0);
    }
    let lf = null;
    let p = 0;
    if (from >= 0) {
      lf = this.leafAt(from);
      p = this.curPos;
    }
    if (full) {
      let a = null; // the first new anchor
      for (const it of this.newAnchors) {
        if (a === null || leafKey(it.leaf) < leafKey(a.leaf) || (it.leaf === a.leaf && indexIn(it) < indexIn(a))) a = it;
      }
      if (lf === null || leafKey(a.leaf) < leafKey(lf)) {
        lf = a.leaf;
        p = this.leafStart(lf);
      }
    }
    const runs = this.attrRuns(lf, p, end);
    const out = []; // [op, attrs]
    const push = (op, attrs) => {
      const last = out[out.length - 1];
      const k = Object.keys(op)[0]; // retain, insert, delete, or e: an embed item
      if (k !== 'e' && last && last[0][k] !== undefined && attrsEqual(last[1], attrs)) last[0][k] += op[k];
      else out.push([op, attrs]);
    };
    let ri = 0;
    let used = 0;
    // take consumes n units of the text as it is now, run by run.
    const take = (n, fn) => {
      while (n > 0 && ri < runs.length) {
        const r = runs[ri];
        const k = Math.min(n, r.n - used);
        fn(r, k);
        n -= k;
        if ((used += k) === r.n) {
          ri++;
          used = 0;
        }
      }
    };
    const retain = (r, k) => push({ retain: k }, full ? changedAttrs(r.was, r.now) : NO_ITEMS);
    for (const op of delta) {
      if (op.delete !== undefined) push(op, NO_ITEMS);
      else if (op.retain !== undefined) take(op.retain, retain);
      else {
        let s = op.insert;
        take(s.length, (r, k) => {
          push(r.embed !== null ? { e: r.embed } : { insert: s.slice(0, k) }, r.now);
          s = s.slice(k);
        });
      }
    }
    if (full) take(this.len, retain);
    for (let last; (last = out[out.length - 1]) !== undefined && last[0].retain !== undefined && last[1].length === 0; ) out.pop();
    return out.map(([op, attrs]) => {
      if (op.e) op = { insert: embedValue(op.e) };
      if (attrs.length > 0) op.attributes = attributesOf(attrs);
      return op;
    });
  }

  /**
   * attrRuns returns the formatting of the text's visible units after the
   * transaction, from the start of leaf lf (at position p) on, as runs
   * {n, now, was, embed}: one walk with two resolvers, one seeing every
   * anchor, the other only those there before the transaction (anchors
   * never move or go, so the old formatting of a kept position is what the
   * old anchors give). No anchor placed in the transaction may precede lf.
   * The walk ends at position end once it has passed every new anchor and
   * the two resolvers agree again: the formatting after that did not
   * change (Go: Text.attrRuns).
   */
  attrRuns(lf, p, end) {
    const now = new Resolver();
    const was = new Resolver();
    for (const s of this.opensAt(lf)) {
      now.anchor(s);
      was.anchor(s);
    }
    const out = [];
    if (p > 0) out.push({ n: p, now: NO_ITEMS, was: NO_ITEMS, embed: null }); // kept units before lf
    const na = this.newAnchors;
    let seen = 0; // new anchors passed
    let diverged = 0; // marks open in one resolver only
    for (; lf !== null; lf = lf.next) {
      for (const it of lf.items) {
        if (p >= end && seen === na.size && diverged === 0) return out;
        if (it.rich >= RICH_START) {
          now.anchor(it);
          if (!na.has(it)) {
            was.anchor(it);
            continue;
          }
          seen++;
          if (it.rich === RICH_START) diverged++;
          else if (na.has(it.entry)) diverged--; // closes a mark the transaction opened
          else diverged++; // closes, in now only, a mark opened before
          continue;
        }
        if (it.deleted) continue;
        const v = it.content.length;
        if (v === 0) continue;
        p += v;
        const r = { n: v, now: now.current(), was: was.current(), embed: it.rich === RICH_EMBED ? it : null };
        const k = out.length;
        if (r.embed === null && k > 0 && out[k - 1].embed === null && attrsEqual(out[k - 1].now, r.now) && attrsEqual(out[k - 1].was, r.was)) {
          out[k - 1].n += v;
          continue;
        }
        out.push(r);
      }
    }
    return out;
  }

  /**
   * leafAt returns the leaf holding visible position from, or the last
   * leaf at the end of the text, and leaves where it starts in curPos.
   */
  leafAt(from) {
    if (from >= this.len) {
      this.leafStart(this.last);
      return this.last;
    }
    return this.seekLeaf(from);
  }

  /**
   * opensAt returns the start anchors of the marks open where lf starts:
   * started before it and not ended. Each leaf caches its list; placing an
   * anchor anywhere makes every cache stale, and a stale one is computed
   * from the nearest leaf before it whose cache holds, adding and removing
   * the anchors of the leaves between (Go: Text.opensAt). Resolving
   * formatting at a position thus costs a lookup, not a walk from the
   * start of the text, while no anchor comes.
   * @param {Leaf} lf
   * @returns {Item[]}
   */
  opensAt(lf) {
    const chain = [];
    let p = lf;
    while (p !== null && p.opensGen !== this.anchorGen) {
      chain.push(p);
      p = p.prev;
    }
    let opens = p !== null ? nextOpens(p.opens, leafAnchors(p)) : NO_ITEMS; // open where the earliest stale leaf starts
    for (let i = chain.length - 1; i >= 0; i--) {
      const l = chain[i];
      l.opens = opens;
      l.opensGen = this.anchorGen;
      if (i > 0) opens = nextOpens(opens, leafAnchors(l));
    }
    return lf.opens;
  }

  recordInsert(pos, s) {
    this.record({ pos, insert: s, delete: 0 });
  }

  recordDelete(pos, n) {
    this.record({ pos, insert: '', delete: n });
  }

  record(ch) {
    if (this.observers.length === 0) return;
    if (this.changes.length === 0 && this.newAnchors.size === 0) this.doc.txn.texts.push(this);
    this.changes.push(ch);
  }

  /** flush composes the recorded changes into one delta and calls the observers. */
  flush(local) {
    if (this.changes.length === 0 && this.newAnchors.size === 0) return;
    let delta = compose(this.changes);
    if (this.rich) delta = this.annotate(delta);
    this.changes = [];
    this.newAnchors = new Set();
    if (delta.length === 0) return; // text inserted and deleted again: nothing to tell
    const ev = { delta, local };
    notify(this.observers, ev, this.doc.onObserverError);
  }
}

/** leafAnchors returns the anchors of lf, in order. @param {Leaf} lf */
function leafAnchors(lf) {
  if (lf.anchorsStale) {
    lf.anchors = lf.items.filter((it) => it.rich >= RICH_START);
    lf.anchorsStale = false;
  }
  return lf.anchors;
}

/**
 * nextOpens returns the open start anchors after anchors, given those open
 * before them; opens itself is not changed.
 */
function nextOpens(opens, anchors) {
  if (anchors.length === 0) return opens;
  const out = opens.slice();
  for (const a of anchors) {
    if (a.rich === RICH_START) out.push(a);
    else {
      const i = out.indexOf(a.entry); // an end anchor's entry is its start anchor
      if (i >= 0) out.splice(i, 1);
    }
  }
  return out;
}

/**
 * holder returns the item holding the code point of bound b (in state AT,
 * with a client): the one it held when last looked up if it still does, so
 * that comparing bounds rarely searches the client's items. Splits leave
 * the code point in one of the pieces, and an absorbed item loses its leaf.
 * @param {Bound} b
 * @returns {Item}
 */
function holder(b) {
  const it = b.at;
  if (it !== null && it.leaf !== null && it.client === b.c && it.clock <= b.k && b.k < it.clock + it.length) return it;
  return (b.at = b.c.find(b.k));
}

/** cmpPos compares two positions (leaf, index, offset). */
function cmpPos(al, ai, ao, bl, bi, bo) {
  if (al !== bl) return al < bl ? -1 : 1;
  if (ai !== bi) return ai < bi ? -1 : 1;
  return ao < bo ? -1 : ao > bo ? 1 : 0;
}

/**
 * deleteRange marks the code points [clock, clock+n) of client c deleted;
 * all of them must be integrated. Map and skip clocks and tombstones are
 * left alone (FORMAT.md §5.4).
 * @param {import('./item.js').ClientState} c
 * @param {number} clock
 * @param {number} n
 */
export function deleteRange(c, clock, n) {
  const end = clock + n;
  let it = c.find(clock);
  while (clock < end) {
    if (it.clock + it.length <= clock) {
      it = it.next;
      if (it === null) it = c.find(clock);
      continue;
    }
    if (it.kind !== KIND_TEXT || it.deleted || it.rich >= RICH_START) {
      // Anchors are never deleted (RICH.md §R1).
      clock = it.clock + it.length;
      continue;
    }
    const t = it.leaf.t;
    if (clock > it.clock) it = t.split(it, clock - it.clock);
    if (it.clock + it.length > end) t.split(it, end - it.clock);
    if (t.observers.length > 0) t.recordDelete(t.posOf(it), it.content.length);
    clock = it.clock + it.length;
    const next = it.next;
    if (t.markDeleted(it) !== it || it.next !== next) {
      // it was merged with a neighbour: look the next clock up again.
      it = c.find(clock - 1);
    }
  }
}

/**
 * bulkLoad is cleared by tests to load every update through the tree, the
 * path the loader must agree with; bulkMin is the least number of records
 * that makes an update worth a loader, lowered by tests.
 */
let bulkLoad = true;
let bulkMin = 256;

/** setBulkLoad sets bulkLoad and bulkMin, for tests; it returns the old values. */
export function setBulkLoad(on, min) {
  const old = [bulkLoad, bulkMin];
  bulkLoad = on;
  bulkMin = min;
  return old;
}

/**
 * Loading a large update into an empty Text, a snapshot above all, places
 * most runs right after their left origin with their right origin next:
 * records come in clock order, and a client's run was typed into the state
 * its earlier clocks made. Such a run needs no conflict scan, and keeping
 * the items in the tree while they arrive costs a leaf search, a shift of
 * the leaf and a count update per run for nothing: a Loader keeps them in
 * a list instead and builds the tree in one pass at the end (Go:
 * bulkload.go).
 *
 * It takes only what the tree would do the same way: a plain run whose
 * right origin is the code point right after its left one. Anything else
 * first turns the list into the tree (finish), and the tree's path takes
 * it from there; so do the update's deletes and pending records. While
 * listed, an item's leaf is the loader's stand-in (so that the text holds
 * it) and its entry, which a plain run does not use, links it to the item
 * after it.
 */
export class Loader {
  /** @param {Text} t */
  constructor(t) {
    this.t = t;
    /** @type {Item | null} the first listed item */
    this.first = null;
    this.n = 0;
    this.leaf = new Leaf(t, t.root);
  }

  /** start returns a loader for t when it is empty and unobserved and n records are coming, else null. */
  static start(t, n) {
    if (!bulkLoad || n < bulkMin || t.observers.length > 0 || t.len !== 0 || t.first !== t.last || t.first.items.length > 0) return null;
    return new Loader(t);
  }

  /**
   * place integrates plain run n code points of client c (at c.next) with
   * origins (lc, lk) and (rc, rk), leftItem holding the left one, and
   * reports whether it could: false, with nothing changed, when the tree
   * must take it.
   */
  place(c, n, lc, lk, rc, rk, leftItem, content) {
    const t = this.t;
    if (leftItem !== null && (leftItem.kind !== KIND_TEXT || leftItem.leaf !== this.leaf)) return false;
    // The code point after the left origin: inside its item, or the next item's first.
    const mid = leftItem !== null && lk < leftItem.clock + leftItem.length - 1;
    const o = mid ? null : leftItem === null ? this.first : leftItem.entry;
    if (rc === null) {
      if (mid || o !== null) return false;
    } else if (mid) {
      if (rc !== leftItem.client || rk !== lk + 1) return false;
    } else if (o === null || rc !== o.client || rk !== o.clock) return false;
    if (mid) this.split(leftItem, lk - leftItem.clock + 1);
    if (content !== null && content.length !== n) t.astral = true;
    // As Text.place: a run that continues its left item's grows it.
    if (content !== null && grows(leftItem, c, rc, rk)) {
      leftItem.content += content;
      leftItem.length += n;
      c.next += n;
      return true;
    }
    const it = newRun(c, n, lc, lk, rc, rk, content);
    this.link(leftItem, it);
    c.next += n;
    c.addHead(it);
    return true;
  }

  /** link lists it right after item after (null: first). */
  link(after, it) {
    it.leaf = this.leaf;
    if (after === null) {
      it.entry = this.first;
      this.first = it;
    } else {
      it.entry = after.entry;
      after.entry = it;
    }
    this.n++;
  }

  /** split is Text.split for a listed item. */
  split(it, n) {
    this.link(it, cut(it, n));
  }

  /**
   * finish builds the text's tree from the list: leaves three quarters
   * full, as splits leave them on average (full ones would each split at
   * the first edit that lands in them), and nodes filled evenly, so that
   * every node but the root holds at least half its most children.
   */
  finish() {
    const t = this.t;
    if (this.first === null) return;
    const total = this.n;
    const fill = Math.max(1, (MAX_LEAF * 3) >> 2);
    const nLeaves = Math.max(1, Math.ceil(total / fill));
    /** @type {Leaf[]} */
    const leaves = new Array(nLeaves);
    let it = this.first;
    let len = 0;
    for (let j = 0; j < nLeaves; j++) {
      const lf = new Leaf(t, t.root);
      const count = Math.floor(((j + 1) * total) / nLeaves) - Math.floor((j * total) / nLeaves);
      const items = new Array(count);
      const vis = new Array(count);
      for (let k = 0; k < count; k++) {
        const nx = it.entry;
        it.entry = null;
        it.leaf = lf;
        items[k] = it;
        vis[k] = it.deleted ? 0 : it.content.length;
        lf.visible += vis[k];
        it = nx;
      }
      lf.items = items;
      lf.vis = vis;
      len += lf.visible;
      if (j > 0) {
        lf.prev = leaves[j - 1];
        leaves[j - 1].next = lf;
      }
      leaves[j] = lf;
    }
    // The lowest nodes hold the leaves; each level above holds the one
    // below, until one node, the root, holds them all.
    let level = groupNodes(leaves, true);
    while (level.length > 1) level = groupNodes(level, false);
    t.root = level[0];
    t.root.parent = null;
    t.first = leaves[0];
    t.last = leaves[nLeaves - 1];
    t._lf = t.first;
    t.cur = null;
    t.curPos = 0;
    t.len = len;
  }
}

/**
 * groupNodes returns the nodes that hold kids (leaves, or nodes of the
 * level below), at most MAX_KIDS each, spread evenly.
 * @param {Array<Leaf | Node>} kids
 * @param {boolean} leaves
 * @returns {Node[]}
 */
function groupNodes(kids, leaves) {
  const n = kids.length;
  const k = Math.max(1, Math.ceil(n / MAX_KIDS));
  const nodes = new Array(k);
  for (let j = 0; j < k; j++) {
    const nd = new Node(null);
    const list = kids.slice(Math.floor((j * n) / k), Math.floor(((j + 1) * n) / k));
    if (leaves) nd.leaves = list;
    else nd.kids = list;
    nd.counts = new Array(list.length);
    for (let m = 0; m < list.length; m++) {
      const kid = list[m];
      kid.parent = nd;
      kid.pidx = m;
      nd.counts[m] = kid.visible;
      nd.visible += kid.visible;
    }
    nodes[j] = nd;
  }
  return nodes;
}
