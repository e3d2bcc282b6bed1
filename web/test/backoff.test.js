// Backoff: the reconnection delays double from min up to max, each with
// ±50 % jitter, and start over after reset.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from '../src/backoff.js';

const sequenceTests = [
  { name: 'no jitter (factor 1)', random: 0.5, want: [250, 500, 1000, 2000, 4000, 4000] },
  { name: 'least jitter (factor 0.5)', random: 0, want: [125, 250, 500, 1000, 2000, 2000] },
  { name: 'most jitter (factor just under 1.5)', random: 0.999, want: [374.75, 749.5, 1499, 2998, 5996, 5996] },
];

test('delays double up to the maximum, with jitter', async (t) => {
  for (const tt of sequenceTests) {
    await t.test(tt.name, () => {
      const b = new Backoff(250, 4000);
      const got = tt.want.map(() => b.next(() => tt.random));
      got.forEach((d, i) => assert.ok(Math.abs(d - tt.want[i]) < 1e-9, `delay ${i}: ${d}, want ${tt.want[i]}`));
    });
  }
});

test('reset starts over from the minimum', () => {
  const b = new Backoff(100, 1000);
  for (let i = 0; i < 5; i++) b.next(() => 0.5);
  assert.equal(b.next(() => 0.5), 1000);
  b.reset();
  assert.equal(b.next(() => 0.5), 100);
});

test('random delays stay within ±50 % of the base', () => {
  const b = new Backoff(250, 30000);
  let base = 250;
  for (let i = 0; i < 20; i++) {
    const d = b.next();
    assert.ok(d >= base * 0.5 && d < base * 1.5, `delay ${i}: ${d} for base ${base}`);
    base = Math.min(base * 2, 30000);
  }
});

test('a backoff needs 0 < min ≤ max', () => {
  assert.throws(() => new Backoff(0, 10), RangeError);
  assert.throws(() => new Backoff(10, 5), RangeError);
});
