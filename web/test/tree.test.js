// The tree of a Text's items (text.js, as Go's tree.go): with leaves and
// nodes made tiny so that a few thousand items make a deep tree, random
// local and remote edits keep it consistent and the text equal to a model,
// replicas converge, and the conflict scan's passing over whole subtrees
// places every run where the plain scan does.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Doc, toHex } from '../src/index.js';
import { scanOptions } from '../src/text.js';
import { Rand, checkTree, runs, withFanout } from './helpers.js';

const fanouts = [
  [64, 64], // as shipped
  [2, 3], // a split at every third item, every fourth child: the deepest trees
  [3, 4],
  [8, 3],
];


const pieces = ['a', 'bc', 'def', '😀', 'é', 'ghijklmnop'];

test('random local and remote edits keep deep trees consistent and replicas converged', () => {
  // One fixed seed per fanout every day; CRDT_SEED and CRDT_RUNS for a longer hunt.
  const base = Number(process.env.CRDT_SEED ?? 0);
  for (let run = 0; run < runs(1); run++) {
    for (const [leaf, kids] of fanouts) {
      withFanout(leaf, kids, () => {
        const rng = new Rand(base + run * 1000003 + leaf * 100 + kids);
        const docs = [1, 2, 3].map((id) => new Doc({ clientID: id }));
        let model = '';
        let queue = [];
        for (let step = 0; step < 1500; step++) {
          const k = rng.intn(docs.length);
          const t = docs[k].getText('t');
          let u;
          const n = t.length;
          if (n > 0 && rng.intn(4) === 0) {
            const pos = rng.intn(n);
            const del = 1 + rng.intn(Math.min(n - pos, 8));
            u = t.delete(pos, del);
          } else {
            const pos = rng.intn(3) === 0 ? n : rng.intn(n + 1);
            u = t.insert(pos, pieces[rng.intn(pieces.length)]);
          }
          if (k === 0) model = t.toString();
          queue.push(u);
          while (queue.length > 0 && rng.intn(3) === 0) {
            const i = rng.intn(queue.length);
            docs[0].apply(queue[i]);
            queue = queue.filter((_, j) => j !== i);
            model = docs[0].getText('t').toString();
          }
          checkTree(docs[0].getText('t'), leaf, kids);
          assert.equal(docs[0].getText('t').toString(), model, `fanout ${leaf}/${kids} step ${step}`);
        }
        for (const d of docs) for (const e of docs) e.apply(d.snapshot());
        const snap = toHex(docs[0].snapshot());
        for (const d of docs) {
          checkTree(d.getText('t'), leaf, kids);
          assert.equal(toHex(d.snapshot()), snap, `fanout ${leaf}/${kids}: replicas differ`);
        }
        const l = new Doc();
        l.apply(docs[0].snapshot());
        checkTree(l.getText('t'), leaf, kids);
        assert.equal(l.getText('t').toString(), docs[0].getText('t').toString());
      });
    }
  }
});

test('passing over whole subtrees at every depth places runs as the plain scan does', () => {
  for (const [leaf, kids] of fanouts) {
    withFanout(leaf, kids, () => {
      const rng = new Rand(leaf + kids);
      const base = new Doc({ clientID: 1 });
      for (let i = 0; i < 2000; i++) base.getText('t').insert(rng.intn(base.getText('t').length + 1), 'x');
      const snap = base.snapshot();
      const updates = [];
      for (let c = 10; c < 40; c++) {
        const r = new Doc({ clientID: c });
        r.apply(snap);
        for (let k = 0; k < 5; k++) updates.push(r.getText('t').insert(rng.intn(r.getText('t').length + 1), 'y'.repeat(1 + rng.intn(3))));
      }
      const got = [true, false].map((skips) => {
        scanOptions.skips = skips;
        try {
          const d = new Doc({ clientID: 2 });
          d.apply(snap);
          for (const u of updates) d.apply(u);
          checkTree(d.getText('t'), leaf, kids);
          return toHex(d.snapshot());
        } finally {
          scanOptions.skips = true;
        }
      });
      assert.equal(got[0], got[1], `fanout ${leaf}/${kids}`);
    });
  }
});

test('typing on past the longest run an item takes changes no byte (Go: TestTypingLongRun)', () => {
  for (const ch of ['x', 'é', '語', '🙂']) {
    for (const n of [1023, 1024, 1025, 3000]) {
      const typed = new Doc({ clientID: 1 });
      const t = typed.getText('t');
      const receiver = new Doc({ clientID: 3 });
      // Positions count UTF-16 units here: type at the end.
      for (let i = 0; i < n; i++) receiver.apply(t.insert(t.length, ch));
      const whole = new Doc({ clientID: 1 });
      whole.getText('t').insert(0, ch.repeat(n));
      const snap = toHex(whole.snapshot());
      assert.equal(toHex(typed.snapshot()), snap, `${ch} ×${n}: typed one at a time`);
      assert.equal(toHex(receiver.snapshot()), snap, `${ch} ×${n}: the receiver`);
      // A keystroke after the run, where a local update starts inside an
      // item, still holds only that keystroke.
      receiver.apply(t.insert(t.length, '!'));
      assert.equal(receiver.getText('t').toString(), ch.repeat(n) + '!');
    }
  }
});
