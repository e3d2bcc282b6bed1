// Replays the Go-generated protocol conformance vectors
// (protocol/testdata/vectors.json): every valid message decodes to its
// fields and re-encodes byte for byte, every decode-only input decodes to
// its fields and re-encodes to its canonical form, every invalid input is
// rejected with the right error class, every patch is made and applied as
// Go does, every bad patch is refused, and the permanent codes match.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decode } from '@msgpack/msgpack';
import {
  Code,
  PROTOCOL_VERSION,
  ProtocolError,
  applyPatch,
  decodeMessage,
  encodeMessage,
  fromHex,
  isPermanent,
  makePatch,
  toHex,
} from '../src/index.js';
import { REPO_ROOT } from './helpers.js';

const vectors = JSON.parse(readFileSync(join(REPO_ROOT, 'protocol', 'testdata', 'vectors.json'), 'utf8'));

/** fieldsOf turns a decoded message into the JSON form of the vectors. */
function fieldsOf(m) {
  switch (m.type) {
    case 'hello': {
      const f = { version: m.version, room: m.room, client: m.client, token: m.token, state_vector_hex: toHex(m.stateVector) };
      if (m.version >= 2 && m.version <= 5) f.heartbeat_millis = m.heartbeatMillis;
      if (m.version === 4 || m.version === 5) f.format = m.format;
      return f;
    }
    case 'welcome':
      return { state_vector_hex: toHex(m.stateVector), update_hex: toHex(m.update) };
    case 'update':
      return { seq: m.seq, updates_hex: m.updates.map(toHex) };
    case 'ack':
      return { seq: m.seq };
    case 'presence':
      return { entries: m.entries.map((e) => ({ client: e.client, state_hex: toHex(e.state) })) };
    case 'error':
      return { code: m.code, message: m.message, seq: m.seq };
    case 'heartbeat':
      return { id: m.id };
    case 'patch':
      return { keep_front: m.keepFront, keep_back: m.keepBack, middle_hex: toHex(m.middle), seq: m.seq };
  }
  throw new Error(`unexpected type ${m.type}`);
}

/** messageOf builds a message from the JSON fields of a vector. */
function messageOf(type, f) {
  switch (type) {
    case 'hello':
      return { type, version: f.version, room: f.room, client: f.client, token: f.token, stateVector: fromHex(f.state_vector_hex), heartbeatMillis: f.heartbeat_millis, format: f.format };
    case 'welcome':
      return { type, stateVector: fromHex(f.state_vector_hex), update: fromHex(f.update_hex) };
    case 'update':
      return { type, seq: f.seq, updates: f.updates_hex.map(fromHex) };
    case 'ack':
      return { type, seq: f.seq };
    case 'presence':
      return { type, entries: f.entries.map((e) => ({ client: e.client, state: fromHex(e.state_hex) })) };
    case 'error':
      return { type, code: f.code, message: f.message, seq: f.seq };
    case 'heartbeat':
      return { type, id: f.id };
    case 'patch':
      return { type, keepFront: f.keep_front, keepBack: f.keep_back, middle: fromHex(f.middle_hex), seq: f.seq };
  }
  throw new Error(`unexpected type ${type}`);
}

/** informational drops the keys of a vector's fields that are not part of the message. */
function informational(type, f) {
  const out = { ...f };
  delete out.code_name;
  delete out.permanent;
  if (type === 'presence') out.entries = f.entries.map((e) => ({ client: e.client, state_hex: e.state_hex }));
  return out;
}

test('protocol vectors are version 5 and cover every section', () => {
  assert.equal(vectors.protocol_version, 5);
  assert.equal(PROTOCOL_VERSION, 5);
  assert.ok(vectors.messages.length >= 6);
  assert.ok(vectors.decode_only.length > 0);
  assert.ok(vectors.invalid.length > 0);
  assert.ok(vectors.patches.length > 0);
  assert.ok(vectors.bad_patches.length > 0);
  const types = new Set(vectors.messages.map((v) => v.type));
  assert.deepEqual([...types].sort(), ['ack', 'error', 'heartbeat', 'hello', 'patch', 'presence', 'update', 'welcome']);
  assert.ok(vectors.messages.some((v) => v.type === 'hello' && v.fields.version === 5), 'no version 5 hello');
});

