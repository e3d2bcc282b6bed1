// The ProseMirror binding's remote path (src/prosemirror.js): TextMirror
// keeps the document a rich Text stands for from the Text's events, and
// remoteTransaction makes an editor state show it. After every change that
// reaches the editor, its document must be exactly the one the whole-text
// path builds (deltaToDoc of text.toDelta()), whatever the changes: random
// sessions of three replicas, two making remote rich changes (inserts,
// deletes, formats, unformats, embeds, block changes in paragraphs, list
// items, blockquotes and code blocks) and the editor's own making local
// edits through diffDocs, as the binding does, delivered in random order.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { getSchema } from '@tiptap/core';
import StarterKit from '@tiptap/starter-kit';
import Image from '@tiptap/extension-image';
import { Schema } from 'prosemirror-model';
import { schema as basic } from 'prosemirror-schema-basic';
import { addListNodes } from 'prosemirror-schema-list';
import { EditorState, TextSelection } from 'prosemirror-state';
import { Doc } from '../src/index.js';
import { Rand } from './helpers.js';
import { SchemaError, TextMirror, applyTextDelta, deltaToDoc, diffDocs, docLength, docToDelta, remoteTransaction } from '../src/prosemirror.js';

const tiptap = getSchema([StarterKit, Image]);
const inlineImages = getSchema([StarterKit, Image.configure({ inline: true })]);
const basicLists = new Schema({ nodes: addListNodes(basic.spec.nodes, 'paragraph block*', 'block'), marks: basic.spec.marks });

const quiet = { onUnsupported: () => {} };

/** whole returns the document the whole-text path builds for a Text. */
const whole = (schema, text) => deltaToDoc(schema, text.toDelta(), quiet);

/** flat returns the ops of a mirror's lines, merged as toDelta merges them. */
function flat(mirror) {
  const ops = [];
  const push = (op) => {
    const last = ops.at(-1);
    if (last && typeof last.insert === 'string' && typeof op.insert === 'string' && JSON.stringify(sorted(last.attributes)) === JSON.stringify(sorted(op.attributes))) {
      ops[ops.length - 1] = last.attributes ? { insert: last.insert + op.insert, attributes: last.attributes } : { insert: last.insert + op.insert };
    } else ops.push(op);
  };
  for (const l of mirror.lines) {
    for (const op of l.ops) push(op);
    if (l.nl) push(Object.keys(l.attrs).length > 0 ? { insert: '\n', attributes: l.attrs } : { insert: '\n' });
  }
  return ops;
}

/** sorted returns attributes with their keys in order, for comparing. */
function sorted(a) {
  if (a === undefined) return undefined;
  return Object.fromEntries(Object.entries(a).sort(([x], [y]) => (x < y ? -1 : 1)));
}

const STRINGS = ['a', 'bc', 'hello ', '\n', 'x\ny', '\n\n', '\u2028', '\u{1F600}', 'code;\n', 'q'];
const INLINE = [
  ['bold', true],
  ['bold', null],
  ['italic', true],
  ['italic', null],
  ['code', true],
  ['strike', true],
  ['underline', null],
  ['link', '/a'],
  ['link', '/b'],
  ['link', null],
  ['comment', 'c1'], // no mark of the schema: kept in the Text, not shown
  ['comment', null],
];
const BLOCK = [
  ['header', 1],
  ['header', 3],
  ['header', null],
  ['list', 'bullet'],
  ['list', 'ordered'],
  ['list', null],
  ['list', 'checked'], // not shown
  ['indent', 1],
  ['indent', 2],
  ['indent', null],
  ['code-block', 'js'],
  ['code-block', true],
  ['code-block', 'go'],
  ['code-block', null],
  ['blockquote', true],
  ['blockquote', null],
  ['align', 'right'], // not shown
];
const EMBEDS = [{ image: '/i.png' }, { image: '/j.png' }, { mention: 'ann' }];

/**
 * remoteEdit makes one random rich change in text, in a transaction of
 * one to three edits.
 * @param {Rand} r
 * @param {any} text
 */
