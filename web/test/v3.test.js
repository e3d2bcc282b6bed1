// Format version 3 (compact marks): the canonical choice between a compact
// mark and the two records of version 2, continuations, delete ranges
// bridged across the update's own anchors, every refusal of the decoder,
// and version 2 updates (crdt/testdata/*-v2.json, recorded before version
// 3) that still load to the recorded documents.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decode, encode } from '@msgpack/msgpack';
import { Doc, DecodeError, toHex, fromHex } from '../src/index.js';
import { REPO_ROOT, json, permutations } from './helpers.js';

/** op is an expected delta op with attributes given as alternating keys and values. */
function op(insert, ...kv) {
  if (kv.length === 0) return { insert };
  const attributes = {};
  for (let i = 0; i < kv.length; i += 2) attributes[kv[i]] = kv[i + 1];
  return { insert, attributes };
}

/** varints returns the LEB128 bytes of each value (numbers or BigInts). */
function varints(...vs) {
  const out = [];
  for (let v of vs) {
    v = BigInt(v);
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
  }
  return out;
}

/**
 * update builds an update of client 1 in text "t": one block from clock
 * with record column col (varints), text, entries, delete ranges del of
 * client 1 (flat [start, end, …]) and, unless version is below 3, the
 * mark table marks (arrays [key, expand] or [key, expand, value]).
 */
function update({ version = 3, clock = 6, col, text = '', entries = [], del = [], marks = [['bold', 1, true]], length }) {
  const ds = [];
  let prev = 0;
  for (let i = 0; i < del.length; i += 2) {
    ds.push(...varints(del[i] - prev, del[i + 1] - del[i]));
    prev = del[i + 1];
  }
  const top = [version, [[0, 't']], [1], del.length > 0 ? [[0, Uint8Array.from(ds)]] : [], [[0, clock, Uint8Array.from(col), text, entries]]];
  if (length === undefined ? version === 3 : length === 6) top.push(marks);
  return encode(top);
}

/** base returns a document holding client 1's "abcdef" at clocks 0–5. */
function base() {
  const a = new Doc({ clientID: 1 });
  a.getText('t').insert(0, 'abcdef');
  const d = new Doc({ clientID: 2 });
  d.apply(a.snapshot());
  return d;
}

// A valid compact mark at clock 6: start between "b" (1,1) and "c" (1,2),
// d = 5 and after left; end between "d" (1,3) and "e" (1,4), z = zigzag(1),
// erm 1. "cd" is bold.
const MARK = [0x07, 0x43, 0x50, 0x09];

test('a hand-made compact mark applies, and encodes back to the same bytes', () => {
  const d = base();
  assert.equal(d.getText('t').toString(), 'abcdef');
  const u = update({ col: MARK });
  d.apply(u);
  assert.deepEqual(d.getText('t').toDelta(), [op('ab'), op('cd', 'bold', true), op('ef')]);
  const e = new Doc({ clientID: 1 });
  e.apply(d.snapshot());
  assert.equal(toHex(e.diff(new Map([[1, 6]]))), toHex(u));
});

