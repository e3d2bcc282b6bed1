// Hand-written declarations for FlowState's JavaScript client (src/*.js):
// the CRDT, the wire protocol, the Provider and presence (the bindings are
// declared in textarea.d.ts and codemirror.d.ts). The implementation is plain ES modules; these types describe its
// public API. Byte formats: crdt/FORMAT.md and protocol/PROTOCOL.md in the
// repository.

/**
 * A state vector: for each client ID, the next clock the holder expects
 * from it. Absent clients and clients at 0 are equal.
 */
export type StateVector = Map<number, number>;

/**
 * One step of a Quill-style delta, in UTF-16 code units. In a rich text
 * an insert (of text, or of an embed's value) carries the attributes the
 * inserted text has, and a retain with attributes changes formatting:
 * each key to its value, null removing it (crdt/RICH.md §R7).
 */
export type DeltaOp =
  | { retain: number; attributes?: Record<string, unknown> }
  | { insert: string | unknown; attributes?: Record<string, unknown> }
  | { delete: number };

/** What a transaction changed in a Text. */
export interface TextEvent {
  /**
   * Applied from position 0 of the text as it was before the transaction,
   * gives the text as it is now. Counts are UTF-16 code units. A trailing
   * retain is left out.
   */
  delta: DeltaOp[];
  /** True for edits made on this replica, false for applied updates. */
  local: boolean;
}

/** What a transaction changed in a Map. */
export interface MapEvent {
  /** The keys whose winning entry changed, in order of first change. */
  keys: string[];
  /** True for edits made on this replica. */
  local: boolean;
}

/** Options of `new Doc`. */
export interface DocOptions {
  /**
   * This replica's client ID, an integer in [0, 2^53 − 1]; a random
   * non-zero one by default. Two replicas must never share one.
   */
  clientID?: number;
  /**
   * Receives what an observer throws. By default the error is rethrown
   * asynchronously (an uncaught exception), so that a failing observer
   * neither stops the other observers nor loses the edit's update.
   */
  onObserverError?: (err: unknown) => void;
}

/**
 * One replica of a collaborative document: named Texts and Maps that
 * converge with every replica that has seen the same updates, in whatever
 * order they arrived. Same CRDT and bytes as the Go package crdt.
 */
export class Doc {
  /** Creates an empty document. Throws a RangeError for an invalid client ID. */
  constructor(options?: DocOptions);
  /**
   * The client ID this replica's local edits carry. It changes to a fresh
   * random ID before the next local edit once the document has applied
   * changes under its ID that it did not make (another copy of this
   * replica wrote them, e.g. one restored from an older snapshot), or once
   * its clock reaches 2^52.
   */
  readonly clientID: number;
  /**
   * Makes id the client ID of the following local edits. The caller
   * asserts that the document holds everything ever written under id.
   * Throws a RangeError for an invalid ID.
   */
  resumeClientID(id: number): void;
  /**
   * The Text with the given name, created if needed. Throws a TypeError
   * unless name is valid Unicode of at most 1024 UTF-8 bytes.
   */
  getText(name: string): Text;
  /**
   * The Map with the given name, created if needed. A Text and a Map may
   * share a name and are unrelated. Same name rules as getText.
   */
  getMap(name: string): SharedMap;
  /** The names of the document's texts, sorted by code point. */
  textNames(): string[];
  /** The names of the document's maps, sorted by code point. */
  mapNames(): string[];
  /**
   * Runs fn and returns one update holding every local edit it made, or
   * null if nothing changed. Inside fn, edits return null. Nested calls
   * just run fn and return null. If fn throws, its edits stay, the error
   * propagates, and their update is attached as `error.update`.
   */
  transact(fn: () => void): Uint8Array | null;
  /**
   * Runs fn like transact but produces no update: peers get the edits
   * through diff of their state vector.
   */
  change(fn: () => void): void;
  /**
   * Merges an update or snapshot. Idempotent and commutative; changes
   * whose dependencies are missing are held until they arrive. Throws a
   * DecodeError or InvalidUpdateError for hostile bytes, leaving the
   * document unchanged, and an Error when called inside transact.
   */
  apply(update: Uint8Array): void;
  /** For every client whose changes the document holds, the next clock expected. */
  stateVector(): StateVector;
  /**
   * The update a replica at sv lacks: every change past sv plus the whole
   * delete set. sv may be encoded; none gives a snapshot.
   */
  diff(sv?: StateVector | Uint8Array | null): Uint8Array;
  /** An update holding the whole document; loading it is applying it. */
  snapshot(): Uint8Array;
  /** Whether received changes wait for changes they depend on. */
  hasPending(): boolean;
  /**
   * Calls fn after every local transaction that changed the document, with
   * its update, before the Text and Map observers run; returns a function
   * that stops the calls. update is null for `change`, which makes none:
   * a listener then sends `diff` of what its peer has. A Provider uses it
   * to send local edits; applied (remote) updates do not call it.
   */
  onLocalUpdate(fn: (update: Uint8Array | null) => void): () => void;
}

