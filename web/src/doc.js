// Doc: one replica of a collaborative document (Go: document.go).
//
// Everything here follows FORMAT.md §5–§9 and the Go implementation step by
// step, so that both produce the same bytes and the same documents: local
// transactions and their updates, Apply (decode, validate, integrate,
// pending records and deletions), state vectors, Diff and Snapshot.

import { ClientState, KIND_MAP, KIND_SKIP, KIND_TEXT, Item, PendingRanges, RICH_EMBED, RICH_END, RICH_NONE, RICH_START } from './item.js';
import { Mark } from './rich.js';
import { MAX_CLIENT_ID, SWITCH_CLOCK, isClientID, randomClientID } from './id.js';
import { InvalidUpdateError, TooMuchPendingError } from './errors.js';
import { Decoded, Encoder, MAX_NAME_BYTES, appendDeleted, decodeUpdate } from './update.js';
import { Loader, Text, deleteRange } from './text.js';
import { SharedMap } from './map.js';
import { compareCodePoints, unitsOf, utf8Length, wellFormed } from './codec.js';
import { decodeStateVector } from './statevector.js';
import { notify, rethrowAsync } from './events.js';

/**
 * MAX_PENDING_BYTES bounds the changes a Doc holds as pending (received,
 * but waiting for changes they depend on), as in Go (MaxPendingBytes):
 * records count their content, key and value bytes plus 160, delete ranges
 * 32 each. An update whose pending part would take a Doc past it is
 * refused with a TooMuchPendingError; identical pending records and
 * delete ranges already held count once.
 */
export const MAX_PENDING_BYTES = 16 * 1024 * 1024;

const PENDING_RECORD_COST = 160;
const PENDING_RANGE_COST = 32;

// Integration outcomes.
const INTEGRATED = 0; // in the document (or already was)
const BLOCKED = 1; // waits for a missing dependency
const DROPPED = 2; // refers to something it may not; discarded

/** Txn collects what one transaction (local edits or one apply) changed. */
class Txn {
  constructor(local, start) {
    this.local = local;
    this.quiet = false; // produce no update (change)
    this.quietDeletes = false; // a quiet transaction deleted something
    this.start = start; // me.next when a local transaction began
    /** @type {Array<{c: ClientState, start: number, end: number}>} local deletions, for the update */
    this.deletes = [];
    /** @type {Text[]} observed texts with recorded changes */
    this.texts = [];
    /** @type {SharedMap[]} observed maps with changed keys */
    this.maps = [];
    /** What an UndoManager needs of a local transaction, when there is one (undo.js). @type {any} */
    this.capture = null;
  }

  addDelete(c, clock, n) {
    const last = this.deletes[this.deletes.length - 1];
    if (last !== undefined && last.c === c && last.end === clock) {
      last.end += n;
      return;
    }
    this.deletes.push({ c, start: clock, end: clock + n });
  }
}

/**
 * A Doc is one replica of a collaborative document: named Texts and Maps
 * that converge with every other replica that has seen the same updates,
 * in whatever order they arrived. It speaks the byte format of the Go
 * package crdt (FORMAT.md), bit for bit.
 */
export class Doc {
  /**
   * @param {{clientID?: number, onObserverError?: (err: unknown) => void}} [options] clientID: this replica's client
   *   ID, an integer in [0, 2^53 − 1]; random by default. Two replicas must
   *   never share one. onObserverError: receives what an observer throws;
   *   by default it is rethrown asynchronously (an uncaught exception), so
   *   that a failing observer neither stops the others nor loses the
   *   update of the edit that called it.
   */
  constructor(options = {}) {
    const id = options.clientID ?? randomClientID();
    if (!isClientID(id)) throw new RangeError(`crdt: client ID must be an integer in [0, ${MAX_CLIENT_ID}]`);
    /** @type {Map<number, ClientState>} */
    this.clients = new Map();
    /** The state known last returned. @type {ClientState | null} */
    this.lastClient = null;
    /** @type {Map<string, Text>} */
    this.texts = new Map();
    /** @type {Map<string, SharedMap>} */
    this.maps = new Map();
    /** @type {Txn | null} */
    this.txn = null;
    /** @type {Txn | undefined} the storage behind txn */
    this.tx = undefined;
    this.me = this.client(id);
    /**
     * foreignOwn is set when an applied update wrote clocks under this
     * replica's client ID that it had not made: another history of that ID
     * exists, so the next local edit moves to a fresh one (FORMAT.md §6.5).
     */
    this.foreignOwn = false;
    /** How many clients have pending records. */
    this.pendingClients = 0;
    /** How many clients have deletions of clocks not yet seen (ClientState.pendingDeletes). */
    this.deleteClients = 0;
    /**
     * The clients retryPending tries: those that received pending records,
     * and those whose lowest pending record waits for a client that
     * advanced. Go: Doc.retry, a stack. @type {ClientState[]}
     */
    this.retry = [];
    /** waiters maps a client ID to the clients whose lowest pending record waits for it. @type {Map<number, ClientState[]>} */
    this.waiters = new Map();
    /** Clients whose clock moved since retryPending last ran, while deletions are pending. @type {ClientState[]} */
    this.advanced = [];
    /** What the pending records and delete ranges count against MAX_PENDING_BYTES. */
    this.pendingBytes = 0;
    this.enc = new Encoder();
    /** The text the last update named: updates nearly always name it again. */
    this.lastText = null;
    /** Scratch arrays of integrateUpdate and pendingCost, one element per block of an update. */
    this.curC = [];
    this.curI = [];
    this.curN = [];
    /** The Loader of the Text integrateUpdate fills as a list, if any (text.js). @type {Loader | null} */
    this.loading = null;
    /** The Decoded that apply decodes updates into, null while in use. @type {Decoded | null} */
    this.decoded = new Decoded();
    /** @type {(err: unknown) => void} */
    this.onObserverError = options.onObserverError ?? rethrowAsync;
    if (typeof this.onObserverError !== 'function') throw new TypeError('crdt: onObserverError must be a function');
    /** Listeners of local updates (onLocalUpdate). @type {Array<(update: Uint8Array | null) => void>} */
    this.updateListeners = [];
    /** The UndoManagers told of every local transaction (undo.js). @type {any[]} */
    this.undoers = [];
  }

