// The mapping between ProseMirror documents and Text deltas
// (src/prosemirror.js), with the real prosemirror-model and the schemas of
// TipTap's StarterKit and of prosemirror-schema-basic/-list.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { getSchema } from '@tiptap/core';
import StarterKit from '@tiptap/starter-kit';
import Image from '@tiptap/extension-image';
import { Schema } from 'prosemirror-model';
import { schema as basic } from 'prosemirror-schema-basic';
import { addListNodes } from 'prosemirror-schema-list';
import { Doc } from '../src/index.js';
import { SchemaError, applyTextDelta, deltaToDoc, diffDocs, docLength, docPosition, docToDelta, forEachUnit, textOffset } from '../src/prosemirror.js';

const tiptap = getSchema([StarterKit, Image]);
const inlineImages = getSchema([StarterKit, Image.configure({ inline: true })]);
const basicLists = new Schema({ nodes: addListNodes(basic.spec.nodes, 'paragraph block*', 'block'), marks: basic.spec.marks });

/** Shorthands for TipTap JSON. */
const t = (text, ...marks) => (marks.length ? { type: 'text', text, marks: marks.map((m) => (typeof m === 'string' ? { type: m } : m)) } : { type: 'text', text });
const p = (...content) => ({ type: 'paragraph', ...(content.length ? { content } : {}) });
const h = (level, ...content) => ({ type: 'heading', attrs: { level }, ...(content.length ? { content } : {}) });
const ul = (...items) => ({ type: 'bulletList', content: items });
const ol = (...items) => ({ type: 'orderedList', content: items });
const li = (...content) => ({ type: 'listItem', content });
const quote = (...content) => ({ type: 'blockquote', content });
const code = (language, text) => ({ type: 'codeBlock', attrs: { language }, ...(text ? { content: [t(text)] } : {}) });
const br = (...marks) => (marks.length ? { type: 'hardBreak', marks: marks.map((m) => ({ type: m })) } : { type: 'hardBreak' });
const img = (src, alt, title) => ({ type: 'image', attrs: { src, alt: alt ?? null, title: title ?? null } });
const link = (href) => ({ type: 'link', attrs: { href } });
const doc = (schema, ...content) => schema.nodeFromJSON({ type: 'doc', content });