test('every malformed version 3 update is refused with a clear error, and the document is unchanged', () => {
  const big = 2n ** 53n;
  const cases = [
    // [name, message, bytes]
    ['version 3 with 5 elements', /version 3 is an array of 6/, update({ col: MARK, length: 5 })],
    ['version 2 with 6 elements', /version 2 is an array of 5/, update({ version: 2, col: MARK, length: 6 })],
    ['a mark in a version 2 update', /bad rich record header/, update({ version: 2, col: MARK })],
    ['marks not sorted', /not in ascending order/, update({ col: MARK, marks: [['em', 1, true], ['bold', 1, true]] })],
    ['marks duplicated', /not in ascending order/, update({ col: MARK, marks: [['bold', 1, true], ['bold', 1, true]] })],
    ['removal after a value', /not in ascending order/, update({ col: MARK, marks: [['bold', 1, true], ['bold', 1]] })],
    ['value bytes not ascending', /not in ascending order/, update({ col: MARK, marks: [['a', 0, 'ab'], ['a', 0, 'a']] })],
    ['expand 2', /reserved expand rule 2/, update({ col: MARK, marks: [['bold', 2, true]] })],
    ['expand 3', /reserved expand rule 3/, update({ col: MARK, marks: [['bold', 3, true]] })],
    ['a nil value', /of value nil/, update({ col: MARK, marks: [['bold', 1, null]] })],
    ['a kind of 4 elements', /\[key, expand, value\?\]/, update({ col: MARK, marks: [['bold', 1, true, 1]] })],
    ['a key not valid UTF-8', /not valid UTF-8/, fixKey(update({ col: MARK, marks: [['bol\u00e9', 1, true]] }))],
    ['p = 4', /reserved record payload 4/, update({ col: [0x07, 0x23, 0x50, 0x09] })],
    ['p = 16', /reserved record payload 16/, update({ col: [0x07, ...varints(3 + 16 * 8), 0x50, 0x09] })],
    ['p = 20', /reserved record payload 20/, update({ col: [0x07, ...varints(3 + 20 * 8), 0x50, 0x09] })],
    ['p = 12 first in the block', /continued mark not right after a text record/, update({ col: [0x07, 0x63, 0x50, 0x09, 0x00] })],
    ['p = 12 after a mark', /continued mark not right after a text record/, update({ col: [...MARK, 0x63, 0x50, 0x09, 0x00] })],
    ['p = 12 after a parent', /continued mark not right after a text record/, update({ col: [0x07, 0x19, 0x07, 0x63, 0x50, 0x09, 0x00], text: 'x' })],
    ['d = 0', /bad origins of a start anchor/, update({ col: [0x07, 0x43, 0x00, 0x09] })],
    ['d > k', /bad origins of a start anchor/, update({ col: [0x07, 0x43, ...varints(7 * 16), 0x09] })],
    ['s = 0 with d = 1', /bad origins of a start anchor/, update({ col: [0x07, 0x43, 0x10, 0x09] })],
    ['kind index past the table', /mark kind 1 out of range/, update({ col: [0x07, 0x43, 0x51, 0x09] })],
    ['kind index 7 + x past the table', /mark kind 9 out of range/, update({ col: [0x07, 0x43, 0x57, 0x02, 0x09] })],
    ['start right at k', /bad origins of a start anchor/, update({ col: [0x07, 0x43, 0x58, ...varints(2 * 4), 0x09] })],
    ['start right below 0', /bad origins of a start anchor/, update({ col: [0x07, 0x43, 0x58, ...varints(2 * 3 - 1), 0x09] })],
    ['end left past k', /bad origins of an end anchor/, update({ col: [0x07, 0x43, 0x50, ...varints(2 * 5 * 4 + 0)] })],
    ['end left below 0', /bad origins of an end anchor/, update({ col: [0x07, 0x43, 0x50, ...varints((2 * 3 - 1) * 4 + 0)] })],
    ['erm 3', /reserved end right mode 3/, update({ col: [0x07, 0x43, 0x50, 0x0b] })],
    ['erm 1 with j = k', /bad origins of an end anchor/, update({ col: [0x07, 0x43, 0x50, ...varints(2 * 4 * 4 + 1)] })],
    ['f = 0', /bad origins of an end anchor/, update({ col: [0x07, 0x43, 0x50, 0x0a, 0x00] })],
    ['f > k + 1', /bad origins of an end anchor/, update({ col: [0x07, 0x43, 0x50, 0x0a, 0x08] })],
    ['A above 2^53 − 1', /exceeds/, update({ col: [0x07, 0x43, ...varints(big), 0x09] })],
    ['B above 2^53 − 1', /exceeds/, update({ col: [0x07, 0x43, 0x50, ...varints(big + 1n)] })],
    ['x above 2^53 − 1', /exceeds/, update({ col: [0x07, 0x43, 0x57, ...varints(big), 0x09] })],
    ['e above 2^53 − 1', /exceeds/, update({ col: [0x07, 0x43, 0x58, ...varints(big), 0x09] })],
    ['f above 2^53 − 1', /exceeds/, update({ col: [0x07, 0x43, 0x50, 0x0a, ...varints(big)] })],
    [
      'implied text running out of text',
      /text shorter than its records/,
      update({ col: [0x07, 0x19, 0x63, 0x50, 0x09, 0x02], text: 'xy' }),
    ],
    ['a mark outside a text', /outside a text/, update({ col: [0x43, 0x50, 0x09] })],
    ['a mark past 2^53', /clock past 2\^53/, update({ clock: 2 ** 53 - 1, col: [0x07, 0x43, 0x50, 0x09] })],
  ];
  for (const [name, msg, bytes] of cases) {
    const d = base();
    const before = toHex(d.snapshot());
    assert.throws(() => d.apply(bytes), (err) => err instanceof DecodeError && msg.test(err.message), `${name}: ${msg}`);
    assert.equal(toHex(d.snapshot()), before, `${name}: the document changed`);
    assert.equal(d.hasPending(), false, name);
  }
});

