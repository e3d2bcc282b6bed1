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
 * A span is a piece of a delta being built: n units kept from the old
 * text (ins null, del false), removed from it (del), or inserted (ins).
 */
class Span {
  constructor(n, del, ins) {
    this.n = n;
    this.del = del;
    /** @type {string | null} */
    this.ins = ins;
  }
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
  let spans = [];
  for (const ch of changes) {
    if (ch.insert !== '') insertSpan(spans, ch.pos, ch.insert);
    else if (ch.delete > 0) deleteSpan(spans, ch.pos, ch.delete);
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
  for (const s of spans) {
    if (s.ins !== null) {
      if (s.ins.length > 0) push('insert', s.ins);
    } else if (s.del) push('delete', s.n);
    else push('retain', s.n);
  }
  while (out.length > 0 && 'retain' in out[out.length - 1]) out.pop();
  return out;
}

/**
 * seekSpan splits spans so that a span boundary falls at new-text position
 * pos and returns the index of the first span at or after it. Positions
 * past the covered prefix extend it with a kept span.
 */
function seekSpan(spans, pos) {
  let p = 0;
  for (let i = 0; i < spans.length; i++) {
    const s = spans[i];
    if (s.del) continue;
    const n = s.ins !== null ? s.ins.length : s.n;
    if (pos === p) return i;
    if (pos < p + n) {
      const k = pos - p;
      let a, b;
      if (s.ins !== null) {
        a = new Span(0, false, s.ins.slice(0, k));
        b = new Span(0, false, s.ins.slice(k));
      } else {
        a = new Span(k, false, null);
        b = new Span(n - k, false, null);
      }
      spans.splice(i, 1, a, b);
      return i + 1;
    }
    p += n;
  }
  if (pos > p) spans.push(new Span(pos - p, false, null));
  return spans.length;
}

function insertSpan(spans, pos, ins) {
  const i = seekSpan(spans, pos);
  spans.splice(i, 0, new Span(0, false, ins));
}

function deleteSpan(spans, pos, n) {
  let i = seekSpan(spans, pos);
  seekSpan(spans, pos + n);
  for (; n > 0 && i < spans.length; i++) {
    const s = spans[i];
    if (s.del) continue;
    if (s.ins !== null) {
      n -= s.ins.length;
      s.ins = '';
    } else {
      n -= s.n;
      s.del = true;
    }
  }
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
