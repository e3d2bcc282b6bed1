// The Patch of protocol version 5 (PROTOCOL.md §4.8): makePatch keeps the
// longest common prefix, then the longest common suffix of what is left,
// and nothing shorter is possible; applyPatch undoes it and refuses what
// does not fit; patchSmaller counts bytes exactly as the encodings do. The
// vectors of protocol/testdata/vectors.json are replayed in
// protocol.test.js. Then the Provider against stand-in servers on real
// sockets, for what the real server cannot be made to do: send a Patch
// that does not fit, or one on a version 4 connection. The Provider
// against the real server is in provider.test.js.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocketServer } from 'ws';
import { Code, Doc, Provider, applyPatch, decodeMessage, encodeMessage, encodeStateVector, makePatch, patchBase, patchSmaller, toHex } from '../src/index.js';
import { Rand, runs } from './helpers.js';
import { TestWebSocket, impliedSeqs, waitFor } from './harness.js';

const bytes = (s) => new TextEncoder().encode(s);
const text = (b) => new TextDecoder().decode(b);

test('makePatch: the prefix first, then the suffix of what is left', () => {
  const cases = [
    // [base, update, keepFront, keepBack, middle]
    ['', '', 0, 0, ''],
    ['', 'abc', 0, 0, 'abc'],
    ['abc', '', 0, 0, ''],
    ['abc', 'abc', 3, 0, ''],
    ['abc', 'abcd', 3, 0, 'd'],
    ['abc', 'xabc', 0, 3, 'x'],
    ['abcd', 'abc', 3, 0, ''],
    ['abcd', 'bcd', 0, 3, ''],
    ['abcde', 'abXde', 2, 2, 'X'],
    ['abcde', 'abde', 2, 2, ''],
    ['abde', 'abcde', 2, 2, 'c'],
    ['aa', 'aaa', 2, 0, 'a'],
    ['aaa', 'aa', 2, 0, ''],
    ['abab', 'ab', 2, 0, ''],
    ['abcabc', 'abc', 3, 0, ''],
    ['xbc', 'ybc', 0, 2, 'y'],
    ['abc', 'xyz', 0, 0, 'xyz'],
    ['a1b', 'a22b', 1, 1, '22'],
  ];
  for (const [base, update, front, back, middle] of cases) {
    const p = makePatch(bytes(base), bytes(update));
    assert.deepEqual([p.type, p.keepFront, p.keepBack, text(p.middle), p.seq], ['patch', front, back, middle, 0], `${base} → ${update}`);
    assert.equal(text(applyPatch(bytes(base), p)), update, `${base} → ${update}: applied`);
  }
});

/** keptAtMost returns the most bytes any patch of base into update can keep, by trying every split. */
function keptAtMost(base, update) {
  let best = 0;
  const n = Math.min(base.length, update.length);
  for (let f = 0; f <= n && (f === 0 || base[f - 1] === update[f - 1]); f++) {
    for (let b = 0; f + b <= n && (b === 0 || base[base.length - b] === update[update.length - b]); b++) best = Math.max(best, f + b);
  }
  return best;
}

/** randomBytes returns n bytes drawn from the first k byte values, so that runs and repeats are common. */
function randomBytes(rng, n, k) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rng.intn(k);
  return b;
}

/** edit returns base with a random stretch replaced by random bytes, as an edit of a document does to its update. */
function edit(rng, base, k) {
  const at = rng.intn(base.length + 1);
  const cut = rng.intn(base.length - at + 1);
  const put = randomBytes(rng, rng.intn(6), k);
  const out = new Uint8Array(base.length - cut + put.length);
  out.set(base.subarray(0, at));
  out.set(put, at);
  out.set(base.subarray(at + cut), at + put.length);
  return out;
}

test('randomized: applyPatch(base, makePatch(base, update)) is update, and the patch keeps all it can', () => {
  const rng = new Rand(0x7a7c4);
  for (let i = 0; i < runs(3000); i++) {
    const k = [1, 2, 4, 256][rng.intn(4)];
    const base = randomBytes(rng, rng.intn(40), k);
    const update = rng.intn(3) === 0 ? randomBytes(rng, rng.intn(40), k) : edit(rng, base, k);
    const what = `${toHex(base)} → ${toHex(update)}`;
    const p = makePatch(base, update);
    assert.equal(toHex(applyPatch(base, p)), toHex(update), what);
    assert.equal(toHex(applyPatch(base, decodeMessage(encodeMessage(p)), update.length)), toHex(update), `${what}: over the wire`);
    assert.equal(p.keepFront + p.keepBack, keptAtMost(base, update), `${what}: the patch is longer than needed`);
    assert.equal(p.middle.length, update.length - p.keepFront - p.keepBack, what);
    // The prefix comes first: it is the whole common prefix, as far as the shorter goes.
    const n = Math.min(base.length, update.length);
    assert.ok(p.keepFront === n || base[p.keepFront] !== update[p.keepFront], `${what}: not the longest prefix`);
  }
});

