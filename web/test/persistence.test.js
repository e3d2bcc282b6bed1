// IndexedDBPersistence on fake-indexeddb (an IndexedDB in memory): one
// IDBFactory is one browser profile, so a new Doc and persistence on the
// same factory is a reloaded page. The browser tests (e2e/offline.test.js)
// run the same paths on Chromium's real IndexedDB.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IDBDatabase, IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { Doc } from '../src/index.js';
import { IndexedDBPersistence } from '../src/persistence.js';
import { FIRST_SCREEN_UNITS } from '../src/persistence.js';
import { Emitter } from '../src/emitter.js';

/** open makes a persistence for a new Doc on factory, and waits for the stored document. */
async function open(factory, name = 'notes', options = {}) {
  const doc = new Doc();
  const p = new IndexedDBPersistence(name, doc, { indexedDB: factory, IDBKeyRange, ...options });
  const events = { disabled: [], error: [] };
  p.on('disabled', (e) => events.disabled.push(e));
  p.on('error', (e) => events.error.push(e));
  await p.whenSynced;
  return { doc, p, events, text: doc.getText('t') };
}

/** count returns the number of records in the store of name. */
function count(factory, name = 'notes') {
  return new Promise((resolve, reject) => {
    const req = factory.open('flowstate:' + name, 1);
    req.onsuccess = () => {
      const db = req.result;
      const c = db.transaction('updates').objectStore('updates').count();
      c.onsuccess = () => {
        db.close();
        resolve(c.result);
      };
      c.onerror = () => reject(c.error);
    };
    req.onerror = () => reject(req.error);
  });
}

test('a reloaded page finds the document, under a fresh client ID', async () => {
  const factory = new IDBFactory();
  const first = await open(factory);
  first.text.insert(0, 'hello');
  first.text.insert(5, ' world');
  first.text.delete(0, 1);
  await first.p.whenSaved();
  first.p.destroy();

  const second = await open(factory);
  assert.equal(second.text.toString(), 'ello world');
  assert.notEqual(second.doc.clientID, first.doc.clientID);
  assert.equal(second.doc.stateVector().get(second.doc.clientID) ?? 0, 0, 'the restored doc has nothing under its own ID');
  assert.deepEqual(second.events, { disabled: [], error: [] });
});

test('reloading many times while editing loses nothing', async () => {
  const factory = new IDBFactory();
  let want = '';
  for (let i = 0; i < 8; i++) {
    const page = await open(factory);
    assert.equal(page.text.toString(), want, `reload ${i}`);
    for (const ch of `[${i}]`) page.text.insert(page.text.length, ch);
    want += `[${i}]`;
    await page.p.whenSaved();
    page.p.destroy();
  }
  const last = await open(factory);
  assert.equal(last.text.toString(), want);
});

/** A MemoryStorage is a page's localStorage, in memory: one per browser profile. */
class MemoryStorage {
  constructor() {
    this.items = new Map();
  }
  get length() {
    return this.items.size;
  }
  key(i) {
    return [...this.items.keys()][i] ?? null;
  }
  getItem(k) {
    return this.items.get(k) ?? null;
  }
  setItem(k, v) {
    this.items.set(k, String(v));
  }
  removeItem(k) {
    this.items.delete(k);
  }
}

/** A CountingProvider is what persistence sees of a Provider: its unacknowledged count. */
class CountingProvider extends Emitter {
  constructor() {
    super();
    this.unsyncedCount = 0;
  }
  addUnsynced(n) {
    this.setUnsynced(this.unsyncedCount + n);
  }
  setUnsynced(n) {
    this.unsyncedCount = n;
    this.emit('unsynced', n);
  }
}

/**
 * holdWrites keeps the write transactions of every page from committing
 * until release, and returns them: aborting them is what Chromium does to
 * the transactions of a page that went away before they committed.
 */
function holdWrites() {
  const held = [];
  const transaction = IDBDatabase.prototype.transaction;
  IDBDatabase.prototype.transaction = function (stores, mode) {
    const tx = transaction.call(this, stores, mode);
    if (mode === 'readwrite') {
      tx.commit = undefined;
      held.push(tx);
    }
    return tx;
  };
  held.release = () => (IDBDatabase.prototype.transaction = transaction);
  return held;
}

/** unsavedCopies returns the keys of the unsaved copies in ls. */
function unsavedCopies(ls) {
  return [...ls.items.keys()].filter((k) => k.includes(':unsaved:'));
}

