// Rich text (crdt/RICH.md): the JS twin of the Go rich-text core. It
// replays the Go-recorded Peritext scenarios of crdt/testdata/rich.json in
// every delivery order (the same updates, deltas and snapshot bytes), runs
// the tables of the Go tests (crdt/rich_test.go) on the JS Text, refuses
// corrupted updates as Go does, and checks that 2–5 replicas making random
// rich edits converge. The seed of the random tests is printed; rerun one
// with CRDT_SEED=<seed>; hunt longer with CRDT_RUNS=<runs>.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Doc, DecodeError, DEFAULT_MARK_SCHEMA, toHex, fromHex } from '../src/index.js';
import { REPO_ROOT, Rand, json, permutations, runs } from './helpers.js';
import { generate, replay, runStep } from './rich-sessions.mjs';

const vectors = JSON.parse(readFileSync(join(REPO_ROOT, 'crdt', 'testdata', 'rich.json'), 'utf8'));

test('rich vectors: the steps make the recorded updates, every delivery order the recorded delta and snapshot', () => {
  assert.ok(vectors.scenarios.length >= 14);
  for (const sc of vectors.scenarios) {
    const base = new Doc({ clientID: sc.base_client });
    for (const s of sc.base_steps) runStep(base.getText('t'), s);
    assert.equal(toHex(base.snapshot()), sc.base_snapshot, `${sc.name}: base snapshot`);
    const updates = [];
    for (const rep of sc.replicas) {
      const d = new Doc({ clientID: rep.client });
      d.apply(fromHex(sc.base_snapshot));
      const u = d.transact(() => {
        for (const s of rep.steps) assert.equal(runStep(d.getText('t'), s), null);
      });
      assert.equal(toHex(u), rep.update, `${sc.name}: update of client ${rep.client}`);
      updates.push(fromHex(rep.update));
    }
    for (const order of permutations(updates.length)) {
      const d = new Doc({ clientID: sc.merge_client });
      d.apply(fromHex(sc.base_snapshot));
      for (const k of order) d.apply(updates[k]);
      assert.deepEqual(json(d.getText('t').toDelta()), sc.want, `${sc.name}: delta, order ${order}`);
      assert.equal(toHex(d.snapshot()), sc.snapshot, `${sc.name}: snapshot, order ${order}`);
      // The merged snapshot loads to the same document.
      const e = new Doc({ clientID: 9 });
      e.apply(d.snapshot());
      assert.deepEqual(json(e.getText('t').toDelta()), sc.want, `${sc.name}: reloaded delta`);
      assert.equal(toHex(e.snapshot()), sc.snapshot, `${sc.name}: reloaded snapshot`);
    }
  }
});

/** op is an expected delta op with attributes given as alternating keys and values. */
function op(insert, ...kv) {
  if (kv.length === 0) return { insert };
  const attributes = {};
  for (let i = 0; i < kv.length; i += 2) attributes[kv[i]] = kv[i + 1];
  return { insert, attributes };
}

// The table of TestRichLocal (crdt/rich_test.go): formatting on one
// replica, on "abcdef".
const localTests = [
  ['bold', (x) => x.format(0, 3, 'bold', true), [op('abc', 'bold', true), op('def')]],
  ['typing at the end of bold is bold', (x) => (x.format(0, 3, 'bold', true), x.insert(3, 'X')), [op('abcX', 'bold', true), op('def')]],
  ['typing at the end of the text after bold is bold', (x) => (x.format(3, 3, 'bold', true), x.insert(6, 'X')), [op('abc'), op('defX', 'bold', true)]],
  ['typing at the start of bold is not bold', (x) => (x.format(3, 3, 'bold', true), x.insert(3, 'X')), [op('abcX'), op('def', 'bold', true)]],
  ['typing at the end of a link is not linked', (x) => (x.format(0, 3, 'link', 'u'), x.insert(3, 'X')), [op('abc', 'link', 'u'), op('Xdef')]],
  ['typing inside a link is linked', (x) => (x.format(0, 3, 'link', 'u'), x.insert(2, 'X')), [op('abXc', 'link', 'u'), op('def')]],
  [
    'bold and a link ending together',
    (x) => (x.format(0, 3, 'link', 'u'), x.format(0, 3, 'bold', true), x.insert(3, 'X')),
    [op('abc', 'bold', true, 'link', 'u'), op('X', 'bold', true), op('def')],
  ],
  [
    'a link ending where bold starts',
    (x) => (x.format(0, 3, 'link', 'u'), x.format(3, 3, 'bold', true), x.insert(3, 'X')),
    [op('abc', 'link', 'u'), op('X'), op('def', 'bold', true)],
  ],
  ['unbold a middle part', (x) => (x.format(0, 6, 'bold', true), x.format(2, 2, 'bold', null)), [op('ab', 'bold', true), op('cd'), op('ef', 'bold', true)]],
  ['a later value wins', (x) => (x.format(0, 4, 'link', 'u'), x.format(2, 4, 'link', 'v')), [op('ab', 'link', 'u'), op('cdef', 'link', 'v')]],
  [
    'deleting formatted text keeps the rest formatted',
    (x) => (x.format(1, 4, 'italic', true), x.delete(2, 2), x.insert(2, 'X')),
    [op('a'), op('bXe', 'italic', true), op('f')],
  ],
  [
    'embed',
    (x) => (x.insertEmbed(3, { image: 'p.png' }), x.format(2, 3, 'bold', true)),
    [op('ab'), op('c', 'bold', true), op({ image: 'p.png' }, 'bold', true), op('d', 'bold', true), op('ef')],
  ],
  ['deleted embed', (x) => (x.insertEmbed(3, 'e'), x.delete(3, 1)), [op('abcdef')]],
  // UTF-16 positions: a range inside a surrogate pair takes the whole pair.
  ['astral', (x) => (x.insert(6, '😀z'), x.format(7, 1, 'bold', true)), [op('abcdef'), op('😀', 'bold', true), op('z')]],
];