test('valid messages decode to their fields and re-encode byte for byte', async (t) => {
  for (const v of vectors.messages) {
    await t.test(v.name, () => {
      const m = decodeMessage(fromHex(v.hex));
      assert.equal(m.type, v.type);
      assert.deepEqual(fieldsOf(m), informational(v.type, v.fields));
      assert.equal(toHex(encodeMessage(m)), v.hex, 're-encoding the decoded message');
      assert.equal(toHex(encodeMessage(messageOf(v.type, v.fields))), v.hex, 'encoding the fields');
      if (v.type === 'presence') {
        for (let i = 0; i < v.fields.entries.length; i++) {
          const want = v.fields.entries[i].state;
          if (want !== undefined) assert.deepEqual(decode(m.entries[i].state), want);
        }
      }
    });
  }
});

test('decode-only inputs decode and re-encode to their canonical form', async (t) => {
  for (const v of vectors.decode_only) {
    await t.test(v.name, () => {
      const m = decodeMessage(fromHex(v.hex));
      assert.equal(m.type, v.type);
      assert.deepEqual(fieldsOf(m), v.fields);
      assert.equal(toHex(encodeMessage(m)), v.canonical_hex);
    });
  }
});

test('invalid inputs are rejected with their error class', async (t) => {
  for (const v of vectors.invalid) {
    await t.test(v.name, () => {
      assert.throws(
        () => decodeMessage(fromHex(v.hex)),
        (err) => {
          assert.ok(err instanceof ProtocolError, `${err}`);
          assert.equal(err.unknownType, v.expected.error === 'unknown_type', `${v.expected.reason}: ${err.message}`);
          assert.equal(err.code, v.expected.close_code);
          return true;
        },
        v.expected.reason,
      );
    });
  }
});

test('patches: makePatch makes exactly the patch of the vector, and applyPatch turns the base into the update', async (t) => {
  for (const v of vectors.patches) {
    await t.test(v.name, () => {
      const base = fromHex(v.base_hex);
      const p = makePatch(base, fromHex(v.update_hex));
      assert.deepEqual(
        { keep_front: p.keepFront, keep_back: p.keepBack, middle_hex: toHex(p.middle) },
        { keep_front: v.keep_front, keep_back: v.keep_back, middle_hex: v.middle_hex },
      );
      assert.equal(p.seq, 0);
      const want = { keepFront: v.keep_front, keepBack: v.keep_back, middle: fromHex(v.middle_hex) };
      assert.equal(toHex(applyPatch(base, want)), v.update_hex);
      assert.equal(toHex(applyPatch(base, want, v.update_hex.length / 2)), v.update_hex, 'a limit of exactly its length');
      // It travels as a message and comes back the same.
      const m = decodeMessage(encodeMessage(p));
      assert.equal(toHex(applyPatch(base, m)), v.update_hex, 'applying the decoded message');
    });
  }
});

test('bad patches: applyPatch refuses them', async (t) => {
  for (const v of vectors.bad_patches) {
    await t.test(v.name, () => {
      const base = v.base_hex === null ? null : fromHex(v.base_hex);
      const p = { keepFront: v.keep_front, keepBack: v.keep_back, middle: fromHex(v.middle_hex) };
      const max = v.max_update_bytes ?? -1;
      assert.throws(() => applyPatch(base, p, max), (err) => err instanceof RangeError && /patch does not fit its base/.test(err.message), v.reason);
      if (base === null) assert.throws(() => applyPatch(undefined, p, max), RangeError, 'undefined is no base either');
    });
  }
});

test('permanent codes match the Go implementation', () => {
  for (const c of vectors.codes) assert.equal(isPermanent(c.code), c.permanent, `code ${c.code} ${c.name}`);
  assert.equal(isPermanent(Code.ABNORMAL), false);
  assert.equal(isPermanent(3000), false);
});