  /**
   * onLocalUpdate calls fn after every local transaction that changed the
   * document, with its update, before the Text and Map observers run; it
   * returns a function that stops the calls. The update is null for
   * `change`, which makes none: the listener then sends `diff` of what its
   * peer has. Applied updates do not call it, so a provider that sends what
   * it hears here never echoes what it received.
   * @param {(update: Uint8Array | null) => void} fn
   * @returns {() => void}
   */
  onLocalUpdate(fn) {
    if (typeof fn !== 'function') throw new TypeError('crdt: onLocalUpdate needs a function');
    const o = (u) => fn(u);
    this.updateListeners.push(o);
    return () => {
      const i = this.updateListeners.indexOf(o);
      if (i >= 0) this.updateListeners.splice(i, 1);
    };
  }

  /**
   * The client ID this replica's local edits carry. It changes, before the
   * next local edit, when the document has applied changes under its ID
   * that it did not make (another copy of this replica, say one restored
   * from an older snapshot, wrote them) or when its clock nears 2^53
   * (FORMAT.md §6.5).
   * @type {number}
   */
  get clientID() {
    return this.me.id;
  }

  /**
   * resumeClientID makes id the client ID of the following local edits,
   * as for a replica restored from storage that goes on under its old ID.
   * The caller asserts that the document holds everything ever written
   * under id: if another copy wrote more, the two histories conflict and
   * replicas refuse one of them. Without this call a restored document
   * applying its own old changes moves to a fresh ID by itself.
   * @param {number} id an integer in [0, 2^53 − 1]
   */
  resumeClientID(id) {
    if (!isClientID(id)) throw new RangeError(`crdt: client ID must be an integer in [0, ${MAX_CLIENT_ID}]`);
    if (this.txn !== null) throw new Error('crdt: resumeClientID called inside transact');
    this.me = this.client(id);
    this.foreignOwn = false;
  }

  /**
   * switchClientID moves local edits to a fresh random client ID that the
   * document knows nothing of.
   */
  switchClientID() {
    let id = randomClientID();
    while (this.clients.has(id)) id = randomClientID();
    this.me = this.client(id);
    this.foreignOwn = false;
  }

  /**
   * known returns the state of client id, or undefined if the document
   * knows nothing of it. The last answer is kept: the lookups of an update
   * (its blocks, the origins of its records) nearly all name one client,
   * and clients are never forgotten.
   * @returns {ClientState | undefined}
   */
  known(id) {
    const last = this.lastClient;
    if (last !== null && last.id === id) return last;
    const c = this.clients.get(id);
    if (c !== undefined) this.lastClient = c;
    return c;
  }

  /** client returns the state of client id, creating it if needed. */
  client(id) {
    let c = this.known(id);
    if (c === undefined) {
      c = new ClientState(id);
      this.clients.set(id, c);
    }
    return c;
  }

  /**
   * getText returns the Text with the given name, creating it if needed.
   * @param {string} name valid Unicode of at most 1024 UTF-8 bytes
   * @returns {Text}
   */
  getText(name) {
    let t = this.texts.get(name);
    if (t === undefined) {
      checkName(name);
      t = new Text(this, name);
      this.texts.set(name, t);
    }
    return t;
  }

  /**
   * getMap returns the Map with the given name, creating it if needed. A
   * Text and a Map may share a name and are unrelated.
   * @param {string} name valid Unicode of at most 1024 UTF-8 bytes
   * @returns {SharedMap}
   */
  getMap(name) {
    let m = this.maps.get(name);
    if (m === undefined) {
      checkName(name);
      m = new SharedMap(this, name);
      this.maps.set(name, m);
    }
    return m;
  }

  /** textNames returns the names of the document's texts, sorted by code point. @returns {string[]} */
  textNames() {
    return [...this.texts.keys()].sort(compareCodePoints);
  }

  /** mapNames returns the names of the document's maps, sorted by code point. @returns {string[]} */
  mapNames() {
    return [...this.maps.keys()].sort(compareCodePoints);
  }

  /**
   * stateVector returns, for every client whose changes the document holds,
   * the next clock it expects from that client.
   * @returns {Map<number, number>}
   */
  stateVector() {
    const sv = new Map();
    for (const [id, c] of this.clients) if (c.next > 0) sv.set(id, c.next);
    return sv;
  }

  /**
   * hasPending reports whether the document holds changes it received but
   * cannot apply yet, because changes they depend on have not arrived.
   * @returns {boolean}
   */
  hasPending() {
    return this.pendingClients > 0 || this.deleteClients > 0;
  }

