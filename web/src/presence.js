// Presence: the ephemeral per-client state (name, colour, cursor) the
// server relays but never stores (PROTOCOL.md §7).

import { unpack } from './pack.js';
import { pack } from './pack.js';
import { Emitter } from './emitter.js';
import { MAX_PRESENCE_BYTES } from './protocol.js';

/** How often the local state is resent: the server drops it after 30 s without one. */
export const DEFAULT_PRESENCE_REFRESH = 15000;
/** The least time between two presence messages from this client, in ms. */
export const DEFAULT_PRESENCE_THROTTLE = 50;

const EMPTY = new Uint8Array(0);

/**
 * Presence holds the local client's presence state and the states of the
 * other clients of the room. Get it as `provider.presence`.
 *
 * The local state is any value @msgpack/msgpack encodes, at most 4096
 * bytes once encoded (by pack.js, in that library's bytes, except that a
 * lone surrogate is sent as U+FFFD). It is sent at most once per throttle period (the
 * latest state wins), again on every new connection, and every refresh
 * period so that the server does not expire it. Remote states come and go
 * with the server's Presence messages; an empty state means the client
 * left, and all of them are dropped when the connection closes, since the
 * server sends them again on the next Welcome.
 *
 * Events: 'change' with `{added, updated, removed}`, arrays of client IDs;
 * 'local' with the encoding of each new local state (cross-tab sync
 * forwards it).
 */
export class Presence extends Emitter {
  /**
   * @param {number} clientID the local client ID, whose entries the server never sends back
   * @param {(entryState: Uint8Array) => boolean} send sends a Presence message with the local entry; false when not joined
   * @param {{presenceRefresh?: number, presenceThrottle?: number}} [options]
   */
  constructor(clientID, send, options = {}) {
    super();
    this.clientID = clientID;
    this.send = send;
    this.refreshMs = options.presenceRefresh ?? DEFAULT_PRESENCE_REFRESH;
    this.throttleMs = options.presenceThrottle ?? DEFAULT_PRESENCE_THROTTLE;
    /** The local state as set. @type {unknown} */
    this.localState = null;
    /** Its encoding; null until set, empty once cleared. @type {Uint8Array | null} */
    this.bytes = null;
    /** @type {Map<number, any>} */
    this.remote = new Map();
    this.joined = false;
    this.lastSent = -Infinity;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.pending = null;
    /** @type {ReturnType<typeof setInterval> | null} */
    this.refresher = null;
  }

  /** The local state, or null. */
  get local() {
    return this.localState;
  }

  /** The states of the other clients in the room, by client ID. @type {Map<number, any>} */
  get states() {
    return this.remote;
  }

  /**
   * setLocal sets the local state and sends it, or clears it (null or
   * undefined), which tells the others this client has no presence.
   * @param {unknown} state any value @msgpack/msgpack can encode
   * @throws {RangeError} if the state encodes to more than 4096 bytes; the previous state stays
   */
  setLocal(state) {
    const b = state === null || state === undefined ? EMPTY : pack(state);
    if (b.length > MAX_PRESENCE_BYTES) {
      throw new RangeError(`flowstate: presence state of ${b.length} bytes exceeds ${MAX_PRESENCE_BYTES}`);
    }
    this.localState = state ?? null;
    this.bytes = b;
    this.emit('local', b);
    this.schedule();
  }

  /** schedule sends the local state now, or at the end of the throttle period. */
  schedule() {
    if (!this.joined || this.pending !== null) return;
    const wait = this.lastSent + this.throttleMs - Date.now();
    if (wait <= 0) {
      this.flush();
      return;
    }
    this.pending = setTimeout(() => {
      this.pending = null;
      this.flush();
    }, wait);
  }

  /** flush sends the latest local state. */
  flush() {
    if (this.bytes === null || !this.joined) return;
    if (this.send(this.bytes)) this.lastSent = Date.now();
  }

  /**
   * onJoin is called by the Provider once a connection has its Welcome:
   * the server knows nothing of this client's presence on it yet.
   */
  onJoin() {
    this.joined = true;
    this.lastSent = -Infinity;
    if (this.bytes !== null && this.bytes.length > 0) this.flush();
    this.refresher = setInterval(() => {
      if (this.bytes !== null && this.bytes.length > 0 && this.pending === null) this.flush();
    }, this.refreshMs);
  }

  /** onLeave is called by the Provider when the connection ends. */
  onLeave() {
    this.joined = false;
    this.stopTimers();
    if (this.remote.size === 0) return;
    const removed = [...this.remote.keys()];
    this.remote.clear();
    this.emit('change', { added: [], updated: [], removed });
  }

  /**
   * receive applies the entries of a server Presence message. An entry
   * that is not valid msgpack is ignored: a client cannot break others.
   * @param {Array<{client: number, state: Uint8Array}>} entries
   */
  receive(entries) {
    const added = [];
    const updated = [];
    const removed = [];
    for (const { client, state } of entries) {
      if (client === this.clientID) continue;
      if (state.length === 0) {
        if (this.remote.delete(client)) removed.push(client);
        continue;
      }
      let v;
      try {
        v = unpack(state);
      } catch {
        continue;
      }
      if (this.remote.has(client)) updated.push(client);
      else added.push(client);
      this.remote.set(client, v);
    }
    if (added.length + updated.length + removed.length > 0) this.emit('change', { added, updated, removed });
  }

  /** leave sends an empty state, if joined: the others drop this client at once. */
  leave() {
    if (this.joined && this.bytes !== null && this.bytes.length > 0) this.send(EMPTY);
  }

  stopTimers() {
    if (this.pending !== null) clearTimeout(this.pending);
    if (this.refresher !== null) clearInterval(this.refresher);
    this.pending = null;
    this.refresher = null;
  }

  /** destroy stops the timers and removes the listeners. */
  destroy() {
    this.onLeave();
    this.clear();
  }
}
