// Mixed random sessions: what the other random tests do one at a time,
// together. 2–4 replicas make rich edits (applyDelta with attributes,
// format, setBlock, embeds, plain inserts and deletes, map sets), undo and
// redo them, reload from their own snapshot mid-session and keep editing
// under the same client ID, and receive updates out of order, twice, or
// before the updates they depend on (a delete before its insert), and
// corrupted updates, which must be refused whole. After every step the
// acting replica's events, replayed on a model, must give its toDelta, and
// its client index must be consistent; at the end every replica, one
// rebuilt from every update in random order and one loading a snapshot
// hold the same bytes. Leaves are sometimes made tiny, so that the cached
// open marks of many leaves come into play.
//
// The seed is printed; rerun one with CRDT_SEED=<seed>, hunt longer with
// CRDT_RUNS=<sessions>.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Doc, DecodeError, InvalidUpdateError, UndoManager, toHex } from '../src/index.js';
import '../src/richdelta.js';
import { setFanout } from '../src/text.js';
import { Rand, checkClients, randomRichDelta, replayDelta as replay, runs, sorted } from './helpers.js';

const CLIENTS = [7, 300, 70000, 2 ** 32 + 5, 2 ** 53 - 1];
const KEYS = ['bold', 'italic', 'link', 'header', 'list'];
const VALUES = [true, 'a', 2];
const PIECES = ['a', 'b', 'z', ' ', '\n', 'é', 'ab', 'xyz', '😀', '👍🏽', '\n\n'];

/** normal makes a delta comparable: JSON values, attributes in key order, adjacent equal strings merged. */
function normal(delta) {
  const ops = [];
  for (const op of delta) {
    const a = JSON.stringify(sorted(op.attributes));
    const last = ops[ops.length - 1];
    if (typeof op.insert === 'string' && last !== undefined && typeof last.insert === 'string' && last.a === a) last.insert += op.insert;
    else ops.push({ insert: op.insert, a });
  }
  return JSON.parse(JSON.stringify(ops));
}

/** modelDelta turns a model into a delta. */
function modelDelta(m) {
  return normal(m.map((c) => (c.attrs === undefined ? { insert: c.ins } : { insert: c.ins, attributes: c.attrs })));
}

/** digest summarises a replica for comparisons. */
function digest(d) {
  return {
    delta: normal(d.getText('t').toDelta()),
    map: Object.fromEntries(d.getMap('m').keys().sort().map((k) => [k, toHex(d.getMap('m').getRaw(k))])),
    pending: d.hasPending(),
    snapshot: toHex(d.snapshot()),
  };
}

/** Replica is one replica of a session: its Doc, event model and undo manager. */
class Replica {
  constructor(doc) {
    this.doc = doc;
    this.model = replay([], doc.getText('t').toDelta());
    doc.getText('t').observe((e) => {
      this.model = replay(this.model, e.delta);
    });
    this.undo = new UndoManager(doc.getText('t'), { captureTimeout: -1 });
    this.inbox = [];
  }
}

