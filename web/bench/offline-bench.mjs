// Measures IndexedDBPersistence in Chromium (real IndexedDB), on the
// bundles the server serves:
//
//   1. open: a stored 1 MB document, from `new IndexedDBPersistence` to the
//      first paint of its text in a CodeMirror editor, in wall time and in
//      main-thread CPU time (from a trace), beside the same editor made
//      from a plain string. "open through the first screen" is the demo's
//      way: an empty editor is made while IndexedDB reads, then shows the
//      first screen (whenFirstScreen, through showStored), editable
//      with earlyEdits, shows the rest of the rendering (showStored) once
//      whenRendered resolves, and binds to the Text once the Doc is loaded
//      ("ready"). "open through the whole rendering" paints the whole
//      rendering first, read only, as pages did before first screens
//      (the bench deletes the first screen record for these runs, so the
//      persistence reads the rendering at once); the two alternate, run by
//      run, so that both see the same load. "open without rendering" waits
//      for the Doc first, as a page that does not use the rendering does;
//   2. typing: the main-thread time persistence adds to each keystroke
//      (storing the update, and the write transaction it schedules),
//      typed with the keyboard into a document of 1 MB.
//
// Usage (from web/): node bench/offline-bench.mjs [--runs 7] [--keys 400]
// FLOWSTATE_BIN names a prebuilt server, as for the tests; BREAKDOWN=1
// prints where the main thread spent the last open's time to first paint
// (self time by trace event).

import { startServer } from '../test/server.js';
import { loadavg } from 'node:os';
import { launch } from '../e2e/harness.js';

const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const RUNS = arg('--runs', 7);
const KEYS = arg('--keys', 400);

