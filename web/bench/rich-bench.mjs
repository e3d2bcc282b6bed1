// rich-bench.mjs — the rich-text workload of issue 13: an editing trace
// replayed with a format or unformat of a random range every 50 edits,
// beside the plain trace, into FlowState's JS Doc and into Yjs's Y.Text
// (with the same formats), in the same Node process. It mirrors the Go
// benchmarks BenchmarkRichLocal, BenchmarkRichMerge, BenchmarkRichSnapshot
// and BenchmarkRichToDelta (crdt/rich_bench_test.go).
//
// Usage (from web/):
//   node --expose-gc bench/rich-bench.mjs [--trace automerge-paper] [--runs 5]
//        [--libs flowstate,yjs] [--observe 0|1] [--dir ../../shared/traces]
//
// Per library and workload (plain, rich), as the median of --runs runs of
// the process's CPU time (user + system, GC threads included):
//   local    every transaction of the trace as one local transaction into
//            a fresh doc, and every 50 edits one more transaction that
//            formats (3 in 4: key = true) or unformats (key = null) a
//            random range of up to 40 positions with one of bold, italic,
//            link, comment. FlowState's figure includes encoding each
//            transaction's update; Yjs encodes none unless listened to.
//   merge    those updates (captured once; Yjs's from doc.on('update'))
//            applied one by one to a fresh doc.
//   snapshot the full state's size in bytes, and its encode time.
//   load     decoding the snapshot into a fresh doc.
//   delta    reading the formatted text (Text.toDelta, Y.Text.toDelta).
//   observed with --observe 1: merge with an observer on the text, whose
//            events carry attributes (FlowState only; Go:
//            BenchmarkRichMergeObserved).
// Both libraries get the same ranges: a seeded generator draws them from
// the text's length, which is the same in both. Every path's final text
// is checked against the trace's endContent.

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { Doc } from '../src/index.js';
import { Rand } from '../test/helpers.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const KEYS = ['bold', 'italic', 'link', 'comment'];
const EVERY = 50;

function parseArgs(argv) {
  const o = { trace: 'automerge-paper', runs: 5, libs: 'flowstate,yjs', observe: '0', dir: resolve(HERE, '..', '..', '..', 'shared', 'traces') };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    if (!(k in o)) throw new Error(`unknown flag ${argv[i]}`);
    o[k] = k === 'runs' ? Number(argv[i + 1]) : argv[i + 1];
  }
  return o;
}

/** cpu returns the CPU time of the process in ms: on a shared machine it moves less than the wall clock. */
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const median = (xs) => {
  const a = [...xs].sort((x, y) => x - y);
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
};
const gc = () => {
  if (globalThis.gc) {
    globalThis.gc();
    globalThis.gc();
  }
};

function loadTrace(dir, name) {
  const raw = JSON.parse(gunzipSync(readFileSync(join(dir, `${name}.json.gz`))).toString('utf8'));
  if (/[\u{10000}-\u{10FFFF}]/u.test(raw.endContent) || raw.txns.some((t) => t.patches.some((p) => /[\u{10000}-\u{10FFFF}]/u.test(p[2])))) {
    throw new Error(`${name}: holds characters above U+FFFF, whose code point positions differ from UTF-16 indices`);
  }
  if (raw.startContent !== '') throw new Error(`${name}: non-empty startContent not supported`);
  return raw;
}

/**
 * replay runs the trace on a library's doc: edit(del, pos, ins) performs
 * one patch, format(pos, n, key, value) one format; the formats are drawn
 * from a generator seeded alike for every library.
 */
function replay(txns, rich, lenOf, transact, edit, format) {
  const rng = new Rand(1);
  let edits = 0;
  for (let ti = 0; ti < txns.length; ti++) {
    const patches = txns[ti].patches;
    transact(() => {
      for (let k = 0; k < patches.length; k++) edit(patches[k]);
    });
    edits += patches.length;
    if (rich && edits >= EVERY) {
      edits -= EVERY;
      const len = lenOf();
      if (len === 0) continue;
      const pos = rng.intn(len);
      const n = 1 + rng.intn(Math.min(len - pos, 40));
      const value = rng.intn(4) === 0 ? null : true;
      const key = KEYS[rng.intn(KEYS.length)];
      transact(() => format(pos, n, key, value));
    }
  }
}

