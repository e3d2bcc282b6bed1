// Backoff: the reconnection delays double from min up to max, each with
// ±50 % jitter, and start over after reset.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from '../src/backoff.js';
import { Doc, Provider } from '../src/index.js';
import { Code, decodeMessage, encodeMessage } from '../src/protocol.js';

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

test('atLeast raises the base, up to the maximum', () => {
  const b = new Backoff(10, 500);
  b.atLeast(100);
  assert.equal(b.next(() => 0.5), 100);
  assert.equal(b.next(() => 0.5), 200);
  b.atLeast(100); // lower than the base: no change
  assert.equal(b.next(() => 0.5), 400);
  b.reset();
  b.atLeast(10_000);
  assert.equal(b.next(() => 0.5), 500);
});

/**
 * tryLaterServer returns a WebSocket class that plays a server which
 * welcomes every client, then refuses its first update with 1013 (as a
 * server whose disk is full does), and counts the connections.
 */
function tryLaterServer() {
  const counts = { opened: 0 };
  const EMPTY_SV = Uint8Array.of(0x80);
  const EMPTY_UPDATE = Uint8Array.of(0x95, 0x01, 0x90, 0x90, 0x90, 0x90);
  class TryLater {
    constructor() {
      counts.opened++;
      this.readyState = 0;
      setTimeout(() => {
        this.readyState = 1;
        this.onopen?.();
      }, 0);
    }
    send(b) {
      const m = decodeMessage(new Uint8Array(b));
      const reply = (msg) => setTimeout(() => this.readyState === 1 && this.onmessage?.({ data: encodeMessage(msg).slice().buffer }), 0);
      if (m.type === 'hello') reply({ type: 'welcome', stateVector: EMPTY_SV, update: EMPTY_UPDATE });
      if (m.type === 'update') {
        reply({ type: 'error', code: Code.TRY_AGAIN_LATER, message: 'the server cannot store updates now', seq: m.seq });
        setTimeout(() => this.close(Code.TRY_AGAIN_LATER, 'try again later'), 1);
      }
    }
    close(code = 1000, reason = '') {
      if (this.readyState === 3) return;
      this.readyState = 3;
      setTimeout(() => this.onclose?.({ code, reason }), 0);
    }
  }
  return { counts, WebSocket: TryLater };
}

// After 1013 the provider waits at least a second before it reconnects,
// and the next Welcome does not reset that: a server whose disk is full
// answers 1013 right after the Welcome, and an instant reconnection would
// hammer it.
test('the provider backs off after 1013, whatever the Welcome', async () => {
  const server = tryLaterServer();
  const doc = new Doc();
  doc.getText('t').insert(0, 'unsaved');
  const p = new Provider(doc, { url: 'ws://127.0.0.1:1/ws/full', WebSocket: server.WebSocket, network: null, minBackoff: 5, maxBackoff: 2000 });
  p.on('error', () => {});
  await new Promise((resolve) => setTimeout(resolve, 1500));
  p.destroy();
  // 1013 at about 0 s, then waits of 0.5–1.5 s, then 1–3 s: at most three
  // connections; with the 5 ms minimum after each Welcome, hundreds.
  assert.ok(server.counts.opened <= 3, `${server.counts.opened} connections in 1.5 s`);
  assert.ok(server.counts.opened >= 1);
});