function remoteEdit(r, text) {
  const n = 1 + (r.intn(4) === 0 ? r.intn(3) : 0);
  text.doc.transact(() => {
    for (let i = 0; i < n; i++) {
      const len = text.length;
      const pos = r.intn(len + 1);
      const k = r.intn(100);
      if (k < 30 || len === 0) {
        text.insert(pos, STRINGS[r.intn(STRINGS.length)]);
      } else if (k < 45) {
        text.delete(pos === len ? pos - 1 : pos, Math.min(1 + r.intn(r.intn(4) === 0 ? 40 : 6), len - (pos === len ? pos - 1 : pos)));
      } else if (k < 65) {
        const [key, value] = INLINE[r.intn(INLINE.length)];
        const at = Math.min(pos, len - 1);
        text.format(at, Math.min(1 + r.intn(20), len - at), key, value);
      } else if (k < 72) {
        text.insertEmbed(pos, EMBEDS[r.intn(EMBEDS.length)]);
      } else if (text.toString().includes('\n', pos)) {
        const [key, value] = BLOCK[r.intn(BLOCK.length)];
        text.setBlock(pos, key, value);
      } else {
        text.insert(len, '\n');
      }
    }
  });
}

/**
 * localEdit returns a random edit of the editor's document as the user
 * could make it, or null.
 * @param {Rand} r
 * @param {EditorState} state
 */
function localEdit(r, state) {
  const size = state.doc.content.size;
  const pos = r.intn(size + 1);
  const $pos = state.doc.resolve(pos);
  const tr = state.tr;
  const k = r.intn(5);
  try {
    if (k === 0 && $pos.parent.isTextblock) tr.insertText(['z', 'zz', ' '][r.intn(3)], pos);
    else if (k === 1 && $pos.parent.isTextblock) tr.split(pos);
    else if (k === 2) tr.delete(Math.max(0, pos - 1 - r.intn(6)), pos);
    else if (k === 3) {
      const from = Math.max(0, pos - 1 - r.intn(10));
      const mark = state.schema.marks.bold ?? state.schema.marks.strong;
      if (r.intn(2) === 0) tr.addMark(from, pos, mark.create());
      else tr.removeMark(from, pos, mark);
    } else if ($pos.parent.isTextblock && $pos.parent.type !== state.schema.nodes.heading && state.schema.nodes.heading) {
      tr.setBlockType($pos.before(), $pos.after(), state.schema.nodes.heading, { level: 2 });
    } else return null;
  } catch {
    return null; // a step ProseMirror refuses there
  }
  if (!tr.docChanged) return null;
  // A user cannot type or delete inside a surrogate pair.
  if (!tr.doc.textBetween(0, tr.doc.content.size, '\n', '\ufffc').isWellFormed()) return null;
  tr.setSelection(TextSelection.near(tr.doc.resolve(Math.min(tr.mapping.map(pos), tr.doc.content.size))));
  return tr;
}

/**
 * session runs one random session and checks the editor after every change
 * that reaches it.
 * @param {Schema} schema
 * @param {number} seed
 * @param {number} steps
 */
