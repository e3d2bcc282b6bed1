// compose, which turns a transaction's positional changes into one delta,
// against a plain reference: the list-of-spans algorithm it replaced, which
// is easy to check by eye and quadratic in the number of changes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compose } from '../src/events.js';
import { Rand } from './helpers.js';

/** referenceCompose is compose done with a flat list of spans. */
function referenceCompose(changes) {
  const spans = [];
  const seek = (pos) => {
    let p = 0;
    for (let i = 0; i < spans.length; i++) {
      const s = spans[i];
      if (s.del) continue;
      const n = s.ins !== null ? s.ins.length : s.n;
      if (pos === p) return i;
      if (pos < p + n) {
        const k = pos - p;
        const a = s.ins !== null ? { n: 0, del: false, ins: s.ins.slice(0, k) } : { n: k, del: false, ins: null };
        const b = s.ins !== null ? { n: 0, del: false, ins: s.ins.slice(k) } : { n: n - k, del: false, ins: null };
        spans.splice(i, 1, a, b);
        return i + 1;
      }
      p += n;
    }
    if (pos > p) spans.push({ n: pos - p, del: false, ins: null });
    return spans.length;
  };
  for (const ch of changes) {
    if (ch.insert !== '') spans.splice(seek(ch.pos), 0, { n: 0, del: false, ins: ch.insert });
    else if (ch.delete > 0) {
      let i = seek(ch.pos);
      seek(ch.pos + ch.delete);
      for (let n = ch.delete; n > 0 && i < spans.length; i++) {
        const s = spans[i];
        if (s.del) continue;
        if (s.ins !== null) {
          n -= s.ins.length;
          s.ins = '';
        } else {
          n -= s.n;
          s.del = true;
        }
      }
    }
  }
  const out = [];
  const push = (kind, v) => {
    const last = out[out.length - 1];
    if (last !== undefined && kind in last) last[kind] += v;
    else out.push({ [kind]: v });
  };
  for (const s of spans) {
    if (s.ins !== null) {
      if (s.ins.length > 0) push('insert', s.ins);
    } else if (s.del) push('delete', s.n);
    else push('retain', s.n);
  }
  while (out.length > 0 && 'retain' in out[out.length - 1]) out.pop();
  return out;
}

/** applyDelta applies a delta to s. */
function applyDelta(s, delta) {
  let out = '';
  let i = 0;
  for (const op of delta) {
    if ('retain' in op) {
      out += s.slice(i, i + op.retain);
      i += op.retain;
    } else if ('delete' in op) i += op.delete;
    else out += op.insert;
  }
  return out + s.slice(i);
}

test('compose: the local example of FORMAT.md §5.5', () => {
  const changes = [
    { pos: 5, insert: '!', delete: 0 },
    { pos: 0, insert: '', delete: 1 },
    { pos: 0, insert: 'J', delete: 0 },
  ];
  assert.deepEqual(compose(changes), [{ delete: 1 }, { insert: 'J' }, { retain: 4 }, { insert: '!' }]);
});

test('compose agrees with the reference on random changes, and its delta makes the new text', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const rng = new Rand(seed);
    const before = 'abcdefghijklmnopqrstuvwxyz'.slice(0, rng.intn(27));
    let text = before;
    const changes = [];
    for (let k = 1 + rng.intn(40); k > 0; k--) {
      if (text.length === 0 || rng.intn(2) === 0) {
        const pos = rng.intn(text.length + 1);
        const ins = 'XYZW'.slice(0, 1 + rng.intn(4));
        changes.push({ pos, insert: ins, delete: 0 });
        text = text.slice(0, pos) + ins + text.slice(pos);
      } else {
        const pos = rng.intn(text.length);
        const n = 1 + rng.intn(Math.min(5, text.length - pos));
        changes.push({ pos, insert: '', delete: n });
        text = text.slice(0, pos) + text.slice(pos + n);
      }
    }
    const delta = compose(changes);
    assert.deepEqual(delta, referenceCompose(changes), `seed ${seed}`);
    assert.equal(applyDelta(before, delta), text, `seed ${seed}`);
  }
});