  /**
   * diff returns an update holding exactly what a replica at state vector
   * sv lacks: every change past sv, plus the document's whole delete set.
   * No sv gives a snapshot.
   * @param {Map<number, number> | Uint8Array | null} [sv] a state vector, or its encoding
   * @returns {Uint8Array}
   */
  diff(sv) {
    if (sv instanceof Uint8Array) sv = decodeStateVector(sv);
    if (this.txn !== null) throw new Error('crdt: diff called inside transact');
    const e = this.enc;
    e.adopt();
    e.only = this.texts.size === 1 ? this.texts.values().next().value : null;
    try {
      for (const c of this.sortedClients()) {
        const from = (sv && sv.get(c.id)) || 0;
        if (from === 0 && c.next > 0) e.addDeletes(c, e.addWholeBlock(c));
        else {
          if (c.next > from) e.addBlock(c, from);
          e.addDeletes(c, deletedRanges(c));
        }
      }
    } finally {
      e.only = null; // a local edit's update may follow a new Text
    }
    return e.finish();
  }

  /**
   * snapshot returns an update holding the whole document. Loading a
   * snapshot is applying it to an empty Doc.
   * @returns {Uint8Array}
   */
  snapshot() {
    return this.diff(null);
  }

  sortedClients() {
    return [...this.clients.values()].sort((a, b) => a.id - b.id);
  }

  // -------------------------------------------------------------------------
  // Transactions

  /**
   * transact runs fn and returns one update holding every local edit fn
   * made, or null if it changed nothing. Inside fn, the edit methods of
   * Text and Map return null. Transactions do not nest: an inner call just
   * runs its fn inside the outer one and returns null. If fn throws, the
   * edits it made stay in the document (as in Go), the error propagates,
   * and the update of those edits is attached to it as `error.update` when
   * the error is an object, so that the caller can still send it.
   * @param {() => void} fn
   * @returns {Uint8Array | null}
   */
  transact(fn) {
    if (this.txn !== null) {
      fn();
      return null;
    }
    this.begin(true);
    try {
      fn();
    } catch (e) {
      const update = this.commit();
      if (e !== null && typeof e === 'object' && update !== null) {
        try {
          e.update = update;
        } catch {
          // a frozen error: the edits still reach peers through diff
        }
      }
      throw e;
    }
    return this.commit();
  }

  /**
   * change runs fn like transact but produces no update: the edits are in
   * the document, and peers receive them through diff of their state
   * vector. It suits replicas that sync by state vector, and skips the
   * cost of encoding an update per transaction.
   * @param {() => void} fn
   */
  change(fn) {
    if (this.txn !== null) {
      fn();
      return;
    }
    this.begin(true);
    this.txn.quiet = true;
    try {
      fn();
    } finally {
      this.commit();
    }
  }

  /** local runs one local edit in its own transaction, or in the open one. */
  local(fn) {
    if (this.txn !== null) {
      fn();
      return null;
    }
    this.begin(true);
    try {
      fn();
    } catch (e) {
      this.commit();
      throw e;
    }
    return this.commit();
  }

  begin(local) {
    if (local && (this.foreignOwn || this.me.next >= SWITCH_CLOCK)) this.switchClientID();
    // One Txn per Doc, reset for each transaction: a keystroke is a
    // transaction, and allocating its bookkeeping showed in profiles.
    let tx = this.tx;
    if (tx === undefined) tx = this.tx = new Txn(local, 0);
    tx.local = local;
    tx.quiet = false;
    tx.quietDeletes = false;
    tx.start = this.me.next;
    if (tx.deletes.length > 0) tx.deletes = [];
    tx.capture = local && this.undoers.length > 0 ? { deletes: [], writes: [], formats: [] } : null;
    this.txn = tx;
  }

  /**
   * commit closes the transaction, notifies observers and, for a local
   * transaction, returns its update (null when nothing changed).
   */
  commit() {
    const tx = this.txn;
    this.txn = null;
    if (tx.local && this.me.next > tx.start) {
      // Pending records may wait for these clocks (only a hostile peer
      // sends that): the next update retries them.
      this.advance(this.me);
    }
    // Observers may start transactions that reuse tx: keep what undo needs.
    const capture = tx.capture;
    const me = this.me;
    const start = tx.start;
    const end = me.next;
    let update = null;
    const changed = tx.local && (this.me.next > tx.start || tx.deletes.length > 0 || tx.quietDeletes);
    if (changed && !tx.quiet) {
      const e = this.enc;
      if (this.me.next > tx.start) e.addBlock(this.me, tx.start);
      const ds = tx.deletes;
      if (ds.length > 0) {
        ds.sort((a, b) => a.c.id - b.c.id || a.start - b.start);
        for (let i = 0; i < ds.length; ) {
          const c = ds[i].c;
          const ranges = [];
          for (; i < ds.length && ds[i].c === c; i++) {
            const n = ranges.length;
            if (n > 0 && ds[i].start <= ranges[n - 1]) ranges[n - 1] = Math.max(ranges[n - 1], ds[i].end);
            else ranges.push(ds[i].start, ds[i].end);
          }
          e.addDeletes(c, ranges);
        }
      }
      update = e.finish();
    }
    if (changed && this.updateListeners.length > 0) notify(this.updateListeners, update, this.onObserverError);
    if (tx.texts.length > 0 || tx.maps.length > 0) {
      // Observers may start transactions of their own, which reuse tx.
      const texts = tx.texts;
      const maps = tx.maps;
      const local = tx.local;
      tx.texts = [];
      tx.maps = [];
      for (const t of texts) t.flush(local);
      for (const m of maps) m.flush(local);
    }
    if (capture !== null) for (const u of this.undoers.slice()) u.record(capture, me, start, end);
    return update;
  }

  // -------------------------------------------------------------------------
  // Applying updates