test('applyPatch: the limit, new memory, and what does not fit', () => {
  const base = bytes('abcdef');
  const p = { keepFront: 2, keepBack: 2, middle: bytes('XY') };
  assert.equal(text(applyPatch(base, p)), 'abXYef');
  assert.equal(text(applyPatch(base, p, 6)), 'abXYef', 'a limit of exactly its length');
  assert.equal(text(applyPatch(base, p, -1)), 'abXYef', 'no limit');
  assert.throws(() => applyPatch(base, p, 5), /over the 5-byte limit/);
  assert.equal(applyPatch(base, { keepFront: 0, keepBack: 0, middle: new Uint8Array(0) }, 0).length, 0);
  assert.equal(text(applyPatch(base, { keepFront: 6, keepBack: 0, middle: new Uint8Array(0) })), 'abcdef', 'the whole base');
  assert.equal(text(applyPatch(base, { keepFront: 0, keepBack: 6, middle: new Uint8Array(0) })), 'abcdef', 'the whole base from the back');
  // The update is new memory: the base and the middle may be reused.
  const u = applyPatch(base, p);
  base[0] = 0x7a;
  p.middle[0] = 0x7a;
  assert.equal(text(u), 'abXYef');
  const bad = [
    [null, { keepFront: 0, keepBack: 0, middle: bytes('x') }, /no base/],
    [undefined, { keepFront: 0, keepBack: 0, middle: bytes('x') }, /no base/],
    [bytes('abc'), { keepFront: 4, keepBack: 0, middle: new Uint8Array(0) }, /keeps 4 and 0 bytes of a 3-byte base/],
    [bytes('abc'), { keepFront: 0, keepBack: 4, middle: new Uint8Array(0) }, /keeps 0 and 4/],
    [bytes('abc'), { keepFront: 2, keepBack: 2, middle: new Uint8Array(0) }, /keeps 2 and 2/],
    [bytes('abc'), { keepFront: 2 ** 32 - 1, keepBack: 2 ** 32 - 1, middle: new Uint8Array(0) }, /keeps/],
    [bytes('abc'), { keepFront: -1, keepBack: 1, middle: new Uint8Array(0) }, /keeps -1/],
    [bytes('abc'), { keepFront: NaN, keepBack: 0, middle: new Uint8Array(0) }, /keeps NaN/],
    [new Uint8Array(0), { keepFront: 1, keepBack: 0, middle: new Uint8Array(0) }, /of a 0-byte base/],
  ];
  for (const [b, q, re] of bad) assert.throws(() => applyPatch(b, q, -1), (e) => e instanceof RangeError && re.test(e.message), `${re}`);
});

test('patchSmaller counts the bytes of both encodings exactly, across every header width', () => {
  // Values on both sides of each msgpack width: fixint, uint8, uint16,
  // uint32, uint64 for integers; bin8, bin16, bin32 for lengths.
  const ints = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1];
  const seqs = [...ints, 2 ** 32, 2 ** 53 - 1];
  const lens = [0, 1, 100, 255, 256, 300, 65535, 65536];
  const buf = new Uint8Array(65536 + 300);
  const rng = new Rand(5);
  let checked = 0;
  for (let i = 0; i < 4000; i++) {
    const m = lens[rng.intn(lens.length)];
    const n = rng.intn(2) === 0 ? lens[rng.intn(lens.length)] : m + rng.intn(20);
    const seq = seqs[rng.intn(seqs.length)];
    const p = { type: 'patch', keepFront: ints[rng.intn(ints.length)], keepBack: ints[rng.intn(ints.length)], middle: buf.subarray(0, m), seq };
    const patchLen = encodeMessage(p).length;
    const updateLen = encodeMessage({ type: 'update', seq, updates: [buf.subarray(0, n)] }).length;
    // From the server, the Patch carries the seq of the Update it stands for.
    assert.equal(patchSmaller(p, n, seq), patchLen < updateLen, `middle ${m}, update ${n}, keeps ${p.keepFront}/${p.keepBack}, seq ${seq}`);
    // From a client, it carries none, and stands for the Update of the
    // client's next seq.
    const plain = { ...p, seq: 0 };
    assert.equal(patchSmaller(plain, n, seq), encodeMessage(plain).length < updateLen, `client: middle ${m}, update ${n}, seq ${seq}`);
    checked++;
  }
  assert.equal(checked, 4000);
  // The keystroke of the vectors: 15 bytes against 33.
  const p = { type: 'patch', keepFront: 17, keepBack: 1, middle: new Uint8Array(9), seq: 0 };
  assert.equal(patchSmaller(p, 27, 2), true);
  // A patch that keeps nothing costs more than its update.
  assert.equal(patchSmaller(makePatch(bytes('xyz'), bytes('abc')), 3, 1), false);
});