/** The bench page: modes fill, open and type, chosen by ?mode=. */
const PAGE = `<!doctype html><meta charset="utf-8"><body><div id="editor"></div>
<script type="module">
import { Doc } from '/flowstate.js';
import { IndexedDBPersistence } from '/flowstate-persistence.js';
import { CodeMirrorBinding, Compartment, EditorState, EditorView, earlyEdits, flowstateCollab, showStored } from '/flowstate-codemirror.js';
const mode = new URLSearchParams(location.search).get('mode');
const editor = (text) => new EditorView({ parent: document.getElementById('editor'),
  state: EditorState.create({ doc: text.toString(), extensions: [flowstateCollab(text)] }) });
const nextPaint = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
window.bench = (async () => {
  if (mode === 'fill') {
    // 1 MB typed as 2000 paragraphs at random places, with some deleted:
    // many items, as a document edited over time has.
    const doc = new Doc();
    const p = new IndexedDBPersistence('bench', doc);
    await p.whenSynced;
    const t = doc.getText('content');
    let seed = 1;
    const rnd = (n) => ((seed = (seed * 48271) % 2147483647) % n);
    while (t.length < (1 << 20)) {
      t.insert(rnd(t.length + 1), 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(10) + '\\n');
      if (rnd(4) === 0 && t.length > 100) t.delete(rnd(t.length - 50), 20);
    }
    await p.whenSaved();
    p.compact();
    await new Promise((r) => setTimeout(r, 500));
    return { length: t.length, snapshot: doc.snapshot().length };
  }
  if (mode === 'open') {
    performance.mark('bench-start');
    const t0 = performance.now();
    const doc = new Doc();
    const p = new IndexedDBPersistence('bench', doc);
    const texts = await p.whenRendered;
    const t1 = performance.now();
    const lock = new Compartment();
    const view = new EditorView({ parent: document.getElementById('editor'), state: EditorState.create({
      doc: texts?.content ?? '', extensions: [lock.of([EditorState.readOnly.of(true), EditorView.editable.of(false)])] }) });
    const t2 = performance.now();
    await nextPaint();
    const t3 = performance.now();
    performance.mark('bench-painted');
    await p.whenSynced;
    const t4 = performance.now();
    new CodeMirrorBinding(doc.getText('content'), view);
    view.dispatch({ effects: lock.reconfigure([]) });
    await nextPaint();
    const t5 = performance.now();
    performance.mark('bench-end');
    if (view.state.doc.toString() !== doc.getText('content').toString()) throw new Error('the editor and the Doc differ');
    return { rendered: t1 - t0, editor: t2 - t1, paint: t3 - t0, load: t4 - t0, ready: t5 - t0, length: view.state.doc.length };
  }
  if (mode === 'screen') {
    // Moves the first screen record and its localStorage copy aside
    // (op=drop) or back (op=restore).
    const db = await new Promise((resolve, reject) => {
      const req = indexedDB.open('flowstate:bench', 1);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    const drop = new URLSearchParams(location.search).get('op') === 'drop';
    const [from, to] = drop ? ['screen', 'bench-screen'] : ['bench-screen', 'screen'];
    await new Promise((resolve, reject) => {
      const tx = db.transaction('meta', 'readwrite');
      const meta = tx.objectStore('meta');
      const get = meta.get(from);
      get.onsuccess = () => {
        if (get.result === undefined) return;
        meta.put(get.result, to);
        meta.delete(from);
      };
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
    });
    db.close();
    // The copy of the first screen in localStorage too.
    const [lfrom, lto] = drop ? ['flowstate:bench:screen', 'bench-screen'] : ['bench-screen', 'flowstate:bench:screen'];
    const copy = localStorage.getItem(lfrom);
    if (copy !== null) {
      localStorage.setItem(lto, copy);
      localStorage.removeItem(lfrom);
    }
    return {};
  }
  if (mode === 'open-screen') {
    performance.mark('bench-start');
    const t0 = performance.now();
    const doc = new Doc();
    const p = new IndexedDBPersistence('bench', doc);
    // As the demo does: the editor is made while IndexedDB reads.
    const view = new EditorView({ parent: document.getElementById('editor'), state: EditorState.create({
      extensions: [earlyEdits()] }) });
    const t1 = performance.now();
    const screen = await p.whenFirstScreen;
    const t2 = performance.now();
    if (screen === null) throw new Error('no first screen stored');
    showStored(view, screen.content);
    await nextPaint();
    const t3 = performance.now();
    performance.mark('bench-painted');
    const texts = await p.whenRendered;
    showStored(view, texts.content);
    await nextPaint();
    const t4 = performance.now();
    await p.whenSynced;
    new CodeMirrorBinding(doc.getText('content'), view);
    await nextPaint();
    const t5 = performance.now();
    performance.mark('bench-end');
    if (view.state.doc.toString() !== doc.getText('content').toString()) throw new Error('the editor and the Doc differ');
    return { editor: t1 - t0, rendered: t2 - t0, paint: t3 - t0, whole: t4 - t0, ready: t5 - t0, screen: screen.content.length, length: view.state.doc.length };
  }
  if (mode === 'open-doc') {
    performance.mark('bench-start');
    const t0 = performance.now();
    const doc = new Doc();
    const p = new IndexedDBPersistence('bench', doc);
    let apply = 0;
    const f = p.applyStored;
    p.applyStored = function (v) {
      const t = performance.now();
      f.call(this, v);
      apply += performance.now() - t;
    };
    await p.whenSynced;
    const t1 = performance.now();
    const view = editor(doc.getText('content'));
    const t2 = performance.now();
    await nextPaint();
    const t3 = performance.now();
    performance.mark('bench-painted');
    performance.mark('bench-end');
    return { load: t1 - t0, apply, editor: t2 - t1, paint: t3 - t0, length: view.state.doc.length };
  }
  if (mode === 'plain') {
    // The same editor and text, straight from a string: the part of the
    // open that is CodeMirror's, with no CRDT and no storage.
    const doc = new Doc();
    const t = doc.getText('content');
    const s = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(10) + '\\n';
    t.insert(0, s.repeat(Math.ceil((1 << 20) / s.length)));
    performance.mark('bench-start');
    const t0 = performance.now();
    const view = new EditorView({ parent: document.getElementById('editor'), state: EditorState.create({ doc: t.toString() }) });
    await nextPaint();
    const t1 = performance.now();
    performance.mark('bench-painted');
    return { paint: t1 - t0, length: view.state.doc.length };
  }
  if (mode === 'type') {
    const doc = new Doc();
    let p = new IndexedDBPersistence('bench', doc);
    await p.whenSynced;
    if (new URLSearchParams(location.search).get('persist') === '0') {
      // The same document, typed into without persistence: the baseline.
      p.destroy();
      p = { storeUpdate() {}, flush() {}, compact() {} };
    }
    const view = editor(doc.getText('content'));
    // Time spent in persistence per keystroke: storing each update, and
    // each write transaction (one per keystroke at typing speed).
    const spent = [];
    const wrap = (name) => {
      const f = p[name];
      p[name] = function (...a) {
        const t = performance.now();
        try { return f.apply(this, a); } finally { spent.push([name, performance.now() - t]); }
      };
    };
    wrap('storeUpdate');
    wrap('flush');
    wrap('compact');
    // The timers that run the writes: the trace gives their CPU time.
    window.timers = [];
    const schedule = p.schedule;
    p.schedule = function () {
      const before = this.flushTimer;
      schedule.call(this);
      if (this.flushTimer !== null && this.flushTimer !== before) window.timers.push(this.flushTimer);
    };
    view.focus();
    view.dispatch({ selection: { anchor: 1000 } });
    window.spent = spent;
    window.markTyping = (name) => performance.mark(name);
    return { length: view.state.doc.length };
  }
})();
</script>`;

