// TextareaBinding: keeps a <textarea> (or a text <input>) and a Text equal.

import { applyDelta, diffText, rebaseChange, transformIndex } from './textdiff.js';

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
 * The Text is authoritative: the element's value is replaced by the
 * Text's content when the binding starts.
 */
export class TextareaBinding {
  /**
   * @param {import('./text.js').Text} text
   * @param {HTMLTextAreaElement | HTMLInputElement} element
   * @param {{presence?: import('./presence.js').Presence}} [options]
   */
  constructor(text, element, options = {}) {
    this.text = text;
    this.element = element;
    this.presence = options.presence ?? null;
    /** The Text's content as the element last showed it (outside compositions). */
    this.shadow = text.toString();
    this.composing = false;
    /** Remote deltas that arrived since shadow was taken, during a composition. @type {any[][]} */
    this.pending = [];
    /** The last published selection, to publish only changes. */
    this.published = '';
    element.value = this.shadow;

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
    this.onSelect = () => this.publish();
    this.onDocumentSelection = () => {
      if (element.ownerDocument && element.ownerDocument.activeElement === element) this.publish();
    };
    element.addEventListener('input', this.onInput);
    element.addEventListener('compositionstart', this.onCompositionStart);
    element.addEventListener('compositionend', this.onCompositionEnd);
    for (const ev of SELECTION_EVENTS) element.addEventListener(ev, this.onSelect);
    const doc = element.ownerDocument;
    if (doc) doc.addEventListener('selectionchange', this.onDocumentSelection);
    this.unobserve = text.observe((ev) => {
      if (!ev.local) this.remote(ev.delta);
    });
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
    if (this.pending.length === 0) {
      this.applyChange(local);
      this.shadow = value;
      this.publish();
      return;
    }
    const change = rebaseChange(local, this.pending);
    this.pending = [];
    this.applyChange(change);
    this.shadow = t.toString();
    const dir = el.selectionDirection;
    el.value = this.shadow;
    const at = change.index + change.insert.length;
    setSelection(el, at, at, dir);
    this.publish();
  }

  applyChange(c) {
    if (c.remove === 0 && c.insert === '') return;
    const t = this.text;
    t.doc.transact(() => {
      if (c.remove > 0) t.delete(c.index, c.remove);
      if (c.insert !== '') t.insert(c.index, c.insert);
    });
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
    this.unobserve();
    const p = this.presence;
    if (p !== null && p.local !== null && typeof p.local === 'object' && 'cursor' in p.local) {
      const { cursor: _cursor, ...rest } = p.local;
      p.setLocal(rest);
    }
  }
}

/** Element events after which the selection may have moved. */
const SELECTION_EVENTS = ['select', 'keyup', 'mouseup', 'focus'];

function setSelection(el, start, end, dir) {
  if (typeof el.setSelectionRange === 'function') el.setSelectionRange(start, end, dir || 'none');
}

function asObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {};
}
