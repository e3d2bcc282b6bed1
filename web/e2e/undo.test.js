// End-to-end tests of undo in real Chromium against the real server, with
// real keyboard input: page A types, page B types inside A's text, A
// presses Ctrl+Z: only A's text goes, B's stays, and both pages agree. Once
// with a <textarea> (TextareaBinding and its UndoManager), once with the
// demo's CodeMirror editor (CodeMirror's own history).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer } from '../test/server.js';
import { Tab, converged, launch, skipReason, uniqueRoom } from './harness.js';

/** The textarea page, written over a response of the server as in textarea.test.js. */
const PAGE = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>undo</title>
<link rel="icon" href="data:,">
<p id="status" data-status=""></p>
<textarea id="editor" rows="6" cols="60" spellcheck="false"></textarea>
</html>`;

/**
 * A TextareaTab is a page with a textarea bound to the Text "content" of a
 * room; window.flowstate = {doc, text, provider, binding, textarea}.
 */
class TextareaTab extends Tab {
  static async open(browser, httpURL, room) {
    const context = await browser.newContext({ viewport: { width: 700, height: 300 } });
    const page = await context.newPage();
    const tab = new TextareaTab(context, page);
    // /flowstate.js is same-origin and has no Content-Security-Policy; the
    // test page is written over it, and only its favicon request fails.
    await page.goto(`${httpURL}/flowstate.js`);
    await page.setContent(PAGE);
    await page.evaluate(async (room) => {
      const { Doc, Provider } = await import('/flowstate.js');
      const { TextareaBinding } = await import('/flowstate-textarea.js');
      const doc = new Doc();
      const text = doc.getText('content');
      const textarea = document.querySelector('#editor');
      const badge = document.querySelector('#status');
      const provider = new Provider(doc, { url: Provider.roomURL(location.href, room) });
      badge.dataset.status = provider.status;
      provider.on('status', (s) => (badge.dataset.status = s));
      const binding = new TextareaBinding(text, textarea, { presence: provider.presence });
      window.flowstate = { doc, text, provider, binding, textarea };
    }, room);
    await tab.waitStatus('synced');
    return tab;
  }

  text() {
    return this.page.evaluate(() => window.flowstate.textarea.value);
  }

  /** state returns the textarea's value and selection and the Doc's text. */
  state() {
    return this.page.evaluate(() => {
      const { textarea: el, text } = window.flowstate;
      return { value: el.value, doc: text.toString(), selection: [el.selectionStart, el.selectionEnd] };
    });
  }

  async type(s, { at = 'end', right = 0 } = {}) {
    await this.page.locator('#editor').click();
    await this.page.keyboard.press(at === 'start' ? 'Control+Home' : 'Control+End');
    for (let i = 0; i < right; i++) await this.page.keyboard.press('ArrowRight');
    await this.page.keyboard.type(s, { delay: 10 });
  }

  /** press presses key in the focused textarea. */
  async press(key) {
    await this.page.evaluate(() => window.flowstate.textarea.focus());
    await this.page.keyboard.press(key);
  }

  /** errorsButFavicon returns the page's errors but the 404 of /favicon.ico. */
  errorsButFavicon() {
    return this.errors.filter((e) => !/Failed to load resource.*404/.test(e));
  }
}

/** CodeMirrorTab is a Tab on the demo page, whose editor keys go to CodeMirror. */
class CodeMirrorTab extends Tab {
  /** open opens the demo of room in a new context, as Tab.open does. */
  static async open(browser, httpURL, room) {
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    const tab = new CodeMirrorTab(context, await context.newPage());
    await tab.page.goto(`${httpURL}/?room=${encodeURIComponent(room)}`);
    await tab.waitStatus('synced');
    return tab;
  }

  async type(s, { at = 'end', right = 0 } = {}) {
    await this.page.locator('.cm-content').click();
    await this.page.keyboard.press(at === 'start' ? 'Control+Home' : 'Control+End');
    for (let i = 0; i < right; i++) await this.page.keyboard.press('ArrowRight');
    await this.page.keyboard.type(s, { delay: 10 });
  }

  /** press presses key in the editor, which keeps the focus it had. */
  async press(key) {
    await this.page.keyboard.press(key);
  }

  /** state returns the editor's text and main selection and the Doc's text. */
  state() {
    return this.page.evaluate(() => {
      const { view, doc } = window.flowstate;
      const sel = view.state.selection.main;
      return { value: view.state.doc.toString(), doc: doc.getText('content').toString(), selection: [sel.anchor, sel.head] };
    });
  }
}

describe('undo in the browser', { skip: skipReason }, () => {
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

  const kinds = [
    {
      name: 'textarea',
      open: async (t, room) => {
        const tab = await TextareaTab.open(browser, server.httpURL, room);
        t.after(async () => {
          await tab.close();
          assert.deepEqual(tab.errorsButFavicon(), [], 'the page logged errors');
        });
        return tab;
      },
    },
    {
      name: 'CodeMirror',
      open: async (t, room) => {
        const tab = await CodeMirrorTab.open(browser, server.httpURL, room);
        t.after(async () => {
          await tab.close();
          assert.deepEqual(tab.errors, [], 'the page logged errors');
        });
        return tab;
      },
    },
  ];

  for (const kind of kinds) {
    test(`${kind.name}: Ctrl+Z takes back only my text, the other page's stays, and both agree`, async (t) => {
      const room = uniqueRoom(`undo-${kind.name.toLowerCase()}`);
      const a = await kind.open(t, room);
      const b = await kind.open(t, room);

      await a.type('Hello world');
      await converged([a, b], (s) => s === 'Hello world', `A's words`);
      // B types inside A's text, between "Hello" and " world".
      await b.type(' big', { at: 'start', right: 5 });
      await converged([a, b], (s) => s === 'Hello big world', `B's word inside A's`);

      await a.press('Control+z');
      const undone = await converged([a, b], (s) => s === ' big', `only B's word, after A's undo`);
      for (const tab of [a, b]) {
        const s = await tab.state();
        assert.equal(s.doc, s.value, 'the Doc and the editor differ');
      }
      assert.equal(undone, ' big');
      await a.screenshot(`undo-${kind.name}-a`);

      await a.press('Control+Shift+z');
      await converged([a, b], (s) => s === 'Hello big world', `A's words back, after A's redo`);
      // Undo again, and redo by the other shortcut, Ctrl+Y.
      await a.press('Control+z');
      await converged([a, b], (s) => s === ' big', 'the second undo');
      await a.press('Control+y');
      await converged([a, b], (s) => s === 'Hello big world', 'redo by Ctrl+Y');

      // B's own undo takes back B's word only.
      await b.press('Control+z');
      await converged([a, b], (s) => s === 'Hello world', `B's undo`);
      await Promise.all([a.waitStatus('synced'), b.waitStatus('synced')]);
    });
  }

  test('textarea: the caret comes back with undo and redo; the Edit menu history events undo too', async (t) => {
    const room = uniqueRoom('undo-caret');
    const a = await kinds[0].open(t, room);
    const b = await kinds[0].open(t, room);
    await a.type('one two');
    await converged([a, b], (s) => s === 'one two', 'the start');
    await a.page.waitForTimeout(600); // past the capture timeout: a new step
    // A selects "two" and types over it.
    await a.press('Shift+ArrowLeft');
    await a.press('Shift+ArrowLeft');
    await a.press('Shift+ArrowLeft');
    assert.deepEqual((await a.state()).selection, [4, 7]);
    await a.page.keyboard.type('three', { delay: 10 });
    await converged([a, b], (s) => s === 'one three', 'the replacement');
    // B writes at the start: A's positions move by 3.
    await b.type('>> ', { at: 'start' });
    await converged([a, b], (s) => s === '>> one three', `B's prefix`);

    await a.press('Control+z');
    await converged([a, b], (s) => s === '>> one two', 'the replacement undone');
    assert.deepEqual((await a.state()).selection, [7, 10], '"two" is selected again');
    await a.press('Control+Shift+z');
    await converged([a, b], (s) => s === '>> one three', 'the replacement redone');
    assert.deepEqual((await a.state()).selection, [12, 12], 'the caret after "three"');

    // The history events of the Edit menu (Chromium sends them for
    // execCommand) go to the UndoManager too.
    await a.page.evaluate(() => {
      const el = window.flowstate.textarea;
      el.focus();
      el.dispatchEvent(new InputEvent('beforeinput', { inputType: 'historyUndo', cancelable: true, bubbles: true }));
    });
    await converged([a, b], (s) => s === '>> one two', 'undo by a historyUndo event');
    await a.page.evaluate(() => {
      const el = window.flowstate.textarea;
      el.dispatchEvent(new InputEvent('beforeinput', { inputType: 'historyRedo', cancelable: true, bubbles: true }));
    });
    await converged([a, b], (s) => s === '>> one three', 'redo by a historyRedo event');
  });

  test('textarea: moving the caret ends an undo step, however fast the typing', async (t) => {
    const room = uniqueRoom('undo-steps');
    const a = await kinds[0].open(t, room);
    await a.type('ab');
    await a.page.keyboard.press('ArrowLeft');
    await a.page.keyboard.type('c');
    assert.equal(await a.text(), 'acb');
    await a.press('Control+z');
    assert.equal(await a.text(), 'ab', 'the typing after the arrow key is a step of its own');
    await a.press('Control+z');
    assert.equal(await a.text(), '');
  });
});
