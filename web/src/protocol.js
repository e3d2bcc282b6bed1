// The FlowState wire protocol, version 5 (protocol/PROTOCOL.md; version 1
// plus the heartbeat, plus acknowledgements in relayed Updates, plus the
// document format the client reads, plus the Patch): the eight messages,
// their strict decoding and their canonical encoding, and the patches.
//
// Encoding goes through pack (pack.js), which writes the bytes of
// @msgpack/msgpack's encode: every integer, length and header in its
// smallest form. Decoding does not go through that library: the
// library accepts signed codes for unsigned values and replaces invalid
// UTF-8, where the protocol demands a rejection, so decode reads the few
// msgpack families the protocol uses itself, exactly as the Go codec does.

import { pack } from './pack.js';
import { wellFormed } from './codec.js';
import { RICH_VERSION } from './update.js';

/**
 * The newest protocol version this client speaks, sent in its Hello.
 * Version 3 takes acknowledgements in the seq of relayed Updates; version 4
 * names the document format the client reads (FORMAT_VERSION); version 5
 * sends and takes an Update of one update as a Patch. A server
 * that answers it with 4001 speaks an older version: the provider then says
 * hello with the version below, without a heartbeat at version 1
 * (PROTOCOL.md §11).
 */
export const PROTOCOL_VERSION = 5;
/** The oldest protocol version this client speaks. */
export const MIN_PROTOCOL_VERSION = 1;

/**
 * The newest document format (crdt/FORMAT.md) this client's Doc reads,
 * which its Hello declares (PROTOCOL.md §6.2): a server sends it nothing
 * newer and closes it with 4006 in a room whose document needs more. Format
 * 2 is rich text (crdt/RICH.md), 3 the same with compact marks, which this
 * client writes.
 */
export const FORMAT_VERSION = RICH_VERSION;
/** The largest document format a Hello may name. */
export const MAX_FORMAT = 255;

/** hasHeartbeat reports whether a Hello of this version carries the heartbeat interval. */
function hasHeartbeat(version) {
  return version >= 2 && version <= 5;
}

/** hasFormat reports whether a Hello of this version names the document format its client reads. */
function hasFormat(version) {
  return version === 4 || version === 5;
}

/** Message type tags (PROTOCOL.md §4). */
export const TYPE_HELLO = 0;
export const TYPE_WELCOME = 1;
export const TYPE_UPDATE = 2;
export const TYPE_ACK = 3;
export const TYPE_PRESENCE = 4;
export const TYPE_ERROR = 5;
export const TYPE_HEARTBEAT = 6;
export const TYPE_PATCH = 7;

/** Limits of PROTOCOL.md §9. */
export const MAX_ROOM_BYTES = 128;
export const MAX_TOKEN_BYTES = 8192;
export const MAX_PRESENCE_BYTES = 4096;
export const MAX_ERROR_MESSAGE_BYTES = 1024;
export const MAX_CODE = 65535;
/** The heartbeat interval of a version 2 Hello, in ms: 0 (none) or within these bounds. */
export const MIN_HEARTBEAT_MILLIS = 100;
export const MAX_HEARTBEAT_MILLIS = 60000;
const MAX_CLIENT = 2 ** 53 - 1;
/** The most a Patch keeps of its base at either end. */
export const MAX_PATCH_KEEP = 2 ** 32 - 1;
/**
 * The longest update that is a base (PROTOCOL.md §4.8): after a longer one
 * there is none until the next update, so that no connection keeps a
 * large update for its Patches.
 */
export const MAX_PATCH_BASE = 4096;

/** patchBase returns what becomes the base after a message whose last update is u: u, or null if it is too long. */
export function patchBase(u) {
  return u.length > MAX_PATCH_BASE ? null : u;
}

/** The element count of each message's array, tag included (a Patch with a seq has 5). */
const FIELD_COUNT = [6, 3, 3, 2, 2, 4, 2, 4];
const TYPE_NAMES = ['hello', 'welcome', 'update', 'ack', 'presence', 'error', 'heartbeat', 'patch'];