test('what a closing page had not finished writing comes back from its copy in localStorage, with its count', async () => {
  const factory = new IDBFactory();
  const ls = new MemoryStorage();
  const first = await open(factory, 'notes', { localStorage: ls });
  const provider = new CountingProvider();
  first.p.bindProvider(provider);
  first.text.insert(0, 'kept');
  provider.setUnsynced(1);
  await first.p.whenSaved();
  first.p.onPageHide(); // nothing unwritten: no copy
  assert.deepEqual(unsavedCopies(ls), []);

  const held = holdWrites();
  try {
    first.text.insert(4, ' too');
    provider.setUnsynced(2);
    first.p.onPageHide();
    assert.equal(held.length, 1, 'leaving the page writes what is queued');
    assert.deepEqual(unsavedCopies(ls), [`flowstate:notes:unsaved:${first.doc.clientID}`]);
    for (const tx of held.splice(0)) tx.abort();

    // A page that takes the copy and goes away before writing it leaves
    // a copy of its own in its place, with the count it restored.
    const taker = await open(factory, 'notes', { localStorage: ls });
    assert.equal(taker.text.toString(), 'kept too');
    taker.p.bindProvider(new CountingProvider());
    taker.p.onPageHide();
    assert.deepEqual(unsavedCopies(ls), [`flowstate:notes:unsaved:${taker.doc.clientID}`]);
    for (const tx of held.splice(0)) tx.abort();
  } finally {
    held.release();
  }

  const second = await open(factory, 'notes', { localStorage: ls });
  assert.equal(second.text.toString(), 'kept too');
  assert.equal(second.p.restoredUnsynced, 2, "the copy's count replaces the stored one");
  assert.deepEqual(second.events, { disabled: [], error: [] });
  const next = new CountingProvider();
  second.p.bindProvider(next);
  assert.equal(next.unsyncedCount, 2);
  await second.p.whenSaved();
  assert.deepEqual(unsavedCopies(ls), [], 'the copy goes once IndexedDB has its updates');
  second.p.destroy();

  const third = await open(factory, 'notes', { localStorage: ls });
  assert.equal(third.text.toString(), 'kept too');
  assert.equal(third.p.restoredUnsynced, 2);
  third.p.destroy();
});

test('a page that stays after its pagehide removes its copy once its writes are done', async () => {
  const factory = new IDBFactory();
  const ls = new MemoryStorage();
  const page = await open(factory, 'notes', { localStorage: ls });
  page.p.bindProvider(new CountingProvider());
  page.text.insert(0, 'hello');
  page.p.onPageHide(); // the write is in flight: copied
  assert.equal(unsavedCopies(ls).length, 1);
  await page.p.whenSaved();
  assert.deepEqual(unsavedCopies(ls), []);
  page.p.destroy();
});

test('an unsaved copy that does not read is skipped with an error event, and removed', async () => {
  const factory = new IDBFactory();
  const ls = new MemoryStorage();
  const first = await open(factory, 'notes', { localStorage: ls });
  first.text.insert(0, 'stored');
  await first.p.whenSaved();
  first.p.destroy();
  for (const [key, value] of [
    ['flowstate:notes:unsaved:1', '{not json'],
    ['flowstate:notes:unsaved:2', '{"updates": "no"}'],
    ['flowstate:notes:unsaved:3', '{"updates": [7, "AAEC", "!!"]}'],
  ]) {
    ls.setItem(key, value);
  }

  const second = await open(factory, 'notes', { localStorage: ls });
  assert.equal(second.text.toString(), 'stored');
  assert.deepEqual(
    second.events.error.map((e) => e.message.replace(/^flowstate: skipped (an? [a-z ]+?) that.*$/, '$1')),
    ['an unsaved copy', 'an unsaved copy', 'an unsaved update', 'a stored record', 'an unsaved update'],
  );
  await second.p.whenSaved();
  assert.deepEqual(unsavedCopies(ls), []);
  second.p.destroy();
});

/**
 * withDocument gives the page a document whose visibilityState the test
 * sets, as a browser's, for the run of fn.
 */
async function withDocument(fn) {
  const doc = new EventTarget();
  doc.visibilityState = 'visible';
  const had = Object.getOwnPropertyDescriptor(globalThis, 'document');
  globalThis.document = doc;
  try {
    await fn((state) => {
      doc.visibilityState = state;
      doc.dispatchEvent(new Event('visibilitychange'));
    });
  } finally {
    if (had) Object.defineProperty(globalThis, 'document', had);
    else delete globalThis.document;
  }
}

