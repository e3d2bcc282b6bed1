// Replays the Go-generated random editing sessions
// (../crdt/testdata/sessions.json, written by crdt/crosslang_test.go) in
// JavaScript: re-running every step on fresh Docs must give every local
// edit's, transaction's and diff's update byte for byte and the same
// pending flags; each replica's updates, applied to fresh Docs in the
// recorded and in shuffled orders, its snapshot, and all the session's
// updates merged into one more Doc must give Go's texts, map values, state
// vector bytes and snapshot bytes. The reverse direction (sessions made
// by gen-sessions.mjs, replayed in Go) is the Go test
// TestCrossLanguageSessions; here those sessions are also replayed in
// JavaScript, as a check of the generator (seed printed; rerun with
// CRDT_SEED=<seed> npm test).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Doc, toHex, fromHex, encodeStateVector, decodeStateVector } from '../src/index.js';
import { REPO_ROOT, Rand, localOp } from './helpers.js';
import { finalState, generateSessions } from './gen-sessions.mjs';

const file = JSON.parse(readFileSync(join(REPO_ROOT, 'crdt', 'testdata', 'sessions.json'), 'utf8'));

/** checkFinal compares doc with a recorded final state. */
function checkFinal(what, doc, rec, f) {
  const got = finalState(doc, rec);
  assert.deepEqual(got.texts, f.texts, `${what}: texts`);
  for (const name of rec.maps) {
    // Same keys in the same order (sorted by code point), same bytes.
    assert.deepEqual(Object.entries(got.map_values_msgpack[name]), Object.entries(f.map_values_msgpack[name]), `${what}: map ${name}`);
  }
  assert.deepEqual(Object.entries(got.state_vector), Object.entries(f.state_vector), `${what}: state vector`);
  assert.equal(got.state_vector_hex, f.state_vector_hex, `${what}: state vector bytes`);
  assert.equal(got.pending, f.pending, `${what}: pending`);
  assert.equal(got.snapshot, f.snapshot, `${what}: snapshot bytes`);
  for (const name of doc.textNames()) {
    if (!rec.texts.includes(name)) assert.equal(doc.getText(name).length, 0, `${what}: text ${name} absent from the record`);
  }
  for (const name of doc.mapNames()) {
    if (!rec.maps.includes(name)) assert.equal(doc.getMap(name).size, 0, `${what}: map ${name} absent from the record`);
  }
}

/** replaySession checks a recorded session against the JavaScript Doc. */
function replaySession(rec) {
  const updates = new Map();
  for (const u of rec.updates) {
    assert.ok(!updates.has(u.id), `update id ${u.id} twice`);
    assert.equal(u.hex.length, 2 * u.size, `update ${u.id} size`);
    updates.set(u.id, u.hex);
  }
  const clients = new Map(rec.docs.map((d) => [d.name, d.client]));
  const docs = new Map(rec.docs.map((d) => [d.name, new Doc({ clientID: d.client })]));
  assert.equal(rec.final.length, rec.docs.length, 'one final state per doc');

  // 1. Re-run the steps: the same local edits and diffs give the same bytes.
  rec.steps.forEach((s, i) => {
    const doc = docs.get(s.doc);
    assert.ok(doc, `step ${i}: unknown doc ${s.doc}`);
    const what = `step ${i} (${s.op} on doc ${s.doc}, client ${clients.get(s.doc)})`;
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
          s.ops.forEach((op, j) => assert.equal(localOp(doc, op), null, `${what}: op ${j} inside transact returns null`));
        });
        break;
      case 'apply':
        assert.ok(updates.has(s.update), `${what}: unknown update ${s.update}`);
        doc.apply(fromHex(updates.get(s.update)));
        assert.equal(doc.hasPending(), s.pending_after, `${what}: pending after ${s.update}`);
        return;
      case 'diff': {
        const sv = decodeStateVector(fromHex(s.against_hex));
        assert.equal(toHex(encodeStateVector(sv)), s.against_hex, `${what}: state vector re-encodes`);
        got = doc.diff(sv);
        break;
      }
      default:
        throw new Error(`${what}: unknown op`);
    }
    if (!s.produces) {
      assert.equal(got, null, `${what}: made an update, the record has none`);
      return;
    }
    assert.ok(got instanceof Uint8Array, `${what}: made no update, want ${s.produces}`);
    assert.equal(toHex(got), updates.get(s.produces), `${what}: update ${s.produces} of ${JSON.stringify(s)}`);
  });
  for (const f of rec.final) checkFinal(`doc ${f.doc} after the steps`, docs.get(f.doc), rec, f);

  // 2. Each replica's updates into fresh Docs, recorded order and
  //    shuffled; its snapshot into a fresh Doc.
  const rng = new Rand(0x5e55);
  for (const f of rec.final) {
    const client = clients.get(f.doc);
    const orders = [f.applied, rng.shuffle([...f.applied]), rng.shuffle([...f.applied])];
    orders.forEach((order, k) => {
      const d = new Doc({ clientID: client });
      for (const id of order) {
        assert.ok(updates.has(id), `doc ${f.doc}: unknown update ${id}`);
        d.apply(fromHex(updates.get(id)));
      }
      checkFinal(`doc ${f.doc} (client ${client}), ${k === 0 ? 'recorded order' : `shuffled order ${order.join(',')}`}`, d, rec, f);
    });
    const loaded = new Doc({ clientID: client });
    loaded.apply(fromHex(f.snapshot));
    checkFinal(`doc ${f.doc} loaded from its snapshot`, loaded, rec, f);
  }

  // 3. Every update of the session, shuffled, into an outsider's Doc.
  const outsider = new Doc({ clientID: 1 });
  for (const id of rng.shuffle([...updates.keys()])) outsider.apply(fromHex(updates.get(id)));
  checkFinal('a Doc merging every update of the session', outsider, rec, rec.final[0]);
}

test('sessions file is format version 1, made by Go', () => {
  assert.equal(file.format_version, 1);
  assert.equal(file.generator, 'go');
  assert.ok(file.sessions.length > 0);
});

for (const rec of file.sessions) {
  test(`Go session ${rec.name} replays in JavaScript`, () => replaySession(rec));
}

test('JavaScript-generated sessions replay in JavaScript', (t) => {
  const seed = process.env.CRDT_SEED ?? String(Date.now() % 1e9);
  t.diagnostic(`gen-sessions seed ${seed} (rerun with CRDT_SEED=${seed})`);
  const js = generateSessions(seed, 2);
  assert.equal(js.seed, seed);
  // The output is plain JSON, as the Go test reads it.
  for (const rec of JSON.parse(JSON.stringify(js)).sessions) replaySession(rec);
});
