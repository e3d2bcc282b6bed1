// The heartbeat of protocol version 2 (PROTOCOL.md §10) against the real
// server: a TCP path that silently stops forwarding is found dead within
// the documented bound, the provider reconnects through the restored path
// and the edits made meanwhile arrive exactly once; a server of version 1
// gets a version 1 Hello and no Heartbeat, and one of version 4 no Patch.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { WebSocketServer } from 'ws';
import { Code, Doc, FORMAT_VERSION, Provider, decodeMessage, encodeMessage } from '../src/index.js';
import { TestWebSocket, harness } from './harness.js';

const ctx = harness();
const { connect, room, converged, waitFor } = ctx;

/**
 * stallProxy forwards TCP connections to port until stall(): from then on
 * it forwards nothing on any connection, old or new, and closes none,
 * reading and dropping what arrives, as a dead network path does.
 * resume() lets new connections through again; stalled ones stay dead.
 */
async function stallProxy(port) {
  const pairs = new Set();
  let blocked = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    const pair = { client, upstream, stalled: blocked };
    pairs.add(pair);
    const pipe = (src, dst) => {
      src.on('data', (b) => {
        if (!pair.stalled) dst.write(b);
      });
      src.on('end', () => {
        if (!pair.stalled) dst.end();
      });
      src.on('error', () => dst.destroy());
    };
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    stall() {
      blocked = true;
      for (const p of pairs) p.stalled = true;
    },
    resume() {
      blocked = false;
    },
    close() {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream.destroy();
      }
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

test('a silently dead path is noticed within 2.5 heartbeats, and nothing is lost or doubled', async () => {
  const interval = 250;
  const proxy = await stallProxy(ctx.server.port);
  try {
    const name = room('dead-path');
    const a = new Doc();
    const b = new Doc();
    const pa = connect(a, name, { url: Provider.roomURL(`ws://127.0.0.1:${proxy.port}`, name), heartbeat: interval });
    const pb = connect(b, name);
    await Promise.all([pa.whenSynced(), pb.whenSynced()]);
    a.getText('t').insert(0, '[a1]');
    await converged([
      [pa, a],
      [pb, b],
    ]);

    const statuses = [];
    pa.on('status', (s) => statuses.push(s));
    const dead = new Promise((resolve) => pa.on('error', resolve));
    proxy.stall();
    const cut = Date.now();
    a.getText('t').insert(a.getText('t').length, '[a2]'); // lost in the dead path: must be resent
    b.getText('t').insert(b.getText('t').length, '[b1]'); // must reach a once it reconnects

    const err = await dead;
    const noticed = Date.now() - cut;
    assert.equal(err.code, Code.HEARTBEAT_TIMEOUT, err.message);
    assert.equal(err.permanent, false);
    assert.equal(pa.status === 'offline' || pa.status === 'connecting', true, pa.status);
    assert.ok(statuses.includes('offline'), statuses.join());
    // The bound counts from the last message heard, which came before the
    // cut; the allowance is for the scheduler of a loaded machine.
    assert.ok(noticed <= 2.5 * interval + 1000, `noticed after ${noticed} ms`);
    proxy.resume();

    await converged([
      [pa, a],
      [pb, b],
    ]);
    const text = a.getText('t').toString();
    for (const s of ['[a1]', '[a2]', '[b1]']) assert.equal(text.split(s).length - 1, 1, `${s} in ${text}`);
    assert.equal(text.length, 12, text);
    assert.ok(statuses.includes('synced'), statuses.join());
  } finally {
    await proxy.close();
  }
});

/**
 * olderServer is a stand-in for a server of an older protocol version (1
 * to 4), which no longer runs anywhere here: it refuses a Hello of a later
 * version with Error{4001} and close 4001, and welcomes one of its own
 * version to an empty room. Version 1 closes a connection that sends a
 * Heartbeat, which it cannot decode, with 4000, and every version a
 * connection that sends a Patch (tag 7, version 5); version 2 echoes a
 * Heartbeat that asks for it. Updates are acknowledged. It records the
 * messages it receives.
 */
async function olderServer(version) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.on('listening', resolve));
  const received = [];
  const empty = new Doc();
  wss.on('connection', (ws) => {
    const refuse = (code) => {
      ws.send(encodeMessage({ type: 'error', code, message: 'refused', seq: 0 }));
      ws.close(code, 'refused');
    };
    ws.on('message', (data) => {
      const m = decodeMessage(new Uint8Array(data));
      received.push(m);
      if (m.type === 'hello') {
        if (m.version !== version) refuse(Code.UNSUPPORTED_VERSION);
        else ws.send(encodeMessage({ type: 'welcome', stateVector: new Uint8Array([0x80]), update: empty.diff(new Map()) }));
      } else if ((m.type === 'heartbeat' && version < 2) || m.type === 'patch') {
        refuse(Code.UNKNOWN_TYPE);
      } else if (m.type === 'update') {
        ws.send(encodeMessage({ type: 'ack', seq: m.seq }));
      } else if (m.type === 'heartbeat' && m.id !== 0) {
        ws.send(encodeMessage(m));
      }
    });
  });
  return {
    url: `ws://127.0.0.1:${wss.address().port}`,
    received,
    close() {
      for (const ws of wss.clients) ws.terminate();
      return new Promise((resolve) => wss.close(resolve));
    },
  };
}

