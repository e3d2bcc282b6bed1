// End-to-end: the demo page offline, on Chromium's real IndexedDB and
// BroadcastChannel against the real server. A page edits offline, is
// reloaded three times, the browser is closed and opened again offline,
// and when the network returns the server and another person have every
// edit exactly once; a page reopened offline shows the stored text
// before its Doc loads (a large one, its first screen first) and keeps
// what is typed before the load; two tabs converge with the server
// stopped and upload each change once; a browser that blocks site data,
// or runs out of quota, keeps editing without persistence.
//
// The app shell: a page loaded while the network is off needs its HTML
// and scripts from somewhere (a service worker, in an app). Here a route
// serves the last response seen for each URL when the network fails.
// Chromium then takes the page for one outside the loopback network and
// its local network access checks would refuse the WebSocket to
// 127.0.0.1, so these browsers run without those checks.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import { startServer } from '../test/server.js';
import { CHROMIUM, Tab, converged, eventually, launch, skipReason, uniqueRoom } from './harness.js';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-features=LocalNetworkAccessChecks',
];

/** metric returns the server's counter flowstate_NAME. */
async function metric(server, name) {
  const body = await (await fetch(`${server.httpURL}/metrics`)).text();
  const m = new RegExp(`^flowstate_${name} (\\d+)$`, 'm').exec(body);
  assert.ok(m, `no flowstate_${name} in /metrics`);
  return Number(m[1]);
}

/**
 * profile launches Chromium on the user data directory dir, as a person's
 * browser that keeps its storage across restarts, with the app shell
 * route.
 * @param {string} dir
 * @param {Map<string, object>} shell the responses seen, by URL, kept across launches
 * @param {{offline?: boolean}} [options]
 */
async function profile(dir, shell, options = {}) {
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    args: ARGS,
    offline: options.offline ?? false,
    viewport: { width: 1100, height: 700 },
  });
  await context.route('**/*', async (route) => {
    const url = route.request().url();
    try {
      const r = await route.fetch();
      const saved = { status: r.status(), headers: r.headers(), body: await r.body() };
      shell.set(url, saved);
      await route.fulfill(saved);
    } catch {
      const saved = shell.get(url);
      if (saved) await route.fulfill(saved);
      else await route.abort('internetdisconnected');
    }
  });
  return context;
}

/**
 * holdLoad, an init script, holds the stored document's load until the
 * test lets it go: the rendering (window.releaseRendering) and the Doc
 * (window.releaseLoad). Module scripts run before DOMContentLoaded, and
 * IndexedDB answers later.
 */
function holdLoad() {
  document.addEventListener('DOMContentLoaded', () => {
    const p = window.flowstate.persistence;
    window.hookInTime = !p.synced && p.db === null;
    const rendering = p.readRendering;
    p.readRendering = (...args) => {
      window.releaseRendering = () => rendering.apply(p, args);
    };
    const records = p.readRecords;
    p.readRecords = (...args) => {
      window.releaseLoad = () => records.apply(p, args);
    };
  });
}

/**
 * holdOpen, an init script, holds IndexedDB's answer to the page's open
 * until the test lets it go (window.releaseOpen), as a slow disk or a
 * busy browser would.
 */
function holdOpen() {
  const open = IDBFactory.prototype.open;
  IDBFactory.prototype.open = function (...args) {
    const req = open.apply(this, args);
    let onsuccess = null;
    let event = null;
    Object.defineProperty(req, 'onsuccess', { configurable: true, get: () => onsuccess, set: (h) => (onsuccess = h) });
    req.addEventListener('success', (e) => {
      event = e;
      if (window.openReleased && onsuccess) onsuccess.call(req, e);
    });
    window.releaseOpen = () => {
      window.openReleased = true;
      if (event !== null && onsuccess) onsuccess.call(req, event);
    };
    return req;
  };
}

/** page opens the demo of room in context and returns it as a Tab. */
async function page(context, httpURL, room) {
  const p = context.pages().find((x) => x.url() === 'about:blank') ?? (await context.newPage());
  const tab = new Tab(context, p);
  await p.goto(`${httpURL}/?room=${encodeURIComponent(room)}`);
  await tab.until(() => window.flowstate !== undefined, undefined, 'the demo to start');
  return tab;
}

/** saved waits for the demo's save line to read want. */
function saved(tab, want) {
  return tab.until((w) => document.querySelector('#saved')?.textContent === w, want, `"${want}"`);
}

/** editable reports whether the editor takes typing. */
function editable(tab) {
  return tab.page.evaluate(() => document.querySelector('.cm-content').getAttribute('contenteditable') === 'true');
}

