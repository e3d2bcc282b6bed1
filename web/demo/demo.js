// FlowState demo: a CodeMirror editor on the Text "content" of the room
// named by ?room= (default "demo"), with a connection badge, the list of
// who is here and everyone's cursors. It uses only the public client API,
// from the two bundles the server serves.

import { Doc, IndexedDBPersistence, Provider } from '/flowstate.js';
import {
  EditorState,
  EditorView,
  drawSelection,
  highlightActiveLine,
  highlightActiveLineGutter,
  keymap,
  lineNumbers,
  placeholder,
  defaultKeymap,
  history,
  historyKeymap,
  flowstateCollab,
} from '/flowstate-codemirror.js';

/** The room names the server accepts (protocol.ValidRoom). */
const ROOM_RE = /^[A-Za-z0-9._~-]{1,128}$/;

/** Colours for people, readable with white text and as a translucent selection. */
const COLORS = ['#e11d48', '#2563eb', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#ea580c', '#4f46e5'];
const ADJECTIVES = ['Brave', 'Calm', 'Clever', 'Eager', 'Gentle', 'Happy', 'Jolly', 'Kind', 'Lucky', 'Mellow', 'Nimble', 'Quick', 'Quiet', 'Sunny', 'Witty', 'Zesty'];
const ANIMALS = ['Otter', 'Fox', 'Panda', 'Heron', 'Lynx', 'Koala', 'Falcon', 'Badger', 'Dolphin', 'Owl', 'Marten', 'Puffin', 'Tiger', 'Wombat', 'Yak', 'Zebra'];

/** Storage keys: the name the user typed is kept across tabs, the rest per tab. */
const NAME_KEY = 'flowstate.name';
const TAB_KEY = 'flowstate.tab';

/**
 * theme follows the page's colours (demo.css), light or dark, instead of
 * CodeMirror's light defaults.
 */
const theme = EditorView.theme({
  '&': { color: 'var(--text)', backgroundColor: 'var(--card)' },
  '.cm-gutters': { color: 'var(--muted)', backgroundColor: 'var(--card)', borderRight: '1px solid var(--line)' },
  '.cm-activeLine, .cm-activeLineGutter': { backgroundColor: 'var(--active-line)' },
  '.cm-cursor, .cm-dropCursor': { borderLeftColor: 'var(--text)' },
  '&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground, .cm-content ::selection': {
    backgroundColor: 'var(--selection)',
  },
  '.cm-placeholder': { color: 'var(--muted)' },
});

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** pick returns a random element of list. */
function pick(list) {
  return list[Math.floor(Math.random() * list.length)];
}

/**
 * storage returns window[kind] when the browser lets the page use it
 * (private modes and sandboxes may not).
 * @param {'localStorage' | 'sessionStorage'} kind
 */
function storage(kind) {
  try {
    const s = window[kind];
    s.getItem(NAME_KEY);
    return s;
  } catch {
    return null;
  }
}

/**
 * identity returns this tab's name and colour: the name the user chose
 * before if any, else a random friendly one; the tab keeps its random
 * name and colour across reloads.
 */
function identity() {
  const local = storage('localStorage');
  const session = storage('sessionStorage');
  let tab = null;
  try {
    tab = JSON.parse(session?.getItem(TAB_KEY) ?? 'null');
  } catch {
    tab = null;
  }
  if (tab === null || typeof tab.name !== 'string' || !COLORS.includes(tab.color)) {
    tab = { name: `${pick(ADJECTIVES)} ${pick(ANIMALS)}`, color: pick(COLORS) };
    session?.setItem(TAB_KEY, JSON.stringify(tab));
  }
  const chosen = local?.getItem(NAME_KEY);
  return { name: chosen && chosen.trim() !== '' ? chosen : tab.name, color: tab.color, tab };
}

/**
 * distinctColor gives me a colour nobody else in the room shows when a
 * client with a smaller ID already shows mine (of two clashing clients,
 * exactly one gives way) and a free colour is left: a random pick clashes
 * often enough with two or three people. It returns whether the colour
 * changed.
 */
function distinctColor(presence, me, myID) {
  const clash = [...presence.states].some(([id, s]) => s?.color === me.color && id < myID);
  if (!clash) return false;
  const used = new Set([...presence.states.values()].map((s) => s?.color));
  const free = COLORS.filter((c) => !used.has(c));
  if (free.length === 0) return false;
  me.color = pick(free);
  me.tab.color = me.color;
  storage('sessionStorage')?.setItem(TAB_KEY, JSON.stringify(me.tab));
  return true;
}

/** cleanName returns a name fit to publish: trimmed, at most 40 units. */
function cleanName(s) {
  return String(s).trim().slice(0, 40);
}

/**
 * showStatus shows the provider's status in the badge.
 * @param {string} status
 */
function showStatus(status) {
  const el = $('status');
  el.dataset.status = status;
  el.textContent = status;
}

/**
 * showError shows a message under the editor; null hides it.
 * @param {string | null} message
 */
function showError(message) {
  const el = $('error');
  el.hidden = message === null;
  el.textContent = message ?? '';
}

/**
 * showSaved says whether the server has every edit: "saved", "saving…"
 * while connected, or "offline, N changes pending". The edits are also
 * in this browser's storage, so a reload loses none of them.
 */
function showSaved(provider, persistence) {
  const n = provider.unsyncedCount;
  const el = $('saved');
  const online = provider.status === 'connected' || provider.status === 'synced';
  el.dataset.state = n === 0 ? 'saved' : 'pending';
  el.textContent = n === 0 ? 'saved' : online ? 'saving…' : `offline, ${n} ${n === 1 ? 'change' : 'changes'} pending`;
  if (!persistence.enabled) {
    el.textContent += ' · not stored in this browser';
    el.title = String(persistence.error);
  }
}

/** renderPeople redraws the "who is here" list from the presence states. */
function renderPeople(presence, me) {
  const list = $('people');
  const people = [{ id: 'me', name: me.name, color: me.color, me: true }];
  for (const [id, state] of presence.states) {
    if (state == null || typeof state !== 'object') continue;
    const name = typeof state.name === 'string' && state.name.trim() !== '' ? cleanName(state.name) : 'Guest';
    const color = typeof state.color === 'string' && /^#[0-9a-fA-F]{3,6}$/.test(state.color) ? state.color : '#9aa0b4';
    people.push({ id: String(id), name, color, me: false });
  }
  const items = people.map((p) => {
    const li = document.createElement('li');
    li.dataset.client = p.id;
    const dot = document.createElement('span');
    dot.className = 'dot';
    dot.style.background = p.color;
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = p.name; // text, never markup: names come from other people
    li.append(dot, name);
    if (p.me) {
      const tag = document.createElement('span');
      tag.className = 'me';
      tag.textContent = '(you)';
      li.append(tag);
    }
    return li;
  });
  list.replaceChildren(...items);
  $('count').textContent = String(people.length);
}

function main() {
  const params = new URLSearchParams(location.search);
  const room = params.get('room') || 'demo';
  $('room-name').textContent = room;
  const share = new URL(location.pathname, location.href);
  share.search = new URLSearchParams({ room }).toString();
  const shareLink = /** @type {HTMLAnchorElement} */ ($('share-link'));
  shareLink.href = share.href;
  $('share').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(share.href);
      $('share').textContent = 'Copied';
    } catch {
      // No clipboard (an insecure origin, or a refusal): select the link instead.
      getSelection()?.selectAllChildren(shareLink);
      $('share').textContent = 'Select & copy';
    }
    setTimeout(() => ($('share').textContent = 'Copy link'), 1500);
  });

  if (!ROOM_RE.test(room)) {
    showStatus('error');
    showError('Room names use letters, digits and . _ ~ - (at most 128).');
    return;
  }

  const me = identity();
  const doc = new Doc();
  const text = doc.getText('content');
  // The document is kept in this browser too: a page opened offline shows
  // it at once, and edits made offline survive reloads. Other tabs of the
  // room sync with this one directly, with or without the server.
  const persistence = new IndexedDBPersistence(room, doc);
  // The provider reconnects with backoff, and follows the browser's
  // offline and online events on its own.
  const provider = new Provider(doc, { url: Provider.roomURL(location.href, room), persistence, crossTab: true });
  showSaved(provider, persistence);
  provider.on('unsynced', () => showSaved(provider, persistence));
  provider.on('status', () => showSaved(provider, persistence));
  persistence.on('disabled', () => showSaved(provider, persistence));
  const presence = provider.presence;
  presence.setLocal({ name: me.name, color: me.color });

  const view = new EditorView({
    parent: $('editor'),
    state: EditorState.create({
      doc: text.toString(),
      extensions: [
        lineNumbers(),
        history(),
        drawSelection(),
        highlightActiveLine(),
        highlightActiveLineGutter(),
        theme,
        EditorView.lineWrapping,
        placeholder('Start typing… everyone in this room sees it as you type.'),
        keymap.of([...defaultKeymap, ...historyKeymap]),
        EditorView.contentAttributes.of({ 'aria-label': 'Shared document' }),
        flowstateCollab(text, { presence }),
      ],
    }),
  });

  // A permanent error closes the provider: the badge says "error" rather
  // than "closed", and the message says why.
  let failed = false;
  showStatus(provider.status);
  provider.on('status', (status) => {
    showStatus(failed && status === 'closed' ? 'error' : status);
    if (status === 'synced') showError(null);
  });
  provider.on('error', (err) => {
    failed = err.permanent;
    showError(err.permanent ? `Disconnected: ${err.message}` : `Connection problem: ${err.message}; retrying.`);
    if (err.permanent) showStatus('error');
  });

  const nameInput = /** @type {HTMLInputElement} */ ($('name'));
  nameInput.value = me.name;
  $('you-dot').style.background = me.color;
  nameInput.addEventListener('input', () => {
    const name = cleanName(nameInput.value);
    if (name === '') return;
    me.name = name;
    storage('localStorage')?.setItem(NAME_KEY, name);
    presence.setLocal({ ...(presence.local ?? {}), name });
    renderPeople(presence, me);
  });

  renderPeople(presence, me);
  // Each page settles its colour once, at the first news of the others.
  let colorSettled = false;
  presence.on('change', () => {
    if (!colorSettled) {
      colorSettled = true;
      if (distinctColor(presence, me, provider.clientID)) {
        presence.setLocal({ ...(presence.local ?? {}), color: me.color });
        $('you-dot').style.background = me.color;
      }
    }
    renderPeople(presence, me);
  });

  // For the console, and for the end-to-end tests that read the state.
  window.flowstate = { doc, text, provider, presence, view, persistence };
  view.focus();
}

main();
