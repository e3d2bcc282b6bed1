// IndexedDBPersistence: keeps a Doc in the browser's IndexedDB, so that a
// page opened offline shows the last known document at once, and edits
// made offline survive reloads and browser restarts until the server has
// them.

import { Emitter } from './emitter.js';

/** After how many stored records the store is folded into one snapshot. */
export const DEFAULT_COMPACT_EVERY = 500;
/** How long opening the database may take before persistence turns itself off, in ms. */
export const DEFAULT_OPEN_TIMEOUT = 5000;

const UPDATES = 'updates';
const META = 'meta';
const UNSYNCED = 'unsynced:';
// The rendering: a header under RENDERING ({texts: [[name, chunks], ...]})
// and the texts, concatenated, in chunks under RENDERING/000000, ... .
// Chromium stores a value over 64 KB as a blob of its own, which costs a
// round trip of its own to read back; chunks of at most 32 KB (16 Ki
// UTF-16 units) come back with the header in one request.
const RENDERING = 'rendering';
const RENDERING_CHUNK = 1 << 14;
const renderingKey = (i) => RENDERING + '/' + String(i).padStart(6, '0');
// The first screen: the start of each text, {texts: [[name, head], ...]},
// in one small record outside the rendering's key range, written with the
// rendering. It is read on its own, so that an editor paints it without
// waiting for megabytes of rendering to come back.
const SCREEN = 'screen';
// The unsaved updates of a page that went away with writes unfinished,
// in localStorage under the database's name, UNSAVED and the page's
// client ID (see onPageHide).
const UNSAVED = ':unsaved:';
// The largest unacknowledged count a store or a copy may hold: more
// changes than a page makes in its life. A larger, negative or fractional
// one was not written by this code, and is refused.
const MAX_COPIED_COUNT = 2 ** 32;

/**
 * How much of each text the first screen holds, in UTF-16 units: a few
 * windows of text (the demo's editor shows some 40 lines of some 90
 * characters on a screen 1080 pixels high), and little enough to read in
 * one small request. A text up to this long is whole in it.
 */
export const FIRST_SCREEN_UNITS = 1 << 14;

/**
 * afterPaint runs fn once the page has had a chance to paint: after the
 * next animation frame, or after a short wait where frames do not come (a
 * hidden page, a worker, Node).
 * @param {() => void} fn
 */
function afterPaint(fn) {
  let done = false;
  const run = () => {
    if (done) return;
    done = true;
    fn();
  };
  if (typeof globalThis.requestAnimationFrame === 'function') globalThis.requestAnimationFrame(() => setTimeout(run, 0));
  setTimeout(run, 50);
}

/**
 * An IndexedDBPersistence stores a Doc in IndexedDB under a name (the
 * database "flowstate:NAME", usually one per room) and loads what is
 * stored into the Doc at once.
 *
 *   const doc = new Doc();
 *   const local = new IndexedDBPersistence('notes', doc);
 *   await local.whenSynced;              // the stored document is in doc
 *   const provider = new Provider(doc, { url, persistence: local, crossTab: true });
 *
 * Stored: every local update as it is made, every update the bound
 * provider applies (from the server or another tab), and the number of
 * local changes the server had not acknowledged, per client. Records
 * accumulate until there are compactEvery of them, then one transaction
 * replaces them with a snapshot of the Doc (after applying whatever other
 * tabs wrote meanwhile, so nothing they stored is lost).
 *
 * Restoring loads into the given Doc, which keeps its own client ID: a new
 * Doc has a fresh random one, so a restored document never writes under an
 * ID it may have used before. If the stored records hold changes under
 * the Doc's own ID (a Doc created with a fixed clientID), the Doc moves to
 * a fresh ID before its next edit (FORMAT.md §6.5); a Doc without that
 * rule gets an 'error' event instead, and the app must use a new Doc.
 *
 * Failures never break editing: if IndexedDB is missing, refuses to open
 * (private modes), does not open within openTimeout, runs out of quota or
 * is cleared by another tab, persistence turns itself off (enabled =
 * false), emits 'disabled' with the error, and the Doc goes on in memory.
 *
 * First paint: next to the snapshot, a compaction stores the plain text of
 * each of the Doc's Texts (and so does leaving the page, when records came
 * since), and the start of each (its first screen) in a small record of
 * its own. Opening reads in three steps, each after the page had a chance
 * to paint what the step before brought: the first screen
 * (whenFirstScreen, one small read), the whole rendering (whenRendered,
 * before the snapshot is decoded), then the records into the Doc
 * (whenSynced). An editor can show the start of a large stored document
 * at once, the rest a moment later, and bind to the Text once whenSynced
 * resolves (the binding then brings in what the rendering lacked, and
 * with CodeMirror's earlyEdits, what was typed meanwhile). Until
 * whenSynced, the Doc is not loaded: nothing may edit it, or the edit
 * would be made on an empty document.
 *
 * Leaving the page: Chromium aborts the writes a page has not finished
 * when it goes away, and on a busy machine writes queue behind each other
 * (and behind other tabs' writes) for hundreds of ms, the time it takes
 * to type a word. So leaving the page also copies every update not yet
 * written, and the unacknowledged count, to localStorage, which takes
 * them at once; the next page to load the document applies and stores
 * them, then removes the copy. So does a page going hidden (its tab in
 * the background, the screen off), since a mobile browser may kill a
 * hidden tab without a pagehide; the copy goes again once the writes are
 * done, if the page is still there.
 *
 * Events: 'synced' (the stored document is loaded), 'saved' (every update
 * so far is written), 'disabled' (an Error: persistence is off), 'error'
 * (an Error about one stored record, which is skipped).
 */