/** Adapters: each library's version of the paths. */
async function adapters(libs) {
  const out = [];
  for (const lib of libs) {
    if (lib === 'flowstate') {
      out.push({
        name: 'flowstate',
        local(txns, rich, capture) {
          const doc = new Doc({ clientID: 1 });
          const text = doc.getText('text');
          const updates = capture ? [] : null;
          replay(
            txns,
            rich,
            () => text.length,
            (fn) => {
              const u = doc.transact(fn);
              if (capture && u !== null) updates.push(u);
            },
            (p) => {
              if (p[1] > 0) text.delete(p[0], p[1]);
              if (p[2] !== '') text.insert(p[0], p[2]);
            },
            (pos, n, key, value) => text.format(pos, n, key, value),
          );
          return { doc, updates };
        },
        text: (doc) => doc.getText('text').toString(),
        delta: (doc) => doc.getText('text').toDelta(),
        merge(updates) {
          const d = new Doc({ clientID: 2 });
          for (let i = 0; i < updates.length; i++) d.apply(updates[i]);
          return d;
        },
        mergeObserved(updates) {
          const d = new Doc({ clientID: 2 });
          let events = 0;
          d.getText('text').observe(() => events++);
          for (let i = 0; i < updates.length; i++) d.apply(updates[i]);
          if (events === 0) throw new Error('no events');
          return d;
        },
        encode: (doc) => doc.snapshot(),
        load(bytes) {
          const d = new Doc({ clientID: 3 });
          d.apply(bytes);
          return d;
        },
      });
    } else if (lib === 'yjs') {
      const Y = await import('yjs');
      out.push({
        name: 'yjs',
        local(txns, rich, capture) {
          const doc = new Y.Doc();
          const text = doc.getText('text');
          const updates = capture ? [] : null;
          if (capture) doc.on('update', (u) => updates.push(u));
          replay(
            txns,
            rich,
            () => text.length,
            (fn) => doc.transact(fn),
            (p) => {
              if (p[1] > 0) text.delete(p[0], p[1]);
              if (p[2] !== '') text.insert(p[0], p[2]);
            },
            (pos, n, key, value) => text.format(pos, n, { [key]: value }),
          );
          return { doc, updates };
        },
        text: (doc) => doc.getText('text').toString(),
        delta: (doc) => doc.getText('text').toDelta(),
        merge(updates) {
          const d = new Y.Doc();
          for (let i = 0; i < updates.length; i++) Y.applyUpdate(d, updates[i]);
          return d;
        },
        encode: (doc) => Y.encodeStateAsUpdate(doc),
        load(bytes) {
          const d = new Y.Doc();
          Y.applyUpdate(d, bytes);
          return d;
        },
      });
    } else throw new Error(`unknown library ${lib}`);
  }
  return out;
}

function check(what, got, want) {
  if (got !== want) throw new Error(`${what}: final text differs from endContent (${got.length} vs ${want.length} units)`);
}

function timeIt(fn) {
  gc();
  const t0 = cpu();
  const r = fn();
  return [cpu() - t0, r];
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const trace = loadTrace(o.dir, o.trace);
  const libs = await adapters(o.libs.split(','));
  const cases = [];
  for (const l of libs) for (const rich of [false, true]) cases.push({ l, rich, name: `${l.name} ${rich ? 'rich' : 'plain'}`, local: [], merge: [], observed: [], encode: [], load: [], delta: [] });
  console.log(`trace ${o.trace}: ${trace.txns.length} transactions, a format every ${EVERY} edits in the rich runs; node ${process.version}; ${o.runs} runs`);
  // The cases take turns run by run, so that machine noise hits all alike.
  for (let run = 0; run < o.runs; run++) {
    for (const c of cases) {
      const { l, rich } = c;
      const [tl, out] = timeIt(() => l.local(trace.txns, rich, run === 0));
      check(`${c.name} local`, l.text(out.doc), trace.endContent);
      c.local.push(tl);
      if (run === 0) {
        c.updates = out.updates;
        c.updateBytes = out.updates.reduce((n, u) => n + u.length, 0);
      }
      const [tm, merged] = timeIt(() => l.merge(c.updates));
      check(`${c.name} merge`, l.text(merged), trace.endContent);
      c.merge.push(tm);
      if (o.observe !== '0' && l.mergeObserved) {
        const [to, observed] = timeIt(() => l.mergeObserved(c.updates));
        check(`${c.name} observed merge`, l.text(observed), trace.endContent);
        c.observed.push(to);
      }
      const [te, snap] = timeIt(() => l.encode(out.doc));
      c.encode.push(te);
      c.snapshotBytes = snap.length;
      const [td, loaded] = timeIt(() => l.load(snap));
      check(`${c.name} load`, l.text(loaded), trace.endContent);
      c.load.push(td);
      const [tx, delta] = timeIt(() => l.delta(out.doc));
      c.delta.push(tx);
      c.ops = delta.length;
    }
  }
  const rows = cases.map((c) => ({
    case: c.name,
    'local ms': +median(c.local).toFixed(1),
    'merge ms': +median(c.merge).toFixed(1),
    ...(c.observed.length > 0 ? { 'observed merge ms': +median(c.observed).toFixed(1) } : {}),
    'snapshot bytes': c.snapshotBytes,
    'encode ms': +median(c.encode).toFixed(1),
    'load ms': +median(c.load).toFixed(1),
    'delta ms': +median(c.delta).toFixed(1),
    'delta ops': c.ops,
    updates: c.updates.length,
    'update bytes': c.updateBytes,
  }));
  console.table(rows);
  const by = Object.fromEntries(rows.map((r) => [r.case, r]));
  if (by['flowstate plain'] && by['flowstate rich']) {
    const p = by['flowstate plain'];
    const r = by['flowstate rich'];
    console.log(
      `flowstate rich / plain: local ${(r['local ms'] / p['local ms']).toFixed(2)}x, merge ${(r['merge ms'] / p['merge ms']).toFixed(2)}x, snapshot ${(r['snapshot bytes'] / p['snapshot bytes']).toFixed(2)}x`,
    );
  }
  if (by['flowstate rich'] && by['yjs rich']) {
    const f = by['flowstate rich'];
    const y = by['yjs rich'];
    console.log(`yjs rich / flowstate rich: local ${(y['local ms'] / f['local ms']).toFixed(2)}x, merge ${(y['merge ms'] / f['merge ms']).toFixed(2)}x, snapshot ${(y['snapshot bytes'] / f['snapshot bytes']).toFixed(2)}x`);
  }
}

await main();
