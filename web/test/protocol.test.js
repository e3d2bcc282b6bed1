// Replays the Go-generated protocol conformance vectors
// (protocol/testdata/vectors.json): every valid message decodes to its
// fields and re-encodes byte for byte, every decode-only input decodes to
// its fields and re-encodes to its canonical form, every invalid input is
// rejected with the right error class, and the permanent codes match.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decode } from '@msgpack/msgpack';
import {
  Code,
  ProtocolError,
  decodeMessage,
  encodeMessage,
  fromHex,
  isPermanent,
  toHex,
} from '../src/index.js';
import { REPO_ROOT } from './helpers.js';

const vectors = JSON.parse(readFileSync(join(REPO_ROOT, 'protocol', 'testdata', 'vectors.json'), 'utf8'));

/** fieldsOf turns a decoded message into the JSON form of the vectors. */
function fieldsOf(m) {
  switch (m.type) {
    case 'hello': {
      const f = { version: m.version, room: m.room, client: m.client, token: m.token, state_vector_hex: toHex(m.stateVector) };
      if (m.version >= 2 && m.version <= 4) f.heartbeat_millis = m.heartbeatMillis;
      if (m.version === 4) f.format = m.format;
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

test('protocol vectors are version 4 and cover every section', () => {
  assert.equal(vectors.protocol_version, 4);
  assert.ok(vectors.messages.length >= 6);
  assert.ok(vectors.decode_only.length > 0);
  assert.ok(vectors.invalid.length > 0);
  const types = new Set(vectors.messages.map((v) => v.type));
  assert.deepEqual([...types].sort(), ['ack', 'error', 'heartbeat', 'hello', 'presence', 'update', 'welcome']);
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