export class IndexedDBPersistence extends Emitter {
  /**
   * @param {string} name the database is "flowstate:" + name
   * @param {import('./doc.js').Doc} doc
   * @param {{indexedDB?: IDBFactory, IDBKeyRange?: typeof IDBKeyRange, localStorage?: Storage | null, compactEvery?: number, openTimeout?: number}} [options]
   *   indexedDB, IDBKeyRange and localStorage: the globals by default;
   *   compactEvery: records before a compaction (DEFAULT_COMPACT_EVERY);
   *   openTimeout: in ms (DEFAULT_OPEN_TIMEOUT)
   */
  constructor(name, doc, options = {}) {
    super();
    if (typeof name !== 'string' || name === '') throw new TypeError('flowstate: IndexedDBPersistence needs a name');
    this.name = name;
    this.doc = doc;
    this.dbName = 'flowstate:' + name;
    this.idb = options.indexedDB ?? globalThis.indexedDB ?? null;
    this.KeyRange = options.IDBKeyRange ?? globalThis.IDBKeyRange ?? null;
    this.ls = options.localStorage !== undefined ? options.localStorage : globalLocalStorage();
    this.compactEvery = options.compactEvery ?? DEFAULT_COMPACT_EVERY;
    /** False once persistence turned itself off; the Doc lives in memory only. */
    this.enabled = true;
    /** The error that turned persistence off. @type {Error | null} */
    this.error = null;
    /** True once the stored document is loaded (or loading failed). */
    this.synced = false;
    /** @type {IDBDatabase | null} */
    this.db = null;
    /** Updates waiting to be written. @type {Uint8Array[]} */
    this.queue = [];
    this.writing = 0; // write transactions in flight
    /**
     * The write transactions in flight: their updates, whether they write
     * this page's unacknowledged count, the keys of the unsaved copies
     * whose updates they write, and the adopted counts they delete.
     * @type {Set<{updates: Uint8Array[], count: boolean, unsaved: string[], adopted: string[]}>}
     */
    this.inflight = new Set();
    /** The localStorage keys of unsaved copies queued to be written. @type {string[]} */
    this.unsavedKeys = [];
    this.unsavedKey = null; // the key this page's copy was put under, if any
    this.flushTimer = null;
    this.records = 0; // records in the store, as far as this tab knows
    this.lastKey = 0; // the highest key whose record is in the Doc
    this.compacting = false;
    this.destroyed = false;
    /** Unacknowledged changes restored from the store, and the keys that counted them. */
    this.restoredUnsynced = 0;
    this.adopted = [];
    this.unsynced = 0; // the bound provider's unsyncedCount
    this.unsyncedDirty = false;
    /** @type {import('./provider.js').Provider | null} */
    this.provider = null;
    this.stops = [];
    /** @type {Array<() => void>} */
    this.savedWaiters = [];

    /** Resolves once the stored document is in the Doc, or persistence is off. @type {Promise<void>} */
    this.whenSynced = new Promise((resolve) => (this.resolveSynced = resolve));
    /**
     * Resolves to the stored plain text of each Text, by name, as of the
     * last compaction or page exit, before the Doc is loaded; to null when
     * none is stored or persistence is off.
     * @type {Promise<Record<string, string> | null>}
     */
    this.whenRendered = new Promise((resolve) => (this.resolveRendered = resolve));
    /**
     * Resolves to the start of each Text's stored plain text (at most
     * FIRST_SCREEN_UNITS units of each), by name, at once from its copy in
     * localStorage, or else after one small read, and before whenRendered; to null when none is stored or persistence is
     * off. The start of the rendering whenRendered brings, from the same
     * write.
     * @type {Promise<Record<string, string> | null>}
     */
    this.whenFirstScreen = new Promise((resolve) => (this.resolveScreen = resolve));
    // A copy of the first screen in localStorage is read at once, without
    // waiting for IndexedDB to open, which alone takes tens of ms.
    this.screenFromLocal = false;
    const local = readScreen(localScreen(this.ls, this.dbName));
    if (local !== null) {
      this.screenFromLocal = true;
      this.resolveScreen(local);
    }
    this.renderingDirty = false; // records were written since the stored rendering
    this.stops.push(doc.onLocalUpdate((u) => this.storeUpdate(u ?? doc.snapshot())));
    this.onPageHide = () => {
      // The next page paints from the rendering: bring it up to date.
      if (this.renderingDirty) this.flush(true);
      else this.flush();
      this.putUnsaved();
    };
    if (typeof globalThis.addEventListener === 'function') globalThis.addEventListener('pagehide', this.onPageHide);
    // Going hidden may be the last the page hears (see the class
    // comment): its unwritten updates are copied as on pagehide, without
    // the rendering, which a tab switch should not pay for.
    this.onVisibility = () => {
      if (globalThis.document?.visibilityState !== 'hidden') return;
      this.flush();
      this.putUnsaved();
    };
    globalThis.document?.addEventListener?.('visibilitychange', this.onVisibility);
    this.open(options.openTimeout ?? DEFAULT_OPEN_TIMEOUT);
  }

