// Unit tests of the JS Doc: Unicode at the UTF-16 edge, errors,
// transactions, events, the map and out-of-order delivery.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Doc,
  DecodeError,
  InvalidUpdateError,
  toHex,
  fromHex,
  encodeStateVector,
  decodeStateVector,
  MAX_CLIENT_ID,
} from '../src/index.js';
import { checkClients } from './helpers.js';

/** sync applies every update of the list to each doc. */
function applyAll(doc, updates) {
  for (const u of updates) if (u) doc.apply(u);
}

/** collect records the deltas a text reports. */
function collect(text) {
  const evs = [];
  text.observe((ev) => evs.push(ev));
  return evs;
}

test('new Doc: random client IDs below 2^53, or the one given', () => {
  const a = new Doc();
  const b = new Doc();
  assert.ok(Number.isInteger(a.clientID) && a.clientID > 0 && a.clientID <= MAX_CLIENT_ID);
  assert.notEqual(a.clientID, b.clientID);
  assert.equal(new Doc({ clientID: 42 }).clientID, 42);
  assert.equal(new Doc({ clientID: MAX_CLIENT_ID }).clientID, MAX_CLIENT_ID);
  assert.throws(() => new Doc({ clientID: 2 ** 53 }), RangeError);
  assert.throws(() => new Doc({ clientID: -1 }), RangeError);
  assert.throws(() => new Doc({ clientID: 1.5 }), RangeError);
});

test('FORMAT.md §10.1–§10.3 examples, byte for byte', () => {
  const a = new Doc({ clientID: 1 });
  const b = new Doc({ clientID: 2 });
  const u1 = a.getText('text').insert(0, 'hi');
  assert.equal(toHex(u1), '9501919200a47465787491019091950000c403078101a2686990');
  b.apply(u1);
  const u2 = b.getText('text').insert(1, 'é');
  assert.equal(toHex(u2), '9501919200a4746578749201029091950100c40407310000a2c3a990');
  a.apply(u2);
  assert.equal(a.getText('text').toString(), 'héi');
  assert.equal(toHex(a.getText('text').delete(1, 2)), '950190920102929200c40201019201c402000190');
  assert.equal(a.getText('text').toString(), 'h');
});

test('emoji: one code point for the CRDT, two UTF-16 units for the API', () => {
  const a = new Doc({ clientID: 1 });
  const t = a.getText('t');
  t.insert(0, 'a😀b');
  assert.equal(t.length, 4);
  assert.deepEqual(a.stateVector(), new Map([[1, 3]]), 'three code points, three clocks');
  // Index 2 falls inside the pair: the insertion goes before it.
  const inside = t.insert(2, 'X');
  assert.equal(t.toString(), 'aX😀b');
  // The same edit made at the pair's start produces the same update.
  const b = new Doc({ clientID: 1 });
  b.getText('t').insert(0, 'a😀b');
  assert.deepEqual(b.getText('t').insert(1, 'X'), inside);
  // After the pair.
  t.insert(4, 'Y');
  assert.equal(t.toString(), 'aX😀Yb');
});

test('emoji: a delete that starts or ends inside a surrogate pair deletes the whole pair', () => {
  for (const [index, length, want] of [
    [1, 1, 'ab'], // the high surrogate only
    [2, 1, 'ab'], // the low surrogate only
    [2, 2, 'a'], // low surrogate and 'b'
    [0, 2, 'b'], // 'a' and the high surrogate
    [1, 2, 'ab'], // exactly the pair
  ]) {
    const d = new Doc({ clientID: 1 });
    const t = d.getText('t');
    t.insert(0, 'a😀b');
    const evs = collect(t);
    t.delete(index, length);
    assert.equal(t.toString(), want, `delete(${index}, ${length})`);
    // The delta reports what happened, in UTF-16 units.
    const del = evs[0].delta.find((op) => 'delete' in op).delete;
    assert.equal(del, 4 - want.length);
  }
});

