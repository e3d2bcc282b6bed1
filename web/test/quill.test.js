// The Quill binding's format mapping, without Quill: which Quill changes
// the Text carries, how a Text's delta shows in Quill, and how a Quill
// change is made in a real Text (checked against quill-delta's compose,
// Quill's own model of applying a change).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Delta from 'quill-delta';
import { Doc } from '../src/index.js';
import { FormatError, OBJECT_REPLACEMENT, QUILL_FORMATS, applyToText, checkQuillDelta, safeColor, safeName, toQuillChange, toQuillDelta } from '../src/quill.js';

/** Quill changes the Text carries. */
const carriedTests = [
  { name: 'typing', ops: [{ retain: 3 }, { insert: 'abc' }] },
  { name: 'inline marks', ops: [{ retain: 1, attributes: { bold: true, italic: true, underline: true, strike: true, code: true } }] },
  { name: 'a link', ops: [{ insert: 'x', attributes: { link: 'https://a.example/' } }] },
  { name: 'removing marks', ops: [{ retain: 4, attributes: { bold: null, link: null, header: null } }] },
  { name: 'a heading', ops: [{ retain: 5 }, { retain: 1, attributes: { header: 3 } }] },
  { name: 'lists and indent', ops: [{ insert: '\n', attributes: { list: 'ordered', indent: 2 } }, { insert: '\n', attributes: { list: 'bullet' } }] },
  { name: 'blockquote and code blocks', ops: [{ retain: 1, attributes: { blockquote: true } }, { retain: 1, attributes: { 'code-block': 'js' } }, { retain: 1, attributes: { 'code-block': true } }] },
  { name: 'an image with alt and a link', ops: [{ insert: { image: 'a.png' }, attributes: { alt: 'A', link: 'https://a.example/' } }] },
  { name: 'a delete', ops: [{ retain: 2 }, { delete: 3 }] },
];

/** Quill changes the Text does not carry, with what the error names. */
const refusedTests = [
  { name: 'a colour', ops: [{ retain: 2, attributes: { color: '#f00' } }], what: 'color' },
  { name: 'a font', ops: [{ insert: 'x', attributes: { bold: true, font: 'serif' } }], what: 'font' },
  { name: 'a checklist', ops: [{ retain: 1, attributes: { list: 'checked' } }], what: 'list="checked"' },
  { name: 'a heading 7', ops: [{ retain: 1, attributes: { header: 7 } }], what: 'header=7' },
  { name: 'bold as a string', ops: [{ retain: 1, attributes: { bold: 'yes' } }], what: 'bold="yes"' },
  { name: 'an empty link', ops: [{ retain: 1, attributes: { link: '' } }], what: 'link=""' },
  { name: 'alignment', ops: [{ retain: 1, attributes: { align: 'center' } }], what: 'align' },
  { name: 'a video', ops: [{ insert: { video: 'v.mp4' } }], what: 'embed video' },
  { name: 'a formula', ops: [{ insert: { formula: 'e=mc^2' } }], what: 'embed formula' },
  { name: 'an image with a width', ops: [{ insert: { image: 'a.png' }, attributes: { width: '20' } }], what: 'width' },
  { name: 'alt on text', ops: [{ insert: 'x', attributes: { alt: 'A' } }], what: 'alt' },
  { name: 'an embed change in place', ops: [{ retain: { image: 'b.png' } }], what: 'retain embed' },
];

describe('checkQuillDelta', () => {
  for (const tt of carriedTests) {
    test(`carries ${tt.name}`, () => checkQuillDelta(tt.ops));
  }
  for (const tt of refusedTests) {
    test(`refuses ${tt.name}`, () => {
      assert.throws(() => checkQuillDelta(tt.ops), (err) => err instanceof FormatError && err.what === tt.what && err.message.startsWith('quill: '));
    });
  }
  test('QUILL_FORMATS names every format it carries and no attribute', () => {
    assert.deepEqual([...QUILL_FORMATS].sort(), ['blockquote', 'bold', 'code', 'code-block', 'header', 'image', 'indent', 'italic', 'link', 'list', 'strike', 'underline']);
  });
});

