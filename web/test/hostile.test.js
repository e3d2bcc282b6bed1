// Hostile bytes: the Go fuzz corpus (crdt/testdata/fuzz) and systematic
// corruptions (every single-byte change class, truncations) of the golden
// vectors' updates. Each input must either apply, or throw a DecodeError or
// InvalidUpdateError and leave the document exactly as it was; nothing may
// throw anything else or hang.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Doc, DecodeError, InvalidUpdateError, decodeStateVector, fromHex, toHex } from '../src/index.js';
import { REPO_ROOT, Rand, runs, state } from './helpers.js';

const FUZZ = join(REPO_ROOT, 'crdt', 'testdata', 'fuzz');

/** goBytes parses the []byte("...") line of a Go fuzz corpus file. */
function goBytes(src) {
  const m = src.match(/^\[\]byte\("((?:[^"\\]|\\.)*)"\)$/m);
  if (!m) return null;
  const out = [];
  const s = m[1];
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '\\') {
      out.push(...new TextEncoder().encode(s[i]));
      continue;
    }
    const c = s[++i];
    const simple = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, '"': 34, "'": 39 };
    if (c in simple) out.push(simple[c]);
    else if (c === 'x') {
      out.push(parseInt(s.substr(i + 1, 2), 16));
      i += 2;
    } else if (c >= '0' && c <= '7') {
      out.push(parseInt(s.substr(i, 3), 8));
      i += 2;
    } else if (c === 'u' || c === 'U') {
      const n = c === 'u' ? 4 : 8;
      out.push(...new TextEncoder().encode(String.fromCodePoint(parseInt(s.substr(i + 1, n), 16))));
      i += n;
    } else throw new Error(`unknown escape \\${c}`);
  }
  return Uint8Array.from(out);
}

function corpus(target) {
  const dir = join(FUZZ, target);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .map((f) => [f, goBytes(readFileSync(join(dir, f), 'utf8'))])
    .filter(([, b]) => b !== null);
}

/** populated returns a doc holding texts, a map, tombstones and a pending change. */
function populated() {
  const a = new Doc({ clientID: 1 });
  const b = new Doc({ clientID: 2 });
  b.apply(a.getText('text').insert(0, 'héllo wörld 😀'));
  b.getText('text').delete(2, 3);
  b.getMap('meta').set('title', 'x');
  b.getText('body').insert(0, 'abc');
  const later = a.getText('text').insert(3, 'Z');
  a.getText('text').insert(0, 'pending');
  b.apply(a.getText('text').insert(0, 'P')); // waits for the clocks before it
  assert.ok(b.hasPending());
  void later;
  return b;
}

/** checkApply applies bytes to doc: success, or our error and no change. */
function checkApply(doc, bytes, what) {
  const before = state(doc);
  try {
    doc.apply(bytes);
  } catch (e) {
    assert.ok(e instanceof DecodeError || e instanceof InvalidUpdateError, `${what}: threw ${e && e.stack}`);
    assert.deepEqual(state(doc), before, `${what}: a failed apply changed the doc`);
    return false;
  }
  // Success: the document is still consistent: its snapshot loads back.
  const s = doc.snapshot();
  const copy = new Doc({ clientID: 77 });
  copy.apply(s);
  assert.equal(toHex(copy.snapshot()), toHex(s), `${what}: snapshot does not re-encode`);
  return true;
}

test('Go fuzz corpus: FuzzApplyUpdate and FuzzApplyPopulated inputs', () => {
  const inputs = [...corpus('FuzzApplyUpdate'), ...corpus('FuzzApplyPopulated')];
  assert.ok(inputs.length > 0, 'no corpus found');
  for (const [name, bytes] of inputs) {
    checkApply(new Doc({ clientID: 9 }), bytes, `fresh ${name}`);
    checkApply(populated(), bytes, `populated ${name}`);
  }
});

test('Go fuzz corpus: FuzzDecodeStateVector inputs decode or throw DecodeError', () => {
  for (const [name, bytes] of corpus('FuzzDecodeStateVector')) {
    try {
      const sv = decodeStateVector(bytes);
      for (const [c, k] of sv) assert.ok(Number.isSafeInteger(c) && k > 0 && k <= 2 ** 53, name);
    } catch (e) {
      assert.ok(e instanceof DecodeError, `${name}: threw ${e}`);
    }
  }
});

