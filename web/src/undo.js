// UndoManager: undo and redo of a Doc's local edits (Go: undo.go, with the
// same rules step for step; the cases of crdt/testdata/undo.json run on
// both).

import { Emitter } from './emitter.js';
import { KIND_TEXT, RICH_EMBED, RICH_NONE, RICH_START } from './item.js';
import { bytesEqual, valueOf } from './rich.js';
import { unitsOf } from './codec.js';

/** How close in time (ms) local edits must follow each other to be undone as one step, by default. */
export const DEFAULT_CAPTURE_TIMEOUT = 500;

/**
 * A StackItem is one step of undo or redo: the changes of one or more
 * local transactions, and the selection around them.
 *
 * selectionBefore and selectionAfter are for the editor binding: it sets
 * them when an edit adds an item (event.edit) and restores selectionBefore
 * when the item is popped, so the caret goes back to where the step began.
 * undo and redo fill them in on the items they add, swapped from the item
 * they took back. The manager never reads them, but before a popped event
 * it moves their anchors onto the text it brought back.
 */
export class StackItem {
  constructor() {
    /** @type {{text: string, anchor: any, head: any} | null} */
    this.selectionBefore = null;
    /** @type {{text: string, anchor: any, head: any} | null} */
    this.selectionAfter = null;
    /** Text code points inserted: {client, start, end} clock ranges. @type {Array<{client: number, start: number, end: number}>} */
    this.inserted = [];
    /** Text deleted, with its content. @type {Array<{text: any, client: number, clock: number, length: number, content: string}>} */
    this.deleted = [];
    /** Map keys written. @type {any[]} */
    this.writes = [];
    /**
     * Text formatted, with the values it had: length code points from
     * (client, clock) had value prev of key before a mark set it to set.
     * @type {Array<{text: any, client: number, clock: number, length: number, key: string, prev: Uint8Array | null, set: Uint8Array | null, rule: number}>}
     */
    this.formats = [];
  }

  /** addInserted adds a clock range, joining the last one when it continues it. */
  addInserted(client, start, end) {
    const last = this.inserted[this.inserted.length - 1];
    if (last !== undefined && last.client === client && last.end === start) last.end = end;
    else this.inserted.push({ client, start, end });
  }

  /**
   * addWrite adds a map write. A key written again within the item keeps
   * the value it had before the item's first write, which undo restores.
   */
  addWrite(w) {
    const x = this.writes.find((x) => x.map === w.map && x.key === w.key);
    if (x !== undefined) x.entry = w.entry;
    else this.writes.push(w);
  }

  /**
   * addDeleted adds a run of deleted text, joining the last one when r
   * continues it, both in clocks and in the text: a transaction deletes
   * item by item, and where one replica's items are split is not
   * another's, so what undo brings back must not depend on it.
   */
  addDeleted(r) {
    const last = this.deleted[this.deleted.length - 1];
    if (
      last !== undefined &&
      last.text === r.text &&
      last.client === r.client &&
      last.clock + last.length === r.clock &&
      !last.embed &&
      !r.embed &&
      continues(r.text.doc.clients.get(r.client), r.clock - 1)
    ) {
      this.deleted[this.deleted.length - 1] = { ...last, length: last.length + r.length, content: last.content + r.content };
      return;
    }
    this.deleted.push(r);
  }

  /** merge adds the changes of a later item. @param {StackItem} later */
  merge(later) {
    for (const r of later.inserted) this.addInserted(r.client, r.start, r.end);
    this.deleted.push(...later.deleted);
    this.formats.push(...later.formats);
    for (const w of later.writes) this.addWrite(w);
  }

  /**
   * notInserted returns the parts of deleted run r that this item did not
   * insert itself: text typed and deleted again within one step was never
   * there before it.
   */
  notInserted(r) {
    let out = [r];
    for (const ins of this.inserted) {
      if (ins.client !== r.client) continue;
      out = out.flatMap((x) => minus(x, ins.start, ins.end));
    }
    return out;
  }
}