/** shows waits until tab's editor holds want. */
function shows(tab, want) {
  return tab.until((w) => window.flowstate.view.state.doc.toString() === w, want, `the text ${JSON.stringify(want)}`);
}

describe('offline', { skip: skipReason }, () => {
  /** @type {import('playwright-core').Browser} */
  let browser;
  const dirs = [];

  /** tempDir returns a fresh directory, removed after the tests. */
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'flowstate-profile-'));
    dirs.push(d);
    return d;
  };

  before(async () => {
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('offline edits survive three reloads and a browser restart, and reach the server once', async (t) => {
    const server = await startServer();
    t.after(() => server.stop());
    const room = uniqueRoom('offline');
    const dir = tempDir();
    const shell = new Map();
    let context = await profile(dir, shell);
    let tab = await page(context, server.httpURL, room);
    await tab.waitStatus('synced');
    await saved(tab, 'saved');

    await context.setOffline(true);
    await tab.waitStatus('offline');
    let want = 'one ';
    await tab.type('one ');
    await saved(tab, 'offline, 4 changes pending');
    for (let i = 0; i < 3; i++) {
      await tab.page.evaluate(() => window.flowstate.persistence.whenSaved());
      await tab.page.reload();
      await shows(tab, want);
      await saved(tab, `offline, ${want.length} changes pending`);
      await tab.type(`r${i} `);
      want += `r${i} `;
    }
    await saved(tab, `offline, ${want.length} changes pending`);
    await tab.page.evaluate(() => window.flowstate.persistence.whenSaved());
    assert.deepEqual(tab.errors, []);
    await context.close();

    // The browser starts again with the network still off.
    context = await profile(dir, shell, { offline: true });
    tab = await page(context, server.httpURL, room);
    await shows(tab, want);
    await tab.type('end');
    want += 'end';
    await saved(tab, `offline, ${want.length} changes pending`);
    const before = await metric(server, 'updates_received_total');
    await context.setOffline(false);
    await tab.waitStatus('synced');
    await saved(tab, 'saved');
    assert.equal(await metric(server, 'updates_received_total'), before + 1, 'one catch-up update');
    const other = await Tab.open(browser, server.httpURL, room);
    assert.equal(await other.text(), want, 'every edit exactly once');
    assert.deepEqual([...tab.errors, ...other.errors], []);
    await other.close();
    await context.close();
  });

  test('reopened offline, the demo shows the stored text before the Doc loads and keeps what is typed before it', async (t) => {
    const server = await startServer();
    t.after(() => server.stop());
    const room = uniqueRoom('paint');
    const dir = tempDir();
    const shell = new Map();
    let context = await profile(dir, shell);
    let tab = await page(context, server.httpURL, room);
    await tab.waitStatus('synced');
    const rendered = 'a stored line\nand another one';
    await tab.type(rendered);
    await saved(tab, 'saved');
    // Leaving the page (pagehide) stores the rendering. A page closed for
    // real may end before the write commits, so the test fires the event
    // and waits for the write.
    await tab.page.evaluate(() => {
      window.dispatchEvent(new PageTransitionEvent('pagehide'));
      return window.flowstate.persistence.whenSaved();
    });
    assert.deepEqual(tab.errors, []);
    await context.close();
    // Edits after it: a context closed by the test fires no pagehide, so
    // the rendering lacks them, and the Doc brings them in.
    context = await profile(dir, shell);
    tab = await page(context, server.httpURL, room);
    await shows(tab, rendered);
    await tab.type(', later');
    await saved(tab, 'saved');
    await tab.page.evaluate(() => window.flowstate.persistence.whenSaved());
    assert.deepEqual(tab.errors, []);
    await context.close();

    context = await profile(dir, shell, { offline: true });
    t.after(() => context.close());
    await context.addInitScript(holdLoad);
    tab = await page(context, server.httpURL, room);
    // A short text is whole in its first screen: the rendering adds nothing.
    await tab.until(() => window.releaseRendering !== undefined, undefined, 'the rendering to be held');
    await tab.page.evaluate(() => window.releaseRendering());
    await tab.until(() => window.releaseLoad !== undefined, undefined, 'the Doc load to be held');
    assert.equal(await tab.page.evaluate(() => window.hookInTime), true, 'the hook came after the load began');
    await tab.until((s) => [...document.querySelectorAll('.cm-line')].map((l) => l.textContent).join('\n') === s, rendered, 'the stored rendering on screen');
    assert.equal(await tab.page.evaluate(() => window.flowstate.persistence.synced), false);
    assert.equal(await editable(tab), true, 'the stored text takes typing before the Doc is loaded');
    assert.equal(await tab.page.textContent('#saved'), 'loading…', 'the count of pending changes is not known yet');
    // Typed at the end of the first line, with the Doc not loaded: the
    // editor keeps it, the Doc gets it once loaded.
    await tab.page.locator('.cm-content').click();
    await tab.page.evaluate(() => window.flowstate.view.dispatch({ selection: { anchor: 'a stored line'.length } }));
    await tab.page.keyboard.type(' typed');
    assert.equal(await tab.page.evaluate(() => window.flowstate.text.toString()), '', 'the Doc is not loaded');

    await tab.page.evaluate(() => window.releaseLoad());
    await tab.until(() => window.flowstate.persistence.synced, undefined, 'the Doc to load');
    const stored = 'a stored line typed\nand another one, later';
    await shows(tab, stored);
    assert.equal(await tab.page.evaluate(() => window.flowstate.text.toString()), stored);
    assert.equal(await tab.page.evaluate(() => window.flowstate.view.state.selection.main.head), 'a stored line typed'.length, 'the caret stays after the typing');
    await tab.page.keyboard.type('!');
    await tab.type(' and more');
    const want = 'a stored line typed!\nand another one, later and more';
    await shows(tab, want);
    assert.equal(await tab.page.evaluate(() => window.flowstate.text.toString()), want);
    // One change for what was typed before the load (one transaction), one a keystroke after.
    await saved(tab, 'offline, 11 changes pending');

    await context.setOffline(false);
    await tab.waitStatus('synced');
    await saved(tab, 'saved');
    const other = await Tab.open(browser, server.httpURL, room);
    assert.equal(await other.text(), want, 'every edit exactly once');
    assert.deepEqual([...tab.errors, ...other.errors], []);
    await other.close();
  });

  test('the first screen paints from its copy in localStorage while IndexedDB has not answered the open', async (t) => {
    const server = await startServer();
    t.after(() => server.stop());
    const room = uniqueRoom('local');
    const dir = tempDir();
    const shell = new Map();
    let context = await profile(dir, shell);
    let tab = await page(context, server.httpURL, room);
    await tab.waitStatus('synced');
    const stored = 'kept in the first screen\nand its copy';
    await tab.type(stored);
    await saved(tab, 'saved');
    await tab.page.evaluate(() => {
      window.dispatchEvent(new PageTransitionEvent('pagehide'));
      return window.flowstate.persistence.whenSaved();
    });
    await tab.until(() => localStorage.length > 0, undefined, 'the copy of the first screen');
    await context.close();

    context = await profile(dir, shell, { offline: true });
    t.after(() => context.close());
    await context.addInitScript(holdOpen);
    tab = await page(context, server.httpURL, room);
    await shows(tab, stored);
    assert.equal(await tab.page.evaluate(() => window.flowstate.persistence.db), null, 'IndexedDB has not opened');
    await tab.page.evaluate(() => window.releaseOpen());
    await tab.until(() => window.flowstate.persistence.synced, undefined, 'the Doc to load');
    assert.equal(await tab.page.evaluate(() => window.flowstate.text.toString()), stored);
    await tab.type('!');
    await shows(tab, stored + '!');
    // clearData removes the copy with the database.
    await tab.page.evaluate(() => window.flowstate.persistence.clearData());
    assert.equal(await tab.page.evaluate(() => localStorage.length), 0, 'clearData left the copy');
    assert.deepEqual(tab.errors, []);
  });

  test('a large stored document paints its first screen, then the rest, keeping typing, the caret and the scroll', async (t) => {
    const server = await startServer();
    t.after(() => server.stop());
    const room = uniqueRoom('screen');
    const dir = tempDir();
    const shell = new Map();
    let context = await profile(dir, shell);
    let tab = await page(context, server.httpURL, room);
    await tab.waitStatus('synced');
    // Some 50 000 units: three first screens' worth.
    const line = (i) => `line ${String(i).padStart(4, '0')} of a document longer than its first screen`;
    const stored = Array.from({ length: 800 }, (_, i) => line(i)).join('\n');
    await tab.page.evaluate((s) => {
      const v = window.flowstate.view;
      v.dispatch({ changes: { from: 0, insert: s } });
      window.dispatchEvent(new PageTransitionEvent('pagehide'));
      return window.flowstate.persistence.whenSaved();
    }, stored);
    await saved(tab, 'saved');
    await context.close();

    context = await profile(dir, shell, { offline: true });
    t.after(() => context.close());
    await context.addInitScript(holdLoad);
    tab = await page(context, server.httpURL, room);
    await tab.until(() => window.releaseRendering !== undefined, undefined, 'the rendering to be held');
    const state = () =>
      tab.page.evaluate(() => {
        const v = window.flowstate.view;
        return { text: v.state.doc.toString(), head: v.state.selection.main.head, top: v.scrollDOM.scrollTop, doc: window.flowstate.text.toString() };
      });
    await tab.until(() => window.flowstate.view.state.doc.length > 0, undefined, 'the first screen');
    let s = await state();
    assert.ok(s.text.length < stored.length / 2 && stored.startsWith(s.text), `the first screen, ${s.text.length} units, is the start of the document`);
    assert.equal(await editable(tab), true);
    // Scrolled down a little, the caret on line 20, and typing.
    const at = stored.indexOf(line(20)) + 'line '.length;
    await tab.page.locator('.cm-content').click();
    await tab.page.evaluate((at) => {
      const v = window.flowstate.view;
      v.dispatch({ selection: { anchor: at } });
      v.scrollDOM.scrollTop = 200;
    }, at);
    await tab.page.keyboard.type('AB');
    s = await state();
    const top = s.top;
    assert.ok(top > 0, 'the editor scrolled');
    assert.equal(s.head, at + 2);

    await tab.page.evaluate(() => window.releaseRendering());
    await tab.until((n) => window.flowstate.view.state.doc.length === n, stored.length + 2, 'the whole rendering');
    s = await state();
    let want = stored.slice(0, at) + 'AB' + stored.slice(at);
    assert.equal(s.text, want, 'the rest came after the typing, which stayed');
    assert.equal(s.head, at + 2, 'the caret stayed');
    assert.equal(s.top, top, 'the scroll position stayed');
    assert.equal(s.doc, '', 'the Doc is not loaded');
    await tab.until(() => window.releaseLoad !== undefined, undefined, 'the Doc load to be held');
    await tab.page.keyboard.type('C');
    want = stored.slice(0, at) + 'ABC' + stored.slice(at);

    await tab.page.evaluate(() => window.releaseLoad());
    await tab.until(() => window.flowstate.persistence.synced, undefined, 'the Doc to load');
    s = await state();
    assert.deepEqual({ text: s.text, doc: s.doc, head: s.head, top: s.top }, { text: want, doc: want, head: at + 3, top });
    await saved(tab, 'offline, 1 change pending'); // one transaction

    await context.setOffline(false);
    await tab.waitStatus('synced');
    await saved(tab, 'saved');
    const other = await Tab.open(browser, server.httpURL, room);
    assert.equal(await other.text(), want, 'every edit exactly once');
    assert.deepEqual([...tab.errors, ...other.errors], []);
    await other.close();
  });

  test('an edit whose write is still waiting for IndexedDB when the tab closes is kept', async (t) => {
    const server = await startServer();
    t.after(() => server.stop());
    const room = uniqueRoom('closing');
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    t.after(() => context.close());
    const tab = await page(context, server.httpURL, room);
    await tab.waitStatus('synced');
    await tab.type('before ');
    await saved(tab, 'saved');
    await server.kill();
    await tab.waitStatus('offline');
    // Another connection's transaction, kept alive by request after
    // request, holds the store: the page's next write waits behind it, as
    // writes do behind each other on a busy machine, until the page goes
    // away and takes the holder with it.
    await tab.page.evaluate(
      (name) =>
        new Promise((resolve, reject) => {
          const req = indexedDB.open(name, 1);
          req.onsuccess = () => {
            const store = req.result.transaction(['updates'], 'readwrite').objectStore('updates');
            const spin = () => (store.count().onsuccess = spin);
            spin();
            resolve();
          };
          req.onerror = () => reject(req.error);
        }),
      'flowstate:' + room,
    );
    await tab.type('after', { end: true });
    await tab.until(() => window.flowstate.persistence.writing > 0, undefined, 'a write in flight');
    assert.equal(await tab.page.evaluate(() => window.flowstate.persistence.saving), true);
    await tab.page.close();

    await server.restart();
    const again = await page(context, server.httpURL, room);
    await again.waitStatus('synced');
    assert.equal(await again.text(), 'before after');
    assert.deepEqual([...tab.errors, ...again.errors], []);
  });

  test('two tabs converge with the server stopped, and it receives each change once', async (t) => {
    const server = await startServer();
    t.after(() => server.stop());
    const room = uniqueRoom('tabs');
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    t.after(() => context.close());
    const a = await page(context, server.httpURL, room);
    const b = await page(context, server.httpURL, room);
    await Promise.all([a.waitStatus('synced'), b.waitStatus('synced')]);
    // The server goes down and the network with it; it comes back first,
    // so that the browser's online event reconnects both tabs at once and
    // each sees a server lacking everything.
    await server.kill();
    await context.setOffline(true);
    await Promise.all([a.waitStatus('offline'), b.waitStatus('offline')]);

    await a.type('Ada types in the first tab. ');
    await b.type('Bob types in the second. ');
    const text = await converged([a, b], (s) => s.length === 53, 'both tabs’ text, without the server');
    // Each tab shows the other's presence, carried by the channel.
    const idOf = (tab) => tab.page.evaluate(() => window.flowstate.provider.clientID);
    const [ida, idb] = [await idOf(a), await idOf(b)];
    await a.until((id) => window.flowstate.presence.states.has(id), idb, 'b’s presence in a');
    await b.until((id) => window.flowstate.presence.states.has(id), ida, 'a’s presence in b');

    await server.restart();
    await context.setOffline(false);
    await Promise.all([a.waitStatus('synced'), b.waitStatus('synced')]);
    await Promise.all([saved(a, 'saved'), saved(b, 'saved')]);
    assert.equal(await metric(server, 'updates_received_total'), 2, 'one catch-up per tab, each with its own changes');
    const size = await a.page.evaluate(() => window.flowstate.doc.snapshot().length);
    const bytes = await metric(server, 'update_bytes_received_total');
    assert.ok(bytes < size * 1.5, `the server received ${bytes} bytes for a document of ${size}`);
    const other = await Tab.open(browser, server.httpURL, room);
    assert.equal(await other.text(), text);
    assert.deepEqual([...a.errors, ...b.errors, ...other.errors], []);
    await other.close();
  });

  test('a browser that blocks site data keeps editing without persistence', async (t) => {
    const server = await startServer();
    t.after(() => server.stop());
    const room = uniqueRoom('blocked');
    const dir = tempDir();
    // Chromium's "block sites from saving data" setting: IndexedDB refuses to open.
    mkdirSync(join(dir, 'Default'), { recursive: true });
    writeFileSync(join(dir, 'Default', 'Preferences'), JSON.stringify({ profile: { default_content_setting_values: { cookies: 2 } } }));
    const context = await profile(dir, new Map());
    t.after(() => context.close());
    const tab = await page(context, server.httpURL, room);
    await tab.waitStatus('synced');
    await saved(tab, 'saved · not stored in this browser');
    assert.equal(await tab.page.evaluate(() => window.flowstate.persistence.error.name), 'UnknownError');
    await tab.type('still works');
    await saved(tab, 'saved · not stored in this browser');
    const other = await Tab.open(browser, server.httpURL, room);
    assert.equal(await other.text(), 'still works');
    assert.deepEqual([...tab.errors, ...other.errors], []);
    await other.close();
  });

  test('running out of quota turns persistence off with an event; editing goes on', async (t) => {
    const server = await startServer();
    t.after(() => server.stop());
    const room = uniqueRoom('quota');
    const context = await browser.newContext();
    t.after(() => context.close());
    const p = await context.newPage();
    const cdp = await context.newCDPSession(p);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.httpURL, quotaSize: 200_000 });
    const tab = new Tab(context, p);
    await p.goto(`${server.httpURL}/?room=${room}`);
    await tab.waitStatus('synced');
    await tab.type('small ');
    await tab.page.evaluate(() => window.flowstate.persistence.whenSaved());
    assert.equal(await tab.page.evaluate(() => window.flowstate.persistence.enabled), true);
    const events = tab.page.evaluate(
      () => new Promise((resolve) => window.flowstate.persistence.on('disabled', (e) => resolve(e.name))),
    );
    // A paste of a megabyte does not fit.
    await tab.page.evaluate(() => {
      const v = window.flowstate.view;
      v.dispatch({ changes: { from: v.state.doc.length, insert: 'x'.repeat(1 << 20) } });
    });
    assert.equal(await events, 'QuotaExceededError');
    await tab.type('more', { end: true });
    await tab.waitStatus('synced');
    await saved(tab, 'saved · not stored in this browser');
    const other = await Tab.open(browser, server.httpURL, room);
    await eventually(async () => (await other.text()).length === 6 + (1 << 20) + 4, 'the other page to have every edit');
    assert.deepEqual([...tab.errors, ...other.errors], []);
    await other.close();
  });
});