  /**
   * apply merges an update (or a snapshot) from another replica. Applying
   * the same update twice, or updates in any order, gives the same
   * document. Changes whose dependencies have not arrived are held and
   * applied as soon as they do. Bytes that are not a valid update throw (a
   * DecodeError, or an InvalidUpdateError) and leave the document
   * unchanged.
   * @param {Uint8Array} update
   */
  apply(update) {
    if (this.txn !== null) throw new Error('crdt: apply called inside transact');
    if (!(update instanceof Uint8Array)) throw new TypeError('crdt: an update is a Uint8Array');
    // The Doc's Decoded, unless an observer applies an update while
    // another apply still holds it.
    const u = this.decoded ?? new Decoded();
    this.decoded = null;
    try {
      decodeUpdate(update, u);
      // Checked whole before anything changes, so that a bad record cannot
      // leave half an update applied.
      this.validate(u);
      const cost = this.pendingCost(u);
      if (cost > 0 && this.pendingBytes + cost > MAX_PENDING_BYTES) {
        throw new TooMuchPendingError(`too much pending: ${this.pendingBytes} bytes held, ${cost} more`);
      }
      if (this.writesUnder(u, this.me)) this.foreignOwn = true;
      this.begin(false);
      try {
        this.integrateUpdate(u);
      } finally {
        this.commit();
      }
    } finally {
      u.release();
      this.decoded = u;
    }
  }

  /**
   * integrateUpdate integrates a validated update: records whose
   * dependencies are present go in now, the others wait in pending.
   * Records that depend on other records of the same update (a snapshot's
   * blocks refer to each other) are retried in place until no block can
   * advance, so only what truly waits for another update becomes pending.
   */
  integrateUpdate(u) {
    // The cursors are kept in scratch arrays of the Doc: nearly every
    // update holds one block, and allocating per update showed as
    // collector time in profiles. Nothing here calls out to user code, so
    // no other apply can run before they are read.
    const blocks = u.blocks;
    const nb = u.nBlocks;
    const curC = this.curC;
    const curI = this.curI;
    let nRecs = 0;
    for (let bi = 0; bi < nb; bi++) {
      const b = blocks[bi];
      curC[bi] = this.client(b.client);
      for (let i = b.from; i < b.to; i++) this.resolve(u, u.recs[i]);
      curI[bi] = b.from;
      nRecs += b.to - b.from;
    }
    for (let ti = 0; ti < u.nTypes; ti++) {
      if (u.types[ti].text !== null) {
        this.loading = Loader.start(u.types[ti].text, nRecs);
        break;
      }
    }
    const recs = u.recs;
    for (let progress = true; progress; ) {
      progress = false;
      for (let bi = 0; bi < nb; bi++) {
        const c = curC[bi];
        if (c.pending.length > 0) continue; // behind older pending records: retryPending orders them
        const to = blocks[bi].to;
        let i = curI[bi];
        while (i < to) {
          // A DROPPED record is discarded: validation left it nothing to
          // refuse, so this cannot happen to a record of u (FORMAT.md §5.2).
          if (this.tryIntegrate(c, recs[i]) === BLOCKED) break;
          i++;
          progress = true;
        }
        curI[bi] = i;
      }
    }
    this.finishLoad();
    for (let bi = 0; bi < nb; bi++) {
      const c = curC[bi];
      for (let i = curI[bi]; i < blocks[bi].to; i++) {
        this.addPending(c, recs[i]);
        recs[i] = null; // held as pending: u must not reuse it
      }
      curC[bi] = null; // hold no client beyond this update
    }
    for (let di = 0; di < u.nDeletes; di++) {
      const dc = u.deletes[di];
      const c = this.client(dc.client);
      for (let k = dc.from; k < dc.to; k += 2) this.applyDelete(c, u.ranges[k], u.ranges[k + 1]);
    }
    if (this.hasPending()) this.retryPending();
    this.endRetry();
  }

  /** finishLoad turns the loading Text's list into its tree, if a Text is loading. */
  finishLoad() {
    const l = this.loading;
    if (l === null) return;
    this.loading = null;
    l.finish();
  }

  /** resolve points a decoded record at the Text or Map it belongs to. */
  resolve(u, r) {
    if (r.kind === KIND_TEXT) {
      const t = u.types[r.typ];
      if (t.text === null) t.text = this.textNamed(t.name, true);
      r.text = t.text;
    } else if (r.kind === KIND_MAP) {
      const t = u.types[r.typ];
      if (t.map === null) t.map = this.getMap(t.name);
      r.map = t.map;
    }
  }

  /**
   * textNamed returns the text with the given name, creating it if create
   * is set (else null if there is none).
   */
  textNamed(name, create) {
    const lt = this.lastText;
    if (lt !== null && lt.name === name) return lt;
    let t = this.texts.get(name) ?? null;
    if (t === null && create) t = this.getText(name);
    if (t !== null) this.lastText = t;
    return t;
  }

  /** applyDelete deletes the part of [start, end) of c already integrated and keeps the rest pending. */
  applyDelete(c, start, end) {
    const known = Math.min(end, c.next);
    if (known > start) {
      deleteRange(c, start, known - start);
      start = known;
    }
    if (start < end) {
      if (c.pendingDeletes === null) c.pendingDeletes = new PendingRanges();
      const pd = c.pendingDeletes;
      const before = pd.size;
      if (before === 0) this.deleteClients++;
      pd.add(start, end);
      this.pendingBytes += (pd.size - before) * PENDING_RANGE_COST;
    }
  }