/** Documents and the deltas they stand for, both ways. */
const roundTrips = [
  { name: 'one empty paragraph', content: [p()], delta: [{ insert: '\n' }] },
  { name: 'paragraphs', content: [p(t('ab')), p(), p(t('c'))], delta: [{ insert: 'ab\n\nc\n' }] },
  {
    name: 'marks',
    content: [p(t('a'), t('b', 'bold'), t('c', 'bold', 'italic'), t('d', 'underline', 'strike'), t('e', 'code'), t('f', link('https://x.org/')))],
    delta: [
      { insert: 'a' },
      { insert: 'b', attributes: { bold: true } },
      { insert: 'c', attributes: { bold: true, italic: true } },
      { insert: 'd', attributes: { underline: true, strike: true } },
      { insert: 'e', attributes: { code: true } },
      { insert: 'f', attributes: { link: 'https://x.org/' } },
      { insert: '\n' },
    ],
  },
  {
    name: 'headings',
    content: [h(1, t('Title')), h(3, t('Sub')), p(t('x'))],
    delta: [{ insert: 'Title' }, { insert: '\n', attributes: { header: 1 } }, { insert: 'Sub' }, { insert: '\n', attributes: { header: 3 } }, { insert: 'x\n' }],
  },
  {
    name: 'hard breaks keep their marks',
    content: [p(t('a'), br(), t('b', 'bold'), br('bold'), t('c', 'bold'))],
    delta: [{ insert: 'a\u2028' }, { insert: 'b\u2028c', attributes: { bold: true } }, { insert: '\n' }],
  },
  {
    name: 'nested bullet and ordered lists',
    content: [ul(li(p(t('one')), ol(li(p(t('1.1'))), li(p(t('1.2')), ul(li(p(t('deep'))))))), li(p(t('two')))), p(t('after'))],
    delta: [
      { insert: 'one' },
      { insert: '\n', attributes: { list: 'bullet' } },
      { insert: '1.1' },
      { insert: '\n', attributes: { list: 'ordered', indent: 1 } },
      { insert: '1.2' },
      { insert: '\n', attributes: { list: 'ordered', indent: 1 } },
      { insert: 'deep' },
      { insert: '\n', attributes: { list: 'bullet', indent: 2 } },
      { insert: 'two' },
      { insert: '\n', attributes: { list: 'bullet' } },
      { insert: 'after\n' },
    ],
  },
  {
    name: 'a bullet list then an ordered list',
    content: [ul(li(p(t('a')))), ol(li(p(t('b'))))],
    delta: [{ insert: 'a' }, { insert: '\n', attributes: { list: 'bullet' } }, { insert: 'b' }, { insert: '\n', attributes: { list: 'ordered' } }],
  },
  {
    name: 'blockquote with a heading and a list',
    content: [quote(h(2, t('q')), p(t('r')), ul(li(p(t('s'))))), p()],
    delta: [
      { insert: 'q' },
      { insert: '\n', attributes: { blockquote: true, header: 2 } },
      { insert: 'r' },
      { insert: '\n', attributes: { blockquote: true } },
      { insert: 's' },
      { insert: '\n', attributes: { blockquote: true, list: 'bullet' } },
      { insert: '\n' },
    ],
  },
  {
    name: 'code blocks, one line per newline',
    content: [code('go', 'a := 1\n\nb'), code(null, 'x'), p()],
    delta: [
      { insert: 'a := 1' },
      { insert: '\n\n', attributes: { 'code-block': 'go' } },
      { insert: 'b' },
      { insert: '\n', attributes: { 'code-block': 'go' } },
      { insert: 'x' },
      { insert: '\n', attributes: { 'code-block': true } },
      { insert: '\n' },
    ],
  },
  {
    name: 'block images with alt and title',
    content: [img('/a.png'), p(t('x')), img('/b.png', 'B', 'bee')],
    delta: [{ insert: { image: '/a.png' } }, { insert: '\nx\n' }, { insert: { image: '/b.png' }, attributes: { alt: 'B', title: 'bee' } }, { insert: '\n' }],
  },
];

