// Items and per-client state: the storage of a Doc (Go: item.go).

/** Item kinds: what an item holds. */
export const KIND_TEXT = 0; // a run of code points in a Text
export const KIND_MAP = 1; // one Map entry (always length 1)
export const KIND_SKIP = 2; // clocks that carry nothing any more (superseded map entries)

/**
 * What a text item holds (crdt/RICH.md §R1): code points, or one clock of
 * rich content. Anchors are invisible: their content is '' and they are
 * never deleted; an embed's content is U+FFFC while it is live.
 */
export const RICH_NONE = 0; // a run of code points
export const RICH_EMBED = 1; // one embedded value
export const RICH_START = 2; // the start anchor of a mark
export const RICH_END = 3; // the end anchor of a mark

/**
 * An Item is a piece of one client's clock range [clock, clock+length).
 *
 * Text items are also pieces of their Text's sequence: they sit in a leaf
 * of the Text's two-level list, in document order. A run typed in one go is
 * one item until an insertion or deletion inside it splits it; the pieces
 * of a split stay chained in clock order through `next`.
 *
 * Origins are stored as (client state, clock) pairs, with a null client for
 * "none", rather than as objects: items are the bulk of a document's
 * memory, and comparing two origins is then two comparisons.
 */
export class Item {
  /**
   * @param {number} clock
   * @param {number} length clocks (code points for text)
   * @param {ClientState} client
   * @param {number} kind
   */
  constructor(clock, length, client, kind) {
    this.clock = clock;
    this.length = length;
    /** @type {ClientState} */
    this.client = client;
    /** @type {Item | null} next piece in clock order within the same head's chain */
    this.next = null;
    /** @type {any} the Leaf holding a text item */
    this.leaf = null;
    // The left origin is that of the first code point; later code points
    // have their predecessor as left origin. The right origin is shared.
    /** @type {ClientState | null} */
    this.leftClient = null;
    this.leftClock = 0;
    /** @type {ClientState | null} */
    this.rightClient = null;
    this.rightClock = 0;
    /**
     * The item's text while it is live (UTF-16, `length` code points);
     * null once deleted: tombstones keep their IDs, not their text.
     * @type {string | null}
     */
    this.content = null;
    this.kind = kind;
    this.deleted = false;
    /**
     * @type {any} the winning MapEntry of a map item; for rich text items,
     * the Mark of a start anchor, the start anchor Item of an end anchor,
     * or the msgpack value (Uint8Array, null once forgotten) of an embed
     */
    this.entry = null;
    /** What a text item holds: RICH_NONE, RICH_EMBED, RICH_START or RICH_END. */
    this.rich = RICH_NONE;
  }

  /** visible is the number of UTF-16 units the item contributes to its text. */
  visible() {
    return this.deleted ? 0 : this.content.length;
  }
}

/**
 * PendingRanges holds one client's delete ranges whose clocks have not all
 * arrived: merged ranges in ascending order, plus ranges added since they
 * were last merged in. Merging in batches keeps both repeated and
 * reverse-ordered deletions at O(log n) amortized per range, where keeping
 * a plain list and trying every range again on every update cost
 * O(ranges) per update.
 */
export class PendingRanges {
  constructor() {
    /** @type {number[]} merged ranges, flat [start, end, …], ascending */
    this.merged = [];
    /** @type {number[]} ranges added since the last merge, flat */
    this.recent = [];
    /** The lowest start of all ranges. */
    this.low = 0;
  }

  /** The number of ranges held. */
  get size() {
    return (this.merged.length + this.recent.length) / 2;
  }

  /** covers reports whether the merged ranges hold all of [start, end). */
  covers(start, end) {
    const m = this.merged;
    // The first merged range that ends after start.
    let lo = 0;
    let hi = m.length / 2;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (m[2 * mid + 1] <= start) lo = mid + 1;
      else hi = mid;
    }
    return 2 * lo < m.length && m[2 * lo] <= start && end <= m[2 * lo + 1];
  }

  /** add holds [start, end) unless the merged ranges cover it. */
  add(start, end) {
    if (this.covers(start, end)) return;
    if (this.size === 0 || start < this.low) this.low = start;
    this.recent.push(start, end);
    if (this.recent.length / 2 > 64 + this.merged.length / 8) this.merge();
  }

  merge() {
    if (this.recent.length === 0) return;
    const all = [];
    for (const f of [this.merged, this.recent]) for (let i = 0; i < f.length; i += 2) all.push([f[i], f[i + 1]]);
    all.sort((a, b) => a[0] - b[0]);
    const out = [];
    for (const [s, e] of all) {
      const n = out.length;
      if (n > 0 && s <= out[n - 1]) out[n - 1] = Math.max(out[n - 1], e);
      else out.push(s, e);
    }
    this.merged = out;
    this.recent = [];
  }

  /**
   * takeBelow removes and returns the parts of the ranges below clock,
   * flat [start, end, …] in ascending order.
   * @param {number} clock
   * @returns {number[]}
   */
  takeBelow(clock) {
    this.merge();
    const m = this.merged;
    const out = [];
    let k = 0;
    for (; k < m.length && m[k] < clock; k += 2) {
      if (m[k + 1] > clock) {
        out.push(m[k], clock);
        m[k] = clock;
        break;
      }
      out.push(m[k], m[k + 1]);
    }
    this.merged = m.slice(k);
    if (this.merged.length > 0) this.low = this.merged[0];
    return out;
  }
}