  /**
   * bindProvider makes persistence store the updates the provider applies
   * and its unacknowledged count, and hands it the restored count. The
   * Provider option `persistence` calls it.
   * @param {import('./provider.js').Provider} provider
   */
  bindProvider(provider) {
    if (this.provider !== null) throw new Error('flowstate: this persistence already has a provider');
    this.provider = provider;
    this.stops.push(provider.on('update', (u) => this.storeUpdate(u)));
    this.stops.push(
      provider.on('unsynced', (n) => {
        this.unsynced = n;
        this.unsyncedDirty = true;
        this.schedule();
      }),
    );
    if (this.synced && this.restoredUnsynced > 0) provider.addUnsynced(this.restoredUnsynced);
  }

  /** True while updates wait to be written. */
  get saving() {
    return this.queue.length > 0 || this.writing > 0;
  }

  /**
   * whenSaved resolves once every update stored so far is written (at
   * once when persistence is off).
   * @returns {Promise<void>}
   */
  whenSaved() {
    if (!this.enabled || !this.saving) return Promise.resolve();
    return new Promise((resolve) => this.savedWaiters.push(resolve));
  }

  /**
   * storeUpdate stores an update applied to the Doc some other way than
   * through the bound provider. Local updates are stored on their own.
   * @param {Uint8Array} update
   */
  storeUpdate(update) {
    if (!this.enabled || this.destroyed) return;
    // A view into a larger buffer would store the whole buffer.
    if (update.byteOffset !== 0 || update.byteLength !== update.buffer.byteLength) update = update.slice();
    this.queue.push(update);
    this.schedule();
  }

  // -------------------------------------------------------------------------
  // Opening and loading

  open(timeout) {
    if (this.idb === null) {
      this.disable(new Error('flowstate: IndexedDB is not available; the document is kept in memory only'));
      return;
    }
    let req;
    try {
      req = this.idb.open(this.dbName, 1);
    } catch (e) {
      this.disable(e);
      return;
    }
    const timer = setTimeout(() => this.disable(new Error(`flowstate: IndexedDB did not open within ${timeout} ms`)), timeout);
    req.onupgradeneeded = () => {
      const db = req.result;
      db.createObjectStore(UPDATES, { autoIncrement: true });
      db.createObjectStore(META);
    };
    req.onsuccess = () => {
      clearTimeout(timer);
      const db = req.result;
      if (!this.enabled || this.destroyed) {
        db.close();
        return;
      }
      this.db = db;
      db.onversionchange = () => this.disable(new Error('flowstate: the stored document was cleared or upgraded in another tab'));
      this.load();
    };
    req.onerror = () => {
      clearTimeout(timer);
      this.disable(req.error ?? new Error('flowstate: IndexedDB refused to open'));
    };
  }