/** session runs one random session and checks it; what names it in messages. */
function session(rnd, what) {
  const n = 2 + rnd.intn(3);
  const ids = rnd.shuffle([...CLIENTS]).slice(0, n);
  const reps = ids.map((clientID) => new Replica(new Doc({ clientID })));
  const stored = [];
  const send = (from, u) => {
    if (u === null) return;
    stored.push(u);
    reps.forEach((r, j) => {
      if (j !== from) r.inbox.push(u);
    });
  };
  const check = (i, after) => {
    const r = reps[i];
    assert.deepEqual(modelDelta(r.model), normal(r.doc.getText('t').toDelta()), `${what}: replica ${i}'s events after ${after}`);
    checkClients(r.doc, `${what}: replica ${i} after ${after}`);
  };
  const attrs = (nullOK) => {
    let a;
    for (const k of KEYS) {
      const r = rnd.intn(7);
      if (r === 0) (a ??= {})[k] = VALUES[rnd.intn(VALUES.length)];
      else if (r === 1 && nullOK) (a ??= {})[k] = null;
    }
    return a;
  };
  const randomDelta = (len) => randomRichDelta(rnd, len, PIECES, attrs);
  // A position not inside a surrogate pair.
  const at = (x, n) => {
    const s = x.toString();
    let p = rnd.intn(n);
    if (p > 0 && p < s.length && s.charCodeAt(p) >= 0xdc00 && s.charCodeAt(p) <= 0xdfff) p--;
    return p;
  };
  const localEdit = (d) => {
    const x = d.getText('t');
    const r = rnd.intn(9);
    if (r <= 2) {
      // applyDelta counts UTF-16 units; a retain or delete may end inside
      // a pair, which it refuses with a RangeError.
      try {
        x.applyDelta(randomDelta(x.length));
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
      }
    } else if (r === 3 && x.length > 0) {
      const pos = at(x, x.length);
      try {
        x.format(pos, 1 + rnd.intn(x.length - pos), KEYS[rnd.intn(3)], rnd.intn(4) === 0 ? null : VALUES[rnd.intn(2)]);
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
      }
    } else if (r === 4 && x.length > 0) {
      try {
        x.setBlock(at(x, x.length), KEYS[3 + rnd.intn(2)], rnd.intn(3) === 0 ? null : 1);
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
      }
    } else if (r === 5 && x.length > 0) {
      const pos = at(x, x.length);
      try {
        x.delete(pos, 1 + rnd.intn(Math.min(x.length - pos, 5)));
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
      }
    } else if (r === 6) {
      d.getMap('m').set(`k${rnd.intn(3)}`, rnd.intn(3) === 0 ? { n: rnd.intn(9) } : rnd.intn(100));
    } else if (r === 7) {
      x.insertEmbed(at(x, x.length + 1), { img: rnd.intn(3) });
    } else {
      x.insert(at(x, x.length + 1), PIECES[rnd.intn(PIECES.length)]);
    }
  };

  if (rnd.intn(3) === 0) {
    // A long run every replica has, which the session's edits split into
    // a long chain of pieces of one client (item.js find and promote).
    const u = reps[0].doc.getText('t').insert(0, 'abcdefghij'.repeat(20 + rnd.intn(60)));
    send(0, u);
    reps.forEach((r, i) => {
      if (i > 0 && rnd.intn(2) === 0) {
        r.doc.apply(r.inbox.pop());
        check(i, 'the long run');
      }
    });
  }
  for (let step = 0, steps = 30 + rnd.intn(60); step < steps; step++) {
    const i = rnd.intn(n);
    const r = reps[i];
    const d = r.doc;
    const action = rnd.intn(20);
    if (action < 6) {
      // Deliver a random update, sometimes keeping it for a duplicate.
      if (r.inbox.length === 0) continue;
      const k = rnd.intn(r.inbox.length);
      d.apply(r.inbox[k]);
      if (rnd.intn(3) !== 0) r.inbox.splice(k, 1);
      check(i, 'an update');
    } else if (action < 7) {
      // Deliver the newest update first: its deletes may come before
      // the inserts they delete.
      if (r.inbox.length === 0) continue;
      d.apply(r.inbox.pop());
      check(i, 'the newest update');
    } else if (action < 8) {
      d.apply(reps[rnd.intn(n)].doc.diff(d.stateVector()));
      check(i, 'a diff');
    } else if (action < 10) {
      const updates = [];
      const off = d.onLocalUpdate((u) => updates.push(u));
      if (rnd.intn(2) === 0) r.undo.undo();
      else r.undo.redo();
      off();
      check(i, 'an undo or redo');
      for (const u of updates) send(i, u);
    } else if (action < 11) {
      // Reload from the replica's own snapshot and go on under its ID.
      const e = new Doc({ clientID: 1 });
      e.apply(d.snapshot());
      e.resumeClientID(d.clientID);
      r.undo.destroy();
      const fresh = new Replica(e);
      fresh.inbox = r.inbox;
      reps[i] = fresh;
      check(i, 'a reload');
      assert.equal(toHex(e.snapshot()), toHex(d.snapshot()), `${what}: replica ${i} reloaded`);
    } else if (action < 12) {
      // A corrupted update, which a fresh Doc refuses as malformed, must
      // be refused here too, changing nothing.
      if (stored.length === 0) continue;
      const bad = stored[rnd.intn(stored.length)].slice();
      if (rnd.intn(3) === 0) bad[rnd.intn(bad.length)] = rnd.intn(256);
      else if (rnd.intn(2) === 0) bad[rnd.intn(bad.length)] ^= 1 << rnd.intn(8);
      const cut = rnd.intn(2) === 0 ? bad.subarray(0, rnd.intn(bad.length)) : bad;
      try {
        new Doc({ clientID: 5 }).apply(cut);
        continue;
      } catch (e) {
        if (!(e instanceof DecodeError)) continue;
      }
      const before = digest(d);
      assert.throws(() => d.apply(cut), (e) => e instanceof DecodeError || e instanceof InvalidUpdateError, `${what}: replica ${i} took a malformed update`);
      assert.deepEqual(digest(d), before, `${what}: replica ${i} changed by a malformed update`);
      check(i, 'a malformed update');
    } else if (action < 13) {
      // A burst of typing, a keystroke an update: one long run, which
      // later edits split into a long chain of pieces (item.js find,
      // promote).
      const x = d.getText('t');
      let pos = at(x, x.length + 1);
      for (let k = 10 + rnd.intn(60); k > 0; k--) {
        const ch = PIECES[rnd.intn(3)];
        send(i, x.insert(pos, ch));
        pos += ch.length;
      }
      check(i, 'a burst of typing');
    } else {
      const u = d.transact(() => {
        for (let k = 1 + rnd.intn(3); k > 0; k--) localEdit(d);
      });
      check(i, 'a local transaction');
      send(i, u);
    }
  }
  // Quiesce: deliver everything left in random order, then sync all pairs.
  reps.forEach((r, i) => {
    for (const u of rnd.shuffle(r.inbox)) r.doc.apply(u);
    check(i, 'the last updates');
  });
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) reps[i].doc.apply(reps[j].doc.diff(reps[i].doc.stateVector()));
  }
  const want = digest(reps[0].doc);
  assert.equal(want.pending, false, `${what}: pending left`);
  reps.forEach((r, i) => {
    check(i, 'the sync');
    assert.deepEqual(digest(r.doc), want, `${what}: replica ${i} differs from replica 0`);
  });
  // Every update, in random order, some twice, rebuilds the document.
  const rebuilt = new Doc({ clientID: 11 });
  for (const u of rnd.shuffle([...stored, ...stored.filter(() => rnd.intn(4) === 0)])) rebuilt.apply(u);
  checkClients(rebuilt, `${what}: rebuilt`);
  assert.deepEqual(digest(rebuilt), want, `${what}: rebuilt replica differs`);
  const loaded = new Doc({ clientID: 12 });
  loaded.apply(reps[0].doc.snapshot());
  assert.deepEqual(digest(loaded), want, `${what}: loaded snapshot differs`);
}