/** minus returns the parts of deleted run r outside clocks [start, end) of its client. */
function minus(r, start, end) {
  const lo = r.clock;
  const hi = r.clock + r.length;
  if (end <= lo || start >= hi) return [r];
  const out = [];
  if (start > lo) out.push(slice(r, 0, start - lo));
  if (end < hi) out.push(slice(r, end - lo, r.length));
  return out;
}

/**
 * stretches cuts deleted run r where its code points do not follow each
 * other in the text, where something stands between them (text typed
 * there since, its tombstones, a mark's anchor), so that each stretch
 * comes back where it stood and what stands between stays between. Where
 * the items holding r happen to be split, which differs between replicas
 * and implementations, does not matter (Go: deletedRun.stretches).
 */
function stretches(r) {
  const c = r.text.doc.clients.get(r.client);
  const out = [];
  const end = r.clock + r.length;
  let from = r.clock;
  for (let clock = from; clock < end; ) {
    const it = c.find(clock);
    const stop = Math.min(end, it.clock + it.length);
    if (stop < end && !continues(c, stop - 1)) {
      out.push(slice(r, from - r.clock, stop - r.clock));
      from = stop;
    }
    clock = stop;
  }
  out.push(slice(r, from - r.clock, r.length));
  return out;
}

/**
 * continues reports whether code point clock+1 of client state c comes
 * right after code point clock in its text, with nothing between them.
 */
function continues(c, clock) {
  const it = c.find(clock);
  if (clock + 1 < it.clock + it.length) return true;
  const lf = it.leaf;
  const i = lf.items.indexOf(it);
  let nx = i + 1 < lf.items.length ? lf.items[i + 1] : null;
  for (let l = lf.next; nx === null && l !== null; l = l.next) if (l.items.length > 0) nx = l.items[0];
  return nx !== null && nx.client === c && nx.clock === clock + 1;
}

/** slice returns code points [from, to) of deleted run r. */
function slice(r, from, to) {
  const s = r.content;
  const i = s.length === r.length ? from : unitsOf(s, 0, from);
  const j = s.length === r.length ? to : i + unitsOf(s, i, to - from);
  return { text: r.text, client: r.client, clock: r.clock + from, length: to - from, content: s.slice(i, j), embed: r.embed };
}

/**
 * mapWrite describes a local write of key of map, which replaces entry cur
 * (undefined if none) with the entry at the next clock of me: what undo
 * needs to write the old value back.
 */
export function mapWrite(map, key, cur, me) {
  return {
    map,
    key,
    entry: { client: me.id, clock: me.next },
    prev: cur !== undefined && !cur.deleted ? cur.value : null,
    prevEntry: cur !== undefined ? { client: cur.item.client.id, clock: cur.item.clock } : null,
  };
}

/**
 * An UndoManager undoes and redoes the local edits of a Doc in a chosen
 * set of Texts and Maps, its scope, the way an editor's undo does, in a
 * document that others edit too: only this replica's own edits are taken
 * back, and edits that arrived from other replicas meanwhile stay.
 *
 * Every local transaction that changes the scope becomes a StackItem on
 * the undo stack, or joins the item on top when it follows the previous
 * edit within captureTimeout ms and stopCapturing was not called in
 * between. A new local edit clears the redo stack.
 *
 * undo and redo make ordinary local edits, whose updates go to other
 * replicas like any other (a Provider sends them): the update format knows
 * nothing of undo. Undoing an insertion deletes the inserted code points
 * still there; undoing a deletion inserts the deleted text again, as new
 * code points, each piece right where its tombstones stand (where a
 * relative position anchored to them resolves): one insertion per stretch
 * of one client's consecutive clocks with nothing between them in the
 * text, so that text typed into the gap since stays where it was typed,
 * and what is made never depends on how the replica's items happen to be
 * split; undoing a map set or delete writes the key's previous value back,
 * unless another replica has written the key since. redo takes back an
 * undo the same way. Text that another replica deleted is never brought
 * back: undo of a deletion restores only what this replica deleted, and
 * redo of an insertion only what undo deleted, so nothing comes back
 * twice.
 *
 * Items are tracked by the IDs of the code points and entries they touch,
 * so a manager keeps working when the Doc takes a new client ID.
 *
 * Events: 'stack-item-added', 'stack-item-updated' (an edit within the
 * capture timeout grew the top item) and 'stack-item-popped', each with
 * `{item, type: 'undo' | 'redo', edit}`: type is the stack the item is on
 * or came from, edit is true when a local edit (not undo or redo) added or
 * updated it.
 *
 * Give a Doc at most one manager per scope: a second one would record the
 * first one's undos as edits.
 */