/** Close and error codes of PROTOCOL.md §8, by name. */
export const Code = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  ABNORMAL: 1006,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  TRY_AGAIN_LATER: 1013,
  UNKNOWN_TYPE: 4000,
  UNSUPPORTED_VERSION: 4001,
  INVALID_ROOM: 4002,
  HELLO_TIMEOUT: 4003,
  INVALID_UPDATE: 4004,
  HEARTBEAT_TIMEOUT: 4005,
  UNSUPPORTED_FORMAT: 4006,
  SLOW_CONSUMER: 4008,
  CLIENT_ID_IN_USE: 4409,
  REPLACED: 4410,
  ROOM_DELETED: 4404,
  UNAUTHORIZED: 4401,
  FORBIDDEN: 4403,
  TOKEN_EXPIRED: 4408,
  RATE_LIMITED: 4429,
});

// The same set as protocol.Code.Permanent in Go: reconnecting with the same
// state and token would fail the same way.
const PERMANENT = new Set([
  Code.PROTOCOL_ERROR,
  Code.UNSUPPORTED_DATA,
  Code.MESSAGE_TOO_BIG,
  Code.UNKNOWN_TYPE,
  Code.UNSUPPORTED_VERSION,
  Code.UNSUPPORTED_FORMAT,
  Code.INVALID_ROOM,
  Code.INVALID_UPDATE,
  Code.UNAUTHORIZED,
  Code.FORBIDDEN,
  Code.REPLACED,
  Code.ROOM_DELETED,
]);

/**
 * isPermanent reports whether a close or error code means the client must
 * not reconnect automatically. Codes PROTOCOL.md does not list, 1006
 * included, are not permanent.
 * @param {number} code
 * @returns {boolean}
 */
export function isPermanent(code) {
  return PERMANENT.has(code);
}

/**
 * ProtocolError reports bytes that are not a valid message (a peer closes
 * with 1002), or, when `unknownType` is set, a message whose tag this
 * version does not define (close code 4000). `offset` is where decoding
 * failed.
 */
export class ProtocolError extends Error {
  /**
   * @param {number} offset
   * @param {string} msg
   * @param {boolean} [unknownType]
   */
  constructor(offset, msg, unknownType = false) {
    super(`protocol: decode error at byte ${offset}: ${msg}`);
    this.name = 'ProtocolError';
    /** @type {number} */
    this.offset = offset;
    /** @type {boolean} */
    this.unknownType = unknownType;
    /** The close code a peer answers this error with. @type {number} */
    this.code = unknownType ? Code.UNKNOWN_TYPE : Code.PROTOCOL_ERROR;
  }
}

/**
 * validRoom reports whether name is a room name: 1 to 128 characters of
 * [A-Za-z0-9._~-].
 * @param {string} name
 * @returns {boolean}
 */
export function validRoom(name) {
  return typeof name === 'string' && /^[A-Za-z0-9._~-]{1,128}$/.test(name);
}

// ---------------------------------------------------------------------------
// Encoding

const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);

/**
 * encodeMessage returns the canonical wire form of m, one msgpack array
 * (PROTOCOL.md §3–§4). It throws a RangeError or TypeError for a message a
 * peer would reject, such as an invalid room or an oversized presence
 * state, so that a bad message never leaves this client.
 * @param {import('./index.js').Message} m
 * @returns {Uint8Array}
 */
