// cost-bench.mjs — the cost bounds of issue 11 for the JS Doc, each hostile
// or unlucky case beside its well-behaved twin (the Go twins are the
// BenchmarkCost* benchmarks of package crdt):
//
//   far-apart   256 updates of 100 one-code-point records whose origins lie
//               far apart in a 100,000-code-point fragmented text, applied
//               one after the other to a freshly loaded copy, against
//               keystrokes at random positions of the same text (per
//               record). Each update names other origins, so that its
//               records do not pile up as siblings of those before. The
//               first update after a load pays for the bounds of every leaf
//               (computed when a scan first needs them, O(n) once, as in
//               Go); the 256 share it, as in BenchmarkCostFarApartOrigins;
//   reversed    20,000 keystrokes (a fifth of them backspaces) applied in
//               reverse, every one but the last waiting for those before
//               it, against the same in order (whole run);
//   pending     an update of 1,000 delete ranges of an unseen client applied
//               1,000 times to one document, against once to a fresh one
//               (per apply);
//   observed    the snapshot of a 50,000-piece text loaded into a Doc whose
//               Text is observed, against one whose Text is not;
//   waiting     5,000 keystrokes of one client applied to a Doc where
//               10,000 other clients each have a record waiting for a clock
//               that never comes, against one where none waits (per apply).
//
// Usage (from web/): node bench/cost-bench.mjs [--runs 5] [--only far-apart,observed]
// Each figure is the best of --runs runs.

import { Doc } from '../src/index.js';
import { Writer } from '../src/codec.js';

const args = process.argv.slice(2);
const flag = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const runs = Number(flag('runs', 5));
const only = flag('only', 'far-apart,reversed,pending,observed,waiting').split(',');

// A fixed-seed xorshift, so that every run builds the same documents.
let seed = 12345;
const rand = (n) => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
};

/** fragmented returns the snapshot of a text of n code points typed one at a time at random positions by client 1. */
function fragmented(n) {
  const d = new Doc({ clientID: 1 });
  const t = d.getText('t');
  d.change(() => {
    for (let i = 0; i < n; i++) t.insert(rand(t.length + 1), 'x');
  });
  return d.snapshot();
}

/** best returns the least time fn takes over the runs, in ms; setup runs untimed before each. */
function best(setup, fn) {
  let ms = Infinity;
  for (let r = 0; r < runs; r++) {
    const x = setup();
    const t0 = performance.now();
    fn(x);
    ms = Math.min(ms, performance.now() - t0);
  }
  return ms;
}

/**
 * farApart writes the k-th update of 100 records of client, at clocks
 * 0–99, whose left origin is clock j = 100k + i of client 1 and right
 * origin clock 99,999 − j: the FORMAT.md §7 scan between them covers most
 * of the text.
 */
function farApart(client, k) {
  const col = new Writer();
  col.varint(7); // parent: type 0
  for (let i = 0; i < 100; i++) {
    const j = 100 * k + i;
    col.varint(1 | (2 << 3) | (3 << 5)); // long text, explicit left and right, n = 1
    col.varint(0);
    col.varint(j);
    col.varint(0);
    col.varint(99_999 - j);
  }
  const w = new Writer();
  w.arrayLen(5);
  w.uint(1);
  w.arrayLen(1);
  w.arrayLen(2);
  w.uint(0);
  w.str('t');
  w.arrayLen(2);
  w.uint(1);
  w.uint(client);
  w.arrayLen(0);
  w.arrayLen(1);
  w.arrayLen(5);
  w.uint(1);
  w.uint(0);
  const c = col.take();
  w.binHeader(c.length);
  w.bytes(c);
  w.str('x'.repeat(100));
  w.arrayLen(0);
  return w.take();
}

const out = [];
const report = (name, bad, good, unit) => out.push(`${name}: ${bad.toFixed(3)} ${unit} against ${good.toFixed(3)} ${unit} (${(bad / good).toFixed(1)}×)`);