test('rich local edits (TestRichLocal)', () => {
  for (const [name, edit, want] of localTests) {
    const d = new Doc({ clientID: 1 });
    const x = d.getText('t');
    x.insert(0, 'abcdef');
    edit(x);
    assert.deepEqual(x.toDelta(), want, `${name}: local`);
    const e = new Doc({ clientID: 2 });
    e.apply(d.snapshot());
    assert.deepEqual(e.getText('t').toDelta(), want, `${name}: loaded`);
    assert.equal(toHex(e.snapshot()), toHex(d.snapshot()), `${name}: snapshot of the loaded copy`);
  }
});

test('anchors take no position, an embed takes one', () => {
  const d = new Doc({ clientID: 1 });
  const x = d.getText('t');
  x.insert(0, 'abcd');
  x.format(1, 2, 'bold', true);
  x.format(0, 4, 'link', 'u');
  x.insertEmbed(2, 7);
  assert.equal(x.length, 5);
  assert.equal(x.toString(), 'ab\uFFFCcd');
  x.delete(1, 3);
  assert.equal(x.length, 2);
  assert.equal(x.toString(), 'ad');
});

test('bad rich calls throw and change nothing (TestRichErrors)', () => {
  const d = new Doc({ clientID: 1 });
  const x = d.getText('t');
  x.insert(0, 'abc');
  const snap = toHex(d.snapshot());
  const calls = [
    ['format past the end', () => x.format(2, 2, 'bold', true), RangeError],
    ['format at a negative position', () => x.format(-1, 1, 'bold', true), RangeError],
    ['invalid key', () => x.format(0, 1, '\ud800', true), TypeError],
    ['key not a string', () => x.format(0, 1, 3, true), TypeError],
    ['value without a msgpack form', () => x.format(0, 1, 'bold', () => {}), TypeError],
    ['embed past the end', () => x.insertEmbed(4, 1), RangeError],
    ['embed without a msgpack form', () => x.insertEmbed(0, Symbol('x')), TypeError],
    ['block past the end', () => x.setBlock(4, 'header', 1), RangeError],
    ['block without a newline', () => x.setBlock(0, 'header', 1), RangeError],
    ['reserved expand rule', () => x.setMarkSchema({ x: 'both' }), TypeError],
  ];
  for (const [name, call, type] of calls) assert.throws(call, type, name);
  assert.equal(toHex(d.snapshot()), snap, 'a refused call changed the document');
  assert.equal(x.format(1, 0, 'bold', true), null, 'an empty format makes no update');
});

test('the expand rule comes from the schema and travels with the mark (TestRichMarkSchema)', () => {
  assert.equal(DEFAULT_MARK_SCHEMA.bold, 'after');
  assert.equal(DEFAULT_MARK_SCHEMA.link, 'none');
  const d = new Doc({ clientID: 1 });
  const x = d.getText('t');
  x.insert(0, 'ab');
  x.setMarkSchema({ bold: 'none', hl: 'after' });
  x.format(0, 1, 'bold', true);
  x.format(1, 1, 'hl', 'y');
  const e = new Doc({ clientID: 2 });
  e.apply(d.snapshot());
  const y = e.getText('t'); // default schema: the rules stored in the marks count
  y.insert(2, 'Y');
  y.insert(1, 'X');
  assert.deepEqual(y.toDelta(), [op('a', 'bold', true), op('X'), op('bY', 'hl', 'y')]);
});

