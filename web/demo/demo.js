// FlowState demo: an editor on a Text of the room named by ?room= (default
// "demo"), with a connection badge, the list of who is here and
// everyone's cursors. Two modes, two Texts of the same room, so that they
// never fight: by default a CodeMirror editor on the plain Text "content";
// with ?mode=rich a TipTap editor with a toolbar on the rich Text "rich"
// (marks, headings, lists, quotes, code blocks). It uses only the public
// client API, from the bundles the server serves. A server started with
// --auth-secret needs a token: ?token= or the field the page shows when the
// server asks for one. The editor is read-only until the room has loaded,
// and again once the page can no longer sync (a refused token). A
// document kept in this browser shows at once: in plain mode its first
// screen after one small read, editable, then the rest of its stored
// rendering, then the Doc it binds to, which takes what was typed
// meanwhile; in rich mode the editor shows once the Doc has loaded.

import { Doc, Provider } from '/flowstate.js';
import { IndexedDBPersistence } from '/flowstate-persistence.js';
import * as codemirror from '/flowstate-codemirror.js';

const params = new URLSearchParams(location.search);

/** The page's mode: "rich" for the TipTap editor, else "plain". */
const MODE = params.get('mode') === 'rich' ? 'rich' : 'plain';

/** The Text each mode edits: a rich Text and a plain one are different Texts. */
const TEXT_NAMES = { plain: 'content', rich: 'rich' };

/**
 * tiptap is the TipTap bundle, loaded in rich mode only. CodeMirror's is
 * imported statically: the plain mode must run before the page's
 * DOMContentLoaded, to paint a stored document at once, which a module
 * awaiting an import would not.
 */
const tiptap = MODE === 'rich' ? import('/flowstate-tiptap.js') : null;

/** The room names the server accepts (protocol.ValidRoom). */
const ROOM_RE = /^[A-Za-z0-9._~-]{1,128}$/;

