// Measures QuillBinding in Chromium, on the bundles the server serves and
// Quill's own build: the main-thread time of one keystroke typed in the
// editor (Quill's change, the binding, the Text) and of one remote
// keystroke (an update applied to the Doc, the binding's smallest change
// to the editor), in documents of 1,000 to 100,000 characters in lines of
// 60 with a bold word and a heading every 10 lines; beside them, the same
// remote keystroke applied to an observed Doc without an editor, and the
// part of the remote keystroke spent in Quill's updateContents. Each
// figure is the median of --keys keystrokes at random places.
//
// Usage (from web/): node bench/quill-bench.mjs [--keys 200] [--sizes 1000,10000,100000]

import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { startServer } from '../test/server.js';
import { launch } from '../e2e/harness.js';

const require = createRequire(import.meta.url);
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : def;
};
const KEYS = Number(arg('--keys', 200));
const SIZES = arg('--sizes', '1000,10000,100000').split(',').map(Number);

const server = await startServer();
const browser = await launch();
try {
  console.log(`load average ${loadavg()[0].toFixed(2)}, ${KEYS} keystrokes per figure, median`);
  console.log('characters   local keystroke   remote keystroke   remote, Text alone   remote, in Quill');
  for (const size of SIZES) {
    const page = await browser.newPage();
    await page.goto(`${server.httpURL}/flowstate.js`);
    await page.setContent('<!doctype html><div id="editor"></div>');
    await page.addScriptTag({ path: require.resolve('quill/dist/quill.js') });
    const r = await page.evaluate(
      async ({ size, keys }) => {
        const { Doc } = await import('/flowstate.js');
        const { QuillBinding } = await import('/flowstate-quill.js');
        const other = new Doc();
        const ot = other.getText('content');
        const line = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit sed.\n';
        other.transact(() => {
          for (let i = 0; ot.length < size; i++) {
            ot.insert(ot.length, line);
            if (i % 10 === 0) ot.setBlock(ot.length - 1, 'header', 2);
            else ot.format(ot.length - line.length + 6, 5, 'bold', true);
          }
        });
        const doc = new Doc();
        doc.apply(other.diff(doc.stateVector()));
        // The same remote keystrokes applied to an observed Doc without an
        // editor: what of the remote figure is the Text's own event.
        const bare = new Doc();
        bare.apply(other.diff(bare.stateVector()));
        bare.getText('content').observe(() => {});
        const quill = new window.Quill('#editor', {});
        new QuillBinding(doc.getText('content'), quill);
        // The time the remote keystroke spends in Quill itself.
        let inQuill = 0;
        const updateContents = quill.updateContents.bind(quill);
        quill.updateContents = (...args) => {
          const t = performance.now();
          try {
            return updateContents(...args);
          } finally {
            inQuill += performance.now() - t;
          }
        };
        let seed = 7;
        const rnd = (n) => ((seed = (seed * 48271) % 2147483647) % n);
        const median = (a) => a.sort((x, y) => x - y)[a.length >> 1];
        const local = [];
        const remote = [];
        const textOnly = [];
        const quillPart = [];
        for (let k = 0; k < keys; k++) {
          let t0 = performance.now();
          quill.insertText(rnd(quill.getLength() - 1), 'x', 'user');
          local.push(performance.now() - t0);
          other.apply(doc.diff(other.stateVector()));
          const u = ot.insert(rnd(ot.length), 'y');
          inQuill = 0;
          t0 = performance.now();
          doc.apply(u);
          remote.push(performance.now() - t0);
          quillPart.push(inQuill);
          bare.apply(doc.diff(bare.stateVector()));
          const v = ot.insert(rnd(ot.length), 'z');
          doc.apply(v);
          t0 = performance.now();
          bare.apply(v);
          textOnly.push(performance.now() - t0);
        }
        if (quill.getText() !== doc.getText('content').toString() && quill.getText() !== doc.getText('content').toString() + '\n') {
          throw new Error('the editor does not show the Text');
        }
        return { local: median(local), remote: median(remote), textOnly: median(textOnly), quillPart: median(quillPart), length: doc.getText('content').length };
      },
      { size, keys: KEYS },
    );
    console.log(
      `${String(r.length).padStart(10)}   ${r.local.toFixed(2).padStart(12)} ms   ${r.remote.toFixed(2).padStart(13)} ms   ${r.textOnly.toFixed(2).padStart(15)} ms   ${r.quillPart.toFixed(2).padStart(13)} ms`,
    );
    await page.close();
  }
} finally {
  await browser.close();
  await server.stop();
}
