// Backoff: the delays between reconnection attempts (PROTOCOL.md §10).

/**
 * A Backoff yields the delays between reconnection attempts: the first is
 * min, each next one twice the last up to max, and each is multiplied by a
 * random factor in [0.5, 1.5), so that clients cut off together (a server
 * restart) do not all come back in the same instant. reset starts over,
 * once a connection has succeeded.
 */
export class Backoff {
  /**
   * @param {number} min the first delay, in ms
   * @param {number} max the largest delay before jitter, in ms
   */
  constructor(min, max) {
    if (!(min > 0) || !(max >= min)) throw new RangeError('flowstate: backoff needs 0 < min ≤ max');
    this.min = min;
    this.max = max;
    this.base = min;
  }

  /**
   * next returns the delay before the next attempt and doubles the base.
   * @param {() => number} [random] a number in [0, 1); Math.random by default
   * @returns {number}
   */
  next(random = Math.random) {
    const d = this.base * (0.5 + random());
    this.base = Math.min(this.base * 2, this.max);
    return d;
  }

  /** reset makes the next delay min again. */
  reset() {
    this.base = this.min;
  }

  /**
   * atLeast raises the next delay's base to ms (or max, if smaller).
   * @param {number} ms
   */
  atLeast(ms) {
    this.base = Math.min(Math.max(this.base, ms), this.max);
  }
}
