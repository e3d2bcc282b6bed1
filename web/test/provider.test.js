// The Provider against the real Go server (test/server.js): convergence,
// late joiners, server crashes and restarts, offline edits, permanent
// errors and network events. Tokens are tested in auth.test.js.
//
// Run with a WebSocket global: node --experimental-websocket --test test/;
// FLOWSTATE_TEST_WEBSOCKET=ws runs them on the ws package instead.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Doc, Provider, applyPatch, encodeMessage, toHex } from '../src/index.js';
import { harness, impliedSeqs, recordingWebSocket } from './harness.js';

const ctx = harness();
const { connect, room, waitFor, converged } = ctx;

test('two providers converge on concurrent edits', async () => {
  const name = room('converge');
  const a = new Doc();
  const b = new Doc();
  const pa = connect(a, name);
  const pb = connect(b, name);
  await Promise.all([pa.whenSynced(), pb.whenSynced()]);
  a.getText('t').insert(0, 'hello');
  b.getText('t').insert(0, 'world');
  await converged([
    [pa, a],
    [pb, b],
  ]);
  const s = a.getText('t').toString();
  assert.equal(s.length, 10);
  assert.ok(s.includes('hello') && s.includes('world'), s);
  // Typing keeps converging, deletions included.
  for (let i = 0; i < 50; i++) {
    a.getText('t').insert(a.getText('t').length, 'a');
    if (b.getText('t').length > 0) b.getText('t').delete(0, 1);
  }
  await converged([
    [pa, a],
    [pb, b],
  ]);
});

/** recordedPair connects two new documents to room name, recording what each sends and receives, and waits until both are synced. */
async function recordedPair(name) {
  const recA = recordingWebSocket();
  const recB = recordingWebSocket();
  const a = new Doc();
  const b = new Doc();
  const pa = connect(a, name, { WebSocket: recA.WebSocket });
  const pb = connect(b, name, { WebSocket: recB.WebSocket });
  await Promise.all([pa.whenSynced(), pb.whenSynced()]);
  return { a, b, pa, pb, recA, recB };
}

test('updates carry increasing seqs and remote ones are never sent back', async () => {
  const { a, b, pa, pb, recA, recB } = await recordedPair(room('echo'));
  for (let i = 0; i < 20; i++) a.getText('t').insert(i, 'x');
  await converged([
    [pa, a],
    [pb, b],
  ]);
  // Keystrokes after the first go as Patches (version 5), which take the
  // next seq without writing it.
  assert.deepEqual(
    impliedSeqs(recA.sent),
    Array.from({ length: 20 }, (_, i) => i + 1),
  );
  assert.equal(impliedSeqs(recB.sent).length, 0, 'b edited nothing');
});