test('rich updates are version 3, plain ones version 1 (TestRichVersion)', () => {
  const d = new Doc({ clientID: 1 });
  const x = d.getText('t');
  const u1 = x.insert(0, 'ab');
  assert.equal(u1[0], 0x95);
  assert.equal(u1[1], 1);
  const u2 = x.format(0, 2, 'bold', true);
  assert.equal(u2[0], 0x96);
  assert.equal(u2[1], 3);
  const bad = u2.slice();
  bad[1] = 1;
  const e = new Doc({ clientID: 2 });
  e.apply(u1);
  assert.throws(() => e.apply(bad), DecodeError);
  e.apply(u2);
  assert.deepEqual(e.getText('t').toDelta(), [op('ab', 'bold', true)]);
});

test('block attributes ride on the newline ending the block (TestRichBlocks)', () => {
  const d = new Doc({ clientID: 1 });
  const x = d.getText('t');
  x.insert(0, 'Title\nBody\nEnd');
  x.setBlock(2, 'header', 'h1');
  x.setBlock(6, 'list', 'bullet');
  assert.throws(() => x.setBlock(12, 'list', 'bullet'), RangeError);
  assert.deepEqual(x.toDelta(), [op('Title'), op('\n', 'header', 'h1'), op('Body'), op('\n', 'list', 'bullet'), op('End')]);
  const e = new Doc({ clientID: 2 });
  e.apply(d.snapshot());
  const ua = x.insert(5, '!'); // typing at the end of the title
  const ub = e.getText('t').delete(10, 1); // joining Body and End: the list item goes
  const uc = e.getText('t').insert(2, '\n');
  d.apply(ub);
  d.apply(uc);
  e.apply(ua);
  const want = [op('Ti\ntle!'), op('\n', 'header', 'h1'), op('BodyEnd')];
  assert.deepEqual(x.toDelta(), want);
  assert.deepEqual(e.getText('t').toDelta(), want);
  x.insert(8, '>'); // typing at the start of the next block
  assert.deepEqual(x.toDelta(), [op('Ti\ntle!'), op('\n', 'header', 'h1'), op('>BodyEnd')]);
  x.setBlock(3, 'header', null);
  assert.deepEqual(x.toDelta(), [op('Ti\ntle!\n>BodyEnd')]);
});

/**
 * richSeeds returns updates and a snapshot holding every rich record
 * shape, made as crdt/rich_test.go's richSeeds makes them.
 */
function richSeeds() {
  const d = new Doc({ clientID: 1 });
  const x = d.getText('t');
  const out = [
    x.insert(0, 'hello world'),
    x.format(0, 5, 'bold', true),
    x.format(6, 5, 'link', 'https://x'),
    x.format(2, 2, 'bold', null),
    x.insertEmbed(5, { image: 'a.png' }),
    x.delete(4, 3),
    d.transact(() => {
      x.insertEmbed(0, 1);
      x.delete(0, 1);
    }),
  ];
  out.push(d.snapshot());
  return out;
}

test('corrupted rich updates are refused whole or load consistently (TestRichCorruptedUpdates)', () => {
  const seeds = richSeeds();
  const base = seeds[seeds.length - 1];
  let refused = 0;
  let accepted = 0;
  seeds.forEach((seed, si) => {
    for (let i = 0; i < seed.length; i++) {
      for (const v of [seed[i] ^ 0x01, seed[i] ^ 0x80, (seed[i] + 1) & 0xff, 0x00, 0xc0, 0x93]) {
        const mut = seed.slice();
        mut[i] = v;
        const d = new Doc({ clientID: 2 });
        if (si < seeds.length - 1) d.apply(base);
        const before = toHex(d.snapshot());
        try {
          d.apply(mut);
        } catch (e) {
          assert.equal(toHex(d.snapshot()), before, `seed ${si} byte ${i} = ${v}: refused update (${e.message}) changed the document`);
          refused++;
          continue;
        }
        accepted++;
        const e = new Doc({ clientID: 3 });
        e.apply(d.snapshot());
        assert.deepEqual(e.getText('t').toDelta(), d.getText('t').toDelta(), `seed ${si} byte ${i} = ${v}: reloaded delta`);
        assert.equal(toHex(e.snapshot()), toHex(d.snapshot()), `seed ${si} byte ${i} = ${v}: reloaded snapshot`);
      }
    }
  });
  assert.ok(refused > 0 && accepted > 0, `${refused} refused, ${accepted} accepted`);
});

