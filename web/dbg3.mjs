import { startServer } from './test/server.js';
import { launch } from './e2e/harness.js';
const server = await startServer();
const browser = await launch();
const PAGE = `<!doctype html><meta charset="utf-8"><div id="editor"></div>`;
async function open(name) {
  const ctx = await browser.newContext(); const page = await ctx.newPage();
  page.on('console', (m) => console.log(name, m.text()));
  await page.goto(`${server.httpURL}/flowstate.js`); await page.setContent(PAGE);
  await page.evaluate(async (name) => {
    const { Doc, Provider } = await import('/flowstate.js');
    const { Editor, StarterKit, Image, FlowStateCollaboration } = await import('/flowstate-tiptap.js');
    const doc = new Doc(); const text = doc.getText('body');
    const provider = new Provider(doc, { url: Provider.roomURL(location.href, 'dbg3') });
    for (const m of ['insert', 'delete', 'format']) { const o = text[m].bind(text); text[m] = (...a) => { console.log(m, JSON.stringify(a), JSON.stringify(text.toString())); return o(...a); }; }
    text.observe((ev) => { if (!ev.local) console.log('remote', JSON.stringify(ev.delta), JSON.stringify(text.toString())); });
    let created; const ready = new Promise((r) => (created = r));
    const editor = new Editor({ element: document.querySelector('#editor'), onCreate: () => created(), extensions: [StarterKit.configure({ undoRedo: false, trailingNode: false }), Image, FlowStateCollaboration.configure({ text, provider })] });
    window.flowstate = { doc, text, provider, editor };
    await ready;
    await new Promise((r) => provider.status === 'synced' ? r() : provider.on('status', (s) => s === 'synced' && r()));
  }, name);
  return page;
}
const a = await open('A'); const b = await open('B');
await a.evaluate(() => window.flowstate.editor.commands.focus('end'));
await a.keyboard.type('Hello world', { delay: 5 });
await new Promise((r) => setTimeout(r, 1000));
console.log('---- concurrent');
await b.evaluate(() => window.flowstate.editor.commands.focus('end'));
await Promise.all([
  (async () => { await a.evaluate(() => window.flowstate.editor.commands.focus('end')); await a.keyboard.type(' from A', { delay: 5 }); })(),
  (async () => { await b.keyboard.press('Enter'); await b.keyboard.type('- first item', { delay: 5 }); })(),
]);
await new Promise((r) => setTimeout(r, 1500));
console.log(JSON.stringify(await a.evaluate(() => window.flowstate.editor.getJSON())));
console.log(JSON.stringify(await b.evaluate(() => window.flowstate.editor.getJSON())));
await browser.close(); await server.stop();
