// End-to-end test of the plain ProseMirror binding in its own bundle
// (/flowstate-prosemirror.js, with no TipTap): two pages with a schema of
// their own (prosemirror-schema-basic's names) type, break lines, bold and
// make a heading, converge to the same document, and draw each other's
// caret; Mod-z on one page takes back only its own typing.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer } from '../test/server.js';
import { Tab, WAIT, launch, skipReason, uniqueRoom } from './harness.js';

const PAGE = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>prosemirror</title>
<link rel="icon" href="data:,">
<style>.ProseMirror { min-height: 200px; border: 1px solid #ccc; padding: 8px; white-space: pre-wrap; }</style>
<p id="status" data-status=""></p>
<div id="editor"></div>
</html>`;

/** A PMTab is a page with a ProseMirror editor on the Text "body"; window.flowstate = {doc, text, provider, view, errors}. */
class PMTab extends Tab {
  static async open(browser, httpURL, room, name) {
    const context = await browser.newContext({ viewport: { width: 800, height: 500 } });
    const page = await context.newPage();
    const tab = new PMTab(context, page);
    await page.goto(`${httpURL}/flowstate.js`);
    await page.setContent(PAGE);
    await page.evaluate(
      async ({ room, name }) => {
        const { Doc, Provider, UndoManager } = await import('/flowstate.js');
        const pm = await import('/flowstate-prosemirror.js');
        const schema = new pm.Schema({
          nodes: {
            doc: { content: 'block+' },
            paragraph: { group: 'block', content: 'inline*', parseDOM: [{ tag: 'p' }], toDOM: () => ['p', 0] },
            heading: {
              group: 'block',
              content: 'inline*',
              attrs: { level: { default: 1 } },
              defining: true,
              parseDOM: [1, 2, 3].map((level) => ({ tag: `h${level}`, attrs: { level } })),
              toDOM: (n) => [`h${n.attrs.level}`, 0],
            },
            text: { group: 'inline' },
            hard_break: { inline: true, group: 'inline', selectable: false, parseDOM: [{ tag: 'br' }], toDOM: () => ['br'] },
          },
          marks: {
            strong: { parseDOM: [{ tag: 'strong' }], toDOM: () => ['strong', 0] },
            em: { parseDOM: [{ tag: 'em' }], toDOM: () => ['em', 0] },
          },
        });
        const doc = new Doc();
        const text = doc.getText('body');
        const badge = document.querySelector('#status');
        const provider = new Provider(doc, { url: Provider.roomURL(location.href, room) });
        provider.presence.setLocal({ name, color: '#16a34a' });
        badge.dataset.status = provider.status;
        provider.on('status', (s) => (badge.dataset.status = s));
        const errors = [];
        const undoManager = new UndoManager(text, { captureTimeout: 600_000 }); // steps end where the test says
        const view = new pm.EditorView(document.querySelector('#editor'), {
          state: pm.EditorState.create({
            schema,
            plugins: [
              ...pm.flowstatePlugins(text, { provider, undoManager, onError: (err) => errors.push(err.message) }),
              pm.keymap({
                'Mod-b': pm.toggleMark(schema.marks.strong),
                'Shift-Enter': (state, dispatch) => {
                  dispatch?.(state.tr.replaceSelectionWith(schema.nodes.hard_break.create()).scrollIntoView());
                  return true;
                },
                'Mod-Alt-1': pm.setBlockType(schema.nodes.heading, { level: 1 }),
              }),
              pm.keymap(pm.baseKeymap),
            ],
          }),
        });
        window.flowstate = { doc, text, provider, view, errors, undoManager };
      },
      { room, name },
    );
    await tab.waitStatus('synced');
    return tab;
  }

  json() {
    return this.page.evaluate(() => window.flowstate.view.state.doc.toJSON());
  }

  async caret(where) {
    await this.page.evaluate((where) => {
      const { view } = window.flowstate;
      const pm = view.state.selection.constructor; // TextSelection's base class: Selection
      const pos = where === 'end' ? view.state.doc.content.size - 1 : where;
      view.focus();
      view.dispatch(view.state.tr.setSelection(pm.near(view.state.doc.resolve(pos))));
    }, where);
  }
}

async function sameJSON(tabs, check, what) {
  const deadline = Date.now() + WAIT;
  for (;;) {
    const docs = await Promise.all(tabs.map((t) => t.json()));
    const s = docs.map((d) => JSON.stringify(d));
    if (s.every((x) => x === s[0]) && check(docs[0])) return docs[0];
    if (Date.now() > deadline) throw new Error(`the tabs did not converge on ${what}:\n${s.join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the ProseMirror bundle in the browser', { skip: skipReason }, () => {
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

  async function open(t, room, name) {
    const tab = await PMTab.open(browser, server.httpURL, room, name);
    t.after(async () => {
      const reported = await tab.page.evaluate(() => window.flowstate.errors).catch(() => []);
      await tab.close();
      assert.deepEqual(tab.errors.filter((e) => !/Failed to load resource.*404/.test(e)), [], 'the page logged errors');
      assert.deepEqual(reported, [], 'the binding reported errors');
    });
    return tab;
  }

  test('two pages type, break lines, bold and make a heading, converge, and undo only their own typing', async (t) => {
    const room = uniqueRoom('prosemirror');
    const a = await open(t, room, 'Ann');
    const b = await open(t, room, 'Ben');

    await a.caret('end');
    await a.page.keyboard.type('Title', { delay: 5 });
    await a.page.keyboard.press('Control+Alt+1');
    await a.page.keyboard.press('Enter');
    await a.page.keyboard.type('line one', { delay: 5 });
    await a.page.keyboard.press('Shift+Enter');
    await a.page.keyboard.type('line two', { delay: 5 });
    const first = await sameJSON([a, b], (j) => JSON.stringify(j).includes('line two'), "A's typing");
    assert.equal(first.content[0].type, 'heading');
    assert.ok(first.content[1].content.some((n) => n.type === 'hard_break'), JSON.stringify(first));

    await a.page.evaluate(() => window.flowstate.undoManager.stopCapturing()); // the next edits start a new undo step
    await Promise.all([
      (async () => {
        await b.caret(3); // inside "Title"
        await b.page.keyboard.type('XY', { delay: 5 });
      })(),
      (async () => {
        await a.caret('end');
        await a.page.keyboard.press('Control+b');
        await a.page.keyboard.type(' bold', { delay: 5 });
      })(),
    ]);
    const both = await sameJSON([a, b], (j) => JSON.stringify(j).includes('TiXYtle') && JSON.stringify(j).includes(' bold'), 'both pages\' edits');
    const bold = both.content[1].content.at(-1);
    assert.deepEqual(bold, { type: 'text', marks: [{ type: 'strong' }], text: ' bold' });
    await a.until(() => [...document.querySelectorAll('.fs-pm-caret-label')].some((l) => l.textContent === 'Ben'), undefined, "Ben's caret on A");

    await a.page.keyboard.press('Control+z');
    const undone = await sameJSON([a, b], (j) => !JSON.stringify(j).includes(' bold'), "A's undo");
    assert.ok(JSON.stringify(undone).includes('TiXYtle'), "B's letters stay");
  });
});
