// Hand-written declarations for FlowState's JavaScript CRDT (src/*.js).
// The implementation is plain ES modules; these types describe its public
// API. Byte format: crdt/FORMAT.md in the repository.

/**
 * A state vector: for each client ID, the next clock the holder expects
 * from it. Absent clients and clients at 0 are equal.
 */
export type StateVector = Map<number, number>;

/** One step of a Quill-style delta, in UTF-16 code units. */
export type DeltaOp = { retain: number } | { insert: string } | { delete: number };

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
  /** The client ID this replica's local edits carry. */
  readonly clientID: number;
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
}

/**
 * A named last-writer-wins map from strings to msgpack values (encoded and
 * decoded by @msgpack/msgpack). A set that saw the current value beats it;
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
   * Sets key to value (msgpack-encoded with sorted object keys) and returns
   * the update (null inside transact). Throws a TypeError for a key with a
   * lone surrogate or a value that cannot be encoded or nests deeper than
   * the format allows.
   */
  set(key: string, value: unknown): Uint8Array | null;
  /** Sets key to one msgpack value given as bytes, stored and sent byte for byte. */
  setRaw(key: string, bytes: Uint8Array): Uint8Array | null;
  /** Removes key; returns null and changes nothing when it has no value. */
  delete(key: string): Uint8Array | null;
  /** The value of key decoded by @msgpack/msgpack, or undefined. */
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

/** An update that decodes but breaks a rule of the format (e.g. an origin naming a map entry). */
export class InvalidUpdateError extends Error {
  constructor(msg: string);
}

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
