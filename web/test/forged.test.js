// A writer may name any origins (FORMAT.md §5.3): the twin of Go's
// TestForgedOriginsConverge. Besides two honest replicas typing,
// deleting, formatting and embedding, a hostile one sends runs under two
// client IDs whose origins are any code points it knows (or none), in
// either order, neighbours or not, and marks and embeds the same way.
// Every accepted update is then delivered
// to every replica in an order of its own; all must end with the same
// text and snapshot, and the snapshot must load into the same text.
// Origins no honest author could have named are dropped alike everywhere.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Doc, toHex } from '../src/index.js';
import { Rand, craft, sequenceIDs } from './helpers.js';

/** session runs one random session of seed; every replica must agree at the end. */
function session(seed) {
  const rnd = new Rand(seed);
  const honest = [new Doc({ clientID: 1 }), new Doc({ clientID: 2 })];
  const hostile = new Doc({ clientID: 5 });
  const all = [...honest, hostile];
  const writers = [5, 6]; // the hostile replica's IDs
  let fresh = 20;
  const log = [];
  const seen = all.map(() => 0);
  let dropped = 0;
  const steps = 1 + rnd.intn(60);
  for (let s = 0; s < steps; s++) {
    const kind = rnd.intn(4);
    if (kind === 0) {
      const x = honest[rnd.intn(2)].getText('t');
      const n = x.length;
      const op = rnd.intn(4);
      let u;
      if (n > 0 && op === 1) u = x.delete(rnd.intn(n), 1);
      else if (n > 0 && op === 2) {
        const pos = rnd.intn(n);
        u = x.format(pos, 1 + rnd.intn(n - pos), 'bold', rnd.intn(2) === 0 ? true : null);
      } else if (op === 3) u = x.insertEmbed(rnd.intn(n + 1), 'img');
      else u = x.insert(rnd.intn(n + 1), String.fromCharCode(97 + rnd.intn(26)));
      if (u !== null) log.push(u);
    } else if (kind === 1) {
      const ids = sequenceIDs(hostile.getText('t'));
      const pick = () => {
        const k = rnd.intn(ids.length + 1) - 1;
        return k < 0 ? null : ids[k];
      };
      const w = rnd.intn(2);
      const client = writers[w];
      let recs;
      let clocks = 1;
      const forged = rnd.intn(4);
      if (forged === 0) {
        // A mark whose anchors may lie anywhere, its end before its start too.
        const start = { rich: 1, key: 'bold', value: Uint8Array.of(0xc3), seq: 1 + rnd.intn(9), expand: true, left: pick(), right: pick() };
        if (rnd.intn(2) === 0) Object.assign(start, { key: 'link', value: Uint8Array.of(0xa1, 0x75), expand: false });
        if (rnd.intn(2) === 0) start.value = null;
        recs = [start, { rich: 2, left: pick(), right: pick() }];
        clocks = 2;
      } else if (forged === 1) recs = [{ rich: 3, value: Uint8Array.of(0xa3, 0x69, 0x6d, 0x67), left: pick(), right: pick() }];
      else {
        clocks = 1 + rnd.intn(2);
        recs = [{ text: 'XY'.slice(0, clocks), n: clocks, left: pick(), right: pick() }];
      }
      const k = hostile.stateVector().get(client) ?? 0;
      const u = craft(client, k, recs);
      try {
        hostile.apply(u);
      } catch {
        continue; // refused whole: nobody sees it
      }
      log.push(u);
      if ((hostile.stateVector().get(client) ?? 0) !== k + clocks) {
        // Dropped, in part or whole: its clocks are spent, and the writer
        // goes on under a fresh ID, as a reuse would be a second history.
        writers[w] = fresh++;
        dropped++;
      }
    } else {
      const r = rnd.intn(all.length);
      const upto = seen[r] + rnd.intn(log.length - seen[r] + 1);
      for (const u of log.slice(seen[r], upto)) all[r].apply(u);
      seen[r] = upto;
    }
  }
  const late = [new Doc({ clientID: 7 }), new Doc({ clientID: 8 })];
  [...all, ...late].forEach((d, i) => {
    const order = log.map((_, k) => k);
    if (i !== all.length) rnd.shuffle(order);
    for (const k of order) d.apply(log[k]);
  });
  const want = hostile.getText('t').toString();
  const snap = toHex(hostile.snapshot());
  const replay = `seed ${seed} (FORGED_SEED=${seed} replays it)`;
  [...all, ...late].forEach((d, i) => {
    assert.equal(d.getText('t').toString(), want, `${replay}: replica ${i}`);
    assert.equal(toHex(d.snapshot()), snap, `${replay}: replica ${i}'s snapshot`);
    assert.deepEqual(d.getText('t').toDelta(), hostile.getText('t').toDelta(), `${replay}: replica ${i}'s delta`);
  });
  const loaded = new Doc({ clientID: 9 });
  loaded.apply(hostile.snapshot());
  assert.equal(loaded.getText('t').toString(), want, `${replay}: the snapshot loaded`);
  assert.deepEqual(loaded.getText('t').toDelta(), hostile.getText('t').toDelta(), `${replay}: the snapshot loaded`);
  return dropped;
}

test('runs with forged origins converge on every replica, in every delivery order', () => {
  const first = Number(process.env.FORGED_SEED ?? Date.now() % 1e9);
  const runs = process.env.FORGED_SEED ? 1 : 1500;
  let dropped = 0;
  for (let k = 0; k < runs; k++) dropped += session(first + k);
  // The sessions must meet the check, or they test nothing of it.
  if (runs > 1) assert.ok(dropped > runs / 10, `only ${dropped} forged runs dropped in ${runs} sessions`);
});
