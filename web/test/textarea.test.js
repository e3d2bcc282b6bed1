// The string logic of the editor bindings (src/textdiff.js): the change
// between two values, applying and following Text deltas, and moving a
// change made during an IME composition onto remote edits. The DOM side of
// TextareaBinding is exercised in a real browser by the end-to-end tests.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Doc } from '../src/index.js';
import { applyDelta, diffText, rebaseChange, transformIndex } from '../src/textdiff.js';
import { Rand } from './helpers.js';

const diffTests = [
  { name: 'no change', before: 'abc', after: 'abc', cursor: 3, want: { index: 3, remove: 0, insert: '' } },
  { name: 'type at the end', before: 'abc', after: 'abcd', cursor: 4, want: { index: 3, remove: 0, insert: 'd' } },
  { name: 'type in the middle', before: 'abc', after: 'abXc', cursor: 3, want: { index: 2, remove: 0, insert: 'X' } },
  { name: 'ambiguous insert placed at the caret', before: 'aa', after: 'aaa', cursor: 1, want: { index: 0, remove: 0, insert: 'a' } },
  { name: 'ambiguous insert in the middle', before: 'aa', after: 'aaa', cursor: 2, want: { index: 1, remove: 0, insert: 'a' } },
  { name: 'ambiguous insert without a caret', before: 'aa', after: 'aaa', cursor: -1, want: { index: 2, remove: 0, insert: 'a' } },
  { name: 'backspace', before: 'abcd', after: 'abd', cursor: 2, want: { index: 2, remove: 1, insert: '' } },
  { name: 'ambiguous backspace', before: 'abbc', after: 'abc', cursor: 1, want: { index: 1, remove: 1, insert: '' } },
  { name: 'replace a selection', before: 'hello world', after: 'hello there', cursor: 11, want: { index: 6, remove: 5, insert: 'there' } },
  { name: 'paste over everything', before: 'abc', after: 'xyz', cursor: 3, want: { index: 0, remove: 3, insert: 'xyz' } },
  { name: 'clear', before: 'abc', after: '', cursor: 0, want: { index: 0, remove: 3, insert: '' } },
  { name: 'a caret far from a scripted change is ignored', before: 'abc', after: 'abcd', cursor: 0, want: { index: 3, remove: 0, insert: 'd' } },
  { name: 'a caret far from a scripted deletion is ignored', before: 'abcd', after: 'abd', cursor: 0, want: { index: 2, remove: 1, insert: '' } },
  // 😀 is \ud83d\ude00 and 😁 is \ud83d\ude01: they share the high surrogate.
  { name: 'emoji replaced by one sharing its high surrogate', before: 'a😀b', after: 'a😁b', cursor: 3, want: { index: 1, remove: 2, insert: '😁' } },
  { name: 'emoji typed before an emoji', before: '😀', after: '😁😀', cursor: 2, want: { index: 0, remove: 0, insert: '😁' } },
  { name: 'emoji typed after an emoji sharing the low surrogate', before: 'x\ud83d\ude00', after: 'x\ud83d\ude00\ud83c\ude00', cursor: 5, want: { index: 3, remove: 0, insert: '\ud83c\ude00' } },
  { name: 'delete an emoji', before: 'a😀😀b', after: 'a😀b', cursor: 3, want: { index: 3, remove: 2, insert: '' } },
];

test('diffText finds the smallest change, at the caret, whole code points', async (t) => {
  for (const tt of diffTests) {
    await t.test(tt.name, () => {
      const got = diffText(tt.before, tt.after, tt.cursor);
      assert.deepEqual(got, tt.want);
      assert.equal(tt.before.slice(0, got.index) + got.insert + tt.before.slice(got.index + got.remove), tt.after);
    });
  }
});

test('diffText changes always rebuild the new value and keep pairs whole', () => {
  const rnd = new Rand(Number(process.env.CRDT_SEED ?? 7));
  const alphabet = ['a', 'b', '😀', '😁', '\ud83c\ude00', 'é'];
  const word = (n) => Array.from({ length: n }, () => alphabet[rnd.intn(alphabet.length)]).join('');
  for (let i = 0; i < 2000; i++) {
    const before = word(rnd.intn(8));
    const after = word(rnd.intn(8));
    const c = diffText(before, after, rnd.intn(after.length + 2) - 1);
    const free = diffText(before, after);
    assert.equal(c.remove, free.remove, `${before} → ${after}: the caret made the change bigger`);
    assert.equal(before.slice(0, c.index) + c.insert + before.slice(c.index + c.remove), after, `${before} → ${after}`);
    assert.ok(c.insert.isWellFormed(), `${before} → ${after}: insert splits a pair`);
    assert.ok(before.slice(c.index, c.index + c.remove).isWellFormed(), `${before} → ${after}: removal splits a pair`);
  }
});

