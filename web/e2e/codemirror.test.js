// End-to-end tests of the CodeMirror binding in real Chromium, with the
// bundles the real server serves: an editor bound to the Text of a local
// Doc, whose updates a second Doc in the page (the "remote" replica)
// receives, and whose own edits the test applies to the local Doc.

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startServer } from '../test/server.js';
import { Tab, launch, skipReason } from './harness.js';

describe('CodeMirror binding', { skip: skipReason }, () => {
  /** @type {import('playwright-core').Browser} */
  let browser;
  let server;
  /** @type {Tab} */
  let tab;

  before(async () => {
    browser = await launch();
    server = await startServer();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  beforeEach(async () => {
    if (tab) {
      assert.deepEqual(tab.errors, [], 'the page logged errors');
      await tab.close();
    }
    const context = await browser.newContext();
    const page = await context.newPage();
    tab = new Tab(context, page);
    // An empty page of the server's origin, so that the page imports the
    // bundles exactly as the demo does.
    const url = `${server.httpURL}/binding-test`;
    await page.route(url, (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><meta charset="utf-8"><body></body>' }));
    await page.goto(url);
    await page.evaluate(async () => {
      const core = await import('/flowstate.js');
      const cm = await import('/flowstate-codemirror.js');
      /**
       * setup binds a new editor to the Text "t" of a local Doc that
       * starts with initial (made by the remote replica), and returns the
       * pieces. remoteEdit(fn) runs fn on the remote Text and applies the
       * update to the local Doc; every local update reaches the remote.
       */
      window.setup = (initial = '', { bindLater = false } = {}) => {
        const local = new core.Doc();
        const remote = new core.Doc();
        const localUpdates = [];
        local.onLocalUpdate((u) => {
          localUpdates.push(u);
          remote.apply(u ?? local.diff(remote.stateVector()));
        });
        const rtext = remote.getText('t');
        if (initial !== '') local.apply(rtext.insert(0, initial));
        const text = local.getText('t');
        const remoteTxns = [];
        const parent = document.createElement('div');
        document.body.replaceChildren(parent);
        const extensions = [
          cm.history(),
          cm.keymap.of([...cm.historyKeymap, ...cm.defaultKeymap]),
          cm.EditorView.updateListener.of((u) => {
            for (const tr of u.transactions) {
              if (!cm.isRemote(tr)) continue;
              const changes = [];
              tr.changes.iterChanges((fromA, toA, _fromB, _toB, ins) => changes.push([fromA, toA, ins.toString()]));
              remoteTxns.push(changes);
            }
          }),
        ];
        if (!bindLater) extensions.push(cm.flowstateCollab(text));
        const view = new cm.EditorView({ parent, state: cm.EditorState.create({ doc: bindLater ? 'old content' : text.toString(), extensions }) });
        const remoteEdit = (fn) => local.apply(remote.transact(() => fn(rtext)));
        window.t = { cm, core, local, remote, text, rtext, view, remoteTxns, localUpdates, remoteEdit };
        return true;
      };
    });
  });

  after(() => assert.deepEqual(tab?.errors ?? [], [], 'the page logged errors'));

  test('typing reaches the Text, one update per keystroke', async () => {
    await tab.page.evaluate(() => setup('hello'));
    await tab.page.evaluate(() => t.view.focus());
    await tab.page.keyboard.press('End');
    await tab.page.keyboard.type(' world');
    const r = await tab.page.evaluate(() => ({ text: t.text.toString(), remote: t.rtext.toString(), updates: t.localUpdates.length }));
    assert.deepEqual(r, { text: 'hello world', remote: 'hello world', updates: 6 });
  });

  test('a remote change is one minimal transaction and keeps the selection', async () => {
    await tab.page.evaluate(() => setup('hello world'));
    const r = await tab.page.evaluate(() => {
      t.view.dispatch({ selection: { anchor: 6, head: 11 } }); // "world"
      t.remoteEdit((x) => {
        x.insert(0, '>> ');
        x.delete(8, 1); // the space before "world" ("hello world" shifted by 3)
        x.insert(x.length, '!');
      });
      const sel = t.view.state.selection.main;
      return { doc: t.view.state.doc.toString(), txns: t.remoteTxns, sel: [sel.anchor, sel.head] };
    });
    assert.equal(r.doc, '>> helloworld!');
    assert.deepEqual(r.txns, [[[0, 0, '>> '], [5, 6, ''], [11, 11, '!']]]);
    assert.deepEqual(r.sel, [8, 13], 'the selection still covers "world"');
  });

  test('undo takes back local edits only', async () => {
    await tab.page.evaluate(() => setup());
    await tab.page.evaluate(() => t.view.focus());
    await tab.page.keyboard.type('mine');
    const r = await tab.page.evaluate(() => {
      t.remoteEdit((x) => x.insert(0, 'theirs '));
      while (t.cm.undoDepth(t.view.state) > 0) t.cm.undo(t.view);
      return { doc: t.view.state.doc.toString(), text: t.text.toString(), remote: t.rtext.toString() };
    });
    assert.deepEqual(r, { doc: 'theirs ', text: 'theirs ', remote: 'theirs ' });
  });

  test('several ranges edited at once become one Doc transaction', async () => {
    await tab.page.evaluate(() => setup('one two three'));
    const r = await tab.page.evaluate(() => {
      const before = t.localUpdates.length;
      t.view.dispatch({
        changes: [
          { from: 0, to: 3, insert: '1' },
          { from: 4, to: 7, insert: '22' },
          { from: 8, insert: '<' },
          { from: 13, insert: '>' },
        ],
      });
      return { doc: t.view.state.doc.toString(), text: t.text.toString(), remote: t.rtext.toString(), updates: t.localUpdates.length - before };
    });
    assert.deepEqual(r, { doc: '1 22 <three>', text: '1 22 <three>', remote: '1 22 <three>', updates: 1 });
  });

  test('surrogate pairs stay whole both ways', async () => {
    await tab.page.evaluate(() => setup('a😀b'));
    await tab.page.evaluate(() => {
      t.view.focus();
      t.view.dispatch({ selection: { anchor: 3 } }); // after the emoji
    });
    await tab.page.keyboard.press('Backspace'); // deletes the whole emoji
    await tab.page.keyboard.type('🎉');
    const r = await tab.page.evaluate(() => {
      t.remoteEdit((x) => x.insert(0, '👋'));
      return { doc: t.view.state.doc.toString(), text: t.text.toString(), remote: t.rtext.toString() };
    });
    assert.deepEqual(r, { doc: '👋a🎉b', text: '👋a🎉b', remote: '👋a🎉b' });
  });

  test('an editor created with other content takes the Text’s', async () => {
    await tab.page.evaluate(() => setup('the truth'));
    const r = await tab.page.evaluate(async () => {
      const { cm, text, view } = t;
      // A second editor, created with stale content, on the same Text.
      const parent = document.createElement('div');
      document.body.append(parent);
      const stale = new cm.EditorView({ parent, state: cm.EditorState.create({ doc: 'stale', extensions: [cm.flowstateCollab(text)] }) });
      await Promise.resolve(); // the replacement is scheduled right after the view starts
      view.dispatch({ changes: { from: 0, insert: '» ' } });
      return { stale: stale.state.doc.toString(), doc: view.state.doc.toString() };
    });
    assert.deepEqual(r, { stale: '» the truth', doc: '» the truth' });
  });

  test('a Text edit made inside an editor update is caught up right after', async () => {
    await tab.page.evaluate(() => setup('abc'));
    const r = await tab.page.evaluate(async () => {
      const { cm, text, view } = t;
      let once = true;
      // A plugin that edits the Text while the editor updates, when
      // CodeMirror refuses dispatches.
      const meddler = cm.ViewPlugin.define(() => ({
        update(u) {
          if (once && u.docChanged && !u.transactions.some(cm.isRemote)) {
            once = false;
            text.insert(0, '#');
          }
        },
      }));
      view.dispatch({ effects: cm.StateEffect.appendConfig.of(meddler) });
      view.dispatch({ changes: { from: 3, insert: 'd' } });
      const during = view.state.doc.toString();
      await Promise.resolve();
      return { during, after: [view.state.doc.toString(), text.toString(), t.rtext.toString()] };
    });
    assert.deepEqual(r, { during: 'abcd', after: ['#abcd', '#abcd', '#abcd'] });
  });

  test('CodeMirrorBinding binds an existing editor and unbinds it', async () => {
    await tab.page.evaluate(() => setup('shared', { bindLater: true }));
    const r = await tab.page.evaluate(() => {
      const { cm, text, view, remoteEdit } = t;
      const binding = new cm.CodeMirrorBinding(text, view);
      const bound = view.state.doc.toString();
      remoteEdit((x) => x.insert(x.length, ' text'));
      view.dispatch({ changes: { from: 0, insert: 'our ' } });
      const synced = [view.state.doc.toString(), text.toString()];
      binding.destroy();
      remoteEdit((x) => x.insert(0, '*'));
      view.dispatch({ changes: { from: view.state.doc.length, insert: '.' } });
      return { bound, synced, after: [view.state.doc.toString(), text.toString()] };
    });
    assert.deepEqual(r, {
      bound: 'shared',
      synced: ['our shared text', 'our shared text'],
      after: ['our shared text.', '*our shared text'],
    });
  });

  test('a stored document paints from its rendering, read only, before its Doc loads; bound, it takes the last edits and typing', async () => {
    const stored = await tab.page.evaluate(async () => {
      const { Doc } = await import('/flowstate.js');
      const { IndexedDBPersistence } = await import('/flowstate-persistence.js');
      const doc = new Doc();
      const p = new IndexedDBPersistence('rendering-e2e', doc);
      await p.whenSynced;
      doc.getText('t').insert(0, 'line of the stored document\n'.repeat(8000));
      await p.whenSaved();
      p.compact();
      await new Promise((r) => setTimeout(r, 300)); // the compaction's transaction
      doc.getText('t').insert(0, 'LAST '); // stored after the rendering
      await p.whenSaved();
      p.destroy();
      return doc.getText('t').toString();
    });
    await tab.page.evaluate(async () => {
      const { Doc } = await import('/flowstate.js');
      const { IndexedDBPersistence } = await import('/flowstate-persistence.js');
      const cm = await import('/flowstate-codemirror.js');
      const doc = new Doc();
      const p = new IndexedDBPersistence('rendering-e2e', doc);
      const texts = await p.whenRendered;
      const lock = new cm.Compartment();
      const parent = document.createElement('div');
      document.body.replaceChildren(parent);
      const view = new cm.EditorView({ parent, state: cm.EditorState.create({
        doc: texts?.t ?? '', extensions: [lock.of([cm.EditorState.readOnly.of(true), cm.EditorView.editable.of(false)])] }) });
      window.r = { doc, p, view, lock, cm, loadedAtRendering: p.synced, rendered: view.state.doc.toString() };
    });
    // Typing into the editor before the Doc is loaded changes nothing.
    await tab.page.click('.cm-content');
    await tab.page.keyboard.type('early');
    const before = await tab.page.evaluate(async () => {
      const editor = r.view.state.doc.toString();
      await r.p.whenSynced;
      new r.cm.CodeMirrorBinding(r.doc.getText('t'), r.view);
      r.view.dispatch({ effects: r.lock.reconfigure([]) });
      return { loadedAtRendering: r.loadedAtRendering, rendered: r.rendered, editor, bound: r.view.state.doc.toString() };
    });
    assert.equal(before.loadedAtRendering, false, 'the rendering came before the Doc was loaded');
    assert.equal(before.rendered, stored.slice('LAST '.length), 'the rendering is the compacted document');
    assert.equal(before.editor, before.rendered, 'typing into the unloaded editor did nothing');
    assert.equal(before.bound, stored, 'bound, the editor has the last edits');
    await tab.page.evaluate(() => {
      r.view.focus();
      r.view.dispatch({ selection: { anchor: 0 } });
    });
    await tab.page.keyboard.type('new ');
    const after = await tab.page.evaluate(() => [r.view.state.doc.toString(), r.doc.getText('t').toString()]);
    assert.equal(after[0], 'new ' + stored);
    assert.equal(after[1], 'new ' + stored);
  });

  // Early edits: an editor made from a stored first screen, with
  // earlyEdits(), takes typing before its Doc is loaded. before: edits
  // typed on the first screen; between: after the rest of the rendering
  // came (showStored); doc: the Text the editor is then bound to (a stale
  // rendering lacks some of it). caret: where the caret must be at the
  // end, right after the last edit typed.
  const earlyTests = [
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
      name: 'typed before and after the rest came',
      screen: 'abc\n',
      rendering: 'abc\ndef',
      doc: 'abc\ndef',
      before: [{ from: 0, insert: '1' }],
      between: [{ from: 8, insert: '2' }],
      want: '1abc\ndef2',
      caret: 9,
    },
    {
      name: 'a deletion and a replacement',
      screen: 'one two three',
      rendering: 'one two three four',
      doc: 'one two three four',
      before: [{ from: 3, to: 7, insert: '' }],
      between: [{ from: 0, to: 3, insert: 'ONE' }],
      want: 'ONE three four',
      caret: 3,
    },
    {
      name: 'a stale rendering: the Doc’s later edits and the typing both stay',
      screen: 'abc\n',
      rendering: 'abc\ndef',
      doc: 'abc\ndef END',
      before: [{ from: 1, insert: 'X' }],
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
      name: 'nothing typed: the Text gets no edit',
      screen: 'abc',
      rendering: 'abcdef',
      doc: 'abcdef',
      want: 'abcdef',
      caret: 0,
    },
  ];
  for (const tt of earlyTests) {
    test(`early edits: ${tt.name}`, async () => {
      const r = await tab.page.evaluate(async (tt) => {
        const cm = await import('/flowstate-codemirror.js');
        const { Doc } = await import('/flowstate.js');
        const parent = document.createElement('div');
        document.body.replaceChildren(parent);
        const view = new cm.EditorView({
          parent,
          state: cm.EditorState.create({ doc: tt.screen, extensions: [cm.history(), cm.earlyEdits()] }),
        });
        const type = (edits) => {
          for (const e of edits ?? []) {
            view.dispatch({ changes: e, selection: { anchor: e.from + e.insert.length }, userEvent: 'input.type' });
          }
        };
        type(tt.before);
        const shown = cm.showStored(view, tt.rendering);
        type(tt.between);
        const doc = new Doc();
        const stored = new Doc();
        doc.apply(stored.getText('t').insert(0, tt.doc));
        let updates = 0;
        doc.onLocalUpdate(() => updates++);
        const text = doc.getText('t');
        new cm.CodeMirrorBinding(text, view);
        const bound = { editor: view.state.doc.toString(), text: text.toString(), caret: view.state.selection.main.head, updates };
        const again = cm.showStored(view, 'ignored once bound');
        // Undo takes the early edits back out of the Text too.
        while (cm.undoDepth(view.state) > 0) cm.undo(view);
        return { shown, again, bound, undone: [view.state.doc.toString(), text.toString()] };
      }, tt);
      const typed = (tt.before?.length ?? 0) + (tt.between?.length ?? 0);
      assert.deepEqual(r, {
        shown: true,
        again: false,
        bound: { editor: tt.want, text: tt.want, caret: tt.caret, updates: typed > 0 ? 1 : 0 },
        undone: [tt.doc, tt.doc],
      });
    });
  }
});
