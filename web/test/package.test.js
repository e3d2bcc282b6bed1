// The client as an npm package: `npm pack` makes a tarball that installs
// into a project of its own, offline, and both entries import from it.
// The tarball's dependencies are packed from node_modules, since this
// machine has no registry: npm then resolves everything from local files.
// The README's first example runs in that project as it is written.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const WEB = join(dirname(fileURLToPath(import.meta.url)), '..');
const PKG = JSON.parse(readFileSync(join(WEB, 'package.json'), 'utf8'));

/** The runtime dependency and the CodeMirror peers, with their own dependencies. */
const DEPS = ['@msgpack/msgpack', '@codemirror/state', '@codemirror/view', '@marijn/find-cluster-break', 'crelt', 'style-mod', 'w3c-keyname'];

let dir;
let tarball;
let app;

/** npm runs npm with args in cwd, offline, and returns its stdout. */
async function npm(cwd, ...args) {
  const { stdout } = await run('npm', [...args, '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd, timeout: 120_000 });
  return stdout;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flowstate-pack-'));
  // One npm packs them all: each start of npm takes seconds. The ./ makes
  // npm take "node_modules/crelt" for a directory, not a GitHub repository.
  const packed = JSON.parse(await npm(WEB, 'pack', '.', ...DEPS.map((name) => `./node_modules/${name}`), '--json', '--pack-destination', dir));
  const file = (name) => {
    const p = packed.find((p) => p.name === name);
    assert.ok(p, `npm pack made no tarball of ${name}`);
    return join(dir, p.filename);
  };
  tarball = file(PKG.name);
  const deps = DEPS.map(file);
  app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  await npm(app, 'install', tarball, ...deps);
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('package.json describes a publishable package', () => {
  assert.equal(PKG.private, undefined, 'a private package cannot be published');
  assert.match(PKG.name, /^@flowstate\/web$/);
  assert.match(PKG.version, /^\d+\.\d+\.\d+/);
  for (const [entry, want] of [['.', 'index'], ['./textarea', 'textarea'], ['./persistence', 'persistence'], ['./codemirror', 'codemirror'], ['./richdelta', 'richdelta'], ['./prosemirror', 'prosemirror'], ['./tiptap', 'tiptap'], ['./quill', 'quill']]) {
    const e = PKG.exports[entry];
    assert.ok(e, `exports lacks ${entry}`);
    assert.equal(e.types, `./src/${want}.d.ts`);
    assert.equal(e.default, `./src/${want}.js`);
  }
});

test('the tarball holds the sources, types and bundles, and no tests', async () => {
  const [listing] = JSON.parse(await npm(WEB, 'pack', '--dry-run', '--json'));
  const files = listing.files.map((f) => f.path);
  for (const f of ['package.json', 'README.md', 'src/index.js', 'src/index.d.ts', 'src/textarea.js', 'src/textarea.d.ts', 'src/persistence.js', 'src/persistence.d.ts', 'dist/flowstate-persistence.js', 'src/codemirror.js', 'src/codemirror.d.ts', 'src/richdelta.js', 'src/richdelta.d.ts', 'src/prosemirror.js', 'src/prosemirror.d.ts', 'src/tiptap.js', 'src/tiptap.d.ts', 'src/quill.js', 'src/quill.d.ts', 'dist/flowstate.js', 'dist/flowstate-textarea.js', 'dist/flowstate-richdelta.js', 'dist/flowstate-codemirror.js', 'dist/flowstate-prosemirror.js', 'dist/flowstate-tiptap.js', 'dist/flowstate-quill.js']) {
    assert.ok(files.includes(f), `the tarball lacks ${f}`);
  }
  const stray = files.filter((f) => /^(test|e2e|bench|node_modules|demo)\//.test(f) || f.endsWith('.go'));
  assert.deepEqual(stray, []);
});

test('every entry imports from the installed tarball, with their types', async () => {
  const installed = join(app, 'node_modules', '@flowstate', 'web');
  for (const f of ['src/index.d.ts', 'src/textarea.d.ts', 'src/codemirror.d.ts', 'src/quill.d.ts']) assert.ok(existsSync(join(installed, f)), f);
  const script = `
    import { Doc, Provider } from '@flowstate/web';
    import { flowstateCollab, CodeMirrorBinding } from '@flowstate/web/codemirror';
    import { TextareaBinding } from '@flowstate/web/textarea';
    import '@flowstate/web/richdelta';
    import { QuillBinding, toQuillDelta } from '@flowstate/web/quill';
    const doc = new Doc();
    doc.getText('t').applyDelta([{ insert: 'pa' }, { insert: 'cked', attributes: { bold: true } }]);
    console.log(JSON.stringify({
      text: doc.getText('t').toString(),
      collab: typeof flowstateCollab, binding: typeof CodeMirrorBinding, textarea: typeof TextareaBinding,
      quill: typeof QuillBinding, shown: toQuillDelta(doc.getText('t').toDelta()),
      url: Provider.roomURL('https://sync.example.com', 'notes'),
      from: import.meta.resolve('@flowstate/web'),
    }));`;
  writeFileSync(join(app, 'entries.mjs'), script);
  const { stdout } = await run(process.execPath, ['entries.mjs'], { cwd: app });
  const got = JSON.parse(stdout);
  assert.equal(got.text, 'packed');
  assert.equal(got.collab, 'function');
  assert.equal(got.binding, 'function');
  assert.equal(got.textarea, 'function');
  assert.equal(got.quill, 'function');
  assert.deepEqual(got.shown, [{ insert: 'pa' }, { insert: 'cked', attributes: { bold: true } }, { insert: '\n' }]);
  assert.equal(got.url, 'wss://sync.example.com/ws/notes');
  assert.ok(got.from.includes('/app/node_modules/@flowstate/web/'), `imported from ${got.from}`);
});

test("the README's first example runs as written", async () => {
  const readme = readFileSync(join(WEB, 'README.md'), 'utf8');
  const first = /```js\n([\s\S]*?)```/.exec(readme);
  assert.ok(first, 'the README has no js example');
  assert.match(first[1], /from '@flowstate\/web'/);
  writeFileSync(join(app, 'readme.mjs'), first[1]);
  const { stdout } = await run(process.execPath, ['readme.mjs'], { cwd: app });
  assert.match(stdout.trim(), /hello world$/);
});