/** Text deltas and the Quill document each shows as, with what is reported. */
const shownTests = [
  { name: 'an empty text', delta: [], quill: [{ insert: '\n' }] },
  { name: 'a text without a last newline', delta: [{ insert: 'ab' }], quill: [{ insert: 'ab\n' }] },
  { name: 'a text with one', delta: [{ insert: 'ab\n' }], quill: [{ insert: 'ab\n' }] },
  {
    name: 'block formats only on newlines, inline ones elsewhere',
    delta: [{ insert: 'ab\ncd\n', attributes: { bold: true, header: 1 } }],
    quill: [
      { insert: 'ab', attributes: { bold: true } },
      { insert: '\n', attributes: { header: 1 } },
      { insert: 'cd', attributes: { bold: true } },
      { insert: '\n', attributes: { header: 1 } },
    ],
  },
  {
    name: "a code block without a language as Quill's plain one",
    delta: [{ insert: 'x' }, { insert: '\n', attributes: { 'code-block': true } }, { insert: 'y' }, { insert: '\n', attributes: { 'code-block': 'js' } }],
    quill: [{ insert: 'x' }, { insert: '\n', attributes: { 'code-block': 'plain' } }, { insert: 'y' }, { insert: '\n', attributes: { 'code-block': 'js' } }],
  },
  {
    name: 'an image',
    delta: [{ insert: 'a' }, { insert: { image: 'x.png' }, attributes: { alt: 'X' } }, { insert: '\n' }],
    quill: [{ insert: 'a' }, { insert: { image: 'x.png' }, attributes: { alt: 'X' } }, { insert: '\n' }],
  },
  {
    name: 'an unknown embed as U+FFFC, keeping its place',
    delta: [{ insert: 'a' }, { insert: { mention: 'bob' }, attributes: { bold: true } }, { insert: 'b\n' }],
    quill: [{ insert: 'a' }, { insert: OBJECT_REPLACEMENT, attributes: { bold: true } }, { insert: 'b\n' }],
    reported: ['embed mention'],
  },
  {
    name: 'an unknown key left out',
    delta: [{ insert: 'ab', attributes: { comment: 'c1', italic: true } }, { insert: 'c' }, { insert: '\n', attributes: { align: 'right' } }],
    quill: [{ insert: 'ab', attributes: { italic: true } }, { insert: 'c\n' }],
    reported: ['comment', 'align'],
  },
  {
    name: 'a bad value left out',
    delta: [{ insert: 'a\n', attributes: { header: 9 } }],
    quill: [{ insert: 'a\n' }],
    reported: ['header=9'],
  },
];

describe('toQuillDelta', () => {
  for (const tt of shownTests) {
    test(tt.name, () => {
      const reported = [];
      assert.deepEqual(toQuillDelta(tt.delta, (e) => reported.push(e.what)), tt.quill);
      assert.deepEqual(reported, tt.reported ?? []);
    });
  }
});

/**
 * Quill changes made in a Text: each starts from a Text holding base
 * (made with insert, format and setBlock) and applies ops; the Text must
 * then show in Quill as quill-delta's compose of the two.
 */
