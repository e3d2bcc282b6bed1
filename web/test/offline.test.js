// Offline-first against the real server: edits made while the server is
// down survive "reloads" (a new Doc, persistence and provider on the same
// fake-indexeddb profile) and reach the server exactly once; tabs converge
// over BroadcastChannel without the server and upload each change once,
// counted by the server's flowstate_updates_received_total; unsyncedCount
// follows the acknowledgements.
//
// Run with a WebSocket global: node --experimental-websocket --test test/

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { Doc, Provider } from '../src/index.js';
import { IndexedDBPersistence } from '../src/persistence.js';
import { harness } from './harness.js';
import { startServer } from './server.js';

const ctx = harness();
const { connect, room, waitFor } = ctx;

/** metric returns the server's counter flowstate_NAME. */
async function metric(server, name) {
  const body = await (await fetch(`${server.httpURL}/metrics`)).text();
  const m = new RegExp(`^flowstate_${name} (\\d+)$`, 'm').exec(body);
  assert.ok(m, `no flowstate_${name} in /metrics`);
  return Number(m[1]);
}

/** received returns the server's flowstate_updates_received_total. */
function received(server) {
  return metric(server, 'updates_received_total');
}

/** downServer starts a server of its own and stops it: its URL refuses connections until restart. */
async function downServer() {
  const server = await startServer();
  await server.stop();
  return server;
}

/**
 * page opens a page of room: a new Doc, its persistence on the profile
 * factory (loaded), and a provider with it.
 */
async function page(server, factory, name, options = {}) {
  const doc = new Doc(options.clientID ? { clientID: options.clientID } : {});
  const persistence = new IndexedDBPersistence(name, doc, { indexedDB: factory, IDBKeyRange });
  await persistence.whenSynced;
  const provider = connect(doc, name, { url: Provider.roomURL(server.url, name), persistence, ...options.provider });
  const close = async () => {
    await persistence.whenSaved();
    provider.destroy();
    persistence.destroy();
  };
  return { doc, text: doc.getText('t'), persistence, provider, close };
}

/** type inserts s at the end of text, one transaction per character. */
function type(text, s) {
  for (const ch of s) text.insert(text.length, ch);
}

/** fresh connects a client with nothing stored and waits until it has synced. */
async function fresh(server, name) {
  const doc = new Doc();
  const p = connect(doc, name, { url: Provider.roomURL(server.url, name) });
  await p.whenSynced();
  return doc.getText('t');
}

test('offline edits survive three reloads and reach the server exactly once', async () => {
  const server = await downServer();
  const factory = new IDBFactory();
  const name = room('reloads');
  let want = '';
  let pending = 0;
  for (let i = 0; i < 4; i++) {
    const p = await page(server, factory, name);
    assert.equal(p.text.toString(), want, `page ${i} shows what was typed before`);
    assert.equal(p.provider.unsyncedCount, pending, `page ${i} counts the changes still pending`);
    type(p.text, `<${i}>`);
    want += `<${i}>`;
    pending += 3;
    assert.equal(p.provider.unsyncedCount, pending);
    await p.close();
  }
  await server.restart();
  assert.equal(await received(server), 0);
  const p = await page(server, factory, name);
  const counts = [];
  p.provider.on('unsynced', (n) => counts.push(n));
  await p.provider.whenSynced();
  assert.equal(p.provider.unsyncedCount, 0);
  assert.deepEqual(counts, [0]);
  assert.equal(await received(server), 1, 'one catch-up update');
  assert.equal((await fresh(server, name)).toString(), want);
  assert.equal(await received(server), 1, 'a reader sends nothing');
  await p.close();
  // The acknowledged count is stored: the next page starts at 0.
  const again = await page(server, factory, name);
  assert.equal(again.provider.unsyncedCount, 0);
  await again.provider.whenSynced();
  assert.equal(await received(server), 1, 'a reload after the sync uploads nothing');
  await again.close();
  await server.stop();
});

test('unsyncedCount counts local changes until their Ack', async () => {
  const name = room('unsynced');
  const doc = new Doc();
  const p = connect(doc, name);
  await p.whenSynced();
  const counts = [];
  p.on('unsynced', (n) => counts.push(n));
  type(doc.getText('t'), 'abc');
  assert.equal(p.unsyncedCount, 3);
  await waitFor(() => p.unsyncedCount === 0, 'the acks');
  assert.deepEqual(counts.slice(0, 3), [1, 2, 3]);
  assert.equal(counts[counts.length - 1], 0);
  assert.ok(counts.every((n, i) => i === 0 || n !== counts[i - 1]), `one event per change: ${counts}`);
});

