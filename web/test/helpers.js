// Helpers shared by the tests: code point ↔ UTF-16 conversions, a seeded
// PRNG, document comparison and trace loading.

import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { toHex, fromHex } from '../src/index.js';
import { Writer } from '../src/codec.js';
import { setFanout } from '../src/text.js';

const HERE = dirname(fileURLToPath(import.meta.url));

/** The repository root (web/..). */
export const REPO_ROOT = resolve(HERE, '..', '..');

/** unitsAt returns the UTF-16 offset of code point cp of s. */
export function unitsAt(s, cp) {
  let i = 0;
  for (; cp > 0; cp--) {
    if (i >= s.length) throw new Error(`code point ${cp} past the end`);
    const c = s.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff ? 2 : 1;
  }
  return i;
}

/**
 * deltaToCodePoints converts a UTF-16 delta on text `before` into the
 * code point delta the Go implementation reports, and returns it with the
 * text after the delta.
 */
export function deltaToCodePoints(delta, before) {
  const out = [];
  let pos = 0; // UTF-16 position in before
  let after = '';
  for (const op of delta) {
    if ('retain' in op) {
      const s = before.slice(pos, pos + op.retain);
      out.push({ retain: [...s].length });
      after += s;
      pos += op.retain;
    } else if ('delete' in op) {
      out.push({ delete: [...before.slice(pos, pos + op.delete)].length });
      pos += op.delete;
    } else {
      out.push({ insert: op.insert });
      after += op.insert;
    }
  }
  return { delta: out, after: after + before.slice(pos) };
}

/**
 * splitmix64 is a small seeded PRNG (the one the Go tests use), so that a
 * failing run can be replayed from its printed seed.
 */
export class Rand {
  constructor(seed) {
    this.s = BigInt.asUintN(64, BigInt(seed));
  }

  next() {
    this.s = BigInt.asUintN(64, this.s + 0x9e3779b97f4a7c15n);
    let z = this.s;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    return z ^ (z >> 31n);
  }

  /** intn returns an integer in [0, n). */
  intn(n) {
    return Number(this.next() % BigInt(n));
  }