export class UndoManager extends Emitter {
  /**
   * @param {any} scope a Text or SharedMap, or an array of them, all of one Doc
   * @param {{captureTimeout?: number, now?: () => number}} [options] captureTimeout: the longest pause (ms)
   *   between edits that are undone together, 500 by default, 0 or less for a step per transaction;
   *   now: the clock in ms, Date.now by default (tests set their own)
   */
  constructor(scope, options = {}) {
    super();
    const types = Array.isArray(scope) ? scope : [scope];
    if (types.length === 0) throw new TypeError('crdt: an UndoManager needs at least one Text or SharedMap');
    /** @type {import('./doc.js').Doc} */
    this.doc = types[0].doc;
    /** @type {Set<any>} */
    this.scope = new Set();
    for (const t of types) {
      if (t === null || typeof t !== 'object' || (t.typeKind !== 0 && t.typeKind !== 1)) {
        throw new TypeError('crdt: an UndoManager scope holds Texts and SharedMaps');
      }
      if (t.doc !== this.doc) throw new TypeError('crdt: an UndoManager scope spans several Docs');
      this.scope.add(t);
    }
    this.captureTimeout = options.captureTimeout ?? DEFAULT_CAPTURE_TIMEOUT;
    this.now = options.now ?? Date.now;
    /** @type {StackItem[]} */
    this.undoStack = [];
    /** @type {StackItem[]} */
    this.redoStack = [];
    /** When the last edit joined the undo stack; 0 makes the next edit start a new item. */
    this.lastChange = 0;
    /** The item undo or redo is taking back, and the stack it came from. @type {StackItem | null} */
    this.reverting = null;
    this.from = 'undo';
    /**
     * The deleted code points (and overwritten map entries) undo and redo
     * brought back, so that later steps find the copies.
     */
    this.moves = new MoveIndex();
    this.doc.undoers.push(this);
  }

  /** destroy stops the manager from recording edits, drops its stacks and listeners. */
  destroy() {
    const i = this.doc.undoers.indexOf(this);
    if (i >= 0) this.doc.undoers.splice(i, 1);
    this.clear();
    super.clear();
  }

  /** clear empties both stacks. */
  clear() {
    this.undoStack = [];
    this.redoStack = [];
    this.moves = new MoveIndex();
    this.lastChange = 0;
  }

  /**
   * stopCapturing makes the next local edit start a new item, however
   * soon it comes: a binding calls it at a boundary the user sees.
   */
  stopCapturing() {
    this.lastChange = 0;
  }

  /** canUndo reports whether the undo stack holds an item. */
  canUndo() {
    return this.undoStack.length > 0;
  }

  /** canRedo reports whether the redo stack holds an item. */
  canRedo() {
    return this.redoStack.length > 0;
  }

  /**
   * undo takes back the item on top of the undo stack and moves it to the
   * redo stack; it returns whether it changed anything. An item whose
   * changes are all gone already (others deleted everything it inserted,
   * say) is dropped, and the next one is tried. Inside `doc.transact` it
   * does nothing and returns false.
   * @returns {boolean}
   */
  undo() {
    return this.pop('undo');
  }

  /** redo takes back the last undo, as undo does with edits. @returns {boolean} */
  redo() {
    return this.pop('redo');
  }

  pop(from) {
    if (this.doc.txn !== null) return false;
    const stack = from === 'undo' ? this.undoStack : this.redoStack;
    while (stack.length > 0) {
      const item = stack.pop();
      this.reverting = item;
      this.from = from;
      let changed = false;
      try {
        this.doc.transact(() => {
          changed = this.revert(item);
        });
      } finally {
        this.reverting = null;
      }
      if (changed) {
        this.lastChange = 0;
        item.selectionBefore = this.followSelection(item.selectionBefore);
        item.selectionAfter = this.followSelection(item.selectionAfter);
        this.emit('stack-item-popped', { item, type: from, edit: false });
        return true;
      }
    }
    return false;
  }