/**
 * A named sequence of Unicode code points. Positions and lengths in this
 * API count UTF-16 code units, as JavaScript strings do; the CRDT counts
 * code points and the Text converts at its edge, never splitting a
 * surrogate pair: an insert index inside a pair is rounded down to the
 * pair's start, and a delete range that starts or ends inside a pair is
 * widened to delete the whole pair.
 */
export class Text {
  private constructor();
  /** The text's name in its Doc. */
  readonly name: string;
  /** The length in UTF-16 code units, like `toString().length`. */
  readonly length: number;
  /** The text's content. */
  toString(): string;
  /**
   * Inserts s at UTF-16 position index (0 ≤ index ≤ length) and returns
   * the edit's update (null inside transact, or for an empty s). Throws a
   * RangeError for a bad index and a TypeError for a lone surrogate.
   */
  insert(index: number, s: string): Uint8Array | null;
  /**
   * Deletes length UTF-16 units from index and returns the edit's update
   * (null inside transact, or for a zero length). Throws a RangeError
   * unless 0 ≤ index and index + length ≤ this.length.
   */
  delete(index: number, length: number): Uint8Array | null;
  /** Calls fn after every transaction that changed the text; returns a function that stops the calls. */
  observe(fn: (ev: TextEvent) => void): () => void;
  /**
   * A position that follows concurrent edits: anchored to the ID of the
   * character at index (assoc ≥ 0, the default: the position stays before
   * that character) or of the character before index (assoc < 0: it stays
   * after it). index counts UTF-16 units; one inside a surrogate pair is
   * rounded down. Plain JSON and msgpack data, for presence.
   */
  relativePosition(index: number, assoc?: number): RelativePosition;
  /**
   * The UTF-16 index of a relative position now, or null if this replica
   * does not hold its anchor (yet) or the anchor is not in this text. A
   * deleted anchor resolves to where it was.
   */
  absolutePosition(pos: RelativePosition): number | null;

  // Rich text (crdt/RICH.md): marks, embeds and block attributes, anchored
  // to characters, merging as Peritext does, bit for bit with Go's Text.

  /**
   * Applies key = value to the length UTF-16 units from index (a range
   * inside a surrogate pair is widened to the pair) and returns the
   * update (null inside transact, or for a zero length). A null value
   * removes the key. The value is stored in canonical msgpack form, like a
   * SharedMap value. The mark's expand rule comes from the Text's schema:
   * text typed at the end of an 'after' mark (bold) takes it, at the end
   * of a 'none' mark (a link) does not, at the start of either does not.
   * Of concurrent marks of one key, the one made after seeing more marks
   * wins, then the greater client ID. Throws a RangeError for a bad range
   * and a TypeError for a bad key or a value with no msgpack form.
   */
  format(index: number, length: number, key: string, value: unknown): Uint8Array | null;
  /**
   * Inserts one position holding value (an image, a mention) at index and
   * returns the update (null inside transact). toString shows it as
   * U+FFFC; toDelta as `{insert: value}`.
   */
  insertEmbed(index: number, value: unknown): Uint8Array | null;
  /**
   * Sets block attribute key (header, list, …) of the block holding index
   * to value (null removes it) and returns the update (null inside
   * transact). As in Quill, the newline ending the block carries it: the
   * first "\n" at or after index gets a mark that never expands. Throws a
   * RangeError when no newline follows index.
   */
  setBlock(index: number, key: string, value: unknown): Uint8Array | null;
  /**
   * Sets the expand rules of mark keys for later calls of format; keys it
   * does not list take DEFAULT_MARK_SCHEMA's rule, or 'none'. Each mark
   * stores its rule, so replicas with other schemas agree on it.
   */
  setMarkSchema(schema: MarkSchema): void;
  /**
   * The text as a Quill delta of inserts: runs with equal formatting are
   * one op, each embed one op holding its decoded value; `attributes` is
   * absent when empty.
   */
  toDelta(): RichOp[];
}

