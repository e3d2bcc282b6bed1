// Embedding from another origin, the main use: a page served by a second
// HTTP server (another port, so another origin) imports /flowstate.js from
// the FlowState server and syncs through it. The page is the README's
// cross-origin example with its host replaced by the test server's.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { startServer } from '../test/server.js';
import { ARTIFACTS, collectErrors, launch, readmeExamples, skipReason, typeAndSync } from './harness.js';

const embedding = readmeExamples().find((page) => page.includes("from 'https://sync.example.com/flowstate.js'"));

/** startAppServer serves html at "/" on a free 127.0.0.1 port: the app's own origin. */
function startAppServer(html) {
  const srv = createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(html);
      return;
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv)));
}

describe('a page on another origin', { skip: skipReason }, () => {
  let browser;
  let sync;
  let app;
  let appURL;
  before(async () => {
    assert.ok(embedding, 'web/README.md has no cross-origin example');
    // The app's port is known before the sync server starts, which must
    // accept WebSockets from its origin.
    app = await startAppServer('');
    appURL = `http://127.0.0.1:${app.address().port}`;
    [browser, sync] = await Promise.all([launch(), startServer({ args: ['--allowed-origins', appURL] })]);
    const page = embedding.replaceAll('https://sync.example.com', sync.httpURL);
    app.removeAllListeners('request');
    app.on('request', (req, res) => {
      res.writeHead(req.url === '/' ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(req.url === '/' ? page : '');
    });
  });
  after(async () => {
    await browser?.close();
    await sync?.stop();
    await new Promise((r) => (app ? app.close(r) : r()));
  });

  test('loads the bundle from the sync server and syncs through it', async (t) => {
    assert.notEqual(new URL(appURL).origin, new URL(sync.httpURL).origin);
    const pages = [];
    const errors = [];
    const scripts = [];
    for (let k = 0; k < 2; k++) {
      const context = await browser.newContext({ viewport: { width: 700, height: 300 } });
      t.after(() => context.close());
      const page = await context.newPage();
      errors.push(collectErrors(page));
      page.on('response', (r) => r.url().endsWith('/flowstate.js') && scripts.push(r.url()));
      await page.goto(`${appURL}/`);
      pages.push(page);
    }
    await typeAndSync(pages[0], pages[1], 'typed on the app origin');
    assert.ok(scripts.every((u) => u.startsWith(sync.httpURL)) && scripts.length > 0, `scripts from ${scripts}`);
    mkdirSync(ARTIFACTS, { recursive: true });
    await pages[1].screenshot({ path: `${ARTIFACTS}/embed-second-origin.png` });
    assert.deepEqual(errors.flat(), []);
  });
});
