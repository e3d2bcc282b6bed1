// The Provider beside the server's write API (README, "Write API"): a
// backend's edits reach a live provider like any peer's, and deleting the
// room stops the provider with the permanent code 4404 instead of letting
// it reconnect and upload its copy again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Doc, Code } from '../src/index.js';
import { harness } from './harness.js';

const ADMIN = 'admin-0123456789abcdef0123456789abcdef';
const ctx = harness({ args: ['--admin-token', ADMIN] });
const { connect, room, waitFor } = ctx;

async function api(method, path, body, token) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  return fetch(ctx.server.httpURL + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

test("a backend's edits reach a live provider, and a deleted room stops it for good", async () => {
  const name = room('api');
  const doc = new Doc();
  const p = connect(doc, name);
  await p.whenSynced();
  doc.getText('t').insert(0, 'typed 👋');
  await waitFor(() => p.status === 'synced', 'the typing acknowledged');

  // Positions count code points: the emoji is one.
  const res = await api('POST', `/api/rooms/${name}/edits`, [{ text: 't', delta: [{ retain: 7 }, { insert: ' and posted' }] }]);
  assert.equal(res.status, 200, await res.clone().text());
  const answer = await res.json();
  assert.equal(Object.keys(answer.state_vector).length, 2);
  await waitFor(() => doc.getText('t').toString() === 'typed 👋 and posted', 'the posted edit');

  const errors = [];
  p.on('error', (e) => errors.push(e));
  const del = await api('DELETE', `/api/rooms/${name}`, undefined, ADMIN);
  assert.equal(del.status, 204);
  await waitFor(() => p.status === 'closed', 'the provider closed');
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, Code.ROOM_DELETED);
  assert.equal(errors[0].permanent, true);
  // The provider did not reconnect: the room stays gone.
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await api('GET', `/api/rooms/${name}`)).status, 404);
});
