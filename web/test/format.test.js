// Document formats (PROTOCOL.md §6.2) against the real server: this
// client's Hello declares FORMAT_VERSION, and a server keeps what it cannot
// read away from it, closing it with 4006 (permanent) instead of letting it
// fail on an update or fall silently behind.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Code, Doc, FORMAT_VERSION, Provider, decodeMessage, encodeMessage, fromHex, isPermanent } from '../src/index.js';
import { harness, recordingWebSocket, TestWebSocket } from './harness.js';
import { REPO_ROOT } from './helpers.js';

const ctx = harness();
const { connect, room, waitFor } = ctx;

// A Peritext scenario of crdt/testdata/rich.json: a plain base text, then
// a bold over part of it, which is rich text (format 2 or 3, as recorded).
const rich = JSON.parse(readFileSync(join(REPO_ROOT, 'crdt', 'testdata', 'rich.json'), 'utf8'));
const scenario = rich.scenarios[0];
const base = fromHex(scenario.base_snapshot);
const bold = fromHex(scenario.replicas[0].update);
const boldFormat = bold[1];

/**
 * richWriter joins name as a client that reads FORMAT_VERSION, sends
 * updates as one Update, and resolves once it is acknowledged.
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
  ws.send(encodeMessage({ type: 'hello', version: 4, room: name, client: 77, token: '', stateVector: new Uint8Array([0x80]), heartbeatMillis: 0, format: FORMAT_VERSION }));
  await waitFor(() => messages.some((m) => m.type === 'welcome'), 'the writer\'s welcome');
  ws.send(encodeMessage({ type: 'update', seq: 1, updates }));
  await waitFor(() => messages.some((m) => m.type === 'ack' && m.seq === 1), `the writer's ack, got ${JSON.stringify(messages.map((m) => m.type))}`);
  return ws;
}

test('the provider declares FORMAT_VERSION in its version 5 Hello', async () => {
  const rec = recordingWebSocket();
  const p = connect(new Doc(), room('declares'), { WebSocket: rec.WebSocket });
  await p.whenSynced();
  const hello = rec.sent.find((m) => m.type === 'hello');
  assert.equal(hello.version, 5);
  assert.equal(hello.format, FORMAT_VERSION);
});

test('a provider that reads rich text is served in a rich room', async () => {
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

/**
 * oldClient joins name as a client of format 1 (a version 4 Hello naming
 * format 1, as a client built before rich text would), recording what it
 * is sent and how its socket closes.
 */
async function oldClient(name) {
  const WS = TestWebSocket();
  const ws = new WS(Provider.roomURL(ctx.server.url, name));
  ws.binaryType = 'arraybuffer';
  const c = { ws, messages: [], closed: null };
  ws.onmessage = (ev) => c.messages.push(decodeMessage(new Uint8Array(ev.data)));
  ws.onclose = (ev) => { c.closed = ev.code; };
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  ws.send(encodeMessage({ type: 'hello', version: 4, room: name, client: 78, token: '', stateVector: new Uint8Array([0x80]), heartbeatMillis: 0, format: 1 }));
  return c;
}

test('4006 is a permanent close: a provider refused for its format does not come back', () => {
  assert.equal(Code.UNSUPPORTED_FORMAT, 4006);
  assert.equal(isPermanent(Code.UNSUPPORTED_FORMAT), true);
});

test('a member that reads format 1 is closed with 4006 when rich text arrives, after the plain text before it', async () => {
  const name = room('rich-arrives');
  const old = await oldClient(name);
  await waitFor(() => old.messages.some((m) => m.type === 'welcome'), 'the old client\'s welcome');
  const writer = await richWriter(name, base);
  await waitFor(() => old.messages.some((m) => m.type === 'update'), 'the plain base text relayed');
  writer.send(encodeMessage({ type: 'update', seq: 2, updates: [bold] }));
  await waitFor(() => old.closed !== null, 'the old client closed');
  assert.equal(old.closed, Code.UNSUPPORTED_FORMAT);
  const err = old.messages.find((m) => m.type === 'error');
  assert.equal(err?.code, Code.UNSUPPORTED_FORMAT);
  assert.ok(boldFormat >= 2);
  assert.match(err.message, new RegExp(`format ${boldFormat}`));
  // Nothing of a rich format reached it before the close.
  for (const m of old.messages.filter((m) => m.type === 'update')) {
    assert.equal(m.updates.some((u) => u[1] >= 2), false, 'a rich update reached a format 1 client');
  }
  writer.close();
});

test('a client that reads format 1 is refused at the hello of a rich room, before any welcome', async () => {
  const name = room('rich-room');
  const writer = await richWriter(name, base, bold);
  const old = await oldClient(name);
  await waitFor(() => old.closed !== null, 'the old client closed');
  assert.equal(old.closed, Code.UNSUPPORTED_FORMAT);
  assert.deepEqual(old.messages.map((m) => [m.type, m.code]), [['error', Code.UNSUPPORTED_FORMAT]]);
  writer.close();
});
