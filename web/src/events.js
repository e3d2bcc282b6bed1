// Text and map events (Go: events.go, FORMAT.md §5.5).
//
// During a transaction an observed Text records each positional change in
// the coordinates of the text right before it; when the transaction ends
// they are composed into one Quill-style delta from the text before the
// transaction to the text after it. Positions here are UTF-16 units, the
// JavaScript API's unit; the Go implementation counts code points, and
// otherwise builds the same delta.

/**
 * @typedef {{retain: number} | {insert: string} | {delete: number}} DeltaOp
 * @typedef {{delta: DeltaOp[], local: boolean}} TextEvent
 * @typedef {{keys: string[], local: boolean}} MapEvent
 */

/**
 * A Span is a piece of a delta being built: n units kept from the old text
 * (ins null, del false), removed from it (del), or inserted (ins; emptied
 * when deleted again). Spans are the nodes of a treap in text order, so
 * that finding a position costs O(log n) and composing n changes
 * O(n log n): a transaction that brings a fragmented text in one piece at
 * a time (loading a snapshot) records a change per piece.
 */
class Span {
  constructor(n, del, ins) {
    this.n = n;
    this.del = del;
    /** @type {string | null} */
    this.ins = ins;
    this.pri = nextPriority();
    /** @type {Span | null} */
    this.l = null;
    /** @type {Span | null} */
    this.r = null;
    /** Units of the new text in this subtree. */
    this.sum = 0;
    /** Whether the subtree ends with an emptied insertion: one at its last position, after all its text. */
    this.endEmpty = false;
    fix(this);
  }
}

let seed = 0x9e3779b9;

/** nextPriority returns a pseudo-random treap priority (xorshift32). */
function nextPriority() {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}

/** own is what span s adds to the new text: kept or inserted units; none once deleted. */
function own(s) {
  return s.del ? 0 : s.ins !== null ? s.ins.length : s.n;
}

function sumOf(t) {
  return t === null ? 0 : t.sum;
}

function endEmpty(t) {
  return t !== null && t.endEmpty;
}

function fix(t) {
  const rs = sumOf(t.r);
  const n = own(t);
  t.sum = sumOf(t.l) + n + rs;
  t.endEmpty = endEmpty(t.r) || (rs === 0 && n === 0 && (t.ins !== null || endEmpty(t.l)));
}

/** merge joins treaps a and b, every span of a before every span of b. */
function merge(a, b) {
  if (a === null) return b;
  if (b === null) return a;
  if (a.pri > b.pri) {
    a.r = merge(a.r, b);
    fix(a);
    return a;
  }
  b.l = merge(a, b.l);
  fix(b);
  return b;
}

/** cut splits span t, which holds new-text units [0, k) and more, after k units; it returns the second part. */
function cut(t, k) {
  if (t.ins !== null) {
    const tail = new Span(0, false, t.ins.slice(k));
    t.ins = t.ins.slice(0, k);
    return tail;
  }
  const tail = new Span(t.n - k, false, null);
  t.n = k;
  return tail;
}

// The two halves of the last split, returned here rather than in an
// array: a split allocates nothing but the span it may cut.
/** @type {Span | null} */
let splitL = null;
/** @type {Span | null} */
let splitR = null;

/**
 * splitAt cuts treap t (sum ≥ p) into splitL and splitR before the first
 * span at new-text position p that is not deleted text: where an insertion
 * at p goes, after any deleted text at p and before the span that starts
 * there, an emptied insertion included.
 */
function splitAt(t, p) {
  if (t === null) {
    splitL = splitR = null;
    return;
  }
  const ls = sumOf(t.l);
  const n = own(t);
  if (p < ls || (p === ls && endEmpty(t.l))) {
    splitAt(t.l, p);
    t.l = splitR;
    fix(t);
    splitR = t;
  } else if (p === ls && !t.del) {
    splitL = t.l;
    t.l = null;
    fix(t);
    splitR = t;
  } else if (p < ls + n) {
    cutAt(t, p - ls);
  } else {
    splitAt(t.r, p - ls - n);
    t.r = splitL;
    fix(t);
    splitL = t;
  }
}