const applyTests = [
  { name: 'typing at the end of a bold word stays plain when Quill says so', base: (t) => (t.insert(0, 'ab\n'), t.format(0, 2, 'bold', true)), ops: [{ retain: 2 }, { insert: 'c' }] },
  { name: 'typing at the end of a bold word is bold when Quill says so', base: (t) => (t.insert(0, 'ab\n'), t.format(0, 2, 'bold', true)), ops: [{ retain: 2 }, { insert: 'c', attributes: { bold: true } }] },
  { name: 'typing inside a link, unlinked', base: (t) => (t.insert(0, 'abcd\n'), t.format(0, 4, 'link', 'u')), ops: [{ retain: 2 }, { insert: 'X' }] },
  { name: 'a heading by formatLine', base: (t) => t.insert(0, 'Title\nbody\n'), ops: [{ retain: 5 }, { retain: 1, attributes: { header: 1 } }] },
  { name: 'a list over two lines', base: (t) => t.insert(0, 'a\nb\n'), ops: [{ retain: 1 }, { retain: 1, attributes: { list: 'bullet' } }, { retain: 1 }, { retain: 1, attributes: { list: 'bullet' } }] },
  { name: 'Enter in a heading', base: (t) => (t.insert(0, 'Title\n'), t.setBlock(0, 'header', 2)), ops: [{ retain: 2 }, { insert: '\n', attributes: { header: 2 } }] },
  { name: 'Enter at the end of a list item', base: (t) => (t.insert(0, 'a\n'), t.setBlock(0, 'list', 'ordered')), ops: [{ retain: 1 }, { insert: '\n', attributes: { list: 'ordered' } }] },
  { name: 'bold over two lines', base: (t) => t.insert(0, 'ab\ncd\n'), ops: [{ retain: 5, attributes: { bold: true } }] },
  { name: 'unbold part of a word', base: (t) => (t.insert(0, 'abcd\n'), t.format(0, 4, 'bold', true)), ops: [{ retain: 1 }, { retain: 2, attributes: { bold: null } }] },
  { name: 'an image with alt, then text', base: (t) => t.insert(0, 'ab\n'), ops: [{ retain: 1 }, { insert: { image: 'x.png' }, attributes: { alt: 'X' } }, { insert: 'c', attributes: { italic: true } }] },
  { name: 'a paste replacing a selection', base: (t) => (t.insert(0, 'hello world\n'), t.format(6, 5, 'bold', true)), ops: [{ retain: 4 }, { insert: 'p ', attributes: { code: true } }, { delete: 4 }, { insert: 'x\ny' }, { insert: '\n', attributes: { blockquote: true } }] },
  { name: 'removing a heading', base: (t) => (t.insert(0, 'T\n'), t.setBlock(0, 'header', 1)), ops: [{ retain: 1 }, { retain: 1, attributes: { header: null } }] },
];

const BLOCK_KEYS = ['header', 'list', 'indent', 'blockquote', 'code-block'];

/** blockKeysOnNewlines checks that a Text's delta has block formats on newlines only, as Quill and applyDelta put them. */
function blockKeysOnNewlines(delta, why) {
  for (const op of delta) {
    if (!BLOCK_KEYS.some((k) => op.attributes?.[k] !== undefined)) continue;
    assert.ok(typeof op.insert === 'string' && /^\n+$/.test(op.insert), `${why}: block format on ${JSON.stringify(op)}`);
  }
}

