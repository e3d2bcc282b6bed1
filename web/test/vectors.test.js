// Replays the Go-generated conformance vectors (crdt/testdata/vectors.json):
// the JS Doc must produce every update, state vector, diff and snapshot
// byte for byte, end with the same texts, maps and state vectors, and
// report the same text events.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decode } from '@msgpack/msgpack';
import { Doc, toHex, fromHex, encodeStateVector, decodeStateVector } from '../src/index.js';
import { REPO_ROOT, Rand, deltaToCodePoints, localOp } from './helpers.js';

const vectors = JSON.parse(readFileSync(join(REPO_ROOT, 'crdt', 'testdata', 'vectors.json'), 'utf8'));

test('vectors file is format version 1', () => {
  assert.equal(vectors.format_version, 1);
  assert.ok(vectors.scenarios.length > 0);
});

/** svMap turns the JSON object form of a state vector into a Map. */
function svMap(o) {
  return new Map(Object.entries(o).map(([k, v]) => [Number(k), v]));
}

/**
 * Observer records a text's events in Go's form (code point deltas),
 * tracking the text before each event to convert the UTF-16 deltas.
 */
function observeInGoUnits(doc, name, events) {
  const t = doc.getText(name);
  let before = t.toString();
  t.observe((ev) => {
    const { delta, after } = deltaToCodePoints(ev.delta, before);
    assert.equal(after, t.toString(), `delta of ${name} does not turn the old text into the new one`);
    before = after;
    events.push({ text: name, local: ev.local, delta });
  });
}

/** checkFinal compares doc with a recorded final state. */
function checkFinal(what, doc, f) {
  for (const [name, want] of Object.entries(f.texts)) {
    assert.equal(doc.getText(name).toString(), want, `${what}: text ${name}`);
  }
  for (const name of doc.textNames()) {
    if (!(name in f.texts)) assert.equal(doc.getText(name).length, 0, `${what}: text ${name} absent from the record`);
  }
  for (const [name, values] of Object.entries(f.map_values_msgpack)) {
    const m = doc.getMap(name);
    assert.deepEqual(m.keys(), Object.keys(values).sort(), `${what}: keys of map ${name}`);
    for (const [k, hex] of Object.entries(values)) {
      assert.equal(toHex(m.getRaw(k)), hex, `${what}: map ${name} key ${k}`);
    }
  }
  for (const [name, values] of Object.entries(f.maps)) {
    for (const [k, want] of Object.entries(values)) {
      // The JSON view: numbers beyond 2^53 are not exact in JSON anyway.
      const got = decode(doc.getMap(name).getRaw(k));
      assert.deepEqual(JSON.parse(JSON.stringify(got)), want, `${what}: JSON view of map ${name} key ${k}`);
    }
  }
  for (const name of doc.mapNames()) {
    if (!(name in f.maps)) assert.equal(doc.getMap(name).size, 0, `${what}: map ${name} absent from the record`);
  }
  assert.deepEqual(doc.stateVector(), svMap(f.state_vector), `${what}: state vector`);
  assert.equal(toHex(encodeStateVector(doc.stateVector())), f.state_vector_hex, `${what}: state vector bytes`);
  assert.equal(doc.hasPending(), f.pending, `${what}: pending`);
  assert.equal(toHex(doc.snapshot()), f.snapshot, `${what}: snapshot`);
}

/** observedTexts mirrors the Go test: which texts' events a replay can reproduce. */
function observedTexts(sc, f) {
  let texts = null;
  for (const s of sc.steps) {
    if (s.doc !== f.doc) continue;
    if (s.op === 'observe') (texts ??= []).push(s.text);
    else if (s.op === 'apply' && texts === null) return null;
    else if (s.produces && s.op !== 'diff' && s.op !== 'snapshot') return null;
  }
  return texts;
}

