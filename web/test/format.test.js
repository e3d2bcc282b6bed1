// Document formats (PROTOCOL.md §6.2) against the real server: this
// client's Hello declares FORMAT_VERSION, and a server keeps what it cannot
// read away from it, closing it with 4006 (permanent) instead of letting it
// fail on an update or fall silently behind.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Code, Doc, FORMAT_VERSION, Provider, decodeMessage, encodeMessage, fromHex } from '../src/index.js';
import { harness, recordingWebSocket, TestWebSocket } from './harness.js';
import { REPO_ROOT } from './helpers.js';

const ctx = harness();
const { connect, room, waitFor } = ctx;

// A Peritext scenario of crdt/testdata/rich.json: a plain base text, then
// a bold over part of it, which is format 2.
const rich = JSON.parse(readFileSync(join(REPO_ROOT, 'crdt', 'testdata', 'rich.json'), 'utf8'));
const scenario = rich.scenarios[0];
const base = fromHex(scenario.base_snapshot);
const bold = fromHex(scenario.replicas[0].update);

/**
 * richWriter joins name as a client that reads format 2, sends updates as
 * one Update, and resolves once it is acknowledged.
 */
async function richWriter(name, ...updates) {
  const WS = TestWebSocket();
  const ws = new WS(Provider.roomURL(ctx.server.url, name));
  ws.binaryType = 'arraybuffer';
  const messages = [];
  ws.onmessage = (ev) => messages.push(decodeMessage(new Uint8Array(ev.data)));
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  ws.send(encodeMessage({ type: 'hello', version: 4, room: name, client: 77, token: '', stateVector: new Uint8Array([0x80]), heartbeatMillis: 0, format: 2 }));
  await waitFor(() => messages.some((m) => m.type === 'welcome'), 'the writer\'s welcome');
  ws.send(encodeMessage({ type: 'update', seq: 1, updates }));
  await waitFor(() => messages.some((m) => m.type === 'ack' && m.seq === 1), `the writer's ack, got ${JSON.stringify(messages.map((m) => m.type))}`);
  return ws;
}

test('this client declares the format its Doc reads', () => {
  assert.equal(FORMAT_VERSION, 1);
});

test('a member that reads format 1 is closed with 4006 when rich text arrives, after the plain text before it', async () => {
  const name = room('rich-arrives');
  const doc = new Doc();
  const p = connect(doc, name);
  await p.whenSynced();
  const errors = [];
  p.on('error', (e) => errors.push(e));
  const writer = await richWriter(name, base);
  await waitFor(() => doc.getText('t').toString() === 'The fox jumped.', 'the plain base text');
  writer.send(encodeMessage({ type: 'update', seq: 2, updates: [bold] }));
  await waitFor(() => p.status === 'closed', `closed, got ${p.status}`);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, Code.UNSUPPORTED_FORMAT);
  assert.equal(errors[0].permanent, true);
  assert.match(errors[0].message, /format 2/);
  assert.equal(doc.getText('t').toString(), 'The fox jumped.');
  writer.close();
});

test('a client that reads format 1 is refused at the hello of a rich room, once', async () => {
  const name = room('rich-room');
  const writer = await richWriter(name, base, bold);
  const doc = new Doc();
  const rec = recordingWebSocket();
  const p = connect(doc, name, { WebSocket: rec.WebSocket });
  const err = await new Promise((resolve) => p.on('error', resolve));
  assert.equal(err.code, Code.UNSUPPORTED_FORMAT);
  assert.equal(err.permanent, true);
  assert.equal(p.status, 'closed');
  assert.equal(doc.getText('t').toString(), '', 'no welcome was applied');
  assert.deepEqual(
    rec.sent.map((m) => [m.type, m.version, m.format]),
    [['hello', 4, FORMAT_VERSION]],
  );
  // Another client completes a whole handshake meanwhile: the refused
  // provider must not have opened a second socket.
  await connect(new Doc(), room('bystander')).whenSynced();
  assert.equal(rec.sockets.length, 1);
  writer.close();
});