/** fixKey turns the é (c3 a9) of a mark key into the invalid byte pair c3 41. */
function fixKey(b) {
  const out = b.slice();
  for (let i = 0; i + 1 < out.length; i++) {
    if (out[i] === 0xc3 && out[i + 1] === 0xa9) out[i + 1] = 0x41;
  }
  return out;
}

test('a compact mark takes seq prevSeq + 1, and the key, value and rule of its kind', () => {
  // A version 2 start anchor of seq 4 after "a" with ["link", "u"], its
  // end at the end of the text, then a compact mark of kind 1 around "c":
  // seq 5, so "v" wins over "u" there.
  const d = base();
  const start = [...varints(3 + (1 + 1 * 4 + 1 * 16) * 8), 0x06, 0x04]; // lm delta 6, rm after left, seq 4
  const end = [0x33, 0x02]; // lm delta 2 ("f"), no right origin
  const mark = [0x43, ...varints(7 * 16 + 1), 0x01]; // left "b", after left; end left "c", erm 1
  d.apply(update({ col: [0x07, ...start, ...end, ...mark], entries: [['link', 'u']], marks: [['link', 0], ['link', 0, 'v']] }));
  assert.deepEqual(d.getText('t').toDelta(), [op('a'), op('b', 'link', 'u'), op('c', 'link', 'v'), op('def', 'link', 'u')]);
  // Typing at the end of "c" is not linked by "v" (expand none, from its kind).
  d.getText('t').insert(3, 'X');
  assert.deepEqual(d.getText('t').toDelta(), [op('a'), op('b', 'link', 'u'), op('c', 'link', 'v'), op('Xdef', 'link', 'u')]);
});

/** kindsOf returns the keys of the mark table of version 3 update u. */
function kindsOf(u) {
  const top = decode(u);
  assert.equal(top[0], 3);
  return top[5].map((k) => k[0]);
}

/** replicas returns docs of clients 1 and 2, client 1 having typed s. */
function replicas(s) {
  const a = new Doc({ clientID: 1 });
  a.getText('t').insert(0, s);
  const b = new Doc({ clientID: 2 });
  b.apply(a.snapshot());
  return [a, b];
}

/** typeFrom has b insert s at pos and a receive it. */
function typeFrom(b, a, pos, s) {
  a.apply(b.getText('t').insert(pos, s));
}

test('a mark is compact exactly when conditions (i)–(v) hold, else the two records of version 2', () => {
  const cases = [
    // [name, compact, build: returns the doc whose snapshot is checked]
    ['all hold', true, () => {
      const [a] = replicas('abc');
      a.getText('t').format(1, 1, 'bold', true);
      return a;
    }],
    ['(i) no left origin', false, () => {
      const [a] = replicas('abc');
      a.getText('t').format(0, 1, 'bold', true);
      return a;
    }],
    ['(ii) start right origin of another client', false, () => {
      const [a, b] = replicas('ab');
      typeFrom(b, a, 1, 'X');
      a.getText('t').insert(3, 'c');
      a.getText('t').format(1, 2, 'bold', true);
      return a;
    }],
    ['(iii) end left origin of another client', false, () => {
      const [a, b] = replicas('ab');
      typeFrom(b, a, 2, 'X');
      a.getText('t').insert(3, 'c');
      a.getText('t').format(1, 2, 'bold', true);
      return a;
    }],
    ['(iv) end right origin of another client', false, () => {
      const [a, b] = replicas('abc');
      typeFrom(b, a, 2, 'X');
      a.getText('t').format(1, 1, 'bold', true);
      return a;
    }],
    ['(iv) holds with no end right origin', true, () => {
      const [a] = replicas('abc');
      a.getText('t').format(1, 2, 'bold', true);
      return a;
    }],
    ['(v) the first mark of a block with seq 2', false, () => {
      const [a, b] = replicas('abcd');
      a.apply(b.getText('t').format(2, 1, 'italic', true));
      a.getText('t').format(1, 1, 'bold', true);
      return a;
    }],
  ];
  for (const [name, compact, build] of cases) {
    const d = build();
    const want = compact ? ['bold'] : [];
    const snap = d.snapshot();
    assert.deepEqual(kindsOf(snap).filter((k) => k === 'bold'), want, name);
    // Whichever form, the snapshot loads to the same document.
    const e = new Doc({ clientID: 9 });
    e.apply(snap);
    assert.deepEqual(e.getText('t').toDelta(), d.getText('t').toDelta(), name);
    assert.equal(toHex(e.snapshot()), toHex(snap), name);
  }
  // (v) in an update: a second format's seq is 2, and its block holds no
  // earlier start anchor.
  const [a] = replicas('abcd');
  const x = a.getText('t');
  assert.deepEqual(kindsOf(x.format(1, 1, 'bold', true)), ['bold']);
  assert.deepEqual(kindsOf(x.format(2, 1, 'italic', true)), []);
  // Both in one block (the snapshot): seqs 1, 2 follow each other.
  assert.deepEqual(kindsOf(a.snapshot()), ['bold', 'italic']);
});