/** Whether a mark takes text typed at its end ('after': bold) or not ('none': a link). Neither grows at its start. */
export type ExpandRule = 'none' | 'after';

/** The expand rule of mark keys. */
export type MarkSchema = Record<string, ExpandRule>;

/** bold, italic, underline, strike and code expand 'after'; link and comment 'none'. */
export const DEFAULT_MARK_SCHEMA: Readonly<MarkSchema>;

/** One insert of Text.toDelta: a run of text, or an embed's value, with its formatting. */
export interface RichOp {
  insert: string | unknown;
  attributes?: Record<string, unknown>;
}

/**
 * A position in a Text anchored to a character's ID (client, clock), so
 * that it moves with concurrent edits. client and clock are null for the
 * start (assoc < 0) or the end (assoc ≥ 0) of the text.
 */
export interface RelativePosition {
  client: number | null;
  clock: number | null;
  assoc: number;
}

/**
 * A named last-writer-wins map from strings to msgpack values (encoded and
 * decoded as @msgpack/msgpack decodes them). A set that saw the current value beats it;
 * of concurrent sets, the greater sequence number wins, then the greater
 * client ID.
 */
export class SharedMap {
  private constructor();
  /** The map's name in its Doc. */
  readonly name: string;
  /** The number of keys that have a value. */
  readonly size: number;
  /**
   * Sets key to value in its canonical msgpack encoding, the bytes Go's
   * Map.Set writes for the same value (shortest integers, float64 for
   * other numbers, object keys in UTF-8 order), and returns the update
   * (null inside transact). Values: null, undefined, booleans, numbers,
   * BigInts in the 64-bit range, strings, Uint8Arrays, arrays, Maps with
   * string keys and plain objects. Throws a TypeError for a key with a
   * lone surrogate, or a value with no canonical encoding (a Date or other
   * extension type, a lone surrogate, nesting deeper than the format
   * allows).
   */
  set(key: string, value: unknown): Uint8Array | null;
  /** Sets key to one msgpack value given as bytes, stored and sent byte for byte. */
  setRaw(key: string, bytes: Uint8Array): Uint8Array | null;
  /** Removes key; returns null and changes nothing when it has no value. */
  delete(key: string): Uint8Array | null;
  /** The value of key decoded as @msgpack/msgpack decodes it, or undefined. */
  get(key: string): unknown;
  /** A copy of the msgpack bytes of key's value, or undefined. */
  getRaw(key: string): Uint8Array | undefined;
  /** Whether key has a value. */
  has(key: string): boolean;
  /** The keys that have a value, sorted by code point. */
  keys(): string[];
  /** Calls fn after every transaction that changed the map; returns a function that stops the calls. */
  observe(fn: (ev: MapEvent) => void): () => void;
}

/** Bytes that are not a valid update or state vector; offset is where decoding failed. */
export class DecodeError extends Error {
  constructor(offset: number, msg: string);
  readonly offset: number;
  readonly msg: string;
}

/**
 * An update that decodes but cannot be applied: it breaks a rule of the
 * format (e.g. an origin naming a map entry) or gives clocks the document
 * holds another history.
 */
export class InvalidUpdateError extends Error {
  constructor(msg: string);
}

