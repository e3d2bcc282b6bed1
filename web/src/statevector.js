// State vectors (FORMAT.md §3): for each client, the next clock the holder
// expects, which is also how many of that client's clocks it has seen.

import { Reader, Writer } from './codec.js';
import { MAX_CLOCK } from './id.js';

/**
 * encodeStateVector returns the msgpack encoding of sv: a map from client
 * to clock with keys in ascending order and zero clocks left out.
 * @param {Map<number, number>} sv
 * @returns {Uint8Array}
 */
export function encodeStateVector(sv) {
  const clients = [];
  for (const [c, k] of sv) if (k > 0) clients.push(c);
  clients.sort((a, b) => a - b);
  const w = new Writer(8 + clients.length * 18);
  w.mapLen(clients.length);
  for (const c of clients) {
    w.uint(c);
    w.uint(sv.get(c));
  }
  return w.take();
}

/**
 * decodeStateVector decodes a state vector written by encodeStateVector.
 * Keys must be valid client IDs in strictly ascending order and clocks in
 * [1, 2^53]; anything else throws a DecodeError.
 * @param {Uint8Array} b
 * @returns {Map<number, number>}
 */
export function decodeStateVector(b) {
  if (!(b instanceof Uint8Array)) throw new TypeError('crdt: a state vector is a Uint8Array');
  const r = new Reader(b);
  const n = r.arrayOrMapLen(true);
  const sv = new Map();
  let prev = -1;
  for (let i = 0; i < n; i++) {
    const c = r.clientID();
    if (c <= prev) throw r.error('state vector clients not in ascending order');
    prev = c;
    const k = r.uint(MAX_CLOCK);
    if (k === 0) throw r.error('state vector holds a zero clock');
    sv.set(c, k);
  }
  r.end();
  return sv;
}

/**
 * stateVectorsEqual reports whether a and b describe the same state,
 * treating absent clients and clients at clock 0 alike.
 * @param {Map<number, number>} a
 * @param {Map<number, number>} b
 * @returns {boolean}
 */
export function stateVectorsEqual(a, b) {
  for (const [c, k] of a) if ((b.get(c) ?? 0) !== k) return false;
  for (const [c, k] of b) if ((a.get(c) ?? 0) !== k) return false;
  return true;
}
