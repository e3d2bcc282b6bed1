// The html examples of web/README.md, each a whole page, run as they are
// written: two copies of each page, served by the real server, sync what
// is typed into one of them. The cross-origin example is e2e/embed.test.js.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { startServer } from '../test/server.js';
import { ARTIFACTS, collectErrors, launch, readmeExamples, skipReason, typeAndSync } from './harness.js';

const sameOrigin = readmeExamples().filter((page) => !/from 'https?:/.test(page));

describe('the README examples in Chromium', { skip: skipReason }, () => {
  let browser;
  let server;
  before(async () => {
    [browser, server] = await Promise.all([launch(), startServer()]);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('there are examples to run', () => {
    assert.ok(sameOrigin.length >= 2, `found ${sameOrigin.length} html examples`);
  });

  for (const [i, html] of sameOrigin.entries()) {
    test(`example ${i + 1} syncs two pages`, async (t) => {
      const pages = [];
      const errors = [];
      for (let k = 0; k < 2; k++) {
        const context = await browser.newContext({ viewport: { width: 700, height: 360 } });
        t.after(() => context.close());
        const page = await context.newPage();
        errors.push(collectErrors(page));
        // As in textarea.test.js: a page of the server's own origin and
        // network, without the demo's Content-Security-Policy.
        await page.goto(`${server.httpURL}/flowstate.js`);
        await page.setContent(html);
        pages.push(page);
      }
      const typed = `example ${i + 1} typed here`;
      await typeAndSync(pages[0], pages[1], typed);
      mkdirSync(ARTIFACTS, { recursive: true });
      await pages[1].screenshot({ path: `${ARTIFACTS}/readme-${i + 1}.png` });
      assert.deepEqual(errors.flat(), []);
    });
  }
});
