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
 * Events: 'synced' (the stored document is loaded), 'saved' (every update
 * so far is written), 'disabled' (an Error: persistence is off), 'error'
 * (an Error about one stored record, which is skipped).
 */
export class IndexedDBPersistence extends Emitter {
  /**
   * @param {string} name the database is "flowstate:" + name
   * @param {import('./doc.js').Doc} doc
   * @param {{indexedDB?: IDBFactory, IDBKeyRange?: typeof IDBKeyRange, compactEvery?: number, openTimeout?: number}} [options]
   *   indexedDB and IDBKeyRange: the globals by default; compactEvery:
   *   records before a compaction (DEFAULT_COMPACT_EVERY); openTimeout: in ms
   *   (DEFAULT_OPEN_TIMEOUT)
   */
  constructor(name, doc, options = {}) {
    super();
    if (typeof name !== 'string' || name === '') throw new TypeError('flowstate: IndexedDBPersistence needs a name');
    this.name = name;
    this.doc = doc;
    this.dbName = 'flowstate:' + name;
    this.idb = options.indexedDB ?? globalThis.indexedDB ?? null;
    this.KeyRange = options.IDBKeyRange ?? globalThis.IDBKeyRange ?? null;
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
    this.stops.push(doc.onLocalUpdate((u) => this.storeUpdate(u ?? doc.snapshot())));
    this.onPageHide = () => this.flush();
    if (typeof globalThis.addEventListener === 'function') globalThis.addEventListener('pagehide', this.onPageHide);
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

  /** load applies every stored record to the Doc in one read transaction. */
  load() {
    let tx;
    try {
      tx = this.db.transaction([UPDATES, META], 'readonly');
    } catch (e) {
      this.disable(e);
      return;
    }
    const updates = tx.objectStore(UPDATES);
    const meta = tx.objectStore(META);
    const keys = updates.getAllKeys();
    const values = updates.getAll();
    const metaKeys = meta.getAllKeys();
    const metaValues = meta.getAll();
    tx.oncomplete = () => {
      if (!this.enabled || this.destroyed) return;
      const me = this.doc.clientID;
      const before = this.doc.stateVector().get(me) ?? 0;
      for (const v of values.result) this.applyStored(v);
      // A Doc that knows the rule (switchClientID) moves to a fresh ID
      // before its next edit by itself.
      if ((this.doc.stateVector().get(me) ?? 0) > before && typeof this.doc.switchClientID !== 'function') {
        this.emit('error', new Error(`flowstate: the stored document holds changes of client ${me}, this Doc's own ID: use a new Doc`));
      }
      const k = keys.result;
      this.records = k.length;
      this.lastKey = k.length > 0 ? k[k.length - 1] : 0;
      metaKeys.result.forEach((key, i) => {
        if (typeof key === 'string' && key.startsWith(UNSYNCED) && Number.isSafeInteger(metaValues.result[i])) {
          this.restoredUnsynced += metaValues.result[i];
          this.adopted.push(key);
        }
      });
      this.synced = true;
      this.emit('synced');
      this.resolveSynced();
      if (this.provider !== null && this.restoredUnsynced > 0) this.provider.addUnsynced(this.restoredUnsynced);
      if (this.adopted.length > 0) this.unsyncedDirty = true;
      this.flush();
      if (this.records > this.compactEvery) this.compact();
    };
    tx.onabort = () => this.disable(tx.error ?? new Error('flowstate: reading IndexedDB failed'));
  }

  /** applyStored applies one stored record; one that does not apply is skipped with an 'error'. */
  applyStored(v) {
    try {
      if (!(v instanceof Uint8Array)) throw new TypeError('not an update');
      this.doc.apply(v);
    } catch (e) {
      this.emit('error', new Error(`flowstate: skipped a stored record that does not apply: ${e && e.message}`));
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

  /** flush writes the queued updates and the unacknowledged count in one transaction. */
  flush() {
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.db === null || !this.enabled || !this.synced) return;
    if (this.queue.length === 0 && !this.unsyncedDirty) return;
    const batch = this.queue;
    this.queue = [];
    let tx;
    try {
      tx = this.db.transaction([UPDATES, META], 'readwrite');
      const updates = tx.objectStore(UPDATES);
      for (const u of batch) updates.put(u);
      if (this.unsyncedDirty) {
        // This tab's count includes what it restored: the counts it
        // adopted go, so that the next load does not add them twice.
        this.unsyncedDirty = false;
        const meta = tx.objectStore(META);
        for (const key of this.adopted) meta.delete(key);
        this.adopted = [];
        const key = UNSYNCED + this.doc.clientID;
        if (this.unsynced > 0) meta.put(this.unsynced, key);
        else meta.delete(key);
      }
    } catch (e) {
      this.disable(e);
      return;
    }
    this.writing++;
    tx.oncomplete = () => {
      this.writing--;
      this.records += batch.length;
      if (!this.saving) {
        const w = this.savedWaiters;
        this.savedWaiters = [];
        for (const f of w) f();
        this.emit('saved');
      }
      if (this.records > this.compactEvery) this.compact();
    };
    tx.onabort = () => {
      this.writing--;
      this.disable(tx.error ?? new Error('flowstate: writing to IndexedDB failed'));
    };
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
      tx = this.db.transaction([UPDATES], 'readwrite');
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
    this.emit('disabled', err);
  }

  /**
   * clearData stops persisting and deletes the stored document. Other tabs
   * that persist it turn theirs off ('disabled').
   * @returns {Promise<void>}
   */
  clearData() {
    this.destroy();
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
    if (this.db !== null) this.db.close();
    this.db = null;
    if (!this.synced) {
      this.synced = true;
      this.resolveSynced();
    }
    this.clear();
  }
}
