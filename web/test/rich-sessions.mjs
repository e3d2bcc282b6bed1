// Cross-language rich-text sessions: seeded random editing sessions of 2–4
// replicas making inserts (ASCII, emoji, newlines, multi-byte code points),
// deletes, formats, unformats, embeds, block attributes and Quill deltas
// (applyDelta), alone or in transactions, and undo and redo (Go's
// generator makes no deltas, undo or redo),
// whose updates arrive in random order with duplicates and state vector
// resyncs; recorded step by step with every update's bytes
// and every replica's final delta, state vector and snapshot. It extends
// the mechanism of crdt/crosslang_test.go and gen-sessions.mjs (same
// conventions: positions count code points, bytes are lowercase hex) to
// the rich steps of crdt/testdata/rich.json.
//
//   node test/rich-sessions.mjs --seed S --count N   prints N sessions made by the JS Doc
//   node test/rich-sessions.mjs --replay FILE        replays sessions (FILE, or - for stdin) in JS
//   node test/rich-sessions.mjs --corrupt            prints what the JS Doc makes of corrupted rich updates
//
// web/rich_crosslang_test.go runs them: it replays the JS sessions in Go,
// has the JS replay sessions the Go Doc made, and compares the verdicts of
// both Docs on every corrupted rich update. rich.test.js runs the JS
// generator against the JS replay.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Doc, UndoManager, toHex, fromHex, encodeStateVector, decodeStateVector } from '../src/index.js';
import '../src/richdelta.js';
import { Rand, unitsAt } from './helpers.js';

/** The file format of a sessions file (the same for both generators). */
export const RICH_SESSIONS_VERSION = 1;

// What the sessions draw from. Client IDs of every msgpack width.
const CLIENTS = [7, 42, 300, 70000, 2 ** 32 + 5, 2 ** 53 - 1];
const PIECES = ['a', 'b', 'z', ' ', '\n', 'word ', 'é', '中', '😀', '👍🏽', 'e\u0301', '\ufeff'];
const KEYS = ['bold', 'italic', 'link', 'comment'];
const VALUES = ['a', 'b', true];
const BLOCK_KEYS = ['header', 'list'];
const BLOCK_VALUES = [1, 2, 'bullet', null];

/** cps returns the number of code points of s. */
function cps(s) {
  return [...s].length;
}

/**
 * runStep performs one recorded rich step (positions in code points) on
 * text x and returns its update (null inside a transaction).
 */
export function runStep(x, s) {
  const str = x.toString();
  const pos = unitsAt(str, s.pos);
  const len = (n) => unitsAt(str, s.pos + n) - pos;
  const value = s.value === undefined ? null : s.value;
  switch (s.op) {
    case 'insert':
      return x.insert(pos, s.text);
    case 'delete':
      return x.delete(pos, len(s.n));
    case 'format':
      return x.format(pos, len(s.n), s.key, value);
    case 'embed':
      return x.insertEmbed(pos, value);
    case 'block':
      return x.setBlock(pos, s.key, value);
    case 'delta': {
      // Retains and deletes count code points of the text as it was.
      let cp = 0;
      const ops = s.delta.map((op) => {
        if (op.retain === undefined && op.delete === undefined) return op;
        const n = op.retain ?? op.delete;
        const units = unitsAt(str, cp + n) - unitsAt(str, cp);
        cp += n;
        return op.retain !== undefined ? { ...op, retain: units } : { delete: units };
      });
      return x.applyDelta(ops);
    }
  }
  throw new Error(`unknown step ${s.op}`);
}

/** finalOf describes doc d at the end of a session. */
function finalOf(d) {
  return {
    delta: JSON.parse(JSON.stringify(d.getText('t').toDelta())),
    state_vector_hex: toHex(encodeStateVector(d.stateVector())),
    pending: d.hasPending(),
    snapshot: toHex(d.snapshot()),
  };
}

/** Generator makes one session with the JS Doc. */
class Generator {
  constructor(name, seed, replicas) {
    this.rng = new Rand(seed);
    this.rec = { name, seed: String(seed), docs: [], steps: [], updates: [], final: [] };
    const clients = this.rng.shuffle(CLIENTS.slice());
    this.docs = [];
    this.names = [];
    for (let i = 0; i < replicas; i++) {
      const n = String.fromCharCode(65 + i);
      this.names.push(n);
      this.rec.docs.push({ name: n, client: clients[i] });
      this.docs.push(new Doc({ clientID: clients[i] }));
    }
    // Each local step or transaction is one undo step (no capture timeout).
    this.undos = this.docs.map((d) => new UndoManager(d.getText('t'), { captureTimeout: -1 }));
    this.bytes = new Map();
    this.counts = this.docs.map(() => 0);
    this.applied = this.docs.map(() => []);
    this.inbox = this.docs.map(() => []);
  }

