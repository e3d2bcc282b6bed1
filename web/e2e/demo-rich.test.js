// The demo page's rich mode (/?room=x&mode=rich) in Chromium against the
// real server: bold, a list and a link made with the toolbar on one page
// show formatted on the other, with the toolbar showing the formats at the
// caret; every toolbar button applies its format; undo and redo take back
// only this page's change; a change the Text cannot carry is refused in
// words; a 360 px page has no horizontal scroll; a
// room's plain and rich Texts stay apart, and the mode links switch
// between them; edits made with the server down survive a reload and
// reach the server, and two tabs sync without it. Screenshots go to
// e2e/artifacts/demo-rich-*.png.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer } from '../test/server.js';
import { Tab, WAIT, launch, skipReason, uniqueRoom } from './harness.js';

/**
 * A RichTab is the demo in rich mode; window.flowstate.editor is its
 * TipTap editor once the room has loaded.
 */
class RichTab extends Tab {
  /**
   * open opens the rich demo of room in a new context of the given
   * viewport (or in context) and waits until it is synced and its editor
   * is bound.
   */
  static async open(browser, httpURL, room, { width = 1100, height = 700, context = null } = {}) {
    context ??= await browser.newContext({ viewport: { width, height } });
    const page = await context.newPage();
    const tab = new RichTab(context, page);
    await page.goto(`${httpURL}/?room=${encodeURIComponent(room)}&mode=rich`);
    await tab.waitStatus('synced');
    await tab.until(() => window.flowstate.editor != null, undefined, 'the editor');
    return tab;
  }

  /** json returns the editor's document as ProseMirror JSON. */
  json() {
    return this.page.evaluate(() => window.flowstate.editor.getJSON());
  }

  /** text returns the editor's text, blocks separated by "|". */
  text() {
    return this.page.evaluate(() => {
      const { doc } = window.flowstate.editor.state;
      return doc.textBetween(0, doc.content.size, '|');
    });
  }

  /**
   * select selects the first occurrence of word in the editor (with the
   * caret at its end when caret is true), and focuses the editor.
   */
  async select(word, caret = false) {
    const found = await this.page.evaluate(
      ({ word, caret }) => {
        const { editor } = window.flowstate;
        let from = -1;
        editor.state.doc.descendants((node, pos) => {
          if (from < 0 && node.isText && node.text.includes(word)) from = pos + node.text.indexOf(word);
        });
        if (from < 0) return false;
        const to = from + word.length;
        editor.chain().focus().setTextSelection(caret ? to : { from, to }).run();
        return true;
      },
      { word, caret },
    );
    assert.ok(found, `no "${word}" in the editor: ${await this.text()}`);
    // TipTap focuses in an animation frame: a key typed before it is lost.
    await this.page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
  }

  /**
   * where returns what formats the first occurrence of word: its marks
   * and the blocks around it, innermost first ("heading1" for a heading of
   * level 1), or null if there is none.
   */
  where(word) {
    return this.page.evaluate((word) => {
      const { doc } = window.flowstate.editor.state;
      let found = null;
      doc.descendants((node, pos) => {
        if (found !== null || !node.isText || !node.text.includes(word)) return;
        const $pos = doc.resolve(pos + node.text.indexOf(word) + 1);
        const blocks = [];
        for (let d = $pos.depth; d > 0; d--) {
          const n = $pos.node(d);
          blocks.push(n.type.name === 'heading' ? `heading${n.attrs.level}` : n.type.name);
        }
        found = { marks: node.marks.map((m) => m.type.name), href: node.marks.find((m) => m.type.name === 'link')?.attrs.href, blocks };
      });
      return found;
    }, word);
  }

  /** pressed returns the names of the toolbar buttons shown pressed. */
  pressed() {
    return this.page.evaluate(() => [...document.querySelectorAll('#toolbar [aria-pressed="true"]')].map((b) => b.dataset.tool));
  }

  /** tool clicks the toolbar button of a tool. */
  async tool(name) {
    await this.page.click(`#toolbar [data-tool="${name}"]`);
    // The buttons run TipTap commands whose focus comes in an animation
    // frame: a key typed before it would be lost.
    await this.page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
  }
}