test('hostile rich records are refused, or dropped like a record with a bad origin', () => {
  const d = new Doc({ clientID: 1 });
  const x = d.getText('t');
  const plain = x.insert(0, 'ab');
  const u = Array.from(x.format(0, 2, 'bold', true));
  // 96 03 91 92 00 a1 74 91 01 [90] 91 95 00 02 c4 07 | 07 8b 06 02 01 33 02 | a0 91 92 a4 "bold" c3 [90]:
  // a mark at the start of the text has no left origin, so it is the two
  // records of version 2, and the mark table is empty.
  assert.equal(toHex(Uint8Array.from(u)), '9603919200a17491019091950002c407078b0602013302a09192a4626f6c64c390');
  // The same update in version 2, which has no mark table.
  const v2 = [0x95, 0x02, ...u.slice(2, -1)];
  const refused = [
    ['reserved expand rule 2', /reserved expand rule 2/, [...u.slice(0, 17), 0x8b, 0x0a, ...u.slice(19)]],
    ['an expand rule on an end anchor', /expand rule on a record other than a start anchor/, [...u.slice(0, 15), 0x08, ...u.slice(16, 21), 0xb3, 0x04, ...u.slice(22)]],
    ['seq 0', /seq 0/, [...u.slice(0, 20), 0x00, ...u.slice(21)]],
    ['a deleted anchor in version 2', /deleted anchor/, [...v2.slice(0, 9), 0x91, 0x92, 0x00, 0xc4, 0x02, 0x02, 0x01, ...v2.slice(10)]],
    ['a rich record in a version 1 update', /bad map record header/, [0x95, 0x01, ...v2.slice(2)]],
    ['a version 3 update without its mark table', /version 3 is an array of 6/, v2.with(1, 3)],
    ['a version 2 update with a mark table', /version 2 is an array of 5/, u.with(1, 2)],
    ['a start anchor without its key', /\[key\]/, [...u.slice(0, 25), 0x90]],
  ];
  for (const [name, msg, bytes] of refused) {
    const e = new Doc({ clientID: 3 });
    e.apply(plain);
    const before = toHex(e.snapshot());
    assert.throws(() => e.apply(Uint8Array.from(bytes)), (err) => err instanceof DecodeError && msg.test(err.message), name);
    assert.equal(toHex(e.snapshot()), before, name);
  }
  // Version 3 ignores a delete range over the update's own anchors.
  const dead = new Doc({ clientID: 3 });
  dead.apply(plain);
  dead.apply(Uint8Array.from([...u.slice(0, 9), 0x91, 0x92, 0x00, 0xc4, 0x02, 0x02, 0x02, ...u.slice(10)]));
  assert.deepEqual(dead.getText('t').toDelta(), [op('ab', 'bold', true)]);
  const v2doc = new Doc({ clientID: 3 });
  v2doc.apply(plain);
  v2doc.apply(Uint8Array.from(v2));
  assert.equal(toHex(dead.snapshot()), toHex(v2doc.snapshot()));
  // An end anchor at clock 2 whose clock 1 is the code point "b", not a
  // start anchor, is dropped when it integrates (RICH.md §R3).
  const e = new Doc({ clientID: 3 });
  e.apply(plain);
  e.apply(fromHex('9502919200a17491019091950002c403073301a090'));
  assert.deepEqual(e.getText('t').toDelta(), [op('ab')]);
  const f = new Doc({ clientID: 4 });
  f.apply(plain);
  assert.equal(toHex(e.snapshot()), toHex(f.snapshot()));
  assert.equal(e.hasPending(), false);
});

/** seedOf returns CRDT_SEED, or a fresh seed. */
function seedOf() {
  return process.env.CRDT_SEED !== undefined ? BigInt(process.env.CRDT_SEED) : BigInt(Date.now()) * 1000n + BigInt(process.pid);
}

const PIECES = ['a', 'b', ' ', '\n', 'xyz', 'é', '😀', '中'];