export function encodeMessage(m) {
  switch (m.type) {
    case 'hello': {
      checkUint(m.version, 'version');
      if (m.version >= MIN_PROTOCOL_VERSION && m.version <= PROTOCOL_VERSION && !validRoom(m.room)) {
        throw new RangeError(`protocol: invalid room name ${JSON.stringify(m.room)}`);
      }
      checkClient(m.client);
      checkStr(m.token, MAX_TOKEN_BYTES, 'token');
      const fields = [TYPE_HELLO, m.version, m.room, m.client, m.token, bin(m.stateVector)];
      const heartbeat = m.heartbeatMillis ?? 0;
      if (hasHeartbeat(m.version)) {
        if (!validHeartbeat(heartbeat)) {
          throw new RangeError(`protocol: heartbeat interval of ${heartbeat} ms: want 0 or ${MIN_HEARTBEAT_MILLIS} to ${MAX_HEARTBEAT_MILLIS}`);
        }
        fields.push(heartbeat);
      } else if (heartbeat !== 0) {
        throw new RangeError(`protocol: a heartbeat interval in a hello of version ${m.version}: only versions 2 to 5 have one`);
      }
      // A Hello without a format reads format 1, as every client before
      // version 4 does.
      const format = m.format ?? 1;
      if (!Number.isInteger(format) || format < 1 || format > MAX_FORMAT) {
        throw new RangeError(`protocol: document format ${format}: want 1 to ${MAX_FORMAT}`);
      }
      if (hasFormat(m.version)) {
        fields.push(format);
      } else if (format !== 1) {
        throw new RangeError(`protocol: document format ${format} in a hello of version ${m.version}: only versions 4 and 5 name one`);
      }
      return pack(fields);
    }
    case 'welcome':
      return pack([TYPE_WELCOME, bin(m.stateVector), bin(m.update)]);
    case 'update':
      checkUint(m.seq, 'seq');
      return pack([TYPE_UPDATE, m.seq, m.updates.map(bin)]);
    case 'ack':
      checkUint(m.seq, 'seq');
      return pack([TYPE_ACK, m.seq]);
    case 'presence':
      return pack([
        TYPE_PRESENCE,
        m.entries.map((e) => {
          checkClient(e.client);
          const s = bin(e.state);
          if (s.length > MAX_PRESENCE_BYTES) {
            throw new RangeError(`protocol: presence state of ${s.length} bytes exceeds ${MAX_PRESENCE_BYTES}`);
          }
          return [e.client, s];
        }),
      ]);
    case 'error':
      checkUint(m.code, 'code');
      if (m.code > MAX_CODE) throw new RangeError(`protocol: code ${m.code} exceeds ${MAX_CODE}`);
      checkStr(m.message, MAX_ERROR_MESSAGE_BYTES, 'error message');
      checkUint(m.seq, 'seq');
      return pack([TYPE_ERROR, m.code, m.message, m.seq]);
    case 'heartbeat':
      checkUint(m.id, 'heartbeat id');
      return pack([TYPE_HEARTBEAT, m.id]);
    case 'patch': {
      checkUint(m.keepFront, 'keep_front', MAX_PATCH_KEEP);
      checkUint(m.keepBack, 'keep_back', MAX_PATCH_KEEP);
      checkUint(m.seq, 'seq');
      const fields = [TYPE_PATCH, m.keepFront, m.keepBack, bin(m.middle)];
      // A seq of 0 is written by leaving it out: one message, one form.
      if (m.seq > 0) fields.push(m.seq);
      return pack(fields);
    }
    default:
      throw new TypeError(`protocol: unknown message type ${JSON.stringify(m && m.type)}`);
  }
}

/**
 * validHeartbeat reports whether ms is a heartbeat interval a version 2
 * Hello may carry: 0, or 100 to 60000.
 * @param {number} ms
 * @returns {boolean}
 */
export function validHeartbeat(ms) {
  return ms === 0 || (Number.isSafeInteger(ms) && ms >= MIN_HEARTBEAT_MILLIS && ms <= MAX_HEARTBEAT_MILLIS);
}

function bin(b) {
  if (b === undefined || b === null) return EMPTY;
  if (!(b instanceof Uint8Array)) throw new TypeError('protocol: a byte string must be a Uint8Array');
  return b;
}

// checkUint accepts safe integers up to max only: a client never sends a
// number above 2^53 − 1 (its seqs count its own messages), and a BigInt,
// which decoding returns for larger ones, has no canonical form in
// @msgpack/msgpack.
function checkUint(v, what, max = Number.MAX_SAFE_INTEGER) {
  if (!Number.isSafeInteger(v) || v < 0 || v > max) throw new RangeError(`protocol: ${what} must be an integer in [0, ${max}]`);
}

function checkClient(v) {
  checkUint(v, 'client ID', MAX_CLIENT);
}

function checkStr(s, max, what) {
  if (typeof s !== 'string') throw new TypeError(`protocol: ${what} must be a string`);
  if (!wellFormed(s)) throw new TypeError(`protocol: ${what} is not valid Unicode`);
  const n = utf8.encode(s).length;
  if (n > max) throw new RangeError(`protocol: ${what} of ${n} bytes exceeds ${max}`);
}

// ---------------------------------------------------------------------------
// Decoding

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Reader reads the msgpack families of PROTOCOL.md §3, strictly. */
class Reader {
  /** @param {Uint8Array} buf */
  constructor(buf) {
    this.buf = buf;
    this.pos = 0;
  }

  fail(msg, at = this.pos) {
    return new ProtocolError(at, msg);
  }

  byte() {
    if (this.pos >= this.buf.length) throw this.fail('unexpected end of input');
    return this.buf[this.pos++];
  }