describe('docToDelta and deltaToDoc', () => {
  for (const c of roundTrips) {
    test(c.name, () => {
      const d = doc(tiptap, ...c.content);
      assert.deepEqual(docToDelta(d), c.delta);
      const back = deltaToDoc(tiptap, c.delta);
      assert.ok(back.eq(d), `got ${JSON.stringify(back.toJSON())}`);
    });
  }

  test('inline images carry marks', () => {
    const d = inlineImages.nodeFromJSON({
      type: 'doc',
      content: [p(t('a'), { type: 'image', attrs: { src: '/i.png', alt: 'I', title: null }, marks: [{ type: 'bold' }] }, t('b'))],
    });
    const delta = [{ insert: 'a' }, { insert: { image: '/i.png' }, attributes: { bold: true, alt: 'I' } }, { insert: 'b\n' }];
    assert.deepEqual(docToDelta(d), delta);
    assert.ok(deltaToDoc(inlineImages, delta).eq(d));
  });

  test('prosemirror-schema-basic names map to the same delta', () => {
    const d = basicLists.nodeFromJSON({
      type: 'doc',
      content: [
        { type: 'heading', attrs: { level: 2 }, content: [{ type: 'text', text: 'H' }] },
        { type: 'paragraph', content: [{ type: 'text', text: 'b', marks: [{ type: 'strong' }, { type: 'em' }] }, { type: 'hard_break' }] },
        { type: 'bullet_list', content: [{ type: 'list_item', content: [{ type: 'paragraph', content: [{ type: 'text', text: 'i' }] }] }] },
        { type: 'code_block', content: [{ type: 'text', text: 'c' }] },
      ],
    });
    const delta = [
      { insert: 'H' },
      { insert: '\n', attributes: { header: 2 } },
      { insert: 'b', attributes: { bold: true, italic: true } },
      { insert: '\u2028\ni' },
      { insert: '\n', attributes: { list: 'bullet' } },
      { insert: 'c' },
      { insert: '\n', attributes: { 'code-block': true } },
    ];
    assert.deepEqual(docToDelta(d), delta);
    assert.ok(deltaToDoc(basicLists, delta).eq(d));
  });

  test('an empty Text is one empty paragraph; a last line without its newline is a paragraph', () => {
    assert.ok(deltaToDoc(tiptap, []).eq(doc(tiptap, p())));
    assert.ok(deltaToDoc(tiptap, [{ insert: 'a\nb' }]).eq(doc(tiptap, p(t('a')), p(t('b')))));
  });

  test("a link a peer wrote is shown only for a relative address or http(s), mailto and tel", () => {
    const cases = [
      ['https://example.com/a', true],
      ['HTTP://example.com', true],
      ['mailto:ada@example.com', true],
      ['tel:+441234', true],
      ['/docs/page?x=1#top', true],
      ['page:2', false],
      ['javascript:alert(1)', false],
      [' JaVa\tScRiPt:alert(1)', false],
      ['java\nscript:alert(1)', false],
      ['data:text/html,<script>alert(1)</script>', false],
      ['vbscript:msgbox(1)', false],
      ['\u0001https://example.com', false],
      ['', false],
      [42, false],
    ];
    for (const [href, shown] of cases) {
      for (const schema of [tiptap, basic]) {
        const refused = [];
        const d = deltaToDoc(schema, [{ insert: 'here', attributes: { link: href } }, { insert: '\n' }], { onUnsupported: (e) => refused.push(e) });
        const marks = d.firstChild.firstChild.marks;
        assert.equal(marks.length, shown ? 1 : 0, `${JSON.stringify(href)} shown as a link`);
        if (shown) assert.equal(marks[0].attrs.href, href);
        assert.equal(refused.length, shown ? 0 : 1, `${JSON.stringify(href)} reported`);
        assert.equal(d.textContent, 'here', 'the text stays');
      }
    }
  });

  test('an indent that jumps levels nests one level', () => {
    const delta = [
      { insert: 'a' },
      { insert: '\n', attributes: { list: 'bullet' } },
      { insert: 'b' },
      { insert: '\n', attributes: { list: 'bullet', indent: 3 } },
    ];
    assert.ok(deltaToDoc(tiptap, delta).eq(doc(tiptap, ul(li(p(t('a')), ul(li(p(t('b')))))))));
  });
});

