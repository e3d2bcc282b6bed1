// trace-bench.mjs — replay an editing trace into FlowState's JS Doc and into
// Yjs, in the same Node process, and compare.
//
// Usage (from web/):
//   node --expose-gc bench/trace-bench.mjs [--trace automerge-paper] [--runs 5]
//        [--libs flowstate,yjs] [--dir ../../shared/traces] [--json out.json]
//
// Per library it measures, as the median of --runs runs:
//   local    replay every transaction of the trace as local edits into a
//            fresh doc, one library transaction per trace transaction.
//            FlowState's transact returns each transaction's update, so
//            its figure includes encoding 259,778 updates; Yjs encodes none
//            (its updates are only encoded when someone listens).
//   capture  (once) the per-transaction updates, for the merge: ours are
//            what transact returned, Yjs's come from doc.on('update').
//   merge    apply those updates one by one into a fresh doc (what a server
//            does with a stream of edits).
//   snapshot the full state's size in bytes (doc.snapshot() /
//            Y.encodeStateAsUpdate), and encode time.
//   load     decode that state into a fresh doc and read the text back.
// Every path's final text is checked against the trace's endContent.
//
// Trace positions count code points; both libraries' APIs take UTF-16
// indices. They agree unless a trace holds characters above U+FFFF, which
// none of the shared traces does; such a trace is refused here.

import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { Doc } from '../src/index.js';

const HERE = dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const o = { trace: 'automerge-paper', runs: 5, libs: 'flowstate,yjs', dir: resolve(HERE, '..', '..', '..', 'shared', 'traces'), json: '' };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    if (!(k in o)) throw new Error(`unknown flag ${argv[i]}`);
    o[k] = k === 'runs' ? Number(argv[i + 1]) : argv[i + 1];
  }
  return o;
}

const now = () => Number(process.hrtime.bigint()) / 1e6;
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

/** Adapters: each library's version of the four paths. */
async function adapters(libs) {
  const out = [];
  for (const lib of libs) {
    if (lib === 'flowstate') {
      out.push({
        name: 'flowstate',
        local(txns, capture) {
          const doc = new Doc({ clientID: 1 });
          const text = doc.getText('text');
          const updates = capture ? new Array(txns.length) : null;
          for (let ti = 0; ti < txns.length; ti++) {
            const patches = txns[ti].patches;
            const u = doc.transact(() => {
              for (let k = 0; k < patches.length; k++) {
                const p = patches[k];
                if (p[1] > 0) text.delete(p[0], p[1]);
                if (p[2] !== '') text.insert(p[0], p[2]);
              }
            });
            if (capture) updates[ti] = u;
          }
          return { doc, updates: capture ? updates.filter((u) => u !== null) : null };
        },
        text: (doc) => doc.getText('text').toString(),
        merge(updates) {
          const d = new Doc({ clientID: 2 });
          for (let i = 0; i < updates.length; i++) d.apply(updates[i]);
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
        local(txns, capture) {
          const doc = new Y.Doc();
          const text = doc.getText('text');
          const updates = capture ? [] : null;
          if (capture) doc.on('update', (u) => updates.push(u));
          for (let ti = 0; ti < txns.length; ti++) {
            const patches = txns[ti].patches;
            doc.transact(() => {
              for (let k = 0; k < patches.length; k++) {
                const p = patches[k];
                if (p[1] > 0) text.delete(p[0], p[1]);
                if (p[2] !== '') text.insert(p[0], p[2]);
              }
            });
          }
          return { doc, updates };
        },
        text: (doc) => doc.getText('text').toString(),
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
  const t0 = now();
  const r = fn();
  return [now() - t0, r];
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const trace = loadTrace(o.dir, o.trace);
  const libs = await adapters(o.libs.split(','));
  const results = {};
  for (const l of libs) results[l.name] = { local: [], merge: [], encode: [], load: [] };
  console.log(`trace ${o.trace}: ${trace.txns.length} transactions, final length ${trace.endContent.length}; node ${process.version}; ${o.runs} runs`);
  // The libraries take turns run by run, so that machine noise hits both alike.
  const captured = {};
  for (let run = 0; run < o.runs; run++) {
    for (const l of libs) {
      const r = results[l.name];
      const [tl, out] = timeIt(() => l.local(trace.txns, run === 0));
      check(`${l.name} local`, l.text(out.doc), trace.endContent);
      r.local.push(tl);
      if (run === 0) {
        captured[l.name] = out.updates;
        r.updates = out.updates.length;
        r.updateBytes = out.updates.reduce((n, u) => n + u.length, 0);
      }
      const [tm, merged] = timeIt(() => l.merge(captured[l.name]));
      check(`${l.name} merge`, l.text(merged), trace.endContent);
      r.merge.push(tm);
      const [te, snap] = timeIt(() => l.encode(out.doc));
      r.encode.push(te);
      r.snapshotBytes = snap.length;
      const [td, loaded] = timeIt(() => {
        const d = l.load(snap);
        l.text(d);
        return d;
      });
      check(`${l.name} load`, l.text(loaded), trace.endContent);
      r.load.push(td);
    }
  }
  const rows = [];
  for (const l of libs) {
    const r = results[l.name];
    rows.push({
      library: l.name,
      'local ms': +median(r.local).toFixed(1),
      'merge ms': +median(r.merge).toFixed(1),
      'snapshot bytes': r.snapshotBytes,
      'encode ms': +median(r.encode).toFixed(1),
      'load ms': +median(r.load).toFixed(1),
      updates: r.updates,
      'update bytes': r.updateBytes,
    });
  }
  console.table(rows);
  if (results.flowstate && results.yjs) {
    const f = rows[0];
    const y = rows[1];
    console.log(
      `flowstate / yjs (lower is better): local ${(f['local ms'] / y['local ms']).toFixed(2)}, merge ${(f['merge ms'] / y['merge ms']).toFixed(2)}, ` +
        `load ${(f['load ms'] / y['load ms']).toFixed(2)}, snapshot size ${(f['snapshot bytes'] / y['snapshot bytes']).toFixed(2)}`,
    );
  }
  if (o.json) writeFileSync(o.json, JSON.stringify({ trace: o.trace, runs: o.runs, node: process.version, results, rows }, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