test('patch messages: the fifth element is a seq above 0, keeps are uint32, the middle a bin', () => {
  const p = { type: 'patch', keepFront: 300, keepBack: 2 ** 32 - 1, middle: bytes('hi'), seq: 0 };
  assert.equal(toHex(encodeMessage(p)), '9407cd012cceffffffffc4026869');
  assert.deepEqual(decodeMessage(encodeMessage(p)), p);
  const q = { ...p, seq: 70000 };
  assert.equal(toHex(encodeMessage(q)), '9507cd012cceffffffffc4026869ce00011170');
  assert.deepEqual(decodeMessage(encodeMessage(q)), q);
  // A seq past 2^53 − 1 decodes exactly, as a BigInt, as an Update's does.
  assert.equal(decodeMessage(Uint8Array.from([0x95, 0x07, 0x00, 0x00, 0xc4, 0x00, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])).seq, 2n ** 64n - 1n);
  for (const hex of [
    '9507000000c40001', // the middle a uint, not a bin
    '9507cf0000000100000000c400', // keep_back missing: keep_front 2^32 is refused first
    '95070000c40000', // seq 0 written
    '950700a0c40001', // keep_back a str
    '94070000c0', // middle nil
    '94070000c400ff', // a byte after the message
  ]) {
    assert.throws(() => decodeMessage(Uint8Array.from(Buffer.from(hex, 'hex'))), (e) => e.name === 'ProtocolError' && e.code === Code.PROTOCOL_ERROR, hex);
  }
});

// ---------------------------------------------------------------------------
// The Provider against stand-in servers

/**
 * standIn runs a server of version 5 (or of maxVersion, refusing later
 * Hellos with 4001, and a Patch below version 5 with 4000 as an older
 * server cannot decode it) on a real socket, for one room. It applies what
 * the provider sends, Updates and Patches, to its own Doc, tracking the
 * provider's seqs and Patch base as PROTOCOL.md §4.8 says, and, unless
 * acks is false, acknowledges each message with an Ack. It records, per
 * connection, what it received, with the seq each message stands for.
 */
async function standIn({ maxVersion = 5, acks = true } = {}) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.on('listening', resolve));
  const doc = new Doc({ clientID: 424242 });
  const conns = [];
  wss.on('connection', (ws) => {
    const conn = { ws, version: 0, seq: 0, base: null, received: [], closed: null };
    conns.push(conn);
    const refuse = (code, message) => {
      ws.send(encodeMessage({ type: 'error', code, message, seq: 0 }));
      ws.close(code, message);
    };
    ws.on('close', (code) => (conn.closed = code));
    ws.on('message', (data) => {
      const m = decodeMessage(new Uint8Array(data));
      conn.received.push(m);
      if (m.type === 'hello') {
        conn.version = m.version;
        if (m.version > maxVersion) return refuse(Code.UNSUPPORTED_VERSION, 'unsupported version');
        ws.send(encodeMessage({ type: 'welcome', stateVector: encodeStateVector(doc.stateVector()), update: doc.diff(new Map()) }));
        return;
      }
      if (m.type !== 'update' && m.type !== 'patch') return;
      if (m.type === 'patch' && conn.version < 5) return refuse(Code.UNKNOWN_TYPE, 'unknown message type 7');
      let updates = m.updates;
      if (m.type === 'patch') {
        assert.equal(m.seq, 0, "a client's patch has no seq");
        m.standsFor = conn.seq + 1;
        updates = [applyPatch(conn.base, m, -1)];
      } else {
        assert.ok(m.seq > conn.seq, `seq ${m.seq} after ${conn.seq}`);
        m.standsFor = m.seq;
      }
      conn.seq = m.standsFor;
      if (updates.length > 0) conn.base = updates[updates.length - 1];
      for (const u of updates) doc.apply(u);
      if (acks) ws.send(encodeMessage({ type: 'ack', seq: conn.seq }));
    });
  });
  return {
    url: `ws://127.0.0.1:${wss.address().port}`,
    doc,
    conns,
    /** send sends m to conn. */
    send(conn, m) {
      conn.ws.send(encodeMessage(m));
    },
    close() {
      for (const ws of wss.clients) ws.terminate();
      return new Promise((resolve) => wss.close(resolve));
    },
  };
}