  produce(i, u) {
    if (u === null) throw new Error(`doc ${this.names[i]} made no update`);
    const id = this.names[i] + ++this.counts[i];
    this.rec.updates.push({ id, hex: toHex(u) });
    this.bytes.set(id, u);
    return id;
  }

  /** edit draws one rich step for replica i and runs it; it returns the step and its update. */
  edit(i) {
    const rng = this.rng;
    const x = this.docs[i].getText('t');
    const n = cps(x.toString());
    let s;
    const k = rng.intn(12);
    if (k >= 10) {
      s = { op: 'delta', pos: 0, delta: this.randomDelta(n) };
    } else if (k < 3 || n === 0) {
      let text = '';
      for (let m = 1 + rng.intn(3); m > 0; m--) text += PIECES[rng.intn(PIECES.length)];
      s = { op: 'insert', pos: rng.intn(n + 1), text };
    } else if (k < 5) {
      const pos = rng.intn(n);
      s = { op: 'delete', pos, n: 1 + rng.intn(Math.min(4, n - pos)) };
    } else if (k < 7) {
      const pos = rng.intn(n);
      s = { op: 'format', pos, n: 1 + rng.intn(n - pos), key: KEYS[rng.intn(KEYS.length)], value: k === 6 ? null : VALUES[rng.intn(VALUES.length)] };
    } else if (k < 8) {
      s = { op: 'embed', pos: rng.intn(n + 1), value: { img: rng.intn(4) } };
    } else {
      const pos = rng.intn(n + 1);
      const str = x.toString();
      if (str.indexOf('\n', unitsAt(str, pos)) < 0) s = { op: 'insert', pos, text: '\n' };
      else s = { op: 'block', pos, key: BLOCK_KEYS[rng.intn(2)], value: BLOCK_VALUES[rng.intn(BLOCK_VALUES.length)] };
    }
    return [s, runStep(x, s)];
  }

  /** randomDelta draws a Quill delta (positions in code points) for a text of n code points. */
  randomDelta(n) {
    const rng = this.rng;
    const attrs = (nullOK) => {
      let a;
      for (const key of [...KEYS, ...BLOCK_KEYS]) {
        const r = rng.intn(8);
        const values = BLOCK_KEYS.includes(key) ? BLOCK_VALUES.filter((v) => v !== null) : VALUES;
        if (r === 0) (a ??= {})[key] = values[rng.intn(values.length)];
        else if (r === 1 && nullOK) (a ??= {})[key] = null;
      }
      return a;
    };
    const withAttrs = (op, a) => (a === undefined ? op : { ...op, attributes: a });
    const ops = [];
    let pos = 0;
    for (let k = 1 + rng.intn(3); k > 0; k--) {
      const r = rng.intn(6);
      if (r <= 1 && pos < n) {
        const m = 1 + rng.intn(n - pos);
        ops.push(withAttrs({ retain: m }, attrs(true)));
        pos += m;
      } else if (r === 2 && pos < n) {
        const m = 1 + rng.intn(Math.min(n - pos, 3));
        ops.push({ delete: m });
        n -= m;
      } else if (r === 3) {
        ops.push(withAttrs({ insert: { img: rng.intn(4) } }, attrs(false)));
        pos++;
        n++;
      } else {
        const t = PIECES[rng.intn(PIECES.length)];
        ops.push(withAttrs({ insert: t }, attrs(false)));
        pos += cps(t);
        n += cps(t);
      }
    }
    return ops;
  }

  local(i, s, u) {
    s.doc = this.names[i];
    s.produces = this.produce(i, u);
    this.rec.steps.push(s);
    this.applied[i].push(s.produces);
    for (let j = 0; j < this.docs.length; j++) if (j !== i) this.inbox[j].push(s.produces);
  }

  apply(i, id) {
    const d = this.docs[i];
    d.apply(this.bytes.get(id));
    this.applied[i].push(id);
    this.rec.steps.push({ doc: this.names[i], op: 'apply', update: id, pending_after: d.hasPending() });
  }

