// The pure string logic behind the editor bindings: the change between two
// values of an editor, and moving positions through the deltas of a Text.
// All positions are UTF-16 units; no change ever splits a surrogate pair.

/**
 * A change replaces `remove` units at `index` with the string `insert`.
 * @typedef {{index: number, remove: number, insert: string}} Change
 * @typedef {import('./events.js').DeltaOp} DeltaOp
 */

function isHigh(c) {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLow(c) {
  return c >= 0xdc00 && c <= 0xdfff;
}

/**
 * diffText returns the smallest single change that turns before into
 * after: their common prefix and suffix are kept. When several changes
 * are as small (typing "a" into "aa"), cursor, the caret in after (or -1
 * for none), picks the one where the user typed: an insertion ends at the
 * caret, a deletion starts there. A caret that fits no smallest change
 * (the value was set by a script) is ignored. The change never cuts a
 * surrogate pair.
 * @param {string} before
 * @param {string} after
 * @param {number} [cursor]
 * @returns {Change}
 */
export function diffText(before, after, cursor = -1) {
  const free = diffAround(before, after, Infinity);
  if (cursor < 0) return free;
  // The change ends at the caret for an insertion and starts there for a
  // deletion: the kept prefix cannot reach past that.
  const hinted = diffAround(before, after, Math.max(0, cursor - Math.max(0, after.length - before.length)));
  return hinted.remove === free.remove ? hinted : free;
}

/** diffAround is diffText with the kept prefix at most maxPrefix units long. */
function diffAround(before, after, maxPrefix) {
  const n = before.length;
  const m = after.length;
  const min = Math.min(n, m);
  let p = 0;
  const pEnd = Math.min(min, maxPrefix);
  while (p < pEnd && before.charCodeAt(p) === after.charCodeAt(p)) p++;
  if (p > 0 && isHigh(before.charCodeAt(p - 1))) p--;
  let s = 0;
  const maxS = min - p;
  while (s < maxS && before.charCodeAt(n - 1 - s) === after.charCodeAt(m - 1 - s)) s++;
  if (s > 0 && isLow(before.charCodeAt(n - s))) s--;
  return { index: p, remove: n - p - s, insert: after.slice(p, m - s) };
}

/**
 * applyDelta returns s with a Text delta applied (UTF-16 units).
 * @param {string} s
 * @param {DeltaOp[]} delta
 * @returns {string}
 */
export function applyDelta(s, delta) {
  const parts = [];
  let pos = 0;
  for (const op of delta) {
    if ('retain' in op) {
      parts.push(s.slice(pos, pos + op.retain));
      pos += op.retain;
    } else if ('delete' in op) pos += op.delete;
    else parts.push(op.insert);
  }
  parts.push(s.slice(pos));
  return parts.join('');
}

/**
 * transformIndex moves a position of the text before a delta to the text
 * after it. An insertion exactly at the position goes after it (the
 * position stays put) unless assoc > 0, which puts it before; a position
 * inside deleted text moves to where the deletion was.
 * @param {DeltaOp[]} delta
 * @param {number} index
 * @param {number} [assoc]
 * @returns {number}
 */
export function transformIndex(delta, index, assoc = 0) {
  let oldPos = 0; // position in the text before the delta
  let shift = 0; // how far the delta has moved positions at oldPos
  for (const op of delta) {
    if ('retain' in op) {
      if (oldPos + op.retain > index) break;
      oldPos += op.retain;
    } else if ('delete' in op) {
      if (oldPos >= index) break;
      const d = Math.min(op.delete, index - oldPos);
      shift -= d;
      oldPos += op.delete;
      if (oldPos > index) {
        // index was inside the deletion: it lands where the deletion was.
        return index + shift;
      }
    } else {
      if (oldPos > index || (oldPos === index && assoc <= 0)) break;
      shift += op.insert.length;
    }
  }
  return index + shift;
}

/**
 * rebaseChange moves a change made on the text before a series of deltas
 * (edits that arrived meanwhile) onto the text after them: its start
 * follows the deltas, and so does its end, so that the range it removes
 * loses what they deleted already.
 * @param {Change} change
 * @param {DeltaOp[][]} deltas
 * @returns {Change}
 */
export function rebaseChange(change, deltas) {
  let start = change.index;
  let end = change.index + change.remove;
  for (const d of deltas) {
    const collapsed = start === end;
    start = transformIndex(d, start, collapsed ? 0 : 1);
    end = collapsed ? start : Math.max(start, transformIndex(d, end, 0));
  }
  return { index: start, remove: end - start, insert: change.insert };
}