  shuffle(a) {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.intn(i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }
}

/** state summarises a doc for comparisons: texts, map values, state vector, pending, snapshot. */
export function state(doc) {
  const texts = {};
  for (const n of doc.textNames()) {
    const s = doc.getText(n).toString();
    if (s !== '') texts[n] = s;
  }
  const maps = {};
  for (const n of doc.mapNames()) {
    const m = doc.getMap(n);
    const o = {};
    for (const k of m.keys()) o[k] = toHex(m.getRaw(k));
    if (Object.keys(o).length > 0) maps[n] = o;
  }
  return {
    texts,
    maps,
    sv: [...doc.stateVector()].sort((a, b) => a[0] - b[0]),
    pending: doc.hasPending(),
    snapshot: toHex(doc.snapshot()),
  };
}

/** TRACES_DIR is where the editing traces live: ../shared/traces from the repo root. */
export const TRACES_DIR = join(REPO_ROOT, '..', 'shared', 'traces');

/** tracesAvailable reports whether the traces folder exists. */
export function tracesAvailable() {
  return existsSync(TRACES_DIR);
}

/** loadTrace reads one gzipped trace (josephg/editing-traces format). */
export function loadTrace(name) {
  return JSON.parse(gunzipSync(readFileSync(join(TRACES_DIR, `${name}.json.gz`))).toString('utf8'));
}

/** localOp runs one recorded local edit of a vector or session step (positions in code points) and returns its update. */
export function localOp(doc, op) {
  switch (op.op) {
    case 'insert': {
      const t = doc.getText(op.text);
      return t.insert(unitsAt(t.toString(), op.pos), op.insert);
    }
    case 'delete': {
      const t = doc.getText(op.text);
      const s = t.toString();
      const from = unitsAt(s, op.pos);
      return t.delete(from, unitsAt(s, op.pos + op.len) - from);
    }
    case 'map_set':
      return doc.getMap(op.map).setRaw(op.key, fromHex(op.value_msgpack));
    case 'map_delete':
      return doc.getMap(op.map).delete(op.key);
    default:
      throw new Error(`unknown local op ${op.op}`);
  }
}

/**
 * checkClients throws unless each client's index of doc is consistent (as
 * Go's checkHeads): heads in clock order with headClocks beside them, each
 * head's chain covering the clocks up to the next head, the last one's up
 * to next.
 */
export function checkClients(doc, what = '') {
  for (const [id, c] of doc.clients) {
    if (c.heads.length === 0) continue;
    if (c.headClocks.length !== c.heads.length) throw new Error(`${what}: client ${id}: ${c.heads.length} heads, ${c.headClocks.length} head clocks`);
    let clock = 0;
    c.heads.forEach((h, i) => {
      if (h.clock !== clock || c.headClocks[i] !== clock) {
        throw new Error(`${what}: client ${id}: head ${i} starts at ${h.clock} (head clock ${c.headClocks[i]}), the chain before ends at ${clock}`);
      }
      for (let it = h; it !== null; it = it.next) {
        if (it.clock !== clock || !(it.length > 0)) throw new Error(`${what}: client ${id}: piece at ${it.clock} of length ${it.length} in a chain at ${clock}`);
        clock += it.length;
      }
    });
    if (clock !== c.next) throw new Error(`${what}: client ${id}: heads cover clocks up to ${clock}, next is ${c.next}`);
  }
}

/**
 * runs returns how many runs a random test makes: CRDT_RUNS if set (a
 * long hunt for rare bugs), else n, the everyday count.
 */
export function runs(n) {
  const v = process.env.CRDT_RUNS;
  if (v === undefined || v === '') return n;
  const k = Number(v);
  if (!Number.isSafeInteger(k) || k < 1) throw new Error(`bad CRDT_RUNS ${JSON.stringify(v)}: want a count of runs`);
  return k;
}

/** sorted returns attributes a with its keys in order, for comparing as JSON. */
export function sorted(a) {
  if (a === undefined) return undefined;
  return Object.fromEntries(Object.entries(a).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
}

/** withAttrs applies the attribute changes ch to attrs (all of them if replace); null removes a key. */
export function withAttrs(attrs, ch, replace) {
  const out = replace ? {} : { ...attrs };
  for (const [k, v] of Object.entries(ch ?? {})) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/**
 * replayDelta applies an event delta to a model of a rich text, an array of
 * cells {ins, attrs}, one UTF-16 unit or embed a cell, and returns the new
 * model.
 */
export function replayDelta(m, delta) {
  const out = [];
  let pos = 0;
  for (const op of delta) {
    if (op.retain !== undefined) {
      assert.ok(pos + op.retain <= m.length, 'retain past the end');
      for (const c of m.slice(pos, pos + op.retain)) out.push({ ins: c.ins, attrs: withAttrs(c.attrs, op.attributes, false) });
      pos += op.retain;
    } else if (op.delete !== undefined) {
      assert.ok(pos + op.delete <= m.length, 'delete past the end');
      pos += op.delete;
    } else if (typeof op.insert === 'string') {
      for (const u of op.insert.split('')) out.push({ ins: u, attrs: withAttrs(undefined, op.attributes, true) });
    } else {
      out.push({ ins: op.insert, attrs: withAttrs(undefined, op.attributes, true) });
    }
  }
  return out.concat(m.slice(pos));
}

/**
 * randomRichDelta returns 1–4 random Quill ops for a text of len UTF-16
 * units: retains with attributes, deletes, embeds and inserts of pieces,
 * with attributes from attrs(nullOK) (null removes a key, for retains).
 * @param {{intn: (n: number) => number}} rnd
 * @param {number} len
 * @param {string[]} pieces
 * @param {(nullOK: boolean) => Record<string, unknown> | undefined} attrs
 */
export function randomRichDelta(rnd, len, pieces, attrs) {
  const ops = [];
  let pos = 0;
  const withA = (op, a) => (a === undefined ? op : { ...op, attributes: a });
  for (let k = 1 + rnd.intn(4); k > 0; k--) {
    const r = rnd.intn(6);
    if (r <= 1 && pos < len) {
      const m = 1 + rnd.intn(len - pos);
      ops.push(withA({ retain: m }, attrs(true)));
      pos += m;
    } else if (r === 2 && pos < len) {
      const m = 1 + rnd.intn(Math.min(len - pos, 4));
      ops.push({ delete: m });
      len -= m;
    } else if (r === 3) {
      ops.push(withA({ insert: { img: rnd.intn(3) } }, attrs(false)));
      pos++;
      len++;
    } else {
      const s = pieces[rnd.intn(pieces.length)];
      ops.push(withA({ insert: s }, attrs(false)));
      pos += s.length;
      len += s.length;
    }
  }
  return ops;
}

/**
 * craft returns an update of client's records from clock on, one after
 * the other: recs hold each record's text, its length n in code points and
 * its origins as [client, clock] pairs (null for none). A record with rich
 * set is one clock of RICH.md §R6 instead: 1 a start anchor of key, value
 * (raw msgpack bytes, null for none) and seq, expanding after when expand;
 * 2 an end anchor; 3 an embed of value (as Go's craftCostUpdate).
 */
export function craft(client, clock, recs) {
  const ids = new Set([client]);
  for (const r of recs) for (const o of [r.left, r.right]) if (o !== null) ids.add(o[0]);
  const clients = [...ids].sort((a, b) => a - b);
  const col = new Writer();
  col.varint(7); // parent: type 0
  let text = '';
  const entries = new Writer();
  let nEntries = 0;
  let version = 1;
  for (const r of recs) {
    const lm = r.left === null ? 0 : 2;
    const rm = r.right === null ? 0 : 3;
    const rich = r.rich ?? 0;
    if (rich !== 0) {
      version = 2;
      col.varint(3 | ((rich | (lm << 2) | (rm << 4) | (r.expand ? 1 << 6 : 0)) << 3));
    } else col.varint(1 | (lm << 3) | (rm << 5) | ((r.n - 1) << 7)); // a long text header
    for (const o of [r.left, r.right]) {
      if (o === null) continue;
      col.varint(clients.indexOf(o[0]));
      col.varint(o[1]);
    }
    if (rich === 0) text += r.text;
    else if (rich === 1) {
      col.varint(r.seq);
      entries.arrayLen(r.value === null ? 1 : 2);
      entries.str(r.key);
      if (r.value !== null) entries.bytes(r.value);
      nEntries++;
    } else if (rich === 3) {
      entries.arrayLen(1);
      entries.bytes(r.value);
      nEntries++;
    }
  }
  const w = new Writer();
  w.arrayLen(5);
  w.uint(version);
  w.arrayLen(1);
  w.arrayLen(2);
  w.uint(0);
  w.str('t');
  w.arrayLen(clients.length);
  for (const c of clients) w.uint(c);
  w.arrayLen(0);
  w.arrayLen(1);
  w.arrayLen(5);
  w.uint(clients.indexOf(client));
  w.uint(clock);
  const c = col.take();
  w.binHeader(c.length);
  w.bytes(c);
  w.str(text);
  w.arrayLen(nEntries);
  w.bytes(entries.take());
  return w.take();
}

/**
 * originsOf returns the origins of code point id ([client, clock]) of doc,
 * each [client, clock] or null for none, read from the document's items.
 */
export function originsOf(doc, [client, clock]) {
  const it = doc.known(client).find(clock);
  const left = clock > it.clock ? [client, clock - 1] : it.leftClient === null ? null : [it.leftClient.id, it.leftClock];
  const right = it.rightClient === null ? null : [it.rightClient.id, it.rightClock];
  return { left, right };
}

/** sequenceIDs returns the IDs ([client, clock]) of text's code points in order, tombstones and anchors included. */
export function sequenceIDs(text) {
  const ids = [];
  for (let lf = text.first; lf !== null; lf = lf.next) {
    for (const it of lf.items) for (let k = 0; k < it.length; k++) ids.push([it.client.id, it.clock + k]);
  }
  return ids;
}

/** permutations returns every order of 0 … n−1. */
export function permutations(n) {
  if (n === 0) return [[]];
  const out = [];
  for (const p of permutations(n - 1)) {
    for (let i = 0; i <= p.length; i++) out.push([...p.slice(0, i), n - 1, ...p.slice(i)]);
  }
  return out;
}

/** json normalises a value (a delta) for comparison with Go's JSON, object key order aside. */
export function json(v) {
  return JSON.parse(JSON.stringify(v));
}

/** checkTree throws unless the tree of text t is consistent (as Go's checkTree). */
export function checkTree(t, maxLeaf, maxKids) {
  const leaves = [];
  let depth = -1;
  const walk = (n, d) => {
    assert.ok((n.leaves === null) !== (n.kids === null), 'a node holds leaves or nodes');
    assert.equal(n.counts.length, (n.kids ?? n.leaves).length, 'node counts beside its children');
    let sum = 0;
    if (n.kids !== null) {
      assert.ok(n.kids.length <= maxKids, 'node over full');
      n.kids.forEach((k, j) => {
        assert.ok(k.parent === n && k.pidx === j, 'node parent or index');
        const v = walk(k, d + 1);
        assert.equal(n.counts[j], v, 'node count of a child node');
        sum += v;
      });
    } else {
      assert.ok(n.leaves.length <= maxKids, 'node over full');
      n.leaves.forEach((lf, j) => {
        assert.ok(lf.parent === n && lf.pidx === j && lf.t === t, 'leaf parent, index or text');
        if (depth < 0) depth = d;
        assert.equal(d, depth, 'leaves at one depth');
        assert.ok(lf.items.length <= maxLeaf, 'leaf over full');
        let v = 0;
        assert.equal(lf.vis.length, lf.items.length, 'leaf counts beside its items');
        lf.items.forEach((it, i) => {
          assert.ok(it.leaf === lf, 'item points at its leaf');
          assert.equal(lf.vis[i], it.deleted ? 0 : it.content.length, 'leaf count of an item');
          if (!it.deleted) v += it.content.length;
        });
        assert.equal(lf.visible, v, 'leaf visible count');
        assert.equal(n.counts[j], v, 'node count of a leaf');
        leaves.push(lf);
        sum += v;
      });
    }
    assert.equal(n.visible, sum, 'node visible count');
    return sum;
  };
  assert.equal(t.root.parent, null);
  assert.equal(walk(t.root, 0), t.length, 'text length');
  assert.ok(t.first === leaves[0] && t.last === leaves[leaves.length - 1], 'first and last leaves');
  for (let i = 0; i < leaves.length; i++) {
    assert.equal(leaves[i].prev, i > 0 ? leaves[i - 1] : null, 'leaf chain');
    assert.equal(leaves[i].next, i + 1 < leaves.length ? leaves[i + 1] : null, 'leaf chain');
  }
  if (t.cur !== null) {
    let start = 0;
    for (const lf of leaves) {
      if (lf === t.cur) break;
      start += lf.visible;
    }
    assert.equal(t.curPos, start, 'cursor start');
  }
}

/** withFanout runs fn with leaves of at most leaf items and nodes of at most kids children. */
export function withFanout(leaf, kids, fn) {
  const old = setFanout(leaf, kids);
  try {
    fn();
  } finally {
    setFanout(...old);
  }
}

/** leb128 returns the LEB128 bytes of v (a BigInt, or a number below 2^53), computed in BigInt. */
export function leb128(v) {
  let x = BigInt(v);
  const out = [];
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
  return Uint8Array.from(out);
}