/**
 * An update whose changes that must wait (for changes they depend on)
 * would take the document's pending changes past MAX_PENDING_BYTES.
 */
export class TooMuchPendingError extends InvalidUpdateError {
  constructor(msg: string);
}

/**
 * The most a Doc holds as pending changes: records count their content,
 * key and value bytes plus 160, delete ranges 32 each (16 MiB, as in Go).
 */
export const MAX_PENDING_BYTES: number;

/** The msgpack encoding of sv: keys ascending, zero clocks left out. */
export function encodeStateVector(sv: StateVector): Uint8Array;
/** Decodes a state vector strictly; throws a DecodeError for anything else. */
export function decodeStateVector(bytes: Uint8Array): StateVector;
/** Whether a and b describe the same state (absent equals 0). */
export function stateVectorsEqual(a: StateVector, b: StateVector): boolean;
/** The largest valid client ID, 2^53 − 1. */
export const MAX_CLIENT_ID: number;
/** A uniformly random non-zero client ID below 2^53. */
export function randomClientID(): number;
/** Formats bytes as lowercase hex. */
export function toHex(bytes: Uint8Array): string;
/** Parses hex into bytes; throws on invalid hex. */
export function fromHex(hex: string): Uint8Array;

// ---------------------------------------------------------------------------
// The wire protocol (protocol/PROTOCOL.md)

/** The newest protocol version this client speaks (5: version 3, acknowledgements in relayed Updates, plus the document format the client reads (4), plus the Patch). */
export const PROTOCOL_VERSION: 5;
/** The newest document format (crdt/FORMAT.md) this client's Doc reads, declared in its Hello; 2 is rich text, 3 rich text with compact marks. */
export const FORMAT_VERSION: 3;

/** Close and error codes of PROTOCOL.md §8 by name (1006: the connection dropped). */
export const Code: Readonly<{
  NORMAL: 1000; GOING_AWAY: 1001; PROTOCOL_ERROR: 1002; UNSUPPORTED_DATA: 1003; ABNORMAL: 1006;
  MESSAGE_TOO_BIG: 1009; INTERNAL_ERROR: 1011; TRY_AGAIN_LATER: 1013; UNKNOWN_TYPE: 4000;
  UNSUPPORTED_VERSION: 4001; INVALID_ROOM: 4002; HELLO_TIMEOUT: 4003; INVALID_UPDATE: 4004; HEARTBEAT_TIMEOUT: 4005;
  UNSUPPORTED_FORMAT: 4006; SLOW_CONSUMER: 4008; UNAUTHORIZED: 4401; FORBIDDEN: 4403; ROOM_DELETED: 4404; TOKEN_EXPIRED: 4408;
  CLIENT_ID_IN_USE: 4409; REPLACED: 4410; RATE_LIMITED: 4429;
}>;

/** Whether a client must not reconnect automatically after this close or error code. */
export function isPermanent(code: number): boolean;
/** Whether name is a room name: 1 to 128 characters of [A-Za-z0-9._~-]. */
export function validRoom(name: string): boolean;

