// Replays every editing trace of ../shared/traces (from the repo root) to
// its endContent three ways: as local edits, by merging the per-transaction
// updates into a fresh Doc, and by loading a snapshot.
//
// Without the traces folder the tests are skipped with a message, unless
// CI=true, where a missing folder is a failure.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { Doc, stateVectorsEqual } from '../src/index.js';
import { TRACES_DIR, loadTrace, tracesAvailable, unitsAt } from './helpers.js';

/**
 * What the Go implementation produces for each shared trace replayed as
 * local edits by client 1 into the Text "t", one transaction per trace
 * transaction: the SHA-256 of all its updates concatenated, and its
 * snapshot's size and SHA-256. Obtained with crdt.NewDocWithClient(1),
 * Doc.Transact and Doc.Snapshot (the same replay as this test's local
 * path); the JS Doc must match them byte for byte.
 */
const GO = {
  'automerge-paper': {
    updates: '4658e4b957e385ebabc373016e4c5dcd64251a8279bf3570e82c9dd7d6f5dc3e',
    snapshot: [128033, '7bba7c52826a4e5b2602be7a80767a227612441b080aa41b88b456ec5dbbc107'],
  },
  'seph-blog1': {
    updates: '3d052bb4d8d2e008d6a5ffd83c152f05f1e5c0e4677db9639230851a7c2375c2',
    snapshot: [93069, '07a9e0a6dd239d019cddb346c04d398223cb5b59de57e569d2200832ed886e84'],
  },
  friendsforever_flat: {
    updates: '5f91b827e599cc67bbb9c52e16956fe7f3011da047ffaedb80f3c754f4f33a7c',
    snapshot: [33900, 'd23477a8530f081eadf858e1ab49d4ac0424312135cf12b8aa4346431d318524'],
  },
  clownschool_flat: {
    updates: 'f4dfa1c77f59c7e8b72b4e47eb2b8a7a4bcc86004ea86bfea3183d33cf3cba95',
    snapshot: [37503, 'f7546a7a1f9d69602ce42dc1bdd1d953c3deaca308c51bff30e3c46cf49c2da4'],
  },
};

const sha256 = (chunks) => {
  const h = createHash('sha256');
  for (const c of chunks) h.update(c);
  return h.digest('hex');
};

const available = tracesAvailable();
const names = available
  ? readdirSync(TRACES_DIR)
      .filter((f) => f.endsWith('.json.gz'))
      .map((f) => f.slice(0, -'.json.gz'.length))
      .sort()
  : [];

if (!available) {
  const msg = `editing traces not found at ${TRACES_DIR} (../shared/traces from the repo root)`;
  if (process.env.CI === 'true') {
    test('editing traces are present', () => assert.fail(`${msg}; CI=true requires them`));
  } else {
    test('editing traces', { skip: `${msg}: skipped` }, () => {});
  }
} else {
  test('the traces folder holds traces', () => assert.ok(names.length > 0, `no *.json.gz in ${TRACES_DIR}`));
}

for (const name of names) {
  test(`trace ${name}: local edits, merged updates and snapshot reach endContent`, () => {
    const tr = loadTrace(name);
    // Trace positions count code points, the API UTF-16 units: they agree
    // unless the trace holds characters above U+FFFF, and then a model of
    // the text converts them (slowly, but no shared trace needs it).
    const astral = /[\u{10000}-\u{10FFFF}]/u;
    const needsModel = astral.test(tr.startContent) || tr.txns.some((t) => t.patches.some((p) => astral.test(p[2])));
    let model = tr.startContent;

    const local = new Doc({ clientID: 1 });
    const merged = new Doc({ clientID: 2 });
    const text = local.getText('t');
    const updates = [];
    if (tr.startContent !== '') updates.push(text.insert(0, tr.startContent));
    for (let i = 0; i < tr.txns.length; i++) {
      const u = local.transact(() => {
        for (const [pos, del, ins] of tr.txns[i].patches) {
          let p = pos;
          let d = del;
          if (needsModel) {
            p = unitsAt(model, pos);
            d = unitsAt(model, pos + del) - p;
            model = model.slice(0, p) + ins + model.slice(p + d);
          }
          if (d > 0) text.delete(p, d);
          if (ins !== '') text.insert(p, ins);
        }
      });
      if (u !== null) updates.push(u);
    }
    assert.equal(text.toString(), tr.endContent, 'local path');
    assert.equal(text.length, tr.endContent.length, 'local length');

    for (const u of updates) merged.apply(u);
    assert.equal(merged.hasPending(), false, 'merge path: pending left');
    assert.equal(merged.getText('t').toString(), tr.endContent, 'merge path');
    assert.ok(stateVectorsEqual(merged.stateVector(), local.stateVector()), 'merge path state vector');

    const snap = local.snapshot();
    if (GO[name]) {
      assert.equal(sha256(updates), GO[name].updates, 'the per-transaction updates differ from Go\'s');
      assert.deepEqual([snap.length, sha256([snap])], GO[name].snapshot, 'the snapshot differs from Go\'s');
    }
    const loaded = new Doc({ clientID: 3 });
    loaded.apply(snap);
    assert.equal(loaded.getText('t').toString(), tr.endContent, 'snapshot path');
    assert.ok(stateVectorsEqual(loaded.stateVector(), local.stateVector()), 'snapshot path state vector');
    // Canonical encoding: equal documents, equal snapshots.
    assert.deepEqual(loaded.snapshot(), snap, 'a loaded snapshot re-encodes to the same bytes');
    assert.deepEqual(merged.snapshot(), snap, 'the merged doc encodes to the same snapshot');
  });
}
