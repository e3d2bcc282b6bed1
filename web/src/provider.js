// Provider: keeps a Doc in sync with one room of a FlowState server over a
// WebSocket (PROTOCOL.md §5–§10). It behaves like the Go client
// (sync/client/client.go): hello with the state vector, apply the Welcome, send
// Diff(server state vector) when the server lacks anything, numbered
// Updates acknowledged by the server, reconnection with jittered
// exponential backoff, and no reconnection after a permanent code.

import { Backoff } from './backoff.js';
import { Emitter } from './emitter.js';
import { Presence } from './presence.js';
import {
  Code,
  FORMAT_VERSION,
  PROTOCOL_VERSION,
  applyPatch,
  decodeMessage,
  encodeMessage,
  isPermanent,
  makePatch,
  patchBase,
  patchSmaller,
  validHeartbeat,
  validRoom,
} from './protocol.js';
import { CrossTab } from './crosstab.js';
import { decodeStateVector, encodeStateVector } from './statevector.js';

/** Defaults of ProviderOptions, in ms. */
export const DEFAULT_MIN_BACKOFF = 250;
export const DEFAULT_MAX_BACKOFF = 30000;
export const DEFAULT_HANDSHAKE_TIMEOUT = 10000;
/**
 * The heartbeat interval the provider asks for (PROTOCOL.md §10), in ms:
 * with it, a dead connection is noticed within 25 s (2.5 intervals).
 */
export const DEFAULT_HEARTBEAT = 10000;
/** The least delay before reconnecting after 1013 (unless maxBackoff is smaller), in ms. */
const TRY_LATER_BACKOFF = 1000;
/**
 * The longest update a Patch from the server may make: the message size
 * every client takes (PROTOCOL.md §9), the Go client's default read limit.
 */
const MAX_SERVER_MESSAGE = 64 << 20;

const OPEN = 1;

/**
 * A FlowStateError says why a connection ended or could not start. code
 * is the protocol's close or error code (PROTOCOL.md §8; 1006 when the
 * connection dropped without one); permanent is set for the codes after
 * which the Provider stops reconnecting.
 */
export class FlowStateError extends Error {
  /**
   * @param {number} code
   * @param {string} message
   * @param {boolean} [permanent] isPermanent(code) by default
   */
  constructor(code, message, permanent = isPermanent(code)) {
    super(message);
    this.name = 'FlowStateError';
    /** @type {number} */
    this.code = code;
    /** @type {boolean} */
    this.permanent = permanent;
  }
}