describe('what the mapping cannot carry is refused', () => {
  const refused = [
    { name: 'a horizontal rule', content: [p(t('a')), { type: 'horizontalRule' }], match: /horizontalRule is not in the Text's schema/ },
    { name: 'a blockquote in a list item', content: [ul(li(p(t('a')), quote(p(t('b')))))], match: /blockquote after the first paragraph/ },
    { name: 'a nested blockquote', content: [quote(quote(p(t('a'))))], match: /blockquote inside a blockquote/ },
    { name: 'a second paragraph in a list item', content: [ul(li(p(t('a')), p(t('b'))))], match: /paragraph after the first paragraph/ },
    { name: 'an ordered list starting at 3', content: [{ type: 'orderedList', attrs: { start: 3 }, content: [li(p(t('a')))] }], match: /attribute start=3/ },
    { name: 'an image with a width', content: [{ type: 'image', attrs: { src: '/a.png', width: 30 } }], match: /attribute width=30/ },
    { name: 'a newline inside a paragraph', content: [p(t('a\nb'))], match: /line break inside a text/ },
    { name: 'a link with a title', content: [p(t('a', { type: 'link', attrs: { href: '/x', title: 'T' } }))], match: /attribute title="T" of link/ },
  ];
  for (const c of refused) {
    test(c.name, () => {
      const d = doc(tiptap, ...c.content);
      assert.throws(() => docToDelta(d), (err) => err instanceof SchemaError && c.match.test(err.message));
    });
  }

  const unsupported = [
    { name: 'an unknown mark', delta: [{ insert: 'a', attributes: { comment: 'c1' } }, { insert: '\n' }], shown: [p(t('a'))], match: /mark comment/ },
    { name: 'an unknown block attribute', delta: [{ insert: 'a' }, { insert: '\n', attributes: { align: 'center' } }], shown: [p(t('a'))], match: /block attribute align/ },
    { name: 'an unknown embed keeps its place', delta: [{ insert: 'a' }, { insert: { mention: 'bob' } }, { insert: 'b\n' }], shown: [p(t('a\ufffcb'))], match: /embed/ },
    { name: 'a checked list', delta: [{ insert: 'a' }, { insert: '\n', attributes: { list: 'checked' } }], shown: [p(t('a'))], match: /list "checked"/ },
    { name: 'a header 7', delta: [{ insert: 'a' }, { insert: '\n', attributes: { header: 7 } }], shown: [p(t('a'))], match: /header 7/ },
  ];
  for (const c of unsupported) {
    test(`a delta with ${c.name}: thrown, or reported and shown without it`, () => {
      assert.throws(() => deltaToDoc(tiptap, c.delta), (err) => err instanceof SchemaError && c.match.test(err.message));
      const reports = [];
      const d = deltaToDoc(tiptap, c.delta, { onUnsupported: (err) => reports.push(err.message) });
      assert.ok(d.eq(doc(tiptap, ...c.shown)), JSON.stringify(d.toJSON()));
      assert.equal(reports.length, 1, reports.join('\n'));
      assert.match(reports[0], c.match);
    });
  }
});

describe('diffDocs: the smallest Text change', () => {
  const cases = [
    { name: 'no change', a: [p(t('ab'))], b: [p(t('ab'))], delta: null },
    { name: 'typing in the middle', a: [p(t('one')), p(t('two'))], b: [p(t('one')), p(t('twXo'))], delta: [{ retain: 6 }, { insert: 'X' }] },
    { name: 'typing a repeated letter', a: [p(t('aa'))], b: [p(t('aaa'))], delta: [{ retain: 2 }, { insert: 'a' }] },
    { name: 'typing a repeated letter, caret after the second', a: [p(t('aa'))], b: [p(t('aaa'))], cursor: 3, delta: [{ retain: 1 }, { insert: 'a' }] },
    { name: 'a space typed before a space, caret after it', a: [p(t('Hello world'))], b: [p(t('Hello  world'))], cursor: 7, delta: [{ retain: 5 }, { insert: ' ' }] },
    { name: 'Enter at the end of a heading: the new block after its newline', a: [h(1, t('ab'))], b: [h(1, t('ab')), p()], cursor: 5, delta: [{ retain: 3 }, { insert: '\n' }] },
    { name: 'a deletion of a repeated letter, caret at the start', a: [p(t('xaay'))], b: [p(t('xay'))], cursor: 2, delta: [{ retain: 1 }, { delete: 1 }] },
    { name: 'typing after bold text, not bold', a: [p(t('ab', 'bold'))], b: [p(t('ab', 'bold'), t('c'))], delta: [{ retain: 2 }, { insert: 'c' }] },
    { name: 'deleting', a: [p(t('abc')), p(t('d'))], b: [p(t('ac')), p(t('d'))], delta: [{ retain: 1 }, { delete: 1 }] },
    { name: 'joining two paragraphs', a: [p(t('ab')), p(t('cd'))], b: [p(t('abcd'))], delta: [{ retain: 2 }, { delete: 1 }] },
    { name: 'splitting a heading', a: [h(1, t('ab'))], b: [h(1, t('a')), p(t('b'))], delta: [{ retain: 1 }, { insert: '\n', attributes: { header: 1 } }, { retain: 1 }, { retain: 1, attributes: { header: null } }] },
    { name: 'bolding a word', a: [p(t('a bc d'))], b: [p(t('a '), t('bc', 'bold'), t(' d'))], delta: [{ retain: 2 }, { retain: 2, attributes: { bold: true } }] },
    { name: 'unbolding and linking', a: [p(t('ab', 'bold'))], b: [p(t('a', 'bold'), t('b', link('/x')))], delta: [{ retain: 1 }, { retain: 1, attributes: { bold: null, link: '/x' } }] },
    { name: 'paragraph to heading', a: [p(t('x')), p(t('ab'))], b: [p(t('x')), h(2, t('ab'))], delta: [{ retain: 4 }, { retain: 1, attributes: { header: 2 } }] },
    {
      name: 'wrapping two paragraphs in a list',
      a: [p(t('a')), p(t('b'))],
      b: [ul(li(p(t('a'))), li(p(t('b'))))],
      delta: [{ retain: 1 }, { retain: 1, attributes: { list: 'bullet' } }, { retain: 1 }, { retain: 1, attributes: { list: 'bullet' } }],
    },
    {
      name: 'sinking a list item',
      a: [ul(li(p(t('a'))), li(p(t('b'))))],
      b: [ul(li(p(t('a')), ul(li(p(t('b'))))))],
      delta: [{ retain: 3 }, { retain: 1, attributes: { indent: 1 } }],
    },
    { name: 'bullet to ordered', a: [ul(li(p(t('a'))))], b: [ol(li(p(t('a'))))], delta: [{ retain: 1 }, { retain: 1, attributes: { list: 'ordered' } }] },
    { name: 'a hard break', a: [p(t('ab'))], b: [p(t('a'), br(), t('b'))], delta: [{ retain: 1 }, { insert: '\u2028' }] },
    { name: 'an image between paragraphs', a: [p(t('a')), p(t('b'))], b: [p(t('a')), img('/i.png'), p(t('b'))], delta: [{ retain: 2 }, { insert: { image: '/i.png' } }, { insert: '\n' }] },
    { name: 'emoji replaced by emoji: the whole pair', a: [p(t('x\u{1F600}'))], b: [p(t('x\u{1F603}'))], delta: [{ retain: 1 }, { delete: 2 }, { insert: '\u{1F603}' }] },
    { name: 'code block language', a: [code('js', 'a\nb')], b: [code('go', 'a\nb')], delta: [{ retain: 1 }, { retain: 1, attributes: { 'code-block': 'go' } }, { retain: 1 }, { retain: 1, attributes: { 'code-block': 'go' } }] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(diffDocs(doc(tiptap, ...c.a), doc(tiptap, ...c.b), c.cursor), c.delta);
    });
  }

  test('a new document outside the mapping is refused', () => {
    assert.throws(() => diffDocs(doc(tiptap, p(t('a'))), doc(tiptap, p(t('a')), { type: 'horizontalRule' })), SchemaError);
  });
});