/** `[0, 1, room, client, token, state_vector]`, `[0, v, room, client, token, state_vector, heartbeat_millis]` (v = 2 or 3) or `[0, v, room, client, token, state_vector, heartbeat_millis, format]` (v = 4 or 5). A Hello of another version decodes to its version alone. */
export interface HelloMessage {
  type: 'hello'; version: number; room: string; client: number; token: string; stateVector: Uint8Array;
  /** Versions 2 to 5 only: the heartbeat interval in ms, 0 (none) or 100 to 60000. */
  heartbeatMillis?: number;
  /** Versions 4 and 5 only: the newest document format the client reads, 1 to 255; absent means 1. */
  format?: number;
}
/** `[1, state_vector, update]`. */
export interface WelcomeMessage { type: 'welcome'; stateVector: Uint8Array; update: Uint8Array }
/** `[2, seq, [update, …]]`; from the server seq is 0, or, on a connection of version 3 or later, an acknowledgement of the client's Updates up to seq. */
export interface UpdateMessage { type: 'update'; seq: number | bigint; updates: Uint8Array[] }
/** `[3, seq]`. */
export interface AckMessage { type: 'ack'; seq: number | bigint }
/** `[4, [[client, state], …]]`; an empty state means the client left. */
export interface PresenceMessage { type: 'presence'; entries: Array<{ client: number; state: Uint8Array }> }
/** `[5, code, message, seq]`. */
export interface ErrorMessage { type: 'error'; code: number; message: string; seq: number | bigint }
/** One protocol message. Integers above 2^53 − 1 decode as BigInt. */
/** Version 2: shows the sender alive; from a client, an id of 1 or more asks the server to echo it. */
export interface HeartbeatMessage { type: 'heartbeat'; id: number | bigint }
/**
 * Version 5: `[7, keep_front, keep_back, middle]`, or from the server with
 * a seq above 0 `[7, keep_front, keep_back, middle, seq]`. It stands for an
 * Update of one update: the first keepFront bytes of the base (the last
 * update sent the same way on the connection, if it is at most 4096
 * bytes), middle, then the base's
 * last keepBack bytes. seq is as an Update's; a client's is 0, and its
 * Patch takes the next seq.
 */
export interface PatchMessage { type: 'patch'; keepFront: number; keepBack: number; middle: Uint8Array; seq: number | bigint }
export type Message = HelloMessage | WelcomeMessage | UpdateMessage | AckMessage | PresenceMessage | ErrorMessage | HeartbeatMessage | PatchMessage;

/**
 * The canonical wire form of m. Throws a RangeError or TypeError for a
 * message a peer would reject (invalid room, oversized presence state, …).
 */
export function encodeMessage(m: Message): Uint8Array;
/**
 * Decodes one message strictly, as the Go codec does; throws a
 * ProtocolError for anything else.
 */
export function decodeMessage(bytes: Uint8Array): Message;

/**
 * The Patch (seq 0) that turns base into update: the longest common prefix
 * kept first, then the longest common suffix of what is left (the patch Go
 * makes). Its middle shares update's memory.
 */
export function makePatch(base: Uint8Array, update: Uint8Array): PatchMessage;
/**
 * What becomes the base after a message whose last update is u (Go's
 * protocol.Base): u, or null when u is longer than 4096 bytes.
 */
export function patchBase(u: Uint8Array): Uint8Array | null;
/**
 * Whether patch, as encoded (with its seq, if any), is shorter than the
 * Update of seq carrying the n-byte update it stands for (Go's
 * Patch.Smaller): a sender sends a Patch only then.
 */
export function patchSmaller(patch: PatchMessage, n: number, seq?: number): boolean;
/**
 * The update patch stands for, in new memory. Throws a RangeError when
 * base is null or undefined (no update came before the patch), when it is
 * shorter than keepFront and keepBack together, or when the update would
 * be longer than max bytes (max < 0, the default, is no limit).
 */
export function applyPatch(base: Uint8Array | null | undefined, patch: Pick<PatchMessage, 'keepFront' | 'keepBack' | 'middle'>, max?: number): Uint8Array;

/** Bytes that are not a valid message; unknownType marks an undefined tag (close code 4000, else 1002). */
export class ProtocolError extends Error {
  constructor(offset: number, msg: string, unknownType?: boolean);
  readonly offset: number;
  readonly unknownType: boolean;
  /** 4000 for an unknown type, else 1002. */
  readonly code: number;
}

// ---------------------------------------------------------------------------
// Provider and presence

/** The connection state of a Provider. */
export type ProviderStatus = 'connecting' | 'connected' | 'synced' | 'offline' | 'closed';

/**
 * Why a connection ended, or failed to start. code is the protocol close
 * or error code (1006 for a dropped connection); permanent errors stop the
 * Provider from reconnecting.
 */
export class FlowStateError extends Error {
  constructor(code: number, message: string, permanent?: boolean);
  readonly code: number;
  readonly permanent: boolean;
}

