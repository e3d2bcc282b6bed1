// End-to-end tests of TextareaBinding in real Chromium against the real
// server: pages with a plain <textarea> bound to the Text "content" of a
// room, each in its own browser context, typed into with the keyboard.
// Every wait polls the pages' state; nothing sleeps.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer } from '../test/server.js';
import { Tab, converged, launch, skipReason, uniqueRoom } from './harness.js';

/**
 * The test page, written over a response of the real server (see open).
 * #status mirrors the provider's status in data-status, as the demo's
 * badge does, so that the harness's waitStatus works on this page too;
 * #people lists the other pages' names and cursors, resolved on this
 * page, for the screenshots (a textarea cannot draw other carets).
 */
const PAGE = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>TextareaBinding</title>
<link rel="icon" href="data:,">
<style>
  body { font: 16px/1.4 system-ui, sans-serif; margin: 16px; }
  textarea { display: block; width: 100%; box-sizing: border-box; font: 18px/1.4 monospace; }
  #status::before { content: "status: " attr(data-status); color: #555; }
</style>
<p id="status" data-status=""></p>
<textarea id="editor" rows="8" spellcheck="false"></textarea>
<ul id="people"></ul>
</html>`;

/**
 * A TextareaTab is a Tab on the test page: a textarea bound to the Text
 * "content" of a room. The page exposes window.flowstate = {doc, text,
 * provider, presence, binding, textarea, values}, where values is every
 * value the textarea took (after each local input and each remote change).
 */
class TextareaTab extends Tab {
  /**
   * open opens the test page of room in a new context, binds its textarea
   * and waits until the page is synced. The binding starts at once, so
   * that the room's text arrives through it as remote edits, or with
   * bindAfterSync once the Doc holds the room's text, over a textarea
   * that holds something else (the Text must win).
   * @param {import('playwright-core').Browser} browser
   * @param {string} httpURL the server's http:// base
   * @param {string} room
   * @param {string} name the name the page publishes in presence
   * @param {{bindAfterSync?: boolean}} [options]
   */
  static async open(browser, httpURL, room, name, { bindAfterSync = false } = {}) {
    const context = await browser.newContext({ viewport: { width: 800, height: 360 } });
    const page = await context.newPage();
    const tab = new TextareaTab(context, page);
    const favicon = new URL('/favicon.ico', httpURL).href;
    page.on('console', (msg) => {
      if (msg.type() === 'error' && msg.location().url === favicon) tab.excused.push(`console error: ${msg.text()}`);
    });
    // The page must come from the server itself: a page the browser makes
    // up (page.route, as in codemirror.test.js) is not on the loopback
    // network, so Chromium's local network access checks refuse its
    // WebSocket to 127.0.0.1. The demo page at "/" runs an editor of its
    // own and has a Content-Security-Policy (default-src 'self') that
    // refuses inline scripts, and other paths are 404s. /flowstate.js is
    // same-origin and has no such policy: setContent writes the test page
    // over it (the document keeps its origin and its network), and the
    // binding is set up through page.evaluate, which no page policy
    // governs. For that first, non-HTML document Chromium asks the server
    // for /favicon.ico, which it does not have: that 404, and only it, is
    // excused.
    await page.goto(`${httpURL}/flowstate.js`);
    await page.setContent(PAGE);
    await page.evaluate(
      async ({ room, name, bindAfterSync }) => {
        const { Doc, Provider } = await import('/flowstate.js');
        const { TextareaBinding } = await import('/flowstate-textarea.js');
        const doc = new Doc();
        const text = doc.getText('content');
        const textarea = /** @type {HTMLTextAreaElement} */ (document.querySelector('#editor'));
        const badge = /** @type {HTMLElement} */ (document.querySelector('#status'));
        const provider = new Provider(doc, { url: Provider.roomURL(location.href, room) });
        badge.dataset.status = provider.status;
        provider.on('status', (s) => (badge.dataset.status = s));
        provider.presence.setLocal({ name });
        if (bindAfterSync) {
          textarea.value = 'a draft the binding must replace';
          await provider.whenSynced();
        }
        const binding = new TextareaBinding(text, textarea, { presence: provider.presence });
        // Registered after the binding's, so they see the textarea as the
        // binding left it.
        const values = [];
        text.observe(() => values.push(textarea.value));
        textarea.addEventListener('input', () => values.push(textarea.value));
        const people = /** @type {HTMLElement} */ (document.querySelector('#people'));
        const drawPeople = () => {
          people.replaceChildren(
            ...[...provider.presence.states.values()].map((st) => {
              const li = document.createElement('li');
              const c = st.cursor;
              const at = c ? `${text.absolutePosition(c.anchor)}→${text.absolutePosition(c.head)}` : 'no cursor';
              li.textContent = `${st.name}: ${at}`;
              return li;
            }),
          );
        };
        provider.presence.on('change', drawPeople);
        text.observe(drawPeople);
        window.flowstate = { doc, text, provider, presence: provider.presence, binding, textarea, values };
      },
      { room, name, bindAfterSync },
    );
    await tab.waitStatus('synced');
    return tab;
  }

  /** The console errors of the /favicon.ico request, which are no fault of the page. @type {string[]} */
  excused = [];

  /** unexpectedErrors returns the page's errors but the excused ones. */
  unexpectedErrors() {
    const excused = [...this.excused];
    return this.errors.filter((e) => {
      const i = excused.indexOf(e);
      if (i < 0) return true;
      excused.splice(i, 1);
      return false;
    });
  }

  /** text returns the textarea's value. */
  text() {
    return this.page.evaluate(() => window.flowstate.textarea.value);
  }

  /**
   * state returns the textarea's value, selection and its direction, the
   * Doc's text, and whether every value the textarea ever held was
   * well-formed UTF-16.
   */
  state() {
    return this.page.evaluate(() => {
      const { textarea: el, text, values } = window.flowstate;
      return {
        value: el.value,
        doc: text.toString(),
        selection: [el.selectionStart, el.selectionEnd],
        // Chromium reports a caret, or a selection made forwards, as 'forward'.
        direction: el.selectionDirection,
        wellFormed: values.every((v) => v.isWellFormed()) && el.value.isWellFormed() && text.toString().isWellFormed(),
      };
    });
  }

  /** clientID returns the client ID of the page's Doc. */
  clientID() {
    return this.page.evaluate(() => window.flowstate.provider.clientID);
  }

  /**
   * type clicks into the textarea, moves to its start or (by default) its
   * end, and types s one key at a time, as a person would.
   * @param {string} s
   * @param {{delay?: number, at?: 'start' | 'end'}} [options]
   */
  async type(s, { delay = 10, at = 'end' } = {}) {
    await this.page.locator('#editor').click();
    await this.page.keyboard.press(at === 'start' ? 'Control+Home' : 'Control+End');
    await this.page.keyboard.type(s, { delay });
  }

  /**
   * press focuses the textarea (keeping its selection) and presses key
   * count times.
   * @param {string} key
   * @param {number} [count]
   */
  async press(key, count = 1) {
    await this.page.evaluate(() => window.flowstate.textarea.focus());
    for (let i = 0; i < count; i++) await this.page.keyboard.press(key);
  }
}

/**
 * settled waits until every tab's textarea holds the same text satisfying
 * check, then checks that on every page the Doc holds that text too and
 * that no value was ever malformed UTF-16, and returns the text.
 * @param {TextareaTab[]} tabs
 * @param {(text: string) => boolean} check
 * @param {string} what
 */
async function settled(tabs, check, what) {
  const text = await converged(tabs, check, what);
  for (const [i, tab] of tabs.entries()) {
    const s = await tab.state();
    assert.equal(s.doc, s.value, `tab ${i}: the Doc and the textarea differ`);
    assert.ok(s.wellFormed, `tab ${i}: a lone surrogate appeared`);
  }
  return text;
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

/** pick returns the named properties of o. @param {object} o @param {...string} keys */
const pick = (o, ...keys) => Object.fromEntries(keys.map((k) => [k, o[k]]));

/** codePoints returns the code points of s, sorted. @param {string} s */
const codePoints = (s) => [...s].sort();

describe('TextareaBinding', { skip: skipReason }, () => {
  /** @type {import('playwright-core').Browser} */
  let browser;
  let server;

  /**
   * open opens a bound page for test t, which closes it at its end and
   * fails if the page logged an error.
   * @param {import('node:test').TestContext} t
   * @param {string} room
   * @param {string} name
   * @param {{bindAfterSync?: boolean}} [options] as for TextareaTab.open
   */
  const open = async (t, room, name, options) => {
    const tab = await TextareaTab.open(browser, server.httpURL, room, name, options);
    t.after(async () => {
      await tab.close();
      assert.deepEqual(tab.unexpectedErrors(), [], `${name}'s page logged errors`);
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

  test('two pages type at once and converge, Doc and textarea alike', async (t) => {
    const room = uniqueRoom('textarea-together');
    const [ada, bob] = [await open(t, room, 'Ada'), await open(t, room, 'Bob')];
    const adaWords = 'Ada writes this line. '.repeat(3);
    const bobWords = 'Bob types over here! '.repeat(3);
    await Promise.all([ada.type(adaWords), bob.type(bobWords)]);
    const text = await settled([ada, bob], (s) => s.length === adaWords.length + bobWords.length, 'both runs of text');
    // Each types at its own caret, which the other's edits move but never
    // pass: the runs do not interleave.
    assert.ok(splitOnce(text, adaWords, bobWords) || splitOnce(text, bobWords, adaWords), `interleaved: ${JSON.stringify(text)}`);
    await Promise.all([ada.waitStatus('synced'), bob.waitStatus('synced')]);
    await ada.screenshot('textarea-together-ada');
    await bob.screenshot('textarea-together-bob');
  });

  test('the caret stays on its text when the other page inserts before or after it', async (t) => {
    const room = uniqueRoom('textarea-caret');
    const [ada, bob] = [await open(t, room, 'Ada'), await open(t, room, 'Bob')];
    await ada.type('hello world');
    await settled([ada, bob], (s) => s === 'hello world', 'the start');

    // Ada's caret between "hello" and " world", by the keyboard.
    await ada.press('Control+Home');
    await ada.press('ArrowRight', 5);
    assert.deepEqual((await ada.state()).selection, [5, 5]);

    // Bob types at position 0: Ada's caret moves right by as much.
    await bob.type('>> ', { at: 'start' });
    await settled([ada, bob], (s) => s === '>> hello world', `Bob's prefix`);
    assert.deepEqual((await ada.state()).selection, [8, 8], 'the caret moved right by 3');
    await ada.page.keyboard.type(',');
    await settled([ada, bob], (s) => s === '>> hello, world', 'the comma where the caret was');
    assert.deepEqual((await ada.state()).selection, [9, 9]);

    // Bob types after Ada's caret: it does not move.
    await bob.type('!');
    await settled([ada, bob], (s) => s === '>> hello, world!', `Bob's suffix`);
    assert.deepEqual((await ada.state()).selection, [9, 9], 'the caret stayed');
    await ada.page.keyboard.type(' dear');
    await settled([ada, bob], (s) => s === '>> hello, dear world!', 'the word where the caret was');
    await ada.screenshot('textarea-caret-ada');
  });

  test('emoji: surrogate pairs are typed and deleted whole, and never split', async (t) => {
    const room = uniqueRoom('textarea-emoji');
    const [ada, bob] = [await open(t, room, 'Ada'), await open(t, room, 'Bob')];
    await ada.type('a😀b');
    await settled([ada, bob], (s) => s === 'a😀b', 'the emoji');
    // Bob's caret at the end, after the emoji; Ada's between the emoji and "b".
    await bob.type('');
    assert.deepEqual((await bob.state()).selection, [4, 4]);
    await ada.press('ArrowLeft');
    assert.deepEqual((await ada.state()).selection, [3, 3]);

    await ada.press('Backspace');
    await settled([ada, bob], (s) => s === 'ab', 'the emoji deleted');
    assert.deepEqual((await ada.state()).selection, [1, 1]);
    assert.deepEqual((await bob.state()).selection, [2, 2], `Bob's caret moved left by the pair`);

    // Both type emoji at once, at their carets.
    const adaRun = '😁x👍🏽';
    const bobRun = '🎉y🎊';
    await Promise.all([ada.page.keyboard.type(adaRun, { delay: 10 }), bob.page.keyboard.type(bobRun, { delay: 10 })]);
    const text = await settled([ada, bob], (s) => s.length === 2 + adaRun.length + bobRun.length, 'both runs of emoji');
    assert.deepEqual(codePoints(text), codePoints('ab' + adaRun + bobRun));
    assert.equal(text, `a${adaRun}b${bobRun}`);

    // 😀 typed just before 😁, with which it shares its high surrogate.
    await ada.press('Control+Home');
    await ada.press('ArrowRight');
    await ada.page.keyboard.type('😀');
    await settled([ada, bob], (s) => s === `a😀${adaRun}b${bobRun}`, 'the emoji before its neighbour');
    await ada.screenshot('textarea-emoji-ada');
  });

  test('a cursor published in presence resolves on the other page, and follows its edits', async (t) => {
    const room = uniqueRoom('textarea-presence');
    const [ada, bob] = [await open(t, room, 'Ada'), await open(t, room, 'Bob')];
    await ada.type('hello brave world');
    await settled([ada, bob], (s) => s === 'hello brave world', 'the text');
    // Ada selects "brave" backwards: anchor after it, head before it.
    await ada.press('ArrowLeft', 6);
    await ada.press('Shift+ArrowLeft', 5);
    assert.deepEqual(pick(await ada.state(), 'selection', 'direction'), { selection: [6, 11], direction: 'backward' });

    const adaID = await ada.clientID();
    /** cursorOn waits until Ada's cursor resolves on Bob's page to anchor and head. */
    const cursorOn = (anchor, head) =>
      bob.until(
        ({ id, anchor, head }) => {
          const { presence, text } = window.flowstate;
          const c = presence.states.get(id)?.cursor;
          return c?.text === 'content' && text.absolutePosition(c.anchor) === anchor && text.absolutePosition(c.head) === head;
        },
        { id: adaID, anchor, head },
        `Ada's cursor at ${anchor}→${head} on Bob's page`,
      );
    await cursorOn(11, 6);
    assert.equal(await bob.page.evaluate((id) => window.flowstate.presence.states.get(id).name, adaID), 'Ada');

    // Bob writes before the selection: on his page Ada's cursor still
    // covers "brave", and so does her selection on hers.
    await bob.type('Oh, ', { at: 'start' });
    const text = await settled([ada, bob], (s) => s === 'Oh, hello brave world', `Bob's words`);
    await cursorOn(15, 10);
    assert.equal(text.slice(10, 15), 'brave');
    assert.deepEqual(pick(await ada.state(), 'selection', 'direction'), { selection: [10, 15], direction: 'backward' });

    // And Bob's caret, after "Oh, ", resolves on Ada's page.
    const bobID = await bob.clientID();
    await ada.until(
      (id) => {
        const { presence, text } = window.flowstate;
        const c = presence.states.get(id)?.cursor;
        return c !== undefined && text.absolutePosition(c.anchor) === 4 && text.absolutePosition(c.head) === 4;
      },
      bobID,
      `Bob's caret at 4 on Ada's page`,
    );
    await bob.screenshot('textarea-presence-bob');
  });

  test('a page opened later shows the whole text and edits it', async (t) => {
    const room = uniqueRoom('textarea-late');
    const [ada, bob] = [await open(t, room, 'Ada'), await open(t, room, 'Bob')];
    await ada.type('First line, by Ada 😀.\n');
    await settled([ada, bob], (s) => s.endsWith('\n'), `Ada's line`);
    await bob.type('Second line, by Bob.\n');
    const text = await settled([ada, bob], (s) => s.endsWith('Bob.\n'), `Bob's line`);
    assert.equal(text, 'First line, by Ada 😀.\nSecond line, by Bob.\n');
    await Promise.all([ada.waitStatus('synced'), bob.waitStatus('synced')]);

    // Cara's binding starts before her first sync, Dan's after it.
    const [cara, dan] = [await open(t, room, 'Cara'), await open(t, room, 'Dan', { bindAfterSync: true })];
    for (const tab of [cara, dan]) {
      const s = await tab.state();
      assert.equal(s.value, text, `${await tab.name()}: a page opened later shows the whole text at its first sync`);
      assert.equal(s.doc, text);
    }
    await cara.type('Third, by Cara.');
    await settled([ada, bob, cara, dan], (x) => x === text + 'Third, by Cara.', `Cara's line`);
    await dan.type(' Fourth, by Dan.');
    await settled([ada, bob, cara, dan], (x) => x === text + 'Third, by Cara. Fourth, by Dan.', `Dan's words`);
    await Promise.all([cara.waitStatus('synced'), dan.waitStatus('synced')]);
    await cara.screenshot('textarea-late-joiner');
  });

  // Typing on stored text before the binding (TextareaBinding.showStored):
  // before, typed on the first screen; between, after the rest came; doc,
  // the Text bound to (a stale rendering lacks some of it).
  const storedTests = [
    {
      name: 'typed on the first screen, the rest of the rendering comes after it',
      screen: 'abc\ndef\n',
      rendering: 'abc\ndef\nghi\n',
      doc: 'abc\ndef\nghi\n',
      before: [{ from: 4, insert: 'X' }],
      want: 'abc\nXdef\nghi\n',
      caret: 5,
    },
    {
      name: 'typed at the end of the first screen: the typing stays before the rest',
      screen: 'abc\n',
      rendering: 'abc\ndef',
      doc: 'abc\ndef',
      before: [{ from: 4, insert: 'X' }],
      want: 'abc\nXdef',
      caret: 5,
    },
    {
      name: 'a deletion, then the rest',
      screen: 'one two three',
      rendering: 'one two three four',
      doc: 'one two three four',
      before: [{ from: 3, to: 7, insert: '' }],
      want: 'one three four',
      caret: 3,
    },
    {
      name: 'typed after the rest came, on a stale rendering',
      screen: 'abc\n',
      rendering: 'abc\ndef',
      doc: 'abc\ndef END',
      between: [{ from: 1, insert: 'X' }],
      want: 'aXbc\ndef END',
      caret: 2,
    },
    {
      name: 'the Doc deleted the text the typing was in: the typed text stays',
      screen: 'abc def ghi',
      rendering: 'abc def ghi',
      doc: 'abc ghi',
      before: [{ from: 5, insert: 'X' }],
      want: 'abc Xghi',
      caret: 5,
    },
    {
      name: 'nothing typed: the Text gets no edit, the caret stays',
      screen: 'abc',
      rendering: 'abcdef',
      doc: 'abcdef',
      select: 2,
      want: 'abcdef',
      caret: 2,
    },
  ];
  for (const tt of storedTests) {
    test(`stored text typed on before the binding: ${tt.name}`, async (t) => {
      const context = await browser.newContext();
      t.after(() => context.close());
      const page = await context.newPage();
      await page.goto(`${server.httpURL}/flowstate.js`);
      await page.setContent('<!doctype html><meta charset="utf-8"><textarea id="t"></textarea>');
      const r = await page.evaluate(async (tt) => {
        const { Doc } = await import('/flowstate.js');
        const { TextareaBinding } = await import('/flowstate-textarea.js');
        const el = document.querySelector('#t');
        el.focus();
        const type = (edits) => {
          for (const e of edits ?? []) el.setRangeText(e.insert, e.from, e.to ?? e.from, 'end');
        };
        TextareaBinding.showStored(el, tt.screen);
        type(tt.before);
        TextareaBinding.showStored(el, tt.rendering);
        if (tt.select !== undefined) el.setSelectionRange(tt.select, tt.select);
        type(tt.between);
        const doc = new Doc();
        doc.apply(new Doc().getText('t').insert(0, tt.doc));
        let updates = 0;
        doc.onLocalUpdate(() => updates++);
        const text = doc.getText('t');
        const binding = new TextareaBinding(text, el);
        const bound = { value: el.value, text: text.toString(), caret: el.selectionEnd, updates };
        binding.undo();
        return { bound, undone: text.toString() };
      }, tt);
      const typed = (tt.before?.length ?? 0) + (tt.between?.length ?? 0);
      assert.deepEqual(r, {
        bound: { value: tt.want, text: tt.want, caret: tt.caret, updates: typed > 0 ? 1 : 0 },
        undone: tt.doc,
      });
    });
  }
});