test('two tabs converge without the server, and each change reaches it once', async () => {
  const server = await downServer();
  const name = room('tabs');
  const a = new Doc();
  const b = new Doc();
  const url = Provider.roomURL(server.url, name);
  const pa = connect(a, name, { url, crossTab: true, connect: false });
  const pb = connect(b, name, { url, crossTab: true, connect: false });
  pa.presence.setLocal({ name: 'Ada' });
  type(a.getText('t'), 'Ada wrote this while the server was away. ');
  type(b.getText('t'), 'Bob wrote this at the same time, in another tab. ');
  b.getText('t').delete(0, 4);
  const len = 'Ada wrote this while the server was away. Bob wrote this at the same time, in another tab. '.length - 4;
  await waitFor(() => a.getText('t').length === len && b.getText('t').toString() === a.getText('t').toString(), 'the tabs to converge');
  const want = a.getText('t').toString();
  await waitFor(() => pb.presence.states.get(a.clientID)?.name === 'Ada', 'presence across tabs');
  await server.restart();
  // Both tabs join at once (as on the browser's online event): both
  // Welcomes come before either upload, so each tab sees a server
  // lacking everything, and must still send only its own changes.
  pa.connect();
  pb.connect();
  await Promise.all([pa.whenSynced(), pb.whenSynced()]);
  assert.equal(await received(server), 2, 'one catch-up per tab');
  const bytes = await metric(server, 'update_bytes_received_total');
  const whole = a.snapshot().length;
  assert.ok(bytes < whole * 1.5, `the server received ${bytes} bytes for a document of ${whole}: each change once`);
  assert.equal((await fresh(server, name)).toString(), want);
  // Online, each tab sends only its own edits; the other tab has them at once.
  type(b.getText('t'), 'xy');
  await waitFor(() => a.getText('t').toString().endsWith('xy'), 'b’s edit in a');
  await Promise.all([pa.whenSynced(), pb.whenSynced()]);
  assert.equal(await received(server), 4);
  // Presence survives the server going away: the tabs still see each other.
  await server.kill();
  await waitFor(() => pa.status === 'offline' && pb.status === 'offline', 'both offline');
  await waitFor(() => pb.presence.states.get(a.clientID)?.name === 'Ada', 'presence after the connection closed');
  await server.stop();
});

test('restored changes of a closed page are uploaded by one tab only', async () => {
  const server = await downServer();
  const factory = new IDBFactory();
  const name = room('orphans');
  const old = await page(server, factory, name);
  type(old.text, 'written offline, then closed');
  await old.close();
  // Two tabs restore the same stored changes; small IDs make tab 1 the leader.
  const t1 = await page(server, factory, name, { clientID: 101, provider: { crossTab: true, connect: false } });
  const t2 = await page(server, factory, name, { clientID: 202, provider: { crossTab: true, connect: false } });
  await waitFor(() => t1.provider.crossTab.peerIDs().includes(202) && t2.provider.crossTab.peerIDs().includes(101), 'the tabs to meet');
  await server.restart();
  t1.provider.connect();
  t2.provider.connect();
  await Promise.all([t1.provider.whenSynced(), t2.provider.whenSynced()]);
  assert.equal(await received(server), 1, 'only the leader uploads the closed page’s changes');
  assert.equal((await fresh(server, name)).toString(), 'written offline, then closed');
  await t1.close();
  await t2.close();
  await server.stop();
});

test('a tab that closes with unacknowledged edits hands them to the leader', async () => {
  const name = room('handoff');
  const a = new Doc({ clientID: 7 });
  const b = new Doc({ clientID: 9 });
  const pa = connect(a, name, { crossTab: true });
  await pa.whenSynced();
  // b never connects: its edits reach a over the channel only.
  const pb = connect(b, name, { crossTab: true, connect: false });
  await waitFor(() => pa.crossTab.peerIDs().includes(9), 'a to meet b');
  type(b.getText('t'), 'from b');
  await waitFor(() => a.getText('t').toString() === 'from b', 'b’s edits in a');
  await pa.whenSynced();
  const before = await received(ctx.server);
  assert.equal((await fresh(ctx.server, name)).toString(), '', 'b’s edits are b’s to upload while it is open');
  pb.destroy();
  await waitFor(() => pa.unsyncedCount === 0 && !pa.crossTab.peerIDs().includes(9), 'the handoff');
  await pa.whenSynced();
  assert.equal(await received(ctx.server), before + 1);
  assert.equal((await fresh(ctx.server, name)).toString(), 'from b');
});

test('a tab that falls silent is taken for closed, and the leader uploads its edits', async () => {
  const name = room('silent');
  const a = new Doc({ clientID: 11 });
  const b = new Doc({ clientID: 12 });
  const pa = connect(a, name, { crossTab: { heartbeat: 50 } });
  await pa.whenSynced();
  const pb = connect(b, name, { crossTab: { heartbeat: 50 }, connect: false });
  await waitFor(() => pa.crossTab.peerIDs().includes(12), 'a to meet b');
  type(b.getText('t'), 'crashed');
  await waitFor(() => a.getText('t').toString() === 'crashed', 'b’s edits in a');
  // b's page dies: no goodbye, no more heartbeats.
  clearInterval(pb.crossTab.timer);
  pb.crossTab.channel.close();
  await waitFor(() => !pa.crossTab.peerIDs().includes(12), 'a to give b up');
  await pa.whenSynced();
  assert.equal((await fresh(ctx.server, name)).toString(), 'crashed');
});

test('a provider made before storage has loaded waits for it, so its catch-up holds the restored changes', async () => {
  const factory = new IDBFactory();
  const name = room('slowdisk');
  const server = await downServer();
  const old = await page(server, factory, name);
  type(old.text, 'stored offline');
  await old.close();
  await server.restart();
  // A slow disk: the database opens 300 ms late.
  const slow = {
    open: (...a) => {
      const req = { result: null, error: null };
      setTimeout(() => {
        const real = factory.open(...a);
        real.onupgradeneeded = () => ((req.result = real.result), req.onupgradeneeded?.());
        real.onsuccess = () => ((req.result = real.result), req.onsuccess?.());
        real.onerror = () => ((req.error = real.error), req.onerror?.());
      }, 300);
      return req;
    },
  };
  const doc = new Doc();
  const persistence = new IndexedDBPersistence(name, doc, { indexedDB: slow, IDBKeyRange });
  const p = connect(doc, name, { url: Provider.roomURL(server.url, name), persistence });
  await p.whenSynced();
  assert.equal(doc.getText('t').toString(), 'stored offline');
  assert.equal(p.unsyncedCount, 0);
  assert.equal((await fresh(server, name)).toString(), 'stored offline');
  persistence.destroy();
  await server.stop();
});