/**
 * A Provider keeps a Doc in sync with one room of a FlowState server.
 *
 * On every connection it sends a Hello with the document's state vector,
 * applies the Welcome (what it lacks), and then sends, as its first Update,
 * the diff of the server's state vector whenever the server lacks
 * anything: edits made offline and edits sent on an earlier connection but
 * never acknowledged alike. After that, every local transaction goes out
 * as one Update, and remote updates are applied as they arrive (they are
 * not sent back: only local transactions are).
 *
 * Status: 'connecting' until the Welcome; 'connected' while local edits
 * wait for the server's Ack; 'synced' once every local edit is
 * acknowledged, that is durable on the server (a new edit goes back to
 * 'connected' until its Ack); 'offline' while waiting to reconnect, while
 * the browser is offline, or after 4408 until setToken; 'closed' after
 * disconnect, destroy or a permanent error.
 *
 * Reconnection: after any close that is not permanent, with a delay that
 * starts at minBackoff and doubles per failed attempt up to maxBackoff,
 * each multiplied by a random factor in [0.5, 1.5), and reset by a
 * Welcome, except after 1013 (try again later): then the delay is at least
 * a second and doubles until an Ack shows that the server takes updates
 * again. After a permanent code (isPermanent) it emits an 'error' with
 * permanent = true and stops. After 4408 (token expired) it emits the
 * error and then, with a getToken option, reconnects with the token it
 * returns (getToken is asked before every connection); without one, it
 * waits for setToken(newToken), which reconnects at once.
 *
 * Heartbeat (protocol version 2, PROTOCOL.md §10): every `heartbeat` ms
 * (10 s by default; 0 turns it off) without a message sent, the provider
 * sends a Heartbeat; when it has heard nothing from the server for an
 * interval, it asks for an echo, and when that stays unanswered for an
 * interval the connection is dead (a closed laptop lid, a switch of
 * networks, a proxy that dropped the socket: nothing a browser's
 * WebSocket reports for minutes). The provider then closes it, emits an
 * 'error' with code 4005 (Code.HEARTBEAT_TIMEOUT), goes 'offline' and
 * reconnects with its backoff, at most 2.5 intervals after it last heard
 * from the server. The provider says hello in protocol version 5, which
 * also takes acknowledgements in the seq of relayed Updates (version 3),
 * declares the document format it reads (version 4) and sends and takes
 * an Update of one update as a Patch against the update before it on the
 * connection where that is smaller (version 5: a keystroke in a third of
 * the bytes); a server of an older version refuses it with 4001, and the
 * provider then says hello in the version below (version 1 has no
 * heartbeat).
 *
 * Events: 'status' (the new status), 'synced', 'error' (a FlowStateError,
 * for every connection that ended other than by disconnect or destroy),
 * 'retry' (the delay in ms before the next attempt, each time one is
 * scheduled; retryNow skips the wait), 'unsynced' (the new unsyncedCount),
 * 'update' (an update from the server or another tab, once applied to the
 * Doc).
 *
 * unsyncedCount counts local changes (one per local transaction, plus
 * those a persistence restored as unacknowledged) that the server has not
 * acknowledged, that is not yet on its disk: 0 is "saved".
 *
 * Several nodes: option urls, in place of url, lists the room's URL on
 * each node of a cluster (all naming the same room). The provider starts
 * with the first and, when a connection fails or is lost, moves on to the
 * next, round-robin, waiting for the backoff only between full rounds of
 * the list, not between nodes; url is the one in use. The handshake sends
 * whatever a node lacks, so moving loses nothing, with independent
 * single-node servers too. To spread clients over the nodes, shuffle the
 * list.
 *
 * Options persistence (an IndexedDBPersistence) and crossTab (true) turn
 * on local storage and sync with the other tabs of the same origin and
 * room (persistence.js, crosstab.js).
 */