test('mixed random sessions: rich edits, undo, reloads, disorder and corrupted updates converge with consistent events', () => {
  const seed = process.env.CRDT_SEED !== undefined ? BigInt(process.env.CRDT_SEED) : BigInt(Date.now());
  console.log(`mixed sessions seed ${seed} (rerun with CRDT_SEED=${seed})`);
  const total = runs(30);
  for (let s = 0; s < total; s++) {
    const rnd = new Rand(seed + BigInt(s));
    const what = `seed ${seed + BigInt(s)} (CRDT_SEED=${seed + BigInt(s)} CRDT_RUNS=1)`;
    // One session in four in leaves of 3 items and nodes of 3 children.
    if (rnd.intn(4) === 0) {
      const old = setFanout(3, 3);
      try {
        session(rnd, `${what}, tiny leaves`);
      } finally {
        setFanout(...old);
      }
    } else session(rnd, what);
  }
});

// A Doc decodes every update into one reused Decoded (update.js): its
// records, type entries, blocks and ranges are overwritten in place, and
// arrays grown by a large update are dropped after it. Whatever a large
// update, a small one or a malformed one (refused part way through its
// types, records or delete set) leaves there must not leak into the next:
// a replica fed valid and malformed updates in turn must end as a fresh
// replica fed the valid ones, events included.
test('a reused decoder: large, small and malformed updates in turn leave what fresh replicas make of the valid ones', () => {
  const rnd = new Rand(20261207);
  // Three writers, so that updates hold several clients, types and
  // delete ranges; the large one is a snapshot of well over 1024 records.
  const writers = [5, 300, 2 ** 53 - 1].map((clientID) => new Doc({ clientID }));
  const stream = [];
  for (let k = 0; k < 1500; k++) {
    const w = writers[rnd.intn(3)];
    const x = w.getText(['t', 'u', 'zz'][rnd.intn(3)]);
    const r = rnd.intn(10);
    let u;
    if (r < 5 || x.length === 0) u = x.insert(rnd.intn(x.length + 1), PIECES[rnd.intn(PIECES.length)]);
    else if (r < 7) u = x.delete(rnd.intn(x.length), 1);
    else if (r < 8) u = x.format(0, x.length, KEYS[rnd.intn(3)], rnd.intn(2) === 0 ? null : 'v');
    else if (r < 9) u = x.insertEmbed(rnd.intn(x.length + 1), { img: k });
    else u = w.getMap(['m', 'n'][rnd.intn(2)]).set(`k${rnd.intn(5)}`, k);
    stream.push(u);
    for (const o of writers) if (o !== w && rnd.intn(4) !== 0) o.apply(u);
  }
  const large = writers[0].snapshot();
  // Later small updates, some delivered before those they depend on.
  const small = [];
  for (let k = 0; k < 60; k++) {
    const w = writers[rnd.intn(3)];
    const x = w.getText(['t', 'u'][rnd.intn(2)]);
    small.push(rnd.intn(3) === 0 && x.length > 2 ? x.delete(1, 2) : x.insert(rnd.intn(x.length + 1), PIECES[rnd.intn(PIECES.length)]));
  }
  const tail = [writers[1].snapshot(), writers[2].snapshot()];
  const valid = [large, ...rnd.shuffle([...small]), ...tail];
  // Malformed: cuts of the large update at many depths, and small
  // updates with a byte changed, each refused by a fresh Doc.
  const malformed = [];
  for (let k = 1; k <= 40; k++) malformed.push(large.subarray(0, Math.floor((large.length * k) / 41)));
  for (let k = 0; k < 400 && malformed.length < 120; k++) {
    const b = valid[rnd.intn(valid.length)].slice();
    b[rnd.intn(b.length)] ^= 1 << rnd.intn(8);
    try {
      new Doc({ clientID: 9 }).apply(b);
    } catch {
      malformed.push(b);
    }
  }
  assert.ok(malformed.length > 60, `only ${malformed.length} malformed updates`);

  const fresh = new Doc({ clientID: 1 });
  const reused = new Doc({ clientID: 2 });
  const deltas = new Map();
  for (const d of [fresh, reused]) {
    for (const name of ['t', 'u', 'zz']) {
      d.getText(name).observe((e) => {
        const key = `${d.clientID} ${name}`;
        deltas.set(key, replay(deltas.get(key) ?? [], e.delta));
      });
    }
  }
  let bad = 0;
  valid.forEach((u, i) => {
    fresh.apply(u);
    // Before each valid update, the reused replica refuses a few
    // malformed ones.
    for (let k = rnd.intn(4); k > 0; k--) {
      const b = malformed[bad++ % malformed.length];
      const before = toHex(reused.snapshot());
      assert.throws(() => reused.apply(b), (e) => e instanceof DecodeError || e instanceof InvalidUpdateError, `malformed update before ${i}`);
      assert.equal(toHex(reused.snapshot()), before, `malformed update before ${i} changed the replica`);
    }
    reused.apply(u);
    checkClients(reused, `after update ${i}`);
    assert.equal(reused.hasPending(), fresh.hasPending(), `pending after update ${i}`);
    for (const name of ['t', 'u', 'zz']) {
      assert.deepEqual(normal(reused.getText(name).toDelta()), normal(fresh.getText(name).toDelta()), `${name} after update ${i}`);
    }
  });
  assert.equal(toHex(reused.snapshot()), toHex(fresh.snapshot()));
  assert.equal(reused.hasPending(), false);
  for (const name of ['t', 'u', 'zz']) {
    assert.deepEqual(modelDelta(deltas.get(`2 ${name}`) ?? []), normal(reused.getText(name).toDelta()), `${name}: events`);
    assert.deepEqual(modelDelta(deltas.get(`1 ${name}`) ?? []), normal(fresh.getText(name).toDelta()), `${name}: events of the fresh replica`);
  }
  for (const m of ['m', 'n']) {
    for (const key of fresh.getMap(m).keys()) assert.equal(toHex(reused.getMap(m).getRaw(key)), toHex(fresh.getMap(m).getRaw(key)), `${m}.${key}`);
  }
});