  /**
   * addPending stores r among c's pending records, after those of lower or
   * equal clock, unless an identical record waits already: an update
   * delivered again while it waits costs nothing more.
   */
  addPending(c, r) {
    if (holdsPending(c, r, true)) return;
    const p = c.pending;
    const i = afterClock(p, r.clock);
    if (p.length === 0) this.pendingClients++;
    r.cost = recordCost(r);
    this.pendingBytes += r.cost;
    if (i === p.length) p.push(r);
    else p.splice(i, 0, r);
    this.toRetry(c);
  }

  /**
   * retryPending integrates pending records and deletions until no more can
   * go in. It tries only the clients that may have been unblocked: those
   * that received records, and those waiting for a client that advanced (in
   * this update or by local edits since the last one); and it applies the
   * pending deletions of the clients that advanced. An update thus costs
   * what it unblocks, not the number of clients with pending changes. The
   * order is Go's (Doc.retryPending), so that events list changes alike.
   */
  retryPending() {
    const retry = this.retry;
    while (retry.length > 0) {
      const c = retry.pop();
      c.inRetry = false;
      const p = c.pending;
      let k = 0;
      while (k < p.length) {
        if (this.tryIntegrate(c, p[k]) === BLOCKED) {
          this.waitFor(c, this.blocker(c, p[k]));
          break;
        }
        this.pendingBytes -= p[k++].cost;
      }
      if (k > 0) {
        p.splice(0, k);
        if (p.length === 0) this.pendingClients--;
      }
    }
    for (const c of this.advanced) {
      const pd = c.pendingDeletes;
      if (pd === null || pd.size === 0 || c.next <= pd.low) continue;
      const before = pd.size;
      const rs = pd.takeBelow(c.next);
      for (let k = 0; k < rs.length; k += 2) deleteRange(c, rs[k], rs[k + 1] - rs[k]);
      this.pendingBytes += (pd.size - before) * PENDING_RANGE_COST;
      if (pd.size === 0) {
        c.pendingDeletes = null;
        this.deleteClients--;
      }
    }
  }

  /** advance notes that client c's clock moved: the clients waiting for it are to be retried, and its pending deletions may apply. */
  advance(c) {
    if (this.waiters.size > 0) this.wakeWaiters(c.id);
    if (!c.advanced && this.deleteClients > 0) {
      c.advanced = true;
      this.advanced.push(c);
    }
  }

  /** endRetry forgets which clients advanced, once retryPending has seen them. */
  endRetry() {
    const a = this.advanced;
    if (a.length === 0) return; // nearly always: setting length costs a call
    for (const c of a) c.advanced = false;
    a.length = 0;
  }

  /** toRetry queues client c for retryPending. */
  toRetry(c) {
    if (!c.inRetry) {
      c.inRetry = true;
      this.retry.push(c);
    }
  }

  /** waitFor records that c's lowest pending record waits for client id. */
  waitFor(c, id) {
    if (c.waiting && c.waitsFor === id) return;
    c.waiting = true;
    c.waitsFor = id;
    const ws = this.waiters.get(id);
    if (ws === undefined) this.waiters.set(id, [c]);
    else ws.push(c);
  }

  /** wakeWaiters queues for retryPending the clients waiting for client id. */
  wakeWaiters(id) {
    const ws = this.waiters.get(id);
    if (ws === undefined) return;
    this.waiters.delete(id);
    for (const c of ws) {
      if (c.waiting && c.waitsFor === id) {
        // else it waits for another since
        c.waiting = false;
        this.toRetry(c);
      }
    }
  }

  /** blocker returns the client whose clocks record r of client c, which tryIntegrate found blocked, waits for. */
  blocker(c, r) {
    if (r.clock > c.next || r.kind !== KIND_TEXT) return c.id;
    if (r.hasLeft) {
      const lc = this.known(r.leftClient);
      if (lc === undefined || r.leftClock >= lc.next) return r.leftClient;
    }
    return r.rightClient;
  }

  /**
   * pendingCost returns, at most, what applying u would add to the pending
   * changes: it follows integrateUpdate's order without changing anything
   * and counts the records that would wait and the delete ranges past the
   * clocks their clients would reach, less what is held already (the Go
   * Doc's pendingCost, step for step). A record that integration drops for
   * a bad origin leaves its client's later records waiting, which this does
   * not foresee; only hostile input does that, and the next update that
   * adds pending changes is refused.
   */
  pendingCost(u) {
    const blocks = u.blocks;
    const nb = u.nBlocks;
    // Scratch arrays of the Doc, as in integrateUpdate: next[bi] is the
    // clock block bi's client would reach, at[bi] its first record that
    // would not go in.
    const next = this.curN;
    const at = this.curI;
    for (let bi = 0; bi < nb; bi++) {
      const b = blocks[bi];
      next[bi] = this.known(b.client)?.next ?? 0;
      at[bi] = b.from;
    }
    const recs = u.recs;
    for (let progress = true; progress; ) {
      progress = false;
      for (let bi = 0; bi < nb; bi++) {
        const b = blocks[bi];
        const c = this.known(b.client);
        if (c !== undefined && c.pending.length > 0) continue; // waits behind older pending records
        for (; at[bi] < b.to; at[bi]++) {
          const r = recs[at[bi]];
          if (r.clock > next[bi]) break;
          if (r.clock + r.length <= next[bi]) continue; // a duplicate
          if (r.kind === KIND_TEXT) {
            const leftKnown = r.clock < next[bi] || !r.hasLeft || r.leftClock < this.clockIn(blocks, nb, next, r.leftClient);
            const rightKnown = !r.hasRight || r.rightClock < this.clockIn(blocks, nb, next, r.rightClient);
            if (!leftKnown || !rightKnown) break;
          }
          next[bi] = r.clock + r.length;
          progress = true;
        }
      }
    }
    let cost = 0;
    for (let bi = 0; bi < nb; bi++) {
      const b = blocks[bi];
      const c = this.known(b.client);
      for (let k = at[bi]; k < b.to; k++) {
        // Types are not resolved yet: a record that differs from a held
        // one only by its type is taken for a duplicate.
        const r = recs[k];
        if (c === undefined || !holdsPending(c, r, false)) cost += recordCost(r);
      }
    }
    for (let di = 0; di < u.nDeletes; di++) {
      const dc = u.deletes[di];
      const pd = this.known(dc.client)?.pendingDeletes ?? null;
      const known = this.clockIn(blocks, nb, next, dc.client);
      for (let k = dc.from; k < dc.to; k += 2) {
        const end = u.ranges[k + 1];
        if (end <= known) continue;
        if (pd === null || !pd.covers(Math.max(u.ranges[k], known), end)) cost += PENDING_RANGE_COST;
      }
    }
    return cost;
  }

