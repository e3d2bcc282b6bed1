// SharedMap: a named last-writer-wins map from strings to msgpack values
// (Go: map.go, FORMAT.md §8). Values travel as msgpack bytes, encoded
// canonically by value.js (the bytes Go's Map.Set writes for the same
// value), decoded by unpack (pack.js) as @msgpack/msgpack decodes them, and stored and re-sent byte for
// byte.

import { unpack } from './pack.js';
import { encodeValue } from './value.js';
import { Item, KIND_MAP, KIND_SKIP } from './item.js';
import { MAX_CLOCK } from './id.js';
import { notify } from './events.js';
import { mapWrite } from './undo.js';
import { checkValue, compareCodePoints as compareKeys, wellFormed } from './codec.js';

/** MapEntry is the winning entry of one key. */
export class MapEntry {
  /**
   * @param {string} key
   * @param {number} seq one more than the seq of the entry its writer saw
   * @param {Uint8Array | null} value msgpack bytes; null for a deletion
   * @param {boolean} deleted
   * @param {Item} item
   * @param {SharedMap} map
   */
  constructor(key, seq, value, deleted, item, map) {
    this.key = key;
    this.seq = seq;
    this.value = value;
    this.deleted = deleted;
    this.item = item;
    this.map = map;
  }

  /** wins reports whether this entry beats entry b. @param {MapEntry} b */
  wins(b) {
    if (this.seq !== b.seq) return this.seq > b.seq;
    return this.item.client.id > b.item.client.id;
  }
}

/**
 * A SharedMap is a named last-writer-wins map from strings to msgpack
 * values, shared by all replicas of a Doc; get one with `doc.getMap(name)`.
 * A set that saw an earlier value of its key wins over it; of two
 * concurrent sets, the one with the greater sequence number wins, then the
 * one from the greater client ID.
 */
export class SharedMap {
  /**
   * @param {import('./doc.js').Doc} doc
   * @param {string} name
   */
  constructor(doc, name) {
    this.doc = doc;
    /** The map's name in its Doc. @type {string} */
    this.name = name;
    /** The kind of the type in the types table of an update (FORMAT.md §4.1). */
    this.typeKind = 1;
    /** @type {Map<string, MapEntry>} */
    this.entries = new Map();
    /** @type {Array<(ev: import('./events.js').MapEvent) => void>} */
    this.observers = [];
    /** @type {string[]} keys changed in the current transaction, when observed */
    this.changed = [];
  }

  /**
   * set sets key to value in its canonical msgpack encoding (the same
   * value gives the same bytes here and in Go: shortest integers, float64
   * for other numbers, keys in UTF-8 order) and returns the update
   * describing the change (null inside `doc.transact`).
   * @param {string} key valid Unicode
   * @param {unknown} value null, undefined, a boolean, number, BigInt in
   *   the 64-bit range, string, Uint8Array, array, Map with string keys or
   *   plain object, nested at most 64 levels deep; no Date or other
   *   extension type
   * @returns {Uint8Array | null}
   * @throws {TypeError} for a value with no canonical encoding
   */
  set(key, value) {
    checkKey(key);
    let bytes;
    try {
      bytes = encodeValue(value);
    } catch (e) {
      throw new TypeError(`crdt: map value for ${JSON.stringify(key)}: ${e && e.message}`);
    }
    return this.setRaw(key, bytes);
  }

  /**
   * setRaw sets key to the msgpack value held in bytes, stored and sent
   * byte for byte, and returns the update (null inside `doc.transact`).
   * @param {string} key
   * @param {Uint8Array} bytes exactly one msgpack value, nested at most 64 deep
   * @returns {Uint8Array | null}
   */
  setRaw(key, bytes) {
    checkKey(key);
    if (!(bytes instanceof Uint8Array)) throw new TypeError('crdt: setRaw needs a Uint8Array');
    try {
      checkValue(bytes);
    } catch (e) {
      throw new TypeError(`crdt: map value for ${JSON.stringify(key)}: ${e && e.message}`);
    }
    const copy = bytes.slice();
    return this.doc.local(() => this.write(key, copy, false));
  }

