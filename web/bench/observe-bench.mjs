// observe-bench.mjs — what observing a Text costs when a fragmented text
// arrives in one transaction (loading a snapshot): every piece of the text
// is a positional change, and the changes are composed into one delta.
//
// Usage (from web/): node bench/observe-bench.mjs [--chars 50000] [--runs 7]
//
// The text is typed one character at a random position at a time, so that
// no two neighbouring characters share a run: --chars pieces. Prints the
// best of --runs loads of its snapshot into a fresh Doc, without and with
// an observer on the text.

import { Doc } from '../src/index.js';

const args = process.argv.slice(2);
const flag = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const chars = flag('chars', 50000);
const runs = flag('runs', 7);

// A fixed-seed xorshift, so that every run builds the same text.
let seed = 12345;
const rand = (n) => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
};

const src = new Doc({ clientID: 1 });
const text = src.getText('t');
src.change(() => {
  for (let i = 0; i < chars; i++) text.insert(rand(text.length + 1), 'x');
});
const snapshot = src.snapshot();

const best = { plain: Infinity, observed: Infinity };
for (let r = 0; r < runs; r++) {
  for (const observed of [false, true]) {
    const d = new Doc({ clientID: 2 });
    let inserted = 0;
    if (observed) d.getText('t').observe((ev) => (inserted = ev.delta[0].insert.length));
    const t0 = performance.now();
    d.apply(snapshot);
    const ms = performance.now() - t0;
    if (observed && inserted !== chars) throw new Error(`the delta inserted ${inserted} characters, not ${chars}`);
    const k = observed ? 'observed' : 'plain';
    best[k] = Math.min(best[k], ms);
  }
}
console.log(`${chars} pieces, snapshot ${snapshot.length} bytes, best of ${runs}: load ${best.plain.toFixed(0)} ms, observed load ${best.observed.toFixed(0)} ms (${(best.observed / best.plain).toFixed(1)}×)`);