  /** revert takes back the changes of item inside the open transaction and reports whether it changed anything. */
  revert(item) {
    const d = this.doc;
    let changed = false;
    // Delete what the item inserted and is still there, or came back
    // since: find every piece first, then delete from the end, so that
    // positions stay right.
    let pieces = [];
    for (const r of item.inserted) this.visible(r.client, r.start, r.end, pieces);
    pieces = joinRuns(sortPieces(pieces));
    for (let i = pieces.length - 1; i >= 0; i--) {
      pieces[i].text.delete(pieces[i].pos, pieces[i].n);
      changed = true;
    }
    // Bring back what it deleted, but not what it had inserted itself.
    for (let i = item.deleted.length - 1; i >= 0; i--) {
      for (const piece of item.notInserted(item.deleted[i])) {
        for (const r of stretches(piece)) {
          const to = { client: d.me.id, clock: d.me.next };
          insertBefore(r.text, r.client, r.clock, r.content, r.length, r.embed);
          this.moves.add({ client: r.client, start: r.clock, end: r.clock + r.length, to });
          changed = true;
        }
      }
    }
    // Give back the values formats replaced, latest first.
    for (let i = item.formats.length - 1; i >= 0; i--) if (this.restore(item.formats[i])) changed = true;
    for (let i = item.writes.length - 1; i >= 0; i--) {
      const w = item.writes[i];
      const e = w.map.entries.get(w.key);
      if (e === undefined) continue;
      const want = this.followID(w.entry.client, w.entry.clock);
      if (e.item.client.id !== want.client || e.item.clock !== want.clock) continue; // written since by another replica
      const to = { client: d.me.id, clock: d.me.next };
      if (w.prev !== null) w.map.write(w.key, w.prev, false);
      else if (!e.deleted) w.map.write(w.key, null, true);
      else continue;
      if (w.prevEntry !== null) {
        // The value is back, as a new entry: a step that wrote the key
        // before this one finds it there.
        this.moves.add({ client: w.prevEntry.client, start: w.prevEntry.clock, end: w.prevEntry.clock + 1, to });
      }
      changed = true;
    }
    return changed;
  }

  /**
   * restore sets the key of the characters format run r names, or of the
   * copies undo or redo made of them, back to the value they had before
   * r's mark, where they still have the value it set: where another
   * replica has set the key since, its value stays. It reports whether it
   * made a mark (Go: UndoManager.restore).
   */
  restore(r) {
    let made = false;
    const pieces = [];
    this.visible(r.client, r.clock, r.clock + r.length, pieces);
    for (const p of joinPieces(pieces)) {
      let at = p.pos;
      let from = -1;
      const end = () => {
        if (from >= 0) {
          p.text._format(from, at - from, r.key, r.prev, r.rule);
          from = -1;
          made = true;
        }
      };
      p.text.walkRange(p.pos, p.n, (it, lo, hi, _, attrs) => {
        at = lo;
        if (!bytesEqual(valueOf(attrs, r.key), r.set)) end();
        else if (from < 0) from = lo;
        at = hi;
      });
      end();
    }
    return made;
  }





  /**
   * visible appends to out the visible pieces ({text, pos, n} in UTF-16
   * units) of clocks [start, end) of client: those still there, and the
   * copies undo or redo made of those deleted.
   */
  visible(client, start, end, out) {
    const c = this.doc.clients.get(client);
    for (let clock = start; clock < end; ) {
      const it = c.find(clock);
      const stop = Math.min(end, it.clock + it.length);
      if (it.kind === KIND_TEXT && it.rich < RICH_START) {
        if (!it.deleted) {
          const s = it.content;
          const plain = s.length === it.length;
          const off = plain ? clock - it.clock : unitsOf(s, 0, clock - it.clock);
          const n = plain ? stop - clock : unitsOf(s, off, stop - clock);
          out.push({ text: it.leaf.t, pos: it.leaf.t.posOf(it) + off, n, client, clock, cps: stop - clock });
        } else {
          for (const m of this.moves.overlapping(client, clock, stop)) {
            const lo = Math.max(m.start, clock);
            const hi = Math.min(m.end, stop);
            const to = m.to.clock + lo - m.start;
            this.visible(m.to.client, to, to + hi - lo, out);
          }
        }
      }
      clock = stop;
    }
  }

