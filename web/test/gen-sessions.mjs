// Generates seeded random editing sessions with the JavaScript Doc, in the
// shape of ../../crdt/testdata/sessions.json (see its "conventions"), for
// the Go test TestCrossLanguageSessions (crdt/crosslang_test.go), which
// replays them in Go:
//
//   node web/test/gen-sessions.mjs --seed <uint64> --count <n>   # JSON on stdout
//
// 3 or 4 replicas with fixed client IDs make random edits (inserts and
// deletes of ASCII, emoji, combining marks and other multi-unit characters
// in three texts, map sets and deletes, single edits, typing and
// transactions); their updates arrive in random order, some twice, or not
// at all while a replica is offline, which then resyncs by state vector
// diffs; at the end everyone is synced. Edit positions are drawn in UTF-16
// units, as an editor would give them, sometimes inside a surrogate pair:
// the step records the code point edit the Doc actually made (an insert
// inside a pair goes before it, a delete touching a pair takes all of it,
// as README.md says), and the generator checks the text against that.
//
// sessions.test.js imports generateSessions; run by `node --test`, this
// file does nothing.

import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Doc, toHex, encodeStateVector } from '../src/index.js';
import { Rand } from './helpers.js';

/** The client IDs sessions draw from: every msgpack width, the largest ID. */
const CLIENTS = [7, 42, 300, 70000, 2 ** 32 + 5, 2 ** 53 - 1];
/** The same type names, keys and pieces as the Go generator. */
const TEXTS = ['body', '\ufb01le', '😀 log'];
const MAPS = ['meta'];
const KEYS = ['k0', 'k1', 'é', '😀', '\ufffd', ''];
const PIECES = [
  'a', 'b', 'z', ' ', '\n', 'word ', 'é', 'ß', '中', '日本語', '😀', '👍🏽', '👩\u200d💻', '𝄞',
  'e\u0301', '\u0301', '\u200d', '\ufeff', '\ue000', '\ufffd', 'ﬁ',
];
/** Map values, encoded by SharedMap.set (sorted object keys). */
const VALUES = [0, 7, 300, -5, 2 ** 40, 'v', '😀 é', '', true, null, 1.5, [1, 'x'], { b: 1, a: 'é' }];

const isHigh = (c) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c) => c >= 0xdc00 && c <= 0xdfff;
/** cps counts the code points of s. */
const cps = (s) => [...s].length;

/** pairStart moves a UTF-16 index inside a surrogate pair to the pair's start. */
function pairStart(s, i) {
  return i > 0 && i < s.length && isHigh(s.charCodeAt(i - 1)) && isLow(s.charCodeAt(i)) ? i - 1 : i;
}

/** pairEnd moves a UTF-16 index inside a surrogate pair to the pair's end. */
function pairEnd(s, i) {
  return i > 0 && i < s.length && isHigh(s.charCodeAt(i - 1)) && isLow(s.charCodeAt(i)) ? i + 1 : i;
}

class SessionGen {
  constructor(name, seed, replicas) {
    this.rng = new Rand(seed);
    const clients = this.rng.shuffle([...CLIENTS]);
    this.names = [];
    this.docs = [];
    this.rec = { name, seed: seed.toString(), docs: [], texts: TEXTS, maps: MAPS, steps: [], updates: [], final: [] };
    for (let i = 0; i < replicas; i++) {
      const n = String.fromCharCode(65 + i);
      this.names.push(n);
      this.rec.docs.push({ name: n, client: clients[i] });
      this.docs.push(new Doc({ clientID: clients[i] }));
    }
    this.bytes = new Map();
    this.counts = this.docs.map(() => 0);
    this.applied = this.docs.map(() => []);
    this.inbox = this.docs.map(() => []);
    this.offline = this.docs.map(() => false);
  }

  /** produce records update u made by replica i and returns its id. */
  produce(i, kind, u) {
    assert.ok(u instanceof Uint8Array, `${this.rec.name}: a ${kind} of doc ${this.names[i]} made no update`);
    const id = `${this.names[i]}${++this.counts[i]}`;
    this.rec.updates.push({ id, by: this.names[i], kind, size: u.length, hex: toHex(u) });
    this.bytes.set(id, u);
    return id;
  }

  /** local records a local update of replica i as step s and sends it. */
  local(i, kind, s, u) {
    const id = this.produce(i, kind, u);
    this.rec.steps.push({ doc: this.names[i], ...s, produces: id });
    this.applied[i].push(id);
    if (this.offline[i]) return; // peers get it by diff
    this.docs.forEach((_, j) => {
      if (j !== i && !this.offline[j]) this.inbox[j].push(id);
    });
  }

