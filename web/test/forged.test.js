// A writer may name any origins (FORMAT.md §5.3): the twin of Go's
// TestForgedOriginsConverge. Besides two honest replicas typing,
// deleting, formatting and embedding, a hostile one sends runs under two
// client IDs whose origins are any code points it knows (or none), in
// either order, neighbours or not. Every accepted update is then delivered
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
  const next = new Map([
    [5, 0],
    [6, 0],
  ]);
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
      const client = 5 + rnd.intn(2);
      const size = 1 + rnd.intn(2);
      const text = (client === 5 ? 'XY' : 'xy').slice(0, size);
      const u = craft(client, next.get(client), [{ text, n: size, left: pick(), right: pick() }]);
      try {
        hostile.apply(u);
      } catch {
        continue; // refused whole: nobody sees it
      }
      if (sequenceIDs(hostile.getText('t')).length === ids.length) {
        dropped++;
        continue; // dropped: the hostile replica cannot build on it
      }
      next.set(client, next.get(client) + size);
      log.push(u);
    } else {
      const r = rnd.intn(all.length);
      const upto = seen[r] + rnd.intn(log.length - seen[r] + 1);
      for (const u of log.slice(seen[r], upto)) all[r].apply(u);
      seen[r] = upto;
    }
  }
  const fresh = [new Doc({ clientID: 7 }), new Doc({ clientID: 8 })];
  [...all, ...fresh].forEach((d, i) => {
    const order = log.map((_, k) => k);
    if (i !== all.length) rnd.shuffle(order);
    for (const k of order) d.apply(log[k]);
  });
  const want = hostile.getText('t').toString();
  const snap = toHex(hostile.snapshot());
  const replay = `seed ${seed} (FORGED_SEED=${seed} replays it)`;
  [...all, ...fresh].forEach((d, i) => {
    assert.equal(d.getText('t').toString(), want, `${replay}: replica ${i}`);
    assert.equal(toHex(d.snapshot()), snap, `${replay}: replica ${i}'s snapshot`);
  });
  const loaded = new Doc({ clientID: 9 });
  loaded.apply(hostile.snapshot());
  assert.equal(loaded.getText('t').toString(), want, `${replay}: the snapshot loaded`);
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
