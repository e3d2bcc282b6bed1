// Protocol version 3 (PROTOCOL.md §4.3, §11): the server may acknowledge a
// client's Updates in the seq of an Update it relays to it, instead of in
// an Ack. The real server does so only while a relay waits for its
// interval, which a test cannot arrange through the binary's flags, so a
// stand-in server on a real socket sends such relays, and nothing else.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocketServer } from 'ws';
import { Doc, Provider, decodeMessage, encodeMessage } from '../src/index.js';
import { TestWebSocket } from './harness.js';

/** waitFor polls cond until it holds, or fails after ten seconds. */
async function waitFor(cond, what) {
  for (const end = Date.now() + 10_000; !cond(); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * relayAckServer welcomes a Hello of any version to an empty room and
 * answers each Update of seq N (or Patch, which stands for the Update of
 * the seq after the one before it) with a relay of one update of another
 * client, carrying N when the Hello is of version 3 or later and 0
 * otherwise; it never sends an Ack. It records the Hellos.
 */
async function relayAckServer() {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.on('listening', resolve));
  const hellos = [];
  const other = new Doc();
  let n = 0;
  wss.on('connection', (ws) => {
    let version = 0;
    let seq = 0;
    ws.on('message', (data) => {
      const m = decodeMessage(new Uint8Array(data));
      if (m.type === 'hello') {
        hellos.push(m);
        version = m.version;
        ws.send(encodeMessage({ type: 'welcome', stateVector: new Uint8Array([0x80]), update: new Doc().diff(new Map()) }));
      } else if (m.type === 'update' || m.type === 'patch') {
        seq = m.type === 'patch' ? seq + 1 : m.seq;
        const text = other.getText('t');
        let u = null;
        const off = other.onLocalUpdate((b) => (u = b));
        text.insert(text.length, `o${++n}`);
        off();
        ws.send(encodeMessage({ type: 'update', seq: version >= 3 ? seq : 0, updates: [u] }));
      }
    });
  });
  return {
    url: `ws://127.0.0.1:${wss.address().port}`,
    hellos,
    close() {
      for (const ws of wss.clients) ws.terminate();
      return new Promise((resolve) => wss.close(resolve));
    },
  };
}

test('a version 3 provider takes the seq of a relayed Update as an acknowledgement', async () => {
  const server = await relayAckServer();
  const doc = new Doc();
  const p = new Provider(doc, { url: Provider.roomURL(server.url, 'relay-ack'), network: null, WebSocket: TestWebSocket() });
  try {
    await waitFor(() => p.status === 'synced', 'the first welcome');
    doc.getText('t').insert(0, 'a');
    assert.equal(p.unsyncedCount, 1);
    await waitFor(() => p.status === 'synced' && p.unsyncedCount === 0, `synced, got ${p.status} with ${p.unsyncedCount} unsynced`);
    doc.getText('t').insert(1, 'b');
    await waitFor(() => p.status === 'synced' && p.unsyncedCount === 0, `synced again, got ${p.status} with ${p.unsyncedCount} unsynced`);
    assert.deepEqual(
      server.hellos.map((h) => h.version),
      [5],
    );
    assert.equal(doc.getText('t').length, 'abo1o2'.length, 'the relayed updates are applied');
  } finally {
    p.destroy();
    await server.close();
  }
});