/**
 * cpuBetween returns the main-thread CPU time, in ms, that the page's
 * renderer spent in tasks between the user timing marks from and to, from
 * a Chromium trace: on a shared machine, wall time mostly measures the
 * other processes.
 */
function cpuBetween(trace, from, to) {
  const events = typeof trace === 'object' && !Buffer.isBuffer(trace) ? trace : JSON.parse(trace.toString()).traceEvents;
  const a = events.find((e) => e.name === from && e.cat.includes('blink.user_timing'));
  const b = events.find((e) => e.name === to && e.cat.includes('blink.user_timing'));
  if (!a || !b) return NaN;
  let us = 0;
  for (const e of events) {
    if (e.pid !== a.pid || e.tid !== a.tid || e.ph !== 'X' || e.name !== 'RunTask' || typeof e.tdur !== 'number') continue;
    const start = Math.max(e.ts, a.ts);
    const end = Math.min(e.ts + e.dur, b.ts);
    if (end > start) us += (e.tdur * (end - start)) / Math.max(e.dur, 1);
  }
  return us / 1000;
}

/** breakdown prints the main thread's busiest events between two marks (for profiling). */
function breakdown(events, from, to) {
  const a = events.find((e) => e.name === from && e.cat.includes('blink.user_timing'));
  const b = events.find((e) => e.name === to && e.cat.includes('blink.user_timing'));
  // Self time: an event's CPU time less that of the events inside it.
  const xs = events
    .filter((e) => e.pid === a.pid && e.tid === a.tid && e.ph === 'X' && typeof e.tdur === 'number' && e.ts >= a.ts && e.ts <= b.ts)
    .sort((x, y) => x.ts - y.ts || y.dur - x.dur);
  const self = new Map(xs.map((e) => [e, e.tdur]));
  const stack = [];
  for (const e of xs) {
    while (stack.length > 0 && stack[stack.length - 1].ts + stack[stack.length - 1].dur <= e.ts) stack.pop();
    if (stack.length > 0) self.set(stack[stack.length - 1], self.get(stack[stack.length - 1]) - e.tdur);
    stack.push(e);
  }
  const sums = new Map();
  for (const e of xs) {
    const k = e.name + (e.args?.data?.functionName ? ' ' + e.args.data.functionName : '') + (e.args?.data?.url ? ' ' + e.args.data.url.slice(-40) : '');
    sums.set(k, (sums.get(k) ?? 0) + self.get(e) / 1000);
  }
  for (const [k, v] of [...sums].sort((x, y) => y[1] - x[1]).slice(0, 25)) console.log(`    ${v.toFixed(1).padStart(7)} ms  ${k}`);
}

const CATEGORIES = ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'blink.user_timing', 'toplevel'];