  /**
   * delete removes key and returns the update describing the change; it
   * returns null, and changes nothing, when the key has no value.
   * @param {string} key
   * @returns {Uint8Array | null}
   */
  delete(key) {
    const e = this.entries.get(key);
    if (e === undefined || e.deleted) return null;
    return this.doc.local(() => this.write(key, null, true));
  }

  /**
   * get returns the value of key decoded as @msgpack/msgpack decodes it,
   * or undefined when the key has no value (or a value that library cannot
   * decode: use getRaw for the bytes).
   * @param {string} key
   * @returns {unknown}
   */
  get(key) {
    const e = this.entries.get(key);
    if (e === undefined || e.deleted) return undefined;
    try {
      return unpack(e.value);
    } catch {
      return undefined;
    }
  }

  /**
   * getRaw returns a copy of the msgpack bytes of key's value, or undefined.
   * @param {string} key
   * @returns {Uint8Array | undefined}
   */
  getRaw(key) {
    const e = this.entries.get(key);
    if (e === undefined || e.deleted) return undefined;
    return e.value.slice();
  }

  /**
   * has reports whether key has a value.
   * @param {string} key
   */
  has(key) {
    const e = this.entries.get(key);
    return e !== undefined && !e.deleted;
  }

  /**
   * keys returns the keys that have a value, sorted by code point (the
   * order of Go's sorted keys).
   * @returns {string[]}
   */
  keys() {
    const out = [];
    for (const [k, e] of this.entries) if (!e.deleted) out.push(k);
    return out.sort(compareKeys);
  }

  /** The number of keys that have a value. */
  get size() {
    let n = 0;
    for (const e of this.entries.values()) if (!e.deleted) n++;
    return n;
  }

  /**
   * observe calls fn after every transaction that changed the map with the
   * keys whose winning entry changed; it returns a function that stops the
   * calls.
   * @param {(ev: import('./events.js').MapEvent) => void} fn
   * @returns {() => void}
   */
  observe(fn) {
    if (typeof fn !== 'function') throw new TypeError('crdt: observe needs a function');
    const o = (ev) => fn(ev);
    this.observers.push(o);
    return () => {
      const i = this.observers.indexOf(o);
      if (i >= 0) this.observers.splice(i, 1);
    };
  }

  /** write makes a local write of key with seq one above the current entry's. */
  write(key, value, del) {
    const cur = this.entries.get(key);
    // A seq stays within 2^53 (FORMAT.md §2.4): at the limit, a write wins
    // by client ID only, like a concurrent one.
    const seq = cur === undefined ? 1 : Math.min(cur.seq + 1, MAX_CLOCK);
    const me = this.doc.me;
    const capture = this.doc.txn.capture;
    if (capture !== null) capture.writes.push(mapWrite(this, key, cur, me));
    this.integrate(me, me.next, key, seq, value, del);
  }

  /**
   * integrate adds an entry at clock of client c (c.next === clock). A
   * losing entry, and the entry a winner replaces, become skip items:
   * their clocks stay accounted for, their values are dropped.
   */
  integrate(c, clock, key, seq, value, del) {
    const it = new Item(clock, 1, c, KIND_MAP);
    const e = new MapEntry(key, seq, value, del, it, this);
    c.addHead(it);
    c.next++;
    const cur = this.entries.get(key);
    if (cur !== undefined && !e.wins(cur)) {
      it.kind = KIND_SKIP;
      return;
    }
    it.entry = e;
    if (cur !== undefined) {
      cur.item.kind = KIND_SKIP;
      cur.item.entry = null;
    }
    this.entries.set(key, e);
    this.recordChange(key);
  }

  recordChange(key) {
    if (this.observers.length === 0) return;
    if (this.changed.length === 0) this.doc.txn.maps.push(this);
    this.changed.push(key);
  }

  /** flush calls the observers with the keys changed in the transaction. */
  flush(local) {
    if (this.changed.length === 0) return;
    const keys = [...new Set(this.changed)];
    this.changed = [];
    const ev = { keys, local };
    notify(this.observers, ev, this.doc.onObserverError);
  }
}

function checkKey(key) {
  if (typeof key !== 'string') throw new TypeError('crdt: a map key is a string');
  if (!wellFormed(key)) throw new TypeError('crdt: map key holds a lone surrogate (not valid Unicode)');
}