  /**
   * followID returns the ID of the copy undo or redo made of the code
   * point or map entry (client, clock), if they brought it back after it
   * was deleted or overwritten, and that ID itself otherwise.
   */
  followID(client, clock) {
    for (;;) {
      const m = this.moves.overlapping(client, clock, clock + 1)[0];
      if (m === undefined) return { client, clock };
      clock = m.to.clock + clock - m.start;
      client = m.to.client;
    }
  }

  /** follow returns relative position p anchored to the copy undo or redo made of its character, if any. */
  follow(p) {
    if (p === null || typeof p !== 'object' || p.client === null || p.client === undefined) return p;
    const id = this.followID(p.client, p.clock);
    return { ...p, client: id.client, clock: id.clock };
  }

  /** followSelection returns selection s with both ends followed. */
  followSelection(s) {
    if (s === null || s === undefined) return null;
    return { ...s, anchor: this.follow(s.anchor), head: this.follow(s.head) };
  }

  /**
   * record turns what a local transaction did in the scope (capture, and
   * clocks [start, end) of client state c) into a stack item, or into more
   * of the item on top. The Doc calls it when the transaction ends.
   */
  record(capture, c, start, end) {
    const item = new StackItem();
    for (let clock = start; clock < end; ) {
      const it = c.find(clock);
      const stop = Math.min(end, it.clock + it.length);
      if (it.kind === KIND_TEXT && this.scope.has(it.leaf.t)) item.addInserted(c.id, clock, stop);
      clock = stop;
    }
    for (const r of capture.deletes) if (this.scope.has(r.text)) item.addDeleted(r);
    for (const w of capture.writes) if (this.scope.has(w.map)) item.addWrite(w);
    for (const f of capture.formats) if (this.scope.has(f.text)) item.formats.push(f);
    if (item.inserted.length === 0 && item.deleted.length === 0 && item.writes.length === 0 && item.formats.length === 0) return;
    const r = this.reverting;
    if (r !== null) {
      // An undo or redo: its item goes on the other stack, and the
      // selection goes back and forth between the two.
      item.selectionBefore = this.followSelection(r.selectionAfter);
      item.selectionAfter = this.followSelection(r.selectionBefore);
      const to = this.from === 'undo' ? 'redo' : 'undo';
      (to === 'undo' ? this.undoStack : this.redoStack).push(item);
      this.emit('stack-item-added', { item, type: to, edit: false });
      return;
    }
    const now = this.now();
    this.redoStack = [];
    const merge = this.undoStack.length > 0 && this.lastChange !== 0 && this.captureTimeout > 0 && now - this.lastChange < this.captureTimeout;
    this.lastChange = now;
    if (merge) {
      const top = this.undoStack[this.undoStack.length - 1];
      top.merge(item);
      this.emit('stack-item-updated', { item: top, type: 'undo', edit: true });
      return;
    }
    this.undoStack.push(item);
    this.emit('stack-item-added', { item, type: 'undo', edit: true });
  }
}

/** compareMoves orders moves by client, then first clock. */
function compareMoves(a, b) {
  return a.client - b.client || a.start - b.start;
}

/**
 * A MoveIndex finds moves by the clocks they moved, which never overlap (a
 * code point is deleted, and so brought back, at most once): sorted by
 * client and first clock, plus the newest few unsorted, merged in once they
 * outnumber the square root of the rest. Adding and finding then stay cheap
 * however many steps a session undoes.
 */
class MoveIndex {
  constructor() {
    /** @type {Array<{client: number, start: number, end: number, to: {client: number, clock: number}}>} */
    this.sorted = [];
    this.recent = [];
  }

