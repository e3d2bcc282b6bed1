// TextareaBinding: keeps a <textarea> (or a text <input>) and a Text equal.

import { applyDelta, diffText, rebaseChange, transformIndex } from './textdiff.js';
import { UndoManager } from './undo.js';

/**
 * A TextareaBinding keeps a textarea and a Text equal, in both directions.
 *
 * Local typing: every input event becomes one local transaction holding
 * the smallest change between the old and the new value (found around the
 * caret, never splitting a surrogate pair). During an IME composition
 * nothing is applied; the composed text goes in when the composition
 * ends, so the Text never holds half-composed characters.
 *
 * Remote edits: their delta is applied to the value, and the local
 * selection is moved through it, so the caret stays on the same text.
 * While a composition is under way they wait, since rewriting the value
 * would cancel it, and go in with the composed text at its end.
 *
 * Presence: with a presence, the local selection is published as
 * `cursor: {text, anchor, head}`, where anchor and head are relative
 * positions (Text.relativePosition), merged into the local state.
 *
 * Undo: the binding's UndoManager (`binding.undoManager`, one of its own
 * over the Text unless the options give one) takes Ctrl/Cmd+Z, and
 * Ctrl/Cmd+Shift+Z and Ctrl+Y for redo, and the `historyUndo` and
 * `historyRedo` input events (the browser's Edit menu), instead of the
 * browser's own undo, which knows nothing of remote edits and is lost
 * whenever one rewrites the value. Only local edits are undone; the
 * selection comes back with them. Moving the caret (arrow keys, Home,
 * End, Page Up/Down, a click) ends a step, as in the browser's undo. Local edits of the Text made elsewhere
 * (an undo, a script) show in the element like remote ones.
 *
 * The Text is authoritative: the element's value is replaced by the
 * Text's content when the binding starts, but for the typing on stored
 * text given through TextareaBinding.showStored, which the binding makes
 * in the Text first.
 */
export class TextareaBinding {
  /**
   * @param {import('./text.js').Text} text
   * @param {HTMLTextAreaElement | HTMLInputElement} element
   * @param {{presence?: import('./presence.js').Presence, undoManager?: UndoManager}} [options]
   */
  constructor(text, element, options = {}) {
    this.text = text;
    this.element = element;
    this.presence = options.presence ?? null;
    /** The UndoManager behind Ctrl+Z, the options' or the binding's own. @type {UndoManager} */
    this.undoManager = options.undoManager ?? new UndoManager(text);
    this.ownsUndoManager = options.undoManager === undefined;
    /** Set while the binding edits the Text, whose events it then needs not show. */
    this.editing = false;
    /** The selection before the input under way, as relative positions, from beforeinput. */
    this.before = null;
    /** The selection as last seen, as relative positions: before an input that had no beforeinput. */
    this.lastSelection = null;
    /** The undo item the binding's last edit added or grew, and whether it added it. */
    this.touched = null;
    this.touchedAdded = false;
    /** The Text's content as the element last showed it (outside compositions). */
    this.shadow = text.toString();
    this.composing = false;
    /** Remote deltas that arrived since shadow was taken, during a composition. @type {any[][]} */
    this.pending = [];
    /** The last published selection, to publish only changes. */
    this.published = '';
    let caret = null;
    const base = storedBase.get(element);
    storedBase.delete(element);
    if (base !== undefined && element.value !== base) {
      // Typed on stored text before the binding: moved over what the Text
      // has that the stored text lacked, then made in the Text.
      const typed = diffText(base, element.value, element.selectionEnd ?? -1);
      const change = rebaseChange(typed, [changeDelta(diffText(base, this.shadow))]);
      try {
        this.applyChange(change);
        caret = change.index + change.insert.length;
      } catch (err) {
        // Typing the Text refuses (a lone surrogate) is reported, not
        // thrown: the element shows the Text, bound all the same.
        queueMicrotask(() => {
          throw err;
        });
      }
      this.shadow = text.toString();
    }
    if (base === undefined) {
      element.value = this.shadow;
    } else if (element.value !== this.shadow) {
      // The smallest change, so that the selection stays on its text.
      const c = diffText(element.value, this.shadow);
      element.setRangeText(c.insert, c.index, c.index + c.remove, 'preserve');
    }
    if (caret !== null) setSelection(element, caret, caret, 'none');

    this.onInput = () => {
      if (!this.composing) this.sync();
    };
    this.onCompositionStart = () => {
      this.composing = true;
    };
    this.onCompositionEnd = () => {
      this.composing = false;
      this.sync();
    };
    this.onSelect = () => {
      this.publish();
      this.lastSelection = this.selection();
    };
    this.onDocumentSelection = () => {
      if (element.ownerDocument && element.ownerDocument.activeElement === element) this.onSelect();
    };
    this.onKeyDown = (e) => {
      // Moving the caret ends the undo step, as in the browser's own undo.
      if (NAVIGATION_KEYS.has(e.key)) this.undoManager.stopCapturing();
      if (e.isComposing || e.altKey || !(e.ctrlKey || e.metaKey)) return;
      const key = e.key.toLowerCase();
      if (key === 'z') {
        e.preventDefault();
        if (e.shiftKey) this.redo();
        else this.undo();
      } else if (key === 'y' && e.ctrlKey && !e.shiftKey) {
        e.preventDefault();
        this.redo();
      }
    };
    this.onBeforeInput = (e) => {
      if (e.inputType === 'historyUndo' || e.inputType === 'historyRedo') {
        e.preventDefault();
        if (e.inputType === 'historyUndo') this.undo();
        else this.redo();
      } else if (!this.composing) {
        this.before = this.selection();
      }
    };
    this.onCompositionStartUndo = () => {
      this.before = this.selection();
    };
    this.onMouseDown = () => this.undoManager.stopCapturing();
    const um = this.undoManager;
    const touch = (added) => (ev) => {
      if (!this.editing || !ev.edit) return;
      this.touched = ev.item;
      this.touchedAdded = added;
    };
    this.unlisten = [
      um.on('stack-item-added', touch(true)),
      um.on('stack-item-updated', touch(false)),
      um.on('stack-item-popped', ({ item }) => this.restore(item.selectionBefore)),
    ];
    element.addEventListener('keydown', this.onKeyDown);
    element.addEventListener('mousedown', this.onMouseDown);
    element.addEventListener('beforeinput', this.onBeforeInput);
    element.addEventListener('compositionstart', this.onCompositionStartUndo);
    element.addEventListener('input', this.onInput);
    element.addEventListener('compositionstart', this.onCompositionStart);
    element.addEventListener('compositionend', this.onCompositionEnd);
    for (const ev of SELECTION_EVENTS) element.addEventListener(ev, this.onSelect);
    const doc = element.ownerDocument;
    if (doc) doc.addEventListener('selectionchange', this.onDocumentSelection);
    this.unobserve = text.observe((ev) => {
      if (!ev.local || !this.editing) this.remote(ev.delta);
    });
    this.lastSelection = this.selection();
  }

