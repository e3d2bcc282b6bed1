// Loading a large update into an empty Text through the Loader (text.js,
// as Go's bulkload.go) must give exactly the document the tree builds:
// snapshots of random documents (several clients' concurrent runs,
// deletions, marks, embeds, a map, surrogate pairs), a snapshot on top of
// part of it, updates in a shuffled order, and one author's long history
// followed by concurrent runs between its origins. Each is applied to two
// documents, one with the loader taking every update (its least number of
// records set to 0) and one with the loader off, which must then agree
// in everything: snapshot bytes, state vector, pending, texts, deltas,
// consistent trees, and the updates of the same edits made afterwards.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Doc, toHex } from '../src/index.js';
import { setBulkLoad } from '../src/text.js';
import { Rand, checkTree, state, withFanout } from './helpers.js';

const fanouts = [
  [64, 64], // as shipped
  [2, 3], // deep trees out of few items
  [3, 4],
];

const pieces = ['a', 'bc', 'def', '😀', 'é', 'ghijklmnop', 'x😀y'];

/** withBulk runs fn with the loader taking every update, or with it off. */
function withBulk(on, fn) {
  const old = setBulkLoad(on, 0);
  try {
    return fn();
  } finally {
    setBulkLoad(...old);
  }
}

/** digest is everything of d that the way it was loaded must not change. */
function digest(d, leaf, kids) {
  const texts = {};
  for (const name of d.textNames()) {
    const t = d.getText(name);
    checkTree(t, leaf, kids);
    texts[name] = { len: t.length, delta: JSON.stringify(t.toDelta()) };
  }
  return { ...state(d), texts2: texts };
}

/**
 * applyBoth applies updates in turn to two new documents, one through the
 * loader and one through the tree only, and fails unless every apply
 * throws the same or leaves the same document; it returns both.
 */
function applyBoth(updates, leaf, kids) {
  const bulk = new Doc({ clientID: 99 });
  const tree = new Doc({ clientID: 99 });
  updates.forEach((u, i) => {
    const run = (d) => {
      try {
        d.apply(u);
        return null;
      } catch (e) {
        return String(e);
      }
    };
    const eb = withBulk(true, () => run(bulk));
    const et = withBulk(false, () => run(tree));
    assert.equal(eb, et, `update ${i}: the loader and the tree fail differently`);
    assert.deepEqual(digest(bulk, leaf, kids), digest(tree, leaf, kids), `update ${i}: the loader and the tree differ`);
  });
  return [bulk, tree];
}

/** editBoth makes the same random edits on a and b: they must make the same updates. */
function editBoth(rng, a, b, leaf, kids) {
  for (let step = 0; step < 40; step++) {
    for (const name of a.textNames()) {
      const ta = a.getText(name);
      const tb = b.getText(name);
      const n = ta.length;
      let ua;
      let ub;
      if (n > 0 && rng.intn(3) === 0) {
        const pos = rng.intn(n);
        const k = 1 + rng.intn(Math.min(n - pos, 5));
        ua = ta.delete(pos, k);
        ub = tb.delete(pos, k);
      } else {
        const s = pieces[rng.intn(pieces.length)];
        const pos = safePos(ta.toString(), rng.intn(n + 1));
        ua = ta.insert(pos, s);
        ub = tb.insert(pos, s);
      }
      assert.equal(ua === null ? null : toHex(ua), ub === null ? null : toHex(ub), 'an edit after loading makes another update');
    }
  }
  assert.deepEqual(digest(a, leaf, kids), digest(b, leaf, kids), 'after edits, the loader and the tree differ');
}

/** safePos moves pos off the middle of a surrogate pair of s. */
function safePos(s, pos) {
  const c = s.charCodeAt(pos - 1);
  return pos > 0 && c >= 0xd800 && c <= 0xdbff ? pos - 1 : pos;
}

/**
 * randomReplicas lets n replicas edit concurrently (two texts, marks,
 * embeds, a map), with updates delivered late and out of order, and
 * returns every update made and the replicas.
 */
