// prosemirror-bench.mjs — the cost of the ProseMirror binding's two paths
// on a large rich document, in Node with the real prosemirror-model and
// the real Text (no browser: the view's own cost is ProseMirror's).
//
// Usage (from web/):
//   node bench/prosemirror-bench.mjs [--blocks 2000] [--runs 200]
//
// The document has --blocks blocks of about 60 characters: paragraphs with
// bold and links, headings, list items. It measures, as the median over
// --runs runs:
//   local    one character typed in the middle block: diffDocs (the Text
//            delta of the editor change) and its application to the Text
//            (plain text after plain text, which the fallback of
//            applyTextDelta, without text.applyDelta, makes with no read of
//            text.toDelta)
//   format   bold over a word of the middle block: the same
//   whole    what a remote change cost the editor when it read the whole
//            Text (the binding's path before TextMirror, kept for
//            comparison): text.toDelta, deltaToDoc and the changed range
//            of the two documents
//   remote   a character typed and a bold toggled by another replica in
//            the middle block, applied to this Doc: the binding's part
//            (TextMirror.applyEvent and doc, remoteTransaction and
//            EditorState.apply), and apart from it the Text's own part
//            (Doc.apply, with the event the Text computes for its
//            observer)
//   list     the binding's part of a remote keystroke in the middle item
//            of a document that is one bullet list of --blocks items
//   cursor   what a remote caret in the middle block costs at each
//            remote change (docPosition) and the local caret at each
//            selection change (textOffset)
// and, once, docToDelta and deltaToDoc of the whole document.

import { performance } from 'node:perf_hooks';
import { Transform } from 'prosemirror-transform';
import { EditorState } from 'prosemirror-state';
import { getSchema } from '@tiptap/core';
import StarterKit from '@tiptap/starter-kit';
import Image from '@tiptap/extension-image';
import { Doc } from '../src/index.js';
import { TextMirror, applyTextDelta, changedRange, deltaToDoc, diffDocs, docPosition, docToDelta, remoteTransaction, textOffset } from '../src/prosemirror.js';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const BLOCKS = arg('blocks', 2000);
const RUNS = arg('runs', 200);

const schema = getSchema([StarterKit, Image]);
const words = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do'.split(' ');
const json = { type: 'doc', content: [] };
for (let i = 0; i < BLOCKS; i++) {
  const s = words.map((w, k) => words[(k + i) % words.length]).join(' ');
  const inline = [
    { type: 'text', text: s.slice(0, 20) },
    { type: 'text', text: s.slice(20, 30), marks: [{ type: 'bold' }] },
    { type: 'text', text: s.slice(30, 40), marks: [{ type: 'link', attrs: { href: `/p/${i}` } }] },
    { type: 'text', text: s.slice(40) },
  ];
  if (i % 10 === 0) json.content.push({ type: 'heading', attrs: { level: 2 }, content: inline });
  else if (i % 10 < 4) json.content.push({ type: 'bulletList', content: [{ type: 'listItem', content: [{ type: 'paragraph', content: inline }] }] });
  else json.content.push({ type: 'paragraph', content: inline });
}
// Adjacent lists merge in the Text (as in Quill): start from the merged form.
const base = deltaToDoc(schema, docToDelta(schema.nodeFromJSON(json)));

const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
const time = (fn) => {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
};

const delta = docToDelta(base);
let chars = 0;
for (const op of delta) chars += typeof op.insert === 'string' ? op.insert.length : 1;
console.log(`document: ${BLOCKS} blocks, ${chars} characters, ${delta.length} delta ops`);
const whole = (fn) => median(Array.from({ length: 9 }, () => time(fn)));
console.log(`docToDelta (whole)  ${whole(() => docToDelta(base)).toFixed(2)} ms`);
console.log(`deltaToDoc (whole)  ${whole(() => deltaToDoc(schema, delta)).toFixed(2)} ms`);

// The Text holds the document as a page's first load would write it: the
// characters, then one mark per run of the delta (applyTextDelta's
// fallback, without Text.applyDelta, would mark each inserted character
// on its own, a Text of 40,000 marks that no editor makes).
const text = new Doc().getText('body');
text.doc.transact(() => {
  text.insert(0, delta.map((op) => (typeof op.insert === 'string' ? op.insert : '\ufffc')).join(''));
  let at = 0;
  for (const op of delta) {
    const n = typeof op.insert === 'string' ? op.insert.length : 1;
    for (const [k, v] of Object.entries(op.attributes ?? {})) text.format(at, n, k, v);
    at += n;
  }
});
if (!deltaToDoc(schema, text.toDelta()).eq(base)) throw new Error('the Text does not hold the document');

// The middle block's first text position.
let mid = 0;
let seen = 0;
base.descendants((node, pos) => {
  if (node.isTextblock && seen++ === BLOCKS >> 1) mid = pos + 1;
  return !node.isTextblock;
});

