// Quill deltas applied to a Text (crdt/RICH.md §R7; Go: Text.ApplyDelta in
// delta.go). Importing this module gives every Text the methods
// applyDelta and setBlockKeys; it is its own bundle
// (dist/flowstate-richdelta.js, npm: @flowstate/web/richdelta) so that the
// core stays within its size budget. Change events with attributes and the
// undo of formats are in the core.

import { Text } from './text.js';
import { RICH_EMBED } from './item.js';
import { compareCodePoints, wellFormed } from './codec.js';
import { attrsEqual, bytesEqual, markValue, valueOf } from './rich.js';
import { encodeValue } from './value.js';

/**
 * DEFAULT_BLOCK_KEYS are the attribute keys applyDelta treats as block
 * attributes unless setBlockKeys says otherwise: Quill's block formats.
 */
export const DEFAULT_BLOCK_KEYS = Object.freeze(['align', 'blockquote', 'code-block', 'direction', 'header', 'indent', 'list']);

/**
 * setBlockKeys sets the attribute keys that applyDelta applies to text x
 * as block attributes: on the newlines an op covers only, each with a mark
 * that never expands, as setBlock does. null restores DEFAULT_BLOCK_KEYS.
 * @param {Text} x
 * @param {string[] | null} keys
 * @throws {TypeError} for a key that is not a valid string
 */
export function setBlockKeys(x, keys) {
  if (keys === null || keys === undefined) {
    x.blockKeys = null;
    return;
  }
  for (const k of keys) {
    if (typeof k !== 'string' || !wellFormed(k)) throw new TypeError(`crdt: block key ${JSON.stringify(k)} is not valid Unicode`);
  }
  x.blockKeys = new Set(keys);
}

/** isBlockKey reports whether applyDelta applies key as a block attribute of x. */
function isBlockKey(x, key) {
  // blockKeys, a Set, is set on a Text by setBlockKeys only.
  return x.blockKeys ? x.blockKeys.has(key) : DEFAULT_BLOCK_KEYS.includes(key);
}

/**
 * applyDelta applies a Quill delta to text x in one transaction and
 * returns its update (null inside `doc.transact` or when it changes
 * nothing), as Go's Text.ApplyDelta does (RICH.md §R7). Ops are
 * `{insert: string | embed value, attributes?}`, `{retain: n,
 * attributes?}`, `{delete: n}`, positions in UTF-16 units from 0, on code
 * point boundaries: a retain or delete ending inside a surrogate pair is
 * refused, as it would cut the pair. An insert gets exactly its op's
 * attributes; a retain sets each key it names (null removes it); block
 * keys (setBlockKeys) go on the newlines an op covers only. A bad delta
 * throws and changes nothing.
 * @param {Text} x
 * @param {Array<{insert?: unknown, retain?: number, delete?: number, attributes?: Record<string, unknown>}>} delta
 * @returns {Uint8Array | null}
 * @throws {RangeError} for a retain or delete past the end of the text or ending inside a surrogate pair
 * @throws {TypeError} for an op of a shape it does not know or an invalid key or value
 */
export function applyDelta(x, delta) {
  const steps = checkDelta(x, delta);
  if (steps.length === 0) return null;
  return x.doc.local(() => {
    let pos = 0;
    for (const s of steps) {
      if (s.delete > 0) x._delete(pos, s.delete);
      else if (s.retain > 0) {
        applyAttrs(x, pos, s.retain, s.attrs, false);
        pos += s.retain;
      } else if (s.embed !== null) {
        x.gapAt(pos);
        x.placeRich(x.doc.me, x._left, x._right, x._lf, x._i, '\uFFFC', RICH_EMBED, s.embed);
        applyAttrs(x, pos, 1, s.attrs, true);
        pos++;
      } else {
        x._insert(pos, s.insert, s.n);
        applyAttrs(x, pos, s.insert.length, s.attrs, true);
        pos += s.insert.length;
      }
    }
  });
}

Text.prototype.applyDelta = function (delta) {
  return applyDelta(this, delta);
};

Text.prototype.setBlockKeys = function (keys) {
  setBlockKeys(this, keys);
};