/** richEdit makes one random rich edit on d (TestRichConvergence's richEdit, with block attributes) and returns its update. */
function richEdit(rng, d) {
  const x = d.getText('t');
  const n = x.length;
  const k = rng.intn(11);
  if (k <= 3 || n === 0) return x.insert(rng.intn(n + 1), PIECES[rng.intn(PIECES.length)] + PIECES[rng.intn(PIECES.length)]);
  if (k <= 5) {
    const pos = rng.intn(n);
    return x.delete(pos, 1 + rng.intn(Math.min(n - pos, 4)));
  }
  if (k <= 7) {
    const pos = rng.intn(n);
    const key = ['bold', 'italic', 'link', 'comment'][rng.intn(4)];
    return x.format(pos, 1 + rng.intn(n - pos), key, k === 7 ? null : ['a', 'b'][rng.intn(2)]);
  }
  if (k === 8) return x.insertEmbed(rng.intn(n + 1), { img: rng.intn(4) });
  const pos = rng.intn(n + 1);
  if (x.toString().indexOf('\n', pos) < 0) return x.insert(pos, '\n');
  return x.setBlock(pos, ['header', 'list'][rng.intn(2)], [1, 'bullet', null][rng.intn(3)]);
}

test('2–5 replicas making random rich edits converge to one delta and one snapshot (TestRichConvergence)', () => {
  const seed = seedOf();
  console.log(`rich convergence seed ${seed} (rerun with CRDT_SEED=${seed})`);
  for (let run = 0; run < runs(60); run++) {
    const rng = new Rand(seed + BigInt(run));
    const what = `seed ${seed + BigInt(run)}`;
    const n = 2 + rng.intn(4);
    const docs = [];
    const inbox = [];
    for (let i = 0; i < n; i++) {
      docs.push(new Doc({ clientID: [1, 2, 300, 70000, 2 ** 53 - 1][i] }));
      inbox.push([]);
    }
    for (let steps = 20 + rng.intn(41); steps > 0; steps--) {
      const i = rng.intn(n);
      const action = rng.intn(8);
      if (action <= 1) {
        // Deliver one update, sometimes keeping it to deliver again.
        if (inbox[i].length === 0) continue;
        const k = rng.intn(inbox[i].length);
        docs[i].apply(inbox[i][k]);
        if (rng.intn(2) === 0) inbox[i].splice(k, 1);
      } else if (action === 2) {
        // Catch up with another replica by state vector.
        const j = rng.intn(n);
        docs[i].apply(docs[j].diff(docs[i].stateVector()));
      } else {
        const u = richEdit(rng, docs[i]);
        if (u !== null) for (let j = 0; j < n; j++) if (j !== i) inbox[j].push(u);
      }
    }
    for (let i = 0; i < n; i++) for (const u of inbox[i]) docs[i].apply(u);
    const want = docs[0].getText('t').toDelta();
    const snap = toHex(docs[0].snapshot());
    for (let i = 1; i < n; i++) {
      assert.deepEqual(docs[i].getText('t').toDelta(), want, `${what}: replica ${i} delta`);
      assert.equal(toHex(docs[i].snapshot()), snap, `${what}: replica ${i} snapshot`);
    }
    const e = new Doc({ clientID: 9 });
    e.apply(fromHex(snap));
    assert.deepEqual(e.getText('t').toDelta(), want, `${what}: reloaded delta`);
    assert.equal(toHex(e.snapshot()), snap, `${what}: reloaded snapshot`);
    // The delta's text is the text.
    const text = want.map((o) => (typeof o.insert === 'string' ? o.insert : '\uFFFC')).join('');
    assert.equal(text, docs[0].getText('t').toString(), `${what}: delta text`);
  }
});

test('rich sessions made by the JS Doc replay in JS (rich-sessions.mjs; Go replays them in web/rich_crosslang_test.go)', () => {
  const seed = seedOf();
  console.log(`rich sessions seed ${seed}`);
  const sf = generate(seed, runs(4));
  for (const rec of sf.sessions) replay(rec);
});

test("the README's rich text example runs as written", () => {
  const readme = readFileSync(join(REPO_ROOT, 'web', 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Rich text'));
  const code = /```js\n([\s\S]*?)```/.exec(section)[1];
  assert.match(code, /from '@flowstate\/web'/);
  assert.ok(code.split('\n').length <= 16, 'the example is at most 15 lines');
  const src = pathToFileURL(join(REPO_ROOT, 'web', 'src', 'index.js')).href;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', code.replace("'@flowstate/web'", JSON.stringify(src))], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), [
    op('Title'),
    op('\n', 'header', 1),
    op('See '),
    op('the', 'link', 'https://fox.example'),
    op(' '),
    op({ image: 'fox.png' }),
    op('fox'),
  ]);
});