function session(schema, seed, steps) {
  const r = new Rand(seed);
  const docs = [new Doc(), new Doc(), new Doc()]; // 0: the editor's; 1 and 2: remote
  const texts = docs.map((d) => d.getText('t'));
  /** inboxes[i]: the updates replica i has yet to apply. */
  const inboxes = [[], [], []];
  docs.forEach((d, i) =>
    d.onLocalUpdate((u) => {
      for (let j = 0; j < 3; j++) if (j !== i) inboxes[j].push(u);
    }),
  );
  // A start: a few lines from one remote replica, delivered everywhere.
  texts[1].insert(0, 'one\ntwo\nthree\n');
  for (let j = 0; j < 3; j++) for (const u of inboxes[j].splice(0)) docs[j].apply(u);

  const mirror = new TextMirror(schema, texts[0].toDelta(), quiet);
  const events = [];
  texts[0].observe((ev) => {
    events.push(ev.delta);
    mirror.applyEvent(ev.delta);
  });
  let state = EditorState.create({ schema, doc: mirror.doc() });
  let checks = 0;

  const check = (what) => {
    const want = whole(schema, texts[0]);
    const tr = remoteTransaction(state, mirror.doc());
    if (tr !== null) state = state.apply(tr);
    checks++;
    if (!state.doc.eq(want)) {
      assert.fail(
        `seed ${seed}, ${what}: the editor is not the whole-text document\n` +
          `text: ${JSON.stringify(texts[0].toDelta())}\nlast events: ${JSON.stringify(events.slice(-3))}\n` +
          `got:  ${JSON.stringify(state.doc.toJSON())}\nwant: ${JSON.stringify(want.toJSON())}`,
      );
    }
    assert.deepEqual(flat(mirror).map((op) => ({ ...op, attributes: sorted(op.attributes) })), texts[0].toDelta().map((op) => ({ ...op, attributes: sorted(op.attributes) })), `seed ${seed}, ${what}: the mirror's lines`);
  };

  for (let step = 0; step < steps; step++) {
    const k = r.intn(10);
    if (k < 5) {
      remoteEdit(r, texts[1 + r.intn(2)]);
    } else if (k < 7) {
      // A local edit, carried into the Text as the binding carries it.
      const tr = localEdit(r, state);
      if (tr === null) continue;
      let delta;
      try {
        delta = diffDocs(state.doc, tr.doc, tr.selection.head);
      } catch (err) {
        if (err instanceof SchemaError) continue; // refused by the binding's filter
        throw err;
      }
      state = state.apply(tr);
      if (delta === null) continue;
      docs[0].transact(() => {
        if (texts[0].length === docLength(state.doc) - deltaLength(delta) - 1) {
          const len = texts[0].length;
          applyTextDelta(texts[0], len > 0 ? [{ retain: len }, { insert: '\n' }] : [{ insert: '\n' }]);
        }
        applyTextDelta(texts[0], delta);
      });
    } else {
      // Deliveries, in random order: a replica may get an update before
      // one it depends on (it waits in the Doc).
      const j = r.intn(3);
      const box = inboxes[j];
      const n = Math.min(box.length, 1 + r.intn(4));
      for (let i = 0; i < n; i++) {
        const u = box.splice(r.intn(Math.min(box.length, 3)), 1)[0];
        docs[j].apply(u);
      }
      if (j === 0 && n > 0) check(`step ${step}`);
    }
  }
  for (let j = 0; j < 3; j++) for (const u of inboxes[j].splice(0)) docs[j].apply(u);
  check('the end');
  assert.equal(texts[0].toString(), texts[1].toString());
  return checks;
}

/** deltaLength returns how much a delta changes a text's length. */
function deltaLength(delta) {
  let n = 0;
  for (const op of delta) {
    if (op.delete !== undefined) n -= op.delete;
    else if (op.insert !== undefined) n += typeof op.insert === 'string' ? op.insert.length : 1;
  }
  return n;
}

