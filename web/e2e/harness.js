// Shared pieces of the browser tests: Chromium through playwright-core,
// the demo page, and waiting on page state.
//
// Chromium is Debian's, at /usr/bin/chromium (FLOWSTATE_CHROMIUM names
// another). Without it the tests skip with a message, unless
// FLOWSTATE_REQUIRE_BROWSER=1 (as in CI), where they fail instead.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

/** The Chromium executable the tests drive. */
export const CHROMIUM = process.env.FLOWSTATE_CHROMIUM || '/usr/bin/chromium';

/** Where the tests save their screenshots (ignored by git). */
export const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), 'artifacts');

/** How long a wait for a page condition may take before the test fails, in ms. */
export const WAIT = 20_000;

const MISSING =
  `chromium not installed (${CHROMIUM}): apt-get install -y chromium; ` +
  'set FLOWSTATE_REQUIRE_BROWSER=1 to make this a failure';

/**
 * skipReason is the message to skip the browser tests with, or false to
 * run them: when Chromium is required, a missing one is a failure of
 * launch instead.
 */
export const skipReason = existsSync(CHROMIUM) || process.env.FLOWSTATE_REQUIRE_BROWSER === '1' ? false : MISSING;

/**
 * launch starts headless Chromium with a fresh profile. The flags keep it
 * from reaching for Google's services, which this machine's closed
 * network refuses.
 * @returns {Promise<import('playwright-core').Browser>}
 */
export async function launch() {
  if (!existsSync(CHROMIUM)) throw new Error(MISSING);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A Tab is one demo page in its own browser context (its own storage and
 * network, like another person's browser). errors collects uncaught page
 * errors and console errors, which every test expects to stay empty.
 */
export class Tab {
  /**
   * @param {import('playwright-core').BrowserContext} context
   * @param {import('playwright-core').Page} page
   */
  constructor(context, page) {
    this.context = context;
    this.page = page;
    /** @type {string[]} */
    this.errors = [];
    page.on('pageerror', (err) => this.errors.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      // Chromium logs every WebSocket connection it could not open; while
      // a test keeps the server down, the provider's retries are expected
      // to fail.
      if (msg.type() === 'error' && !/^WebSocket connection to .* failed/.test(msg.text())) {
        this.errors.push(`console error: ${msg.text()}`);
      }
    });
  }

  /**
   * open opens the demo of room on a server in a new context and waits
   * until the page is synced.
   * @param {import('playwright-core').Browser} browser
   * @param {string} httpURL the server's http:// base
   * @param {string} room
   */
  static async open(browser, httpURL, room) {
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    const page = await context.newPage();
    const tab = new Tab(context, page);
    await page.goto(`${httpURL}/?room=${encodeURIComponent(room)}`);
    await tab.waitStatus('synced');
    return tab;
  }

  /**
   * until waits for fn (run in the page with arg) to return a truthy value.
   * @template T
   * @param {(arg: T) => unknown} fn
   * @param {T} [arg]
   * @param {string} [what] what is awaited, for the failure message
   */
  async until(fn, arg, what = String(fn)) {
    try {
      await this.page.waitForFunction(fn, arg, { timeout: WAIT, polling: 50 });
    } catch (err) {
      throw new Error(`waiting for ${what}: ${err.message}\nstatus: ${await this.status().catch(() => '?')}`);
    }
  }

  /** status returns the text of the page's status badge. */
  status() {
    return this.page.locator('#status').getAttribute('data-status');
  }

  /** waitStatus waits for the status badge to show status. @param {string} status */
  waitStatus(status) {
    return this.until((s) => document.querySelector('#status')?.dataset.status === s, status, `status ${status}`);
  }

  /** text returns the editor's content. */
  text() {
    return this.page.evaluate(() => window.flowstate.view.state.doc.toString());
  }

  /** name returns the name this tab publishes. */
  name() {
    return this.page.evaluate(() => window.flowstate.presence.local.name);
  }

  /**
   * type clicks into the editor, moves to the end of the document and
   * types s one key at a time, as a person would.
   * @param {string} s
   * @param {{delay?: number, end?: boolean}} [options]
   */
  async type(s, { delay = 10, end = true } = {}) {
    await this.page.locator('.cm-content').click();
    if (end) await this.page.keyboard.press('Control+End');
    await this.page.keyboard.type(s, { delay });
  }

  /** screenshot saves the page to ARTIFACTS/name.png. @param {string} name */
  async screenshot(name) {
    mkdirSync(ARTIFACTS, { recursive: true });
    await this.page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
  }

  /** close closes the tab's context; closing it again does nothing. */
  close() {
    this.closed ??= this.context.close();
    return this.closed;
  }
}

/**
 * converged waits until every tab's editor holds the same text and that
 * text satisfies check, and returns it.
 * @param {Tab[]} tabs
 * @param {(text: string) => boolean} check
 * @param {string} what
 */
export async function converged(tabs, check, what) {
  const deadline = Date.now() + WAIT;
  let texts = [];
  for (;;) {
    texts = await Promise.all(tabs.map((t) => t.text()));
    if (texts.every((s) => s === texts[0]) && check(texts[0])) return texts[0];
    if (Date.now() > deadline) {
      throw new Error(`the tabs did not converge on ${what}:\n${texts.map((s, i) => `tab ${i}: ${JSON.stringify(s)}`).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * eventually polls fn until it resolves to a truthy value, and fails with
 * what and fn's last value after WAIT.
 * @param {() => Promise<unknown>} fn
 * @param {string} what
 */
export async function eventually(fn, what) {
  const deadline = Date.now() + WAIT;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** uniqueRoom returns a fresh room name, so that tests share nothing. @param {string} prefix */
export function uniqueRoom(prefix) {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** readmeExamples returns the html examples of web/README.md, each a whole page. */
export function readmeExamples() {
  const readme = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'README.md'), 'utf8');
  return [...readme.matchAll(/```html\n([\s\S]*?)```/g)].map((m) => m[1]);
}

/**
 * editorText returns the text of the page's editor: a textarea's value, a
 * CodeMirror editor's lines or a ProseMirror editor's text.
 */
export function editorText(page) {
  return page.evaluate(() => {
    const ta = document.querySelector('textarea');
    if (ta) return ta.value;
    const pm = document.querySelector('.ProseMirror');
    if (pm) return pm.innerText;
    return [...document.querySelectorAll('.cm-line')].map((l) => l.textContent).join('\n');
  });
}

/**
 * typeAndSync types into the first page's editor and waits until the
 * second page shows what was typed.
 */
export async function typeAndSync(a, b, typed) {
  await a.locator('textarea, .cm-content, .ProseMirror').first().click();
  await a.keyboard.type(typed, { delay: 5 });
  const deadline = Date.now() + WAIT;
  while (!(await editorText(b)).includes(typed)) {
    if (Date.now() > deadline) throw new Error(`the second page shows ${JSON.stringify(await editorText(b))}, not ${JSON.stringify(typed)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * collectErrors records a page's uncaught errors and console errors, but
 * the failed /favicon.ico request, which is no fault of the example.
 */
export function collectErrors(page) {
  const errors = [];
  page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.location().url.endsWith('/favicon.ico')) errors.push(`console error: ${msg.text()}`);
  });
  return errors;
}