test('keystrokes travel as Patches both ways, and two providers typing into each other converge', async () => {
  const name = room('patches');
  const { a, b, pa, pb, recA, recB } = await recordedPair(name);
  const local = { a: [], b: [] };
  a.onLocalUpdate((u) => local.a.push(toHex(u)));
  b.onLocalUpdate((u) => local.b.push(toHex(u)));
  const ta = a.getText('t');
  const tb = b.getText('t');
  // Each types at its end of the text and, now and then, deletes a
  // character: one update per keystroke, and the other's keystrokes
  // arrive in between. The pause lets most relays go out one update at a
  // time (the server gathers what arrives within its relay interval into
  // one Update, which no Patch stands for).
  const keys = 150;
  for (let i = 0; i < keys; i++) {
    ta.insert(0, String.fromCharCode(97 + (i % 26)));
    tb.insert(tb.length, String.fromCharCode(65 + (i % 26)));
    if (i % 25 === 24) {
      ta.delete(1, 1);
      tb.delete(tb.length - 2, 1);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  const edits = keys + Math.floor(keys / 25);
  await converged([
    [pa, a],
    [pb, b],
  ]);
  assert.equal(ta.length, 2 * keys - 2 * Math.floor(keys / 25));
  // A late joiner gets the same text.
  const c = new Doc();
  await connect(c, name).whenSynced();
  assert.equal(c.getText('t').toString(), ta.toString());
  for (const [who, other, rec] of [
    ['a', 'b', recA],
    ['b', 'a', recB],
  ]) {
    assert.equal(rec.sockets.length, 1, `${who} reconnected`);
    assert.equal(rec.sent.find((m) => m.type === 'hello').version, 5);
    // What it sent, Patches rebuilt, is its keystrokes' updates, each
    // Patch shorter than the Update it stands for.
    const seqs = impliedSeqs(rec.sent);
    assert.deepEqual(seqs, Array.from({ length: edits }, (_, i) => i + 1), `${who}: seqs`);
    const sent = unpatched(rec.sent).map((x, i) => ({ ...x, seq: seqs[i] }));
    assert.deepEqual(sent.flatMap((x) => x.updates.map(toHex)), local[who], `${who}: the updates sent`);
    const patches = sent.filter((x) => x.patch);
    assert.ok(patches.length >= edits * 0.8, `${who} sent ${patches.length} of ${sent.length} as Patches`);
    for (const x of patches) {
      assert.ok(encodeMessage(x.patch).length < encodeMessage({ type: 'update', seq: x.seq, updates: x.updates }).length, `${who}: a Patch no shorter than its Update`);
    }
    // What it received, Patches rebuilt, is the other's updates, relayed
    // in order, most of them as Patches.
    const got = unpatched(rec.received);
    assert.deepEqual(got.flatMap((x) => x.updates.map(toHex)), local[other], `${who}: the updates received`);
    const relayed = got.filter((x) => x.patch).length;
    assert.ok(relayed >= 20 && relayed >= got.length / 3, `${who} received ${relayed} of ${got.length} relays as Patches`);
  }
});

/**
 * unpatched returns the Updates and Patches of messages (one connection's,
 * one way, in order) as the updates they carry, each Patch rebuilt
 * against the last update before it, with the Patch, if it was one.
 */
function unpatched(messages) {
  let base = null;
  const out = [];
  for (const m of messages) {
    if (m.type !== 'update' && m.type !== 'patch') continue;
    const updates = m.type === 'patch' ? [applyPatch(base, m)] : m.updates;
    if (updates.length > 0) base = updates[updates.length - 1];
    out.push({ updates, patch: m.type === 'patch' ? m : null });
  }
  return out;
}

test('statuses: synced once every local edit is acknowledged', async () => {
  const a = new Doc();
  const pa = connect(a, room('status'), { connect: false });
  const statuses = [];
  let synced = 0;
  pa.on('status', (st) => statuses.push(st));
  pa.on('synced', () => synced++);
  assert.equal(pa.status, 'closed');
  pa.connect();
  await pa.whenSynced();
  a.getText('t').insert(0, 'x');
  assert.equal(pa.status, 'connected', 'an edit waits for its Ack');
  await pa.whenSynced();
  assert.deepEqual(statuses, ['connecting', 'connected', 'synced', 'connected', 'synced']);
  assert.equal(synced, 2);
  pa.disconnect();
  assert.equal(pa.status, 'closed');
});

test('a late joiner gets the whole text', async () => {
  const name = room('late');
  const a = new Doc();
  const pa = connect(a, name);
  a.getText('t').insert(0, 'written before anyone else came');
  a.getMap('meta').set('title', 'Notes');
  await pa.whenSynced();
  const c = new Doc();
  const pc = connect(c, name);
  await pc.whenSynced();
  assert.equal(c.getText('t').toString(), 'written before anyone else came');
  assert.equal(c.getMap('meta').get('title'), 'Notes');
});

const restartTests = [
  { name: 'crash (SIGKILL)', down: () => ctx.server.kill() },
  { name: 'graceful stop (going away)', down: () => ctx.server.stop() },
];

test('a server restart mid-session loses nothing', async (t) => {
  for (const tt of restartTests) {
    await t.test(tt.name, async () => {
      const name = room('restart');
      const a = new Doc();
      const b = new Doc();
      const pa = connect(a, name);
      const pb = connect(b, name);
      a.getText('t').insert(0, 'A0 ');
      b.getText('t').insert(0, 'B0 ');
      await converged([
        [pa, a],
        [pb, b],
      ]);
      const errors = [];
      pa.on('error', (e) => errors.push(e));
      await tt.down();
      await waitFor(() => pa.status !== 'synced' && pb.status !== 'synced', 'both providers to notice');
      // Both keep editing while the server is down.
      a.getText('t').insert(0, 'A1 ');
      b.getText('t').insert(b.getText('t').length, 'B1 ');
      await ctx.server.restart();
      a.getText('t').insert(0, 'A2 ');
      await converged([
        [pa, a],
        [pb, b],
      ]);
      const s = a.getText('t').toString();
      for (const tok of ['A0', 'B0', 'A1', 'B1', 'A2']) assert.ok(s.includes(tok), `${tok} lost: ${s}`);
      assert.ok(errors.length > 0 && errors.every((e) => !e.permanent), 'transient errors only');
      // A late joiner after the restart sees everything too.
      const c = new Doc();
      const pc = connect(c, name);
      await pc.whenSynced();
      assert.equal(c.getText('t').toString(), s);
    });
  }
});

test('a refused connection is retried after the backoff, not the handshake timeout', async () => {
  const name = room('refused');
  await ctx.server.stop(); // nothing listens on the port now
  const a = new Doc();
  const errors = [];
  const statuses = [];
  // A provider that waited for its handshake timeout would report no
  // failure within the test's time.
  const pa = connect(a, name, { handshakeTimeout: 600_000 });
  pa.on('error', (e) => errors.push(e));
  pa.on('status', (s) => statuses.push(s));
  a.getText('t').insert(0, 'typed while the server was down');
  await waitFor(() => errors.length >= 3, `three refused attempts (${errors.length} so far)`);
  for (const e of errors) {
    assert.equal(e.code, 1006, e.message);
    assert.equal(e.permanent, false);
  }
  assert.ok(!statuses.includes('synced') && !statuses.includes('connected'), statuses.join(' '));
  await ctx.server.restart();
  await pa.whenSynced();
  const c = new Doc();
  const pc = connect(c, name);
  await pc.whenSynced();
  assert.equal(c.getText('t').toString(), 'typed while the server was down');
});

test('acknowledged edits survive a crash with nobody connected', async (t) => {
  const storage = String(ctx.server.listening.storage ?? '');
  if (storage.startsWith('in memory')) {
    t.skip(`the server keeps documents in memory (${storage})`);
    return;
  }
  const name = room('durable');
  const a = new Doc();
  const pa = connect(a, name);
  a.getText('t').insert(0, 'acknowledged means durable');
  await pa.whenSynced();
  pa.destroy();
  await ctx.server.kill();
  await ctx.server.restart();
  const c = new Doc();
  const pc = connect(c, name);
  await pc.whenSynced();
  assert.equal(c.getText('t').toString(), 'acknowledged means durable');
});

test('edits made while disconnected converge after connect', async () => {
  const name = room('offline');
  const a = new Doc();
  const b = new Doc();
  const pa = connect(a, name);
  const pb = connect(b, name);
  a.getText('t').insert(0, 'shared text');
  await converged([
    [pa, a],
    [pb, b],
  ]);
  pa.disconnect();
  assert.equal(pa.status, 'closed');
  a.getText('t').insert(0, 'offline: ');
  a.getText('t').delete(a.getText('t').length - 4, 4); // a delete alone does not move the state vector
  a.change(() => a.getText('t').insert(0, '!')); // a change() makes no update of its own
  b.getText('t').insert(b.getText('t').length, ' (b)');
  pa.connect();
  await converged([
    [pa, a],
    [pb, b],
  ]);
  assert.equal(a.getText('t').toString(), '!offline: shared  (b)');
});

test('an edit made by change(), which makes no update, reaches the server', async () => {
  const name = room('quiet');
  const a = new Doc();
  const pa = connect(a, name);
  await pa.whenSynced();
  a.change(() => a.getText('t').insert(0, 'quiet'));
  await pa.whenSynced();
  const c = new Doc();
  const pc = connect(c, name);
  await pc.whenSynced();
  assert.equal(c.getText('t').toString(), 'quiet');
});

/** helloVersion6 rewrites the version of a Hello (its third byte) to 6, which no server speaks. */
function helloVersion6(b) {
  if ((b[0] !== 0x96 && b[0] !== 0x97 && b[0] !== 0x98) || b[1] !== 0x00) return b;
  const out = b.slice();
  out[2] = 0x06;
  return out;
}

// sockets is how many connections the provider opens: after 4001 in
// answer to its version 5 Hello it tries version 4, 3, 2 and then 1, once
// each (PROTOCOL.md §11).
const permanentTests = [
  { name: 'invalid room (4002)', room: 'bad room', code: 4002, sockets: 1 },
  { name: 'unsupported version (4001)', room: 'version', code: 4001, sockets: 5, patchSend: helloVersion6 },
  { name: 'a token too long to send (1002)', room: 'token', code: 1002, sockets: 1, options: { token: 't'.repeat(8193) } },
];

test('a permanent error stops the provider', async (t) => {
  for (const tt of permanentTests) {
    await t.test(tt.name, async () => {
      const rec = recordingWebSocket({ patchSend: tt.patchSend });
      const d = new Doc();
      const p = connect(d, tt.room === 'bad room' ? tt.room : room(tt.room), { WebSocket: rec.WebSocket, ...tt.options });
      const statuses = [];
      p.on('status', (s) => statuses.push(s));
      const err = await new Promise((resolve) => p.on('error', resolve));
      assert.equal(err.code, tt.code);
      assert.equal(err.permanent, true);
      assert.equal(p.status, 'closed');
      assert.equal(p.lastError, err);
      await assert.rejects(p.whenSynced(), (e) => e === err);
      // Another client completes a whole handshake meanwhile: the
      // stopped provider must not have opened a second socket.
      const other = connect(new Doc(), room('bystander'));
      await other.whenSynced();
      assert.equal(rec.sockets.length, tt.sockets);
      assert.deepEqual(statuses, ['closed']);
    });
  }
});

test('network offline pauses and online reconnects at once', async () => {
  const network = new EventTarget();
  const name = room('network');
  const a = new Doc();
  const b = new Doc();
  const pa = connect(a, name, { network, minBackoff: 60_000, maxBackoff: 60_000 });
  const pb = connect(b, name);
  await Promise.all([pa.whenSynced(), pb.whenSynced()]);
  network.dispatchEvent(new Event('offline'));
  assert.equal(pa.status, 'offline');
  a.getText('t').insert(0, 'typed offline');
  network.dispatchEvent(new Event('online'));
  // A backoff of a minute would time the test out: online skips it.
  await converged(
    [
      [pa, a],
      [pb, b],
    ],
    'typed offline',
  );
});

test('roomURL builds the WebSocket URL of a room', () => {
  assert.equal(Provider.roomURL('http://example.com:8080/app/', 'notes'), 'ws://example.com:8080/ws/notes');
  assert.equal(Provider.roomURL('https://example.com', 'a.b~c-d_e'), 'wss://example.com/ws/a.b~c-d_e');
  assert.equal(Provider.roomURL('ws://127.0.0.1:1', 'x'), 'ws://127.0.0.1:1/ws/x');
  assert.throws(() => new Provider(new Doc(), { url: 'http://example.com/ws/x', connect: false }), TypeError);
});

test("'retry' tells the delay before the next attempt, and retryNow skips it", async () => {
  const name = room('retry');
  const doc = new Doc();
  // A long backoff, so that only retryNow can reconnect within the test.
  const p = connect(doc, name, { minBackoff: 60_000, maxBackoff: 60_000 });
  await p.whenSynced();
  const delays = [];
  p.on('retry', (d) => delays.push(d));
  p.retryNow(); // not waiting: nothing happens
  assert.equal(p.status, 'synced');
  await ctx.server.kill();
  await waitFor(() => delays.length === 1, "a 'retry' event");
  assert.ok(delays[0] >= 30_000 && delays[0] < 90_000, `delay ${delays[0]}`);
  assert.equal(p.status, 'offline');
  await ctx.server.restart();
  p.retryNow();
  assert.equal(p.status, 'connecting');
  await p.whenSynced();
});