describe('diffDocs applied to a real Text', () => {
  /** textOf returns a Text holding the delta of a document. */
  const textOf = (d) => {
    const text = new Doc().getText('t');
    applyTextDelta(text, docToDelta(d));
    return text;
  };

  test('every diff case: the Text ends as the new document', () => {
    const pairs = [
      [[p(t('one')), p(t('two'))], [p(t('one')), p(t('twXo'))]],
      [[p(t('ab', 'bold'))], [p(t('ab', 'bold'), t('c'))]],
      [[p(t('ab', 'bold'))], [p(t('a', 'bold'), t('b', link('/x')))]],
      [[h(1, t('ab'))], [h(1, t('a')), p(t('b'))]],
      [[p(t('a')), p(t('b'))], [ul(li(p(t('a'))), li(p(t('b'))))]],
      [[ul(li(p(t('a'))), li(p(t('b'))))], [ul(li(p(t('a')), ul(li(p(t('b'))))))]],
      [[p(t('a')), p(t('b'))], [p(t('a')), img('/i.png', 'I'), p(t('b', 'italic'))]],
      [[p(t('x\u{1F600}'))], [p(t('x\u{1F603}'), br(), t('y', link('/l')))]],
      [[code('js', 'a\nb'), p()], [code('go', 'a\nbc\nd'), quote(p(t('q')))]],
    ];
    for (const [a, b] of pairs) {
      const da = doc(tiptap, ...a);
      const db = doc(tiptap, ...b);
      const text = textOf(da);
      assert.deepEqual(text.toDelta(), docToDelta(da));
      applyTextDelta(text, diffDocs(da, db));
      assert.deepEqual(text.toDelta(), docToDelta(db), JSON.stringify(b));
      assert.ok(deltaToDoc(tiptap, text.toDelta()).eq(db));
    }
  });

  test('applyTextDelta gives inserted text exactly its attributes, with and without a hint', () => {
    const cases = [
      { name: 'plain after bold', start: [{ insert: 'ab', attributes: { bold: true } }, { insert: '\n' }], delta: [{ retain: 2 }, { insert: 'c' }], hint: { before: { bold: true } } },
      { name: 'plain after bold, no hint', start: [{ insert: 'ab', attributes: { bold: true } }, { insert: '\n' }], delta: [{ retain: 2 }, { insert: 'c' }], hint: undefined },
      { name: 'italic after plain', start: [{ insert: 'ab\n' }], delta: [{ retain: 1 }, { insert: 'X', attributes: { italic: true } }], hint: { before: {} } },
      { name: 'plain after plain', start: [{ insert: 'ab\n' }], delta: [{ retain: 2 }, { insert: 'cd' }], hint: { before: {} } },
      { name: 'bold kept after bold', start: [{ insert: 'ab', attributes: { bold: true } }, { insert: '\n' }], delta: [{ retain: 2 }, { insert: 'c', attributes: { bold: true } }], hint: { before: { bold: true } } },
    ];
    const expect = (start, delta) => {
      // The delta applied to the start, by hand: positions in units.
      const chars = [];
      for (const op of start) for (const c of op.insert) chars.push({ c, a: op.attributes });
      let pos = 0;
      for (const op of delta) {
        if (op.retain) pos += op.retain;
        else if (op.insert) {
          for (const c of op.insert) chars.splice(pos++, 0, { c, a: op.attributes });
        }
      }
      const out = [];
      for (const ch of chars) {
        const last = out.at(-1);
        if (last && JSON.stringify(last.attributes) === JSON.stringify(ch.a)) last.insert += ch.c;
        else out.push(ch.a ? { insert: ch.c, attributes: ch.a } : { insert: ch.c });
      }
      return out;
    };
    for (const c of cases) {
      const text = new Doc().getText('t');
      applyTextDelta(text, c.start);
      applyTextDelta(text, c.delta, c.hint);
      assert.deepEqual(text.toDelta(), expect(c.start, c.delta), c.name);
    }
  });

  test('positions: textOffset and docPosition agree on every character', () => {
    const d = doc(tiptap, h(1, t('ab')), ul(li(p(t('c')), ol(li(p(t('de')))))), img('/i.png'), quote(p(t('f'))), code(null, 'g\nh'));
    const len = docLength(d);
    assert.equal(len, textOf(d).length);
    for (let off = 0; off < len; off++) {
      // The "\n" after a block image (offset 9) has no position of its
      // own: it resolves to the position after the image, which is the
      // start of the next block.
      const want = off === 9 ? 10 : off;
      assert.equal(textOffset(d, docPosition(d, off)), want, `offset ${off}`);
    }
  });
});