/** Options of `new Provider`. */
export interface ProviderOptions {
  /**
   * The room's WebSocket URL, `ws://host:port/ws/ROOM` (see
   * Provider.roomURL). Required unless urls is given.
   */
  url?: string;
  /**
   * The room's URL on each node of a cluster, all naming the same room,
   * in place of url: the provider starts with the first and, when a
   * connection fails or is lost, moves to the next, round-robin, backing
   * off only between full rounds of the list. Shuffle it to spread
   * clients over the nodes.
   */
  urls?: string[];
  /** A bearer token sent in the Hello; none by default. */
  token?: string;
  /**
   * Called before every connection for the token to send instead of
   * token; with it, an expired token (4408) is replaced without the app's
   * help. A rejection counts as a failed attempt (backoff, then retry).
   */
  getToken?: () => string | Promise<string>;
  /** The WebSocket constructor; globalThis.WebSocket by default. */
  WebSocket?: typeof WebSocket;
  /** First reconnection delay in ms (default 250); doubles per failed attempt (per failed round of urls), ±50 % jitter. */
  minBackoff?: number;
  /** Cap of the reconnection delay in ms (default 30000). */
  maxBackoff?: number;
  /** Connect at once (default true); otherwise call connect(). */
  connect?: boolean;
  /** How long to wait for the Welcome after opening, in ms (default 10000), before retrying. */
  handshakeTimeout?: number;
  /**
   * The heartbeat interval in ms (default 10000; 0 for none; else 100 to
   * 60000): a connection on which the server stays silent is found dead,
   * closed (an 'error' with code 4005) and reconnected at most 2.5
   * intervals after the provider last heard from the server.
   */
  heartbeat?: number;
  /**
   * Where 'online' and 'offline' events come from: globalThis in a browser
   * (default when it has addEventListener), null to ignore them.
   */
  network?: EventTarget | null;
  /** How often presence is resent so that the server keeps it, in ms (default 15000). */
  presenceRefresh?: number;
  /** The least time between two presence messages, in ms (default 50); the latest state wins. */
  presenceThrottle?: number;
  /**
   * Keeps the document in the browser as well: the persistence stores the
   * updates this provider applies and its unsyncedCount, and hands it the
   * count of unacknowledged changes it restored.
   */
  persistence?: import('./persistence.js').IndexedDBPersistence | null;
  /**
   * Syncs with the other tabs of this origin and room URL over a
   * BroadcastChannel (see CrossTab); off by default. heartbeat: how often a
   * tab says it is still open, in ms (default 5000); one silent for three
   * of them is taken for closed.
   */
  crossTab?: boolean | { heartbeat?: number };
}

/** Events of a Provider. */
export interface ProviderEvents {
  status: (status: ProviderStatus) => void;
  error: (err: FlowStateError) => void;
  synced: () => void;
  /** A reconnection attempt is scheduled in delay ms (see retryNow). */
  retry: (delay: number) => void;
  /** unsyncedCount changed. */
  unsynced: (count: number) => void;
  /** An update from the server or another tab was applied to the Doc. */
  update: (update: Uint8Array) => void;
}

/**
 * A Provider keeps a Doc in sync with one room of a FlowState server over
 * a WebSocket: it says hello with the document's state vector, applies the
 * Welcome, sends what the server lacks (edits made offline or never
 * acknowledged), then sends local edits as they happen and applies remote
 * ones. It reconnects with exponential backoff and ±50 % jitter after any
 * close that is not permanent, and stops (status 'closed', an 'error' with
 * permanent = true) after a permanent one. After 4408 (token expired) it
 * reconnects with a token from getToken if given, else waits for setToken.
 * Every connection that ends other than by disconnect or destroy emits an
 * 'error'; only permanent ones stop it.
 *
 * Status: 'connecting' until the Welcome; 'connected' while edits the
 * server has not acknowledged are outstanding; 'synced' when every local
 * edit is acknowledged (a new local edit goes back to 'connected' until
 * its Ack); 'offline' while waiting to reconnect or while the browser is
 * offline; 'closed' after disconnect, destroy or a permanent error.
 */