  /**
   * clockIn returns the clock client id would reach in pendingCost: next
   * of its block among the nb first of blocks, or the document's when the
   * update holds none.
   */
  clockIn(blocks, nb, next, id) {
    const i = searchBlocks(blocks, nb, id);
    if (i >= 0) return next[i];
    return this.known(id)?.next ?? 0;
  }

  /**
   * tryIntegrate integrates record r of client c if its dependencies are
   * present (FORMAT.md §5.3).
   */
  tryIntegrate(c, r) {
    if (r.clock + r.length <= c.next) return INTEGRATED; // a duplicate
    if (r.clock > c.next) return BLOCKED;
    if (r.clock < c.next) {
      // Part of the record is known: keep only the new tail.
      const off = c.next - r.clock;
      if (r.kind === KIND_TEXT) {
        const s = r.content;
        if (s !== null) r.content = s.slice(s.length === r.length ? off : unitsOf(s, 0, off));
        r.hasLeft = true;
        r.leftClient = c.id;
        r.leftClock = c.next - 1;
      }
      r.clock += off;
      r.length -= off;
    }
    switch (r.kind) {
      case KIND_TEXT: {
        let lc = null;
        let lk = 0;
        let rc = null;
        let rk = 0;
        if (r.hasLeft) {
          lc = this.known(r.leftClient);
          if (lc === undefined || r.leftClock >= lc.next) return BLOCKED;
          lk = r.leftClock;
        }
        if (r.hasRight) {
          rc = this.known(r.rightClient);
          if (rc === undefined || r.rightClock >= rc.next) return BLOCKED;
          rk = r.rightClock;
        }
        const leftItem = lc !== null ? lc.find(lk) : null;
        const l = this.loading;
        if (l !== null && l.t === r.text) {
          if (r.rich === RICH_NONE && l.place(c, r.length, lc, lk, rc, rk, leftItem, r.content)) {
            this.advance(c);
            return INTEGRATED;
          }
          this.finishLoad(); // and the tree takes the record
        }
        let rightItem = null;
        if (rc !== null) {
          // The right origin is mostly the code point after the left one:
          // in the left origin's item or the piece after it.
          if (leftItem !== null && rc === lc) {
            if (leftItem.clock <= rk && rk < leftItem.clock + leftItem.length) rightItem = leftItem;
            else {
              const nx = leftItem.next;
              if (nx !== null && nx.clock <= rk && rk < nx.clock + nx.length) rightItem = nx;
            }
          }
          if (rightItem === null) rightItem = rc.find(rk);
        }
        // Checked again here, whatever validation found: an origin that
        // was unknown then may have turned out to be in another type.
        if (!holds(r.text, leftItem) || !holds(r.text, rightItem)) return DROPPED;
        if (!r.text.originsFit(lc, lk, rc, rk, leftItem, rightItem)) return DROPPED;
        let entry = null;
        if (r.rich === RICH_START) {
          entry = new Mark(r.key, r.value, r.seq, r.expand);
          if (r.seq > r.text.maxSeq) r.text.maxSeq = r.seq;
        } else if (r.rich === RICH_END) {
          // Its start anchor is the clock before, in the same text.
          entry = c.find(r.clock - 1);
          if (entry.rich !== RICH_START || entry.leaf.t !== r.text) return DROPPED;
        } else if (r.rich === RICH_EMBED) {
          entry = r.value;
        }
        r.text.integrate(c, r.length, lc, lk, rc, rk, leftItem, rightItem, r.content, r.rich, entry);
        break;
      }
      case KIND_MAP:
        r.map.integrate(c, r.clock, r.key, r.seq, r.value, r.del);
        break;
      case KIND_SKIP:
        this.integrateSkip(c, r.clock, r.length);
        break;
    }
    this.advance(c);
    return INTEGRATED;
  }

  /** integrateSkip records clocks [clock, clock+n) of c as carrying nothing. */
  integrateSkip(c, clock, n) {
    const last = c.heads[c.heads.length - 1];
    if (last !== undefined && last.kind === KIND_SKIP && last.next === null && last.clock + last.length === clock) {
      last.length += n;
      c.next += n;
      return;
    }
    c.addHead(new Item(clock, n, c, KIND_SKIP));
    c.next += n;
  }

