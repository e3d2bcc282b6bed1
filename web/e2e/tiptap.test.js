// End-to-end tests of the TipTap extension (src/tiptap.js, served in
// /flowstate-tiptap.js, with Text.applyDelta from /flowstate-richdelta.js;
// e2e/prosemirror.test.js runs the binding without it) in real Chromium against the real server, with real
// keyboard input: two pages type, bold, make a list and a link at the same
// time and end with the same ProseMirror JSON; a page opened later shows
// all of it; undo on one page takes back only that page's change; each
// page draws the other's caret with its name.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer } from '../test/server.js';
import { Tab, WAIT, launch, skipReason, uniqueRoom } from './harness.js';

/** The page, written over a response of the server as in undo.test.js. */
const PAGE = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>tiptap</title>
<link rel="icon" href="data:,">
<style>.ProseMirror { min-height: 200px; border: 1px solid #ccc; padding: 8px; outline: none; }</style>
<p id="status" data-status=""></p>
<div id="editor"></div>
</html>`;

/**
 * A TipTapTab is a page with a TipTap editor bound to the Text "body" of a
 * room; window.flowstate = {doc, text, provider, editor, errors, undoManager}.
 */
class TipTapTab extends Tab {
  static async open(browser, httpURL, room, name) {
    const context = await browser.newContext({ viewport: { width: 800, height: 500 } });
    const page = await context.newPage();
    const tab = new TipTapTab(context, page);
    await page.goto(`${httpURL}/flowstate.js`);
    await page.setContent(PAGE);
    await page.evaluate(
      async ({ room, name }) => {
        const { Doc, Provider, UndoManager } = await import('/flowstate.js');
        await import('/flowstate-richdelta.js'); // Text.applyDelta: the binding's local edits go through it
        const { Editor, StarterKit, Image, FlowStateCollaboration } = await import('/flowstate-tiptap.js');
        const doc = new Doc();
        const text = doc.getText('body');
        const badge = document.querySelector('#status');
        const provider = new Provider(doc, { url: Provider.roomURL(location.href, room) });
        provider.presence.setLocal({ name, color: name === 'Alice' ? '#e11d48' : '#2563eb' });
        badge.dataset.status = provider.status;
        provider.on('status', (s) => (badge.dataset.status = s));
        const errors = [];
        // Undo steps end where the test says (stopCapturing), not after a
        // pause that a loaded machine may make anywhere.
        const undoManager = new UndoManager(text, { captureTimeout: 600_000 });
        let created;
        const ready = new Promise((resolve) => (created = resolve));
        const editor = new Editor({
          element: document.querySelector('#editor'),
          onCreate: () => created(),
          extensions: [
            StarterKit.configure({ undoRedo: false, trailingNode: false }),
            Image,
            FlowStateCollaboration.configure({ text, provider, undoManager, onError: (err) => errors.push(err.message) }),
          ],
        });
        window.flowstate = { doc, text, provider, editor, errors, undoManager };
        await ready; // the view is made once the editor is created
      },
      { room, name },
    );
    await tab.waitStatus('synced');
    return tab;
  }

  /** json returns the editor's document as ProseMirror JSON. */
  json() {
    return this.page.evaluate(() => window.flowstate.editor.getJSON());
  }

  text() {
    return this.page.evaluate(() => window.flowstate.editor.state.doc.textBetween(0, window.flowstate.editor.state.doc.content.size, '\n'));
  }

  /** bindingErrors returns what the binding reported. */
  bindingErrors() {
    return this.page.evaluate(() => window.flowstate.errors);
  }

  /**
   * caret focuses the editor with the caret at the end, the start or a
   * document position.
   * @param {'start' | 'end' | number} where
   */
  async caret(where = 'end') {
    await this.page.evaluate((where) => window.flowstate.editor.commands.focus(where), where);
    await settled(this.page);
  }
}

/**
 * settled waits two animation frames in page: TipTap's focus command
 * focuses the editor in an animation frame, and a key pressed before it
 * would go to whatever had the focus.
 * @param {import('playwright-core').Page} page
 */
function settled(page) {
  return page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
}

/**
 * sameJSON waits until every tab's editor holds the same document and it
 * satisfies check, and returns it.
 * @param {TipTapTab[]} tabs
 * @param {(json: any) => boolean} check
 * @param {string} what
 */
async function sameJSON(tabs, check, what) {
  const deadline = Date.now() + WAIT;
  let docs = [];
  for (;;) {
    docs = await Promise.all(tabs.map((t) => t.json()));
    const s = docs.map((d) => JSON.stringify(d));
    if (s.every((x) => x === s[0]) && check(docs[0])) return docs[0];
    if (Date.now() > deadline) throw new Error(`the tabs did not converge on ${what}:\n${s.map((x, i) => `tab ${i}: ${x}`).join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** nodes returns every node of a ProseMirror JSON document, depth first. */
function nodes(json) {
  const out = [];
  const walk = (n) => {
    out.push(n);
    for (const c of n.content ?? []) walk(c);
  };
  walk(json);
  return out;
}

/** plain returns the text of a ProseMirror JSON document, blocks joined by "|". */
function plain(json) {
  if (json.type === 'text') return json.text;
  const inner = (json.content ?? []).map(plain);
  return json.content?.some((c) => c.type === 'text') || json.type === 'paragraph' ? inner.join('') : inner.join('|');
}

/** hasMark reports whether some text node has a mark of type with text containing s. */
function hasMark(json, type, s) {
  return nodes(json).some((n) => n.type === 'text' && n.text.includes(s) && (n.marks ?? []).some((m) => m.type === type));
}

describe('TipTap in the browser', { skip: skipReason }, () => {
  /** @type {import('playwright-core').Browser} */
  let browser;
  let server;

  before(async () => {
    browser = await launch();
    server = await startServer();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** open opens a tab that must end without page errors or binding reports. */
  async function open(t, room, name) {
    const tab = await TipTapTab.open(browser, server.httpURL, room, name);
    t.after(async () => {
      const reported = await tab.bindingErrors().catch(() => []);
      await tab.close();
      // The page is written over /flowstate.js, whose favicon request fails.
      assert.deepEqual(tab.errors.filter((e) => !/Failed to load resource.*404/.test(e)), [], 'the page logged errors');
      assert.deepEqual(reported, [], 'the binding reported errors');
    });
    return tab;
  }

  test('two pages type, bold, make a list and a link concurrently and converge; a late page shows it all', async (t) => {
    const room = uniqueRoom('tiptap');
    const a = await open(t, room, 'Alice');
    const b = await open(t, room, 'Bob');

    await a.caret();
    await a.page.keyboard.type('Hello world', { delay: 5 });
    await sameJSON([a, b], (j) => JSON.stringify(j).includes('Hello world'), "A's first line");

    // At the same time: A bolds "Hello" and types a new paragraph with a
    // link; B makes a bullet list with two items at the end.
    await b.caret();
    await Promise.all([
      (async () => {
        await a.page.evaluate(() => window.flowstate.editor.chain().focus().setTextSelection({ from: 1, to: 6 }).run());
        await settled(a.page);
        await a.page.keyboard.press('Control+b');
        await a.page.keyboard.press('End');
        await a.page.keyboard.type(' from A', { delay: 5 });
        await a.page.evaluate(() => {
          const { editor } = window.flowstate;
          const end = editor.state.doc.firstChild.nodeSize - 1;
          editor.chain().setTextSelection({ from: end - 4, to: end }).setLink({ href: 'https://a.example/' }).run();
        });
      })(),
      (async () => {
        await b.page.keyboard.press('Enter');
        await b.page.keyboard.type('- first item', { delay: 5 });
        await b.page.keyboard.press('Enter');
        await b.page.keyboard.type('second ', { delay: 5 });
        await b.page.keyboard.press('Control+i');
        await b.page.keyboard.type('item', { delay: 5 });
      })(),
    ]);

    const json = await sameJSON(
      [a, b],
      (j) => plain(j).includes('second item') && plain(j).includes('from A') && hasMark(j, 'link', 'm A') && hasMark(j, 'italic', 'item'),
      'both pages\' edits',
    );
    assert.equal(plain(json), 'Hello world from A|first item|second item');
    assert.ok(hasMark(json, 'bold', 'Hello'), `"Hello" is bold: ${JSON.stringify(json)}`);
    assert.ok(!hasMark(json, 'bold', 'world'), '" world" is not bold');
    const list = nodes(json).find((n) => n.type === 'bulletList');
    assert.ok(list, `a bullet list: ${JSON.stringify(json)}`);
    assert.equal(list.content.length, 2, 'two list items');
    const link = nodes(json).find((n) => n.type === 'text' && (n.marks ?? []).some((m) => m.type === 'link'));
    assert.equal(link.marks.find((m) => m.type === 'link').attrs.href, 'https://a.example/');
    assert.equal(link.text, 'om A');

    // Each page draws the other's caret with its name.
    await a.until(() => [...document.querySelectorAll('.fs-pm-caret-label')].some((l) => l.textContent === 'Bob'), undefined, "Bob's caret on A");
    await b.until(() => [...document.querySelectorAll('.fs-pm-caret-label')].some((l) => l.textContent === 'Alice'), undefined, "Alice's caret on B");
    await a.screenshot('tiptap-a');

    const c = await open(t, room, 'Carol');
    const late = await sameJSON([a, b, c], () => true, 'the late page');
    assert.deepEqual(late, json);
  });

  test('remote rich changes of a peer, between typing, always show exactly the document of the whole Text', async (t) => {
    const room = uniqueRoom('tiptap-remote');
    const a = await open(t, room, 'Alice');
    await a.caret();
    const r = await a.page.evaluate(async () => {
      const { Doc } = await import('/flowstate.js');
      const { deltaToDoc } = await import('/flowstate-tiptap.js');
      const { doc, text, editor } = window.flowstate;
      // A peer whose updates reach the page's Doc directly, as a remote
      // client's would through the provider.
      const peer = new Doc();
      peer.apply(doc.diff(peer.stateVector()));
      const pt = peer.getText('body');
      peer.onLocalUpdate((u) => doc.apply(u));
      doc.onLocalUpdate((u) => peer.apply(u));
      let seed = 12345;
      const rnd = (n) => (seed = (seed * 48271) % 2147483647) % n;
      const pick = (xs) => xs[rnd(xs.length)];
      const strings = ['a', 'bc', 'hello ', '\n', 'x\ny', '\u2028', 'q'];
      const inline = [['bold', true], ['bold', null], ['italic', true], ['code', true], ['strike', null], ['link', '/a'], ['link', null]];
      const block = [['header', 1], ['header', null], ['list', 'bullet'], ['list', 'ordered'], ['list', null], ['indent', 1], ['indent', null],
        ['code-block', 'js'], ['code-block', null], ['blockquote', true], ['blockquote', null]];
      pt.insert(0, 'one\ntwo\nthree\n');
      let checks = 0;
      const mismatches = [];
      for (let step = 0; step < 250; step++) {
        if (rnd(4) === 0) {
          // Typing or bold in the editor.
          const size = editor.state.doc.content.size;
          const pos = 1 + rnd(Math.max(1, size - 1));
          if (rnd(2) === 0) editor.chain().setTextSelection(pos).insertContent('k').run();
          else editor.chain().setTextSelection({ from: Math.max(1, pos - 3), to: pos }).toggleBold().run();
          continue;
        }
        peer.transact(() => {
          const len = pt.length;
          const pos = rnd(len + 1);
          const k = rnd(100);
          if (k < 35 || len === 0) pt.insert(pos, pick(strings));
          else if (k < 50) pt.delete(Math.min(pos, len - 1), Math.min(1 + rnd(6), len - Math.min(pos, len - 1)));
          else if (k < 75) {
            const [key, value] = pick(inline);
            pt.format(Math.min(pos, len - 1), Math.min(1 + rnd(12), len - Math.min(pos, len - 1)), key, value);
          } else if (k < 80) pt.insertEmbed(pos, { image: '/i.png' });
          else if (pt.toString().includes('\n', pos)) {
            const [key, value] = pick(block);
            pt.setBlock(pos, key, value);
          }
        });
        checks++;
        const want = deltaToDoc(editor.schema, text.toDelta(), { onUnsupported: () => {} });
        if (!editor.state.doc.eq(want)) mismatches.push({ step, got: editor.getJSON(), want: want.toJSON() });
      }
      // Random formats reach newlines, random blocks mix and typing may
      // land where the Text cannot carry it: what the editor cannot show
      // and what it refuses are reported, taken out so that the page ends
      // without reports.
      const reported = window.flowstate.errors.splice(0);
      return { checks, mismatches: mismatches.slice(0, 2), json: editor.getJSON(), reported };
    });
    assert.ok(r.checks > 150, `only ${r.checks} remote changes`);
    assert.deepEqual(r.mismatches, [], 'the editor showed something else than the Text');
    assert.ok(nodes(r.json).some((n) => n.type === 'bulletList' || n.type === 'orderedList' || n.type === 'codeBlock'), JSON.stringify(r.json));
    for (const e of r.reported) assert.match(e, /^prosemirror: /);
  });

  test("typing where another page's caret stands, in an empty block, is kept", async (t) => {
    const room = uniqueRoom('tiptap-caret');
    const a = await open(t, room, 'Alice');
    const b = await open(t, room, 'Bob');
    await a.caret();
    await a.page.keyboard.type('Title', { delay: 5 });
    await a.page.keyboard.press('Enter');
    for (const block of ['paragraph', 'codeBlock']) {
      if (block === 'codeBlock') {
        await a.page.evaluate(() => window.flowstate.editor.chain().focus('end').toggleCodeBlock().run());
      }
      await sameJSON([a, b], (json) => json.content.at(-1).type === block && !json.content.at(-1).content, `an empty ${block} at the end`);
      await b.caret('end');
      await a.caret('end');
      // Bob's caret is drawn on the empty block, with his name as its title.
      await a.until(() => document.querySelector('.ProseMirror > :last-child.fs-pm-caret-block')?.title === 'Bob', undefined, "Bob's caret on the empty block on A");
      await a.screenshot(`tiptap-caret-empty-${block}`);
      const typed = block === 'codeBlock' ? 'let x = 1;' : 'words';
      await a.page.keyboard.type(typed, { delay: 5 });
      const json = await sameJSON([a, b], (json) => plain(json).includes(typed), `"${typed}" typed beside Bob's caret`);
      assert.equal(json.content.at(-1).type, block);
      if (block === 'paragraph') await a.page.keyboard.press('Enter');
    }
  });

  test('a change the Text cannot carry is refused and reported, and the other page sees nothing of it', async (t) => {
    const room = uniqueRoom('tiptap-refuse');
    const a = await open(t, room, 'Alice');
    const b = await open(t, room, 'Bob');
    await a.caret();
    await a.page.keyboard.type('kept', { delay: 5 });
    const before = await sameJSON([a, b], (j) => plain(j) === 'kept', "A's word");
    const r = await a.page.evaluate(() => {
      const { editor, errors } = window.flowstate;
      const applied = editor.commands.setHorizontalRule(); // no horizontal rule in the Text's schema
      const ordered = editor.chain().toggleOrderedList().updateAttributes('orderedList', { start: 3 }).run();
      const reported = errors.splice(0); // taken out, so that the page ends without reports
      return { applied, ordered, reported, json: editor.getJSON() };
    });
    assert.equal(r.reported.length, 2, r.reported.join('\n'));
    assert.match(r.reported[0], /horizontalRule is not in the Text's schema/);
    assert.match(r.reported[1], /attribute start=3/);
    assert.deepEqual(r.json, before, 'the refused changes are not in the editor');
    await a.page.keyboard.type(' too', { delay: 5 });
    await sameJSON([a, b], (j) => plain(j) === 'kept too', "A's next words");
  });

  test('Ctrl+Z takes back only my change, the other page\'s stays, and both agree', async (t) => {
    const room = uniqueRoom('tiptap-undo');
    const a = await open(t, room, 'Alice');
    const b = await open(t, room, 'Bob');

    await a.caret();
    await a.page.keyboard.type('Hello world', { delay: 5 });
    await sameJSON([a, b], (j) => JSON.stringify(j).includes('Hello world'), "A's words");
    await a.page.evaluate(() => window.flowstate.undoManager.stopCapturing()); // the next edit starts a new undo step

    // B types inside A's text; then A makes a heading of its own line and types.
    await b.caret(6); // after "Hello"
    await b.page.keyboard.type(' big', { delay: 5 });
    await sameJSON([a, b], (j) => JSON.stringify(j).includes('Hello big world'), "B's word inside A's");

    await a.caret();
    await a.page.evaluate(() => window.flowstate.undoManager.stopCapturing());
    await a.page.keyboard.type('!!', { delay: 5 });
    await sameJSON([a, b], (j) => JSON.stringify(j).includes('Hello big world!!'), "A's !!");
    await a.page.keyboard.press('Control+z');
    const undone = await sameJSON([a, b], (j) => !JSON.stringify(j).includes('!!'), "A's undo");
    assert.equal(await a.text(), 'Hello big world');
    assert.ok(undone);

    await a.page.keyboard.press('Control+z');
    await sameJSON([a, b], (j) => !JSON.stringify(j).includes('Hello'), "A's second undo");
    assert.equal(await b.text(), ' big', 'only B\'s word is left');

    await a.page.keyboard.press('Control+Shift+z');
    await sameJSON([a, b], (j) => JSON.stringify(j).includes('Hello big world'), "A's redo");
  });
});
