// A Provider given the room's URL on several nodes (option urls): real
// single-node servers on 127.0.0.1 stand in for the nodes of a cluster.
// It moves to the next node when its own goes away, skips a node that
// refuses connections without waiting for the backoff, and the node it
// moves to gets everything, through the handshake's state vectors.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Doc, Provider } from '../src/index.js';
import { TestWebSocket, waitFor } from './harness.js';
import { startServer } from './server.js';

const FAST = { minBackoff: 20, maxBackoff: 400, network: null };
let a, b, refusing;
const providers = [];

before(async () => {
  [a, b, refusing] = await Promise.all([startServer(), startServer(), startServer()]);
  await refusing.stop(); // nothing listens on its port now
});

after(async () => {
  for (const p of providers) p.destroy();
  await Promise.all([a.stop(), b.stop()]);
});

function connect(doc, options) {
  const p = new Provider(doc, { WebSocket: TestWebSocket(), ...FAST, ...options });
  providers.push(p);
  return p;
}

const text = (d) => d.getText('t').toString();

test('a provider moves to the next node when its own goes away, and loses nothing', async () => {
  const urls = [a, refusing, b].map((s) => Provider.roomURL(s.url, 'moving'));
  const d1 = new Doc();
  const p1 = connect(d1, { urls });
  d1.getText('t').insert(0, 'before ');
  await p1.whenSynced();
  assert.equal(p1.url, urls[0]);
  const d2 = new Doc();
  const p2 = connect(d2, { url: urls[2] });
  await p2.whenSynced();

  const retries = [];
  p1.on('retry', (ms) => retries.push(ms));
  await a.stop();
  await waitFor(() => p1.url === urls[2] && p1.status === 'synced', `the other node (${p1.url}, ${p1.status})`);
  d1.getText('t').insert(text(d1).length, 'after');
  await waitFor(() => text(d2) === 'before after', `the edits on the other node: ${JSON.stringify(text(d2))}`);
  // One backoff after the loss, then the refusing node is skipped at once.
  assert.equal(retries.length, 2, `retries ${retries}`);
  assert.equal(retries[1], 0, `retries ${retries}`);
});

test('a first URL that refuses connections is skipped at once', async () => {
  const urls = [refusing, b].map((s) => Provider.roomURL(s.url, 'skipping'));
  const d = new Doc();
  const retries = [];
  // A provider that backed off before the second node would wait ten
  // minutes.
  const p = connect(d, { urls, connect: false, minBackoff: 600_000, maxBackoff: 600_000 });
  p.on('retry', (ms) => retries.push(ms));
  p.connect();
  await p.whenSynced();
  assert.equal(p.url, urls[1]);
  assert.deepEqual(retries, [0]);
});

test('urls must name one room', () => {
  const same = ['ws://127.0.0.1:1/ws/x', 'ws://127.0.0.1:2/ws/x'];
  const p = new Provider(new Doc(), { urls: same, connect: false, WebSocket: TestWebSocket() });
  assert.deepEqual([p.urls, p.url, p.room], [same, same[0], 'x']);
  assert.throws(() => new Provider(new Doc(), { urls: ['ws://127.0.0.1:1/ws/x', 'ws://127.0.0.1:2/ws/y'], connect: false, WebSocket: TestWebSocket() }), TypeError);
  assert.throws(() => new Provider(new Doc(), { urls: [], connect: false, WebSocket: TestWebSocket() }), TypeError);
});