export class Provider {
  constructor(doc: Doc, options: ProviderOptions);
  /**
   * The room's WebSocket URL: base (http(s) or ws(s)) with path /ws/ROOM.
   * base names the FlowState server: `location.href` when the page comes
   * from it, its own URL otherwise, as in
   * `Provider.roomURL('https://sync.example.com', 'notes')` →
   * `'wss://sync.example.com/ws/notes'`.
   */
  static roomURL(base: string | URL, room: string): string;
  readonly doc: Doc;
  /** The room's WebSocket URL in use: of the current or next connection. */
  readonly url: string;
  /** The room's URL on each node (options.urls), or url alone. */
  readonly urls: readonly string[];
  /** The room name, from the URL's last path segment. */
  readonly room: string;
  readonly status: ProviderStatus;
  /** The Doc's client ID. */
  readonly clientID: number;
  readonly presence: Presence;
  /** The permanent error that closed the provider, if any. */
  readonly lastError: FlowStateError | null;
  /**
   * Local changes (one per local transaction, plus those a persistence
   * restored as unacknowledged) the server has not acknowledged, that is
   * not yet on its disk. 0 means saved; the 'unsynced' event reports each
   * change.
   */
  readonly unsyncedCount: number;
  /** The cross-tab channel, with the crossTab option; else null. */
  readonly crossTab: CrossTab | null;
  /** The persistence of the persistence option; else null. */
  readonly persistence: import('./persistence.js').IndexedDBPersistence | null;
  /**
   * Counts n changes made before this provider existed (a restored
   * document's unacknowledged edits) as unsynced; the next catch-up
   * covers them. IndexedDBPersistence calls it.
   */
  addUnsynced(n: number): void;
  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof ProviderEvents>(event: K, fn: ProviderEvents[K]): () => void;
  /** Removes a listener added with on. */
  off<K extends keyof ProviderEvents>(event: K, fn: ProviderEvents[K]): void;
  /** Resolves when the status is (or next becomes) 'synced'; rejects on a permanent error or destroy. */
  whenSynced(): Promise<void>;
  /** Starts connecting (after disconnect, a permanent error, or with connect: false). */
  connect(): void;
  /** Closes the connection and stops reconnecting; local edits stay in the Doc and go out on connect. */
  disconnect(): void;
  /** Sets the token for the next Hello, and reconnects at once if waiting for one (after 4408). */
  setToken(token: string): void;
  /** Starts the next connection attempt at once when waiting to reconnect (after a 'retry' event); otherwise does nothing. */
  retryNow(): void;
  /** Leaves the room (sending an empty presence), stops listening to the Doc; final. */
  destroy(): void;
}

/**
 * CrossTab syncs a Provider's Doc and presence with the other tabs of the
 * same origin and room URL over a BroadcastChannel: local transactions go
 * to the other tabs as they are made, so tabs converge at once with or
 * without the server. Each tab's catch-up after a Welcome holds only its
 * own client's changes; changes of clients whose tab is closed are
 * uploaded by the leader (the open tab with the smallest client ID), and
 * a tab that closes with unacknowledged edits hands them to it. Made by
 * the Provider option crossTab.
 */
export class CrossTab {
  private constructor();
  /** The client IDs of the other open tabs. */
  peerIDs(): number[];
  /** Whether this tab uploads the changes of closed tabs. */
  leader(): boolean;
  /** Says goodbye to the other tabs and closes the channel (the Provider's destroy calls it). */
  destroy(): void;
}

/** What changed in Presence.states: client IDs. */
export interface PresenceChange {
  added: number[];
  updated: number[];
  removed: number[];
}

/**
 * Presence is the ephemeral state (name, colour, cursor) of each client in
 * the room, relayed by the server and never stored. The local state is
 * msgpack-encoded (at most 4096 bytes), sent at most every 50 ms (the
 * latest wins), resent on every connection and every 15 s; remote states
 * are dropped when the connection closes.
 */