describe('applyToText', () => {
  for (const tt of applyTests) {
    test(tt.name, () => {
      const doc = new Doc();
      const text = doc.getText('content');
      tt.base(text);
      // Quill's editor keeps inline formats off the "\n"s, which compose does not know.
      const want = toQuillDelta(new Delta(toQuillDelta(text.toDelta())).compose(new Delta(tt.ops)).ops);
      doc.transact(() => applyToText(text, tt.ops));
      assert.deepEqual(toQuillDelta(text.toDelta()), want);
      blockKeysOnNewlines(text.toDelta(), tt.name);
    });
  }

  test("Quill's plain code block is a code block without a language in the Text", () => {
    const doc = new Doc();
    const text = doc.getText('content');
    text.insert(0, 'x\ny\n');
    doc.transact(() => applyToText(text, [{ retain: 1 }, { retain: 1, attributes: { 'code-block': 'plain' } }, { insert: 'z' }, { insert: '\n', attributes: { 'code-block': 'plain' } }]));
    assert.deepEqual(text.toDelta(), [
      { insert: 'x' },
      { insert: '\n', attributes: { 'code-block': true } },
      { insert: 'z' },
      { insert: '\n', attributes: { 'code-block': true } },
      { insert: 'y\n' },
    ]);
  });

  test('random Quill changes from two replicas converge to what each editor shows', () => {
    let seed = Number(process.env.QUILL_SEED ?? Date.now() % 1e9);
    const rand = (n) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const start = seed;
    const keys = [
      ['bold', true],
      ['italic', true],
      ['link', 'https://x.example/'],
      ['bold', null],
      ['header', 2],
      ['list', 'bullet'],
      ['list', null],
    ];
    const docs = [new Doc(), new Doc()];
    for (let round = 0; round < 30; round++) {
      const updates = [];
      for (const doc of docs) {
        const text = doc.getText('content');
        const shown = new Delta(toQuillDelta(text.toDelta()));
        const len = shown.length() - 1;
        const ops = new Delta();
        const at = rand(len + 1);
        if (at > 0) ops.retain(at);
        const kind = rand(3);
        if (kind === 0 || len === 0) {
          const [k, v] = keys[rand(keys.length)];
          const s = ['a', 'bc', '\n', 'd\ne'][rand(4)];
          ops.insert(s, v !== null && k !== 'header' && k !== 'list' ? { [k]: v } : undefined);
        } else if (kind === 1) {
          ops.delete(Math.min(1 + rand(3), len - at) || 0);
        } else {
          const [k, v] = keys[rand(keys.length)];
          ops.retain(Math.max(1, Math.min(1 + rand(5), len - at)), { [k]: v });
        }
        const want = toQuillDelta(shown.compose(ops).ops);
        const u = doc.transact(() => {
          if (text.length === len) text.insert(len, '\n'); // the editor's last line, as the binding does
          applyToText(text, ops.ops);
        });
        assert.deepEqual(toQuillDelta(text.toDelta()), want, `seed ${start}, round ${round}: ${JSON.stringify(ops.ops)}`);
        blockKeysOnNewlines(text.toDelta(), `seed ${start}, round ${round}`);
        if (u) updates.push(u);
      }
      for (const u of updates) for (const doc of docs) doc.apply(u);
      assert.deepEqual(docs[0].getText('content').toDelta(), docs[1].getText('content').toDelta(), `seed ${start}, round ${round}`);
    }
  });
});

/** Text event deltas and the Quill document each makes of a Text, as Quill's compose applies it. */
const changeTests = [
  {
    name: 'typing inside a bold word',
    before: [{ insert: 'ab', attributes: { bold: true } }, { insert: '\n' }],
    ev: [{ retain: 1 }, { insert: 'x', attributes: { bold: true } }],
    after: [{ insert: 'axb', attributes: { bold: true } }, { insert: '\n' }],
  },
  {
    name: 'a heading set',
    before: [{ insert: 'T\nb\n' }],
    ev: [{ retain: 1 }, { retain: 1, attributes: { header: 1 } }],
    after: [{ insert: 'T' }, { insert: '\n', attributes: { header: 1 } }, { insert: 'b\n' }],
  },
  {
    name: 'Enter in a list item, the new newline listed',
    before: [{ insert: 'ab' }, { insert: '\n', attributes: { list: 'bullet' } }],
    ev: [{ retain: 1 }, { insert: '\n', attributes: { list: 'bullet' } }],
    after: [{ insert: 'a' }, { insert: '\n', attributes: { list: 'bullet' } }, { insert: 'b' }, { insert: '\n', attributes: { list: 'bullet' } }],
  },
  {
    name: 'bold over two lines, the newline left to Quill',
    before: [{ insert: 'ab\ncd\n' }],
    ev: [{ retain: 5, attributes: { bold: true } }],
    after: [{ insert: 'ab', attributes: { bold: true } }, { insert: '\n' }, { insert: 'cd', attributes: { bold: true } }, { insert: '\n' }],
  },
  {
    name: 'an unknown key and embed, with a delete',
    before: [{ insert: 'abc\n' }],
    ev: [{ delete: 1 }, { retain: 1, attributes: { comment: 'c', italic: true } }, { insert: { mention: 'x' } }],
    after: [{ insert: 'b', attributes: { italic: true } }, { insert: OBJECT_REPLACEMENT + 'c\n' }],
    reported: ['comment', 'embed mention'],
  },
  {
    name: 'a code block made, shown as plain',
    before: [{ insert: 'a\n' }],
    ev: [{ retain: 1 }, { retain: 1, attributes: { 'code-block': true } }],
    after: [{ insert: 'a' }, { insert: '\n', attributes: { 'code-block': 'plain' } }],
  },
  {
    name: 'a link removed',
    before: [{ insert: 'ab', attributes: { link: 'u' } }, { insert: '\n' }],
    ev: [{ retain: 2, attributes: { link: null } }],
    after: [{ insert: 'ab\n' }],
  },
];