function randomReplicas(rng, n, steps) {
  const docs = [];
  for (let i = 0; i < n; i++) docs.push(new Doc({ clientID: i * 7 + 1 + rng.intn(3) }));
  const all = [];
  let queue = [];
  for (let step = 0; step < steps; step++) {
    const d = docs[rng.intn(n)];
    const txt = d.getText(rng.intn(5) === 0 ? 'u' : 't');
    const len = txt.length;
    const k = rng.intn(20);
    let u;
    if (k < 4 && len > 0) {
      const pos = safePos(txt.toString(), rng.intn(len));
      u = txt.delete(pos, Math.max(1, safePos(txt.toString(), pos + 1 + rng.intn(Math.min(len - pos, 6))) - pos));
    } else if (k === 4 && len > 0) {
      const pos = safePos(txt.toString(), rng.intn(len));
      u = txt.format(pos, Math.max(1, safePos(txt.toString(), pos + 1 + rng.intn(Math.min(len - pos, 6))) - pos), 'bold', true);
    } else if (k === 5) {
      u = txt.insertEmbed(safePos(txt.toString(), rng.intn(len + 1)), { img: 'x' });
    } else if (k === 6) {
      u = d.getMap('m').set(String(rng.intn(3)), rng.intn(100));
    } else {
      let pos = rng.intn(len + 1);
      if (rng.intn(4) === 0) pos = len; // typing on at the end
      else if (rng.intn(3) === 0) pos = Math.min(len, 3); // a hot spot: concurrent runs between the same origins
      u = txt.insert(safePos(txt.toString(), pos), pieces[rng.intn(pieces.length)]);
    }
    if (u === null || u === undefined) continue;
    all.push(u);
    queue.push(u);
    while (queue.length > 0 && rng.intn(3) === 0) {
      const i = rng.intn(queue.length);
      for (const e of docs) if (rng.intn(2) === 0) e.apply(queue[i]);
      queue = queue.filter((_, j) => j !== i);
    }
  }
  return [all, docs];
}


test('snapshots, diffs and shuffled updates load through the loader into the document the tree builds', () => {
  for (const [leaf, kids] of fanouts) {
    withFanout(leaf, kids, () => {
      for (let seed = 0; seed < 8; seed++) {
        const rng = new Rand(seed * 1000 + leaf * 10 + kids);
        const [all, docs] = randomReplicas(rng, 1 + (seed % 4), 150 + rng.intn(400));
        for (const d of docs) {
          const [a, b] = applyBoth([d.snapshot()], leaf, kids);
          editBoth(rng, a, b, leaf, kids);
          const other = docs[rng.intn(docs.length)];
          applyBoth([d.snapshot(), other.snapshot(), other.diff(d.stateVector())], leaf, kids);
        }
        rng.shuffle(all);
        applyBoth(all.slice(0, all.length >> 1), leaf, kids);
      }
    });
  }
});

test("one author's long history, then concurrent runs between its origins, hand the first conflict to the tree", () => {
  for (const [leaf, kids] of fanouts) {
    withFanout(leaf, kids, () => {
      for (let seed = 0; seed < 6; seed++) {
        const rng = new Rand(seed + 500);
        const author = new Doc({ clientID: 1 + (seed % 2) * 100 });
        const txt = author.getText('t');
        for (let i = 0; i < 300; i++) txt.insert(safePos(txt.toString(), rng.intn(txt.length + 1)), pieces[rng.intn(pieces.length)]);
        const others = [new Doc({ clientID: 50 }), new Doc({ clientID: 150 })];
        for (const o of others) o.apply(author.snapshot());
        // Concurrent runs between the same origins as the author's next ones.
        const pos = safePos(txt.toString(), rng.intn(txt.length + 1));
        for (const o of others) o.getText('t').insert(pos, 'OTHER');
        txt.insert(pos, 'AUTHOR');
        if (seed % 2 === 0) {
          for (const o of others) author.apply(o.snapshot());
          txt.insert(safePos(txt.toString(), rng.intn(txt.length + 1)), 'MORE');
        }
        const merged = new Doc({ clientID: 7 });
        merged.apply(author.snapshot());
        for (const o of others) merged.apply(o.snapshot());
        const [a, b] = applyBoth([merged.snapshot()], leaf, kids);
        assert.equal(a.getText('t').toString(), merged.getText('t').toString());
        editBoth(rng, a, b, leaf, kids);
      }
    });
  }
});

test('the loader takes a large snapshot whole, and leaves an observed or non-empty text to the tree', () => {
  const src = new Doc({ clientID: 3 });
  const t = src.getText('t');
  const rng = new Rand(42);
  src.change(() => {
    for (let i = 0; i < 5000; i++) t.insert(rng.intn(t.length + 1), 'a');
  });
  const snap = src.snapshot();
  const loaded = new Doc({ clientID: 4 });
  loaded.apply(snap);
  assert.equal(loaded.getText('t').toString(), t.toString());
  assert.equal(toHex(loaded.snapshot()), toHex(snap));
  checkTree(loaded.getText('t'), 64, 64);
  // The loader fills every leaf three quarters (47 or 48 items of 64); the
  // tree's splits leave leaves of 32 to 64.
  for (let lf = loaded.getText('t').first; lf !== null; lf = lf.next) {
    assert.ok(lf.items.length >= 47 && lf.items.length <= 48, `a leaf of ${lf.items.length} items: the loader did not build this tree`);
  }
  // Observed: the observer hears the whole text, as from the tree.
  const watched = new Doc({ clientID: 5 });
  const seen = [];
  watched.getText('t').observe((ev) => seen.push(ev.delta));
  watched.apply(snap);
  assert.deepEqual(seen, [[{ insert: t.toString() }]]);
});