export class Presence {
  private constructor();
  /** The local state, or null. */
  readonly local: unknown;
  /** The states of the other clients in the room, by client ID. */
  readonly states: Map<number, any>;
  /**
   * Sets the local state (any msgpack-encodable value; null clears it).
   * Throws a RangeError if it encodes to more than 4096 bytes.
   */
  setLocal(state: unknown): void;
  /** Calls fn when remote states change; returns a function that stops the calls. */
  on(event: 'change', fn: (change: PresenceChange) => void): () => void;
  /** Removes a listener added with on. */
  off(event: 'change', fn: (change: PresenceChange) => void): void;
}

// Undo

/** A selection in a Text as relative positions: anchor where it started, head the caret. */
export interface UndoSelection {
  /** The Text's name. */
  text: string;
  anchor: RelativePosition;
  head: RelativePosition;
}

/**
 * One step of undo or redo: the changes of one or more local transactions,
 * and the selection around them. A binding sets the selections when an
 * edit adds the item (`edit` in the event) and restores selectionBefore
 * when it is popped; undo and redo set them, swapped, on the items they
 * add. The changes themselves are internal.
 */
export class StackItem {
  /** The selection before the step: restored when the step is taken back. */
  selectionBefore: UndoSelection | null;
  /** The selection after the step. */
  selectionAfter: UndoSelection | null;
}

/** Options of `new UndoManager`. */
export interface UndoManagerOptions {
  /**
   * The longest pause between two local edits that are still undone as
   * one step, in ms: 500 by default; 0 or less makes each transaction a
   * step of its own.
   */
  captureTimeout?: number;
  /** The clock, in ms: Date.now by default. */
  now?: () => number;
}

/** The events of an UndoManager. */
export interface UndoManagerEvent {
  item: StackItem;
  /** The stack the item is on, or was popped from. */
  type: 'undo' | 'redo';
  /** True when a local edit added or grew the item; false for the items undo and redo add, and for pops. */
  edit: boolean;
}

/** How long (ms) local edits may pause and still be undone together, by default: 500. */
export const DEFAULT_CAPTURE_TIMEOUT: number;

/**
 * An UndoManager undoes and redoes this replica's own edits of a set of
 * Texts and SharedMaps (its scope), in a document others edit too: remote
 * edits are never undone and stay where they are. Local transactions that
 * follow each other within captureTimeout are one step, unless
 * stopCapturing() was called in between; a new local edit clears the redo
 * stack.
 *
 * undo and redo make ordinary local edits (the update format knows
 * nothing of undo; a Provider sends them like any edit): undoing an
 * insertion deletes the inserted characters still there; undoing a
 * deletion inserts the deleted text again, as new characters, where its
 * tombstones stand; undoing a map set or delete writes the previous value
 * back unless another replica wrote the key since. Text that another
 * replica deleted is not brought back by redo, so nothing is duplicated.
 * Steps are tracked by character and entry IDs, so a manager keeps working
 * when the Doc takes a new client ID. The Go package crdt has the same
 * manager (crdt.UndoManager), with the same rules and bytes.
 */
export class UndoManager {
  /** Throws a TypeError for an empty scope, or one spanning several Docs. */
  constructor(scope: Text | SharedMap | Array<Text | SharedMap>, options?: UndoManagerOptions);
  readonly doc: Doc;
  readonly undoStack: readonly StackItem[];
  readonly redoStack: readonly StackItem[];
  /** Takes back the top undo step; returns whether anything changed (steps that change nothing are dropped). Does nothing inside doc.transact. */
  undo(): boolean;
  /** Takes back the last undo; returns whether anything changed. */
  redo(): boolean;
  canUndo(): boolean;
  canRedo(): boolean;
  /** Makes the next local edit start a new step, however soon it comes. */
  stopCapturing(): void;
  /** Empties both stacks. */
  clear(): void;
  /** Stops recording, empties the stacks and removes every listener. */
  destroy(): void;
  /** Listens to 'stack-item-added', 'stack-item-updated' or 'stack-item-popped'; returns a function that stops it. */
  on(event: 'stack-item-added' | 'stack-item-updated' | 'stack-item-popped', fn: (ev: UndoManagerEvent) => void): () => void;
  off(event: 'stack-item-added' | 'stack-item-updated' | 'stack-item-popped', fn: (ev: UndoManagerEvent) => void): void;
}