  /**
   * edit makes one random edit on replica i and returns its step (code
   * point positions) and update (null inside a transaction).
   */
  edit(i) {
    const d = this.docs[i];
    const rng = this.rng;
    if (rng.intn(10) === 0) {
      const m = d.getMap(MAPS[0]);
      const key = KEYS[rng.intn(KEYS.length)];
      if (m.has(key) && rng.intn(3) === 0) {
        return [{ op: 'map_delete', map: m.name, key }, m.delete(key)];
      }
      const u = m.set(key, VALUES[rng.intn(VALUES.length)]);
      return [{ op: 'map_set', map: m.name, key, value_msgpack: toHex(m.getRaw(key)) }, u];
    }
    const r = rng.intn(10);
    const name = TEXTS[r === 8 ? 1 : r === 9 ? 2 : 0];
    const t = d.getText(name);
    const before = t.toString();
    if (before.length > 0 && rng.intn(5) < 2) {
      // UTF-16 positions, possibly splitting a pair at either end.
      const from = rng.intn(before.length);
      const len = 1 + rng.intn(Math.min(6, before.length - from));
      const start = pairStart(before, from);
      const end = pairEnd(before, from + len);
      const u = t.delete(from, len);
      const want = before.slice(0, start) + before.slice(end);
      assert.equal(t.toString(), want, `${this.rec.name}: delete(${from}, ${len}) of ${JSON.stringify(before)}`);
      return [{ op: 'delete', text: name, pos: cps(before.slice(0, start)), len: cps(before.slice(start, end)) }, u];
    }
    const at = rng.intn(before.length + 1);
    const s = this.randomString();
    const u = t.insert(at, s);
    const p = pairStart(before, at);
    const want = before.slice(0, p) + s + before.slice(p);
    assert.equal(t.toString(), want, `${this.rec.name}: insert(${at}, ${JSON.stringify(s)}) into ${JSON.stringify(before)}`);
    return [{ op: 'insert', text: name, pos: cps(before.slice(0, p)), insert: s }, u];
  }

  randomString() {
    let n = 1 + this.rng.intn(3);
    if (this.rng.intn(5) === 0) n += this.rng.intn(8);
    let s = '';
    for (let k = 0; k < n; k++) s += PIECES[this.rng.intn(PIECES.length)];
    return s;
  }

  /** apply delivers update id to replica i. */
  apply(i, id) {
    const d = this.docs[i];
    d.apply(this.bytes.get(id));
    this.applied[i].push(id);
    this.rec.steps.push({ doc: this.names[i], op: 'apply', update: id, pending_after: d.hasPending() });
  }

  /** resync exchanges state vector diffs between replicas i and j. */
  resync(i, j) {
    for (const [from, to] of [[i, j], [j, i]]) {
      const sv = this.docs[to].stateVector();
      const u = this.docs[from].diff(sv);
      const id = this.produce(from, 'diff', u);
      this.rec.steps.push({ doc: this.names[from], op: 'diff', against_hex: toHex(encodeStateVector(sv)), produces: id });
      this.apply(to, id);
    }
  }

  step() {
    const rng = this.rng;
    const n = this.docs.length;
    const i = rng.intn(n);
    const d = this.docs[i];
    const r = rng.intn(20);
    if (r < 8) {
      const [s, u] = this.edit(i);
      this.local(i, 'edit', s, u);
    } else if (r < 9) {
      // Typing: one update per piece, at consecutive positions.
      const t = d.getText(TEXTS[0]);
      const before = t.toString();
      let at = pairStart(before, rng.intn(before.length + 1));
      for (let k = 1 + rng.intn(5); k > 0; k--) {
        const p = PIECES[rng.intn(PIECES.length)];
        const pos = cps(t.toString().slice(0, at));
        const u = t.insert(at, p);
        this.local(i, 'edit', { op: 'insert', text: t.name, pos, insert: p }, u);
        at += p.length;
      }
    } else if (r < 11) {
      const ops = [];
      const u = d.transact(() => {
        for (let k = 2 + rng.intn(3); k > 0; k--) {
          const [s, u1] = this.edit(i);
          assert.equal(u1, null, `${this.rec.name}: ${s.op} inside transact returned an update`);
          ops.push(s);
        }
      });
      this.local(i, 'transact', { op: 'transact', ops }, u);
    } else if (r < 17) {
      const box = this.inbox[i];
      if (box.length === 0) return;
      const k = rng.intn(box.length);
      const id = box[k];
      if (rng.intn(4) !== 0) box.splice(k, 1);
      this.apply(i, id);
    } else if (r < 18) {
      this.offline[i] = !this.offline[i];
      if (!this.offline[i]) this.resync(i, (i + 1 + rng.intn(n - 1)) % n);
    } else {
      const j = rng.intn(n);
      if (j !== i && !this.offline[i] && !this.offline[j]) this.resync(i, j);
    }
  }