for (const sc of vectors.scenarios) {
  test(`vector ${sc.name}`, () => {
    const updates = new Map();
    for (const u of sc.updates) {
      assert.equal(u.hex.length, 2 * u.size, `update ${u.id} size`);
      updates.set(u.id, u.hex);
    }
    const docs = new Map();
    const events = new Map();
    for (const d of sc.docs) docs.set(d.name, new Doc({ clientID: d.client }));

    // 1. Run the steps: every produced update must be byte-identical.
    sc.steps.forEach((s, i) => {
      const what = `step ${i} (${s.op} on ${s.doc})`;
      const doc = docs.get(s.doc);
      let got;
      switch (s.op) {
        case 'insert':
        case 'delete':
        case 'map_set':
        case 'map_delete':
          got = localOp(doc, s);
          break;
        case 'transact':
          got = doc.transact(() => {
            for (const op of s.ops) assert.equal(localOp(doc, op), null, `${what}: edit inside transact returns null`);
          });
          break;
        case 'apply':
          doc.apply(fromHex(updates.get(s.update)));
          assert.equal(doc.hasPending(), s.pending_after, `${what}: pending after ${s.update}`);
          return;
        case 'state_vector':
          assert.deepEqual(doc.stateVector(), svMap(s.state_vector), what);
          assert.equal(toHex(encodeStateVector(doc.stateVector())), s.state_vector_hex, what);
          return;
        case 'snapshot':
          got = doc.snapshot();
          break;
        case 'diff':
          assert.equal(toHex(encodeStateVector(svMap(s.against))), s.against_hex, `${what}: encoded state vector`);
          assert.deepEqual(decodeStateVector(fromHex(s.against_hex)), svMap(s.against), `${what}: decoded state vector`);
          got = doc.diff(decodeStateVector(fromHex(s.against_hex)));
          break;
        case 'observe': {
          const list = events.get(s.doc) ?? [];
          events.set(s.doc, list);
          observeInGoUnits(doc, s.text, list);
          return;
        }
        default:
          throw new Error(`unknown step ${s.op}`);
      }
      if (s.produces) {
        assert.ok(got instanceof Uint8Array, `${what}: produced no update, want ${s.produces}`);
        assert.equal(toHex(got), updates.get(s.produces), `${what}: update ${s.produces}`);
      } else {
        assert.equal(got, null, `${what}: produced an update where Go produced none`);
      }
    });

    // 2. The docs end in the recorded final states, events included.
    for (const f of sc.final) {
      checkFinal(`doc ${f.doc} after the steps`, docs.get(f.doc), f);
      if (f.events) assert.deepEqual(events.get(f.doc), f.events, `doc ${f.doc}: events`);
    }

    // 3. Replaying each doc's updates into a fresh doc, in the recorded
    //    order, reversed and shuffled, gives the same state; so does its
    //    snapshot.
    const rng = new Rand(0x5eed);
    for (const f of sc.final) {
      const client = sc.docs.find((d) => d.name === f.doc).client;
      const orders = [f.applied, [...f.applied].reverse()];
      for (let k = 0; k < 3; k++) orders.push(rng.shuffle([...f.applied]));
      const observed = observedTexts(sc, f);
      orders.forEach((order, oi) => {
        const d = new Doc({ clientID: client });
        const evs = [];
        if (oi === 0 && observed) for (const name of observed) observeInGoUnits(d, name, evs);
        for (const id of order) d.apply(fromHex(updates.get(id)));
        checkFinal(`doc ${f.doc} replayed in order ${order.join(',')}`, d, f);
        if (oi === 0 && observed) assert.deepEqual(evs, f.events, `doc ${f.doc} replayed: events`);
      });
      const loaded = new Doc({ clientID: client });
      loaded.apply(fromHex(f.snapshot));
      if (!f.pending) checkFinal(`doc ${f.doc} loaded from its snapshot`, loaded, f);
      else assert.equal(toHex(loaded.snapshot()), f.snapshot, `doc ${f.doc}: snapshot re-encodes`);
    }
  });
}
