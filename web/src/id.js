// Client IDs and clocks (FORMAT.md §1). Both stay at or below 2^53 so that
// JavaScript numbers hold them exactly: no BigInt on the hot paths.

/** The largest valid client ID, 2^53 − 1. */
export const MAX_CLIENT_ID = 2 ** 53 - 1;

/** Every clock plus length is at most 2^53 (FORMAT.md §2.4). */
export const MAX_CLOCK = 2 ** 53;

/**
 * A Doc whose clock reaches SWITCH_CLOCK (2^52) moves to a fresh client ID
 * before its next local edit, far enough from 2^53 that no edit can pass
 * it (FORMAT.md §6.5).
 */
export const SWITCH_CLOCK = 2 ** 52;

/**
 * randomClientID draws a uniformly random non-zero client ID below 2^53,
 * as the Go implementation does, from the platform's CSPRNG.
 * @returns {number}
 */
export function randomClientID() {
  const words = new Uint32Array(2);
  for (;;) {
    globalThis.crypto.getRandomValues(words);
    // 21 high bits and 32 low bits: 53 bits, exact in a double.
    const id = (words[0] & 0x1fffff) * 2 ** 32 + words[1];
    if (id !== 0) return id;
  }
}

/**
 * isClientID reports whether v can be a client ID: an integer in
 * [0, 2^53 − 1].
 * @param {unknown} v
 * @returns {boolean}
 */
export function isClientID(v) {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_CLIENT_ID;
}