  /**
   * load reads the first screen and hands it to whenFirstScreen; once the
   * page had a chance to paint it, reads the rendering (readRendering).
   * Without a first screen (a store written before it existed), it reads
   * the rendering at once.
   */
  load() {
    if (this.KeyRange === null) {
      this.resolveScreen(null);
      this.resolveRendered(null);
      this.readRecords(false);
      return;
    }
    if (this.screenFromLocal) {
      // The page paints from the copy: read the rendering after.
      afterPaint(() => this.readRendering());
      return;
    }
    const tx = this.readTx([META]);
    if (tx === null) return;
    const screen = tx.objectStore(META).get(SCREEN);
    // On the request's success rather than the transaction's completion,
    // which comes in a task of its own: on a busy machine, each task is a
    // wait for the CPU.
    screen.onsuccess = () => {
      const texts = readScreen(screen.result);
      this.resolveScreen(texts);
      if (texts !== null) afterPaint(() => this.readRendering());
      else this.readRendering();
    };
    tx.onabort = () => this.disable(tx.error ?? new Error('flowstate: reading IndexedDB failed'));
  }

  /**
   * readTx opens a read-only transaction on stores, or, if IndexedDB
   * refuses, turns persistence off and returns null.
   * @param {string[]} stores
   * @returns {IDBTransaction | null}
   */
  readTx(stores) {
    try {
      return this.db.transaction(stores, 'readonly');
    } catch (e) {
      this.disable(e);
      return null;
    }
  }

  /**
   * readRendering reads the rendering, hands it to whenRendered, and once
   * the page had a chance to paint it, reads every stored record in one
   * transaction and applies them to the Doc. Without a rendering, it reads
   * the records at once.
   */
  readRendering() {
    if (!this.enabled || this.destroyed || this.db === null) return;
    const tx = this.readTx([META]);
    if (tx === null) return;
    const rendering = tx.objectStore(META).getAll(this.renderingRange());
    tx.oncomplete = () => {
      const texts = readRendering(rendering.result);
      this.resolveRendered(texts);
      // The records, read now, would be decoded before the page paints
      // the rendering: read them after.
      if (texts !== null) afterPaint(() => this.readRecords(true));
      else this.readRecords(false);
    };
    tx.onabort = () => this.disable(tx.error ?? new Error('flowstate: reading IndexedDB failed'));
  }

  /**
   * readRecords reads the stored records and the unacknowledged counts in
   * one transaction, and applies them.
   * @param {boolean} rendered a rendering was read
   */
  readRecords(rendered) {
    if (!this.enabled || this.destroyed || this.db === null) return;
    const tx = this.readTx([UPDATES, META]);
    if (tx === null) return;
    const updates = tx.objectStore(UPDATES);
    const meta = tx.objectStore(META);
    const keys = updates.getAllKeys();
    const values = updates.getAll();
    // Only the counts: the rendering may be large.
    const counts = this.KeyRange === null ? undefined : this.KeyRange.bound(UNSYNCED, UNSYNCED + '\uffff');
    const metaKeys = meta.getAllKeys(counts);
    const metaValues = meta.getAll(counts);
    tx.oncomplete = () => this.loaded(values.result, keys.result, metaKeys.result, metaValues.result, rendered);
    tx.onabort = () => this.disable(tx.error ?? new Error('flowstate: reading IndexedDB failed'));
  }