  /** finish syncs everyone and records the final states. */
  finish() {
    this.docs.forEach((_, i) => {
      this.offline[i] = false;
      for (const id of this.rng.shuffle(this.inbox[i])) this.apply(i, id);
      this.inbox[i] = [];
    });
    for (let i = 0; i < this.docs.length; i++) for (let j = i + 1; j < this.docs.length; j++) this.resync(i, j);
    this.docs.forEach((d, i) => this.rec.final.push({ doc: this.names[i], applied: [...this.applied[i]], ...finalState(d, this.rec) }));
    const a = this.rec.final[0];
    for (const b of this.rec.final) {
      assert.equal(b.pending, false, `${this.rec.name}: doc ${b.doc} ends with pending changes`);
      assert.deepEqual({ ...b, doc: '', applied: [] }, { ...a, doc: '', applied: [] }, `${this.rec.name}: docs ${a.doc} and ${b.doc} did not converge`);
    }
    return this.rec;
  }
}

/**
 * finalState describes doc in the form of a session's final entries
 * (without doc and applied): the session's texts, its maps' values as
 * msgpack hex sorted by key, the state vector, pending flag and snapshot.
 */
export function finalState(doc, rec) {
  const texts = {};
  for (const name of rec.texts) texts[name] = doc.getText(name).toString();
  const maps = {};
  for (const name of rec.maps) {
    const m = doc.getMap(name);
    const o = {};
    for (const k of m.keys()) o[k] = toHex(m.getRaw(k));
    maps[name] = o;
  }
  const sv = doc.stateVector();
  const svo = {};
  for (const [c, k] of [...sv].sort((a, b) => a[0] - b[0])) if (k > 0) svo[String(c)] = k;
  return {
    texts,
    map_values_msgpack: maps,
    state_vector: svo,
    state_vector_hex: toHex(encodeStateVector(sv)),
    pending: doc.hasPending(),
    snapshot: toHex(doc.snapshot()),
  };
}

/**
 * generateSessions returns count sessions from seed (a uint64 as a number,
 * string or BigInt) in the shape of sessions.json.
 */
export function generateSessions(seed, count) {
  const base = BigInt.asUintN(64, BigInt(seed));
  const sessions = [];
  for (let k = 0; k < count; k++) {
    const g = new SessionGen(`js-${k}`, BigInt.asUintN(64, base + BigInt(k)), 3 + (k % 2));
    for (let s = 90 + 20 * (k % 4); s > 0; s--) g.step();
    sessions.push(g.finish());
  }
  return {
    format_version: 1,
    about: 'Random editing sessions generated by the JavaScript Doc (web/test/gen-sessions.mjs), for the Go test TestCrossLanguageSessions.',
    conventions: ['As in crdt/testdata/sessions.json.'],
    generator: 'js',
    seed: base.toString(),
    sessions,
  };
}

function main(argv) {
  const usage = 'usage: node gen-sessions.mjs --seed <uint64> --count <n>';
  const opts = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!['--seed', '--count'].includes(argv[i]) || i + 1 >= argv.length) throw new Error(usage);
    opts[argv[i].slice(2)] = argv[i + 1];
  }
  if (!/^\d+$/.test(opts.seed ?? '') || !/^\d+$/.test(opts.count ?? '')) throw new Error(usage);
  process.stdout.write(JSON.stringify(generateSessions(opts.seed, Number(opts.count))) + '\n');
}

// node --test runs every file of test/ (with NODE_TEST_CONTEXT set): then
// this file only defines generateSessions for sessions.test.js.
if (process.argv[1] === fileURLToPath(import.meta.url) && !(process.env.NODE_TEST_CONTEXT && process.argv.length === 2)) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`gen-sessions: ${String(e.message).startsWith('usage') ? e.message : e.stack}\n`);
    process.exitCode = 1;
  }
}