/** checkDelta validates a delta against text x and returns it as steps, without the trailing plain retains. */
function checkDelta(x, delta) {
  if (!Array.isArray(delta)) throw new TypeError('crdt: invalid delta: not an array');
  const bad = (i, what) => new TypeError(`crdt: invalid delta: op ${i} ${what}`);
  const steps = [];
  let pos = 0;
  let length = x.len;
  // orig is how far the ops have come in the text as it is: a retain or
  // delete ending inside a surrogate pair there would cut the pair (the
  // steps' positions count units, the items code points).
  let orig = 0;
  const cut = (i, n) => {
    orig += n;
    if (x.astral && orig < x.len && x.insideAt(orig)) throw new RangeError(`crdt: position inside a surrogate pair: delta op ${i} ends at ${orig}`);
  };
  delta.forEach((op, i) => {
    if (op === null || typeof op !== 'object') throw bad(i, 'is not an object');
    for (const k of Object.keys(op)) {
      if (k !== 'insert' && k !== 'retain' && k !== 'delete' && k !== 'attributes') throw bad(i, `has an unknown field ${JSON.stringify(k)}`);
    }
    const ins = op.insert;
    const isText = typeof ins === 'string' && ins !== '';
    const isEmbed = ins !== undefined && ins !== null && typeof ins !== 'string';
    const retain = op.retain ?? 0;
    const del = op.delete ?? 0;
    if (!Number.isInteger(retain) || !Number.isInteger(del)) throw bad(i, 'has a count that is not an integer');
    const kinds = [isText, isEmbed, retain !== 0, del !== 0].filter(Boolean).length;
    if (kinds !== 1) throw bad(i, `sets ${kinds} of retain, insert, embed and delete, want one`);
    if (retain < 0 || del < 0) throw bad(i, 'has a negative count');
    const s = { retain, delete: del, insert: isText ? ins : '', n: 0, embed: null, attrs: [] };
    const attrs = op.attributes;
    if (attrs !== undefined && attrs !== null && Object.keys(attrs).length > 0) {
      if (del > 0) throw bad(i, 'deletes with attributes');
      for (const k of Object.keys(attrs).sort(compareCodePoints)) {
        try {
          s.attrs.push([k, markValue(k, attrs[k])]);
        } catch (e) {
          if (e instanceof TypeError) e.message = `crdt: invalid delta: op ${i}: ${e.message}`;
          throw e;
        }
      }
    }
    if (retain > 0) {
      if (retain > length - pos) throw new RangeError(`crdt: position out of range: delta op ${i} retains ${retain} at ${pos} in a text of length ${length}`);
      cut(i, retain);
      pos += retain;
    } else if (del > 0) {
      if (del > length - pos) throw new RangeError(`crdt: position out of range: delta op ${i} deletes ${del} at ${pos} in a text of length ${length}`);
      cut(i, del);
      length -= del;
    } else if (isEmbed) {
      try {
        s.embed = encodeValue(ins);
      } catch (e) {
        if (e instanceof TypeError) e.message = `crdt: invalid delta: op ${i}: embed value: ${e.message}`;
        throw e;
      }
      pos++;
      length++;
    } else {
      if (!wellFormed(ins)) throw bad(i, 'inserts a lone surrogate');
      s.n = [...ins].length;
      pos += ins.length;
      length += ins.length;
    }
    steps.push(s);
  });
  while (steps.length > 0 && steps[steps.length - 1].retain > 0 && steps[steps.length - 1].attrs.length === 0) steps.pop();
  return steps;
}

/**
 * cells returns the formatting of the n UTF-16 units of text x from pos
 * as {n, newline, attrs} stretches, newlines apart from other units.
 */
function cells(x, pos, n) {
  const out = [];
  x.walkRange(pos, n, (it, lo, hi, p, attrs) => {
    for (let k = lo; k < hi; ) {
      const nl = it.content.charCodeAt(k - p) === 10;
      let m = 0;
      while (k + m < hi && (it.content.charCodeAt(k + m - p) === 10) === nl) m++;
      const last = out[out.length - 1];
      if (last !== undefined && last.newline === nl && attrsEqual(last.attrs, attrs)) last.n += m;
      else out.push({ n: m, newline: nl, attrs });
      k += m;
    }
  });
  return out;
}

/**
 * applyAttrs formats the n units of text x from pos with attrs ([key, value bytes
 * or null] sorted by key) as applyDelta describes; for an insertion
 * (inserted), keys taken from the neighbours that attrs does not name
 * are removed.
 */
function applyAttrs(x, pos, n, attrs, inserted) {
  if (attrs.length === 0 && (!inserted || x.maxSeq === 0)) return;
  const cs = cells(x, pos, n);
  let keys = attrs;
  if (inserted) {
    keys = attrs.slice();
    for (const [k] of cs[0].attrs) if (!attrs.some((a) => a[0] === k)) keys.push([k, null]);
    keys.sort((a, b) => compareCodePoints(a[0], b[0]));
  }
  for (const [key, value] of keys) {
    if (!isBlockKey(x, key)) {
      if (cs.some((c) => !bytesEqual(valueOf(c.attrs, key), value))) x._format(pos, n, key, value, x.expandRule(key));
      continue;
    }
    // A block key goes on newlines only; an insertion also loses it
    // elsewhere. Each stretch that needs one value is one mark that
    // never expands.
    let p = pos;
    let from = -1;
    let want = null;
    const end = (at) => {
      if (from >= 0) {
        x._format(from, at - from, key, want, 0);
        from = -1;
      }
    };
    for (const c of cs) {
      let v = value;
      if (!c.newline) {
        if (!inserted) {
          end(p);
          p += c.n;
          continue;
        }
        v = null;
      }
      if (bytesEqual(valueOf(c.attrs, key), v)) end(p);
      else if (from < 0 || !bytesEqual(want, v)) {
        end(p);
        from = p;
        want = v;
      }
      p += c.n;
    }
    end(p);
  }
}