describe('deltaToDoc on random deltas', () => {
  /** rand is a small deterministic generator (mulberry32). */
  const rand = (seed) => () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = (r, xs) => xs[Math.floor(r() * xs.length)];
  const LINE = [{}, { header: 2 }, { header: 9 }, { list: 'bullet' }, { list: 'ordered', indent: 1 }, { list: 'bullet', indent: 4 }, { list: 'checked' },
    { blockquote: true }, { blockquote: true, list: 'ordered' }, { 'code-block': 'go' }, { 'code-block': true }, { align: 'right' }, { indent: 2 }];
  const MARKS = [undefined, { bold: true }, { italic: true, link: '/x' }, { comment: 'c' }, { code: true, strike: true }, { link: 5 }];
  const EMBEDS = [{ image: '/i.png' }, { mention: 'ann' }, { image: '/j.png', extra: 1 }];

  /** randomDelta returns a delta of inserts as a Text could hold it, and its length. */
  function randomDelta(r) {
    const ops = [];
    let len = 0;
    const n = Math.floor(r() * 30);
    for (let i = 0; i < n; i++) {
      const k = r();
      if (k < 0.45) {
        const s = pick(r, ['a', 'bc', 'd\u2028e', '\u{1F600}', 'xyz ', '\ufffc']);
        const a = pick(r, MARKS);
        ops.push(a ? { insert: s, attributes: a } : { insert: s });
        len += s.length;
      } else if (k < 0.55) {
        const a = r() < 0.5 ? { alt: 'A' } : pick(r, MARKS);
        ops.push(a ? { insert: pick(r, EMBEDS), attributes: a } : { insert: pick(r, EMBEDS) });
        len += 1;
      } else {
        const a = pick(r, LINE);
        ops.push(Object.keys(a).length ? { insert: '\n', attributes: a } : { insert: '\n' });
        len += 1;
      }
    }
    const last = ops.at(-1);
    const ends = last !== undefined && typeof last.insert === 'string' && last.insert.endsWith('\n');
    return { ops, len, ends };
  }

  // The positions as a walk of every block from the start finds them: what
  // textOffset and docPosition, which skip the blocks before the place by
  // their cached lengths, must return.
  const walkedOffset = (d, pos) => {
    let offset = 0;
    let found = -1;
    forEachUnit(d, (u) => {
      if (found >= 0) return;
      if (pos <= u.pos) found = offset;
      else if (pos < u.pos + u.size) found = u.role === 'image' ? offset + 1 : offset + Math.min(pos - u.pos - 1, u.node.content.size);
      else offset += u.length;
    });
    return found >= 0 ? found : offset;
  };
  const walkedPosition = (d, offset) => {
    let start = 0;
    let found = -1;
    let last = null;
    forEachUnit(d, (u) => {
      if (found >= 0) return;
      last = u;
      if (offset < start + u.length) found = u.role === 'image' ? (offset === start ? u.pos : u.pos + u.size) : u.pos + 1 + (offset - start);
      else start += u.length;
    });
    if (found >= 0) return found;
    return last.role === 'image' ? last.pos + last.size : last.pos + last.size - 1;
  };

  test('textOffset and docPosition give what a walk from the start gives, at every position', () => {
    const r = rand(11);
    for (let i = 0; i < 200; i++) {
      const d = deltaToDoc(tiptap, randomDelta(r).ops, { onUnsupported: () => {} });
      for (let pos = 0; pos <= d.content.size; pos++) assert.equal(textOffset(d, pos), walkedOffset(d, pos), `pos ${pos} of ${JSON.stringify(d.toJSON())}`);
      for (let off = 0; off <= docLength(d) + 1; off++) assert.equal(docPosition(d, off), walkedPosition(d, off), `offset ${off} of ${JSON.stringify(d.toJSON())}`);
    }
  });

  for (const schema of [['TipTap', tiptap], ['TipTap, inline images', inlineImages], ['prosemirror-schema-basic', basicLists]]) {
    test(`${schema[0]}: what is shown keeps every position, and shown again is the same`, () => {
      const r = rand(7);
      for (let i = 0; i < 400; i++) {
        const { ops, len, ends } = randomDelta(r);
        const d = deltaToDoc(schema[1], ops, { onUnsupported: () => {} });
        // An empty Text and a last line without its "\n" show one more "\n".
        assert.equal(docLength(d), ends ? len : len + 1, JSON.stringify(ops));
        const again = deltaToDoc(schema[1], docToDelta(d));
        assert.ok(again.eq(d), `${JSON.stringify(ops)}\n${JSON.stringify(d.toJSON())}\n${JSON.stringify(again.toJSON())}`);
      }
    });
  }
});