const local = [];
const format = [];
const remote = [];
const diffT = [];
const toDeltaT = [];
const buildT = [];
const rangeT = [];
let doc = base;
for (let r = 0; r < RUNS; r++) {
  const next = new Transform(doc).insert(mid + 5, schema.text('x')).doc; // inside the plain start of the block
  let d;
  diffT.push(time(() => (d = diffDocs(doc, next, mid + 6))));
  // The binding passes what it knows of the character before the insert:
  // plain text typed after plain text needs no reading back.
  local.push(diffT.at(-1) + time(() => applyTextDelta(text, d ?? [], { before: {} })));
  doc = next;
  const mark = schema.marks.bold.create();
  const withBold = (r % 2 === 0 ? new Transform(doc).addMark(mid + 1, mid + 4, mark) : new Transform(doc).removeMark(mid + 1, mid + 4, mark)).doc;
  format.push(time(() => applyTextDelta(text, diffDocs(doc, withBold) ?? [])));
  doc = withBold;
  toDeltaT.push(time(() => (d = text.toDelta())));
  let target;
  buildT.push(time(() => (target = deltaToDoc(schema, d))));
  rangeT.push(time(() => changedRange(doc, target)));
  remote.push(toDeltaT.at(-1) + buildT.at(-1) + rangeT.at(-1));
}

const check = deltaToDoc(schema, text.toDelta());
if (!check.eq(doc)) throw new Error('the Text does not hold the editor document at the end');
console.log(`local    (1 char)    ${median(local).toFixed(3)} ms, of which diffDocs ${median(diffT).toFixed(3)} ms`);
console.log(`format   (bold)      ${median(format).toFixed(3)} ms`);
console.log(`whole    (old pull)  ${median(remote).toFixed(3)} ms: text.toDelta ${median(toDeltaT).toFixed(3)}, deltaToDoc ${median(buildT).toFixed(3)}, changedRange ${median(rangeT).toFixed(3)}`);

// The remote path: a peer's changes reach this Doc, whose Text a
// TextMirror observes, as the binding's does.
const peer = new Doc();
peer.apply(text.doc.snapshot());
const peerText = peer.getText('body');
let update = null;
peer.onLocalUpdate((u) => (update = u));
const mirror = new TextMirror(schema, text.toDelta());
let state = EditorState.create({ schema, doc: mirror.doc() });
let eventT = 0;
text.observe((ev) => {
  eventT = time(() => mirror.applyEvent(ev.delta));
});
const binding = [];
const crdt = [];
const eventsT = [];
const mirrorT = [];
const trT = [];
const middle = text.length >> 1;
for (let r = 0; r < RUNS; r++) {
  for (const edit of [() => peerText.insert(middle + r, 'y'), () => peerText.format(middle, 8, 'bold', r % 2 === 0 ? true : null)]) {
    edit();
    const applyT = time(() => text.doc.apply(update));
    let target;
    const docT = time(() => (target = mirror.doc()));
    const applyTrT = time(() => (state = state.apply(remoteTransaction(state, target))));
    binding.push(eventT + docT + applyTrT);
    eventsT.push(eventT);
    mirrorT.push(docT);
    trT.push(applyTrT);
    crdt.push(applyT - eventT);
  }
}
if (!state.doc.eq(deltaToDoc(schema, text.toDelta()))) throw new Error('the remote path does not show the Text at the end');
console.log(
  `remote   (events)    ${median(binding).toFixed(3)} ms in the binding: applyEvent ${median(eventsT).toFixed(3)}, ` +
    `mirror.doc ${median(mirrorT).toFixed(3)}, remoteTransaction and apply ${median(trT).toFixed(3)}`,
);
console.log(`         (the Text)   Doc.apply with the event it computes for its observer ${median(crdt).toFixed(3)} ms`);

const caretAt = text.length >> 1;
const caretT = median(Array.from({ length: RUNS }, () => time(() => docPosition(state.doc, caretAt))));
const offsetT = median(Array.from({ length: RUNS }, () => time(() => textOffset(state.doc, mid))));
console.log(`cursor               docPosition ${caretT.toFixed(3)} ms, textOffset ${offsetT.toFixed(3)} ms`);

// One long list: a keystroke inside an item builds that item again, not the list.
{
  const listPeer = new Doc();
  const lt = listPeer.getText('body');
  lt.insert(0, Array.from({ length: BLOCKS }, (_, i) => `${words[i % words.length]} item ${i}\n`).join(''));
  for (let at = 0, i = 0; i < BLOCKS; i++) {
    at = lt.toString().indexOf('\n', at);
    lt.setBlock(at, 'list', 'bullet');
    at++;
  }
  const here = new Doc();
  here.apply(listPeer.snapshot());
  const ht = here.getText('body');
  const m = new TextMirror(schema, ht.toDelta());
  ht.observe((ev) => m.applyEvent(ev.delta));
  let st = EditorState.create({ schema, doc: m.doc() });
  let u = null;
  listPeer.onLocalUpdate((x) => (u = x));
  const mid = lt.toString().indexOf('\n', lt.length >> 1) - 1;
  const listT = [];
  for (let r = 0; r < RUNS; r++) {
    lt.insert(mid, 'y');
    here.apply(u);
    listT.push(time(() => (st = st.apply(remoteTransaction(st, m.doc())))));
  }
  if (!st.doc.eq(deltaToDoc(schema, ht.toDelta()))) throw new Error('the list does not show the Text');
  console.log(`list     (${BLOCKS} items) ${median(listT).toFixed(3)} ms in the binding (mirror.doc, remoteTransaction and apply)`);
}