const server = await startServer({ env: {} });
const browser = await launch();
const context = await browser.newContext();
await context.route('**/offline-bench.html*', (route) => route.fulfill({ contentType: 'text/html', body: PAGE }));
const page = await context.newPage();
const url = (mode) => `${server.httpURL}/offline-bench.html?mode=${mode}`;

const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
console.log(`load average at the start: ${load()}`);
await page.goto(url('fill'));
const filled = await page.evaluate(() => window.bench);
console.log(`stored document: ${filled.length} UTF-16 units, snapshot ${(filled.snapshot / 1024).toFixed(0)} KB`);

/** run opens a page in mode, waits for its result and closes it. */
async function run(mode) {
  const p = await context.newPage();
  await p.goto(url(mode));
  const r = await p.evaluate(() => window.bench);
  await p.close();
  return r;
}

/** openOnce opens the stored document in mode, traced, and returns what it measured. */
async function openOnce(mode, last) {
  const p = await context.newPage();
  await browser.startTracing(p, { categories: CATEGORIES });
  await p.goto(url(mode));
  const r = await p.evaluate(() => window.bench);
  const trace = JSON.parse((await browser.stopTracing()).toString()).traceEvents;
  r.cpu = cpuBetween(trace, 'bench-start', 'bench-painted');
  if (process.env.BREAKDOWN && last) {
    console.log(`  ${mode}: main thread to first paint, by event`);
    breakdown(trace, 'bench-start', 'bench-painted');
  }
  r.readyCPU = cpuBetween(trace, 'bench-start', 'bench-end');
  await p.close();
  return r;
}