const encodeRejects = [
  { name: 'invalid room', m: { type: 'hello', version: 1, room: 'a b', client: 1, token: '', stateVector: new Uint8Array([0x80]) } },
  { name: 'empty room', m: { type: 'hello', version: 1, room: '', client: 1, token: '', stateVector: new Uint8Array([0x80]) } },
  { name: 'client 2^53', m: { type: 'hello', version: 1, room: 'r', client: 2 ** 53, token: '', stateVector: new Uint8Array([0x80]) } },
  { name: 'token 8193 bytes', m: { type: 'hello', version: 1, room: 'r', client: 1, token: 't'.repeat(8193), stateVector: new Uint8Array([0x80]) } },
  { name: 'lone surrogate token', m: { type: 'hello', version: 1, room: 'r', client: 1, token: '\ud800', stateVector: new Uint8Array([0x80]) } },
  { name: 'negative seq', m: { type: 'update', seq: -1, updates: [] } },
  { name: 'fractional seq', m: { type: 'ack', seq: 1.5 } },
  { name: 'str update', m: { type: 'update', seq: 1, updates: ['abc'] } },
  { name: 'presence 4097 bytes', m: { type: 'presence', entries: [{ client: 1, state: new Uint8Array(4097) }] } },
  { name: 'error code 65536', m: { type: 'error', code: 65536, message: '', seq: 0 } },
  { name: 'unknown type', m: { type: 'bye' } },
  { name: 'heartbeat 99 ms', m: { type: 'hello', version: 2, room: 'r', client: 1, token: '', stateVector: new Uint8Array([0x80]), heartbeatMillis: 99 } },
  { name: 'heartbeat 60001 ms', m: { type: 'hello', version: 2, room: 'r', client: 1, token: '', stateVector: new Uint8Array([0x80]), heartbeatMillis: 60001 } },
  { name: 'heartbeat in a version 1 hello', m: { type: 'hello', version: 1, room: 'r', client: 1, token: '', stateVector: new Uint8Array([0x80]), heartbeatMillis: 1000 } },
  { name: 'format 0', m: { type: 'hello', version: 4, room: 'r', client: 1, token: '', stateVector: new Uint8Array([0x80]), format: 0 } },
  { name: 'format 256', m: { type: 'hello', version: 4, room: 'r', client: 1, token: '', stateVector: new Uint8Array([0x80]), format: 256 } },
  { name: 'format in a version 3 hello', m: { type: 'hello', version: 3, room: 'r', client: 1, token: '', stateVector: new Uint8Array([0x80]), format: 2 } },
  { name: 'negative heartbeat id', m: { type: 'heartbeat', id: -1 } },
  { name: 'format in a version 6 hello', m: { type: 'hello', version: 6, room: 'r', client: 1, token: '', stateVector: new Uint8Array([0x80]), format: 2 } },
  { name: 'patch keeping 2^32 bytes', m: { type: 'patch', keepFront: 2 ** 32, keepBack: 0, middle: new Uint8Array(0), seq: 0 } },
  { name: 'patch keeping -1 bytes', m: { type: 'patch', keepFront: 0, keepBack: -1, middle: new Uint8Array(0), seq: 0 } },
  { name: 'patch keeping 1.5 bytes', m: { type: 'patch', keepFront: 1.5, keepBack: 0, middle: new Uint8Array(0), seq: 0 } },
  { name: 'patch with a str middle', m: { type: 'patch', keepFront: 0, keepBack: 0, middle: 'abc', seq: 0 } },
  { name: 'patch with a negative seq', m: { type: 'patch', keepFront: 0, keepBack: 0, middle: new Uint8Array(0), seq: -1 } },
];

test('encoding refuses messages a peer would reject', async (t) => {
  for (const tt of encodeRejects) {
    await t.test(tt.name, () => {
      assert.throws(() => encodeMessage(tt.m), (err) => err instanceof RangeError || err instanceof TypeError);
    });
  }
});

test('a uint64 seq above 2^53 − 1 decodes exactly, as a BigInt', () => {
  const m = decodeMessage(fromHex('9203cfffffffffffffffff'));
  assert.equal(m.seq, 0xffffffffffffffffn);
  assert.throws(() => encodeMessage(m), RangeError, 'a client never sends one');
});