test('ZWJ sequences, combining marks and CJK count code points on the wire', () => {
  const family = '👩\u200d👩\u200d👧'; // 5 code points, 8 UTF-16 units
  const accent = 'e\u0301'; // 2 code points
  const cjk = '中文字';
  const a = new Doc({ clientID: 7 });
  const t = a.getText('t');
  const u = t.insert(0, family + accent + cjk);
  assert.equal(t.length, 8 + 2 + 3);
  assert.equal(a.stateVector().get(7), 5 + 2 + 3);
  // The block's text is the UTF-8 of the whole string.
  const utf8 = toHex(new TextEncoder().encode(family + accent + cjk));
  assert.ok(toHex(u).includes(utf8));
  const b = new Doc({ clientID: 8 });
  b.apply(u);
  assert.equal(b.getText('t').toString(), family + accent + cjk);
  // Editing inside the ZWJ sequence at code point boundaries is allowed:
  // the text is code points, graphemes are the editor's business.
  b.getText('t').delete(2, 1); // the first ZWJ
  a.apply(b.getText('t').insert(9, '!'));
  a.apply(b.snapshot());
  assert.equal(a.getText('t').toString(), b.getText('t').toString());
  assert.equal(b.getText('t').toString(), '👩👩\u200d👧e\u0301!中文字');
});

test('remote deltas are in UTF-16 units', () => {
  const a = new Doc({ clientID: 1 });
  const b = new Doc({ clientID: 2 });
  const evs = collect(b.getText('t'));
  b.apply(a.getText('t').insert(0, '😀😀x'));
  b.apply(a.getText('t').delete(2, 2));
  b.apply(a.getText('t').insert(2, '中'));
  assert.deepEqual(
    evs.map((e) => e.delta),
    [[{ insert: '😀😀x' }], [{ retain: 2 }, { delete: 2 }], [{ retain: 2 }, { insert: '中' }]],
  );
  assert.ok(evs.every((e) => e.local === false));
  assert.equal(b.getText('t').toString(), '😀中x');
});

test('out-of-range positions and invalid strings throw and change nothing', () => {
  const d = new Doc({ clientID: 1 });
  const t = d.getText('t');
  t.insert(0, 'abc');
  const before = d.snapshot();
  assert.throws(() => t.insert(-1, 'x'), RangeError);
  assert.throws(() => t.insert(4, 'x'), RangeError);
  assert.throws(() => t.insert(1.5, 'x'), RangeError);
  assert.throws(() => t.insert(NaN, 'x'), RangeError);
  assert.throws(() => t.delete(0, 4), RangeError);
  assert.throws(() => t.delete(3, 1), RangeError);
  assert.throws(() => t.delete(-1, 1), RangeError);
  assert.throws(() => t.delete(0, -1), RangeError);
  assert.throws(() => t.insert(0, '\ud800'), TypeError, 'a lone high surrogate');
  assert.throws(() => t.insert(0, 'a\udc00'), TypeError, 'a lone low surrogate');
  assert.throws(() => t.insert(0, 5), TypeError);
  assert.throws(() => d.getMap('m').set('\ud800', 1), TypeError);
  assert.throws(() => d.getText('x'.repeat(1025)), TypeError);
  assert.throws(() => d.getText('\udfff'), TypeError);
  assert.equal(t.toString(), 'abc');
  assert.deepEqual(d.snapshot(), before);
  // Empty edits do nothing and return no update.
  assert.equal(t.insert(1, ''), null);
  assert.equal(t.delete(1, 0), null);
  assert.deepEqual(d.snapshot(), before);
});

test('transact returns one update for the batch', () => {
  const a = new Doc({ clientID: 1 });
  const t = a.getText('t');
  const m = a.getMap('m');
  let inner;
  const u = a.transact(() => {
    assert.equal(t.insert(0, 'hello'), null);
    assert.equal(m.set('k', 'v'), null);
    assert.equal(t.delete(0, 1), null);
    inner = a.transact(() => t.insert(0, 'J'));
  });
  assert.equal(inner, null, 'a nested transact returns null');
  assert.equal(t.toString(), 'Jello');
  const b = new Doc({ clientID: 2 });
  b.apply(u);
  assert.equal(b.getText('t').toString(), 'Jello');
  assert.equal(b.getMap('m').get('k'), 'v');
  assert.equal(a.transact(() => {}), null, 'no change, no update');
  assert.throws(() => a.transact(() => a.apply(u)), /inside transact/);
});