/** opened opens the stored document RUNS times in mode and returns what each run measured. */
async function opened(mode) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await openOnce(mode, i === RUNS - 1));
  return runs;
}
const screens = [];
const opens = [];
for (let i = 0; i < RUNS; i++) {
  screens.push(await openOnce('open-screen', i === RUNS - 1));
  await run('screen&op=drop');
  opens.push(await openOnce('open', i === RUNS - 1));
  await run('screen&op=restore');
}
const opensDoc = await opened('open-doc');
const ms = (x) => Number(x).toFixed(1).padStart(6) + ' ms';
const plains = [];
for (let i = 0; i < RUNS; i++) {
  const p = await context.newPage();
  await browser.startTracing(p, { categories: CATEGORIES });
  await p.goto(url('plain'));
  const r = await p.evaluate(() => window.bench);
  r.cpu = cpuBetween(await browser.stopTracing(), 'bench-start', 'bench-painted');
  plains.push(r);
  await p.close();
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(`open through the first screen (${screens[0].screen} units of ${screens[0].length}; ${RUNS} runs)`);
console.log(`                               median     max`);
for (const k of ['editor', 'rendered', 'paint', 'cpu', 'whole', 'ready', 'readyCPU']) {
  const v = screens.map((o) => o[k] ?? NaN);
  const label = {
    editor: 'new EditorView, empty',
    rendered: 'IndexedDB → first screen',
    paint: 'IndexedDB → first paint',
    cpu: '  main-thread CPU of it',
    whole: 'IndexedDB → whole text shown',
    ready: 'IndexedDB → bound',
    readyCPU: '  main-thread CPU of it',
  }[k];
  console.log(`  ${label.padEnd(28)} ${ms(median(v))} ${ms(Math.max(...v))}`);
}
console.log(`open through the whole rendering`);
for (const k of ['rendered', 'editor', 'paint', 'cpu', 'load', 'ready', 'readyCPU']) {
  const v = opens.map((o) => o[k] ?? NaN);
  const label = {
    rendered: 'IndexedDB → rendering',
    editor: 'new EditorView',
    paint: 'IndexedDB → first paint',
    cpu: '  main-thread CPU of it',
    load: 'IndexedDB → Doc loaded',
    ready: 'IndexedDB → bound, editable',
    readyCPU: '  main-thread CPU of it',
  }[k];
  console.log(`  ${label.padEnd(28)} ${ms(median(v))} ${ms(Math.max(...v))}`);
}
{
  // Per run, first screen and whole rendering opened one after the other.
  const ratio = median(screens.map((o, i) => o.paint / opens[i].paint));
  const cpuRatio = median(screens.map((o, i) => o.cpu / opens[i].cpu));
  console.log(`  first paint, first screen ÷ whole rendering (median of runs): ${ratio.toFixed(2)} wall, ${cpuRatio.toFixed(2)} main-thread CPU`);
}
console.log(`open without rendering`);
for (const k of ['load', 'apply', 'editor', 'paint', 'cpu']) {
  const v = opensDoc.map((o) => o[k] ?? NaN);
  const label = {
    load: 'IndexedDB → Doc',
    apply: '  of which Doc.apply',
    editor: 'new EditorView',
    paint: 'IndexedDB → first paint',
    cpu: '  main-thread CPU of it',
  }[k];
  console.log(`  ${label.padEnd(28)} ${ms(median(v))} ${ms(Math.max(...v))}`);
}
for (const k of ['paint', 'cpu']) {
  const v = plains.map((o) => o[k]);
  const label = { paint: 'editor alone → first paint', cpu: '  main-thread CPU of it' }[k];
  console.log(`  ${label.padEnd(28)} ${ms(median(v))} ${ms(Math.max(...v))}`);
}

/** typing types KEYS keys into the stored document and returns what it measured. */
async function typing(persist) {
  const p = await context.newPage();
  await p.goto(url('type') + (persist ? '' : '&persist=0'));
  await p.evaluate(() => window.bench);
  await browser.startTracing(p, { categories: CATEGORIES });
  await p.evaluate(() => window.markTyping('typing-start'));
  await p.keyboard.type('x'.repeat(KEYS), { delay: 15 });
  await p.waitForTimeout(300);
  await p.evaluate(() => window.markTyping('typing-end'));
  const events = JSON.parse((await browser.stopTracing()).toString()).traceEvents;
  const cpu = cpuBetween(events, 'typing-start', 'typing-end');
  const spent = await p.evaluate(() => window.spent);
  // CPU time of each write task: the TimerFire of a timer persistence set.
  const timers = new Set(await p.evaluate(() => window.timers ?? []));
  const writes = events
    .filter((e) => e.name === 'TimerFire' && e.ph === 'X' && timers.has(e.args?.data?.timerId) && typeof e.tdur === 'number')
    .map((e) => e.tdur / 1000);
  await p.close();
  return { cpu, spent, writes };
}
const base = await typing(false);
const typed = await typing(true);
// One keystroke: one storeUpdate and the write after it; a compaction
// (every 500 records) is counted apart.
const per = typed.spent.filter(([n]) => n === 'storeUpdate').map(([, t]) => t);
const flushes = typed.spent.filter(([n]) => n === 'flush').map(([, t]) => t);
const compactions = typed.spent.filter(([n]) => n === 'compact').map(([, t]) => t);
const keystroke = per.map((t, i) => t + (flushes[i] ?? 0));
const pct = (a, q) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(a.length * q))];
console.log(`typing ${KEYS} keys into the stored document: ${per.length} updates, ${flushes.length} writes`);
console.log(`  persistence per keystroke (wall)  p50 ${ms(pct(keystroke, 0.5))}  p95 ${ms(pct(keystroke, 0.95))}  max ${ms(Math.max(...keystroke))}`);
// Per keystroke: storing the update (wall time, a few microseconds that
// preemption rarely hits) plus the CPU time of the write task it scheduled.
const cpuPer = per.map((t, i) => t + (typed.writes[i] ?? 0));
console.log(`  persistence per keystroke (CPU)   p50 ${ms(pct(cpuPer, 0.5))}  p95 ${ms(pct(cpuPer, 0.95))}  max ${ms(Math.max(...cpuPer))}  (${typed.writes.length} write tasks traced)`);
console.log(`  main-thread CPU per keystroke (editor, CRDT, all): ${(base.cpu / KEYS).toFixed(2)} ms without persistence, ${(typed.cpu / KEYS).toFixed(2)} ms with`);
if (compactions.length > 0) console.log(`  compactions: ${compactions.length}, ${compactions.map(ms).join(', ')} (start only; the snapshot is taken in its transaction)`);

console.log(`load average at the end: ${load()}`);
await browser.close();
await server.stop();
