// End-to-end: people editing the demo page together in real Chromium
// against the real server. Every wait polls the pages' state; nothing
// sleeps.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer } from '../test/server.js';
import { Tab, converged, eventually, launch, skipReason, uniqueRoom } from './harness.js';

/**
 * inMemory reports whether the server said, when it started listening,
 * that it keeps documents in memory only.
 */
function inMemory(server) {
  for (const line of server.logs().split('\n')) {
    try {
      const rec = JSON.parse(line);
      if (rec.msg === 'listening') return /in memory/i.test(String(rec.storage ?? ''));
    } catch {
      // not a JSON record
    }
  }
  return false;
}

/**
 * splitOnce reports whether s is the run a with the run b inserted whole
 * at one place.
 * @param {string} s
 * @param {string} a
 * @param {string} b
 */
function splitOnce(s, a, b) {
  for (let k = 0; k <= a.length; k++) {
    if (s === a.slice(0, k) + b + a.slice(k)) return true;
  }
  return false;
}

/** contains returns a check that the text holds every one of parts. @param {string[]} parts */
const contains = (parts) => (text) => parts.every((p) => text.includes(p));

describe('demo page', { skip: skipReason }, () => {
  /** @type {import('playwright-core').Browser} */
  let browser;
  let server;

  /**
   * open opens a tab for test t, which closes it at its end and fails if
   * the page logged an error.
   * @param {import('node:test').TestContext} t
   * @param {string} room
   */
  const open = async (t, room) => {
    const tab = await Tab.open(browser, server.httpURL, room);
    t.after(async () => {
      await tab.close();
      assert.deepEqual(tab.errors, [], 'the page logged errors');
    });
    return tab;
  };

  before(async () => {
    browser = await launch();
    server = await startServer();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('two people type at once and converge; a late joiner sees it all; cursors carry names', async (t) => {
    const room = uniqueRoom('together');
    const [ada, bob] = [await open(t, room), await open(t, room)];
    const adaWords = 'Ada writes this line. '.repeat(3);
    const bobWords = 'Bob types over here! '.repeat(3);
    await Promise.all([ada.type(adaWords), bob.type(bobWords)]);
    const text = await converged([ada, bob], (s) => s.length === adaWords.length + bobWords.length, 'both runs of text');
    // Whoever starts second types at the other's caret, splitting that run
    // once; beyond that the runs never interleave.
    assert.ok(splitOnce(text, adaWords, bobWords) || splitOnce(text, bobWords, adaWords), `interleaved: ${JSON.stringify(text)}`);
    await Promise.all([ada.waitStatus('synced'), bob.waitStatus('synced')]);

    // Each sees the other's caret labelled with the other's name.
    const [adaName, bobName] = [await ada.name(), await bob.name()];
    await bob.until((n) => [...document.querySelectorAll('.cm-fs-caret-label')].some((l) => l.textContent === n), adaName, `Ada's caret on Bob's page`);
    await ada.until((n) => [...document.querySelectorAll('.cm-fs-caret-label')].some((l) => l.textContent === n), bobName, `Bob's caret on Ada's page`);
    // And in the list of who is here.
    await ada.until((n) => [...document.querySelectorAll('#people .name')].some((l) => l.textContent === n), bobName, 'Bob in the list');
    // Two people do not keep the same colour, and both pages agree on them.
    const colors = (tab) => tab.page.evaluate(() => [...document.querySelectorAll('#people .dot')].map((d) => d.style.backgroundColor).sort());
    await eventually(async () => {
      const [a, b] = [await colors(ada), await colors(bob)];
      return a.length === 2 && a[0] !== a[1] && JSON.stringify(a) === JSON.stringify(b);
    }, 'two different colours, the same on both pages');
    await ada.screenshot('together-ada');
    await bob.screenshot('together-bob');

    const cara = await open(t, room);
    assert.equal(await cara.text(), text, 'a page opened later shows the whole text at its first sync');
    await cara.screenshot('late-joiner');
  });

  test('a selection and a name change reach the other page', async (t) => {
    const room = uniqueRoom('rename');
    const [ada, bob] = [await open(t, room), await open(t, room)];
    await ada.type('select these words');
    await ada.page.keyboard.press('Shift+Home');
    await bob.until(
      () =>
        [...document.querySelectorAll('.cm-fs-selection')]
          .map((e) => {
            const c = e.cloneNode(true);
            for (const caret of c.querySelectorAll('.cm-fs-caret')) caret.remove();
            return c.textContent;
          })
          .join('') === 'select these words',
      undefined,
      `Ada's selection drawn on Bob's page`,
    );
    await bob.screenshot('remote-selection');
    await ada.page.locator('#name').fill('Ada Lovelace');
    await bob.until(() => [...document.querySelectorAll('.cm-fs-caret-label')].some((l) => l.textContent === 'Ada Lovelace'), undefined, 'the new name on the caret');
    await bob.until(() => [...document.querySelectorAll('#people .name')].some((l) => l.textContent === 'Ada Lovelace'), undefined, 'the new name in the list');
  });

  test('the server is killed and restarted: both pages reconnect, keep editing, and nothing is lost', async (t) => {
    const room = uniqueRoom('restart');
    const [ada, bob] = [await open(t, room), await open(t, room)];
    // Each types once the other's text is there, so that the runs do not
    // split each other (concurrent typing is the first test's business).
    const all = [];
    const inTurn = async (tab, words) => {
      await tab.type(words);
      all.push(words);
      await converged([ada, bob], contains(all), JSON.stringify(words));
    };
    await inTurn(ada, 'before the crash (Ada). ');
    await inTurn(bob, 'before the crash (Bob). ');
    await Promise.all([ada.waitStatus('synced'), bob.waitStatus('synced')]);

    await server.kill(); // SIGKILL: no chance to save anything more
    await Promise.all([ada.until(() => window.flowstate.provider.status !== 'synced'), bob.until(() => window.flowstate.provider.status !== 'synced')]);
    // Edits while the server is down wait in the pages.
    await ada.type('while down (Ada). ');
    await bob.type('while down (Bob). ');
    all.push('while down (Ada). ', 'while down (Bob). ');

    await server.restart(); // same port, same data file
    await Promise.all([ada.waitStatus('synced'), bob.waitStatus('synced')]);
    await converged([ada, bob], contains(all), 'the edits made while the server was down');
    await inTurn(ada, 'after the restart (Ada). ');
    await inTurn(bob, 'after the restart (Bob). ');
    await ada.screenshot('after-restart');
  });

  test('what the server acknowledged survives a crash, with no page left to resend it', async (t) => {
    if (inMemory(server)) {
      t.skip('the server keeps documents in memory only, so a crash loses them by design');
      return;
    }
    const room = uniqueRoom('durable');
    const ada = await open(t, room);
    await ada.type('acknowledged, so durable. ');
    await ada.waitStatus('synced'); // every edit acknowledged: in the data file
    const text = await ada.text();
    await ada.close();
    await server.kill();
    await server.restart();
    const bob = await open(t, room);
    assert.equal(await bob.text(), text);
  });

  test('a page goes offline, edits, comes back, and all converge', async (t) => {
    const room = uniqueRoom('offline');
    const [ada, bob] = [await open(t, room), await open(t, room)];
    await ada.type('shared start. ');
    await converged([ada, bob], contains(['shared start. ']), 'the start');

    // Chromium fires "offline" but leaves an open WebSocket open (and the
    // server may only notice the silence at its ping deadline): it is the
    // provider that closes its connection on "offline".
    await ada.context.setOffline(true);
    await ada.waitStatus('offline');
    await ada.screenshot('offline-ada');

    await ada.type('written offline by Ada. ');
    await bob.type('written online by Bob. ');
    await bob.waitStatus('synced');
    assert.ok(!(await bob.text()).includes('written offline by Ada. '), 'an offline edit reached the other page');

    await ada.context.setOffline(false);
    await ada.waitStatus('synced');
    const text = await converged(
      [ada, bob],
      contains(['shared start. ', 'written offline by Ada. ', 'written online by Bob. ']),
      'the offline and online edits',
    );
    assert.equal(text.length, 'shared start. written offline by Ada. written online by Bob. '.length);
    await ada.screenshot('back-online-ada');
  });

  test('an invalid room name is an error, not a connection attempt', async (t) => {
    const context = await browser.newContext();
    t.after(() => context.close());
    const page = await context.newPage();
    const sockets = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    await page.goto(`${server.httpURL}/?room=${encodeURIComponent('no spaces allowed')}`);
    await page.waitForFunction(() => document.querySelector('#status').dataset.status === 'error' && !document.querySelector('#error').hidden);
    assert.match(await page.locator('#error').textContent(), /Room names use/);
    assert.deepEqual(sockets, []);
  });

  test('the page works at phone width', async (t) => {
    const room = uniqueRoom('phone');
    const tab = await open(t, room);
    await tab.page.setViewportSize({ width: 360, height: 740 });
    await tab.type('small screens too');
    // Nothing sticks out sideways: the page does not scroll horizontally.
    const overflow = await tab.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.equal(overflow, 0, 'the page is wider than the phone');
    await tab.screenshot('phone');
  });
});