  /** loaded applies the stored records to the Doc and takes over the stored counts. */
  loaded(values, keys, metaKeys, metaValues, rendered) {
    if (!this.enabled || this.destroyed) return;
    const me = this.doc.clientID;
    const before = this.doc.stateVector().get(me) ?? 0;
    for (const v of values) this.applyStored(v);
    // A Doc that knows the rule (switchClientID) moves to a fresh ID
    // before its next edit by itself.
    if ((this.doc.stateVector().get(me) ?? 0) > before && typeof this.doc.switchClientID !== 'function') {
      this.emit('error', new Error(`flowstate: the stored document holds changes of client ${me}, this Doc's own ID: use a new Doc`));
    }
    const counts = new Map(metaKeys.map((key, i) => [key, metaValues[i]]));
    this.takeUnsaved(counts);
    const k = keys;
    this.records = k.length;
    this.lastKey = k.length > 0 ? k[k.length - 1] : 0;
    // A rendering holds the snapshot, not the records after it.
    this.renderingDirty = k.length > 0 && (!rendered || k.length > 1);
    for (const [key, n] of counts) {
      if (typeof key !== 'string' || !key.startsWith(UNSYNCED)) continue;
      // A count that is not one (a damaged or tampered store) would make
      // the status say synced while edits are unacknowledged: it is
      // reported and removed, never added.
      if (validCount(n)) this.restoredUnsynced += n;
      else this.emit('error', new Error(`flowstate: skipped a stored unacknowledged count that does not read: ${describe(n)} of ${key}`));
      // A count only an unsaved copy held has no record to delete.
      if (metaKeys.includes(key)) this.adopted.push(key);
    }
    this.synced = true;
    this.emit('synced');
    this.resolveSynced();
    if (this.provider !== null && this.restoredUnsynced > 0) this.provider.addUnsynced(this.restoredUnsynced);
    if (this.adopted.length > 0) this.unsyncedDirty = true;
    this.flush();
    if (this.records > this.compactEvery) this.compact();
  }

  /** renderingRange is the key range of the rendering's records in META. */
  renderingRange() {
    return this.KeyRange.bound(RENDERING, RENDERING + '/\uffff');
  }

  /**
   * putRendering replaces the stored rendering with the plain text of each
   * of the Doc's Texts, in the write transaction tx.
   * @param {IDBTransaction} tx
   */
  putRendering(tx) {
    if (this.KeyRange === null) return;
    const meta = tx.objectStore(META);
    meta.delete(this.renderingRange());
    const header = [];
    const screen = [];
    let n = 0;
    for (const name of this.doc.textNames()) {
      const s = this.doc.getText(name).toString();
      const chunks = Math.ceil(s.length / RENDERING_CHUNK);
      for (let i = 0; i < chunks; i++) meta.put(s.slice(i * RENDERING_CHUNK, (i + 1) * RENDERING_CHUNK), renderingKey(n + i));
      header.push([name, chunks]);
      screen.push([name, firstScreen(s)]);
      n += chunks;
    }
    meta.put({ texts: header }, RENDERING);
    meta.put({ texts: screen }, SCREEN);
    // Copied to localStorage once IndexedDB holds it, never ahead of it.
    const name = this.dbName;
    const ls = this.ls;
    tx.addEventListener('complete', () => putLocalScreen(ls, name, { texts: screen }));
    this.renderingDirty = false;
  }

  /**
   * applyStored applies one stored record and reports whether it applied;
   * one that does not is skipped with an 'error'.
   */
  applyStored(v) {
    try {
      if (!(v instanceof Uint8Array)) throw new TypeError('not an update');
      this.doc.apply(v);
      return true;
    } catch (e) {
      this.emit('error', new Error(`flowstate: skipped a stored record that does not apply: ${e && e.message}`));
      return false;
    }
  }

  // -------------------------------------------------------------------------
  // Writing