test('a page going hidden copies what it has not written, as on pagehide: a tab killed in the background loses nothing', async () => {
  await withDocument(async (show) => {
    const factory = new IDBFactory();
    const ls = new MemoryStorage();
    const first = await open(factory, 'notes', { localStorage: ls });
    const provider = new CountingProvider();
    first.p.bindProvider(provider);
    first.text.insert(0, 'typed');
    await first.p.whenSaved();
    const held = holdWrites();
    try {
      first.text.insert(5, ' then hidden');
      provider.setUnsynced(3);
      show('visible');
      assert.deepEqual(unsavedCopies(ls), [], 'a page becoming visible copies nothing');
      show('hidden');
      assert.equal(held.length, 1, 'going hidden writes what is queued');
      assert.deepEqual(unsavedCopies(ls), [`flowstate:notes:unsaved:${first.doc.clientID}`]);
      // Killed in the background: no pagehide, the writes aborted.
      for (const tx of held.splice(0)) tx.abort();
    } finally {
      held.release();
    }
    first.p.destroy();

    const second = await open(factory, 'notes', { localStorage: ls });
    assert.equal(second.text.toString(), 'typed then hidden');
    assert.equal(second.p.restoredUnsynced, 3);
    assert.deepEqual(second.events, { disabled: [], error: [] });
    second.p.destroy();
  });
});

test('a page that comes back after going hidden removes its copy once its writes are done', async () => {
  await withDocument(async (show) => {
    const factory = new IDBFactory();
    const ls = new MemoryStorage();
    const page = await open(factory, 'notes', { localStorage: ls });
    page.p.bindProvider(new CountingProvider());
    page.text.insert(0, 'hello');
    show('hidden'); // the write is in flight: copied
    assert.equal(unsavedCopies(ls).length, 1);
    show('visible');
    await page.p.whenSaved();
    assert.deepEqual(unsavedCopies(ls), []);
    page.p.destroy();
    // A destroyed persistence no longer listens.
    const other = await open(factory, 'notes', { localStorage: ls });
    other.p.destroy();
    show('hidden');
    assert.deepEqual(unsavedCopies(ls), []);
  });
});

test('a copy whose unacknowledged count is negative, fractional, not a number or absurdly large is refused with an error event, and removed', async () => {
  const factory = new IDBFactory();
  const ls = new MemoryStorage();
  const first = await open(factory, 'notes', { localStorage: ls });
  first.p.bindProvider(new CountingProvider());
  first.text.insert(0, 'stored');
  await first.p.whenSaved();
  // A real copy of an unwritten edit, to tamper with.
  const held = holdWrites();
  let copy;
  try {
    first.text.insert(6, ' unsaved');
    first.p.onPageHide();
    copy = JSON.parse(ls.getItem(unsavedCopies(ls)[0]));
    for (const tx of held.splice(0)) tx.abort();
  } finally {
    held.release();
  }
  first.p.destroy();
  ls.items.clear();
  const key = Object.keys(copy).find((k) => k.startsWith('unsynced:'));
  const bad = [-1, 1.5, 2 ** 40, '3', null, Number.MAX_SAFE_INTEGER];
  bad.forEach((n, i) => ls.setItem(`flowstate:notes:unsaved:${100 + i}`, JSON.stringify({ ...copy, [key]: n })));

  const second = await open(factory, 'notes', { localStorage: ls });
  assert.equal(second.text.toString(), 'stored', "a refused copy's updates are not applied");
  assert.equal(second.p.restoredUnsynced, 0, 'no refused count is adopted');
  assert.equal(second.events.error.length, bad.length);
  for (const e of second.events.error) assert.match(e.message, /^flowstate: skipped an unsaved copy that does not read: unacknowledged count/);
  await second.p.whenSaved();
  assert.deepEqual(unsavedCopies(ls), [], 'the refused copies go');
  second.p.destroy();

  // The same copy with a sound count is taken.
  ls.setItem('flowstate:notes:unsaved:7', JSON.stringify({ ...copy, [key]: 4 }));
  const third = await open(factory, 'notes', { localStorage: ls });
  assert.equal(third.text.toString(), 'stored unsaved');
  assert.equal(third.p.restoredUnsynced, 4);
  assert.deepEqual(third.events, { disabled: [], error: [] });
  third.p.destroy();
});

