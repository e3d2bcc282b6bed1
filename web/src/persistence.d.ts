// Types of @flowstate/web/persistence (src/persistence.js): the Doc kept in
// the browser's IndexedDB. In a page, import it from the bundle the server
// serves at /flowstate-persistence.js, beside /flowstate.js.

import type { Doc, Provider } from './index.js';

/** Options of `new IndexedDBPersistence`. */
export interface IndexedDBPersistenceOptions {
  /** The IndexedDB factory; globalThis.indexedDB by default. */
  indexedDB?: IDBFactory | null;
  /** The IDBKeyRange class; globalThis.IDBKeyRange by default. */
  IDBKeyRange?: typeof IDBKeyRange;
  /**
   * Where the first screen's copy and, when the page goes away, the
   * updates not yet written go; globalThis.localStorage by default, null
   * for none.
   */
  localStorage?: Storage | null;
  /** How many stored records make a compaction into one snapshot (default 500). */
  compactEvery?: number;
  /** How long opening the database may take before persistence turns off, in ms (default 5000). */
  openTimeout?: number;
}

/** Events of an IndexedDBPersistence. */
export interface IndexedDBPersistenceEvents {
  /** The stored document is in the Doc. */
  synced: () => void;
  /** Every update so far is written. */
  saved: () => void;
  /** Persistence turned itself off (no IndexedDB, refused, quota, cleared elsewhere); the Doc goes on in memory. */
  disabled: (err: Error) => void;
  /** A stored record did not apply and was skipped. */
  error: (err: Error) => void;
}

/**
 * IndexedDBPersistence keeps a Doc in the browser's IndexedDB (database
 * "flowstate:" + name) and loads what is stored into it at once: local
 * updates as they are made, updates a bound Provider applies, and each
 * client's unacknowledged count; compacted into one snapshot every
 * compactEvery records. A new Doc has a fresh client ID, so a restored
 * document never writes under an ID used before. Failures never break
 * editing: persistence turns itself off with a 'disabled' event. On
 * 'pagehide', and when the page goes hidden (a mobile browser may kill a
 * background tab without a pagehide), the updates not yet written are
 * copied to localStorage, and the next page to load the document stores
 * them.
 *
 *   const local = new IndexedDBPersistence('notes', doc);
 *   const provider = new Provider(doc, { url, persistence: local, crossTab: true });
 */
export class IndexedDBPersistence {
  constructor(name: string, doc: Doc, options?: IndexedDBPersistenceOptions);
  readonly name: string;
  readonly doc: Doc;
  /** Resolves once the stored document is in the Doc, or persistence turned off. */
  readonly whenSynced: Promise<void>;
  /**
   * Resolves, before the Doc is loaded, to the plain text of each Text as
   * stored at the last compaction or page exit (by name), or to null: an
   * editor can paint it at once, read only, and bind once whenSynced
   * resolves (see CodeMirrorBinding).
   */
  readonly whenRendered: Promise<Record<string, string> | null>;
  /**
   * Resolves, at once from its copy in localStorage (else after one small
   * read) and before whenRendered, to the start
   * of each Text's stored plain text (at most 16 Ki UTF-16
   * units each, never cutting a surrogate pair: the start of the
   * rendering whenRendered brings, written with it), or to null: an
   * editor paints it at once (with earlyEdits, it may take typing), then
   * shows the rest with showStored when whenRendered resolves.
   */
  readonly whenFirstScreen: Promise<Record<string, string> | null>;
  /** True once the stored document is loaded (or loading failed). */
  readonly synced: boolean;
  /** False once persistence turned itself off. */
  readonly enabled: boolean;
  /** The error that turned it off, if any. */
  readonly error: Error | null;
  /** True while updates wait to be written. */
  readonly saving: boolean;
  /** Resolves once every update stored so far is written. */
  whenSaved(): Promise<void>;
  /** Stores an update applied to the Doc other than through the bound provider. */
  storeUpdate(update: Uint8Array): void;
  /** Binds a provider (the Provider option persistence calls it). */
  bindProvider(provider: Provider): void;
  /** Stops persisting and deletes the stored document; other tabs' persistence turns off. */
  clearData(): Promise<void>;
  /** Writes what is queued, stops listening and closes the database. */
  destroy(): void;
  on<K extends keyof IndexedDBPersistenceEvents>(event: K, fn: IndexedDBPersistenceEvents[K]): () => void;
  off<K extends keyof IndexedDBPersistenceEvents>(event: K, fn: IndexedDBPersistenceEvents[K]): void;
}