  /** schedule writes the queue in a task of its own, so that a burst of edits is one transaction. */
  schedule() {
    if (this.flushTimer !== null || this.db === null || !this.synced) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flush();
    }, 0);
  }

  /**
   * flush writes the queued updates and the unacknowledged count in one
   * transaction, and with render the rendering of the Texts too.
   * @param {boolean} [render]
   */
  flush(render = false) {
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.db === null || !this.enabled || !this.synced) return;
    if (this.queue.length === 0 && !this.unsyncedDirty && !render) return;
    const batch = this.queue;
    this.queue = [];
    const unsaved = this.unsavedKeys;
    this.unsavedKeys = [];
    const write = { updates: batch, count: this.unsyncedDirty, unsaved, adopted: [] };
    let tx;
    try {
      tx = this.db.transaction([UPDATES, META], 'readwrite');
      const updates = tx.objectStore(UPDATES);
      for (const u of batch) updates.put(u);
      if (batch.length > 0) this.renderingDirty = true;
      if (render) this.putRendering(tx);
      if (this.unsyncedDirty) {
        // This tab's count includes what it restored: the counts it
        // adopted go, so that the next load does not add them twice.
        this.unsyncedDirty = false;
        const meta = tx.objectStore(META);
        for (const key of this.adopted) meta.delete(key);
        write.adopted = this.adopted;
        this.adopted = [];
        const key = UNSYNCED + this.doc.clientID;
        if (this.unsynced > 0) meta.put(this.unsynced, key);
        else meta.delete(key);
      }
      // Committed now rather than once the requests' results are back in
      // the page, a round trip later: the sooner a write is done, the less
      // a page that goes away leaves unwritten (see putUnsaved).
      if (typeof tx.commit === 'function') tx.commit();
    } catch (e) {
      this.disable(e);
      return;
    }
    this.writing++;
    this.inflight.add(write);
    tx.oncomplete = () => {
      this.writing--;
      this.inflight.delete(write);
      // The copies' updates are in IndexedDB now.
      for (const key of unsaved) removeLocal(this.ls, key);
      this.records += batch.length;
      if (!this.saving) {
        // A page that stayed after its pagehide (kept in the back-forward
        // cache, or a pagehide dispatched by hand) has now written what
        // its copy holds, which would otherwise come back with a count
        // gone stale.
        if (this.unsavedKey !== null && this.enabled && !this.unsyncedDirty) {
          removeLocal(this.ls, this.unsavedKey);
          this.unsavedKey = null;
        }
        const w = this.savedWaiters;
        this.savedWaiters = [];
        for (const f of w) f();
        this.emit('saved');
      }
      if (this.records > this.compactEvery) this.compact();
    };
    tx.onabort = () => {
      this.writing--;
      this.inflight.delete(write);
      this.disable(tx.error ?? new Error('flowstate: writing to IndexedDB failed'));
    };
  }

  /**
   * putUnsaved copies the updates not yet written (in flight or queued),
   * and the unacknowledged count, to localStorage, as the page goes away
   * (see the class comment); with nothing unwritten, it removes the copy
   * an earlier exit of this page left.
   */
  putUnsaved() {
    if (this.ls === null || !this.enabled || this.destroyed) return;
    const writes = [...this.inflight];
    // Before the stored document is loaded, the queue holds what was
    // typed meanwhile, which is copied too.
    const updates = writes.flatMap((w) => w.updates).concat(this.queue);
    const key = this.dbName + UNSAVED + this.doc.clientID;
    const count = this.provider !== null && (this.unsyncedDirty || writes.some((w) => w.count));
    if (updates.length === 0 && !count) {
      if (this.unsavedKey !== null) removeLocal(this.ls, this.unsavedKey);
      this.unsavedKey = null;
      return;
    }
    if (this.unsavedKey !== null && this.unsavedKey !== key) removeLocal(this.ls, this.unsavedKey);
    this.unsavedKey = key;
    const record = { updates: updates.map(toBase64) };
    // The count is this page's own, which a bound provider keeps, with
    // the counts it restored: those it has not deleted yet are zero.
    if (this.provider !== null) {
      for (const k of writes.flatMap((w) => w.adopted).concat(this.adopted)) record[k] = 0;
      record[UNSYNCED + this.doc.clientID] = this.unsynced;
    }
    if (!putLocal(this.ls, key, JSON.stringify(record))) return;
    // This copy holds the updates and counts of the copies this page took
    // and has not written yet: they would count twice.
    for (const k of writes.flatMap((w) => w.unsaved).concat(this.unsavedKeys)) if (k !== key) removeLocal(this.ls, k);
  }

  /**
   * takeUnsaved applies the unsaved copies other pages left in
   * localStorage and queues their updates to be written, after which the
   * copies go. A copy's count replaces the stored one of its page, which
   * it is newer than.
   * @param {Map<unknown, unknown>} counts the stored counts, by key
   */
  takeUnsaved(counts) {
    if (this.ls === null) return;
    const prefix = this.dbName + UNSAVED;
    for (const key of localKeys(this.ls)) {
      if (!key.startsWith(prefix)) continue;
      this.unsavedKeys.push(key);
      let record;
      try {
        record = JSON.parse(this.ls.getItem(key) ?? 'null');
        if (record === null || typeof record !== 'object' || !Array.isArray(record.updates)) throw new TypeError('not a record');
        for (const [k, n] of Object.entries(record)) {
          if (k.startsWith(UNSYNCED) && !validCount(n)) {
            throw new TypeError(`unacknowledged count ${describe(n)} of ${k}`);
          }
        }
      } catch (e) {
        this.emit('error', new Error(`flowstate: skipped an unsaved copy that does not read: ${e && e.message}`));
        continue;
      }
      for (const s of record.updates) {
        let u;
        try {
          u = fromBase64(s);
        } catch {
          this.emit('error', new Error('flowstate: skipped an unsaved update that does not decode'));
          continue;
        }
        if (this.applyStored(u)) this.queue.push(u);
      }
      for (const [k, n] of Object.entries(record)) {
        if (k.startsWith(UNSYNCED)) counts.set(k, n);
      }
    }
    // Written with the next flush even when no update came with them.
    if (this.unsavedKeys.length > 0) this.unsyncedDirty = true;
  }

  /**
   * compact replaces every record with one snapshot of the Doc, in one
   * transaction: records other tabs wrote since this one last looked are
   * applied first, so the snapshot holds them.
   */
  compact() {
    if (this.compacting || this.db === null || !this.enabled || this.KeyRange === null) return;
    this.compacting = true;
    let tx;
    try {
      tx = this.db.transaction([UPDATES, META], 'readwrite');
    } catch (e) {
      this.compacting = false;
      this.disable(e);
      return;
    }
    const store = tx.objectStore(UPDATES);
    const newer = this.KeyRange.lowerBound(this.lastKey, true);
    const keys = store.getAllKeys(newer);
    const values = store.getAll(newer);
    values.onsuccess = () => {
      for (const v of values.result) this.applyStored(v);
      const k = keys.result;
      const top = k.length > 0 ? k[k.length - 1] : this.lastKey;
      store.delete(this.KeyRange.upperBound(top));
      const put = store.put(this.doc.snapshot());
      put.onsuccess = () => (this.lastKey = /** @type {number} */ (put.result));
      this.putRendering(tx);
    };
    tx.oncomplete = () => {
      this.compacting = false;
      this.records = 1;
    };
    tx.onabort = () => {
      this.compacting = false;
      this.disable(tx.error ?? new Error('flowstate: compacting IndexedDB failed'));
    };
  }

  // -------------------------------------------------------------------------
  // Ending

  /**
   * disable turns persistence off after err: nothing more is written, and
   * whenSynced resolves if it had not.
   * @param {Error} err
   */
  disable(err) {
    if (!this.enabled) return;
    this.enabled = false;
    this.error = err;
    this.queue = [];
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.db !== null) this.db.close();
    this.db = null;
    const w = this.savedWaiters;
    this.savedWaiters = [];
    for (const f of w) f();
    if (!this.synced) {
      this.synced = true;
      this.resolveSynced();
    }
    this.resolveScreen(null);
    this.resolveRendered(null);
    this.emit('disabled', err);
  }

  /**
   * clearData stops persisting and deletes the stored document. Other tabs
   * that persist it turn theirs off ('disabled').
   * @returns {Promise<void>}
   */
  clearData() {
    this.destroy();
    putLocalScreen(this.ls, this.dbName, null);
    if (this.ls !== null) for (const key of localKeys(this.ls)) if (key.startsWith(this.dbName + UNSAVED)) removeLocal(this.ls, key);
    if (this.idb === null) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const req = this.idb.deleteDatabase(this.dbName);
      req.onsuccess = () => resolve();
      req.onerror = () => reject(req.error);
    });
  }

  /**
   * destroy writes what is queued, stops listening to the Doc and the
   * provider, and closes the database (once the writes are done).
   */
  destroy() {
    if (this.destroyed) return;
    this.flush();
    this.destroyed = true;
    for (const stop of this.stops) stop();
    this.stops = [];
    if (typeof globalThis.removeEventListener === 'function') globalThis.removeEventListener('pagehide', this.onPageHide);
    globalThis.document?.removeEventListener?.('visibilitychange', this.onVisibility);
    if (this.db !== null) this.db.close();
    this.db = null;
    if (!this.synced) {
      this.synced = true;
      this.resolveSynced();
    }
    this.resolveScreen(null);
    this.resolveRendered(null);
    this.clear();
  }
}