/** putMeta writes entries ([key, value]) into the meta store of name, as a damaged or tampered store would hold them. */
function putMeta(factory, name, entries) {
  return new Promise((resolve, reject) => {
    const req = factory.open('flowstate:' + name, 1);
    req.onsuccess = () => {
      const db = req.result;
      const tx = db.transaction('meta', 'readwrite');
      for (const [k, v] of entries) tx.objectStore('meta').put(v, k);
      tx.oncomplete = () => {
        db.close();
        resolve();
      };
      tx.onabort = () => reject(tx.error);
    };
    req.onerror = () => reject(req.error);
  });
}

/** metaKeys returns the keys of the meta store of name. */
function metaKeys(factory, name) {
  return new Promise((resolve, reject) => {
    const req = factory.open('flowstate:' + name, 1);
    req.onsuccess = () => {
      const db = req.result;
      const r = db.transaction('meta').objectStore('meta').getAllKeys();
      r.onsuccess = () => {
        db.close();
        resolve(r.result);
      };
    };
    req.onerror = () => reject(req.error);
  });
}

test('a stored unacknowledged count that is negative, fractional, not a number or absurdly large is refused with an error event, and removed', async () => {
  const factory = new IDBFactory();
  const first = await open(factory, 'notes');
  first.text.insert(0, 'stored');
  await first.p.whenSaved();
  first.p.destroy();
  const bad = [-1, 1.5, 2 ** 40, '3', null, 10n, { n: 1 }];
  await putMeta(factory, 'notes', [...bad.map((n, i) => [`unsynced:${100 + i}`, n]), ['unsynced:99', 4]]);

  const second = await open(factory, 'notes');
  assert.equal(second.text.toString(), 'stored');
  assert.equal(second.p.restoredUnsynced, 4, 'only the sound count is adopted');
  assert.equal(second.events.error.length, bad.length);
  for (const e of second.events.error) assert.match(e.message, /^flowstate: skipped a stored unacknowledged count that does not read: .+ of unsynced:1\d\d$/);
  await second.p.whenSaved();
  assert.deepEqual((await metaKeys(factory, 'notes')).filter((k) => /^unsynced:(99|1\d\d)$/.test(k)), [], 'the refused counts go, as the adopted one does');
  second.p.destroy();
});

test('edits made before the stored document is loaded are kept and stored', async () => {
  const factory = new IDBFactory();
  const a = await open(factory);
  a.text.insert(0, 'stored');
  await a.p.whenSaved();
  a.p.destroy();

  const doc = new Doc();
  const p = new IndexedDBPersistence('notes', doc, { indexedDB: factory, IDBKeyRange });
  doc.getText('t').insert(0, 'early ');
  await p.whenSynced;
  assert.match(doc.getText('t').toString(), /early /);
  assert.match(doc.getText('t').toString(), /stored/);
  await p.whenSaved();
  p.destroy();
  const c = await open(factory);
  assert.equal(c.text.toString(), doc.getText('t').toString());
});

test('the store is compacted into a snapshot, and records of another tab written meanwhile survive', async () => {
  const factory = new IDBFactory();
  const a = await open(factory, 'notes', { compactEvery: 20 });
  const b = await open(factory, 'notes', { compactEvery: 1000 });
  for (let i = 0; i < 15; i++) b.text.insert(b.text.length, 'b');
  await b.p.whenSaved();
  for (let i = 0; i < 60; i++) {
    a.text.insert(a.text.length, 'a');
    if (i % 10 === 0) await a.p.whenSaved();
  }
  await a.p.whenSaved();
  // Let a compaction in flight finish: whenSaved does not wait for it.
  await new Promise((r) => setTimeout(r, 50));
  assert.ok((await count(factory)) < 40, `records after compaction: ${await count(factory)}`);
  a.p.destroy();
  b.p.destroy();
  const c = await open(factory);
  const s = c.text.toString();
  assert.equal(s.replace(/b/g, '').length, 60);
  assert.equal(s.replace(/a/g, '').length, 15, 'the other tab’s records are in the snapshot');
});

test('clearData deletes the stored document; another tab persisting it turns off', async () => {
  const factory = new IDBFactory();
  const a = await open(factory);
  const b = await open(factory);
  a.text.insert(0, 'secret');
  await a.p.whenSaved();
  await a.p.clearData();
  assert.equal(b.events.disabled.length, 1);
  assert.equal(b.p.enabled, false);
  b.text.insert(0, 'still editable ');
  const c = await open(factory);
  assert.equal(c.text.toString(), '');
});