test('transact: edits made before a throw stay, and their update rides on the error', () => {
  const a = new Doc({ clientID: 1 });
  const t = a.getText('t');
  const err = new Error('boom');
  assert.throws(
    () =>
      a.transact(() => {
        t.insert(0, 'kept');
        throw err;
      }),
    err,
  );
  assert.equal(t.toString(), 'kept');
  const b = new Doc({ clientID: 2 });
  b.apply(err.update);
  assert.equal(b.getText('t').toString(), 'kept');
  // The doc is usable afterwards.
  assert.ok(t.insert(4, '!') instanceof Uint8Array);
});

test('change makes edits without an update; peers catch up by diff', () => {
  const a = new Doc({ clientID: 1 });
  const b = new Doc({ clientID: 2 });
  b.apply(a.getText('t').insert(0, 'ab'));
  assert.equal(a.change(() => a.getText('t').insert(2, 'cd')), undefined);
  b.apply(a.diff(b.stateVector()));
  b.apply(a.diff(encodeStateVector(b.stateVector())));
  assert.equal(b.getText('t').toString(), 'abcd');
});

test('observe: the FORMAT.md §5.5 local example and unsubscribe', () => {
  const d = new Doc({ clientID: 1 });
  const t = d.getText('t');
  t.insert(0, 'hello');
  const evs = [];
  const stop = t.observe((ev) => evs.push(ev));
  d.transact(() => {
    t.insert(5, '!');
    t.delete(0, 1);
    t.insert(0, 'J');
  });
  assert.deepEqual(evs, [{ delta: [{ delete: 1 }, { insert: 'J' }, { retain: 4 }, { insert: '!' }], local: true }]);
  // Text inserted and deleted again in one transaction: no event.
  d.transact(() => {
    t.insert(2, 'zz');
    t.delete(2, 2);
  });
  assert.equal(evs.length, 1);
  stop();
  t.insert(0, 'x');
  assert.equal(evs.length, 1);
});

test('an observer that throws does not lose the update or stop other observers', () => {
  const errors = [];
  const d = new Doc({ clientID: 1, onObserverError: (e) => errors.push(e) });
  const t = d.getText('t');
  let other = 0;
  t.observe(() => {
    throw new Error('observer bug');
  });
  t.observe(() => other++);
  const u = t.insert(0, 'x');
  assert.ok(u instanceof Uint8Array);
  assert.equal(other, 1);
  assert.equal(errors.length, 1);
  assert.match(errors[0].message, /observer bug/);
  assert.equal(t.insert(1, 'y') instanceof Uint8Array, true, 'the doc goes on');
});

test('map: last writer wins, by seq then client ID', () => {
  const a = new Doc({ clientID: 1 });
  const b = new Doc({ clientID: 2 });
  const ua = a.getMap('m').set('k', 'from a');
  const ub = b.getMap('m').set('k', 'from b');
  a.apply(ub);
  b.apply(ua);
  // Equal seq (1): the greater client ID wins.
  assert.equal(a.getMap('m').get('k'), 'from b');
  assert.equal(b.getMap('m').get('k'), 'from b');
  // A write that saw the current value (seq 2) beats it, even from client 1.
  const u2 = a.getMap('m').set('k', 'a again');
  b.apply(u2);
  assert.equal(b.getMap('m').get('k'), 'a again');
  assert.deepEqual(a.snapshot(), b.snapshot());
  // Delete.
  const evs = [];
  b.getMap('m').observe((ev) => evs.push(ev));
  b.apply(a.getMap('m').delete('k'));
  assert.equal(b.getMap('m').get('k'), undefined);
  assert.equal(b.getMap('m').has('k'), false);
  assert.deepEqual(b.getMap('m').keys(), []);
  assert.deepEqual(evs, [{ keys: ['k'], local: false }]);
  assert.equal(a.getMap('m').delete('k'), null, 'deleting an absent key does nothing');
  assert.equal(a.getMap('m').delete('never'), null);
});