test('a compact mark takes the next text record when it goes on where the one before stopped', () => {
  const d = new Doc({ clientID: 1 });
  const x = d.getText('t');
  x.insert(0, 'abc');
  x.format(1, 1, 'bold', true);
  x.insert(3, 'def');
  // 07 | 81 02: "abc" | 63 30 01 02: the mark (d 3, after left; end on
  // "b", erm 1) with "def" implied | 90: no entries | [["bold", 1, true]]
  const one = '9603919200a17491019091950000c40707810263300102a6616263646566909193a4626f6c6401c3';
  assert.equal(toHex(d.snapshot()), one);
  // mark, text, mark, text: the implied "def" is the record before the second mark.
  x.format(4, 1, 'bold', true);
  x.insert(6, 'ghi');
  const two = '9603919200a17491019091950000c40b0781026330010263300102a9616263646566676869909193a4626f6c6401c3';
  assert.equal(toHex(d.snapshot()), two);
  for (const snap of [one, two]) {
    const e = new Doc({ clientID: 2 });
    e.apply(fromHex(snap));
    assert.equal(toHex(e.snapshot()), snap);
  }
  assert.deepEqual(x.toDelta(), [op('a'), op('b', 'bold', true), op('cd'), op('e', 'bold', true), op('fghi')]);
  // Text typed inside the mark's gap has another left origin: no
  // continuation (p = 8): "Z" is a record of its own (02 04 01: left "b",
  // right the end anchor).
  const f = new Doc({ clientID: 1 });
  const y = f.getText('t');
  y.insert(0, 'abc');
  y.format(1, 1, 'bold', true);
  y.insert(2, 'Z');
  assert.equal(toHex(f.snapshot()), '9603919200a17491019091950000c409078102433001020401a46162635a909193a4626f6c6401c3');
  assert.deepEqual(y.toDelta(), [op('a'), op('bZ', 'bold', true), op('c')]);
});

test('delete ranges are merged across the anchors of the update itself', () => {
  const d = new Doc({ clientID: 1 });
  const x = d.getText('t');
  x.insert(0, 'abc');
  x.format(1, 1, 'bold', true); // anchors at clocks 3, 4
  x.insert(3, 'def');
  const del = x.delete(0, 6);
  // The deletion alone holds no anchors: [0, 3) and [5, 8), version 1.
  assert.equal(toHex(del), '9501909101919200c40400030203' + '90');
  // The snapshot holds them: one range [0, 8).
  const snap = d.snapshot();
  assert.match(toHex(snap), /^9603919200a1749101919200c4020008/);
  // A diff holding only clocks 5–7 bridges nothing.
  const diff = d.diff(new Map([[1, 5]]));
  assert.match(toHex(diff), /^9501919200a1749101919200c40400030203/);
  // A transaction writing the anchors and deleting around them bridges them.
  const e = new Doc({ clientID: 1 });
  const y = e.getText('t');
  const u = e.transact(() => {
    y.insert(0, 'abc');
    y.format(1, 1, 'bold', true);
    y.insert(3, 'def');
    y.delete(0, 6);
  });
  assert.match(toHex(u), /^9603919200a1749101919200c4020008/);
  for (const b of [snap, u]) {
    const f = new Doc({ clientID: 2 });
    f.apply(b);
    assert.equal(f.getText('t').toString(), '');
    assert.equal(toHex(f.snapshot()), toHex(snap));
  }
  // A range over an anchor the receiver already holds leaves it as it is.
  const g = new Doc({ clientID: 2 });
  g.apply(e.diff(new Map([[1, 0]])));
  g.apply(fromHex('9501909101919200c4020008' + '90'));
  assert.equal(toHex(g.snapshot()), toHex(snap));
});