const transformTests = [
  // Text 'hello world'; a delta applied to it; where index lands.
  { name: 'insert before', delta: [{ insert: '>> ' }], index: 6, want: 9 },
  { name: 'insert after', delta: [{ retain: 8 }, { insert: 'X' }], index: 6, want: 6 },
  { name: 'insert at, stays', delta: [{ retain: 6 }, { insert: 'big ' }], index: 6, want: 6 },
  { name: 'insert at, assoc 1 moves', delta: [{ retain: 6 }, { insert: 'big ' }], index: 6, assoc: 1, want: 10 },
  { name: 'delete before', delta: [{ delete: 3 }], index: 6, want: 3 },
  { name: 'delete around', delta: [{ retain: 4 }, { delete: 4 }], index: 6, want: 4 },
  { name: 'delete ending at it', delta: [{ retain: 4 }, { delete: 2 }], index: 6, want: 4 },
  { name: 'delete starting at it', delta: [{ retain: 6 }, { delete: 2 }], index: 6, want: 6 },
  { name: 'delete then insert before', delta: [{ delete: 2 }, { insert: 'abc' }], index: 6, want: 7 },
  { name: 'replace around', delta: [{ retain: 5 }, { delete: 3 }, { insert: 'XY' }], index: 6, want: 5 },
];

test('transformIndex moves positions through a delta', async (t) => {
  for (const tt of transformTests) {
    await t.test(tt.name, () => {
      assert.equal(transformIndex(tt.delta, tt.index, tt.assoc ?? 0), tt.want);
    });
  }
});

test('applyDelta and transformIndex agree with a real Text', () => {
  const rnd = new Rand(11);
  for (let round = 0; round < 300; round++) {
    const a = new Doc();
    const b = new Doc();
    b.apply(a.getText('t').insert(0, 'abcdefghijklmnopqrstuvwxyz'));
    const tb = b.getText('t');
    const deltas = [];
    tb.observe((ev) => deltas.push(ev.delta));
    const before = tb.toString();
    const marker = rnd.intn(before.length);
    const ch = before[marker];
    const ta = a.getText('t');
    for (let k = 0; k < 3; k++) {
      const at = rnd.intn(ta.length + 1);
      if (rnd.intn(2) === 0 || at === ta.length) b.apply(ta.insert(at, '#'));
      else b.apply(ta.delete(at, Math.min(1 + rnd.intn(3), ta.length - at)));
    }
    let s = before;
    let idx = marker;
    for (const d of deltas) {
      s = applyDelta(s, d);
      idx = transformIndex(d, idx, 1); // 1: insertions at the position go before it, so it follows its character
    }
    assert.equal(s, tb.toString());
    // The letters are unique and inserts add only '#'.
    if (tb.toString().includes(ch)) assert.equal(s[idx], ch, `round ${round}: the position left its character`);
  }
});

test('a composition is moved onto remote edits that arrived meanwhile', () => {
  const a = new Doc();
  const b = new Doc();
  b.apply(a.getText('t').insert(0, 'hello world'));
  const tb = b.getText('t');
  const shadow = tb.toString();
  const pending = [];
  tb.observe((ev) => pending.push(ev.delta));
  // While b composes 日本 after "hello ", a edits before and after it.
  b.apply(a.getText('t').insert(0, '>> '));
  b.apply(a.getText('t').delete(a.getText('t').length - 5, 5));
  const composed = 'hello 日本world';
  const change = rebaseChange(diffText(shadow, composed, 8), pending);
  b.transact(() => {
    if (change.remove > 0) tb.delete(change.index, change.remove);
    tb.insert(change.index, change.insert);
  });
  assert.equal(tb.toString(), '>> hello 日本');
});

test('a replaced selection loses what remote edits deleted already', () => {
  const change = { index: 2, remove: 6, insert: 'X' }; // replaces 'cdefgh' in 'abcdefghij'
  const remote = [[{ retain: 4 }, { delete: 2 }], [{ insert: '12' }]]; // deletes 'ef', then inserts '12' at 0
  assert.deepEqual(rebaseChange(change, remote), { index: 4, remove: 4, insert: 'X' });
});