  /**
   * validate refuses an update that cannot be applied whole (FORMAT.md
   * §5.2): a record that describes clocks the document already holds, or
   * holds pending, differently from how it holds them (two histories under
   * one client ID), or a text record whose origin is not a code point of
   * its own text where the document or the update holds it.
   */
  validate(u) {
    for (let bi = 0; bi < u.nBlocks; bi++) {
      const b = u.blocks[bi];
      const c = this.known(b.client);
      if (c === undefined) continue;
      for (let i = b.from; i < b.to; i++) this.checkHistory(u, c, u.recs[i]);
    }
    for (let bi = 0; bi < u.nBlocks; bi++) {
      const b = u.blocks[bi];
      const c = this.known(b.client);
      const known = c === undefined ? 0 : c.next;
      for (let i = b.from; i < b.to; i++) {
        const r = u.recs[i];
        if (r.kind !== KIND_TEXT || r.clock + r.length <= known) continue;
        if (!this.originOK(u, r.hasLeft, r.leftClient, r.leftClock, r.typ) || !this.originOK(u, r.hasRight, r.rightClient, r.rightClock, r.typ)) {
          throw badOrigin(b.client, r.clock);
        }
      }
    }
  }

  /**
   * checkHistory throws unless record r of u, of client c, agrees clock by
   * clock with what the document holds of those clocks: the integrated
   * items below c.next and every pending record of c above.
   */
  checkHistory(u, c, r) {
    const name = r.kind === KIND_SKIP ? null : u.types[r.typ].name;
    const end = r.clock + r.length;
    let k = r.clock;
    if (k < c.next) {
      let it = c.find(k);
      for (;;) {
        const stop = Math.min(end, c.next, it.clock + it.length);
        if (!agree(c.id, r, name, it, itemName(it), k, stop)) throw conflict(c.id, k);
        k = stop;
        if (k >= end || k >= c.next) break;
        it = it.next !== null ? it.next : c.find(k);
      }
    }
    if (k >= end || c.pending.length === 0) return;
    c.pendingOverlapping(k, end, (p) => {
      const a = Math.max(k, p.clock);
      if (!agree(c.id, r, name, p, recordName(p), a, Math.min(end, p.clock + p.length))) throw conflict(c.id, a);
    });
  }

  /**
   * writesUnder reports whether update u writes clocks of client c that c
   * has not integrated: records, or deletions, at or past c.next.
   */
  writesUnder(u, c) {
    for (let bi = 0; bi < u.nBlocks; bi++) {
      const b = u.blocks[bi];
      if (b.client === c.id && b.end > c.next) return true;
    }
    for (let di = 0; di < u.nDeletes; di++) {
      const d = u.deletes[di];
      if (d.client === c.id && u.ranges[d.to - 1] > c.next) return true;
    }
    return false;
  }

  /**
   * originOK reports whether an origin can serve a text record of type
   * typ: none, a code point of that text where the document or u holds it,
   * or a clock neither holds yet (checked when it integrates).
   */
  originOK(u, has, client, clock, typ) {
    if (!has) return true;
    const c = this.known(client);
    if (c !== undefined && clock < c.next) {
      const it = c.find(clock);
      // Only an existing text can hold it; look it up without creating it.
      const t = u.types[typ];
      if (t.text === null) t.text = this.textNamed(t.name, false);
      return it.kind === KIND_TEXT && t.text !== null && it.leaf.t === t.text;
    }
    const rt = u.textTypeOf(client, clock);
    return rt === -2 || rt === typ;
  }
}

/** holds reports whether it, the item of an origin (null for none), is a code point of t. */
function holds(t, it) {
  return it === null || (it.kind === KIND_TEXT && it.leaf.t === t);
}

/**
 * sameRecord reports whether pending records a and b of one client say the
 * same thing, so that holding both would change nothing; with types false,
 * their Text or Map is not compared (it is not resolved yet).
 */
function sameRecord(a, b, types) {
  return (
    a.kind === b.kind &&
    a.clock === b.clock &&
    a.length === b.length &&
    a.hasLeft === b.hasLeft &&
    a.leftClient === b.leftClient &&
    a.leftClock === b.leftClock &&
    a.hasRight === b.hasRight &&
    a.rightClient === b.rightClient &&
    a.rightClock === b.rightClock &&
    (!types || (a.text === b.text && a.map === b.map)) &&
    a.content === b.content &&
    a.key === b.key &&
    a.seq === b.seq &&
    a.del === b.del &&
    a.rich === b.rich &&
    a.expand === b.expand &&
    (a.value === b.value || (a.value !== null && b.value !== null && sameBytes(a.value, b.value)))
  );
}

/** afterClock returns the index of the first pending record with a clock above clock. */
function afterClock(p, clock) {
  let lo = 0;
  let hi = p.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (p[mid].clock <= clock) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** holdsPending reports whether a record identical to r (by sameRecord) waits among c's pending records. */
function holdsPending(c, r, types) {
  const p = c.pending;
  for (let k = afterClock(p, r.clock) - 1; k >= 0 && p[k].clock === r.clock; k--) {
    if (sameRecord(p[k], r, types)) return true;
  }
  return false;
}

/** recordCost is what a pending record counts against MAX_PENDING_BYTES (Go: recordCost, in UTF-8 bytes). */
function recordCost(r) {
  let n = PENDING_RECORD_COST;
  if (r.content !== null) n += utf8Length(r.content);
  if (r.key !== null) n += utf8Length(r.key);
  if (r.value !== null) n += r.value.length;
  return n;
}

/** searchBlocks returns the index of the block of client id among the nb first of blocks (sorted by client), or −1. */
function searchBlocks(blocks, nb, id) {
  let lo = 0;
  let hi = nb;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (blocks[mid].client < id) lo = mid + 1;
    else hi = mid;
  }
  return lo < nb && blocks[lo].client === id ? lo : -1;
}