test('map: values in their canonical encoding, raw values byte for byte', () => {
  const d = new Doc({ clientID: 1 });
  const m = d.getMap('m');
  const value = { z: 1, a: [1, 'two', null, true, 2.5], n: { y: -3, b: 'x' } };
  m.set('obj', value);
  assert.deepEqual(m.get('obj'), value);
  // Object keys are written sorted, so equal values give equal bytes.
  assert.equal(toHex(m.getRaw('obj')).slice(0, 4), '83a1'); // fixmap(3), key "a" first
  m.setRaw('raw', fromHex('cf0000010000000000')); // Go's encoding of int64 2^40
  assert.equal(m.get('raw'), 2 ** 40);
  assert.equal(toHex(m.getRaw('raw')), 'cf0000010000000000');
  assert.deepEqual(m.keys(), ['obj', 'raw']);
  assert.equal(m.size, 2);
  // A value nested deeper than the format allows is refused.
  let deep = 0;
  for (let i = 0; i < 70; i++) deep = [deep];
  assert.throws(() => m.set('deep', deep), TypeError);
  assert.throws(() => m.setRaw('bad', fromHex('c1')), TypeError);
  assert.throws(() => m.setRaw('two', fromHex('0102')), TypeError);
});

test('out-of-order delivery: pending until dependencies arrive, duplicates ignored', () => {
  const a = new Doc({ clientID: 1 });
  const t = a.getText('t');
  const u1 = t.insert(0, 'abc');
  const u2 = t.insert(3, 'def');
  const u3 = t.delete(1, 4);
  const u4 = a.getMap('m').set('k', 1);
  const b = new Doc({ clientID: 2 });
  const evs = collect(b.getText('t'));
  b.apply(u3);
  assert.equal(b.hasPending(), true, 'a delete of unseen clocks waits');
  b.apply(u4);
  b.apply(u2);
  assert.equal(b.hasPending(), true);
  assert.equal(b.getText('t').toString(), '');
  assert.deepEqual(b.stateVector(), new Map(), 'pending changes are not in the state vector');
  b.apply(u1);
  assert.equal(b.hasPending(), false);
  assert.equal(b.getText('t').toString(), 'af');
  assert.equal(b.getMap('m').get('k'), 1);
  assert.deepEqual(b.stateVector(), a.stateVector());
  assert.deepEqual(b.snapshot(), a.snapshot());
  assert.deepEqual(evs.map((e) => e.delta), [[{ insert: 'af' }]]);
  // Duplicates change nothing.
  for (const u of [u1, u2, u3, u4, a.snapshot()]) b.apply(u);
  assert.deepEqual(b.snapshot(), a.snapshot());
  assert.equal(evs.length, 1);
});

test('concurrent typing at the same place never interleaves', () => {
  const base = new Doc({ clientID: 1 });
  const u0 = base.getText('t').insert(0, '[]');
  const docs = [3, 2, 4].map((id) => {
    const d = new Doc({ clientID: id });
    d.apply(u0);
    return d;
  });
  const words = ['one', 'two', 'six'];
  const updates = [];
  docs.forEach((d, i) => {
    for (const ch of words[i]) updates.push(d.getText('t').insert(d.getText('t').length - 1, ch));
  });
  for (const d of docs) applyAll(d, updates);
  const s = docs[0].getText('t').toString();
  for (const d of docs) assert.equal(d.getText('t').toString(), s);
  // Same origins: the smaller client ID goes first.
  assert.equal(s, '[twoonesix]');
});

test('apply rejects hostile bytes with a clear error and leaves the doc unchanged', () => {
  const a = new Doc({ clientID: 1 });
  const good = a.getText('t').insert(0, 'hi');
  const cases = {
    empty: '',
    'not an array': '80',
    'four elements': '9401909090',
    'version 2': '95029090909090',
    'trailing byte': toHex(good) + '00',
    'signed integer': '95d001909090',
    'truncated': toHex(good).slice(0, -4),
    'nil': 'c0',
    'clients not ascending': '950190920201909000'.slice(0, 14) + '9090',
    'non-minimal varint in a delete column': '95019091019192' + '00c402' + '8000' + '90',
    'invalid UTF-8 text': '9501919200a47465787491019091950000c403078101a2c3289090'.slice(0, -4) + '90',
    'origin in a map': '',
  };
  delete cases['origin in a map'];
  const b = new Doc({ clientID: 2 });
  b.apply(good);
  const before = toHex(b.snapshot());
  for (const [name, hex] of Object.entries(cases)) {
    assert.throws(
      () => b.apply(fromHex(hex)),
      (e) => (e instanceof DecodeError || e instanceof InvalidUpdateError) && /^crdt: /.test(e.message),
      name,
    );
    assert.equal(toHex(b.snapshot()), before, `${name}: doc unchanged`);
  }
  assert.throws(() => b.apply('not bytes'), TypeError);
});

