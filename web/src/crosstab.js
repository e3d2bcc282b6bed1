// CrossTab: the tabs of one origin that edit the same room exchange
// updates and presence over a BroadcastChannel, so that they converge at
// once, with or without the server, and share the upload to the server
// instead of each sending everything.

/** How often a tab tells the others it is still open, in ms. */
export const HEARTBEAT = 5000;
/** A tab not heard from for this many heartbeats is taken for closed. */
export const MISSED_HEARTBEATS = 3;

/**
 * A CrossTab connects a Provider's Doc and presence with the other tabs of
 * the same origin whose providers have the same room URL. Create it with
 * the Provider option `crossTab: true`; `provider.crossTab` is the
 * instance.
 *
 * Every tab has its own Doc, client ID and connection. Each local
 * transaction goes to the other tabs as it is made; a tab that opens asks
 * the others for what it lacks and sends them what they lack. Presence
 * states travel the same way, so tabs see each other's cursors offline.
 *
 * Uploads: a tab uploads only what the server lacks and nobody else
 * sends. On a Welcome, each tab's catch-up holds its own client's
 * changes; the changes of clients whose tab is no longer open (a document
 * restored from storage, a tab closed before its edits were acknowledged)
 * are uploaded by one tab only, the leader: the open tab with the smallest
 * client ID. A tab that closes with unacknowledged edits hands them to the
 * leader, which uploads them at once if it is connected. Changes the server
 * sent are never resent, since catch-ups are diffs of the server's state
 * vector. Where a channel is missing (an old browser), the tab syncs
 * alone.
 */
export class CrossTab {
  /**
   * @param {import('./provider.js').Provider} provider
   * @param {{BroadcastChannel?: typeof BroadcastChannel, heartbeat?: number}} [options] heartbeat: in ms
   *   (HEARTBEAT); a tab silent for MISSED_HEARTBEATS of them is taken for closed
   */
  constructor(provider, options = {}) {
    this.provider = provider;
    this.doc = provider.doc;
    /** Open tabs by client ID: when last heard, and their presence. @type {Map<number, {seen: number, presence: Uint8Array | null}>} */
    this.peers = new Map();
    /** This client's clock when the server had acknowledged all of this tab's changes. */
    this.ackedClock = 0;
    this.destroyed = false;
    const heartbeat = options.heartbeat ?? HEARTBEAT;
    this.peerTimeout = MISSED_HEARTBEATS * heartbeat;
    const BC = options.BroadcastChannel ?? globalThis.BroadcastChannel;
    this.channel = typeof BC === 'function' ? new BC(`flowstate:${provider.urls[0]}`) : null;
    if (this.channel === null) return;
    this.channel.onmessage = (ev) => this.receive(ev.data);

    const stops = [];
    stops.push(this.doc.onLocalUpdate((u) => (u === null ? this.post({ type: 'hello', sv: this.doc.stateVector() }) : this.post({ type: 'update', update: u }))));
    stops.push(provider.presence.on('local', (bytes) => this.post({ type: 'presence', state: bytes })));
    // The provider drops remote presence when its connection ends; the
    // tabs are still here.
    stops.push(provider.presence.on('change', ({ removed }) => {
      if (removed.some((c) => this.peers.get(c)?.presence)) queueMicrotask(() => this.restorePresence());
    }));
    stops.push(provider.on('unsynced', (n) => {
      if (n === 0) this.ackedClock = this.doc.stateVector().get(this.id) ?? 0;
    }));
    this.stops = stops;
    provider.uploadBase = (sv) => this.uploadBase(sv);
    this.timer = setInterval(() => {
      this.post({ type: 'here' });
      this.expire();
    }, heartbeat);
    // A page kept in the back/forward cache may come back: it stays a
    // peer, and the others expire it if it does not.
    this.onPageHide = (ev) => {
      if (!ev || !ev.persisted) this.destroy();
    };
    if (typeof globalThis.addEventListener === 'function') globalThis.addEventListener('pagehide', this.onPageHide);
    // With persistence, say hello once the stored document is loaded:
    // the others then send only what storage did not have.
    const loaded = provider.persistence?.whenSynced ?? Promise.resolve();
    loaded.then(() => this.post({ type: 'hello', sv: this.doc.stateVector(), presence: provider.presence.bytes }));
  }

  /** This tab's client ID: the Doc's, which may move to a fresh one (FORMAT.md §6.5). */
  get id() {
    return this.doc.clientID;
  }

  /** post sends msg to the other tabs, with this tab's client ID. */
  post(msg) {
    if (this.channel === null || this.destroyed) return;
    msg.from = this.id;
    try {
      this.channel.postMessage(msg);
    } catch {
      // A closed channel: the tab is going away.
    }
  }