/** itemName returns the name of the Text or Map of an integrated item (null for a skip). */
function itemName(it) {
  if (it.kind === KIND_TEXT) return it.leaf.t.name;
  if (it.kind === KIND_MAP) return it.entry.map.name;
  return null;
}

/** recordName returns the name of the Text or Map of a pending (resolved) record. */
function recordName(p) {
  if (p.kind === KIND_TEXT) return p.text.name;
  if (p.kind === KIND_MAP) return p.map.name;
  return null;
}

/**
 * agree reports whether a and b, each a decoded record or an integrated
 * item of client c, with the names of their types, describe clocks
 * [k, stop) of c alike: both text of the same Text, with the same origins
 * and the same code points where both still hold them; or both map
 * entries or skips, where a map entry equals another map entry entirely
 * and a skip (an entry that lost, or was beaten since) agrees with any.
 * Names are compared as names: a and b may come from different updates.
 */
function agree(c, a, an, b, bn, k, stop) {
  const at = a.kind === KIND_TEXT;
  if (at !== (b.kind === KIND_TEXT)) return false;
  if (!at) {
    if (a.kind !== KIND_MAP || b.kind !== KIND_MAP) return true;
    const ea = mapInfo(a);
    const eb = mapInfo(b);
    return an === bn && ea.key === eb.key && ea.seq === eb.seq && ea.del === eb.del && sameBytes(ea.value, eb.value);
  }
  if (an !== bn) return false;
  if (!sameOrigin(rightOf(a), a.rightClock, rightOf(b), b.rightClock)) return false;
  if (!sameRich(a, b)) return false;
  // Past its first clock, every code point's left origin is its
  // predecessor, on both sides.
  if (k === a.clock || k === b.clock) {
    const al = k === a.clock ? leftOf(a) : c;
    const alk = k === a.clock ? a.leftClock : k - 1;
    const bl = k === b.clock ? leftOf(b) : c;
    const blk = k === b.clock ? b.leftClock : k - 1;
    if (!sameOrigin(al, alk, bl, blk)) return false;
  }
  const sa = contentOf(a, k, stop);
  const sb = contentOf(b, k, stop);
  return sa === null || sb === null || sa === sb;
}

/**
 * sameRich reports whether text record a and b, an integrated item or a
 * pending record, are the same kind of text item carrying the same mark
 * or embed (RICH.md §R6): another kind, another mark, another embed value
 * is a second history. A deleted embed's value is forgotten and matches
 * any; against a pending record, as in Go, the value is not compared.
 */
function sameRich(a, b) {
  if (a.rich !== b.rich) return false;
  if (!(b instanceof Item)) return a.expand === b.expand && a.seq === b.seq && a.key === b.key;
  if (a.rich === RICH_START) {
    const m = b.entry;
    return m.key === a.key && sameBytes(m.value, a.value) && m.seq === a.seq && m.expand === a.expand;
  }
  if (a.rich === RICH_EMBED && a.value !== null && !b.deleted) return sameBytes(b.entry, a.value);
  return true;
}

/** mapInfo returns the entry fields of a map record or a winning map item. */
function mapInfo(x) {
  if (x instanceof Item) {
    const e = x.entry;
    return { key: e.key, seq: e.seq, del: e.deleted, value: e.value };
  }
  return { key: x.key, seq: x.seq, del: x.del, value: x.value };
}

/** leftOf and rightOf return an origin's client ID, or null for none. */
function leftOf(x) {
  if (x instanceof Item) return x.leftClient === null ? null : x.leftClient.id;
  return x.hasLeft ? x.leftClient : null;
}

function rightOf(x) {
  if (x instanceof Item) return x.rightClient === null ? null : x.rightClient.id;
  return x.hasRight ? x.rightClient : null;
}

function sameOrigin(ac, ak, bc, bk) {
  if (ac === null || bc === null) return ac === bc;
  return ac === bc && ak === bk;
}

function sameBytes(a, b) {
  if (a === null || b === null) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * contentOf returns the code points at clocks [k, stop) of text record or
 * item x, or null when x holds them as tombstones.
 */
function contentOf(x, k, stop) {
  const s = x.content;
  if (s === null || (x instanceof Item && x.deleted)) return null;
  const from = k - x.clock;
  if (s.length === x.length) return s.slice(from, stop - x.clock);
  const i = unitsOf(s, 0, from);
  return s.slice(i, i + unitsOf(s, i, stop - k));
}

/** conflict is the error for an update that holds another history of a client's clocks. */
function conflict(client, clock) {
  return new InvalidUpdateError(`client ${client} at clock ${clock} conflicts with what the document holds under that ID`);
}

/** badOrigin is the error for a text record whose origin is not a code point of its own text. */
function badOrigin(client, clock) {
  return new InvalidUpdateError(`an origin of client ${client} at clock ${clock} is not a code point of the same text`);
}

/** deletedRanges returns the deleted clock ranges of client c, merged, flat [start, end, …]. */
function deletedRanges(c) {
  const out = [];
  for (const h of c.heads) {
    for (let it = h; it !== null; it = it.next) if (it.deleted) appendDeleted(out, it);
  }
  return out;
}

/** checkName throws unless name can travel in an update (FORMAT.md §2.4). */
function checkName(name) {
  if (typeof name !== 'string') throw new TypeError('crdt: a type name is a string');
  if (!wellFormed(name) || utf8Length(name) > MAX_NAME_BYTES) {
    throw new TypeError(`crdt: type name ${JSON.stringify(name.slice(0, 40))} is not valid Unicode of at most ${MAX_NAME_BYTES} UTF-8 bytes`);
  }
}