  add(m) {
    this.recent.push(m);
    if (this.recent.length * this.recent.length <= Math.max(this.sorted.length, 1024)) return;
    const r = this.recent.sort(compareMoves);
    const s = this.sorted;
    const merged = [];
    let i = 0;
    let j = 0;
    while (i < s.length && j < r.length) merged.push(compareMoves(s[i], r[j]) < 0 ? s[i++] : r[j++]);
    while (i < s.length) merged.push(s[i++]);
    while (j < r.length) merged.push(r[j++]);
    this.sorted = merged;
    this.recent = [];
  }

  /** overlapping returns the moves of clocks of client that overlap [start, end). */
  overlapping(client, start, end) {
    const out = [];
    const s = this.sorted;
    // The last move starting at or before (client, start): the one before
    // the first that starts after it.
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (s[mid].client < client || (s[mid].client === client && s[mid].start <= start)) lo = mid + 1;
      else hi = mid;
    }
    for (let i = Math.max(0, lo - 1); i < s.length; i++) {
      const m = s[i];
      if (m.client > client || (m.client === client && m.start >= end)) break;
      if (m.client === client && m.end > start) out.push(m);
    }
    for (const m of this.recent) if (m.client === client && m.start < end && m.end > start) out.push(m);
    return out;
  }
}

/**
 * insertBefore inserts s (n code points), or an embed holding embed when
 * not null, as a local edit right before the
 * code point (client, clock) of text, which may be deleted: a deleted
 * piece of text comes back where its tombstones stand, ahead of any text
 * inserted after them since.
 */
function insertBefore(text, client, clock, s, n, embed) {
  const d = text.doc;
  let it = d.clients.get(client).find(clock);
  if (clock > it.clock) it = text.split(it, clock - it.clock);
  const lf = it.leaf;
  const i = lf.items.indexOf(it);
  const leftItem = text.prev(lf, i);
  let lc = null;
  let lk = 0;
  if (leftItem !== null) {
    lc = leftItem.client;
    lk = leftItem.clock + leftItem.length - 1;
  }
  if (embed) text.place(d.me, 1, leftItem, lc, lk, it.client, it.clock, lf, i, '\uFFFC', RICH_EMBED, embed);
  else text.place(d.me, n, leftItem, lc, lk, it.client, it.clock, lf, i, s, RICH_NONE, null);
}

/**
 * sortPieces sorts pieces by text, in the order the texts first appear,
 * then by position (Go: sortPieces).
 */
function sortPieces(pieces) {
  const rank = new Map();
  for (const p of pieces) if (!rank.has(p.text)) rank.set(p.text, rank.size);
  return pieces.sort((a, b) => (a.text !== b.text ? rank.get(a.text) - rank.get(b.text) : a.pos - b.pos));
}

/**
 * joinRuns joins sorted pieces that are one run: consecutive clocks of one
 * client with nothing between them in the text. The deletions made of
 * them, and so what a redo brings back, are then the same whatever the
 * items they came from (Go: joinRuns).
 */
function joinRuns(pieces) {
  const out = [];
  for (const p of pieces) {
    const last = out[out.length - 1];
    if (
      last !== undefined &&
      last.text === p.text &&
      last.pos + last.n === p.pos &&
      last.client === p.client &&
      last.clock + last.cps === p.clock &&
      continues(p.text.doc.clients.get(p.client), p.clock - 1)
    ) {
      last.n += p.n;
      last.cps += p.cps;
    } else out.push({ ...p });
  }
  return out;
}

/**
 * joinPieces joins pieces that follow each other in their text, so that
 * what is made of them does not depend on where items are split, which
 * differs between replicas and implementations (Go: joinPieces).
 * @param {Array<{text: any, pos: number, n: number}>} pieces
 */
function joinPieces(pieces) {
  const out = [];
  for (const p of pieces) {
    const last = out[out.length - 1];
    if (last !== undefined && last.text === p.text && last.pos + last.n === p.pos) last.n += p.n;
    else out.push({ ...p });
  }
  return out;
}