export class Provider extends Emitter {
  /**
   * @param {import('./doc.js').Doc} doc
   * @param {{url?: string, urls?: string[], token?: string, getToken?: () => string | Promise<string>, WebSocket?: any,
   *   minBackoff?: number, maxBackoff?: number, heartbeat?: number,
   *   connect?: boolean, handshakeTimeout?: number, network?: EventTarget | null,
   *   presenceRefresh?: number, presenceThrottle?: number,
   *   persistence?: {bindProvider: (p: Provider) => void} | null, crossTab?: boolean | {heartbeat?: number}}} options
   */
  constructor(doc, options) {
    super();
    const list = options?.urls ?? (typeof options?.url === 'string' ? [options.url] : null);
    if (!Array.isArray(list) || list.length === 0 || !list.every((x) => typeof x === 'string')) {
      throw new TypeError('flowstate: new Provider(doc, {url}) needs the room URL, or {urls} the room URL on each node');
    }
    /** The Doc this provider keeps in sync. */
    this.doc = doc;
    /** The room's URL on each node, in the order tried. @type {string[]} */
    this.urls = list.map((x) => {
      const u = new URL(x);
      if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new TypeError(`flowstate: ${x} is not a ws: or wss: URL`);
      return u;
    });
    const roomOf = (u) => decodeURIComponent(u.pathname.slice(u.pathname.lastIndexOf('/') + 1));
    /** The room name: the URL's last path segment. */
    this.room = roomOf(this.urls[0]);
    for (const u of this.urls) {
      if (roomOf(u) !== this.room) throw new TypeError(`flowstate: ${this.urls[0].href} and ${u.href} name different rooms`);
    }
    this.urls = this.urls.map((u) => u.href);
    /** The URL of the current or next connection. */
    this.url = this.urls[0];
    this.urlIndex = 0; // this.url's index in urls
    this.roundLeft = 0; // attempts left in the current round that need no backoff
    this.token = options.token ?? '';
    this.getToken = options.getToken ?? null;
    if (this.getToken !== null && typeof this.getToken !== 'function') throw new TypeError('flowstate: getToken must be a function');
    this.WebSocket = options.WebSocket ?? globalThis.WebSocket;
    if (typeof this.WebSocket !== 'function') throw new TypeError('flowstate: no WebSocket constructor: pass options.WebSocket');
    this.backoff = new Backoff(options.minBackoff ?? DEFAULT_MIN_BACKOFF, options.maxBackoff ?? DEFAULT_MAX_BACKOFF);
    // The server said 1013 (try again later): a Welcome does not reset the
    // backoff until an Ack shows that the server takes updates again.
    this.tryLater = false;
    this.handshakeTimeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
    /** The heartbeat interval in ms, 0 for none. */
    this.heartbeat = options.heartbeat ?? DEFAULT_HEARTBEAT;
    if (!validHeartbeat(this.heartbeat)) {
      throw new RangeError(`flowstate: a heartbeat of ${this.heartbeat} ms: want 0 (none) or 100 to 60000`);
    }
    /** The protocol version of the next Hello, lowered each time a server refuses one. */
    this.version = PROTOCOL_VERSION;
    this.helloVersion = 0; // the version of the current connection's Hello
    this.heartbeatTimer = null;
    this.sentAt = 0; // when the current connection last took a message
    this.heardAt = 0; // when it last brought one
    this.echoAt = 0; // when the unanswered echo request went, or 0
    this.echoID = 0; // the last echo request's number

    /** @type {import('./index.js').ProviderStatus} */
    this.state = 'closed';
    /** The permanent error that closed the provider, if any. @type {FlowStateError | null} */
    this.lastError = null;
    /** @type {WebSocket | null} the current connection */
    this.ws = null;
    this.joined = false; // the current connection has its Welcome
    this.seq = 0; // the last Update seq sent on the current connection
    // Version 5: the last update sent and received on the current
    // connection, the bases of the Patches either way (PROTOCOL.md §4.8).
    this.sendBase = this.recvBase = null;
    this.unacked = false; // local edits the server has not acknowledged
    this.changes = 0; // local changes counted so far
    this.ackedChanges = 0; // how many of them the server acknowledged
    /** Updates sent on this connection and not yet acknowledged: [seq, changes when sent]. @type {Array<[number, number]>} */
    this.inflight = [];
    /**
     * uploadBase returns the state vector the catch-up diff is taken
     * against, given the server's: by default the server's itself; with
     * cross-tab sync, it leaves out what other tabs upload.
     * @type {(serverSV: Map<number, number>) => Map<number, number>}
     */
    this.uploadBase = (sv) => sv;
    /** The server's state vector from the last Welcome. @type {Map<number, number>} */
    this.serverSV = new Map();
    /** The Error message received on the current connection, if any. */
    this.serverError = null;
    this.wanted = false; // connect() was called and neither disconnect nor a permanent error followed
    this.destroyed = false;
    this.networkOffline = false;
    this.awaitingToken = false;
    this.retryTimer = null;
    this.handshakeTimer = null;
    this.attempt = 0; // counts connection attempts, so that a late getToken answer is ignored
    /** @type {Array<{resolve: () => void, reject: (e: Error) => void}>} */
    this.waiters = [];

    /** The presence of this client and the others in the room. */
    /** The client ID of the current connection's Hello. */
    this.sessionClient = doc.clientID;
    this.presence = new Presence(doc.clientID, (state) => this.sendPresence(state), options);
    this.stopLocal = doc.onLocalUpdate((update) => this.onLocalUpdate(update));

    this.network = options.network === undefined ? defaultNetwork() : options.network;
    this.onOnline = () => this.setNetwork(true);
    this.onOffline = () => this.setNetwork(false);
    if (this.network) {
      this.network.addEventListener('online', this.onOnline);
      this.network.addEventListener('offline', this.onOffline);
      if (this.network === globalThis && globalThis.navigator && globalThis.navigator.onLine === false) {
        this.networkOffline = true;
      }
    }
    /** The persistence of options.persistence, if any. */
    this.persistence = options.persistence ?? null;
    if (this.persistence) this.persistence.bindProvider(this);
    /** The cross-tab channel when options.crossTab is set. @type {CrossTab | null} */
    this.crossTab = options.crossTab ? new CrossTab(this, typeof options.crossTab === 'object' ? options.crossTab : {}) : null;
    if (options.connect ?? true) this.connect();
  }