/**
 * MAX_CHAIN is the longest walk along a chain of pieces that find accepts
 * before it cuts the chain into shorter ones. A run typed in one go and
 * then split by many insertions is one head with a long chain; without the
 * cut, every lookup of its clocks would walk the chain, which can be as
 * long as the text.
 */
const MAX_CHAIN = 16;

/** spliceIn inserts the elements of xs into a at index i, in place. */
function spliceIn(a, i, xs) {
  // Spread in slices: an argument list has a bounded length.
  for (let k = 0; k < xs.length; k += 4096) a.splice(i + k, 0, ...xs.slice(k, k + 4096));
}

/** ClientState is everything a Doc knows of one client. */
export class ClientState {
  /** @param {number} id */
  constructor(id) {
    this.id = id;
    /** next is the next clock expected: clocks [0, next) are integrated. */
    this.next = 0;
    /**
     * heads are items in ascending clock order; each starts a chain of
     * pieces (through item.next) covering the clocks up to the next head.
     * @type {Item[]}
     */
    this.heads = [];
    /** headClocks holds the first clock of each head, for binary search. @type {number[]} */
    this.headClocks = [];
    /**
     * pending holds decoded records waiting for dependencies, by clock and
     * then in order of arrival; no two are identical. @type {any[]}
     */
    this.pending = [];
    /** Deletions of clocks not all integrated yet. @type {PendingRanges | null} */
    this.pendingDeletes = null;
    /**
     * hint and hint2 are the indexes of the heads the last two searches of
     * find landed on: lookups cluster, and validation and integration look
     * up the same two origins of a record in turn.
     */
    this.hint = 0;
    this.hint2 = 0;
    // Marks of the Doc's retry lists: in Doc.retry; in Doc.advanced;
    // listed in Doc.waiters under waitsFor.
    this.inRetry = false;
    this.advanced = false;
    this.waiting = false;
    this.waitsFor = 0;
  }

  /** addHead appends a new newest head. @param {Item} it */
  addHead(it) {
    this.heads.push(it);
    this.headClocks.push(it.clock);
  }

  /** popHead removes the newest head, which was merged into the item before it. */
  popHead() {
    this.heads.pop();
    this.headClocks.pop();
  }

  /**
   * pendingOverlapping calls fn with each pending record that covers a
   * clock of [lo, end). Pending records are sorted by clock but may
   * overlap each other (each agreed with the others when it came), so
   * every one starting before end is looked at.
   * @param {number} lo
   * @param {number} end
   * @param {(r: any) => void} fn
   */
  pendingOverlapping(lo, end, fn) {
    const p = this.pending;
    let n = p.length;
    if (n > 0 && p[n - 1].clock >= end) {
      // The first record starting at or after end.
      let a = 0;
      while (a < n) {
        const mid = (a + n) >>> 1;
        if (p[mid].clock < end) a = mid + 1;
        else n = mid;
      }
    }
    for (let i = 0; i < n; i++) if (p[i].clock + p[i].length > lo) fn(p[i]);
  }

  /**
   * find returns the item holding clock, which must be below next.
   * @param {number} clock
   * @returns {Item}
   */
  find(clock) {
    const h = this.headClocks;
    let i = h.length - 1;
    if (h[i] > clock) {
      const j = this.hint;
      const j2 = this.hint2;
      if (j < i && h[j] <= clock && h[j + 1] > clock) i = j;
      else if (j2 < i && h[j2] <= clock && h[j2 + 1] > clock) i = j2;
      else {
        i = this.search(clock);
        this.hint2 = this.hint;
        this.hint = i;
      }
    }
    let it = this.heads[i];
    let steps = 0;
    while (it.clock + it.length <= clock) {
      it = it.next;
      steps++;
    }
    if (steps > MAX_CHAIN) this.promote(i, it);
    return it;
  }

  /**
   * search returns the index of the last head that starts at or before
   * clock. Clocks spread over the heads about evenly, so a few guesses by
   * interpolation land next to the answer with a cache miss each, where a
   * binary search over a large document's heads would take a dozen; a
   * binary search of what is left keeps the worst case logarithmic.
   */
  search(clock) {
    const h = this.headClocks;
    let lo = 0; // h[lo] <= clock (h[0] is 0), and the answer is in [lo, hi]
    let hi = h.length - 1;
    for (let k = 0; k < 3; k++) {
      if (lo === hi) return lo;
      let m = hi;
      const span = h[hi] - h[lo];
      if (clock - h[lo] < span) m = lo + Math.floor(((clock - h[lo]) / span) * (hi - lo));
      if (h[m] > clock) {
        hi = m - 1;
        continue;
      }
      if (m === hi || h[m + 1] > clock) return m;
      lo = m + 1;
    }
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (h[mid] <= clock) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /**
   * promote cuts the chain of heads[i], up to and including target, into
   * chains of MAX_CHAIN / 2 pieces, each a head of its own, so that find
   * walks at most that many pieces there from now on. Its cost, one
   * insertion into heads, is paid for by the walk that found the chain
   * long.
   */
  promote(i, target) {
    const cut = [];
    let prev = this.heads[i];
    let n = 0;
    for (let it = prev.next; prev !== target; prev = it, it = it.next) {
      if (++n % (MAX_CHAIN / 2) === 0) {
        prev.next = null;
        cut.push(it);
      }
    }
    // In place: copying heads, which a large document holds by the
    // hundred thousand, made each promotion an allocation of its size.
    const clocks = new Array(cut.length);
    for (let k = 0; k < cut.length; k++) clocks[k] = cut[k].clock;
    spliceIn(this.heads, i + 1, cut);
    spliceIn(this.headClocks, i + 1, clocks);
    this.hint = i + cut.length;
  }
}