/**
 * withProvider starts a stand-in server with options, connects a provider
 * of doc to it, and once it is synced runs fn with both; it closes them
 * whatever fn does.
 */
async function withProvider(options, fn, doc = new Doc()) {
  const server = await standIn(options);
  const p = provide(server, doc);
  try {
    await p.whenSynced();
    await fn({ server, doc, p });
  } finally {
    p.destroy();
    await server.close();
  }
}

/** provide makes a Provider of doc for a stand-in server, with fast backoff. */
function provide(server, doc, options = {}) {
  return new Provider(doc, { url: Provider.roomURL(server.url, 'patches'), network: null, WebSocket: TestWebSocket(), minBackoff: 10, maxBackoff: 50, ...options });
}

test('a version 5 provider sends keystrokes as Patches, each taking the next seq, and they are acknowledged by it', async () => {
  const doc = new Doc();
  doc.getText('t').insert(0, 'typed offline'); // the catch-up Update: the first base
  await withProvider({}, async ({ server, p }) => {
    const t = doc.getText('t');
    for (let i = 0; i < 40; i++) t.insert(i % 3 === 0 ? t.length : 5, String.fromCharCode(97 + (i % 26)));
    t.delete(0, 6);
    await waitFor(() => p.status === 'synced' && p.unsyncedCount === 0, `synced, got ${p.status} with ${p.unsyncedCount} unsynced`);
    assert.equal(server.doc.getText('t').toString(), t.toString());
    const carried = server.conns[0].received.filter((m) => m.type === 'update' || m.type === 'patch');
    assert.deepEqual(carried.map((m) => m.standsFor), Array.from({ length: 42 }, (_, i) => i + 1));
    assert.deepEqual(impliedSeqs(carried), carried.map((m) => m.standsFor));
    assert.equal(carried[0].type, 'update', 'the first has no base');
    const patches = carried.filter((m) => m.type === 'patch').length;
    assert.ok(patches >= 35, `${patches} of 42 went as Patches`);
    assert.equal(server.conns.length, 1);
  }, doc);
});

test('an update longer than 4096 bytes is no base: the keystroke after a paste goes whole, the next as a Patch', async () => {
  await withProvider({}, async ({ server, doc, p }) => {
    const t = doc.getText('t');
    t.insert(0, 'x'.repeat(5000));
    for (const c of 'abc') t.insert(t.length, c);
    await waitFor(() => p.status === 'synced' && p.unsyncedCount === 0, `synced, got ${p.status}`);
    assert.equal(server.doc.getText('t').toString(), t.toString());
    const carried = server.conns[0].received.filter((m) => m.type === 'update' || m.type === 'patch');
    assert.deepEqual(
      carried.map((m) => m.type),
      ['update', 'update', 'patch', 'patch'],
    );
    assert.equal(patchBase(new Uint8Array(4096)).length, 4096);
    assert.equal(patchBase(new Uint8Array(4097)), null);
  });
});

/** keystrokes returns the updates of a doc of client 7 typing s one character at a time. */
function keystrokes(s) {
  const d = new Doc({ clientID: 7 });
  return [...s].map((c, i) => d.getText('t').insert(i, c));
}

test('a version 5 provider rebuilds Patches from the server against the last update received, and takes their seq as an Ack', async () => {
  await withProvider({ acks: false }, async ({ server, doc, p }) => {
    const conn = server.conns[0];
    const ups = keystrokes('hello');
    server.send(conn, { type: 'update', seq: 0, updates: [ups[0]] });
    let base = ups[0];
    for (const u of ups.slice(1)) {
      // An Update of no updates leaves the base as it was.
      server.send(conn, { type: 'update', seq: 0, updates: [] });
      server.send(conn, makePatch(base, u));
      base = u;
    }
    await waitFor(() => doc.getText('t').toString() === 'hello', `"hello", got ${JSON.stringify(doc.getText('t').toString())}`);
    // A Patch's seq acknowledges, as a relayed Update's does: this
    // stand-in sends no Ack.
    doc.getText('t').insert(5, '!');
    assert.equal(p.status, 'connected');
    await waitFor(() => conn.seq === 1, 'the edit at the stand-in');
    const more = keystrokes('hello?');
    server.send(conn, { ...makePatch(base, more[5]), seq: 1 });
    await waitFor(() => p.status === 'synced' && p.unsyncedCount === 0, `synced, got ${p.status}`);
    await waitFor(() => doc.getText('t').toString().length === 7, 'the last patch applied');
    assert.equal(server.conns.length, 1, 'no reconnection');
  });
});