  /**
   * roomURL returns the WebSocket URL of a room: base (an http(s) page or
   * server URL, or ws(s)) with the path /ws/ROOM. base names the FlowState
   * server: location.href for a page it serves, its own URL for a page on
   * another origin (roomURL('https://sync.example.com', 'notes') is
   * 'wss://sync.example.com/ws/notes').
   * @param {string | URL} base
   * @param {string} room
   * @returns {string}
   */
  static roomURL(base, room) {
    const u = new URL('/ws/' + encodeURIComponent(room), base);
    if (u.protocol === 'http:') u.protocol = 'ws:';
    else if (u.protocol === 'https:') u.protocol = 'wss:';
    return u.href;
  }

  /** The connection status. @type {import('./index.js').ProviderStatus} */
  get status() {
    return this.state;
  }

  /**
   * The number of local changes the server has not acknowledged yet. The
   * 'unsynced' event reports every change of it.
   * @type {number}
   */
  get unsyncedCount() {
    return this.changes - this.ackedChanges;
  }

  /**
   * addUnsynced counts n changes made before this provider existed (a
   * restored document's unacknowledged edits) as unsynced. The next
   * catch-up after a Welcome covers them.
   * @param {number} n
   */
  addUnsynced(n) {
    if (!Number.isSafeInteger(n) || n <= 0) return;
    this.changes += n;
    this.emit('unsynced', this.unsyncedCount);
  }

  /** The Doc's client ID. @type {number} */
  get clientID() {
    return this.doc.clientID;
  }