/**
 * splitAfter cuts treap t (sum ≥ q) into splitL and splitR after new-text
 * unit q − 1: what starts before q goes left, what starts at q or later
 * goes right.
 */
function splitAfter(t, q) {
  if (t === null) {
    splitL = splitR = null;
    return;
  }
  const ls = sumOf(t.l);
  const n = own(t);
  if (q <= ls) {
    splitAfter(t.l, q);
    t.l = splitR;
    fix(t);
    splitR = t;
  } else if (q < ls + n) {
    cutAt(t, q - ls);
  } else {
    splitAfter(t.r, q - ls - n);
    t.r = splitL;
    fix(t);
    splitL = t;
  }
}

/** cutAt splits t, with its subtrees, inside span t after k of its units. */
function cutAt(t, k) {
  const tail = cut(t, k);
  const right = t.r;
  t.r = null;
  fix(t);
  splitL = t;
  splitR = merge(tail, right);
}

/**
 * erase deletes the text of every span of t: kept text becomes deleted,
 * inserted text is emptied. Only subtrees that hold text are visited, so
 * each span is visited once for all the deletions of a transaction, plus
 * the path to it.
 */
function erase(t) {
  if (t === null || t.sum === 0) return;
  erase(t.l);
  if (t.ins !== null) t.ins = '';
  else t.del = true;
  erase(t.r);
  fix(t);
}

/**
 * compose turns a sequence of positional changes into one delta from the
 * text before the first change to the text after the last.
 * @param {Array<{pos: number, insert: string, delete: number}>} changes
 * @returns {DeltaOp[]}
 */
export function compose(changes) {
  // A retain of "the rest" is implicit at the end; spans cover only the
  // prefix of the text the changes reached.
  /** @type {Span | null} */
  let root = null;
  const reach = (pos) => {
    const have = sumOf(root);
    if (pos > have) root = merge(root, new Span(pos - have, false, null));
  };
  for (const ch of changes) {
    if (ch.insert !== '') {
      reach(ch.pos);
      splitAt(root, ch.pos);
      root = merge(merge(splitL, new Span(0, false, ch.insert)), splitR);
    } else if (ch.delete > 0) {
      reach(ch.pos + ch.delete);
      splitAt(root, ch.pos);
      const before = splitL;
      splitAfter(splitR, ch.delete);
      const range = splitL;
      const after = splitR;
      erase(range);
      root = merge(merge(before, range), after);
    }
  }
  /** @type {any[]} */
  const out = [];
  const push = (kind, v) => {
    const last = out[out.length - 1];
    if (last !== undefined && kind in last) {
      last[kind] += v;
      return;
    }
    out.push({ [kind]: v });
  };
  // In-order walk, without recursion.
  const stack = [];
  for (let t = root; t !== null || stack.length > 0; ) {
    if (t !== null) {
      stack.push(t);
      t = t.l;
      continue;
    }
    const s = stack.pop();
    if (s.ins !== null) {
      if (s.ins.length > 0) push('insert', s.ins);
    } else if (s.del) push('delete', s.n);
    else push('retain', s.n);
    t = s.r;
  }
  while (out.length > 0 && 'retain' in out[out.length - 1]) out.pop();
  return out;
}

/**
 * notify calls each observer with ev. An observer that throws must not
 * stop the others nor undo or lose the transaction that called it (whose
 * update the caller still needs), so its error goes to report, the Doc's
 * onObserverError.
 * @template E
 * @param {Array<(ev: E) => void>} observers
 * @param {E} ev
 * @param {(err: unknown) => void} report
 */
export function notify(observers, ev, report) {
  for (const o of observers.slice()) {
    try {
      o(ev);
    } catch (e) {
      report(e);
    }
  }
}

/**
 * rethrowAsync is the default onObserverError: the error surfaces as an
 * uncaught exception, outside the transaction.
 * @param {unknown} e
 */
export function rethrowAsync(e) {
  queueMicrotask(() => {
    throw e;
  });
}