if (only.includes('far-apart')) {
  const snap = fragmented(100_000);
  const load = () => {
    const d = new Doc({ clientID: 2 });
    d.apply(snap);
    return d;
  };
  const hostile = Array.from({ length: 256 }, (_, k) => farApart(1000 + k, k));
  const src = load();
  const keys = Array.from({ length: 2000 }, () => src.getText('t').insert(rand(src.getText('t').length + 1), 'k'));
  const perRecordHostile = best(load, (d) => hostile.forEach((u) => d.apply(u))) / (hostile.length * 100);
  const perKeystroke = best(load, (d) => keys.forEach((u) => d.apply(u))) / keys.length;
  report('far-apart origins, per record', perRecordHostile, perKeystroke, 'ms');
}

if (only.includes('reversed')) {
  const d = new Doc({ clientID: 5 });
  const t = d.getText('t');
  const ups = [];
  while (ups.length < 20_000) {
    if (rand(5) === 0 && t.length > 0) ups.push(t.delete(t.length - 1, 1));
    else ups.push(t.insert(t.length, String.fromCharCode(97 + rand(26))));
  }
  const run = (order) => () => {
    const r = new Doc({ clientID: 6 });
    for (const u of order) r.apply(u);
    if (r.hasPending()) throw new Error('updates still pending');
  };
  const inOrder = best(() => null, run(ups));
  const reversed = best(() => null, run([...ups].reverse()));
  report('20,000 keystrokes reversed, whole run', reversed, inOrder, 'ms');
}

if (only.includes('pending')) {
  const col = new Writer();
  for (let i = 0; i < 1000; i++) {
    col.varint(i === 0 ? 0 : 1); // gap
    col.varint(1);
  }
  const c = col.take();
  const w = new Writer();
  w.arrayLen(5);
  w.uint(1);
  w.arrayLen(0);
  w.arrayLen(1);
  w.uint(77);
  w.arrayLen(1);
  w.arrayLen(2);
  w.uint(0);
  w.binHeader(c.length);
  w.bytes(c);
  w.arrayLen(0);
  const u = w.take();
  const once = best(() => null, () => new Doc({ clientID: 8 }).apply(u));
  const repeated =
    best(
      () => new Doc({ clientID: 8 }),
      (d) => {
        for (let i = 0; i < 1000; i++) d.apply(u);
      },
    ) / 1000;
  report('1,000 pending delete ranges applied 1,000 times, per apply', repeated, once, 'ms');
}

if (only.includes('observed')) {
  const snap = fragmented(50_000);
  const load = (observed) => () => {
    const d = new Doc({ clientID: 9 });
    if (observed) d.getText('t').observe(() => {});
    return d;
  };
  const plain = best(load(false), (d) => d.apply(snap));
  const observed = best(load(true), (d) => d.apply(snap));
  report('load of a 50,000-piece text, observed', observed, plain, 'ms');
}

if (only.includes('waiting')) {
  /** waitingRecord is an update of one code point of client at clock 1: it waits for clock 0. */
  const waitingRecord = (client) => {
    const col = new Writer();
    col.varint(7); // parent: type 0
    col.varint(1); // one code point, no origins
    const w = new Writer();
    w.arrayLen(5);
    w.uint(1);
    w.arrayLen(1);
    w.arrayLen(2);
    w.uint(0);
    w.str('t');
    w.arrayLen(1);
    w.uint(client);
    w.arrayLen(0);
    w.arrayLen(1);
    w.arrayLen(5);
    w.uint(0);
    w.uint(1);
    const c = col.take();
    w.binHeader(c.length);
    w.bytes(c);
    w.str('w');
    w.arrayLen(0);
    return w.take();
  };
  const src = new Doc({ clientID: 7 });
  const keys = Array.from({ length: 5000 }, (_, i) => src.getText('t').insert(i, 'k'));
  const waitingUpdates = Array.from({ length: 10_000 }, (_, i) => waitingRecord(1000 + i));
  const fresh = (waiting) => () => {
    const d = new Doc({ clientID: 8 });
    for (const u of waitingUpdates.slice(0, waiting)) d.apply(u);
    return d;
  };
  const apply = (d) => keys.forEach((u) => d.apply(u));
  for (let i = 0; i < 3; i++) apply(fresh(0)()); // warm up: these applies are short
  const none = best(fresh(0), apply) / keys.length;
  const many = best(fresh(waitingUpdates.length), apply) / keys.length;
  report('keystrokes with 10,000 clients waiting, per apply', many, none, 'ms');
}

console.log(`best of ${runs}:\n  ${out.join('\n  ')}`);