test('against a server of version 1, the provider says hello in version 1 and sends no heartbeat', async () => {
  const interval = 100;
  const old = await olderServer(1);
  let p = null;
  try {
    const name = room('old-server');
    const errors = [];
    p = connect(new Doc(), name, { url: Provider.roomURL(old.url, name), heartbeat: interval });
    p.on('error', (e) => errors.push(e));
    await p.whenSynced();
    // Ten idle intervals: a heartbeat would be due many times over.
    await new Promise((r) => setTimeout(r, 10 * interval));
    await waitFor(() => p.status === 'synced', 'synced');
    assert.deepEqual(
      old.received.map((m) => (m.type === 'hello' ? `hello v${m.version}` : m.type)),
      ['hello v5', 'hello v4', 'hello v3', 'hello v2', 'hello v1'],
    );
    assert.deepEqual(errors, []);
  } finally {
    p?.destroy();
    await old.close();
  }
});

test('against a server of version 2, the provider says hello in version 2 and keeps its heartbeat', async () => {
  const interval = 100;
  const old = await olderServer(2);
  let p = null;
  try {
    const name = room('v2-server');
    const errors = [];
    p = connect(new Doc(), name, { url: Provider.roomURL(old.url, name), heartbeat: interval });
    p.on('error', (e) => errors.push(e));
    await p.whenSynced();
    await waitFor(() => old.received.some((m) => m.type === 'heartbeat'), 'a heartbeat');
    assert.equal(p.status, 'synced');
    const hellos = old.received.filter((m) => m.type === 'hello');
    assert.deepEqual(
      hellos.map((m) => [m.version, m.heartbeatMillis]),
      [
        [5, interval],
        [4, interval],
        [3, interval],
        [2, interval],
      ],
    );
    assert.deepEqual(errors, []);
  } finally {
    p?.destroy();
    await old.close();
  }
});

test('against a server of version 4, the provider says hello in version 4, with its format, and sends Updates, never a Patch', async () => {
  const old = await olderServer(4);
  let p = null;
  try {
    const name = room('v4-server');
    const errors = [];
    const doc = new Doc();
    p = connect(doc, name, { url: Provider.roomURL(old.url, name) });
    p.on('error', (e) => errors.push(e));
    await p.whenSynced();
    // Keystrokes, which on a version 5 connection go as Patches.
    for (let i = 0; i < 20; i++) doc.getText('t').insert(i, 'x');
    await waitFor(() => p.status === 'synced' && p.unsyncedCount === 0, `synced, got ${p.status}`);
    const hellos = old.received.filter((m) => m.type === 'hello');
    assert.deepEqual(
      hellos.map((m) => [m.version, m.format]),
      [
        [5, FORMAT_VERSION],
        [4, FORMAT_VERSION],
      ],
    );
    assert.deepEqual(
      old.received.filter((m) => m.type !== 'hello' && m.type !== 'heartbeat').map((m) => `${m.type} ${m.seq}`),
      Array.from({ length: 20 }, (_, i) => `update ${i + 1}`),
    );
    assert.deepEqual(errors, []);
  } finally {
    p?.destroy();
    await old.close();
  }
});

test('a heartbeat outside 100 to 60000 ms is refused at once', () => {
  for (const heartbeat of [1, 99, 60001, 150.5, -1]) {
    assert.throws(() => new Provider(new Doc(), { url: 'ws://127.0.0.1:1/ws/x', WebSocket: TestWebSocket(), connect: false, heartbeat }), RangeError);
  }
});