/** Colours for people, readable with white text and as a translucent selection. */
const COLORS = ['#e11d48', '#2563eb', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#ea580c', '#4f46e5'];
const ADJECTIVES = ['Brave', 'Calm', 'Clever', 'Eager', 'Gentle', 'Happy', 'Jolly', 'Kind', 'Lucky', 'Mellow', 'Nimble', 'Quick', 'Quiet', 'Sunny', 'Witty', 'Zesty'];
const ANIMALS = ['Otter', 'Fox', 'Panda', 'Heron', 'Lynx', 'Koala', 'Falcon', 'Badger', 'Dolphin', 'Owl', 'Marten', 'Puffin', 'Tiger', 'Wombat', 'Yak', 'Zebra'];

/** Storage keys: the name the user typed is kept across tabs, the rest per tab. */
const NAME_KEY = 'flowstate.name';
const TAB_KEY = 'flowstate.tab';

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
 * distinctColor runs at every change of the others' presence. When a
 * client with a smaller ID shows my colour, I give way (of two clashing
 * clients exactly one does) and take a colour nobody shows, or failing
 * that one no smaller ID shows. The smallest ID never moves, then the
 * next settles, and so on: while fewer people than COLORS are present,
 * everyone ends with a colour of their own. It returns whether the colour
 * changed.
 */
function distinctColor(presence, me, myID) {
  const others = [...presence.states].filter(([, s]) => s != null && typeof s === 'object');
  const clash = others.some(([id, s]) => s.color === me.color && id < myID);
  if (!clash) return false;
  const used = new Set(others.map(([, s]) => s.color));
  const below = new Set(others.filter(([id]) => id < myID).map(([, s]) => s.color));
  let free = COLORS.filter((c) => !used.has(c));
  if (free.length === 0) free = COLORS.filter((c) => !below.has(c));
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
 * showError shows a message above the editor; null hides it, with the
 * buttons and forms that go with messages.
 * @param {string | null} message
 */
function showError(message) {
  const el = $('error');
  el.hidden = message === null;
  el.textContent = message ?? '';
  $('notice').hidden = message === null;
  if (message === null) {
    for (const id of ['retry', 'token-form', 'room-form']) $(id).hidden = true;
  }
}

/**
 * problem says in words what ended a connection, from its close code
 * (PROTOCOL.md §8), for people rather than for developers.
 * @param {{code: number, message: string, permanent: boolean}} err
 * @param {{token: string, wentAway: boolean}} ctx
 */
function problem(err, ctx) {
  switch (err.code) {
    case 1001:
      return 'The server shut down cleanly (it may be restarting).';
    case 1006:
    case 1005:
      return ctx.wentAway ? "The server shut down cleanly, and can't be reached yet." : "Can't reach the server.";
    case 1011:
      return `The server could not serve this room: ${err.message}.`;
    case 1013:
      return 'The server is busy right now.';
    case 4008:
      return 'This page fell behind the room.';
    case 4429:
      return 'This page sent too much too fast, and the server slowed it down.';
    case 4401:
      return ctx.token === ''
        ? 'This server needs an access token to open rooms. Paste one below (its operator makes them with "flowstate token --room ROOM").'
        : `The server refused this access token: ${err.message}. Paste another one below.`;
    case 4403:
      return `This access token does not allow that: ${err.message}. Paste another one below.`;
    case 4408:
      return 'Your access token has expired. Paste a new one below.';
    default:
      return err.permanent ? `Disconnected: ${err.message}.` : `Connection lost: ${err.message}.`;
  }
}

/** needsToken reports whether a close code asks for another token. */
function needsToken(code) {
  return code === 4401 || code === 4403 || code === 4408;
}

/**
 * validRoomFrom turns a refused room name into one the server accepts:
 * the characters it refuses become dashes.
 * @param {string} room
 */
function validRoomFrom(room) {
  const s = room.trim().replace(/[^A-Za-z0-9._~-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 128);
  return s === '' ? 'demo' : s;
}

/**
 * showSaved says whether the server has every edit: "saved", "saving…"
 * while connected, or "offline, N changes pending". The edits are also
 * in this browser's storage, so a reload loses none of them.
 */
function showSaved(provider, persistence) {
  const n = provider.unsyncedCount;
  const el = $('saved');
  if (!persistence.synced) {
    // The count of changes the server lacks comes with the stored document.
    el.dataset.state = 'loading';
    el.textContent = 'loading…';
    return;
  }
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

/**
 * An Editor is the page's editor, whichever the mode: main drives it the
 * same way in both.
 * @typedef {object} Editor
 * @property {(why: string | null) => void} setEditable takes typing (null), or shows why it does not
 * @property {(texts: Record<string, string> | null) => boolean} showStored shows the stored rendering of the Texts before the binding, if the editor can; reports whether it did
 * @property {(text: any, presence: any, provider: any) => unknown} bind binds the editor to the Text, once the Doc has loaded (rich mode: once its bundle has too)
 * @property {() => void} focus
 * @property {any} view the editor's view (CodeMirror's or ProseMirror's), for the console and the tests
 * @property {any} [editor] the TipTap editor, in rich mode
 */

/**
 * plainEditor makes the CodeMirror editor of the plain mode. It starts
 * unbound: a document kept in this browser shows in three steps, its
 * first screen (one small read), then the rest of its stored rendering,
 * then the Doc, loaded, to which the editor is bound. earlyEdits keeps
 * what is typed before the binding, and the binding makes it in the Doc,
 * moved over what the rendering lacked: the editor takes typing from the
 * first screen on, and no keystroke is lost.
 * @returns {Editor}
 */
function plainEditor(cm) {
  const { Compartment, EditorState, EditorView, placeholder } = cm;
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
    // A remote caret's name shows while the pointer is over the caret (a
    // band a few pixels wide around it), not all the time: drawn above the
    // caret, it would cover the line above. The list of who is here names
    // everyone, in the same colours.
    '.cm-fs-caret': { pointerEvents: 'auto' },
    '.cm-fs-caret::before': { content: '""', position: 'absolute', top: '0', bottom: '0', left: '-5px', width: '10px' },
    '.cm-fs-caret-label': { opacity: '0', transition: 'opacity 0.15s', pointerEvents: 'none' },
    '.cm-fs-caret:hover .cm-fs-caret-label': { opacity: '1' },
  });
  /** The placeholder of an editor people may type into. */
  const writable = placeholder('Start typing… everyone in this room sees it as you type.');
  /** editable holds writable, or a locked editor with a placeholder that says why. */
  const editable = new Compartment();
  /** locked returns the extensions of an editor nobody may type into yet, and why. @param {string} why */
  const locked = (why) => [EditorState.readOnly.of(true), EditorView.editable.of(false), placeholder(why)];

  const view = new EditorView({
    parent: $('editor'),
    state: EditorState.create({
      extensions: [
        cm.lineNumbers(),
        cm.history(),
        cm.drawSelection(),
        cm.highlightActiveLine(),
        cm.highlightActiveLineGutter(),
        theme,
        EditorView.lineWrapping,
        cm.earlyEdits(),
        editable.of(locked('Loading the room…')),
        cm.keymap.of([...cm.defaultKeymap, ...cm.historyKeymap]),
        EditorView.contentAttributes.of({ 'aria-label': 'Shared document' }),
      ],
    }),
  });
  return {
    view,
    setEditable: (why) => view.dispatch({ effects: editable.reconfigure(why === null ? writable : locked(why)) }),
    showStored(texts) {
      const content = texts?.[TEXT_NAMES.plain];
      if (!content) return false;
      cm.showStored(view, content);
      return true;
    },
    bind: (text, presence) => new cm.CodeMirrorBinding(text, view, { presence }),
    focus: () => view.focus(),
  };
}

// Toolbar icons, 20 × 20, drawn with currentColor.
const svg = (body) =>
  `<svg viewBox="0 0 20 20" width="18" height="18" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">${body}</svg>`;
const ICONS = {
  code: svg('<path d="M7 6l-4 4 4 4M13 6l4 4-4 4"/>'),
  link: svg('<path d="M8.5 11.5a3 3 0 0 0 4.2 0l2.6-2.6a3 3 0 0 0-4.2-4.2l-1 1M11.5 8.5a3 3 0 0 0-4.2 0l-2.6 2.6a3 3 0 0 0 4.2 4.2l1-1"/>'),
  bulletList: svg('<path d="M8 5.5h9M8 10h9M8 14.5h9"/><circle cx="4" cy="5.5" r="1" fill="currentColor"/><circle cx="4" cy="10" r="1" fill="currentColor"/><circle cx="4" cy="14.5" r="1" fill="currentColor"/>'),
  orderedList: svg('<path d="M8 5.5h9M8 10h9M8 14.5h9M3.5 4.5l1-.5v3.5M3 12.5c.5-1 2.5-1 2.2.6L3 15.5h2.5"/>'),
  blockquote: svg('<path d="M4 4v12M8 6h8M8 10h8M8 14h5"/>'),
  codeBlock: svg('<rect x="2.5" y="3.5" width="15" height="13" rx="2"/><path d="M8 8l-2 2 2 2M12 8l2 2-2 2"/>'),
  undo: svg('<path d="M7.5 4.5L4 8l3.5 3.5M4 8h8a4 4 0 0 1 0 8H9"/>'),
  redo: svg('<path d="M12.5 4.5L16 8l-3.5 3.5M16 8H8a4 4 0 0 0 0 8h3"/>'),
};

/**
 * TOOLS are the toolbar's buttons, in groups: what each does to a TipTap
 * command chain, and when it shows as pressed (active) or can be used
 * (can, for undo and redo).
 */
const TOOLS = [
  [
    { name: 'bold', text: 'B', title: 'Bold (Ctrl+B)', run: (c) => c.toggleBold(), active: (e) => e.isActive('bold') },
    { name: 'italic', text: 'I', title: 'Italic (Ctrl+I)', run: (c) => c.toggleItalic(), active: (e) => e.isActive('italic') },
    { name: 'strike', text: 'S', title: 'Strikethrough (Ctrl+Shift+S)', run: (c) => c.toggleStrike(), active: (e) => e.isActive('strike') },
    { name: 'code', title: 'Code (Ctrl+E)', run: (c) => c.toggleCode(), active: (e) => e.isActive('code') },
    { name: 'link', title: 'Link', link: true, active: (e) => e.isActive('link') },
  ],
  [1, 2, 3].map((level) => ({
    name: `h${level}`,
    text: `H${level}`,
    title: `Heading ${level} (Ctrl+Alt+${level})`,
    run: (c) => c.toggleHeading({ level }),
    active: (e) => e.isActive('heading', { level }),
  })),
  [
    { name: 'bulletList', title: 'Bulleted list (Ctrl+Shift+8)', run: (c) => c.toggleBulletList(), active: (e) => e.isActive('bulletList') },
    { name: 'orderedList', title: 'Numbered list (Ctrl+Shift+7)', run: (c) => c.toggleOrderedList(), active: (e) => e.isActive('orderedList') },
    { name: 'blockquote', title: 'Quote (Ctrl+Shift+B)', run: (c) => c.toggleBlockquote(), active: (e) => e.isActive('blockquote') },
    { name: 'codeBlock', title: 'Code block (Ctrl+Alt+C)', run: (c) => c.toggleCodeBlock(), active: (e) => e.isActive('codeBlock') },
  ],
  [
    { name: 'undo', title: 'Undo your last change (Ctrl+Z)', run: (c) => c.undo(), can: (e) => e.can().undo() },
    { name: 'redo', title: 'Redo (Ctrl+Shift+Z)', run: (c) => c.redo(), can: (e) => e.can().redo() },
  ],
];

/**
 * applyLink links the selection, or takes the link off where the caret is
 * in one. With nothing selected, the address itself is typed as a link.
 * It reports what it could not do.
 * @param {any} editor
 * @param {(message: string) => void} refused
 */
function applyLink(editor, refused) {
  if (editor.isActive('link')) {
    editor.chain().focus().extendMarkRange('link').unsetLink().run();
    return;
  }
  const href = window.prompt('Link to', 'https://')?.trim();
  if (!href || href === 'https://') {
    editor.commands.focus();
    return;
  }
  const { empty } = editor.state.selection;
  const chain = editor.chain().focus();
  const done = empty
    ? chain.insertContent({ type: 'text', text: href, marks: [{ type: 'link', attrs: { href } }] }).run()
    : chain.setLink({ href }).run();
  // TipTap refuses addresses that could run script (javascript:…).
  if (!done || !editor.isActive('link')) refused(`"${href.slice(0, 100)}" is not an address a link may have.`);
}

/**
 * richEditor makes the TipTap editor of the rich mode and its toolbar.
 * TipTap's binding shows the Text as soon as it starts, so the editor is
 * made at bind, once the Doc has loaded and the bundle (a promise) with
 * it; until then the page shows why it is empty.
 * @returns {Editor}
 */
function richEditor(bundle) {
  const parent = $('editor');
  parent.classList.add('rich');
  document.body.classList.add('mode-rich');
  /** @type {any} */
  let editor = null;
  /** @type {string | null} */
  let why = 'Loading the room…';

  let hideRefused = 0;
  /** refused says for a few seconds what the editor would not do. */
  const refused = (message) => {
    const el = $('refused');
    el.textContent = message;
    el.hidden = false;
    clearTimeout(hideRefused);
    hideRefused = setTimeout(() => (el.hidden = true), 6000);
  };

  const toolbar = $('toolbar');
  const buttons = [];
  for (const group of TOOLS) {
    const g = document.createElement('div');
    g.className = 'tool-group';
    for (const tool of group) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'tool';
      b.dataset.tool = tool.name;
      b.title = tool.title;
      b.setAttribute('aria-label', tool.title.replace(/ \(.*\)$/, ''));
      if (tool.active) b.setAttribute('aria-pressed', 'false');
      if (ICONS[tool.name]) b.innerHTML = ICONS[tool.name]; // our own markup, never input
      else b.textContent = tool.text;
      // Keep the editor's selection: a click on a button would take focus.
      b.addEventListener('mousedown', (ev) => ev.preventDefault());
      b.addEventListener('click', () => {
        if (editor === null || why !== null) return;
        if (tool.link) applyLink(editor, refused);
        else tool.run(editor.chain().focus()).run();
      });
      g.append(b);
      buttons.push({ b, tool });
    }
    toolbar.append(g);
  }
  toolbar.hidden = false;

  /** refresh shows the formats at the selection, and the placeholder of an empty editor. */
  const refresh = () => {
    for (const { b, tool } of buttons) {
      const usable = editor !== null && why === null;
      b.disabled = !usable || (tool.can !== undefined && !tool.can(editor));
      if (tool.active) b.setAttribute('aria-pressed', String(usable && tool.active(editor)));
    }
    parent.dataset.placeholder = why ?? 'Start typing… everyone in this room sees it as you type.';
    parent.dataset.empty = String(editor === null || editor.isEmpty);
  };
  refresh();
  let queued = false;
  /** later refreshes once the current task's changes are all made. */
  const later = () => {
    if (queued) return;
    queued = true;
    queueMicrotask(() => {
      queued = false;
      refresh();
    });
  };

  return {
    get view() {
      return editor?.view ?? null;
    },
    get editor() {
      return editor;
    },
    setEditable(w) {
      why = w;
      editor?.setEditable(w === null, false);
      refresh();
    },
    showStored: () => false,
    async bind(text, presence, provider) {
      let tt;
      try {
        tt = await bundle;
      } catch (err) {
        why = `The editor could not load: ${err.message}`;
        refresh();
        return;
      }
      editor = new tt.Editor({
        element: parent,
        editable: why === null,
        extensions: [
          tt.StarterKit.configure({
            undoRedo: false, // undo is the Text's: local edits only
            trailingNode: false, // every page would add the same paragraph at once
            horizontalRule: false, // the rich Text has no rules
            link: { openOnClick: false, autolink: true, defaultProtocol: 'https' },
          }),
          tt.Image,
          tt.FlowStateCollaboration.configure({
            text,
            provider,
            presence,
            onError: (err) => refused(`That change can't be shared, so it was not made: ${err.message}`),
          }),
        ],
        editorProps: { attributes: { 'aria-label': 'Shared document', spellcheck: 'true' } },
        // After the transaction: undo and redo change the Text from a
        // microtask, and what they leave to redo is known only after it.
        onTransaction: later,
      });
      refresh();
      if (document.activeElement === document.body) editor.commands.focus();
    },
    focus: () => editor?.commands.focus(),
  };
}

/**
 * modeLinks points the Plain and Rich links at this room in each mode,
 * keeping the rest of the address (a token), and marks the current one.
 */
function modeLinks() {
  for (const mode of ['plain', 'rich']) {
    const a = /** @type {HTMLAnchorElement} */ ($(`mode-${mode}`));
    const u = new URL(location.href);
    if (mode === 'rich') u.searchParams.set('mode', 'rich');
    else u.searchParams.delete('mode');
    a.href = u.href;
    if (mode === MODE) a.setAttribute('aria-current', 'page');
  }
}

/**
 * showInvalidRoom shows only the error and a form to open a valid room,
 * prefilled with the name made valid.
 * @param {string} room
 */
function showInvalidRoom(room) {
  document.body.classList.add('bad-room');
  showStatus('error');
  showError(`"${room.slice(0, 200)}" is not a room name. Room names use letters, digits and . _ ~ - (at most 128).`);
  const form = $('room-form');
  const input = /** @type {HTMLInputElement} */ ($('room-input'));
  input.value = validRoomFrom(room);
  form.hidden = false;
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = input.value.trim();
    if (!ROOM_RE.test(name)) {
      showError(`"${name.slice(0, 200)}" is not a room name either. Room names use letters, digits and . _ ~ - (at most 128).`);
      form.hidden = false;
      return;
    }
    const u = new URL(location.href);
    u.searchParams.set('room', name);
    location.assign(u);
  });
  input.focus();
}

