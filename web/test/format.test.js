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

// Until the JS Doc reads rich text, FORMAT_VERSION is 1 and the provider
// is refused where rich text is; once it reads it, the provider is served.
const readsRich = FORMAT_VERSION >= 2;

test('the provider declares FORMAT_VERSION in its version 4 Hello', async () => {
  const rec = recordingWebSocket();
  const p = connect(new Doc(), room('declares'), { WebSocket: rec.WebSocket });
  await p.whenSynced();
  const hello = rec.sent.find((m) => m.type === 'hello');
  assert.equal(hello.version, 4);
  assert.equal(hello.format, FORMAT_VERSION);
});

test('a provider that reads rich text is served in a rich room', { skip: !readsRich && 'FORMAT_VERSION is 1' }, async () => {
  const name = room('rich-served');
  const writer = await richWriter(name, base);
  const doc = new Doc();
  const p = connect(doc, name);
  await p.whenSynced();
  writer.send(encodeMessage({ type: 'update', seq: 2, updates: [bold] }));
  const late = new Doc();
  await connect(late, name).whenSynced();
  const want = JSON.stringify([{ insert: 'The fox', attributes: { bold: true } }, { insert: ' jumped.' }]);
  for (const d of [doc, late]) {
    await waitFor(() => JSON.stringify(d.getText('t').toDelta()) === want, `the bold text, got ${JSON.stringify(d.getText('t').toDelta())}`);
  }
  assert.equal(p.status, 'synced');
  writer.close();
});

test('a member that reads format 1 is closed with 4006 when rich text arrives, after the plain text before it', { skip: readsRich && 'FORMAT_VERSION reads rich text' }, async () => {
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

test('a client that reads format 1 is refused at the hello of a rich room, once', { skip: readsRich && 'FORMAT_VERSION reads rich text' }, async () => {
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