test('a Patch that does not fit, comes with no base, or on a version 4 connection ends the connection as a protocol error', async (t) => {
  const ups = keystrokes('abc');
  const cases = [
    // [name, maxVersion, messages after the Welcome]
    ['no base: the Welcome is none', 5, [makePatch(new Uint8Array(0), ups[0])]],
    ['keeps more than the base holds', 5, [{ type: 'update', seq: 0, updates: [ups[0]] }, { ...makePatch(ups[0], ups[1]), keepBack: ups[0].length }]],
    ['after an Update of no updates only', 5, [{ type: 'update', seq: 0, updates: [] }, makePatch(new Uint8Array(0), ups[0])]],
    ['on a version 4 connection', 4, [{ type: 'update', seq: 0, updates: [ups[0]] }, makePatch(ups[0], ups[1])]],
  ];
  // An update longer than 4096 bytes is no base (PROTOCOL.md §4.8): a
  // Patch against it is one with no base.
  const paste = new Doc({ clientID: 8 }).getText('t').insert(0, 'p'.repeat(5000));
  const [next] = keystrokes('q');
  cases.push(['no base: a long update is none', 5, [{ type: 'update', seq: 0, updates: [paste] }, makePatch(paste, next)]]);
  for (const [name, maxVersion, messages] of cases) {
    await t.test(name, async () => {
      await withProvider({ maxVersion }, async ({ server, doc, p }) => {
        const errors = [];
        p.on('error', (e) => errors.push(e));
        const conn = server.conns.at(-1);
        assert.equal(conn.version, maxVersion);
        for (const m of messages) server.send(conn, m);
        await waitFor(() => errors.length > 0, 'an error');
        assert.equal(errors[0].code, Code.PROTOCOL_ERROR);
        assert.equal(errors[0].permanent, false);
        assert.match(errors[0].message, /bad patch from the server/);
        await waitFor(() => conn.closed !== null, 'the connection closed');
        // What came before the bad Patch is applied, the Patch is not,
        // and the provider comes back.
        const before = messages[0].type === 'update' ? messages[0].updates.length : 0;
        if (name.includes('long')) assert.equal(doc.getText('t').length, 5000);
        else assert.equal(doc.getText('t').toString(), 'abc'.slice(0, before));
        await waitFor(() => server.conns.length > (maxVersion === 4 ? 2 : 1) && p.status === 'synced', 'reconnected');
        assert.equal(server.conns.at(-1).version, maxVersion, 'the provider keeps to the version accepted');
      });
    });
  }
});

test('the bases are per connection: a new connection starts with none either way', async () => {
  await withProvider({}, async ({ server, doc, p }) => {
    const t = doc.getText('t');
    for (let i = 0; i < 5; i++) t.insert(i, 'a');
    await waitFor(() => p.status === 'synced', 'synced');
    const ups = keystrokes('xy');
    // The stand-in holds what it relays, so the next connection has nothing to catch up.
    server.doc.apply(ups[0]);
    server.send(server.conns[0], { type: 'update', seq: 0, updates: [ups[0]] });
    await waitFor(() => t.toString().includes('x'), 'x');
    server.conns[0].ws.terminate();
    await waitFor(() => server.conns.length === 2 && p.status === 'synced', 'reconnected');
    for (let i = 0; i < 5; i++) t.insert(0, 'b');
    await waitFor(() => p.status === 'synced' && p.unsyncedCount === 0, 'synced again');
    const second = server.conns[1].received.filter((m) => m.type === 'update' || m.type === 'patch');
    assert.equal(second[0].type, 'update', 'the first message of a connection is an Update');
    assert.deepEqual(second.map((m) => m.standsFor), [1, 2, 3, 4, 5]);
    assert.equal(server.doc.getText('t').toString(), t.toString());
    // The receive base went with the old connection: a Patch against it
    // is one with no base.
    const errors = [];
    p.on('error', (e) => errors.push(e));
    server.send(server.conns[1], makePatch(ups[0], ups[1]));
    await waitFor(() => errors.length === 1, 'an error');
    assert.equal(errors[0].code, Code.PROTOCOL_ERROR);
    assert.match(errors[0].message, /no base/);
    assert.equal(t.toString().includes('y'), false);
  });
});
