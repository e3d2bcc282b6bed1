// Builds the browser bundles in dist/, which are committed and embedded in
// the flowstate binary (embed.go):
//
//   dist/flowstate.js             the client core (src/index.js): Doc, Provider, presence, UndoManager
//   dist/flowstate-textarea.js    the <textarea> binding (src/textarea.js), which imports the core
//                                 from ./flowstate.js beside it rather than holding a copy
//   dist/flowstate-richdelta.js   Text.applyDelta (src/richdelta.js), which likewise imports the
//                                 core's Text from ./flowstate.js
//   dist/flowstate-quill.js       the Quill 2 binding (src/quill.js), which imports the core from
//                                 ./flowstate.js and takes the page's Quill instance (Quill is not bundled)
//   dist/flowstate-codemirror.js  the CodeMirror 6 binding (src/codemirror.js) together with
//                                 @codemirror/state, @codemirror/view and @codemirror/commands,
//                                 re-exported whole, so that a page has exactly one copy of them
//   dist/flowstate-prosemirror.js the ProseMirror binding (src/prosemirror.js) together with
//                                 prosemirror-model, -state, -view, -transform, -keymap and -commands, re-exported whole;
//                                 it imports the core's UndoManager from ./flowstate.js beside it
//   dist/flowstate-tiptap.js      the TipTap extension (src/tiptap.js) and the binding together with
//                                 @tiptap/core (re-exported whole), StarterKit and Image, importing the
//                                 core's UndoManager from ./flowstate.js like the ProseMirror bundle
//
// Usage:
//
//   node build.mjs           write dist/ and print the sizes
//   node build.mjs --check   build in memory and fail if dist/ differs (CI)
//
// The build is reproducible: the same sources and esbuild version give the
// same bytes, which is what makes --check meaningful. The core bundle must
// stay within CORE_BUDGET gzipped.

import { build } from 'esbuild';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = dirname(fileURLToPath(import.meta.url));

/** The most the core bundle may weigh minified and gzipped, in bytes. */
const CORE_BUDGET = 40 * 1024;

/** The browsers the bundles target: every evergreen browser of the last years. */
const TARGET = ['es2020', 'chrome90', 'firefox90', 'safari15'];

const banner = '// FlowState client, built by web/build.mjs from web/src. Do not edit: run "make web-build".';

/** The bundles, each built from an entry file or from entry contents. */
const bundles = [
  { out: 'flowstate.js', entry: 'src/index.js' },
  { out: 'flowstate-textarea.js', entry: 'src/textarea.js', core: true },
  { out: 'flowstate-persistence.js', entry: 'src/persistence.js', core: true },
  { out: 'flowstate-richdelta.js', entry: 'src/richdelta.js', core: true },
  { out: 'flowstate-quill.js', entry: 'src/quill.js', core: true },
  {
    out: 'flowstate-codemirror.js',
    contents: [
      "export * from './src/codemirror.js';",
      "export * from '@codemirror/state';",
      "export * from '@codemirror/view';",
      "export * from '@codemirror/commands';",
    ].join('\n'),
  },
  {
    out: 'flowstate-prosemirror.js',
    core: true,
    contents: [
      "export * from './src/prosemirror.js';",
      "export * from 'prosemirror-model';",
      "export * from 'prosemirror-state';",
      "export * from 'prosemirror-view';",
      "export * from 'prosemirror-transform';",
      "export * from 'prosemirror-keymap';",
      "export * from 'prosemirror-commands';",
    ].join('\n'),
  },
  {
    out: 'flowstate-tiptap.js',
    core: true,
    contents: [
      "export * from './src/tiptap.js';",
      "export * from './src/prosemirror.js';",
      "export * from '@tiptap/core';",
      "export { default as StarterKit } from '@tiptap/starter-kit';",
      "export { default as Image } from '@tiptap/extension-image';",
    ].join('\n'),
  },
];

/**
 * useCore is an esbuild plugin for a binding's bundle: the modules of the
 * core that hold classes or state a page shares with the core bundle
 * (undo.js: the binding's UndoManager must be the core's, which the Doc
 * calls; text.js: richdelta.js adds methods to the core's Text) are
 * imported from ./flowstate.js, served beside the binding, instead of
 * being bundled a second time.
 */
const useCore = {
  name: 'use-core',
  setup(b) {
    b.onResolve({ filter: /^\.\/(undo|text)\.js$/ }, () => ({ path: './flowstate.js', external: true }));
  },
};

/**
 * bundle builds one bundle in memory and returns its bytes.
 * @param {{entry?: string, contents?: string, core?: boolean}} b
 * @param {boolean} minify
 */
async function bundle(b, minify) {
  const result = await build({
    absWorkingDir: root,
    entryPoints: b.entry ? [b.entry] : undefined,
    stdin: b.contents ? { contents: b.contents, resolveDir: root, sourcefile: 'entry.js', loader: 'js' } : undefined,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: TARGET,
    minify,
    legalComments: 'eof',
    charset: 'utf8',
    banner: { js: banner },
    write: false,
    logLevel: 'warning',
    plugins: b.core ? [useCore] : [],
  });
  return result.outputFiles[0].contents;
}

/** kb formats a byte count. */
function kb(n) {
  return (n / 1024).toFixed(1).padStart(7) + ' KB';
}

async function main() {
  const check = process.argv.includes('--check');
  const stale = [];
  const rows = [];
  await mkdir(join(root, 'dist'), { recursive: true });
  for (const b of bundles) {
    const raw = await bundle(b, false);
    const min = await bundle(b, true);
    const gz = gzipSync(min, { level: 9 });
    rows.push({ out: b.out, raw: raw.length, min: min.length, gz: gz.length });
    const path = join(root, 'dist', b.out);
    if (check) {
      const have = await readFile(path).catch(() => null);
      if (have === null || Buffer.compare(have, Buffer.from(min)) !== 0) stale.push(b.out);
    } else {
      await writeFile(path, min);
    }
  }
  console.log('bundle                       raw (unminified)   minified    gzip -9');
  for (const r of rows) console.log(`dist/${r.out.padEnd(24)} ${kb(r.raw)}      ${kb(r.min)} ${kb(r.gz)}`);
  const core = rows.find((r) => r.out === 'flowstate.js');
  if (core.gz > CORE_BUDGET) {
    console.error(`build: dist/flowstate.js is ${core.gz} bytes gzipped, over the budget of ${CORE_BUDGET}`);
    process.exitCode = 1;
  }
  if (stale.length > 0) {
    console.error(`build: out of date: ${stale.map((s) => 'web/dist/' + s).join(', ')}; run "make web-build" and commit the result`);
    process.exitCode = 1;
  }
}

await main();