  /** be reads an n-byte big-endian unsigned integer, a BigInt above 2^53 − 1. */
  be(n) {
    if (this.buf.length - this.pos < n) throw this.fail(`a ${n}-byte integer cut short`);
    const b = this.buf;
    const p = this.pos;
    this.pos += n;
    if (n === 8) {
      const hi = ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
      const lo = ((b[p + 4] << 24) | (b[p + 5] << 16) | (b[p + 6] << 8) | b[p + 7]) >>> 0;
      if (hi < 0x200000) return hi * 2 ** 32 + lo;
      return (BigInt(hi) << 32n) | BigInt(lo);
    }
    let v = 0;
    for (let i = p; i < p + n; i++) v = v * 256 + b[i];
    return v;
  }

  /** left checks that n more bytes are there. */
  need(n, what) {
    const left = this.buf.length - this.pos;
    if (n > left) throw this.fail(`${what} of ${n} with ${left} bytes left`);
    return n;
  }

  /**
   * uint reads an unsigned integer: a number, or a BigInt when it is above
   * 2^53 − 1.
   * @returns {number | bigint}
   */
  uint(what) {
    const at = this.pos;
    const c = this.byte();
    if (c <= 0x7f) return c;
    if (c === 0xcc) return this.be(1);
    if (c === 0xcd) return this.be(2);
    if (c === 0xce) return this.be(4);
    if (c === 0xcf) return this.be(8);
    throw this.fail(`${what}: expected an unsigned integer, found code 0x${hex2(c)}`, at);
  }

  /** limited reads a uint no larger than max, as a number. */
  limited(what, max) {
    const at = this.pos;
    const v = this.uint(what);
    if (typeof v === 'bigint' || v > max) throw this.fail(`${what} ${v} exceeds ${max}`, at);
    return v;
  }

  arrayLen(what) {
    const at = this.pos;
    const c = this.byte();
    let n;
    if ((c & 0xf0) === 0x90) n = c & 0x0f;
    else if (c === 0xdc) n = this.be(2);
    else if (c === 0xdd) n = this.be(4);
    else throw this.fail(`${what}: expected an array, found code 0x${hex2(c)}`, at);
    // Every element takes at least one byte.
    return this.need(n, `${what}: an array`);
  }

  tuple(n, what) {
    const at = this.pos;
    const k = this.arrayLen(what);
    if (k !== n) throw this.fail(`${what} has exactly ${n} elements, found ${k}`, at);
  }

  str(what, max) {
    const at = this.pos;
    const c = this.byte();
    let n;
    if ((c & 0xe0) === 0xa0) n = c & 0x1f;
    else if (c === 0xd9) n = this.be(1);
    else if (c === 0xda) n = this.be(2);
    else if (c === 0xdb) n = this.be(4);
    else throw this.fail(`${what}: expected a str, found code 0x${hex2(c)}`, at);
    this.need(n, `${what}: a str`);
    if (n > max) throw this.fail(`${what} of ${n} bytes exceeds ${max}`, at);
    const start = this.pos;
    this.pos += n;
    try {
      return fatalUtf8.decode(this.buf.subarray(start, this.pos));
    } catch {
      throw this.fail(`${what} is not valid UTF-8`, at);
    }
  }

  bin(what, max = Infinity) {
    const at = this.pos;
    const c = this.byte();
    let n;
    if (c === 0xc4) n = this.be(1);
    else if (c === 0xc5) n = this.be(2);
    else if (c === 0xc6) n = this.be(4);
    else throw this.fail(`${what}: expected a bin, found code 0x${hex2(c)}`, at);
    this.need(n, `${what}: a bin`);
    if (n > max) throw this.fail(`${what} of ${n} bytes exceeds ${max}`, at);
    const start = this.pos;
    this.pos += n;
    // A copy: the message outlives the frame's buffer.
    return this.buf.slice(start, this.pos);
  }
}

function hex2(c) {
  return c.toString(16).padStart(2, '0');
}

/**
 * decodeMessage decodes one message (PROTOCOL.md §3): a msgpack array of
 * exactly its type's element count, with every field of its family and
 * within its limits, and nothing after it. It throws a ProtocolError
 * otherwise; one whose `unknownType` is set for a tag this version does
 * not define, which takes precedence over anything wrong after the tag. A
 * Hello of another version decodes to just its version.
 * @param {Uint8Array} bytes
 * @returns {import('./index.js').Message}
 */