test('apply rejects an origin that names a map entry or another text', () => {
  // Client 1 writes a map entry (clock 0) and a text (clocks 1–2).
  const a = new Doc({ clientID: 1 });
  const um = a.getMap('m').set('k', 1);
  const ut = a.getText('t').insert(0, 'ab');
  // Client 2 claims to insert into "t" after 1:0, the map entry.
  const w = new Doc({ clientID: 2 });
  w.apply(um);
  w.apply(ut);
  const honest = toHex(w.getText('t').insert(0, 'X'));
  // The honest record has no left origin; rewrite its header to an explicit
  // left origin (client index 0, clock 0) with right "after left".
  // Build it by hand instead: parent 0, long text lm=2 (explicit) rm=1: 0x31.
  const forged = fromHex('9501919200a17492010290919501' + '00c404073100' + '00a158' + '90');
  const b = new Doc({ clientID: 3 });
  b.apply(um);
  b.apply(ut);
  const before = b.snapshot();
  assert.throws(() => b.apply(forged), InvalidUpdateError);
  assert.deepEqual(b.snapshot(), before);
  assert.ok(honest.length > 0);
  // The same record, valid once it names the text's own code point 1:1.
  b.apply(fromHex('9501919200a17492010290919501' + '00c404073100' + '01a158' + '90'));
  assert.equal(b.getText('t').toString(), 'aXb');
});

test('state vectors encode canonically and decode strictly', () => {
  const sv = new Map([
    [2, 1],
    [1, 3],
    [9, 0],
  ]);
  assert.equal(toHex(encodeStateVector(sv)), '8201030201');
  assert.deepEqual(decodeStateVector(fromHex('8201030201')), new Map([[1, 3], [2, 1]]));
  assert.equal(toHex(encodeStateVector(new Map())), '80');
  for (const bad of ['8202010101', '820101 0101', '810100', '90', '8101', '81cf002000000000000101', '810181'.slice(0, 4) + 'cf0020000000000001']) {
    assert.throws(() => decodeStateVector(fromHex(bad.replace(/ /g, ''))), DecodeError, bad);
  }
  // Big values round-trip exactly.
  const big = new Map([[2 ** 53 - 1, 2 ** 53]]);
  assert.deepEqual(decodeStateVector(encodeStateVector(big)), big);
});

test('diff sends exactly what a peer lacks, and the whole delete set', () => {
  const a = new Doc({ clientID: 1 });
  const b = new Doc({ clientID: 2 });
  b.apply(a.getText('t').insert(0, 'hello'));
  a.getText('t').insert(5, ' world');
  a.getText('t').delete(0, 1);
  const d = a.diff(b.stateVector());
  b.apply(d);
  assert.equal(b.getText('t').toString(), 'ello world');
  assert.equal(toHex(new Doc({ clientID: 3 }).diff()), '950190909090', 'an empty diff');
});

// Go's TestHintOfMergedHead (crdt/lookup_test.go): client 1<<32+5 types
// "a", a code point it deletes and "👍🏽" (clocks 0–3), then "aa" between
// clocks 1 and 2 (4–5), "a" between 4 and 5 (6) and "aa" between 1 and 4
// (7–8); a fresh replica gets these out of order, with deletes of clocks 0
// and 2. In Go the deleted heads merged into the tombstone before them and
// a stale lookup hint sent a later lookup to the wrong head; find here
// checks the clocks of the hinted head and the next, which must keep it
// right.
test('deletes arriving out of order leave no lookup on the wrong item (TestHintOfMergedHead)', () => {
  const updates = [
    '95019091cf0000000100000005919200c402020190',
    '9501919200a17491cf0000000100000005919200c402010191950000c403078103a961f09f918df09f8fbd90',
    '95019092cf0000000100000005cf001fffffffffffff929200c404000101019201c4020a0190',
    '9501919200a17491cf00000001000000059091950007c40407060603a2616190',
    '9501919200a17491cf00000001000000059091950006c403070002a16190',
    '9501919200a17491cf00000001000000059091950004c403070403a2616190',
  ];
  const d = new Doc({ clientID: 1000 });
  updates.forEach((h, i) => {
    d.apply(fromHex(h));
    checkClients(d, `update ${i}`);
  });
  assert.equal(d.getText('t').toString(), 'aaaaa🏽');
  const e = new Doc({ clientID: 1001 });
  e.apply(d.snapshot());
  assert.equal(toHex(e.snapshot()), toHex(d.snapshot()));
});