  /**
   * whenSynced resolves when the status is, or next becomes, 'synced'. It
   * rejects with the error on a permanent error, and on destroy.
   * @returns {Promise<void>}
   */
  whenSynced() {
    if (this.state === 'synced') return Promise.resolve();
    if (this.destroyed) return Promise.reject(new Error('flowstate: provider destroyed'));
    if (this.lastError !== null) return Promise.reject(this.lastError);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** connect starts connecting, unless already connected or connecting. */
  connect() {
    if (this.destroyed) throw new Error('flowstate: provider destroyed');
    if (this.wanted) return;
    this.wanted = true;
    this.lastError = null;
    this.awaitingToken = false;
    this.backoff.reset();
    this.roundLeft = this.urls.length - 1;
    if (this.networkOffline) this.setStatus('offline');
    else this.open();
  }

  /**
   * retryNow starts the next connection attempt at once when the provider
   * is waiting to reconnect (after a 'retry' event), for a "Retry now"
   * button. It does nothing otherwise.
   */
  retryNow() {
    if (this.destroyed || !this.wanted || this.retryTimer === null) return;
    this.clearRetry();
    this.open();
  }

  /**
   * disconnect closes the connection and stops reconnecting until
   * connect. Local edits stay in the Doc and go out on the next
   * connection.
   */
  disconnect() {
    this.wanted = false;
    this.attempt++;
    this.awaitingToken = false;
    this.clearRetry();
    this.drop(1000, 'disconnected');
    this.setStatus('closed');
  }

  /**
   * setToken sets the token of the next Hello. After 4408 (token expired),
   * the provider waits for it and reconnects at once.
   * @param {string} token
   */
  setToken(token) {
    if (typeof token !== 'string') throw new TypeError('flowstate: a token is a string');
    this.token = token;
    if (this.awaitingToken) {
      this.awaitingToken = false;
      if (this.wanted && !this.networkOffline) this.open();
    }
  }

  /**
   * destroy leaves the room (telling the others with an empty presence),
   * stops listening to the Doc and the network and removes every listener.
   * The provider cannot be used again.
   */
  destroy() {
    if (this.destroyed) return;
    this.presence.leave();
    this.disconnect();
    this.destroyed = true;
    this.stopLocal();
    this.crossTab?.destroy();
    if (this.network) {
      this.network.removeEventListener('online', this.onOnline);
      this.network.removeEventListener('offline', this.onOffline);
    }
    this.presence.destroy();
    this.rejectWaiters(new Error('flowstate: provider destroyed'));
    this.clear();
  }

  // -------------------------------------------------------------------------
  // Connection

  /**
   * open starts a connection attempt: it asks getToken for a token, if
   * set, then opens the WebSocket.
   */
  open() {
    this.clearRetry();
    this.drop(1000, 'reconnecting');
    this.setStatus('connecting');
    const attempt = ++this.attempt;
    if (this.persistence !== null && !this.persistence.synced) {
      // The catch-up after the Welcome must hold what storage restores.
      this.persistence.whenSynced.then(() => {
        if (attempt === this.attempt && this.wanted && !this.destroyed && this.ws === null) this.open();
      });
      return;
    }
    if (this.getToken === null) {
      this.dial();
      return;
    }
    let p;
    try {
      p = Promise.resolve(this.getToken());
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (token) => {
        if (attempt !== this.attempt || !this.wanted || this.destroyed || this.ws !== null) return;
        if (typeof token !== 'string') throw new TypeError('getToken must return a string');
        this.token = token;
        this.dial();
      },
    ).catch((e) => {
      if (attempt !== this.attempt || !this.wanted || this.destroyed || this.ws !== null) return;
      this.ended(Code.ABNORMAL, `getToken failed: ${e && e.message}`, false);
    });
  }

  /** dial opens the WebSocket and says hello once it is open. */
  dial() {
    let ws;
    try {
      ws = new this.WebSocket(this.url);
    } catch (e) {
      this.ended(Code.ABNORMAL, `cannot open ${this.url}: ${e && e.message}`);
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.joined = false;
    this.seq = 0;
    this.sendBase = this.recvBase = null;
    this.serverError = null;
    ws.onopen = () => {
      if (ws === this.ws) this.hello();
    };
    ws.onmessage = (ev) => {
      if (ws === this.ws) this.receive(ev.data);
    };
    ws.onclose = (ev) => {
      if (ws === this.ws) this.closed(ev.code, ev.reason);
    };
    // Browsers follow an error with a close event (1006), but Node's
    // built-in WebSocket reports a refused connection with the error
    // alone. Either way the connection is over: end it at the error,
    // keeping the Error message the server sent, if any, and retry after
    // the backoff rather than the handshake timeout. The handler stays
    // set after drop: the ws package throws an error nobody listens to.
    ws.onerror = () => {
      if (ws !== this.ws) return;
      const serverError = this.serverError;
      this.drop(1000, 'connection failed');
      this.serverError = serverError;
      this.closed(Code.ABNORMAL, `connection to ${this.url} failed`);
    };
    this.handshakeTimer = setTimeout(() => {
      this.handshakeTimer = null;
      if (ws === this.ws && !this.joined) this.fail(Code.ABNORMAL, `no welcome within ${this.handshakeTimeout} ms`);
    }, this.handshakeTimeout);
  }

  /** hello sends the Hello with the document's current state vector. */
  hello() {
    // The session's client ID, which its presence entries must carry: the
    // Doc may move to a fresh ID mid-session (when it applies changes
    // another copy of it made under its ID), and the server holds each
    // session to the ID of its Hello.
    this.sessionClient = this.doc.clientID;
    this.presence.clientID = this.sessionClient;
    let b;
    try {
      this.helloVersion = this.version;
      b = encodeMessage({
        type: 'hello',
        version: this.version,
        room: this.room,
        client: this.sessionClient,
        token: this.token,
        stateVector: encodeStateVector(this.doc.stateVector()),
        heartbeatMillis: this.version >= 2 ? this.heartbeat : 0,
        format: this.version >= 4 ? FORMAT_VERSION : 1,
      });
    } catch (e) {
      // An invalid room name: the server refuses the URL too, and its
      // 4002 ends the provider with the server's own explanation.
      if (!validRoom(this.room)) return;
      // A token the server could not even decode: retrying cannot help.
      this.drop(1000, 'invalid hello');
      this.ended(Code.PROTOCOL_ERROR, `flowstate: cannot send the hello: ${e.message}`, true);
      return;
    }
    this.ws.send(b);
  }

  /** receive handles one message of the current connection. */
  receive(data) {
    if (typeof data === 'string') {
      this.fail(Code.UNSUPPORTED_DATA, 'the server sent a text frame');
      return;
    }
    let m;
    try {
      m = decodeMessage(new Uint8Array(data));
    } catch (e) {
      this.fail(e.code ?? Code.PROTOCOL_ERROR, `bad message from the server: ${e.message}`);
      return;
    }
    // Any message answers an echo request: the server hears us.
    this.heardAt = Date.now();
    this.echoAt = 0;
    try {
      if (m.type === 'patch') {
        // Version 5: the Update of one update it stands for. One that
        // does not fit its base is as bad as bytes that do not decode.
        if (this.helloVersion < 5) throw new Error(`a patch on a connection of protocol version ${this.helloVersion}`);
        m = { type: 'update', seq: m.seq, updates: [applyPatch(this.recvBase, m, MAX_SERVER_MESSAGE)] };
      }
      switch (m.type) {
        case 'welcome':
          this.welcome(m);
          break;
        case 'update':
          if (!this.joined) throw new Error('an update before the welcome');
          // The base of the next Patch; an Update with no updates leaves it.
          if (this.helloVersion >= 5 && m.updates.length > 0) this.recvBase = patchBase(m.updates[m.updates.length - 1]);
          for (const u of m.updates) this.applyRemote(u);
          // Version 3: a relay may carry an acknowledgement (PROTOCOL.md
          // §4.3); servers of older versions always send 0.
          if (m.seq !== 0 && this.helloVersion >= 3) this.ack(m.seq);
          break;
        case 'ack':
          this.ack(m.seq);
          break;
        case 'presence':
          this.presence.receive(m.entries);
          break;
        case 'error':
          // A close with the same code follows; keep the explanation.
          this.serverError = { code: m.code, message: m.message };
          break;
        case 'heartbeat':
          break; // the echo of a request: hearing it was the point
        default:
          throw new Error(`a ${m.type} message from the server`);
      }
    } catch (e) {
      this.fail(Code.PROTOCOL_ERROR, `bad ${m.type} from the server: ${e && e.message}`);
    }
  }

  /** ack handles an acknowledgement of the Updates up to seq, from an Ack or a relay. */
  ack(seq) {
    if (this.tryLater) {
      this.tryLater = false;
      this.backoff.reset();
    }
    if (this.joined) this.acked(seq);
    if (this.joined && this.unacked && (typeof seq === 'bigint' || seq >= this.seq)) {
      this.unacked = false;
      this.setStatus('synced');
    }
  }

  /** welcome applies the Welcome and sends the server what it lacks. */
  welcome(m) {
    if (this.joined) throw new Error('a second welcome');
    const sv = decodeStateVector(m.stateVector);
    this.applyRemote(m.update);
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
    this.serverSV = sv;
    this.joined = true;
    this.roundLeft = 0; // a lost connection backs off before its round
    this.startHeartbeat();
    if (!this.tryLater) this.backoff.reset();
    this.setStatus('connected');
    const base = this.uploadBase(sv);
    if (this.unacked || ahead(this.doc.stateVector(), base)) {
      // The diff holds every local edit the server has not seen,
      // acknowledged or not, and the whole delete set.
      this.unacked = true;
      this.sendUpdate(this.doc.diff(base));
    } else {
      this.setAcked(this.changes);
      this.setStatus('synced');
    }
    this.presence.onJoin();
  }

  /**
   * applyRemote applies an update from the server or another tab to the
   * Doc and emits it as 'update', so that a persistence stores it.
   * @param {Uint8Array} update
   */
  applyRemote(update) {
    this.doc.apply(update);
    this.emit('update', update);
  }

  /** onLocalUpdate sends a local transaction's update, or keeps it for the next connection. */
  onLocalUpdate(update) {
    this.unacked = true;
    this.changes++;
    this.emit('unsynced', this.unsyncedCount);
    if (!this.joined) return; // the catch-up diff after the next Welcome holds it
    if (this.state === 'synced') this.setStatus('connected');
    // change() makes no update: send everything past the server's state.
    this.sendUpdate(update ?? this.doc.diff(this.uploadBase(this.serverSV)));
  }

  /**
   * upload sends an update that is not a local transaction of this Doc
   * (cross-tab sync hands over a closed tab's unacknowledged edits) and
   * counts it as one unsynced change until acknowledged. It returns false
   * when not connected: the next catch-up then decides.
   * @param {Uint8Array} update
   * @returns {boolean}
   */
  upload(update) {
    if (!this.joined) return false;
    this.unacked = true;
    this.changes++;
    this.emit('unsynced', this.unsyncedCount);
    if (this.state === 'synced') this.setStatus('connected');
    this.sendUpdate(update);
    return true;
  }

  /**
   * sendUpdate sends update as the next Update or, on a version 5
   * connection, as a Patch against the update sent before it when that is
   * smaller: the Patch takes the seq the Update would have had.
   */
  sendUpdate(update) {
    this.seq++;
    this.inflight.push([this.seq, this.changes]);
    let m = { type: 'update', seq: this.seq, updates: [update] };
    if (this.helloVersion >= 5) {
      if (this.sendBase !== null) {
        const p = makePatch(this.sendBase, update);
        if (patchSmaller(p, update.length, this.seq)) m = p;
      }
      this.sendBase = patchBase(update);
    }
    this.send(encodeMessage(m));
  }

  /** acked counts the changes an Ack of seq covers as synced. */
  acked(seq) {
    let n = this.ackedChanges;
    let k = 0;
    while (k < this.inflight.length && (typeof seq === 'bigint' || this.inflight[k][0] <= seq)) {
      n = Math.max(n, this.inflight[k][1]);
      k++;
    }
    this.inflight.splice(0, k);
    this.setAcked(n);
  }

  /** setAcked records that the first n changes are acknowledged. */
  setAcked(n) {
    if (n <= this.ackedChanges) return;
    this.ackedChanges = n;
    this.emit('unsynced', this.unsyncedCount);
  }

  sendPresence(state) {
    if (!this.joined) return false;
    return this.send(encodeMessage({ type: 'presence', entries: [{ client: this.sessionClient, state }] }));
  }

  /** send writes one message on the current connection if it is open. */
  send(b) {
    const ws = this.ws;
    if (ws === null || ws.readyState !== OPEN) return false;
    try {
      ws.send(b);
      this.sentAt = Date.now();
      return true;
    } catch {
      // The close event follows and the next connection resyncs.
      return false;
    }
  }

  /**
   * fail ends the current connection because of something this side saw
   * (a bad message, no Welcome). Never permanent: as in the Go client, a
   * fresh connection may well go better.
   */
  fail(code, message) {
    this.drop(1000, 'client error');
    this.ended(code, message, false);
  }

  /** startHeartbeat runs the heartbeat of a joined connection, checking it four times per interval. */
  startHeartbeat() {
    if (this.heartbeat === 0 || this.helloVersion < 2) return;
    this.sentAt = this.heardAt = Date.now();
    this.echoAt = 0;
    this.heartbeatTimer = setInterval(() => this.beat(), this.heartbeat / 4);
  }

  /**
   * beat does what the heartbeat asks now (PROTOCOL.md §10): end the
   * connection if an echo request went unanswered for an interval, else
   * ask for an echo if the server has said nothing for an interval, else
   * show the server we are alive if we have said nothing for an interval.
   * The wait for an echo counts from when the request went, so a timer
   * that a hidden page ran late does not take a live connection for dead.
   */
  beat() {
    if (!this.joined) return;
    const now = Date.now();
    if (this.echoAt !== 0) {
      if (now - this.echoAt >= this.heartbeat) {
        this.fail(Code.HEARTBEAT_TIMEOUT, `no answer from the server for ${now - this.heardAt} ms: the connection is dead`);
      }
      return;
    }
    if (now - this.heardAt >= this.heartbeat) {
      this.echoID++;
      if (this.send(encodeMessage({ type: 'heartbeat', id: this.echoID }))) this.echoAt = now;
    } else if (now - this.sentAt >= this.heartbeat) {
      this.send(encodeMessage({ type: 'heartbeat', id: 0 }));
    }
  }

  /** closed handles the close event of the current connection. */
  closed(code, reason) {
    this.ws = null;
    const e = this.serverError;
    // The close code is authoritative; the Error message explains it.
    if (e !== null && (code === e.code || code === Code.ABNORMAL || code === 1005)) {
      this.ended(e.code, e.message || reason);
      return;
    }
    this.ended(code, reason || `connection closed with code ${code}`);
  }

  /**
   * ended handles the end of a connection: emits the error, and stops,
   * waits for a token or schedules the next attempt.
   */
  ended(code, message, permanent = isPermanent(code)) {
    this.ws = null;
    this.leave();
    if (!this.wanted || this.destroyed) return;
    if (code === Code.UNSUPPORTED_VERSION && this.helloVersion >= 2) {
      // A server of an older version: say hello again at once in the
      // version below (without a heartbeat at version 1), and keep to the
      // version it accepts (PROTOCOL.md §11).
      this.version = this.helloVersion - 1;
      this.open();
      return;
    }
    const err = new FlowStateError(code, message, permanent);
    if (err.permanent) {
      this.wanted = false;
      this.lastError = err;
      this.setStatus('closed');
      this.emit('error', err);
      this.rejectWaiters(err);
      return;
    }
    this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    this.url = this.urls[this.urlIndex];
    this.setStatus('offline');
    this.emit('error', err);
    if (!this.wanted) return; // an error listener disconnected
    if (code === Code.TRY_AGAIN_LATER) {
      // The server cannot take updates now (a full disk, too many rooms):
      // wait at least a second, doubling while it keeps saying so.
      this.tryLater = true;
      this.backoff.atLeast(TRY_LATER_BACKOFF);
    }
    if (code === Code.TOKEN_EXPIRED) {
      if (this.getToken !== null) {
        // A fresh token is one call away: no need to back off.
        this.backoff.reset();
      } else {
        this.awaitingToken = true;
        return;
      }
    }
    this.scheduleRetry();
  }

  scheduleRetry() {
    if (this.networkOffline || this.retryTimer !== null || this.ws !== null) return;
    // The next node of the round is tried at once; the backoff is between rounds.
    let delay = 0;
    if (this.roundLeft > 0) this.roundLeft--;
    else {
      delay = this.backoff.next();
      this.roundLeft = this.urls.length - 1;
    }
    this.emit('retry', delay);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.wanted && !this.networkOffline) this.open();
    }, delay);
  }

  clearRetry() {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  /** drop closes the current connection without waiting for its close event. */
  drop(code, reason) {
    const ws = this.ws;
    if (ws === null) return;
    this.ws = null;
    ws.onopen = ws.onmessage = ws.onclose = null;
    try {
      ws.close(code, reason);
    } catch {
      // already closing
    }
    this.leave();
  }

  /** leave forgets the per-connection state. */
  leave() {
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
    this.joined = false;
    this.inflight = []; // the next connection's catch-up covers them
    this.presence.onLeave();
  }

  /** setNetwork follows the browser's online and offline events. */
  setNetwork(online) {
    this.networkOffline = !online;
    if (!this.wanted || this.destroyed) return;
    if (!online) {
      this.attempt++;
      this.clearRetry();
      this.drop(1000, 'offline');
      this.setStatus('offline');
      return;
    }
    if (this.ws === null && !this.awaitingToken) {
      this.backoff.reset();
      this.roundLeft = this.urls.length - 1;
      this.open();
    }
  }

  setStatus(s) {
    if (this.state === s) return;
    this.state = s;
    this.emit('status', s);
    if (s === 'synced') {
      const w = this.waiters;
      this.waiters = [];
      for (const x of w) x.resolve();
      this.emit('synced');
    }
  }

  rejectWaiters(err) {
    const w = this.waiters;
    this.waiters = [];
    for (const x of w) x.reject(err);
  }
}

/** ahead reports whether sv holds changes that server lacks. */
function ahead(sv, server) {
  for (const [id, clock] of sv) if (clock > (server.get(id) ?? 0)) return true;
  return false;
}

/** defaultNetwork is the source of 'online' and 'offline' events: the window in a browser. */
function defaultNetwork() {
  const g = globalThis;
  return typeof g.addEventListener === 'function' && typeof g.removeEventListener === 'function' ? g : null;
}