  resync(i, j) {
    for (const [from, to] of [
      [i, j],
      [j, i],
    ]) {
      const sv = encodeStateVector(this.docs[to].stateVector());
      const s = { doc: this.names[from], op: 'diff', against_hex: toHex(sv) };
      s.produces = this.produce(from, this.docs[from].diff(sv));
      this.rec.steps.push(s);
      this.apply(to, s.produces);
    }
  }

  step() {
    const rng = this.rng;
    const i = rng.intn(this.docs.length);
    const r = rng.intn(20);
    if (r < 9) {
      const [s, u] = this.edit(i);
      if (u === null && s.op === 'delta') return; // it changed nothing
      this.local(i, s, u);
    } else if (r < 11) {
      const ops = [];
      const d = this.docs[i];
      const u = d.transact(() => {
        for (let k = 2 + rng.intn(3); k > 0; k--) {
          const [s, inner] = this.edit(i);
          if (inner !== null) throw new Error(`${s.op} inside a transaction returned an update`);
          ops.push(s);
        }
      });
      if (u === null && ops.every((s) => s.op === 'delta')) return; // they changed nothing
      this.local(i, { op: 'transact', ops }, u);
    } else if (r < 12) {
      // Undo or redo: recorded even when it changes nothing, since it
      // moves an item between the stacks all the same.
      const op = rng.intn(3) === 0 ? 'redo' : 'undo';
      const d = this.docs[i];
      let u = null;
      const off = d.onLocalUpdate((x) => (u = x));
      this.undos[i][op]();
      off();
      if (u !== null) this.local(i, { op }, u);
      else this.rec.steps.push({ doc: this.names[i], op });
    } else if (r < 18) {
      const box = this.inbox[i];
      if (box.length === 0) return;
      const k = rng.intn(box.length);
      const id = box[k];
      if (rng.intn(4) !== 0) box.splice(k, 1);
      this.apply(i, id);
    } else {
      const j = rng.intn(this.docs.length);
      if (j !== i) this.resync(i, j);
    }
  }

  run(steps) {
    for (let k = 0; k < steps; k++) this.step();
    for (let i = 0; i < this.docs.length; i++) {
      for (const id of this.rng.shuffle(this.inbox[i])) this.apply(i, id);
      this.inbox[i] = [];
    }
    for (let i = 0; i < this.docs.length; i++) for (let j = i + 1; j < this.docs.length; j++) this.resync(i, j);
    this.docs.forEach((d, i) => this.rec.final.push({ doc: this.names[i], applied: this.applied[i].slice(), ...finalOf(d) }));
    return this.rec;
  }
}

/**
 * generate returns a sessions file of count sessions made by the JS Doc
 * from seed.
 */
export function generate(seed, count) {
  const sessions = [];
  for (let k = 0; k < count; k++) {
    const s = BigInt.asUintN(64, BigInt(seed) + BigInt(k));
    sessions.push(new Generator(`js-${k}`, s, 2 + (k % 3)).run(40 + 15 * (k % 4)));
  }
  return { format_version: RICH_SESSIONS_VERSION, generator: 'js', seed: String(seed), sessions };
}

/** same compares two JSON values whatever the order of object keys. */
function same(a, b) {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}

function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  }
  return v;
}

/**
 * replay checks a recorded session against the JS Doc: re-running its
 * steps gives every update byte for byte and the recorded pending flags;
 * every replica ends with the recorded delta, state vector and snapshot;
 * so does a fresh doc fed each replica's updates in the recorded and a
 * shuffled order, one loading its snapshot, and one merging every update
 * of the session. It throws at the first difference.
 */