/** validCount reports whether n can be an unacknowledged count, stored or copied. */
function validCount(n) {
  return Number.isInteger(n) && n >= 0 && n <= MAX_COPIED_COUNT;
}

/** describe names a stored value in a message, whatever it is (JSON.stringify throws on a BigInt). */
function describe(v) {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return typeof v;
  }
}

/**
 * readRendering returns the texts of a stored rendering, by name, from its
 * records in key order (the header, then the chunks), or null when there
 * is none or the records do not make one.
 * @param {unknown[]} records
 * @returns {Record<string, string> | null}
 */
function readRendering(records) {
  const header = /** @type {any} */ (records[0]);
  if (header === null || typeof header !== 'object' || !Array.isArray(header.texts)) return null;
  /** @type {Record<string, string>} */
  const texts = {};
  let next = 1;
  for (const entry of header.texts) {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !Number.isSafeInteger(entry[1]) || entry[1] < 0) return null;
    const chunks = records.slice(next, next + entry[1]);
    if (chunks.length !== entry[1] || chunks.some((c) => typeof c !== 'string')) return null;
    texts[entry[0]] = chunks.join('');
    next += entry[1];
  }
  return next === records.length ? texts : null;
}

/**
 * firstScreen returns the start of s that the first screen stores: at
 * most FIRST_SCREEN_UNITS units, never ending inside a surrogate pair.
 * @param {string} s
 */