export function decodeMessage(bytes) {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('protocol: a message is a Uint8Array');
  const r = new Reader(bytes);
  if (bytes.length === 0) throw r.fail('no bytes');
  const n = r.arrayLen('message');
  if (n === 0) throw r.fail('an empty array has no type tag');
  const tagAt = r.pos;
  const tag = r.uint('type tag');
  if (typeof tag === 'bigint' || tag >= FIELD_COUNT.length) {
    throw new ProtocolError(tagAt, `unknown message type ${tag}`, true);
  }
  const type = TYPE_NAMES[tag];
  /** @type {any} */
  let m;
  let version = 0;
  if (tag === TYPE_HELLO && n >= 2) {
    version = r.uint('version');
    if (typeof version === 'bigint' || version < MIN_PROTOCOL_VERSION || version > PROTOCOL_VERSION) {
      // A later version may lay the rest out differently: stop here.
      return { type, version, room: '', client: 0, token: '', stateVector: EMPTY };
    }
  }
  let want = FIELD_COUNT[tag];
  if (tag === TYPE_HELLO && hasFormat(version)) want = 8;
  else if (tag === TYPE_HELLO && hasHeartbeat(version)) want = 7;
  if (n !== want && !(tag === TYPE_PATCH && n === 5)) throw r.fail(`a ${type} message has exactly ${want} elements, found ${n}`, 0);
  switch (tag) {
    case TYPE_HELLO: {
      const roomAt = r.pos;
      const room = r.str('room', MAX_ROOM_BYTES);
      if (!validRoom(room)) throw r.fail(`invalid room name ${JSON.stringify(room)}`, roomAt);
      const client = r.limited('client ID', MAX_CLIENT);
      const token = r.str('token', MAX_TOKEN_BYTES);
      const stateVector = r.bin('state vector');
      m = { type, version, room, client, token, stateVector };
      if (hasHeartbeat(version)) {
        const at = r.pos;
        const heartbeatMillis = r.uint('heartbeat interval');
        if (typeof heartbeatMillis === 'bigint' || !validHeartbeat(heartbeatMillis)) {
          throw r.fail(`heartbeat interval of ${heartbeatMillis} ms: want 0 or ${MIN_HEARTBEAT_MILLIS} to ${MAX_HEARTBEAT_MILLIS}`, at);
        }
        m.heartbeatMillis = heartbeatMillis;
      }
      if (hasFormat(version)) {
        const at = r.pos;
        const format = r.uint('document format');
        if (typeof format === 'bigint' || format < 1 || format > MAX_FORMAT) {
          throw r.fail(`document format ${format}: want 1 to ${MAX_FORMAT}`, at);
        }
        m.format = format;
      }
      break;
    }
    case TYPE_WELCOME:
      m = { type, stateVector: r.bin('state vector'), update: r.bin('update') };
      break;
    case TYPE_UPDATE: {
      const seq = r.uint('seq');
      const k = r.arrayLen('updates');
      const updates = [];
      for (let i = 0; i < k; i++) updates.push(r.bin('update'));
      m = { type, seq, updates };
      break;
    }
    case TYPE_ACK:
      m = { type, seq: r.uint('seq') };
      break;
    case TYPE_PRESENCE: {
      const k = r.arrayLen('presence entries');
      const entries = [];
      for (let i = 0; i < k; i++) {
        r.tuple(2, 'a presence entry');
        const client = r.limited('client ID', MAX_CLIENT);
        const state = r.bin('presence state', MAX_PRESENCE_BYTES);
        entries.push({ client, state });
      }
      m = { type, entries };
      break;
    }
    case TYPE_ERROR: {
      const code = r.limited('code', MAX_CODE);
      const message = r.str('error message', MAX_ERROR_MESSAGE_BYTES);
      const seq = r.uint('seq');
      m = { type, code, message, seq };
      break;
    }
    case TYPE_HEARTBEAT:
      m = { type, id: r.uint('heartbeat id') };
      break;
    case TYPE_PATCH: {
      const keepFront = r.limited('keep_front', MAX_PATCH_KEEP);
      const keepBack = r.limited('keep_back', MAX_PATCH_KEEP);
      m = { type, keepFront, keepBack, middle: r.bin('middle'), seq: 0 };
      if (n === 5) {
        const at = r.pos;
        m.seq = r.uint('seq');
        // 0 is written by leaving the seq out: one message, one form.
        if (m.seq === 0) throw r.fail("a patch's seq is 0: leave it out", at);
      }
      break;
    }
  }
  if (r.pos !== bytes.length) throw r.fail(`${bytes.length - r.pos} bytes after the message`);
  return m;
}