/** sameJSON waits until every tab's editor holds the same document satisfying check, and returns it. */
async function sameJSON(tabs, check, what) {
  const deadline = Date.now() + WAIT;
  for (;;) {
    const docs = await Promise.all(tabs.map((t) => t.json()));
    const s = docs.map((d) => JSON.stringify(d));
    if (s.every((x) => x === s[0]) && check(docs[0], s[0])) return docs[0];
    if (Date.now() > deadline) throw new Error(`the tabs did not converge on ${what}:\n${s.map((x, i) => `tab ${i}: ${x}`).join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** saved waits for the save line under the editor to read want. */
function saved(tab, want) {
  return tab.until((w) => document.querySelector('#saved')?.textContent === w, want, `"${want}"`);
}

/**
 * The toolbar's format buttons: what each makes of a selected word, as
 * RichTab.where reports it (a mark, or the block around it).
 */
const FORMATS = [
  { tool: 'bold', mark: 'bold' },
  { tool: 'italic', mark: 'italic' },
  { tool: 'strike', mark: 'strike' },
  { tool: 'code', mark: 'code' },
  { tool: 'h1', block: 'heading1' },
  { tool: 'h2', block: 'heading2' },
  { tool: 'h3', block: 'heading3' },
  { tool: 'bulletList', block: 'bulletList' },
  { tool: 'orderedList', block: 'orderedList' },
  { tool: 'blockquote', block: 'blockquote' },
  { tool: 'codeBlock', block: 'codeBlock' },
];

describe('the demo page in rich mode', { skip: skipReason }, () => {
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

  /** open opens a rich tab that must end without page errors. */
  async function open(t, room, options) {
    const tab = await RichTab.open(browser, server.httpURL, room, options);
    t.after(async () => {
      await tab.close();
      assert.deepEqual(tab.errors, [], 'the page logged errors');
    });
    return tab;
  }

  test('bold, a list and a link made with the toolbar on one page show formatted on the other', async (t) => {
    const room = uniqueRoom('rich');
    const a = await open(t, room);
    const b = await open(t, room);
    const nameA = await a.name();

    await a.page.locator('.ProseMirror').click();
    await a.page.keyboard.type('Hello world', { delay: 5 });
    await a.select('Hello');
    await a.tool('bold');
    assert.deepEqual(await a.pressed(), ['bold'], 'the bold button is pressed over bold text');
    await a.page.keyboard.press('End');
    await a.page.keyboard.press('Enter');
    await a.tool('bulletList');
    await a.page.keyboard.type('first item', { delay: 5 });
    await a.page.keyboard.press('Enter');
    await a.page.keyboard.type('second item', { delay: 5 });
    assert.deepEqual(await a.pressed(), ['bulletList']);
    await a.select('world');
    a.page.once('dialog', (d) => d.accept('https://example.com/world'));
    await a.tool('link');
    assert.ok((await a.pressed()).includes('link'), 'the link button is pressed over the link');

    await sameJSON([a, b], (_, s) => s.includes('second item') && s.includes('example.com'), "A's edits on B");
    // What B shows, in its DOM: a bold word, a list of two items, a link.
    const shown = await b.page.evaluate(() => {
      const pm = document.querySelector('.ProseMirror');
      const link = pm.querySelector('a');
      return {
        bold: [...pm.querySelectorAll('strong')].map((s) => s.textContent),
        items: [...pm.querySelectorAll('ul > li')].map((li) => li.textContent),
        link: link && { text: link.textContent, href: link.getAttribute('href') },
      };
    });
    assert.deepEqual(shown, {
      bold: ['Hello'],
      items: ['first item', 'second item'],
      link: { text: 'world', href: 'https://example.com/world' },
    });
    // B's toolbar follows B's caret.
    await b.select('Hel', true);
    await b.until(() => document.querySelector('[data-tool="bold"]').getAttribute('aria-pressed') === 'true', undefined, 'bold pressed on B');
    await b.select('first', true);
    await b.until(() => document.querySelector('[data-tool="bulletList"]').getAttribute('aria-pressed') === 'true', undefined, 'list pressed on B');
    assert.deepEqual(await b.pressed(), ['bulletList']);

    // Each page draws the other's caret with its name and colour, and lists it.
    await b.until((n) => [...document.querySelectorAll('.fs-pm-caret-label')].some((l) => l.textContent === n), nameA, "A's caret on B");
    await b.until((n) => [...document.querySelectorAll('#people .name')].some((l) => l.textContent === n), nameA, 'A in the list on B');
    await b.until(
      (n) => {
        const label = [...document.querySelectorAll('.fs-pm-caret-label')].find((l) => l.textContent === n);
        const dot = [...document.querySelectorAll('#people li')].find((li) => li.textContent.startsWith(n))?.querySelector('.dot');
        return label && dot && getComputedStyle(label).backgroundColor === getComputedStyle(dot).backgroundColor;
      },
      nameA,
      "A's caret in A's colour in the list",
    );
    await a.until(() => document.querySelectorAll('.fs-pm-caret').length === 1, undefined, "B's caret on A");
    // As in plain mode, a caret's name shows while the pointer is over it.
    const label = b.page.locator('.fs-pm-caret-label');
    assert.equal(await label.evaluate((l) => getComputedStyle(l).opacity), '0');
    await b.page.locator('.fs-pm-caret').hover({ force: true });
    await b.until(() => getComputedStyle(document.querySelector('.fs-pm-caret-label')).opacity === '1', undefined, 'the label on hover');
    await b.screenshot('demo-rich-caret-hover');
    await saved(a, 'saved');
  });

  test('every toolbar button applies its format, on both pages', async (t) => {
    const room = uniqueRoom('rich-tools');
    const a = await open(t, room);
    const b = await open(t, room);
    const buttons = await a.page.evaluate(() => [...document.querySelectorAll('#toolbar button')].map((x) => x.dataset.tool));
    assert.deepEqual(buttons.sort(), [...FORMATS.map((f) => f.tool), 'link', 'undo', 'redo'].sort(), 'a button without a case here');

    for (const f of FORMATS) {
      const word = `word${f.tool}`;
      // Each word in a paragraph of its own at the end.
      await a.page.evaluate((word) => {
        const { editor } = window.flowstate;
        editor.chain().insertContentAt(editor.state.doc.content.size, { type: 'paragraph', content: [{ type: 'text', text: word }] }).run();
      }, word);
      await a.select(word);
      assert.ok(!(await a.pressed()).includes(f.tool), `${f.tool} pressed before its click`);
      await a.tool(f.tool);
      assert.ok((await a.pressed()).includes(f.tool), `${f.tool} not pressed after its click`);
      const has = (w) => w !== null && (f.mark ? w.marks.includes(f.mark) : w.blocks.includes(f.block));
      const onA = await a.where(word);
      assert.ok(has(onA), `${f.tool} on A: ${JSON.stringify(onA)}`);
      await b.until(
        ({ word, f }) => {
          const { doc } = window.flowstate.editor.state;
          let ok = false;
          doc.descendants((node, pos) => {
            if (!node.isText || !node.text.includes(word)) return;
            const $pos = doc.resolve(pos + 1);
            const blocks = [];
            for (let d = $pos.depth; d > 0; d--) blocks.push($pos.node(d).type.name === 'heading' ? `heading${$pos.node(d).attrs.level}` : $pos.node(d).type.name);
            ok = f.mark ? node.marks.some((m) => m.type.name === f.mark) : blocks.includes(f.block);
          });
          return ok;
        },
        { word, f },
        `${f.tool} on B`,
      );
      // A second click takes the format off again.
      await a.tool(f.tool);
      assert.ok(!has(await a.where(word)), `${f.tool} still on after a second click`);
      await a.tool(f.tool);
    }
    const json = await sameJSON([a, b], (_, s) => s.includes('wordcodeBlock'), 'every format');
    assert.ok(json.content.length >= FORMATS.length, JSON.stringify(json));
    await a.screenshot('demo-rich-formats');
  });

  test('undo and redo take back only this page\'s change, and are greyed out when there is none', async (t) => {
    const room = uniqueRoom('rich-undo');
    const a = await open(t, room);
    const b = await open(t, room);
    const disabled = (tab) => tab.page.evaluate(() => ['undo', 'redo'].map((n) => document.querySelector(`[data-tool="${n}"]`).disabled));
    assert.deepEqual(await disabled(a), [true, true]);

    await a.page.locator('.ProseMirror').click();
    // One input, so one undo step: typed key by key, a loaded machine can
    // pause past the page's capture timeout (500 ms) between two keys.
    await a.page.keyboard.insertText('mine');
    await sameJSON([a, b], (_, s) => s.includes('mine'), "A's word");
    await b.select('mine', true);
    await b.page.keyboard.type(' yours', { delay: 5 });
    await sameJSON([a, b], (_, s) => s.includes('mine yours'), "B's word");
    assert.deepEqual(await disabled(a), [false, true]);

    await a.tool('undo');
    await sameJSON([a, b], (_, s) => !s.includes('mine'), "A's undo");
    assert.equal(await b.text(), ' yours', "B's word stays");
    // The buttons follow at once: nothing left to undo, one step to redo.
    assert.deepEqual(await disabled(a), [true, false]);
    await a.tool('redo');
    await sameJSON([a, b], (_, s) => s.includes('mine yours'), "A's redo");
  });

  test('a change the rich Text cannot carry is refused with a message, and neither page changes', async (t) => {
    const room = uniqueRoom('rich-refused');
    const a = await open(t, room);
    const b = await open(t, room);
    await a.page.locator('.ProseMirror').click();
    await a.page.keyboard.type('kept', { delay: 5 });
    const before = await sameJSON([a, b], (_, s) => s.includes('kept'), 'the first word');
    assert.equal(await a.page.locator('#refused').isVisible(), false);
    // An ordered list from 3 is what the Text cannot carry (an extension
    // of the page could make one; the toolbar cannot).
    await a.page.evaluate(() => window.flowstate.editor.chain().toggleOrderedList().updateAttributes('orderedList', { start: 3 }).run());
    await a.until(() => !document.querySelector('#refused').hidden, undefined, 'the message');
    assert.match(await a.page.textContent('#refused'), /can't be shared, so it was not made: .*start=3/);
    assert.deepEqual(await a.json(), before, 'the editor changed');
    await a.page.keyboard.type(' too', { delay: 5 });
    const after = await sameJSON([a, b], (_, s) => s.includes('kept too'), 'the next typing');
    assert.ok(!JSON.stringify(after).includes('orderedList'), JSON.stringify(after));
  });

  test('at 360 px the page has no horizontal scroll, beside a desktop page in the same room', async (t) => {
    const room = uniqueRoom('rich-narrow');
    const phone = await open(t, room, { width: 360, height: 740 });
    const desk = await open(t, room, { width: 1280, height: 800 });

    await desk.page.locator('.ProseMirror').click();
    await desk.tool('h1');
    await desk.page.keyboard.type('Trip plans', { delay: 2 });
    await desk.page.keyboard.press('Enter');
    await desk.page.keyboard.type('Pack light, and read ', { delay: 2 });
    await desk.page.keyboard.press('Control+b');
    await desk.page.keyboard.type('everything', { delay: 2 });
    await desk.page.keyboard.press('Control+b');
    await desk.page.keyboard.type(' at https://example.com/a/very/long/address/that/does/not/break/anywhere/at/all ', { delay: 2 });
    await desk.page.keyboard.press('Enter');
    await desk.tool('orderedList');
    await desk.page.keyboard.type('tickets', { delay: 2 });
    await desk.page.keyboard.press('Enter');
    await desk.page.keyboard.type('passports', { delay: 2 });
    await desk.page.keyboard.press('Enter');
    await desk.page.keyboard.press('Enter');
    await desk.tool('codeBlock');
    await desk.until(() => window.flowstate.editor.isActive('codeBlock') && window.flowstate.editor.view.hasFocus(), undefined, 'a focused code block');
    const code = 'const packed = ["a long line of code that is wider than a phone screen is"];';
    await desk.page.keyboard.type(code, { delay: 1 });
    // On a loaded machine the keys can come before TipTap's focus of the
    // new code block settles, and are lost: type them again until the
    // editor holds them.
    for (let k = 0; k < 3 && !(await desk.page.evaluate(() => window.flowstate.editor.getText().includes('phone screen is'))); k++) {
      await desk.until(() => window.flowstate.editor.isActive('codeBlock') && window.flowstate.editor.view.hasFocus(), undefined, 'a focused code block');
      await desk.page.keyboard.type(code, { delay: 1 });
    }

    await phone.page.locator('.ProseMirror').click();
    await phone.select('tickets', true);
    await phone.page.keyboard.type(' (both)', { delay: 5 });
    await sameJSON([phone, desk], (_, s) => s.includes('tickets (both)') && s.includes('phone screen is'), 'both pages');
    await phone.until(() => document.querySelectorAll('.fs-pm-caret').length === 1, undefined, 'the desktop caret on the phone');

    const layout = await phone.page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      width: document.documentElement.clientWidth,
      outside: [...document.querySelectorAll('#toolbar button, .bar *, .ProseMirror > *')]
        .filter((el) => el.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
        .map((el) => el.dataset.tool ?? el.className ?? el.tagName),
    }));
    assert.equal(layout.width, 360);
    assert.ok(layout.scroll <= layout.width, `the page scrolls sideways: ${layout.scroll} px wide`);
    assert.deepEqual(layout.outside, [], 'beyond the right edge');
    await phone.screenshot('demo-rich-360');
    await phone.page.screenshot({ path: new URL('./artifacts/demo-rich-360-full.png', import.meta.url).pathname, fullPage: true });
    await desk.screenshot('demo-rich-1280');

    // The header's mode links fit the plain mode's narrow page too.
    const context = await browser.newContext({ viewport: { width: 360, height: 740 } });
    t.after(() => context.close());
    const plain = await context.newPage();
    await plain.goto(`${server.httpURL}/?room=${encodeURIComponent(room)}`);
    await plain.waitForFunction(() => document.querySelector('#status').dataset.status === 'synced');
    const scroll = await plain.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(scroll <= 360, `the plain page scrolls sideways: ${scroll} px wide`);
  });

  test("a room's plain and rich Texts stay apart, and the mode links switch between them", async (t) => {
    const room = uniqueRoom('rich-modes');
    const rich = await open(t, room);
    const plain = await Tab.open(browser, server.httpURL, room);
    t.after(() => plain.close());

    await plain.type('plain words');
    await rich.page.locator('.ProseMirror').click();
    await rich.page.keyboard.type('rich words', { delay: 5 });
    // Both reach the other page's Doc, each in its own Text.
    await plain.until(() => window.flowstate.doc.getText('rich').toString().includes('rich words'), undefined, 'the rich Text on the plain page');
    await rich.until(() => window.flowstate.doc.getText('content').toString() === 'plain words', undefined, 'the plain Text on the rich page');
    assert.equal(await plain.text(), 'plain words');
    assert.equal(await rich.text(), 'rich words');

    assert.equal(await rich.page.getAttribute('#mode-rich', 'aria-current'), 'page');
    assert.match(await rich.page.getAttribute('#share-link', 'href'), /mode=rich/, 'a shared link opens the same mode');
    await rich.page.click('#mode-plain');
    await rich.waitStatus('synced');
    assert.equal(new URL(rich.page.url()).searchParams.get('room'), room);
    assert.equal(await rich.page.evaluate(() => window.flowstate.view.state.doc.toString()), 'plain words');
    assert.equal(await rich.page.locator('#toolbar').isVisible(), false);
    await rich.page.click('#mode-rich');
    await rich.until(() => window.flowstate.editor != null, undefined, 'the rich editor again');
    assert.equal(await rich.text(), 'rich words');
  });

  test('edits made with the server down are kept across a reload and reach it; tabs sync without it', async (t) => {
    const own = await startServer();
    t.after(() => own.stop());
    const room = uniqueRoom('rich-offline');
    const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    const a = await RichTab.open(browser, own.httpURL, room, { context });
    const b = await RichTab.open(browser, own.httpURL, room, { context });
    t.after(() => context.close());

    await a.page.locator('.ProseMirror').click();
    await a.page.keyboard.type('online', { delay: 5 });
    await saved(a, 'saved');
    await own.kill();
    await a.page.keyboard.press('Enter');
    await a.tool('h2');
    await a.page.keyboard.type('offline', { delay: 5 });
    await a.until(() => /^offline, \d+ changes? pending$/.test(document.querySelector('#saved').textContent), undefined, 'the pending count');
    // The other tab of this browser gets it with no server.
    await sameJSON([a, b], (_, s) => s.includes('"text":"offline"'), 'the tabs without the server');
    assert.equal((await b.where('offline')).blocks[0], 'heading2');

    // The server comes back, then a reload: the page shows what it kept.
    await b.page.close();
    await a.page.close();
    await own.restart();
    const again = await RichTab.open(browser, own.httpURL, room, { context });
    assert.equal(await again.text(), 'online|offline');
    await saved(again, 'saved');
    const fresh = await RichTab.open(browser, own.httpURL, room);
    t.after(() => fresh.close());
    assert.deepEqual(await fresh.where('offline'), { marks: [], href: undefined, blocks: ['heading2'] });
    assert.deepEqual([...a.errors, ...b.errors, ...again.errors, ...fresh.errors], []);
  });
});