function main() {
  const room = params.get('room') || 'demo';
  $('room-name').textContent = room;
  const share = new URL(location.pathname, location.href);
  share.search = new URLSearchParams(MODE === 'rich' ? { room, mode: 'rich' } : { room }).toString();
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

  modeLinks();

  if (!ROOM_RE.test(room)) {
    showInvalidRoom(room);
    return;
  }

  const me = identity();
  const doc = new Doc();
  const text = doc.getText(TEXT_NAMES[MODE]);
  let token = params.get('token') ?? '';
  // The document is kept in this browser too: a page opened offline shows
  // it at once, and edits made offline survive reloads. Other tabs of the
  // room sync with this one directly, with or without the server.
  const persistence = new IndexedDBPersistence(room, doc);
  // The provider reconnects with backoff, and follows the browser's
  // offline and online events on its own.
  const provider = new Provider(doc, { url: Provider.roomURL(location.href, room), token, persistence, crossTab: true });
  showSaved(provider, persistence);
  provider.on('unsynced', () => showSaved(provider, persistence));
  provider.on('status', () => showSaved(provider, persistence));
  persistence.on('disabled', () => showSaved(provider, persistence));
  persistence.on('synced', () => showSaved(provider, persistence));
  const presence = provider.presence;
  presence.setLocal({ name: me.name, color: me.color });

  const editor = MODE === 'rich' ? richEditor(tiptap) : plainEditor(codemirror);
  // Typing is invited only while the page can sync: from the first
  // Welcome on, and not after the server refused it for good. Offline
  // after that, edits stay in the page and go out on reconnection.
  let isLocked = true;
  const setEditable = (why) => {
    isLocked = why !== null;
    editor.setEditable(why);
  };

  // A permanent error closes the provider: the badge says "error" rather
  // than "closed", and the message says why and what to do.
  let failed = false;
  let loaded = false;
  let wentAway = false; // the last close was the server's clean shutdown
  let headline = '';
  let tokenWanted = false; // the last close asked for another token
  let retryAt = 0;
  let countdown = 0;
  const showProblem = () => {
    const left = Math.ceil((retryAt - Date.now()) / 1000);
    const kept = !loaded || failed ? '' : tokenWanted ? ' Your edits stay here and are sent once it is in.' : ' Your edits stay here and are sent when it is back.';
    const when = retryAt === 0 ? '' : left > 0 ? ` Retrying in ${left} s.` : ' Retrying…';
    showError(headline + kept + when);
    $('retry').hidden = retryAt === 0;
  };
  let bound = false; // to the Text; what is stored shows before, but never after it
  /** stored shows stored text of the room, once there is some, and invites typing. */
  const stored = (texts) => {
    if (bound || !editor.showStored(texts)) return;
    if (isLocked && !failed && !tokenWanted) {
      loaded = true;
      setEditable(null);
    }
  };
  persistence.whenFirstScreen.then(stored);
  persistence.whenRendered.then(stored);

  const stopCountdown = () => {
    clearInterval(countdown);
    countdown = 0;
    retryAt = 0;
  };
  showStatus(provider.status);
  provider.on('status', (status) => {
    showStatus(failed && status === 'closed' ? 'error' : status);
    if (status === 'connected' || status === 'synced') {
      stopCountdown();
      failed = wentAway = false;
      if (isLocked) setEditable(null);
      loaded = true;
      showError(null);
    } else if (status === 'connecting' && retryAt !== 0) {
      stopCountdown();
      showProblem();
    }
  });
  provider.on('error', (err) => {
    failed = err.permanent;
    if (err.code === 1001) wentAway = true;
    headline = problem(err, { token, wentAway });
    tokenWanted = needsToken(err.code);
    stopCountdown();
    showProblem();
    if (needsToken(err.code)) {
      $('token-form').hidden = false;
      $('token').focus();
    }
    if (err.permanent || err.code === 4408) {
      setEditable(err.permanent ? 'This page cannot sync: see the message above.' : 'Waiting for a new access token…');
      showStatus(err.permanent ? 'error' : 'offline');
    } else if (!loaded) {
      setEditable('Waiting for the server…');
    }
  });
  provider.on('retry', (delay) => {
    retryAt = Date.now() + delay;
    showProblem();
    clearInterval(countdown);
    countdown = setInterval(showProblem, 250);
  });
  // A document kept in this browser can be edited at once, even while the
  // server is out of reach: the edits are stored here and sent later.
  // The provider connects only after this load, so the editor is bound
  // before a Welcome can unlock it.
  persistence.whenSynced.then(() => {
    editor.bind(text, presence, provider);
    bound = true;
    if (isLocked && !failed && !tokenWanted && persistence.enabled && doc.stateVector().size > 0) {
      loaded = true;
      setEditable(null);
    }
  });
  $('retry').addEventListener('click', () => provider.retryNow());
  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    token = /** @type {HTMLInputElement} */ ($('token')).value.trim();
    if (token === '') return;
    // Kept in the address, so that a reload or a copied link works.
    const u = new URL(location.href);
    u.searchParams.set('token', token);
    window.history.replaceState(null, '', u);
    headline = 'Connecting with the new token…';
    tokenWanted = false;
    showProblem();
    $('token-form').hidden = true;
    provider.setToken(token);
    if (provider.status === 'closed') provider.connect();
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
  presence.on('change', () => {
    if (distinctColor(presence, me, provider.clientID)) {
      presence.setLocal({ ...(presence.local ?? {}), color: me.color });
      $('you-dot').style.background = me.color;
    }
    renderPeople(presence, me);
  });

  // For the console, and for the end-to-end tests that read the state.
  window.flowstate = {
    doc,
    text,
    provider,
    presence,
    persistence,
    get view() {
      return editor.view;
    },
    get editor() {
      return editor.editor;
    },
  };
  editor.focus();
}

main();