  /**
   * showStored makes a textarea (or text input) that is not bound yet show
   * stored text, as IndexedDBPersistence.whenFirstScreen and whenRendered
   * give it, keeping what was typed on the stored text it showed before
   * (at first, its defaultValue): the smallest change, made with
   * setRangeText, so that the selection stays on its text. The binding
   * made on the element next makes that typing in the Text. Typing in
   * several places is taken as one change spanning them (the element
   * keeps no history before the binding): where the Text differs from
   * the stored text inside that span, the typed version wins.
   * @param {HTMLTextAreaElement | HTMLInputElement} element
   * @param {string} stored
   */
  static showStored(element, stored) {
    const base = storedBase.get(element) ?? element.defaultValue ?? '';
    const value = element.value;
    let c = diffText(base, stored);
    if (value !== base) {
      // Typed since: the stored text's change moves over the typing, and
      // goes after typing at the same place, as the binding puts it.
      const typed = changeDelta(diffText(base, value, element.selectionEnd ?? -1));
      const start = transformIndex(typed, c.index, 1);
      const end = c.remove === 0 ? start : Math.max(start, transformIndex(typed, c.index + c.remove, 0));
      c = { index: start, remove: end - start, insert: c.insert };
    }
    if (c.remove > 0 || c.insert !== '') element.setRangeText(c.insert, c.index, c.index + c.remove, 'preserve');
    storedBase.set(element, stored);
  }

  /**
   * undo undoes the last local step, after the typing not yet applied,
   * and returns whether it changed anything.
   */
  undo() {
    if (this.composing) return false;
    this.sync();
    return this.undoManager.undo();
  }

  /** redo redoes the last undone step and returns whether it changed anything. */
  redo() {
    if (this.composing) return false;
    this.sync();
    return this.undoManager.redo();
  }

  /**
   * selection returns the element's selection as relative positions of
   * the Text, anchor first (a selection made backwards has its head first).
   */
  selection() {
    const el = this.element;
    let anchor = el.selectionStart ?? 0;
    let head = el.selectionEnd ?? anchor;
    if (el.selectionDirection === 'backward') [anchor, head] = [head, anchor];
    const t = this.text;
    const len = t.length;
    return { text: t.name, anchor: t.relativePosition(Math.min(anchor, len)), head: t.relativePosition(Math.min(head, len)) };
  }

  /** restore selects what a selection of this Text, from an undo item, stands for now. */
  restore(sel) {
    if (sel === null || sel.text !== this.text.name || this.element.value !== this.shadow) return;
    const t = this.text;
    const anchor = t.absolutePosition(sel.anchor);
    const head = t.absolutePosition(sel.head);
    if (anchor === null || head === null) return;
    setSelection(this.element, Math.min(anchor, head), Math.max(anchor, head), anchor > head ? 'backward' : 'forward');
    this.publish();
    this.lastSelection = this.selection();
  }