test('corrupted vector updates: byte changes and truncations', () => {
  const vectors = JSON.parse(readFileSync(join(REPO_ROOT, 'crdt', 'testdata', 'vectors.json'), 'utf8'));
  const seeds = [];
  for (const sc of vectors.scenarios) {
    for (const u of sc.updates) if (u.size < 200) seeds.push([`${sc.name}/${u.id}`, fromHex(u.hex)]);
  }
  let accepted = 0;
  let rejected = 0;
  const mutations = [0x00, 0x01, 0x7f, 0x80, 0xc0, 0xc1, 0xcc, 0xcf, 0xd0, 0xff];
  for (const [name, seed] of seeds.slice(0, 60)) {
    for (let i = 0; i < seed.length; i++) {
      for (const m of [...mutations, seed[i] ^ 1, (seed[i] + 1) & 0xff]) {
        if (m === seed[i]) continue;
        const b = seed.slice();
        b[i] = m;
        if (checkApply(new Doc({ clientID: 9 }), b, `${name} byte ${i} = ${m}`)) accepted++;
        else rejected++;
      }
      if (checkApply(new Doc({ clientID: 9 }), seed.subarray(0, i), `${name} truncated at ${i}`)) accepted++;
      else rejected++;
    }
  }
  assert.ok(rejected > 0 && accepted > 0, `accepted ${accepted}, rejected ${rejected}`);
});

/** consistent checks that doc's texts agree with their lengths and that its snapshot loads back to itself. */
function consistent(doc, what) {
  for (const n of doc.textNames()) {
    const t = doc.getText(n);
    assert.equal(t.toString().length, t.length, `${what}: text ${n}: toString and length disagree`);
  }
  const s = doc.snapshot();
  const copy = new Doc({ clientID: 77 });
  copy.apply(s);
  assert.equal(toHex(copy.snapshot()), toHex(s), `${what}: the snapshot does not load back`);
}

test('sequences: two histories under each client ID, mutated and repeated, in random order', () => {
  // Seeds 1–10 every day; CRDT_SEED and CRDT_RUNS for a longer hunt.
  const base = Number(process.env.CRDT_SEED ?? 1);
  for (let seed = base; seed < base + runs(10); seed++) {
    const rng = new Rand(seed);
    // Two copies of each of three client IDs, each writing its own history;
    // copies hear the other IDs' updates, never their twin's.
    const writers = [];
    for (const id of [5, 300, 2 ** 53 - 1]) for (let k = 0; k < 2; k++) writers.push(new Doc({ clientID: id }));
    const made = [];
    for (let step = 0; step < 60; step++) {
      const w = writers[rng.intn(writers.length)];
      const t = w.getText(rng.intn(4) === 0 ? 'b' : 'a');
      let u;
      const k = rng.intn(10);
      if (k < 5 || t.length === 0) u = t.insert(rng.intn(t.length + 1), ['x', 'yz', 'é😀', 'hello'][rng.intn(4)]);
      else if (k < 8) u = t.delete(rng.intn(t.length), 1);
      else u = w.getMap('m').set(`k${rng.intn(3)}`, rng.intn(100));
      if (u === null) continue;
      made.push(u);
      for (const o of writers) {
        if (o.clientID === w.clientID) continue;
        try {
          o.apply(u);
        } catch (e) {
          assert.ok(e instanceof InvalidUpdateError, `seed ${seed}: a writer threw ${e && e.stack}`);
        }
      }
    }
    for (const w of writers) made.push(w.snapshot());
    const d = new Doc({ clientID: 9 });
    let accepted = 0;
    for (let step = 0; step < 150; step++) {
      let u = made[rng.intn(made.length)];
      const m = rng.intn(6);
      if (m === 0) {
        u = u.slice();
        u[rng.intn(u.length)] ^= 1 << rng.intn(8);
      } else if (m === 1) {
        u = u.slice();
        u[rng.intn(u.length)] = rng.intn(256);
      }
      if (checkApply(d, u, `seed ${seed} step ${step}`)) accepted++;
      consistent(d, `seed ${seed} step ${step}`);
    }
    assert.ok(accepted > 0, `seed ${seed}: nothing accepted`);
  }
});
