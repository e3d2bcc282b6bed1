// The Provider against a real server that requires tokens: a missing or
// wrong token stops it (4401, 4403), and an expiring token (4408) is
// replaced through setToken or getToken without losing edits.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Doc, Provider } from '../src/index.js';
import { mintToken, startServer } from './server.js';
import { TestWebSocket, waitFor } from './harness.js';

const SECRET = 'a test secret of at least thirty-two bytes';
const FAST = { minBackoff: 20, maxBackoff: 400, network: null };

let srv;
const providers = new Set();

before(async () => {
  srv = await startServer({ args: ['--auth-secret', SECRET] });
});

after(async () => {
  for (const p of providers) p.destroy();
  await srv.stop();
});

function connect(doc, room, options) {
  const p = new Provider(doc, { url: Provider.roomURL(srv.url, room), WebSocket: TestWebSocket(), ...FAST, ...options });
  providers.add(p);
  return p;
}

const refusedTests = [
  { name: 'no token (4401)', room: 'locked', token: async () => '', code: 4401 },
  { name: 'a forged token (4401)', room: 'locked', token: async () => 'not.a.token', code: 4401 },
  { name: 'a token of another room (4403)', room: 'locked', token: () => mintToken({ secret: SECRET, room: 'elsewhere' }), code: 4403 },
];

test('a server requiring tokens refuses the wrong ones for good', async (t) => {
  for (const tt of refusedTests) {
    await t.test(tt.name, async () => {
      const p = connect(new Doc(), tt.room, { token: await tt.token() });
      const err = await new Promise((resolve) => p.on('error', resolve));
      assert.equal(err.code, tt.code, err.message);
      assert.equal(err.permanent, true);
      assert.equal(p.status, 'closed');
    });
  }
});

test('after 4408, setToken reconnects with the fresh token', async () => {
  const a = new Doc();
  const pa = connect(a, 'expiring', { token: await mintToken({ secret: SECRET, room: 'expiring', ttl: '2s' }) });
  const errors = [];
  pa.on('error', (e) => errors.push(e));
  await pa.whenSynced();
  a.getText('t').insert(0, 'before expiry');
  await waitFor(() => errors.some((e) => e.code === 4408), 'the token to expire');
  assert.equal(errors.find((e) => e.code === 4408).permanent, false);
  assert.equal(pa.status, 'offline');
  a.getText('t').insert(a.getText('t').length, ', after');
  pa.setToken(await mintToken({ secret: SECRET, room: 'expiring' }));
  await pa.whenSynced();
  const b = new Doc();
  const pb = connect(b, 'expiring', { token: await mintToken({ secret: SECRET, room: 'exp*' }) });
  await pb.whenSynced();
  assert.equal(b.getText('t').toString(), 'before expiry, after');
});

test('with getToken, an expired token is replaced on its own', async () => {
  const issued = [];
  const getToken = async () => {
    // The first token lives two seconds, the next ones an hour.
    const tok = await mintToken({ secret: SECRET, room: 'refresh', ttl: issued.length === 0 ? '2s' : '1h' });
    issued.push(tok);
    return tok;
  };
  const a = new Doc();
  const pa = connect(a, 'refresh', { getToken });
  const errors = [];
  pa.on('error', (e) => errors.push(e));
  await pa.whenSynced();
  await waitFor(() => errors.some((e) => e.code === 4408) && pa.status === 'synced', 'expiry and reconnection');
  assert.ok(issued.length >= 2);
  a.getText('t').insert(0, 'still writing');
  await pa.whenSynced();
  const b = new Doc();
  const pb = connect(b, 'refresh', { getToken });
  await pb.whenSynced();
  assert.equal(b.getText('t').toString(), 'still writing');
});
