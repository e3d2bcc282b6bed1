// QuillBinding: keeps a Quill 2 editor and a rich Text equal.
//
// Quill's document model is the Text's (../../crdt/RICH.md): a Quill delta
// of inserts is what text.toDelta() returns, block formats ride on the
// "\n" that ends each line, an image is one embed position. The keys are
// the same on both sides:
//
//   inline   bold, italic, underline, strike, code: true; link: a URL string
//   block    header: 1–6; list: "bullet" | "ordered"; indent: 1–8;
//            blockquote: true; code-block: true or a language name
//            (Quill 2 calls a code block without a language "plain")
//   embed    {image: src}, which may carry alt: string
//
// This is the set the ProseMirror binding carries too (prosemirror.js), so
// a Quill page and a TipTap page can edit one Text. Anything else a Quill
// change holds (a colour, a checklist, a video) is refused whole and
// reported, never dropped silently: the editor goes back to the Text. The
// other way, what the Text holds that this set lacks (a key another client
// wrote, an unknown embed) is reported once and left out of the editor, an
// unknown embed showing as U+FFFC so that every position stays in place.
//
// Quill always ends with a "\n". A Text written elsewhere may not: the
// editor then shows one more "\n" than the Text holds, and the first local
// edit writes it into the Text, in the same transaction.

import { applyDelta } from './richdelta.js';
import { UndoManager } from './undo.js';
import { safeColor, safeName } from './cursorstyle.js';

/** The character shown for an embed the binding cannot show. */
export const OBJECT_REPLACEMENT = '\ufffc';

/** The inline formats the binding carries, each with a check of its value. */
const INLINE = {
  bold: isTrue,
  italic: isTrue,
  underline: isTrue,
  strike: isTrue,
  code: isTrue,
  link: (v) => typeof v === 'string' && v !== '',
};

/** The block formats the binding carries; they belong on a line's "\n" only. */
const BLOCK = {
  header: (v) => Number.isInteger(v) && v >= 1 && v <= 6,
  list: (v) => v === 'bullet' || v === 'ordered',
  indent: (v) => Number.isInteger(v) && v >= 1 && v <= 8,
  blockquote: isTrue,
  'code-block': (v) => v === true || (typeof v === 'string' && v !== ''),
};

/**
 * PLAIN_CODE is Quill 2's name for a code block without a language, which
 * the Text (and the ProseMirror binding) writes as code-block: true.
 */
const PLAIN_CODE = 'plain';

/** The attributes an image embed may carry beside the inline formats. */
const IMAGE = { alt: (v) => typeof v === 'string' };

/**
 * QUILL_FORMATS lists the Quill format names the binding carries: pass it
 * as Quill's `formats` option, so that Quill itself keeps pasted content
 * within them. (An image's alt is an attribute of the image format, not a
 * format of its own.)
 */
export const QUILL_FORMATS = Object.freeze([...Object.keys(INLINE), ...Object.keys(BLOCK), 'image']);

function isTrue(v) {
  return v === true;
}

/**
 * A FormatError says that a Quill change or a Text holds a format or an
 * embed the binding does not carry; what names it (e.g. "color",
 * "list=checked", "embed video").
 */
export class FormatError extends Error {
  /**
   * @param {string} message
   * @param {string} what
   */
  constructor(message, what) {
    super(`quill: ${message}`);
    this.name = 'FormatError';
    this.what = what;
  }
}

/** isImage reports whether an embed value is an image the binding carries. */
function isImage(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1 && typeof v.image === 'string';
}

/**
 * attributeProblem returns what is wrong with attribute key = value on an
 * insert or retain, or null. A null value removes a key and is always fine
 * for a key the binding carries.
 * @param {string} key
 * @param {unknown} value
 * @param {boolean} image whether the op is an image embed
 */
function attributeProblem(key, value, image) {
  const check = INLINE[key] ?? BLOCK[key] ?? (image ? IMAGE[key] : undefined);
  if (check === undefined) return key;
  if (value === null || check(value)) return null;
  return `${key}=${JSON.stringify(value)}`;
}

/**
 * checkQuillDelta throws a FormatError for the first format or embed of a
 * Quill change (insert, retain and delete ops) that the binding does not
 * carry, and returns nothing for one it does.
 * @param {Array<Record<string, any>>} ops
 * @throws {FormatError}
 */