// ---------------------------------------------------------------------------
// Patches (version 5, PROTOCOL.md §4.8)

/**
 * makePatch returns the Patch (seq 0) that turns base into update: the
 * longest common prefix is kept first, then the longest common suffix of
 * what is left, as Go's protocol.MakePatch does. Every implementation makes
 * this same patch, so that peers' bytes can be compared; a receiver takes
 * any patch that fits. The middle shares update's memory.
 * @param {Uint8Array} base
 * @param {Uint8Array} update
 * @returns {import('./index.js').PatchMessage}
 */
export function makePatch(base, update) {
  const n = Math.min(base.length, update.length);
  let front = 0;
  while (front < n && base[front] === update[front]) front++;
  let back = 0;
  while (back < n - front && base[base.length - 1 - back] === update[update.length - 1 - back]) back++;
  return { type: 'patch', keepFront: front, keepBack: back, middle: update.subarray(front, update.length - back), seq: 0 };
}

/**
 * patchSmaller reports whether patch, as encoded (with its seq, if any),
 * takes fewer bytes than the Update it stands for: one carrying the n-byte
 * update with seq, the client's next seq for a client's Patch (which
 * writes none), or the Patch's own seq for the server's. It counts as Go's
 * Patch.Smaller does, so that both clients choose alike. A sender sends
 * whichever is smaller, so that a patch never costs more than its update
 * (another client's update, unlike the one before it, keeps little of the
 * base).
 * @param {import('./index.js').PatchMessage} patch
 * @param {number} n the update's length
 * @param {number} [seq] the seq of the Update it stands for
 * @returns {boolean}
 */
export function patchSmaller(patch, n, seq = 0) {
  // The Update: array, tag, seq, array(1), bin header, the update.
  const update = 3 + uintSize(seq) + binHeader(n) + n;
  const m = patch.middle.length;
  const size = 2 + uintSize(patch.keepFront) + uintSize(patch.keepBack) + binHeader(m) + m + (patch.seq > 0 ? uintSize(patch.seq) : 0);
  return size < update;
}

/** uintSize is the length of v as a msgpack uint in its smallest form. */
function uintSize(v) {
  return v < 128 ? 1 : v <= 0xff ? 2 : v <= 0xffff ? 3 : v <= 0xffffffff ? 5 : 9;
}

/** binHeader is the length of the header of an n-byte msgpack bin. */
function binHeader(n) {
  return n <= 0xff ? 2 : n <= 0xffff ? 3 : 5;
}

/**
 * applyPatch returns the update patch stands for: the first keepFront
 * bytes of base, the middle, then the last keepBack bytes of base, in new
 * memory. It throws a RangeError when there is no base (null or
 * undefined: no update came before the patch), when base is shorter than
 * keepFront and keepBack together, or when the update would be longer than
 * max bytes (no limit when max < 0), the largest message the receiver
 * takes, so that a small patch cannot stand for more than a message could
 * have carried.
 * @param {Uint8Array | null | undefined} base
 * @param {{keepFront: number, keepBack: number, middle: Uint8Array}} patch
 * @param {number} [max]
 * @returns {Uint8Array}
 */
export function applyPatch(base, patch, max = -1) {
  const { keepFront: front, keepBack: back, middle } = patch;
  const fail = (why) => new RangeError(`protocol: patch does not fit its base: ${why}`);
  if (base == null) throw fail(`it has no base (no update of at most ${MAX_PATCH_BASE} bytes came before it on this connection)`);
  // Written so that NaN or a negative count fails too.
  if (!(front >= 0 && back >= 0 && front + back <= base.length)) throw fail(`it keeps ${front} and ${back} bytes of a ${base.length}-byte base`);
  const n = front + middle.length + back;
  if (max >= 0 && n > max) throw fail(`it makes an update of ${n} bytes, over the ${max}-byte limit`);
  const u = new Uint8Array(n);
  u.set(base.subarray(0, front));
  u.set(middle, front);
  u.set(base.subarray(base.length - back), front + middle.length);
  return u;
}
