// The demo page as a first-time user meets it: a server with auth on, a
// server that stops, remote carets over text, colours, a bad room name.
// Every wait polls the page; nothing sleeps. Screenshots go to
// e2e/artifacts/demo-*.png.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mintToken, startServer } from '../test/server.js';
import { Tab, eventually, launch, skipReason, uniqueRoom } from './harness.js';

const SECRET = 'a-demo-secret-of-at-least-32-bytes!!';

/** notice returns the text above the editor, or '' when it is hidden. */
function notice(tab) {
  return tab.page.evaluate(() => (document.querySelector('#notice').hidden ? '' : document.querySelector('#error').textContent));
}

/** editable reports whether the editor takes typing. */
function editable(tab) {
  return tab.page.evaluate(() => document.querySelector('.cm-content').getAttribute('contenteditable') === 'true');
}

/** openPage opens the demo at path (with its query) without waiting for a status. */
async function openPage(browser, httpURL, path, t, init) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 560 } });
  t.after(() => context.close());
  if (init) await context.addInitScript(init.fn, init.arg);
  const page = await context.newPage();
  const tab = new Tab(context, page);
  await page.goto(`${httpURL}${path}`);
  return tab;
}

describe('the demo page', { skip: skipReason }, () => {
  let browser;
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });

  test('with auth on: says a token is needed, takes one, and syncs', async (t) => {
    const server = await startServer({ args: ['--auth-secret', SECRET] });
    t.after(() => server.stop());
    const room = uniqueRoom('auth');

    const tab = await openPage(browser, server.httpURL, `/?room=${room}`, t);
    await tab.until(() => !document.querySelector('#token-form').hidden, undefined, 'the token field');
    assert.equal(await tab.status(), 'error');
    assert.match(await notice(tab), /needs an access token/);
    assert.doesNotMatch(await notice(tab), /4401|code/);
    assert.equal(await editable(tab), false, 'the editor invites typing that cannot sync');
    await tab.screenshot('demo-auth-needed');

    const token = await mintToken({ secret: SECRET, room });
    await tab.page.fill('#token', token);
    await tab.page.click('#token-form button');
    await tab.waitStatus('synced');
    assert.equal(await editable(tab), true);
    assert.equal(await notice(tab), '');
    assert.equal(new URL(tab.page.url()).searchParams.get('token'), token, 'a reload would lose the token');
    await tab.type('typed with a token');
    await tab.waitStatus('synced');

    // A link with ?token= works at once, and shows what the other typed.
    const other = await openPage(browser, server.httpURL, `/?room=${room}&token=${encodeURIComponent(token)}`, t);
    await other.waitStatus('synced');
    assert.equal(await other.text(), 'typed with a token');

    // A token for another room is refused in words, with the field again.
    const wrong = await openPage(browser, server.httpURL, `/?room=${room}&token=${encodeURIComponent(await mintToken({ secret: SECRET, room: 'elsewhere' }))}`, t);
    await wrong.until(() => !document.querySelector('#token-form').hidden, undefined, 'the token field');
    assert.match(await notice(wrong), /does not allow|refused/);
    assert.equal(await editable(wrong), false);
    await wrong.screenshot('demo-auth-wrong-room');
    assert.deepEqual([...tab.errors, ...other.errors], []);
  });

  test('an expired token: the page asks for a new one, and takes edits again with it', async (t) => {
    const server = await startServer({ args: ['--auth-secret', SECRET] });
    t.after(() => server.stop());
    const room = uniqueRoom('expiry');
    // The token expires while the page is open (or, on a slow machine,
    // already while it loads): either way the page must ask for another.
    const short = await mintToken({ secret: SECRET, room, ttl: '4s' });
    const tab = await openPage(browser, server.httpURL, `/?room=${room}&token=${encodeURIComponent(short)}`, t);
    await tab.until(() => /expired/.test(document.querySelector('#error').textContent), undefined, 'the expiry message');
    assert.equal(await tab.page.locator('#token-form').isVisible(), true);
    assert.equal(await editable(tab), false, 'the editor invites typing that cannot sync');
    await tab.screenshot('demo-token-expired');
    await tab.page.fill('#token', await mintToken({ secret: SECRET, room }));
    await tab.page.click('#token-form button');
    await tab.waitStatus('synced');
    assert.equal(await editable(tab), true, 'the editor stays locked with a fresh token');
    await tab.type('after a new token.');
    await tab.waitStatus('synced');
    assert.equal(await tab.text(), 'after a new token.');
  });

  test('a stopped server: a clean shutdown, then retries in words, and Retry now', async (t) => {
    const server = await startServer();
    t.after(() => server.stop());
    const room = uniqueRoom('down');
    const tab = await Tab.open(browser, server.httpURL, room);
    await tab.type('before the stop. ');
    await tab.waitStatus('synced');

    await server.stop(); // SIGTERM: the server closes every session with 1001
    await tab.until(() => /shut down cleanly/.test(document.querySelector('#error').textContent), undefined, 'the shutdown message');
    await tab.until(() => /Retrying in \d+ s/.test(document.querySelector('#error').textContent), undefined, 'a countdown');
    const text = await notice(tab);
    assert.doesNotMatch(text, /1001|1006|code/);
    assert.match(text, /Your edits stay here/);
    assert.equal(await tab.page.locator('#retry').isVisible(), true);
    assert.equal(await editable(tab), true, 'offline edits are kept and sent later');
    await tab.type('written while it was down. ');
    await tab.screenshot('demo-server-stopped');
    // Retry now tries at once: one more WebSocket, and the same words.
    const sockets = [];
    tab.page.on('websocket', (ws) => sockets.push(ws.url()));
    await tab.page.click('#retry');
    await tab.until(() => /shut down cleanly/.test(document.querySelector('#error').textContent), undefined, 'the message after Retry now');
    await eventually(async () => sockets.length > 0, 'a connection attempt after Retry now');

    // Back up: the page reconnects by itself (or by the button).
    await server.restart();
    await tab.waitStatus('synced');
    assert.equal(await notice(tab), '');

    await server.kill(); // a crash: no close frame at all
    await tab.until(() => /Can't reach the server/.test(document.querySelector('#error').textContent), undefined, "the can't-reach message");
    assert.doesNotMatch(await notice(tab), /1006|code/);
    await tab.screenshot('demo-server-unreachable');
    await server.restart();
    await tab.waitStatus('synced');
    const fresh = await Tab.open(browser, server.httpURL, room);
    t.after(() => fresh.close());
    assert.equal(await fresh.text(), 'before the stop. written while it was down. ');
    assert.deepEqual(tab.errors, []);
  });

  test("remote carets' names do not cover the line above until hovered", async (t) => {
    const server = await startServer();
    t.after(() => server.stop());
    const room = uniqueRoom('labels');
    const ada = await Tab.open(browser, server.httpURL, room);
    const bob = await Tab.open(browser, server.httpURL, room);
    t.after(() => Promise.all([ada.close(), bob.close()]));
    await ada.type('the first line, which a label must not hide\nsecond');
    await bob.until(() => document.querySelectorAll('.cm-fs-caret-label').length === 1, undefined, "Ada's caret");
    const label = bob.page.locator('.cm-fs-caret-label');
    assert.equal(await label.evaluate((l) => getComputedStyle(l).opacity), '0');
    await bob.screenshot('demo-caret-idle');
    await bob.page.locator('.cm-fs-caret').hover({ force: true });
    await bob.until(() => getComputedStyle(document.querySelector('.cm-fs-caret-label')).opacity === '1', undefined, 'the label on hover');
    await bob.screenshot('demo-caret-hover');
  });

  test('people present get colours of their own', async (t) => {
    const server = await startServer();
    t.after(() => server.stop());
    const room = uniqueRoom('colours');
    // Every tab starts with the same colour, the worst case.
    const same = {
      fn: (c) => sessionStorage.setItem('flowstate.tab', JSON.stringify({ name: `Same ${Math.random().toString(36).slice(2, 6)}`, color: c })),
      arg: '#e11d48',
    };
    const tabs = [];
    for (let i = 0; i < 5; i++) {
      const tab = await openPage(browser, server.httpURL, `/?room=${room}`, t, same);
      await tab.waitStatus('synced');
      tabs.push(tab);
    }
    const deadline = Date.now() + 20_000;
    let colours = [];
    for (;;) {
      colours = await Promise.all(
        tabs.map((tab) =>
          tab.page.evaluate(() => {
            const { presence } = window.flowstate;
            return { mine: presence.local.color, seen: presence.states.size };
          }),
        ),
      );
      if (colours.every((c) => c.seen === tabs.length - 1) && new Set(colours.map((c) => c.mine)).size === tabs.length) break;
      if (Date.now() > deadline) assert.fail(`colours did not settle apart: ${JSON.stringify(colours)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await tabs[0].screenshot('demo-colours');
  });

  test('an invalid room shows only the error and a way to a valid one', async (t) => {
    const server = await startServer();
    t.after(() => server.stop());
    const tab = await openPage(browser, server.httpURL, `/?room=${encodeURIComponent('my notes/today')}`, t);
    await tab.until(() => !document.querySelector('#room-form').hidden, undefined, 'the room form');
    assert.equal(await tab.status(), 'error');
    assert.match(await notice(tab), /is not a room name/);
    assert.equal(await tab.page.locator('#editor').isVisible(), false);
    assert.equal(await tab.page.locator('.side').isVisible(), false);
    assert.equal(await tab.page.inputValue('#room-input'), 'my-notes-today');
    await tab.screenshot('demo-invalid-room');
    await tab.page.click('#room-form button');
    await tab.waitStatus('synced');
    assert.equal(new URL(tab.page.url()).searchParams.get('room'), 'my-notes-today');
  });
});