describe('toQuillChange', () => {
  for (const tt of changeTests) {
    test(tt.name, () => {
      const reported = [];
      const got = new Delta(toQuillDelta(tt.before)).compose(new Delta(toQuillChange(tt.ev, (e) => reported.push(e.what))));
      assert.deepEqual(toQuillDelta(got.ops), tt.after);
      assert.deepEqual(reported, tt.reported ?? []);
    });
  }

  test("random edits: each remote event's change makes the editor show the Text", () => {
    let seed = Number(process.env.QUILL_SEED ?? Date.now() % 1e9);
    const start = seed;
    const rand = (n) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const a = new Doc();
    const b = new Doc();
    const ta = a.getText('content');
    const tb = b.getText('content');
    let shown = new Delta(toQuillDelta(tb.toDelta()));
    tb.observe((ev) => {
      const want = toQuillDelta(tb.toDelta());
      shown = new Delta(toQuillDelta(shown.compose(new Delta(toQuillChange(ev.delta))).ops));
      assert.deepEqual(shown.ops, want, `seed ${start}: ${JSON.stringify(ev.delta)}`);
    });
    const keys = [['bold', true], ['italic', true], ['link', 'u'], ['bold', null], ['comment', 'c']];
    for (let i = 0; i < 300; i++) {
      const len = ta.length;
      const at = rand(len + 1);
      const k = rand(6);
      let u;
      if (k === 0 || len === 0) u = ta.insert(at, ['a', 'bc', '\n', 'd\ne'][rand(4)]);
      else if (k === 1 && at < len) u = ta.delete(at, Math.min(1 + rand(3), len - at));
      else if (k === 2 && at < len) u = ta.format(at, Math.min(1 + rand(6), len - at), ...keys[rand(keys.length)]);
      else if (k === 3 && ta.toString().indexOf('\n', at) >= 0) u = ta.setBlock(at, ['header', 'list'][rand(2)], [1, 'bullet', null][rand(3)]);
      else if (k === 4) u = ta.insertEmbed(at, rand(2) ? { image: 'x.png' } : { mention: 'm' });
      if (u) b.apply(u);
    }
  });
});

describe('remote cursors', () => {
  test('safeColor lets only hex colours through', () => {
    assert.equal(safeColor('#abc', 1), '#aabbcc'); // six digits, so that the tint's alpha byte can follow
    assert.equal(safeColor('#A0B1C2', 1), '#A0B1C2');
    assert.match(safeColor('red;background:url(x)', 3), /^#[0-9a-f]{6}$/);
    assert.equal(safeColor(undefined, 3), safeColor(null, 3));
  });
  test('safeName trims long names and names the nameless', () => {
    assert.equal(safeName('  Ada ', 1), 'Ada');
    assert.equal(safeName('x'.repeat(100), 1).length, 40);
    assert.equal(safeName('', 123456), 'Guest 3456');
    assert.equal(safeName({ toString: () => '<b>' }, 77), 'Guest 77');
  });
});