test('without a working IndexedDB, persistence turns off with an event and the Doc works', async (t) => {
  const denied = {
    open() {
      throw new DOMException('The user denied permission to access the database.', 'SecurityError');
    },
  };
  const cases = [
    { name: 'no IndexedDB at all', indexedDB: null, want: /not available/ },
    { name: 'open throws (private mode)', indexedDB: denied, want: /denied/ },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const doc = new Doc();
      const p = new IndexedDBPersistence('notes', doc, { indexedDB: c.indexedDB });
      const disabled = [];
      p.on('disabled', (e) => disabled.push(e));
      await p.whenSynced;
      // The event may have come before the listener: enabled tells.
      assert.equal(p.enabled, false);
      assert.match(p.error.message, c.want);
      doc.getText('t').insert(0, 'works');
      assert.equal(doc.getText('t').toString(), 'works');
      await p.whenSaved();
    });
  }
});

test('a quota error turns persistence off with an event; editing goes on', async () => {
  const factory = new IDBFactory();
  const page = await open(factory);
  page.text.insert(0, 'before ');
  await page.p.whenSaved();
  // Every write from now on fails as a full disk makes it fail.
  const proto = Object.getPrototypeOf(page.p.db.transaction('updates').objectStore('updates'));
  const put = proto.put;
  proto.put = function () {
    throw new DOMException('quota exceeded', 'QuotaExceededError');
  };
  try {
    page.text.insert(page.text.length, 'after');
    await page.p.whenSaved();
    assert.equal(page.p.enabled, false);
    assert.equal(page.events.disabled.length, 1);
    assert.equal(page.events.disabled[0].name, 'QuotaExceededError');
    page.text.insert(page.text.length, '!');
    assert.equal(page.text.toString(), 'before after!');
  } finally {
    proto.put = put;
  }
  const again = await open(factory);
  assert.equal(again.text.toString(), 'before ');
});

test('a stored record that does not apply is skipped with an error event', async () => {
  const factory = new IDBFactory();
  const a = await open(factory);
  a.text.insert(0, 'good');
  await a.p.whenSaved();
  await new Promise((resolve, reject) => {
    const tx = a.p.db.transaction('updates', 'readwrite');
    tx.objectStore('updates').put(new Uint8Array([0xc1, 0x02, 0x03]));
    tx.objectStore('updates').put('not bytes');
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
  });
  a.p.destroy();
  const b = await open(factory);
  assert.equal(b.text.toString(), 'good');
  assert.equal(b.events.error.length, 2);
  assert.equal(b.p.enabled, true);
});

test('a Doc whose own client ID is in the store never writes a second history under it', async () => {
  const factory = new IDBFactory();
  const a = await open(factory);
  a.text.insert(0, 'mine');
  await a.p.whenSaved();
  a.p.destroy();
  const doc = new Doc({ clientID: a.doc.clientID });
  const p = new IndexedDBPersistence('notes', doc, { indexedDB: factory, IDBKeyRange });
  const errors = [];
  p.on('error', (e) => errors.push(e));
  await p.whenSynced;
  if (typeof doc.switchClientID === 'function') {
    // The Doc's own rule: the next edit goes under a fresh ID.
    doc.getText('t').insert(0, '!');
    assert.notEqual(doc.clientID, a.doc.clientID);
    assert.deepEqual(errors, []);
  } else {
    assert.equal(errors.length, 1);
    assert.match(errors[0].message, /own ID/);
  }
});

test('a compacted document comes back as a rendering before the Doc is loaded', async () => {
  const factory = new IDBFactory();
  const first = await open(factory);
  const long = 'é😀x'.repeat(9000); // several chunks, surrogate pairs across their edges
  first.text.insert(0, long);
  first.doc.getText('title').insert(0, 'Notes');
  first.doc.getMap('meta').set('k', 1); // maps are not rendered
  await first.p.whenSaved();
  first.p.compact();
  await first.p.whenSaved();
  await new Promise((r) => setTimeout(r, 20)); // the compaction's transaction
  first.p.destroy();

  const doc = new Doc();
  const p = new IndexedDBPersistence('notes', doc, { indexedDB: factory, IDBKeyRange });
  const texts = await p.whenRendered;
  assert.equal(p.synced, false, 'the rendering comes before the Doc is loaded');
  assert.equal(doc.getText('t').toString(), '');
  assert.deepEqual(texts, { t: long, title: 'Notes' });
  await p.whenSynced;
  assert.equal(doc.getText('t').toString(), long);
  p.destroy();
});