export function checkQuillDelta(ops) {
  for (const op of ops) {
    if (op.delete !== undefined) continue;
    if (op.retain !== undefined && typeof op.retain !== 'number') {
      throw new FormatError('a change of an embed in place is not carried', 'retain embed');
    }
    const image = op.insert !== undefined && typeof op.insert !== 'string';
    if (image && !isImage(op.insert)) {
      const kind = op.insert !== null && typeof op.insert === 'object' ? Object.keys(op.insert).join(',') : typeof op.insert;
      throw new FormatError(`embed ${kind} is not carried by the Text`, `embed ${kind}`);
    }
    // On a retain, alt may concern an image retained: the Text checks nothing more.
    for (const [k, v] of Object.entries(op.attributes ?? {})) {
      const p = attributeProblem(k, v, image || op.retain !== undefined);
      if (p !== null) throw new FormatError(`format ${p} is not carried by the Text`, p);
    }
  }
}

/**
 * sameValue compares two attribute values (JSON data).
 * @param {unknown} a
 * @param {unknown} b
 */
function sameValue(a, b) {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/**
 * sameAttributes compares two attribute maps, an absent map being empty.
 * @param {Record<string, any> | undefined} a
 * @param {Record<string, any> | undefined} b
 */
export function sameAttributes(a, b) {
  const ka = Object.keys(a ?? {});
  if (ka.length !== Object.keys(b ?? {}).length) return false;
  return ka.every((k) => b !== undefined && Object.hasOwn(b, k) && sameValue(a[k], b[k]));
}

/**
 * pushInsert appends an insert op to ops, merged with the last one when
 * both are text with equal attributes, as Quill's Delta does.
 * @param {Array<{insert: any, attributes?: Record<string, any>}>} ops
 * @param {any} insert
 * @param {Record<string, any>} attributes
 */
function pushInsert(ops, insert, attributes) {
  if (typeof insert === 'string' && insert === '') return;
  const has = Object.keys(attributes).length > 0;
  const last = ops[ops.length - 1];
  if (last !== undefined && typeof last.insert === 'string' && typeof insert === 'string' && sameAttributes(last.attributes, has ? attributes : undefined)) {
    last.insert += insert;
    return;
  }
  ops.push(has ? { insert, attributes } : { insert });
}

/**
 * toQuillDelta returns the Quill document that shows a Text's delta
 * (text.toDelta()): inline formats on characters and embeds, block
 * formats on each "\n", and a last "\n" when the Text does not end with
 * one. What the binding does not carry is left out and given to report, a
 * FormatError per key or embed kind (an unknown embed shows as U+FFFC).
 * @param {Array<{insert: any, attributes?: Record<string, any>}>} delta
 * @param {(err: FormatError) => void} [report]
 * @returns {Array<{insert: any, attributes?: Record<string, any>}>}
 */
export function toQuillDelta(delta, report = () => {}) {
  /** @type {Array<{insert: any, attributes?: Record<string, any>}>} */
  const ops = [];
  for (const op of delta) showInsert(ops, op, report);
  const last = ops[ops.length - 1];
  if (last === undefined || typeof last.insert !== 'string' || !last.insert.endsWith('\n')) pushInsert(ops, '\n', {});
  return ops;
}

/**
 * showInsert appends to ops the Quill inserts that show a Text's insert
 * op (see toQuillDelta).
 * @param {Array<Record<string, any>>} ops
 * @param {{insert: any, attributes?: Record<string, any>}} op
 * @param {(err: FormatError) => void} report
 */
function showInsert(ops, op, report) {
  const image = typeof op.insert !== 'string' && isImage(op.insert);
  /** @type {Record<string, any>} */
  const inline = {};
  /** @type {Record<string, any>} */
  const block = {};
  for (const [k, v] of Object.entries(op.attributes ?? {})) {
    const p = attributeProblem(k, v, image);
    if (p !== null) {
      report(new FormatError(`the Text holds format ${p}, which the editor does not show`, p));
    } else if (v !== null) {
      (Object.hasOwn(BLOCK, k) ? block : inline)[k] = k === 'code-block' && v === true ? PLAIN_CODE : v;
    }
  }
  if (typeof op.insert !== 'string') {
    if (image) {
      pushInsert(ops, op.insert, inline);
    } else {
      const kind = op.insert !== null && typeof op.insert === 'object' ? Object.keys(op.insert).join(',') : typeof op.insert;
      report(new FormatError(`the Text holds an embed ${kind}, which the editor does not show`, `embed ${kind}`));
      pushInsert(ops, OBJECT_REPLACEMENT, inline);
    }
    return;
  }
  // Quill keeps block formats on "\n" and inline ones elsewhere.
  const lines = op.insert.split('\n');
  for (let i = 0; i < lines.length; i++) {
    pushInsert(ops, lines[i], inline);
    if (i < lines.length - 1) pushInsert(ops, '\n', block);
  }
}

/**
 * toQuillChange returns the Quill change for a Text event's delta (inserts
 * with the attributes they have, retains with the attributes that
 * changed, deletes), shown as toQuillDelta shows a Text: what the binding
 * does not carry is left out and reported. Quill applies a retain's block
 * formats to the lines whose "\n" it covers and its inline formats to the
 * characters, as the Text holds them.
 * @param {Array<Record<string, any>>} delta
 * @param {(err: FormatError) => void} [report]
 * @returns {Array<Record<string, any>>}
 */
export function toQuillChange(delta, report = () => {}) {
  /** @type {Array<Record<string, any>>} */
  const ops = [];
  for (const op of delta) {
    if (op.insert !== undefined) {
      showInsert(ops, op, report);
      continue;
    }
    if (op.delete !== undefined) {
      ops.push({ delete: op.delete });
      continue;
    }
    /** @type {Record<string, any>} */
    const attributes = {};
    for (const [k, v] of Object.entries(op.attributes ?? {})) {
      const p = attributeProblem(k, v, true);
      if (p === null) attributes[k] = k === 'code-block' && v === true ? PLAIN_CODE : v;
      else report(new FormatError(`the Text holds format ${p}, which the editor does not show`, p));
    }
    ops.push(Object.keys(attributes).length > 0 ? { retain: op.retain, attributes } : { retain: op.retain });
  }
  return ops;
}

/**
 * applyToText makes the changes of a Quill delta (Text positions) in
 * text, as one transaction or inside the caller's, with applyDelta: block
 * formats on the newlines of an op only, each insert with exactly the
 * attributes of its op. Quill's "plain" code block is a code block
 * without a language, true, in the Text.
 * @param {any} text
 * @param {Array<Record<string, any>>} ops
 */
export function applyToText(text, ops) {
  applyDelta(
    text,
    ops.map((op) =>
      op.attributes?.['code-block'] === PLAIN_CODE ? { ...op, attributes: { ...op.attributes, 'code-block': true } } : op,
    ),
  );
}

// ---------------------------------------------------------------------------
// Remote cursors.

/**
 * safeColor and safeName are the shared checks of a remote colour and name
 * (cursorstyle.js), exported for tests. safeColor's six-digit form lets a
 * selection's tint append an alpha byte: "#abc" + "33" is no colour.
 */
export { safeColor, safeName };

/**
 * The options of a QuillBinding.
 * @typedef {{
 *   provider?: any,
 *   presence?: any,
 *   undoManager?: UndoManager,
 *   onError?: (err: Error) => void,
 * }} QuillBindingOptions
 */

/**
 * A QuillBinding keeps a Quill 2 editor and a rich Text equal.
 *
 * Local changes: every text-change of the editor that the binding did not
 * make (typing, the toolbar, the app's own quill calls) becomes one Doc
 * transaction with the same delta (applyDelta). A change holding a
 * format or embed the Text does not carry is refused whole: the editor
 * goes back to the Text and onError gets a FormatError.
 *
 * Remote changes (and undo, redo, and edits of the Text made elsewhere)
 * reach the editor as one Quill change with source 'api', which keeps the
 * local selection on its text: the Text event's delta, with attributes
 * and embeds. During an IME composition they wait for its end; the editor
 * then catches up by the smallest change between what it shows and the
 * Text, as it does when it starts and after undo or redo.
 *
 * Undo: Quill's history module is turned off and its keys (Mod+Z,
 * Mod+Shift+Z, Mod+Y, and the historyUndo / historyRedo input events) go
 * to the binding's UndoManager, which undoes only this client's changes.
 *
 * Presence: the selection is published as `cursor: {text, anchor, head}`
 * of relative positions (as the other bindings do), and the other
 * clients' cursors and selections on the same Text are drawn over the
 * editor with their names and colours.
 */
export class QuillBinding {
  /**
   * @param {any} text a rich Text
   * @param {any} quill a Quill 2 editor (the page's own Quill, which the binding does not bundle)
   * @param {QuillBindingOptions} [options]
   */
  constructor(text, quill, options = {}) {
    this.text = text;
    this.quill = quill;
    this.provider = options.provider ?? null;
    this.presence = options.presence ?? this.provider?.presence ?? null;
    this.ownUndo = options.undoManager === undefined;
    /** The UndoManager behind the undo keys. @type {UndoManager} */
    this.undoManager = options.undoManager ?? new UndoManager(text);
    this.onError = options.onError ?? ((err) => console.error(err));
    /** What the Text holds that the editor cannot show, reported once each. */
    this.reported = new Set();
    /** Set while the binding changes the editor or the Text, so that it does not take its own change for another. */
    this.applying = false;
    this.destroyed = false;
    /** @type {Array<() => void>} */
    this.cleanup = [];
    const Delta = quill.constructor.import('delta');
    /** @type {any} */
    this.Delta = Delta;

    const onChange = (delta, old, source) => this.onQuillChange(delta, old, source);
    quill.on('text-change', onChange);
    this.cleanup.push(() => quill.off('text-change', onChange));
    /** Set while a change of the Text waits for the end of an IME composition. */
    this.deferred = false;
    // Quill says the composition ended before it stops composing.
    const onCompositionEnd = () => queueMicrotask(() => this.deferred && !this.destroyed && this.pull());
    quill.on('composition-end', onCompositionEnd);
    this.cleanup.push(() => quill.off('composition-end', onCompositionEnd));
    this.cleanup.push(text.observe((ev) => this.onTextChange(ev)));
    this.routeHistory();
    if (this.presence) this.startCursors();
    // The Text is the truth.
    this.pull();
  }

  /**
   * onQuillChange carries a change of the editor into the Text.
   * @param {any} delta
   * @param {any} old the editor's contents before the change
   * @param {string} source
   */
  onQuillChange(delta, old, source) {
    if (this.applying || this.destroyed) return;
    try {
      checkQuillDelta(delta.ops);
    } catch (err) {
      this.onError(err);
      this.pull();
      return;
    }
    const text = this.text;
    let ops = delta.ops;
    let oldLength = old.length();
    if (this.deferred) {
      // The editor does not show the Text's latest changes yet (they wait
      // for a composition to end): the change is moved over them, as
      // Quill's operational transform does, with theirs first.
      const shown = new this.Delta(toQuillDelta(text.toDelta()));
      ops = old.diff(shown).transform(delta, true).ops;
      oldLength = shown.length();
    }
    if (text.length !== oldLength && text.length !== oldLength - 1) {
      // The editor did not show the Text: should never happen, and is
      // mended by showing the Text.
      this.onError(new Error(`quill: the editor held ${oldLength} positions for a Text of ${text.length}`));
      this.pull();
      return;
    }
    this.applying = true;
    try {
      text.doc.transact(() => {
        // The editor's last "\n", which the Text lacked, becomes real.
        if (text.length === oldLength - 1) text.insert(text.length, '\n');
        applyToText(text, ops);
      });
    } catch (err) {
      this.onError(err);
    } finally {
      this.applying = false;
    }
    if (source !== 'silent') this.publishCursor();
    // What the Text refused shows at once. The editor holds the Text, or
    // the Text and a last "\n" (looked at only then: it costs a walk).
    const d = this.quill.getLength() - text.length;
    if (d !== 0 && !(d === 1 && this.phantom())) this.pull();
  }

  /** phantom reports whether the editor shows a last "\n" the Text lacks. */
  phantom() {
    const t = this.text;
    return t.length === 0 || t.toString().charCodeAt(t.length - 1) !== 10;
  }

  /**
   * onTextChange takes a change of the Text made elsewhere into the
   * editor: its event's delta, which carries attributes and embeds.
   * @param {{delta: any[]}} ev
   */
  onTextChange(ev) {
    if (this.applying || this.destroyed) return;
    if (this.deferred || this.quill.composition?.isComposing) {
      this.pull();
      return;
    }
    const change = toQuillChange(ev.delta, (err) => this.report(err));
    this.applying = true;
    try {
      this.quill.updateContents(new this.Delta(change), 'api');
    } finally {
      this.applying = false;
    }
    // The editor's last "\n" is its own: a change there (the Text's
    // last newline made or deleted) shows by the difference.
    const d = this.quill.getLength() - this.text.length;
    if (d !== 0 && !(d === 1 && this.phantom())) this.pull();
    this.drawCursors();
  }

  /** report gives err to onError, once for each thing the editor cannot show. @param {FormatError} err */
  report(err) {
    if (this.reported.has(err.what)) return;
    this.reported.add(err.what);
    this.onError(err);
  }

  /**
   * pull makes the editor show the Text by the smallest change between
   * what it shows and the Text, with source 'api': Quill moves the local
   * selection through it.
   */
  pull() {
    if (this.quill.composition?.isComposing) {
      // Changing the editor would break the composition: the change waits
      // for its end, when Quill has reported the composed text.
      this.deferred = true;
      return;
    }
    this.deferred = false;
    const target = new this.Delta(toQuillDelta(this.text.toDelta(), (err) => this.report(err)));
    const change = this.quill.getContents().diff(target);
    if (change.ops.length === 0) return;
    this.applying = true;
    try {
      this.quill.updateContents(change, 'api');
    } finally {
      this.applying = false;
    }
    this.drawCursors();
  }

  /**
   * routeHistory turns Quill's history off and sends its keys and the
   * browser's undo input events to the UndoManager. The listeners sit on
   * the editor's container in the capture phase, so they run before
   * Quill's own on its root.
   */
  routeHistory() {
    const history = this.quill.history;
    if (history) {
      history.clear();
      history.options.maxStack = 0;
      // Callers of quill.history (a toolbar button) get the Text's undo.
      history.undo = () => this.undo();
      history.redo = () => this.redo();
    }
    const container = this.quill.container;
    const onKey = (e) => {
      if (!(e.ctrlKey || e.metaKey) || e.altKey) return;
      const k = e.key.toLowerCase();
      let run = null;
      if (k === 'z') run = e.shiftKey ? 'redo' : 'undo';
      else if (k === 'y' && !e.shiftKey) run = 'redo';
      if (run === null) return;
      e.preventDefault();
      e.stopPropagation();
      this[run]();
    };
    const onInput = (e) => {
      if (e.inputType !== 'historyUndo' && e.inputType !== 'historyRedo') return;
      e.preventDefault();
      e.stopPropagation();
      if (e.inputType === 'historyUndo') this.undo();
      else this.redo();
    };
    container.addEventListener('keydown', onKey, true);
    container.addEventListener('beforeinput', onInput, true);
    this.cleanup.push(() => {
      container.removeEventListener('keydown', onKey, true);
      container.removeEventListener('beforeinput', onInput, true);
    });
  }

  /** undo undoes the last local step; it returns whether anything changed. */
  undo() {
    return this.restore('undo');
  }

  /** redo redoes the last undone step; it returns whether anything changed. */
  redo() {
    return this.restore('redo');
  }

  /**
   * restore runs undo or redo, shows the result and puts the caret at the
   * end of what changed.
   * @param {'undo' | 'redo'} which
   */
  restore(which) {
    const before = this.quill.getContents();
    const um = this.undoManager;
    const changed = which === 'undo' ? um.undo() : um.redo();
    this.pull();
    if (changed) {
      const change = before.diff(this.quill.getContents());
      let end = 0;
      let at = 0;
      for (const op of change.ops) {
        if (op.retain !== undefined) {
          at += op.retain;
          if (op.attributes) end = at;
        } else if (op.insert !== undefined) {
          at += typeof op.insert === 'string' ? op.insert.length : 1;
          end = at;
        } else {
          end = at;
        }
      }
      if (this.quill.hasFocus()) this.quill.setSelection(Math.min(end, this.quill.getLength() - 1), 0, 'silent');
      this.publishCursor();
    }
    return changed;
  }

  // -------------------------------------------------------------------------
  // Presence

  /** startCursors publishes the local selection and draws the remote ones. */
  startCursors() {
    const quill = this.quill;
    const overlay = document.createElement('div');
    overlay.className = 'fs-quill-cursors';
    overlay.setAttribute('aria-hidden', 'true');
    overlay.style.cssText = 'position:absolute;inset:0;pointer-events:none;overflow:hidden;';
    if (getComputedStyle(quill.container).position === 'static') quill.container.style.position = 'relative';
    quill.container.appendChild(overlay);
    this.overlay = overlay;
    const onSelection = (range, _old, source) => {
      if (source !== 'silent' || range !== null) this.publishCursor(range);
    };
    const onEditor = () => this.drawCursors();
    quill.on('selection-change', onSelection);
    quill.on('editor-change', onEditor);
    const onPresence = () => this.drawCursors();
    const off = this.presence.on('change', onPresence);
    const onScroll = () => this.drawCursors();
    quill.root.addEventListener('scroll', onScroll);
    const ro = typeof ResizeObserver === 'function' ? new ResizeObserver(onScroll) : null;
    ro?.observe(quill.container);
    this.cleanup.push(() => {
      quill.off('selection-change', onSelection);
      quill.off('editor-change', onEditor);
      if (typeof off === 'function') off();
      else this.presence.off('change', onPresence);
      quill.root.removeEventListener('scroll', onScroll);
      ro?.disconnect();
      overlay.remove();
      const local = this.presence.local;
      if (local?.cursor != null) {
        const { cursor: _, ...rest } = local;
        this.presence.setLocal(rest);
      }
    });
  }

  /**
   * publishCursor publishes the editor's selection (range, or the current
   * one) in presence; a caret sticks to the character before it, a
   * selection's ends to the selected characters.
   * @param {{index: number, length: number} | null} [range]
   */
  publishCursor(range = this.quill.getSelection()) {
    if (!this.presence || this.destroyed || range == null) return;
    const t = this.text;
    const from = Math.min(range.index, t.length);
    const to = Math.min(range.index + range.length, t.length);
    const cursor =
      from === to
        ? { text: t.name, anchor: t.relativePosition(from, -1), head: t.relativePosition(from, -1) }
        : { text: t.name, anchor: t.relativePosition(from, 0), head: t.relativePosition(to, -1) };
    const prev = this.presence.local?.cursor;
    if (prev && JSON.stringify(prev) === JSON.stringify(cursor)) return;
    this.presence.setLocal({ ...(this.presence.local ?? {}), cursor });
  }

  /** drawCursors draws the other clients' cursors and selections on this Text. */
  drawCursors() {
    const overlay = this.overlay;
    if (!overlay || this.destroyed) return;
    const quill = this.quill;
    const max = quill.getLength() - 1;
    const parts = [];
    for (const [clientID, state] of this.presence.states) {
      const cursor = state?.cursor;
      if (cursor == null || typeof cursor !== 'object' || cursor.text !== this.text.name) continue;
      let anchor, head;
      try {
        anchor = this.text.absolutePosition(cursor.anchor);
        head = this.text.absolutePosition(cursor.head);
      } catch {
        continue; // a malformed position from a remote client draws nothing
      }
      if (anchor == null || head == null) continue;
      const a = Math.max(0, Math.min(anchor, max));
      const h = Math.max(0, Math.min(head, max));
      const color = safeColor(state.color, clientID);
      const from = Math.min(a, h);
      const to = Math.max(a, h);
      // One box per line of the selection.
      for (let at = from; at < to; ) {
        const [line, offset] = quill.getLine(at);
        const end = line ? Math.min(to, at - offset + line.length() - 1) : to;
        const b = end > at ? quill.getBounds(at, end - at) : null;
        if (b) {
          const box = document.createElement('div');
          box.className = 'fs-quill-selection';
          box.style.cssText = `position:absolute;left:${b.left}px;top:${b.top}px;width:${b.width}px;height:${b.height}px;background:${color}33;`;
          parts.push(box);
        }
        at = end + 1;
      }
      const b = quill.getBounds(h, 0);
      if (!b) continue;
      const caret = document.createElement('div');
      caret.className = 'fs-quill-caret';
      caret.dataset.client = String(clientID);
      caret.style.cssText = `position:absolute;left:${b.left - 1}px;top:${b.top}px;height:${b.height}px;border-left:2px solid ${color};`;
      const label = document.createElement('div');
      label.className = 'fs-quill-caret-label';
      label.style.cssText =
        `position:absolute;left:-2px;bottom:100%;padding:0 4px;border-radius:3px 3px 3px 0;color:#fff;` +
        `font:11px/1.4 system-ui,sans-serif;white-space:nowrap;background:${color};`;
      label.textContent = safeName(state.name, clientID); // text, never markup: remote input
      caret.appendChild(label);
      parts.push(caret);
    }
    overlay.replaceChildren(...parts);
  }

  /** destroy removes every listener and observer (and the binding's own UndoManager); the editor keeps its contents. */
  destroy() {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const f of this.cleanup) f();
    this.cleanup = [];
    if (this.ownUndo) this.undoManager.destroy();
  }
}