  /**
   * remote applies a remote delta to the element, moving the selection
   * through it, or keeps it for later during a composition or while the
   * element holds typing not yet seen by an input event.
   */
  remote(delta) {
    const el = this.element;
    if (this.composing || el.value !== this.shadow) {
      this.pending.push(delta);
      if (!this.composing) this.sync();
      return;
    }
    const start = el.selectionStart ?? 0;
    const end = el.selectionEnd ?? start;
    const dir = el.selectionDirection;
    const value = applyDelta(this.shadow, delta);
    this.shadow = value;
    el.value = value;
    const s = transformIndex(delta, start);
    const e = start === end ? s : Math.max(s, transformIndex(delta, end));
    setSelection(el, s, e, dir);
  }

  /**
   * sync applies the element's change since shadow to the Text, as one
   * local transaction; when remote deltas arrived in between it is moved
   * onto them first, and the element is reset to the Text's content.
   */
  sync() {
    const el = this.element;
    const value = el.value;
    if (value === this.shadow && this.pending.length === 0) {
      this.publish();
      return;
    }
    const caret = el.selectionEnd ?? -1;
    const local = diffText(this.shadow, value, caret);
    const t = this.text;
    const before = this.before ?? this.lastSelection;
    this.before = null;
    if (this.pending.length === 0) {
      this.applyChange(local);
      this.shadow = value;
    } else {
      const change = rebaseChange(local, this.pending);
      this.pending = [];
      this.applyChange(change);
      this.shadow = t.toString();
      const dir = el.selectionDirection;
      el.value = this.shadow;
      const at = change.index + change.insert.length;
      setSelection(el, at, at, dir);
    }
    this.lastSelection = this.selection();
    const item = this.touched;
    if (item !== null) {
      // The undo item of this edit: the caret goes back to before it on
      // undo, and to after it on redo.
      this.touched = null;
      if (this.touchedAdded && before !== null) item.selectionBefore = before;
      item.selectionAfter = this.lastSelection;
    }
    this.publish();
  }

  applyChange(c) {
    if (c.remove === 0 && c.insert === '') return;
    const t = this.text;
    this.editing = true;
    try {
      t.doc.transact(() => {
        if (c.remove > 0) t.delete(c.index, c.remove);
        if (c.insert !== '') t.insert(c.index, c.insert);
      });
    } finally {
      this.editing = false;
    }
  }

  /** publish sets the cursor of the local presence state to the selection, if it changed. */
  publish() {
    const p = this.presence;
    if (p === null || this.composing) return;
    const el = this.element;
    let anchor = el.selectionStart;
    let head = el.selectionEnd;
    if (typeof anchor !== 'number' || typeof head !== 'number') return;
    if (el.selectionDirection === 'backward') [anchor, head] = [head, anchor];
    const len = this.text.length;
    anchor = Math.min(anchor, len);
    head = Math.min(head, len);
    const key = `${anchor}:${head}:${len}`;
    if (key === this.published) return;
    this.published = key;
    const cursor = { text: this.text.name, anchor: this.text.relativePosition(anchor), head: this.text.relativePosition(head) };
    p.setLocal({ ...asObject(p.local), cursor });
  }

  /** destroy removes every listener and the cursor from presence; the element keeps its value. */
  destroy() {
    const el = this.element;
    el.removeEventListener('input', this.onInput);
    el.removeEventListener('compositionstart', this.onCompositionStart);
    el.removeEventListener('compositionend', this.onCompositionEnd);
    for (const ev of SELECTION_EVENTS) el.removeEventListener(ev, this.onSelect);
    if (el.ownerDocument) el.ownerDocument.removeEventListener('selectionchange', this.onDocumentSelection);
    el.removeEventListener('keydown', this.onKeyDown);
    el.removeEventListener('mousedown', this.onMouseDown);
    el.removeEventListener('beforeinput', this.onBeforeInput);
    el.removeEventListener('compositionstart', this.onCompositionStartUndo);
    for (const off of this.unlisten) off();
    if (this.ownsUndoManager) this.undoManager.destroy();
    this.unobserve();
    const p = this.presence;
    if (p !== null && p.local !== null && typeof p.local === 'object' && 'cursor' in p.local) {
      const { cursor: _cursor, ...rest } = p.local;
      p.setLocal(rest);
    }
  }
}

/**
 * storedBase holds, for an element not bound yet, the stored text last
 * given to TextareaBinding.showStored: what it holds beyond it is typing.
 * @type {WeakMap<object, string>}
 */
const storedBase = new WeakMap();

/**
 * changeDelta returns a change as a Text delta.
 * @param {{index: number, remove: number, insert: string}} c
 */
function changeDelta(c) {
  const d = [];
  if (c.index > 0) d.push({ retain: c.index });
  if (c.remove > 0) d.push({ delete: c.remove });
  if (c.insert !== '') d.push({ insert: c.insert });
  return d;
}

/** Keys that move the caret: each ends the undo step under way. */
const NAVIGATION_KEYS = new Set(['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'Home', 'End', 'PageUp', 'PageDown']);

/** Element events after which the selection may have moved. */
const SELECTION_EVENTS = ['select', 'keyup', 'mouseup', 'focus'];

function setSelection(el, start, end, dir) {
  if (typeof el.setSelectionRange === 'function') el.setSelectionRange(start, end, dir || 'none');
}

function asObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {};
}