test('a snapshot leaves its document small encoder room; the shared spare writes the same bytes', () => {
  // Three documents of many runs (one-character inserts at random
  // positions), each snapshotted in turn, with keystrokes between: the
  // spare room passes from one to the next.
  const docs = [];
  let seed = 7;
  const rand = (n) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let i = 0; i < 3; i++) {
    const d = new Doc({ clientID: i + 1 });
    const t = d.getText('t');
    d.change(() => {
      for (let k = 0; k < 5000; k++) t.insert(rand(t.length + 1), 'é');
    });
    docs.push(d);
  }
  const replicas = docs.map((d) => {
    const r = new Doc({ clientID: 100 + d.clientID });
    r.apply(d.snapshot());
    return r;
  });
  for (let round = 0; round < 3; round++) {
    for (const [i, d] of docs.entries()) {
      const snap = d.snapshot();
      assert.ok(d.enc.recs.length <= 1024, `document ${i} keeps ${d.enc.recs.length} records`);
      assert.ok(
        d.enc.w.buf.length <= 32 << 10 && d.enc.col.buf.length <= 32 << 10 && d.enc.tw.buf.length <= 32 << 10,
        `document ${i} keeps its buffers`,
      );
      // What a replica writes of the same document, from its own room.
      assert.deepEqual(snap, replicas[i].snapshot(), `round ${round}, document ${i}`);
      const u = d.getText('t').insert(rand(d.getText('t').length + 1), 'x');
      replicas[i].apply(u);
    }
  }
});

/** heldRefs counts the references to a document that the encoder's kept records still hold. */
function heldRefs(enc) {
  let n = 0;
  for (const r of enc.recs) if (r.typ !== null || r.lc !== null || r.rc !== null || r.entry !== null) n++;
  return n;
}

test('the encoder keeps no reference to a document after an update, whatever it held', () => {
  // Text runs, a map entry and its deletion, marks (compact and not),
  // an embed live and deleted, two texts: every kind of record gathered.
  const d = new Doc({ clientID: 1 });
  const t = d.getText('t');
  const u = d.getText('u');
  const updates = [];
  updates.push(t.insert(0, 'hello world'));
  updates.push(d.getMap('m').set('k', 'v'));
  updates.push(d.getMap('m').set('gone', 1));
  updates.push(d.getMap('m').delete('gone'));
  updates.push(t.format(0, 5, 'bold', true));
  updates.push(t.insertEmbed(3, { image: 'a.png' }));
  updates.push(t.insertEmbed(1, { image: 'b.png' }));
  updates.push(t.delete(1, 1));
  updates.push(u.insert(0, 'second'));
  updates.push(t.format(2, 4, 'link', 'x'));
  for (const [i, x] of updates.entries()) {
    assert.ok(x !== null, `edit ${i} made an update`);
    assert.equal(heldRefs(d.enc), 0, `after edit ${i}`);
  }
  const snap = d.snapshot();
  assert.equal(heldRefs(d.enc), 0, 'after the snapshot');
  const e = new Doc({ clientID: 2 });
  e.apply(snap);
  assert.deepEqual(e.snapshot(), snap);
  assert.deepEqual(e.getText('t').toDelta(), t.toDelta());
  assert.equal(heldRefs(e.enc), 0, "after the replica's snapshot");
});

test("a diff of a one-Text document does not make a later edit of a new Text name the first", () => {
  // Encoding a document of one Text takes every text item to be of it; a
  // Text made after the diff must be named by its own edits.
  const d = new Doc({ clientID: 1 });
  d.getText('a').insert(0, 'first');
  const r = new Doc({ clientID: 2 });
  r.apply(d.snapshot());
  const u = d.getText('b').insert(0, 'second');
  r.apply(u);
  assert.equal(r.getText('a').toString(), 'first');
  assert.equal(r.getText('b').toString(), 'second');
  assert.deepEqual(r.snapshot(), d.snapshot());
  // A diff against a state vector goes the same way.
  const s = new Doc({ clientID: 3 });
  s.apply(d.diff(new Map()));
  s.apply(d.getText('b').insert(6, '!'));
  assert.equal(s.getText('b').toString(), 'second!');
  assert.equal(s.getText('a').toString(), 'first');
});