test('version 2 vectors (rich-v2.json) still load: every delivery order gives the recorded delta', () => {
  const v2 = JSON.parse(readFileSync(join(REPO_ROOT, 'crdt', 'testdata', 'rich-v2.json'), 'utf8'));
  assert.ok(v2.scenarios.length >= 14);
  let old = 0;
  for (const sc of v2.scenarios) {
    const updates = sc.replicas.map((r) => fromHex(r.update));
    old += updates.filter((u) => u[1] === 2).length;
    let merged = null;
    for (const order of permutations(updates.length)) {
      const d = new Doc({ clientID: sc.merge_client });
      d.apply(fromHex(sc.base_snapshot));
      for (const k of order) d.apply(updates[k]);
      assert.deepEqual(json(d.getText('t').toDelta()), sc.want, `${sc.name}: delta, order ${order}`);
      const snap = toHex(d.snapshot());
      if (merged !== null) assert.equal(snap, merged, `${sc.name}: snapshot, order ${order}`);
      merged = snap;
    }
    // The recorded version 2 snapshot loads to the same document, which
    // writes it in version 3.
    const e = new Doc({ clientID: 9 });
    e.apply(fromHex(sc.snapshot));
    assert.deepEqual(json(e.getText('t').toDelta()), sc.want, `${sc.name}: loaded delta`);
    assert.equal(toHex(e.snapshot()), merged, `${sc.name}: loaded snapshot`);
  }
  assert.ok(old > 0, 'no version 2 update in the vectors');
});

test('version 2 vectors (richdelta-v2.json) still load: a remote replica gets the recorded events and deltas', () => {
  const v2 = JSON.parse(readFileSync(join(REPO_ROOT, 'crdt', 'testdata', 'richdelta-v2.json'), 'utf8'));
  assert.ok(v2.cases.length >= 8);
  for (const c of v2.cases) {
    const b = new Doc({ clientID: c.remote_client });
    b.apply(fromHex(c.base_snapshot));
    let events = [];
    b.getText('t').observe((e) => events.push(e.delta));
    c.steps.forEach((s, i) => {
      events = [];
      if (s.update !== undefined) b.apply(fromHex(s.update));
      assert.deepEqual(json(events), s.remote_events, `${c.name}: step ${i}: remote events`);
      assert.deepEqual(json(b.getText('t').toDelta()), s.remote_want, `${c.name}: step ${i}: remote delta`);
    });
    const e = new Doc({ clientID: 9 });
    e.apply(fromHex(c.snapshot));
    assert.equal(toHex(e.snapshot()), toHex(b.snapshot()), `${c.name}: the recorded snapshot against the replayed one`);
  }
});

test('corrupted version 3 snapshots are refused whole or load consistently', () => {
  // Nine kinds (indices past 7 take the x operand), marks with and
  // without continuation, a removal, and deletions bridged across anchors.
  const d = new Doc({ clientID: 1 });
  const x = d.getText('t');
  x.insert(0, 'abc');
  for (let i = 0; i < 9; i++) {
    x.format(x.length - 2, 1, `k${i}`, i % 3 === 0 ? null : i);
    x.insert(x.length, i % 4 === 3 ? '\n' : 'de'); // typed on: a continuation
    if (i % 4 === 3) x.insert(0, 'X'); // not typed on
  }
  x.format(2, 6, 'link', 'u');
  x.delete(3, 8);
  const seed = d.snapshot();
  const kinds = kindsOf(seed);
  assert.ok(kinds.length > 8, `${kinds.length} kinds`);
  const col = decode(seed)[4][0][2];
  assert.ok(col.includes(0x63) && col.includes(0x43), `column ${toHex(col)}: no mark with continuation, or none without`);
  let refused = 0;
  let accepted = 0;
  for (let i = 0; i < seed.length; i++) {
    for (const v of [seed[i] ^ 0x01, seed[i] ^ 0x80, (seed[i] + 1) & 0xff, 0x00, 0x63, 0x43, 0x90]) {
      const mut = seed.slice();
      mut[i] = v;
      const e = new Doc({ clientID: 2 });
      try {
        e.apply(mut);
      } catch (err) {
        assert.ok(err instanceof DecodeError || err.name === 'InvalidUpdateError', `byte ${i} = ${v}: ${err}`);
        assert.equal(toHex(e.snapshot()), '950190909090', `byte ${i} = ${v}: a refused update changed the document`);
        refused++;
        continue;
      }
      accepted++;
      const f = new Doc({ clientID: 3 });
      f.apply(e.snapshot());
      assert.deepEqual(f.getText('t').toDelta(), e.getText('t').toDelta(), `byte ${i} = ${v}: reloaded delta`);
      assert.equal(toHex(f.snapshot()), toHex(e.snapshot()), `byte ${i} = ${v}: reloaded snapshot`);
    }
  }
  assert.ok(refused > 0 && accepted > 0, `${refused} refused, ${accepted} accepted`);
});
