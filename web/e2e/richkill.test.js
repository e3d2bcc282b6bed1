// The server dies by SIGKILL in the middle of a rich-text session, in real
// Chromium against the real server on a real bbolt data file: two TipTap
// pages and a Quill page bound to one Text write a heading, bold, a link
// and a bullet list until every edit is acknowledged; one page keeps
// typing while the server is killed. The pages then go offline, so that
// none of them can resend what the server should have kept, and edit
// more. The server restarts on the same data file and port; what it
// rebuilds from the store before any page reconnects must hold every
// acknowledged edit (and of the unacknowledged ones at most what was sent
// in order before them), a page opened then shows it all, and once the
// pages are back online the edits made while the server was down reach it
// and every page converges on the same document.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { isDeepStrictEqual } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { startServer } from '../test/server.js';
import { Tab, eventually, launch, skipReason, uniqueRoom } from './harness.js';

const require = createRequire(import.meta.url);
const QUILL_JS = require.resolve('quill/dist/quill.js');
const QUILL_CSS = require.resolve('quill/dist/quill.snow.css');

/** The page, written over a response of the server as in tiptap.test.js. */
const PAGE = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>richkill</title>
<link rel="icon" href="data:,">
<style>.ProseMirror { min-height: 200px; border: 1px solid #ccc; padding: 8px; outline: none; } #editor { min-height: 200px; }</style>
<p id="status" data-status=""></p>
<div id="editor"></div>
</html>`;

/**
 * A RichTab is a page with a TipTap or a Quill editor bound to the Text
 * "body" of a room. window.flowstate = {doc, text, provider, editor or
 * quill, errors, log, acked, checkpoint}: log holds the Text's delta after
 * each of the page's own changes since the last checkpoint(), numbered
 * as the provider counts them, and acked() says how many of those changes
 * the server has acknowledged, so that a test knows exactly which states
 * the server must have kept.
 */
class RichTab extends Tab {
  /**
   * @param {import('playwright-core').Browser} browser
   * @param {string} httpURL
   * @param {string} room
   * @param {string} name
   * @param {'tiptap' | 'quill'} kind
   */
  static async open(browser, httpURL, room, name, kind) {
    const context = await browser.newContext({ viewport: { width: 800, height: 500 } });
    const page = await context.newPage();
    const tab = new RichTab(context, page);
    tab.kind = kind;
    await page.goto(`${httpURL}/flowstate.js`);
    await page.setContent(PAGE);
    if (kind === 'quill') {
      await page.addStyleTag({ path: QUILL_CSS });
      await page.addScriptTag({ path: QUILL_JS });
    }
    await page.evaluate(
      async ({ room, name, kind }) => {
        const { Doc, Provider } = await import('/flowstate.js');
        const doc = new Doc();
        const text = doc.getText('body');
        const badge = document.querySelector('#status');
        const provider = new Provider(doc, { url: Provider.roomURL(location.href, room) });
        provider.presence.setLocal({ name, color: '#2563eb' });
        badge.dataset.status = provider.status;
        provider.on('status', (s) => (badge.dataset.status = s));
        const errors = [];
        // Every rise of unsyncedCount is a local change, every fall an Ack.
        let changes = 0;
        let unsynced = 0;
        let log = [];
        provider.on('unsynced', (n) => {
          if (n > unsynced) {
            changes += n - unsynced;
            log.push({ changes, delta: text.toDelta() });
          }
          unsynced = n;
        });
        window.flowstate = {
          doc,
          text,
          provider,
          errors,
          log: () => log,
          acked: () => changes - provider.unsyncedCount,
          checkpoint: () => (log = [{ changes, delta: text.toDelta() }]),
        };
        if (kind === 'tiptap') {
          const { Editor, StarterKit, Image, FlowStateCollaboration } = await import('/flowstate-tiptap.js');
          window.flowstate.editor = new Editor({
            element: document.querySelector('#editor'),
            extensions: [
              StarterKit.configure({ undoRedo: false, trailingNode: false }),
              Image,
              FlowStateCollaboration.configure({ text, provider, onError: (err) => errors.push(err.message) }),
            ],
          });
        } else {
          const { QuillBinding, QUILL_FORMATS } = await import('/flowstate-quill.js');
          const quill = new window.Quill('#editor', { theme: 'snow', formats: QUILL_FORMATS });
          window.flowstate.quill = quill;
          window.flowstate.binding = new QuillBinding(text, quill, { provider, onError: (e) => errors.push(e.message) });
        }
      },
      { room, name, kind },
    );
    await tab.waitStatus('synced');
    return tab;
  }

  /**
   * state returns the Text's delta, the editor's document (ProseMirror
   * JSON, or the Quill delta next to the Text's delta as Quill shows it)
   * and the binding's reports.
   */
  state() {
    return this.page.evaluate(async () => {
      const { text, editor, quill, errors } = window.flowstate;
      const out = { delta: text.toDelta(), errors: [...errors] };
      if (editor) out.json = editor.getJSON();
      if (quill) {
        const { toQuillDelta } = await import('/flowstate-quill.js');
        // Quill writes attributes before insert: the order of toDelta's, for comparing JSON.
        out.quill = quill.getContents().ops.map(({ insert, attributes }) => (attributes ? { insert, attributes } : { insert }));
        out.shown = toQuillDelta(text.toDelta());
      }
      return out;
    });
  }

  /** tiptap runs fn in the page with the TipTap editor. @param {(editor: any) => unknown} fn */
  tiptap(fn) {
    // Two animation frames after fn: TipTap's focus command focuses the
    // editor in one, and a key typed before it would be lost.
    return this.page.evaluate(`(async () => { const r = (${fn})(window.flowstate.editor);
      await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
      return r; })()`);
  }

  /** acked returns how many of the page's changes the server acknowledged. */
  acked() {
    return this.page.evaluate(() => window.flowstate.acked());
  }

  /** unsynced returns the provider's unsyncedCount. */
  unsynced() {
    return this.page.evaluate(() => window.flowstate.provider.unsyncedCount);
  }

  /** saved waits until the server acknowledged every change of the page. */
  saved() {
    return this.until(() => window.flowstate.provider.unsyncedCount === 0 && window.flowstate.provider.status === 'synced', undefined, 'every change acknowledged');
  }

  /** offline cuts the page's network and waits until its provider stands still. */
  async offline() {
    await this.context.setOffline(true);
    await this.until(() => !navigator.onLine && window.flowstate.provider.status === 'offline', undefined, 'the page offline');
  }

  /** online gives the page its network back and waits until all its changes are acknowledged. */
  async online() {
    await this.context.setOffline(false);
    await this.saved();
  }
}

/** plain returns the text of a Quill-shaped delta (an embed is U+FFFC). */
function plain(delta) {
  return delta.map((op) => (typeof op.insert === 'string' ? op.insert : '\ufffc')).join('');
}

/** attrsOf returns the attributes of the delta op whose text includes s. */
function attrsOf(delta, s) {
  return delta.find((op) => typeof op.insert === 'string' && op.insert.includes(s))?.attributes ?? {};
}

/** blockOf returns the attributes of the "\n" that ends the line holding s. */
function blockOf(delta, s) {
  const text = plain(delta);
  const end = text.indexOf('\n', text.indexOf(s));
  let pos = 0;
  for (const op of delta) {
    const n = typeof op.insert === 'string' ? op.insert.length : 1;
    if (end < pos + n) return op.attributes ?? {};
    pos += n;
  }
  return {};
}

/**
 * richAcked checks that delta holds the rich content every page had
 * acknowledged before the kill: the heading, the bold, the link and the
 * two-item list.
 */
function richAcked(delta) {
  const text = plain(delta);
  assert.ok(text.startsWith('Notes\nHello world from A\nfirst item\nsecond item'), `the acknowledged text: ${JSON.stringify(text)}`);
  assert.deepEqual(blockOf(delta, 'Notes'), { header: 2 }, 'the heading');
  assert.deepEqual(attrsOf(delta, 'Hello'), { bold: true }, '"Hello" bold');
  assert.deepEqual(attrsOf(delta, 'om A'), { link: 'https://a.example/' }, 'the link');
  assert.deepEqual(blockOf(delta, 'first item'), { list: 'bullet' }, 'the first item');
  assert.deepEqual(blockOf(delta, 'second item'), { list: 'bullet' }, 'the second item');
}

/**
 * converged waits until every tab holds the same Text, every TipTap tab
 * the same ProseMirror JSON and every Quill tab shows the Text, with check
 * true of the delta, and returns the delta and the JSON.
 * @param {RichTab[]} tabs
 * @param {(delta: any[]) => boolean} check
 * @param {string} what
 */
async function converged(tabs, check, what) {
  let states = [];
  try {
    return await eventually(async () => {
      states = await Promise.all(tabs.map((t) => t.state()));
      const delta = JSON.stringify(states[0].delta);
      const json = JSON.stringify(states.find((s) => s.json)?.json);
      const ok = states.every(
        (s) =>
          JSON.stringify(s.delta) === delta &&
          (s.json === undefined || JSON.stringify(s.json) === json) &&
          (s.quill === undefined || JSON.stringify(s.quill) === JSON.stringify(s.shown)),
      );
      return ok && check(states[0].delta) ? { delta: states[0].delta, json: JSON.parse(json) } : null;
    }, what);
  } catch (err) {
    throw new Error(`${err.message}\n${states.map((s, i) => `tab ${i}: ${JSON.stringify(s)}`).join('\n')}`);
  }
}

/** roomState returns the server's GET /api/rooms/{room}. */
async function roomState(server, room) {
  const res = await fetch(`${server.httpURL}/api/rooms/${encodeURIComponent(room)}`);
  assert.equal(res.status, 200, await res.clone().text());
  return res.json();
}

describe('kill -9 of the server in a rich-text session', { skip: skipReason }, () => {
  /** @type {import('playwright-core').Browser} */
  let browser;
  /** @type {Awaited<ReturnType<typeof startServer>>} */
  let server;

  before(async () => {
    browser = await launch();
    // Its own server: this file kills it.
    server = await startServer();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** open opens a tab that must end without page errors or binding reports. */
  async function open(t, room, name, kind = 'tiptap') {
    const tab = await RichTab.open(browser, server.httpURL, room, name, kind);
    t.after(async () => {
      const reported = await tab.page.evaluate(() => window.flowstate.errors).catch(() => []);
      await tab.close();
      // The page is written over /flowstate.js, whose favicon request fails.
      assert.deepEqual(tab.errors.filter((e) => !/Failed to load resource.*404/.test(e)), [], `${name}'s page logged errors`);
      assert.deepEqual(reported, [], `${name}'s binding reported errors`);
    });
    return tab;
  }

  test('nothing acknowledged is lost, edits made while the server is down reach it, and all pages converge', async (t) => {
    const room = uniqueRoom('richkill');
    const a = await open(t, room, 'Alice');
    const b = await open(t, room, 'Bob');
    const q = await open(t, room, 'Quinn', 'quill');

    // Before the kill: A types and bolds, B makes a bullet list, A makes a
    // link, Quill makes a heading; each waits for the others' edits.
    await a.tiptap((e) => e.commands.focus('end'));
    await a.page.keyboard.type('Hello world', { delay: 5 });
    await converged([a, b, q], (d) => plain(d).includes('Hello world'), "A's first line");
    await a.tiptap((e) => e.chain().focus().setTextSelection({ from: 1, to: 6 }).run());
    await a.page.keyboard.press('Control+b');
    await a.page.keyboard.press('End');
    await a.page.keyboard.type(' from A', { delay: 5 });
    await converged([a, b, q], (d) => plain(d).includes('from A') && attrsOf(d, 'Hello').bold === true, "A's bold");

    await b.tiptap((e) => e.commands.focus('end'));
    await b.page.keyboard.press('Enter');
    await b.page.keyboard.type('- first item', { delay: 5 });
    await b.page.keyboard.press('Enter');
    await b.page.keyboard.type('second item', { delay: 5 });
    await converged([a, b, q], (d) => plain(d).includes('second item'), "B's list");

    await a.tiptap((e) => {
      const end = e.state.doc.firstChild.nodeSize - 1;
      e.chain().setTextSelection({ from: end - 4, to: end }).setLink({ href: 'https://a.example/' }).run();
    });
    await converged([a, b, q], (d) => attrsOf(d, 'om A').link !== undefined, "A's link");

    await q.page.locator('.ql-editor').click();
    // An empty first line, so that "Notes" takes no format of "Hello".
    await q.page.evaluate(() => window.flowstate.quill.setSelection(0, 0, 'user'));
    await q.page.keyboard.press('Enter');
    await q.page.evaluate(() => window.flowstate.quill.setSelection(0, 0, 'user'));
    await q.page.keyboard.type('Notes', { delay: 5 });
    await q.page.evaluate(() => window.flowstate.quill.formatLine(0, 1, 'header', 2, 'user'));
    const acked = await converged([a, b, q], (d) => blockOf(d, 'Notes').header === 2, "Quill's heading");
    richAcked(acked.delta);
    assert.ok(acked.json.content.some((n) => n.type === 'heading' && n.attrs.level === 2), 'a heading in TipTap');
    assert.ok(acked.json.content.some((n) => n.type === 'bulletList' && n.content.length === 2), 'a two-item list in TipTap');
    await Promise.all([a.saved(), b.saved(), q.saved()]);

    // B keeps typing at the end of the list, and the server dies in the
    // middle: only some of these keys are acknowledged.
    const tail = ' and more typed as the server dies';
    await b.page.evaluate(() => window.flowstate.checkpoint());
    const ackedBefore = await b.acked();
    await b.tiptap((e) => e.commands.focus('end'));
    const typing = b.page.keyboard.type(tail, { delay: 25 });
    await b.until((n) => window.flowstate.acked() >= n + 5, ackedBefore, 'some of B\'s keys acknowledged');
    await server.kill(); // SIGKILL: no chance to save anything more
    const ackedAtKill = await (async () => {
      // An Ack read from the socket before it closed still counts.
      await b.until(() => window.flowstate.provider.status !== 'synced' && window.flowstate.provider.status !== 'connected', undefined, 'B sees the server gone');
      return b.acked();
    })();
    assert.ok(ackedAtKill >= ackedBefore + 5);

    // Every page goes offline, so that none can resend what the server
    // should have kept; they edit while it is down.
    await Promise.all([a.offline(), b.offline(), q.offline()]);
    await typing;
    await a.tiptap((e) => e.commands.focus('end'));
    await a.page.keyboard.press('Enter');
    await a.page.keyboard.type('third item written while down', { delay: 5 });
    await q.page.evaluate(() => window.flowstate.quill.setSelection(5, 0, 'user'));
    await q.page.keyboard.type(' (down)', { delay: 5 });
    const log = await b.page.evaluate(() => window.flowstate.log());
    assert.equal(log.at(-1).changes - log[0].changes, tail.length, 'one change per key typed');
    assert.ok(await b.unsynced() > 0, 'B has keys the server never acknowledged');

    // The server rebuilds the room from the same data file. It must hold
    // B's state after one of its changes from the last acknowledged on:
    // the acknowledged ones surely, later ones maybe, in order.
    await server.restart(); // same port, same data file
    const stored = await roomState(server, room);
    assert.equal(stored.open, false, 'the room is rebuilt from the store, not from a page');
    const kept = log.filter((e, i) => e.changes >= ackedAtKill && log[i + 1]?.changes !== e.changes);
    assert.ok(
      kept.some((e) => isDeepStrictEqual(e.delta, stored.deltas.body)),
      `the server lost acknowledged edits (B's last acknowledged change: ${ackedAtKill}):\n` +
        `stored: ${JSON.stringify(plain(stored.deltas.body))}\n` +
        `allowed: ${kept.map((e) => JSON.stringify(plain(e.delta))).join('\n         ')}`,
    );
    richAcked(stored.deltas.body);
    const storedAt = kept.find((e) => isDeepStrictEqual(e.delta, stored.deltas.body)).changes - log[0].changes;
    t.diagnostic(`B's keys typed: ${tail.length}, acknowledged at the kill: ${ackedAtKill - log[0].changes}, on disk: ${storedAt}`);
    assert.ok(!plain(stored.deltas.body).includes('down'), 'an edit made offline reached the server');

    // A page opened now, with the others still offline, shows it all.
    const c = await open(t, room, 'Carol');
    const early = await c.state();
    assert.deepEqual(early.delta, stored.deltas.body);
    assert.ok(early.json.content.some((n) => n.type === 'heading' && n.attrs.level === 2), 'the heading on the late page');
    assert.ok(early.json.content.some((n) => n.type === 'bulletList' && n.content.length === 2), 'the list on the late page');

    // Back online, the pages send what the server lacks, type more, and all
    // converge on the same document.
    await Promise.all([a.online(), b.online(), q.online()]);
    const down = (d) => plain(d).includes(`second item${tail}`) && plain(d).includes('third item written while down') && plain(d).includes('Notes (down)');
    await converged([a, b, q, c], down, 'the edits made while the server was down');
    await c.tiptap((e) => e.commands.focus('end'));
    await c.page.keyboard.type(' after the restart', { delay: 5 });
    await a.tiptap((e) => e.chain().focus().setTextSelection({ from: 1, to: 6 }).run());
    await a.page.keyboard.press('Control+i');
    const final = await converged(
      [a, b, q, c],
      (d) => down(d) && plain(d).includes('after the restart') && attrsOf(d, 'Notes').italic === true,
      'the edits after the restart',
    );
    assert.deepEqual(attrsOf(final.delta, 'Hello'), { bold: true }, '"Hello" still bold');
    assert.deepEqual(attrsOf(final.delta, 'om A'), { link: 'https://a.example/' }, 'the link still there');
    assert.deepEqual(blockOf(final.delta, 'Notes'), { header: 2 }, 'the heading still there');
    assert.deepEqual(blockOf(final.delta, 'third item'), { list: 'bullet' }, 'the item written while down is in the list');
    await Promise.all([a.saved(), b.saved(), q.saved(), c.saved()]);

    // A page opened last shows everything, and so does the server's store.
    const d = await open(t, room, 'Dave');
    const late = await converged([a, b, q, c, d], () => true, 'the last page');
    assert.deepEqual(late, final);
    assert.deepEqual((await roomState(server, room)).deltas.body, final.delta);
    await d.screenshot('richkill');
  });
});