  /** receive handles one message of another tab. */
  receive(m) {
    if (this.destroyed || m === null || typeof m !== 'object' || !Number.isSafeInteger(m.from) || m.from === this.id) return;
    if (m.to !== undefined && m.to !== this.id) return;
    if (m.type === 'bye') {
      this.bye(m.from, m.ackedClock);
      return;
    }
    let peer = this.peers.get(m.from);
    if (peer === undefined) this.peers.set(m.from, (peer = { seen: 0, presence: null }));
    peer.seen = Date.now();
    try {
      switch (m.type) {
        case 'hello':
          if (!(m.sv instanceof Map)) return;
          // A new tab, or one that needs a sync: send what it lacks, our
          // state vector so it can answer in kind, and our presence.
          this.post({ type: 'sync', to: m.from, sv: this.doc.stateVector(), update: this.doc.diff(m.sv), presence: this.provider.presence.bytes });
          this.setPeerPresence(m.from, peer, m.presence);
          break;
        case 'sync':
          this.apply(m.update);
          if (ahead(this.doc.stateVector(), m.sv)) this.post({ type: 'update', to: m.from, update: this.doc.diff(m.sv) });
          this.setPeerPresence(m.from, peer, m.presence);
          break;
        case 'update':
          this.apply(m.update);
          break;
        case 'presence':
          this.setPeerPresence(m.from, peer, m.state);
          break;
      }
    } catch {
      // A tab of another version of the page, or a broken one: ignore
      // what cannot be applied; the server still syncs both.
    }
  }

  /** apply applies another tab's update to the Doc and tells the provider's listeners. */
  apply(update) {
    if (!(update instanceof Uint8Array)) return;
    this.provider.applyRemote(update);
  }

  /** setPeerPresence records and shows a tab's presence state. */
  setPeerPresence(id, peer, state) {
    if (!(state instanceof Uint8Array)) return;
    peer.presence = state.length > 0 ? state : null;
    this.provider.presence.receive([{ client: id, state }]);
  }

  /** restorePresence shows the open tabs' presence again after the provider dropped it. */
  restorePresence() {
    if (this.destroyed) return;
    const entries = [];
    for (const [client, p] of this.peers) if (p.presence && !this.provider.presence.states.has(client)) entries.push({ client, state: p.presence });
    if (entries.length > 0) this.provider.presence.receive(entries);
  }

  /**
   * bye forgets a closed tab. If it left edits the server had not
   * acknowledged and this tab is now the leader, it uploads them.
   */
  bye(id, ackedClock) {
    const peer = this.peers.get(id);
    this.peers.delete(id);
    if (peer?.presence) this.provider.presence.receive([{ client: id, state: new Uint8Array(0) }]);
    if (!Number.isSafeInteger(ackedClock) || ackedClock < 0 || !this.leader()) return;
    const p = this.provider;
    if (!p.joined) return; // the next catch-up holds them: the tab is gone
    const sv = this.doc.stateVector();
    const from = Math.max(ackedClock, p.serverSV.get(id) ?? 0);
    if ((sv.get(id) ?? 0) <= from) return;
    const base = new Map(sv);
    base.set(id, from);
    p.upload(this.doc.diff(base));
  }

  /**
   * expire forgets tabs not heard from for peerTimeout: they closed
   * without a word (a crash), so whatever of their changes the server may
   * lack is uploaded by the leader.
   */
  expire() {
    const now = Date.now();
    for (const [id, p] of this.peers) if (now - p.seen > this.peerTimeout) this.bye(id, 0);
  }

  /** leader reports whether this tab uploads the changes of clients whose tab is closed. */
  leader() {
    for (const id of this.peers.keys()) if (id < this.id) return false;
    return true;
  }

  /**
   * uploadBase is the state vector a catch-up diff is taken against: the
   * server's, raised to the Doc's own for each client another tab uploads.
   * @param {Map<number, number>} serverSV
   * @returns {Map<number, number>}
   */
  uploadBase(serverSV) {
    const base = new Map(serverSV);
    const leader = this.leader();
    for (const [c, next] of this.doc.stateVector()) {
      if (c === this.id || (leader && !this.peers.has(c))) continue;
      if (next > (base.get(c) ?? 0)) base.set(c, next);
    }
    return base;
  }

  /** peerIDs returns the client IDs of the other open tabs. @returns {number[]} */
  peerIDs() {
    return [...this.peers.keys()];
  }

  /**
   * destroy tells the other tabs this one closes (with what the server has
   * of its edits, so that the leader can upload the rest) and closes the
   * channel. The provider calls it on destroy, and the page's pagehide.
   */
  destroy() {
    if (this.destroyed || this.channel === null) {
      this.destroyed = true;
      return;
    }
    this.post({ type: 'bye', ackedClock: this.provider.unsyncedCount > 0 ? this.ackedClock : -1 });
    this.destroyed = true;
    clearInterval(this.timer);
    for (const stop of this.stops) stop();
    if (typeof globalThis.removeEventListener === 'function') globalThis.removeEventListener('pagehide', this.onPageHide);
    this.channel.close();
    this.provider.uploadBase = (sv) => sv;
  }
}

/** ahead reports whether sv holds changes that other lacks. */
function ahead(sv, other) {
  if (!(other instanceof Map)) return false;
  for (const [id, clock] of sv) if (clock > (other.get(id) ?? 0)) return true;
  return false;
}
