// large-bench.mjs — large documents (issue 18 item 2) for the JS Doc; the Go
// twins are the BenchmarkLargeDoc* benchmarks of package crdt, on documents
// built the same way (one code point at a time at random positions, so
// that a document of n code points holds about n items):
//
//   insert   a local one-code-point insertion at a random position of a
//            document of 10k, 100k and 1M code points (per edit);
//   remote   another replica's one-code-point insertion at a random
//            position, applied as an update (per edit);
//   encode   the snapshot of the 1M document (per snapshot);
//   load     that snapshot into a new Doc (per load);
//   churn    100 MB typed and deleted through a document of about 1 KB,
//            1,000 code points at a time at random positions: the heap the
//            document holds against that of the same document freshly
//            loaded from its snapshot (needs --expose-gc).
//
// Usage (from web/): node --expose-gc bench/large-bench.mjs [--runs 3] [--sizes 10000,100000,1000000] [--churn-mb 100]
// Each time is the least CPU time (user and system) of --runs runs.

import { Doc } from '../src/index.js';

const args = process.argv.slice(2);
const flag = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const runs = Number(flag('runs', 3));
const sizes = flag('sizes', '10000,100000,1000000').split(',').map(Number);
const churnMB = Number(flag('churn-mb', 100));
const edits = 20000;

// A fixed-seed xorshift, so that every run builds the same documents.
let seed = 12345;
const rand = (n) => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
};

/** build returns the snapshot of a text of n code points typed one at a time at random positions by client 1. */
function build(n) {
  const d = new Doc({ clientID: 1 });
  const t = d.getText('t');
  d.change(() => {
    for (let i = 0; i < n; i++) t.insert(rand(t.length + 1), 'a');
  });
  return d.snapshot();
}

/** load returns a new Doc of client holding snap. */
function load(snap, client) {
  const d = new Doc({ clientID: client });
  d.apply(snap);
  return d;
}

/**
 * best returns the least CPU time (user and system, in ms) fn takes over
 * the runs; setup runs unmeasured before each and its result goes to fn.
 * CPU time, not wall time: on a shared machine wall time also counts the
 * waits for a core.
 */
function best(setup, fn) {
  let least = Infinity;
  for (let r = 0; r < runs; r++) {
    const x = setup();
    const c0 = process.cpuUsage();
    fn(x);
    const c = process.cpuUsage(c0);
    least = Math.min(least, (c.user + c.system) / 1000);
  }
  return least;
}

const rows = [];
let big = null;
for (const n of sizes) {
  const snap = build(n);
  if (n === Math.max(...sizes)) big = snap;
  const insert = best(
    () => load(snap, 2),
    (d) => {
      const t = d.getText('t');
      for (let i = 0; i < edits; i++) t.insert(rand(t.length + 1), 'x');
    },
  );
  const src = load(snap, 3);
  const updates = [];
  for (let i = 0; i < edits; i++) updates.push(src.getText('t').insert(rand(src.getText('t').length + 1), 'y'));
  const remote = best(
    () => load(snap, 2),
    (d) => {
      for (const u of updates) d.apply(u);
    },
  );
  rows.push({ size: n, insert_us: (insert * 1000) / edits, remote_us: (remote * 1000) / edits });
}
for (const r of rows) {
  console.log(`${String(r.size).padStart(8)} items: insert ${r.insert_us.toFixed(2)} µs/edit, remote ${r.remote_us.toFixed(2)} µs/edit`);
}
const d = load(big, 2);
let bytes = 0;
const encode = best(
  () => null,
  () => {
    bytes = d.snapshot().length;
  },
);
const loadMs = best(
  () => null,
  () => load(big, 4),
);
console.log(`snapshot of ${Math.max(...sizes)} items: ${bytes} bytes, encode ${encode.toFixed(1)} ms, load ${loadMs.toFixed(1)} ms`);

/** heap returns the bytes of live JS heap after a full collection. */
function heap() {
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed;
}

if (typeof globalThis.gc !== 'function') {
  console.log('churn: run node with --expose-gc to measure it');
} else {
  const chunk = 1000;
  const line = 'x'.repeat(chunk - 1) + '\n';
  let before = heap();
  const d = new Doc({ clientID: 1 });
  const t = d.getText('t');
  t.insert(0, 'k'.repeat(1000));
  for (let typed = 0; typed < churnMB * (1 << 20); typed += chunk) {
    t.insert(rand(t.length + 1), line);
    t.delete(rand(t.length - chunk + 1), chunk);
  }
  const churned = heap() - before;
  const snap = d.snapshot();
  before = heap();
  const l = load(snap, 2);
  const loaded = heap() - before;
  console.log(
    `churn of ${churnMB} MB: ${(churned / 2 ** 20).toFixed(1)} MiB held, ${(loaded / 2 ** 20).toFixed(1)} MiB loaded, heap-ratio ${(churned / loaded).toFixed(2)}`,
  );
  if (l.getText('t').length !== t.length || d.getText('t').length !== t.length) throw new Error('churn: lengths differ');
}