describe('remote changes through the Text events equal the whole-text path', () => {
  for (const [name, schema, seeds] of [
    ['TipTap', tiptap, 40],
    ['TipTap, inline images', inlineImages, 15],
    ['prosemirror-schema-basic', basicLists, 15],
  ]) {
    test(`${name}: random sessions`, () => {
      let checks = 0;
      for (let seed = 1; seed <= seeds; seed++) checks += session(schema, seed, 300);
      assert.ok(checks > seeds * 20, `only ${checks} checks`);
    });
  }

  test('a remote change restructuring lists, blockquotes and code blocks', () => {
    const a = new Doc();
    const b = new Doc();
    a.onLocalUpdate((u) => b.apply(u));
    const ta = a.getText('t');
    const tb = b.getText('t');
    ta.insert(0, 'a\nb\nc\nd\ne\nf\n');
    const mirror = new TextMirror(tiptap, tb.toDelta(), quiet);
    tb.observe((ev) => mirror.applyEvent(ev.delta));
    let state = EditorState.create({ schema: tiptap, doc: mirror.doc() });
    const steps = [
      () => ta.setBlock(0, 'list', 'bullet'),
      () => ta.setBlock(4, 'list', 'bullet'), // not next to the first: two lists
      () => ta.setBlock(2, 'list', 'bullet'), // joins them into one
      () => ta.setBlock(2, 'indent', 1), // nests b's item under a's
      () => ta.setBlock(6, 'code-block', 'js'),
      () => ta.setBlock(8, 'code-block', 'js'), // one code block of two lines
      () => ta.setBlock(8, 'code-block', 'go'), // two code blocks
      () => ta.setBlock(10, 'blockquote', true),
      () => ta.setBlock(8, 'blockquote', true), // a blockquote of two lines (a code block in it)
      () => ta.delete(3, 1), // b's newline: b and c one line, in the list
      () => ta.setBlock(0, 'list', null),
      () => ta.delete(0, ta.length),
      () => ta.insert(0, 'x'),
    ];
    for (const [i, step] of steps.entries()) {
      step();
      const tr = remoteTransaction(state, mirror.doc());
      if (tr !== null) state = state.apply(tr);
      assert.ok(state.doc.eq(whole(tiptap, tb)), `step ${i}: ${JSON.stringify(state.doc.toJSON())}`);
    }
    assert.deepEqual(docToDelta(state.doc), [{ insert: 'x\n' }]);
  });

  test('typing and bold inside a long list build only their items again; a new item builds the list', () => {
    const a = new Doc();
    const b = new Doc();
    a.onLocalUpdate((u) => b.apply(u));
    const ta = a.getText('t');
    const tb = b.getText('t');
    ta.insert(0, Array.from({ length: 40 }, (_, i) => `item ${String(i).padStart(2, '0')}\n`).join(''));
    for (let i = 0; i < 40; i++) ta.setBlock(i * 8, 'list', 'bullet');
    ta.setBlock(8 * 8, 'indent', 1);
    const mirror = new TextMirror(tiptap, tb.toDelta(), quiet);
    tb.observe((ev) => mirror.applyEvent(ev.delta));
    const before = mirror.doc();
    assert.equal(before.childCount, 1);
    const items = (d) => {
      const out = [];
      d.descendants((n) => {
        if (n.type.name === 'listItem') out.push(n.firstChild);
        return true;
      });
      return out;
    };
    ta.insert(8 * 20 + 2, 'X'); // in item 20
    ta.format(8 * 30 + 2, 4, 'bold', true); // in item 30 (one further on, after the X)
    const after = mirror.doc();
    assert.ok(after.eq(whole(tiptap, tb)));
    const was = items(before);
    const now = items(after);
    for (let i = 0; i < 40; i++) {
      if (i === 20 || i === 30) assert.notEqual(now[i], was[i], `item ${i}`);
      else assert.equal(now[i], was[i], `item ${i} is the same node`);
    }
    ta.insert(8 * 10, 'new\n'); // a new item: the list is built again
    assert.ok(mirror.doc().eq(whole(tiptap, tb)));
  });

  test('without onUnsupported, what cannot be shown throws, every time, until it goes', () => {
    const a = new Doc();
    const b = new Doc();
    a.onLocalUpdate((u) => b.apply(u));
    const ta = a.getText('t');
    const tb = b.getText('t');
    ta.insert(0, 'ab\ncd\n');
    const mirror = new TextMirror(tiptap, tb.toDelta());
    tb.observe((ev) => mirror.applyEvent(ev.delta));
    ta.format(3, 1, 'comment', 'c1');
    assert.throws(() => mirror.doc(), SchemaError);
    assert.throws(() => mirror.doc(), SchemaError, 'thrown again: the stale line is still stale');
    ta.format(3, 1, 'comment', null);
    assert.ok(mirror.doc().eq(deltaToDoc(tiptap, tb.toDelta())));
  });

  test('untouched blocks stay the same nodes: a change builds only its blocks again', () => {
    const a = new Doc();
    const b = new Doc();
    a.onLocalUpdate((u) => b.apply(u));
    const ta = a.getText('t');
    const tb = b.getText('t');
    ta.insert(0, Array.from({ length: 50 }, (_, i) => `line ${i}\n`).join(''));
    for (let i = 10; i < 20; i++) ta.setBlock(i * 7 + 1, 'list', 'bullet');
    const mirror = new TextMirror(tiptap, tb.toDelta(), quiet);
    tb.observe((ev) => mirror.applyEvent(ev.delta));
    const before = mirror.doc();
    ta.insert(3, 'X'); // in the first paragraph
    const after = mirror.doc();
    assert.ok(after.eq(whole(tiptap, tb)));
    assert.notEqual(after.child(0), before.child(0));
    for (let i = 1; i < before.childCount; i++) assert.equal(after.child(i), before.child(i), `child ${i}`);
  });
});
