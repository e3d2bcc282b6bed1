// The Go↔JS differential over crdt/testdata/hostile.json, the hostile
// corpus the Go implementation writes with its verdicts: for every update
// of every case, this implementation must give the same verdict (accepted,
// or refused with the same class of error), leave a refused update without
// effect, and after an accepted one hold a document whose snapshot is
// byte-identical to Go's, with the same pending state and the same count
// of pending bytes (so that both refuse the same updates with
// TooMuchPendingError / ErrTooMuchPending); and a local edit
// after the case must switch the client ID exactly when Go's does.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Doc, DecodeError, InvalidUpdateError, fromHex, toHex } from '../src/index.js';
import { REPO_ROOT } from './helpers.js';
import { setBulkLoad } from '../src/text.js';

const corpus = JSON.parse(readFileSync(join(REPO_ROOT, 'crdt', 'testdata', 'hostile.json'), 'utf8'));

/** errorClass names the class of a refusal as the corpus does. */
function errorClass(e) {
  if (e instanceof DecodeError) return 'decode_error';
  if (e instanceof InvalidUpdateError) return 'invalid_update';
  throw e; // anything else is a bug, whatever the input
}

/**
 * replayCase applies the updates of hostile case c to a new Doc and checks
 * each against Go's record: the verdict, the error of a refused update and
 * that it left the document as it was, the pending state, and the delta
 * where one is recorded; accepted(d, u, what) checks the document after an
 * accepted update. It returns the Doc and how many updates were refused.
 */
function replayCase(c, accepted) {
  const d = new Doc({ clientID: c.client });
  if (c.base !== '') d.apply(fromHex(c.base));
  let refused = 0;
  c.updates.forEach((u, i) => {
    const what = `${c.name}, update ${i}`;
    const before = toHex(d.snapshot());
    let verdict = 'accepted';
    let error;
    try {
      d.apply(fromHex(u.update));
    } catch (e) {
      verdict = 'refused';
      error = errorClass(e);
    }
    assert.equal(verdict, u.verdict, `${what}: ${error ?? ''} ${u.error ?? ''} ${u.update}`);
    if (verdict === 'refused') {
      refused++;
      assert.equal(error, u.error, what);
      assert.equal(toHex(d.snapshot()), before, `${what}: a refused update changed the document`);
    } else {
      accepted(d, u, what);
      // Go's delta, as JSON: an embed's value and a missing attributes
      // key compare alike once both go through JSON.
      if (u.delta !== undefined) assert.deepEqual(JSON.parse(JSON.stringify(d.getText('t').toDelta())), u.delta, `${what}: delta`);
    }
    assert.equal(d.hasPending(), u.pending, `${what}: pending`);
    assert.equal(d.pendingBytes, u.pending_bytes, `${what}: pending bytes`);
  });
  return { d, refused };
}

test('hostile.json: same verdicts, same snapshots (and deltas where recorded) as Go', () => {
  assert.equal(corpus.format_version, 1);
  assert.ok(corpus.cases.length > 300, `only ${corpus.cases.length} cases`);
  let accepted = 0;
  let refused = 0;
  let switched = 0;
  for (const c of corpus.cases) {
    const r = replayCase(c, (d, u, what) => assert.equal(toHex(d.snapshot()), u.snapshot, `${what}: snapshot`));
    const d = r.d;
    refused += r.refused;
    accepted += c.updates.length - r.refused;
    // A local edit after the last update is made under a fresh client ID
    // exactly when Go's is (FORMAT.md §6.5).
    const id = d.clientID;
    d.getText('local edit').insert(0, 'x');
    assert.equal(d.clientID !== id, c.switches_client, `${c.name}: a local edit switches the client ID`);
    if (c.switches_client) switched++;
  }
  assert.ok(switched > 0, 'no case switches the client ID');
  assert.ok(accepted > 0 && refused > 0, `accepted ${accepted}, refused ${refused}`);
});

// The loader (text.js) takes any update into an empty text once its least
// number of records is 0: every hostile case must get Go's verdicts and
// snapshots through it too, as through the tree.
test('hostile.json through the loader: same verdicts and snapshots as Go', () => {
  const old = setBulkLoad(true, 0);
  try {
    for (const c of corpus.cases) replayCase(c, (d, u, what) => assert.equal(toHex(d.snapshot()), u.snapshot, `${what}: snapshot`));
  } finally {
    setBulkLoad(...old);
  }
});

// hostile-v2.json: the cases of the corpus that held version 2 bytes before
// version 3 replaced them, as recorded then. Every update still gets Go's
// verdict; a recorded snapshot is version 2, so an accepted update is
// checked by loading it: the document it loads to writes the snapshot this
// one writes.
test('hostile-v2.json: version 2 updates keep their verdicts and documents', () => {
  const v2 = JSON.parse(readFileSync(join(REPO_ROOT, 'crdt', 'testdata', 'hostile-v2.json'), 'utf8'));
  assert.ok(v2.cases.length > 100, `only ${v2.cases.length} cases`);
  let old = 0;
  for (const c of v2.cases) {
    for (const u of c.updates) if (fromHex(u.update)[1] === 2) old++;
    // A recorded snapshot is version 2: the document it loads to must
    // write the snapshot this one writes.
    replayCase(c, (d, u, what) => {
      const e = new Doc({ clientID: 99 });
      e.apply(fromHex(u.snapshot));
      assert.equal(toHex(e.snapshot()), toHex(d.snapshot()), `${what}: the recorded snapshot loads to another document`);
    });
  }
  assert.ok(old > 100, `only ${old} version 2 updates`);
});