test('leaving the page brings the rendering up to date; a store without one renders null', async () => {
  const factory = new IDBFactory();
  const first = await open(factory);
  assert.equal(await first.p.whenRendered, null);
  first.text.insert(0, 'hello');
  await first.p.whenSaved();
  first.p.onPageHide(); // what a 'pagehide' event runs
  await first.p.whenSaved();
  first.text.insert(5, ' world'); // after the rendering: only the Doc has it
  await first.p.whenSaved();
  first.p.destroy();

  const second = await open(factory);
  assert.deepEqual(await second.p.whenRendered, { t: 'hello' });
  assert.equal(second.text.toString(), 'hello world');
  second.p.destroy();
});

test('a damaged rendering is ignored, and a disabled persistence renders null', async () => {
  const factory = new IDBFactory();
  const first = await open(factory);
  first.text.insert(0, 'kept');
  await first.p.whenSaved();
  first.p.compact();
  await new Promise((r) => setTimeout(r, 20));
  first.p.destroy();
  // A chunk goes missing: the header no longer matches.
  await new Promise((resolve, reject) => {
    const req = factory.open('flowstate:notes', 1);
    req.onsuccess = () => {
      const tx = req.result.transaction('meta', 'readwrite');
      tx.objectStore('meta').delete('rendering/000000');
      tx.oncomplete = () => {
        req.result.close();
        resolve();
      };
      tx.onerror = () => reject(tx.error);
    };
  });
  const second = await open(factory);
  assert.equal(await second.p.whenRendered, null);
  assert.equal(second.text.toString(), 'kept');
  second.p.destroy();

  const off = new IndexedDBPersistence('x', new Doc(), { indexedDB: null });
  assert.equal(await off.whenRendered, null);
});

test('the first screen comes before the rendering, as its start, in one small record', async () => {
  const factory = new IDBFactory();
  const first = await open(factory);
  // A surrogate pair across the first screen's end: the screen stops before it.
  const long = 'ab' + 'é😀x'.repeat(9000);
  assert.equal(long.charCodeAt(FIRST_SCREEN_UNITS - 1) >> 10, 0xd800 >> 10, 'a high surrogate at the cut');
  first.text.insert(0, long);
  first.doc.getText('title').insert(0, 'Notes');
  await first.p.whenSaved();
  first.p.compact();
  await new Promise((r) => setTimeout(r, 20));
  first.p.destroy();

  const doc = new Doc();
  const p = new IndexedDBPersistence('notes', doc, { indexedDB: factory, IDBKeyRange });
  const order = [];
  p.whenFirstScreen.then(() => order.push('screen'));
  p.whenRendered.then(() => order.push('rendering'));
  p.whenSynced.then(() => order.push('synced'));
  const screen = await p.whenFirstScreen;
  assert.deepEqual(screen, { t: long.slice(0, FIRST_SCREEN_UNITS - 1), title: 'Notes' });
  assert.deepEqual(await p.whenRendered, { t: long, title: 'Notes' });
  await p.whenSynced;
  assert.deepEqual(order, ['screen', 'rendering', 'synced']);
  assert.equal(doc.getText('t').toString(), long);
  p.destroy();
});

test('without a first screen, the rendering and the Doc still load; a disabled persistence has none', async (t) => {
  const cases = [
    { name: 'a store written before first screens existed', damage: (meta) => meta.delete('screen') },
    { name: 'a damaged first screen', damage: (meta) => meta.put({ texts: [['t', 42]] }, 'screen') },
    { name: 'a first screen that is not a record', damage: (meta) => meta.put('junk', 'screen') },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const factory = new IDBFactory();
      const first = await open(factory);
      first.text.insert(0, 'kept');
      await first.p.whenSaved();
      first.p.compact();
      await new Promise((r) => setTimeout(r, 20));
      first.p.destroy();
      await new Promise((resolve, reject) => {
        const req = factory.open('flowstate:notes', 1);
        req.onsuccess = () => {
          const tx = req.result.transaction('meta', 'readwrite');
          c.damage(tx.objectStore('meta'));
          tx.oncomplete = () => {
            req.result.close();
            resolve();
          };
          tx.onerror = () => reject(tx.error);
        };
      });
      const second = await open(factory);
      assert.equal(await second.p.whenFirstScreen, null);
      assert.deepEqual(await second.p.whenRendered, { t: 'kept' });
      assert.equal(second.text.toString(), 'kept');
      second.p.destroy();
    });
  }
  const off = new IndexedDBPersistence('x', new Doc(), { indexedDB: null });
  assert.equal(await off.whenFirstScreen, null);
});