export function replay(rec) {
  const updates = new Map(rec.updates.map((u) => [u.id, fromHex(u.hex)]));
  const clients = new Map(rec.docs.map((d) => [d.name, d.client]));
  const docs = new Map(rec.docs.map((d) => [d.name, new Doc({ clientID: d.client })]));
  const undos = new Map([...docs].map(([name, d]) => [name, new UndoManager(d.getText('t'), { captureTimeout: -1 })]));
  const fail = (what) => {
    throw new Error(`session ${rec.name}: ${what}`);
  };
  rec.steps.forEach((s, n) => {
    const d = docs.get(s.doc);
    const what = `step ${n} (${s.op} on doc ${s.doc})`;
    let got;
    switch (s.op) {
      case 'apply':
        d.apply(updates.get(s.update));
        if (d.hasPending() !== s.pending_after) fail(`${what}: pending after applying ${s.update} is ${d.hasPending()}`);
        return;
      case 'diff':
        got = d.diff(decodeStateVector(fromHex(s.against_hex)));
        break;
      case 'undo':
      case 'redo': {
        got = null;
        const off = d.onLocalUpdate((x) => (got = x));
        undos.get(s.doc)[s.op]();
        off();
        break;
      }
      case 'transact':
        got = d.transact(() => {
          for (const o of s.ops) if (runStep(d.getText('t'), o) !== null) fail(`${what}: ${o.op} inside the transaction returned an update`);
        });
        break;
      default:
        got = runStep(d.getText('t'), s);
    }
    const hex = (u) => (u === null || u === undefined ? 'none' : toHex(u));
    if (hex(got) !== hex(updates.get(s.produces))) {
      fail(`${what}: update ${s.produces} differs:\n  step ${JSON.stringify(s)}\n  recorded ${hex(updates.get(s.produces))}\n  JS made  ${hex(got)}`);
    }
  });
  const check = (what, d, f) => {
    const g = finalOf(d);
    for (const k of ['delta', 'state_vector_hex', 'pending', 'snapshot']) {
      if (!same(g[k], f[k])) fail(`${what}: ${k} is\n  ${JSON.stringify(g[k])}\nwant\n  ${JSON.stringify(f[k])}`);
    }
  };
  const rng = new Rand(0x5e55);
  for (const f of rec.final) {
    check(`doc ${f.doc} after the steps`, docs.get(f.doc), f);
    for (const [label, order] of [
      ['recorded order', f.applied],
      ['shuffled', rng.shuffle(f.applied.slice())],
    ]) {
      const d = new Doc({ clientID: clients.get(f.doc) });
      for (const id of order) d.apply(updates.get(id));
      check(`doc ${f.doc}, ${label}`, d, f);
    }
    const d = new Doc({ clientID: clients.get(f.doc) });
    d.apply(fromHex(f.snapshot));
    check(`doc ${f.doc} loaded from its snapshot`, d, f);
  }
  const d = new Doc({ clientID: 1 });
  for (const id of rng.shuffle([...updates.keys()])) d.apply(updates.get(id));
  check('a doc merging every update', d, rec.final[0]);
}

/**
 * corruptionVerdicts mirrors TestRichCorruptedUpdates (crdt/rich_test.go)
 * and returns, one line per mutated byte, whether the JS Doc refuses the
 * update or, if it takes it, the snapshot it ends with; the Go test of the
 * same name in web/ computes the same lines with the Go Doc.
 */
export function corruptionVerdicts() {
  const d = new Doc({ clientID: 1 });
  const x = d.getText('t');
  const seeds = [
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
  seeds.push(d.snapshot());
  const base = seeds[seeds.length - 1];
  const out = [];
  seeds.forEach((seed, si) => {
    out.push(`seed ${toHex(seed)}`);
    for (let i = 0; i < seed.length; i++) {
      for (const v of [seed[i] ^ 0x01, seed[i] ^ 0x80, (seed[i] + 1) & 0xff, 0x00, 0xc0, 0x93]) {
        const mut = seed.slice();
        mut[i] = v;
        const e = new Doc({ clientID: 2 });
        if (si < seeds.length - 1) e.apply(base);
        try {
          e.apply(mut);
        } catch {
          out.push(`${si} ${i} ${v} refused`);
          continue;
        }
        out.push(`${si} ${i} ${v} ${toHex(e.snapshot())} ${e.hasPending()}`);
      }
    }
  });
  return out;
}

/** main is the command line (see the top of the file). */
function main(args) {
  const opt = (name) => {
    const i = args.indexOf(name);
    return i < 0 ? undefined : args[i + 1];
  };
  if (args.includes('--corrupt')) {
    process.stdout.write(corruptionVerdicts().join('\n') + '\n');
    return;
  }
  const file = opt('--replay');
  if (file !== undefined) {
    const sf = JSON.parse(readFileSync(file === '-' ? 0 : file, 'utf8'));
    if (sf.format_version !== RICH_SESSIONS_VERSION) throw new Error(`format_version ${sf.format_version}, want ${RICH_SESSIONS_VERSION}`);
    if (sf.sessions.length === 0) throw new Error('no sessions');
    for (const rec of sf.sessions) replay(rec);
    process.stdout.write(`replayed ${sf.sessions.length} ${sf.generator} sessions\n`);
    return;
  }
  const seed = opt('--seed') ?? String(Date.now());
  const count = Number(opt('--count') ?? 4);
  process.stdout.write(JSON.stringify(generate(BigInt(seed), count)) + '\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
