// Randomized convergence: several replicas make random edits (text and
// map, single and batched, with emoji and other multi-unit characters);
// their updates arrive in random order, duplicated, or not at all while a
// replica is disconnected, which then resyncs by state vector diffs. At
// the end every replica, and a replica rebuilt from all stored updates in
// random order, must hold the same document, byte for byte, and each
// replica's observed deltas must rebuild its text.
//
// The seed is printed; rerun one with CRDT_SEED=<seed> npm test; hunt
// longer with CRDT_RUNS=<runs>.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Doc, toHex } from '../src/index.js';
import { Rand, runs as runCount, state } from './helpers.js';

const ALPHABET = ['a', 'b', 'c', 'x', ' ', '\n', 'é', '中', '😀', '👍🏽', 'e\u0301', '\u200d', '𝄞'];

/** applyDelta applies a UTF-16 delta to s. */
function applyDelta(s, delta) {
  let out = '';
  let pos = 0;
  for (const op of delta) {
    if ('retain' in op) {
      out += s.slice(pos, pos + op.retain);
      pos += op.retain;
    } else if ('delete' in op) pos += op.delete;
    else out += op.insert;
  }
  return out + s.slice(pos);
}

function randomString(rng) {
  let s = '';
  const n = 1 + rng.intn(rng.intn(4) === 0 ? 12 : 3);
  for (let i = 0; i < n; i++) s += ALPHABET[rng.intn(ALPHABET.length)];
  return s;
}

/** randomEdit makes one random local edit on d. */
function randomEdit(rng, d) {
  const texts = ['body', 'title'];
  const t = d.getText(texts[rng.intn(rng.intn(5) === 0 ? 2 : 1)]);
  const k = rng.intn(10);
  if (k < 5 || t.length === 0) {
    t.insert(rng.intn(t.length + 1), randomString(rng));
  } else if (k < 8) {
    const at = rng.intn(t.length);
    t.delete(at, 1 + rng.intn(Math.min(t.length - at, 6)));
  } else if (k < 9) {
    d.getMap('meta').set(`k${rng.intn(4)}`, rng.intn(3) === 0 ? { n: rng.intn(100), s: randomString(rng) } : rng.intn(1000));
  } else {
    d.getMap('meta').delete(`k${rng.intn(4)}`);
  }
}

function runSimulation(seed, { replicas = 4, steps = 250 } = {}) {
  const rng = new Rand(seed);
  // Client IDs of every msgpack width, including the largest.
  const ids = rng.shuffle([1, 200, 70000, 2 ** 53 - 1, 5e9, 31]).slice(0, replicas);
  const docs = ids.map((clientID) => new Doc({ clientID }));
  const shadows = docs.map(() => ({ body: '', title: '' }));
  docs.forEach((d, i) => {
    for (const name of ['body', 'title']) {
      d.getText(name).observe((ev) => {
        shadows[i][name] = applyDelta(shadows[i][name], ev.delta);
      });
    }
  });
  const stored = []; // every update ever made, as a server would store them
  const inbox = docs.map(() => []);
  const offline = docs.map(() => false);
  const broadcast = (from, u) => {
    if (u === null) return;
    stored.push(u);
    docs.forEach((_, j) => {
      if (j !== from && !offline[j]) inbox[j].push(u);
    });
  };
  const resync = (i, j) => {
    // State vector exchange, as in the sync handshake.
    docs[i].apply(docs[j].diff(docs[i].stateVector()));
    docs[j].apply(docs[i].diff(docs[j].stateVector()));
  };

  for (let step = 0; step < steps; step++) {
    const i = rng.intn(docs.length);
    const d = docs[i];
    const r = rng.intn(20);
    if (r < 9) {
      // A single edit, its update sent (or lost while offline).
      let u = null;
      u = d.transact(() => randomEdit(rng, d));
      if (!offline[i]) broadcast(i, u);
      else if (u) stored.push(u);
    } else if (r < 11) {
      // A batch.
      const u = d.transact(() => {
        for (let k = 1 + rng.intn(4); k > 0; k--) randomEdit(rng, d);
      });
      if (!offline[i]) broadcast(i, u);
      else if (u) stored.push(u);
    } else if (r < 17) {
      // Deliver a random message, sometimes keeping a duplicate.
      const box = inbox[i];
      if (box.length > 0) {
        const k = rng.intn(box.length);
        const u = box[k];
        if (rng.intn(4) !== 0) box.splice(k, 1);
        d.apply(u);
      }
    } else if (r < 18) {
      offline[i] = !offline[i];
      if (!offline[i]) {
        // Back online: resync with a random peer by state vectors.
        resync(i, (i + 1 + rng.intn(docs.length - 1)) % docs.length);
      }
    } else {
      const j = rng.intn(docs.length);
      if (j !== i && !offline[i] && !offline[j]) resync(i, j);
    }
  }

  // Quiesce: everyone online, deliver everything left in random order,
  // then resync all pairs.
  offline.fill(false);
  docs.forEach((d, i) => {
    for (const u of rng.shuffle(inbox[i])) d.apply(u);
  });
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < docs.length; i++) for (let j = i + 1; j < docs.length; j++) resync(i, j);
  }
  const want = state(docs[0]);
  assert.equal(want.pending, false, `seed ${seed}: pending left`);
  docs.forEach((d, i) => {
    assert.deepEqual(state(d), want, `seed ${seed}: replica ${i} differs from replica 0`);
    for (const name of ['body', 'title']) {
      assert.equal(shadows[i][name], d.getText(name).toString(), `seed ${seed}: replica ${i}'s deltas do not rebuild ${name}`);
    }
  });
  // A replica rebuilt from the stored updates, in random order.
  const rebuilt = new Doc({ clientID: 999 });
  for (const u of rng.shuffle([...stored])) rebuilt.apply(u);
  // Stored updates miss nothing: offline edits were stored too.
  assert.deepEqual(state(rebuilt), want, `seed ${seed}: rebuilt replica differs`);
  // Applying everything again changes nothing (idempotence).
  for (const u of stored) rebuilt.apply(u);
  assert.equal(toHex(rebuilt.snapshot()), want.snapshot, `seed ${seed}: not idempotent`);
  // And a snapshot loads into the same document.
  const loaded = new Doc({ clientID: 1000 });
  loaded.apply(fromSnapshot(want.snapshot));
  assert.deepEqual(state(loaded), want, `seed ${seed}: loaded snapshot differs`);
}

function fromSnapshot(hex) {
  return Uint8Array.from(hex.match(/../g).map((h) => parseInt(h, 16)));
}

test('random replicas converge', (t) => {
  const base = process.env.CRDT_SEED ? Number(process.env.CRDT_SEED) : Date.now() % 1e9;
  const runs = runCount(process.env.CRDT_SEED ? 1 : 24);
  t.diagnostic(`seeds ${base}..${base + runs - 1} (rerun one with CRDT_SEED=<seed>)`);
  console.log(`convergence: seeds ${base}..${base + runs - 1} (rerun one with CRDT_SEED=<seed> npm test)`);
  for (let k = 0; k < runs; k++) runSimulation(base + k, { replicas: 3 + (k % 3), steps: 150 + (k % 4) * 100 });
});
