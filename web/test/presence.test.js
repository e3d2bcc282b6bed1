// Presence against the real Go server (test/server.js): states appear and
// disappear at the other clients, are throttled and refreshed, and carry
// cursors as relative positions that follow remote edits.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Doc } from '../src/index.js';
import { harness, recordingWebSocket } from './harness.js';

const ctx = harness();
const { connect, room, waitFor, converged } = ctx;

test('presence appears at the other provider and disappears on destroy', async () => {
  const name = room('presence');
  const a = new Doc();
  const b = new Doc();
  const pa = connect(a, name);
  const pb = connect(b, name);
  const changes = [];
  pb.presence.on('change', (c) => changes.push(c));
  pa.presence.setLocal({ name: 'Ada', color: '#e11d48' });
  await Promise.all([pa.whenSynced(), pb.whenSynced()]);
  await waitFor(() => pb.presence.states.get(pa.clientID)?.name === 'Ada', "Ada's presence");
  assert.deepEqual(pb.presence.states.get(pa.clientID), { name: 'Ada', color: '#e11d48' });
  assert.equal(pa.presence.states.has(pa.clientID), false, 'a client does not see itself');
  pa.presence.setLocal({ name: 'Ada L.', color: '#e11d48' });
  await waitFor(() => pb.presence.states.get(pa.clientID)?.name === 'Ada L.', 'the update');
  pa.destroy();
  await waitFor(() => !pb.presence.states.has(pa.clientID), 'Ada to leave');
  assert.deepEqual(
    changes.map((c) => [c.added, c.updated, c.removed]),
    [
      [[pa.clientID], [], []],
      [[], [pa.clientID], []],
      [[], [], [pa.clientID]],
    ],
  );
  // Remote presence is dropped when the own connection closes.
  const c = new Doc();
  const pc = connect(c, name);
  pc.presence.setLocal({ name: 'Cy' });
  await waitFor(() => pb.presence.states.has(pc.clientID), "Cy's presence");
  pb.disconnect();
  assert.equal(pb.presence.states.size, 0);
});

test('presence is throttled, latest state wins, and refreshed', async () => {
  const rec = recordingWebSocket();
  const name = room('throttle');
  const a = new Doc();
  const b = new Doc();
  const pa = connect(a, name, { WebSocket: rec.WebSocket, presenceThrottle: 50, presenceRefresh: 100 });
  const pb = connect(b, name);
  await Promise.all([pa.whenSynced(), pb.whenSynced()]);
  const presences = () => rec.sent.filter((m) => m.type === 'presence').length;
  for (let i = 0; i < 10; i++) pa.presence.setLocal({ n: i });
  assert.equal(presences(), 1, 'the first state goes at once, the others wait');
  await waitFor(() => pb.presence.states.get(pa.clientID)?.n === 9, 'the latest state');
  const seen = presences();
  await waitFor(() => presences() >= seen + 2, 'refreshes');
  assert.throws(() => pa.presence.setLocal({ big: 'x'.repeat(5000) }), RangeError);
  assert.deepEqual(pa.presence.local, { n: 9 }, 'a refused state leaves the old one');
});

test('a cursor travels through presence as a relative position', async () => {
  const name = room('cursor');
  const a = new Doc();
  const b = new Doc();
  const pa = connect(a, name);
  const pb = connect(b, name);
  a.getText('t').insert(0, 'hello world');
  await converged([
    [pa, a],
    [pb, b],
  ]);
  const ta = a.getText('t');
  pa.presence.setLocal({ name: 'Ada', cursor: { text: 't', anchor: ta.relativePosition(6), head: ta.relativePosition(11, -1) } });
  await waitFor(() => pb.presence.states.has(pa.clientID), 'the cursor');
  const tb = b.getText('t');
  tb.insert(0, '>> ');
  const { cursor } = pb.presence.states.get(pa.clientID);
  assert.equal(tb.absolutePosition(cursor.anchor), 9);
  assert.equal(tb.absolutePosition(cursor.head), 14);
  await converged([
    [pa, a],
    [pb, b],
  ]);
  assert.equal(ta.absolutePosition(cursor.anchor), 9);
});

test('a late joiner sees the presence of those already there', async () => {
  const name = room('presence-late');
  const a = new Doc();
  const pa = connect(a, name);
  pa.presence.setLocal({ name: 'Ada' });
  await pa.whenSynced();
  const b = new Doc();
  const pb = connect(b, name);
  await pb.whenSynced();
  await waitFor(() => pb.presence.states.get(pa.clientID)?.name === 'Ada', "Ada's presence in the late joiner");
});

test('presence is sent again after the server restarts', async () => {
  const name = room('presence-restart');
  const a = new Doc();
  const b = new Doc();
  const pa = connect(a, name);
  const pb = connect(b, name);
  pa.presence.setLocal({ name: 'Ada' });
  await waitFor(() => pb.presence.states.has(pa.clientID), "Ada's presence");
  await ctx.server.kill();
  await waitFor(() => pb.presence.states.size === 0, 'remote presence dropped with the connection');
  await ctx.server.restart();
  await waitFor(() => pb.presence.states.get(pa.clientID)?.name === 'Ada', "Ada's presence after the restart");
});

test("presence keeps the Hello's client ID when the Doc moves to a fresh one mid-session", async () => {
  const name = room('presence-switch');
  const a = new Doc({ clientID: 4242 });
  const b = new Doc();
  const pa = connect(a, name);
  const pb = connect(b, name);
  await Promise.all([pa.whenSynced(), pb.whenSynced()]);
  // Another copy of a, under the same ID, wrote something a did not make,
  // and another client brings it to the room (two live sessions may not
  // share a client ID): a's next edit moves it to a fresh ID.
  const copy = new Doc({ clientID: 4242 });
  copy.getText('t').insert(0, 'copy');
  const relay = new Doc();
  relay.apply(copy.snapshot());
  const pc = connect(relay, name);
  await waitFor(() => a.getText('t').toString() === 'copy', 'the copy to reach a');
  pc.destroy();
  a.getText('t').insert(0, 'a: ');
  assert.notEqual(a.clientID, 4242);
  pa.presence.setLocal({ name: 'Ada' });
  await waitFor(() => pb.presence.states.get(4242)?.name === 'Ada', "Ada's presence under the session's ID");
  await converged([
    [pa, a],
    [pb, b],
  ]);
  assert.equal(b.getText('t').toString(), 'a: copy');
  assert.equal(pa.status, 'synced');
});