function firstScreen(s) {
  if (s.length <= FIRST_SCREEN_UNITS) return s;
  const c = s.charCodeAt(FIRST_SCREEN_UNITS - 1);
  return s.slice(0, c >= 0xd800 && c <= 0xdbff ? FIRST_SCREEN_UNITS - 1 : FIRST_SCREEN_UNITS);
}

/**
 * readScreen returns the texts of a stored first screen, by name, or null
 * when there is none or the record does not make one.
 * @param {unknown} record
 * @returns {Record<string, string> | null}
 */
function localScreenKey(dbName) {
  return dbName + ':screen';
}

/**
 * globalLocalStorage returns the page's localStorage, or null: none (Node,
 * a worker) or blocked (a sandboxed frame, site data refused), where even
 * reading the global throws.
 * @returns {Storage | null}
 */
function globalLocalStorage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

/**
 * localScreen returns the copy of the first screen record kept in
 * localStorage for dbName, or null: none, unreadable, or no localStorage.
 * @param {Storage | null} ls
 * @param {string} dbName
 * @returns {unknown}
 */
function localScreen(ls, dbName) {
  try {
    const s = ls?.getItem(localScreenKey(dbName));
    return s ? JSON.parse(s) : null;
  } catch {
    return null;
  }
}

/**
 * putLocalScreen keeps record as dbName's first screen in localStorage, or
 * removes it (record null). A write that fails (quota) removes the old
 * copy, so that no copy older than IndexedDB's is left.
 * @param {Storage | null} ls
 * @param {string} dbName
 * @param {unknown} record
 */
function putLocalScreen(ls, dbName, record) {
  const key = localScreenKey(dbName);
  if (record === null) removeLocal(ls, key);
  else putLocal(ls, key, JSON.stringify(record));
}

/**
 * putLocal puts value under key in ls and reports whether it did; a write
 * that fails (quota) removes the key, so that no older value is left.
 * @param {Storage | null} ls
 * @param {string} key
 * @param {string} value
 */
function putLocal(ls, key, value) {
  if (ls === null) return false;
  try {
    ls.setItem(key, value);
    return true;
  } catch {
    removeLocal(ls, key);
    return false;
  }
}

/** removeLocal removes key from ls, if it can. @param {Storage | null} ls @param {string} key */
function removeLocal(ls, key) {
  try {
    ls?.removeItem(key);
  } catch {
    // Storage blocked: there is nothing to remove.
  }
}

/** localKeys returns the keys in ls. @param {Storage} ls @returns {string[]} */
function localKeys(ls) {
  const keys = [];
  try {
    for (let i = 0; i < ls.length; i++) {
      const k = ls.key(i);
      if (k !== null) keys.push(k);
    }
  } catch {
    // Storage blocked: no keys.
  }
  return keys;
}

/** toBase64 encodes bytes for a string store. @param {Uint8Array} u */
function toBase64(u) {
  let s = '';
  for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode.apply(null, u.subarray(i, i + 0x8000));
  return btoa(s);
}

/** fromBase64 decodes what toBase64 made; it throws on anything else. @param {unknown} s */
function fromBase64(s) {
  if (typeof s !== 'string') throw new TypeError('not a string');
  const b = atob(s);
  const u = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) u[i] = b.charCodeAt(i);
  return u;
}

function readScreen(record) {
  const texts = /** @type {any} */ (record)?.texts;
  if (!Array.isArray(texts)) return null;
  /** @type {Record<string, string>} */
  const out = {};
  for (const entry of texts) {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'string') return null;
    out[entry[0]] = entry[1];
  }
  return out;
}
