// The kill test of cluster mode, for the JS provider: three real
// `flowstate serve` processes form an embedded JetStream cluster on
// 127.0.0.1; a Provider given every node's URL writes unique tokens; the
// node it is on is killed (SIGKILL) while it writes; the provider moves to
// another node, and, once the killed node is back, every token the server
// acknowledged is on every node exactly once.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { Doc, Provider } from '../src/index.js';
import { TestWebSocket, waitFor } from './harness.js';
import { startServer } from './server.js';

const FAST = { minBackoff: 20, maxBackoff: 400, network: null };
const ROOM = 'kill.test';
let nodes = [];
const providers = [];

/** freePort resolves to a port of 127.0.0.1 that was free a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

before(async () => {
  const routes = [];
  for (let i = 0; i < 3; i++) routes.push(`127.0.0.1:${await freePort()}`);
  // Each node waits for a majority of the cluster before it listens: they
  // start together.
  nodes = await Promise.all(
    routes.map((route, i) =>
      startServer({
        args: ['--cluster-name', 'jstest', '--cluster-listen', route, '--cluster-peers', routes.join(','), '--node-name', `node${i}`],
      }),
    ),
  );
});

after(async () => {
  for (const p of providers) p.destroy();
  await Promise.all(nodes.map((n) => n.stop()));
});

function connect(doc, options) {
  const p = new Provider(doc, { WebSocket: TestWebSocket(), ...FAST, ...options });
  providers.push(p);
  return p;
}

/** count returns how often token occurs in text. */
const count = (text, token) => text.split(token).length - 1;

test('kill -9 of the node a provider is on: it moves on, and every acknowledged edit is on every node once', { timeout: 180_000 }, async () => {
  const urls = nodes.map((n) => Provider.roomURL(n.url, ROOM));
  const doc = new Doc();
  const p = connect(doc, { urls });
  await p.whenSynced();

  // Token i is the (i+1)-th local change: acknowledged once fewer than
  // made - i changes are unsynced.
  const tokens = [];
  let acked = 0;
  p.on('unsynced', (n) => {
    acked = Math.max(acked, tokens.length - n);
  });
  const write = () => {
    const token = `<t${tokens.length}>`;
    tokens.push(token);
    doc.getText('t').insert(doc.getText('t').length, token);
  };
  const writeFor = async (ms) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      write();
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  await writeFor(500);
  const victim = nodes[urls.indexOf(p.url)];
  assert.ok(victim, `the provider is on ${p.url}`);
  const killedURL = p.url;
  const ackedBeforeKill = acked;
  // Killed while the provider writes: some edits are in flight.
  write();
  await victim.kill();
  await writeFor(300);
  await waitFor(() => p.url !== killedURL && p.status === 'synced', `the provider on another node (${p.url}, ${p.status})`);
  await writeFor(300);
  await p.whenSynced();
  assert.equal(acked, tokens.length, 'every edit acknowledged in the end');
  assert.ok(ackedBeforeKill > 0, 'edits acknowledged before the kill');
  await victim.restart();

  // Every token, acknowledged, on every node, once: read by a fresh
  // provider of each node alone.
  for (const [i, url] of urls.entries()) {
    const d = new Doc();
    const reader = connect(d, { url });
    await reader.whenSynced();
    await waitFor(() => {
      const text = d.getText('t').toString();
      return tokens.every((t) => count(text, t) === 1);
    }, `node ${i} to hold every token once: ${tokens.filter((t) => count(d.getText('t').toString(), t) !== 1).slice(0, 5)} are not`);
    reader.destroy();
  }
});
