// Hand-written declarations for the <textarea> binding (src/textarea.js).
// In a page, import it from the bundle the server serves at
// /flowstate-textarea.js, beside the core at /flowstate.js (which it
// imports, so the page keeps one copy of the core). From npm, import
// '@flowstate/web/textarea'.

import type { Presence, Text, UndoManager } from './index.js';

/** Options of `new TextareaBinding`. */
export interface TextareaBindingOptions {
  /** If given, the local selection is published as `cursor: {text, anchor, head}` in the local presence state. */
  presence?: Presence;
  /**
   * The UndoManager behind the undo keys, for a manager shared with other
   * bindings or a toolbar; by default the binding makes one over its Text
   * (and destroys it with itself).
   */
  undoManager?: UndoManager;
}

/**
 * A TextareaBinding keeps a <textarea> (or text <input>) and a Text equal:
 * typing becomes one local transaction per input event (nothing during an
 * IME composition; its result when it ends), remote edits are applied to
 * the value with the local selection kept in place, and the selection is
 * published to presence as relative positions.
 *
 * Undo: Ctrl/Cmd+Z, Ctrl/Cmd+Shift+Z and Ctrl+Y, and the `historyUndo` and
 * `historyRedo` input events, go to the binding's UndoManager instead of
 * the browser's undo (which a remote edit would wipe): only local edits
 * are undone, remote ones stay, and the selection comes back with each
 * step. Moving the caret (arrow keys, Home, End, Page Up/Down, a click)
 * ends a step. Local edits of the Text made elsewhere (an undo, a script) show in
 * the element like remote ones.
 */
export class TextareaBinding {
  constructor(text: Text, element: HTMLTextAreaElement | HTMLInputElement, options?: TextareaBindingOptions);
  readonly text: Text;
  readonly element: HTMLTextAreaElement | HTMLInputElement;
  /** The UndoManager behind the undo keys. */
  readonly undoManager: UndoManager;
  /** Applies pending typing, then undoes the last local step; returns whether anything changed. */
  undo(): boolean;
  /** Applies pending typing, then redoes the last undone step; returns whether anything changed. */
  redo(): boolean;
  /** Removes every listener and observer (and its own UndoManager); the element keeps its value. */
  destroy(): void;
  /**
   * Makes an element not bound yet show stored text (from
   * IndexedDBPersistence.whenFirstScreen, then whenRendered) by the
   * smallest change (setRangeText, so the selection stays), keeping what
   * was typed on the stored text it showed before (at first, its
   * defaultValue). The binding made on the element next makes that
   * typing in the Text, moved over what the Text has that the stored text
   * lacked. Typing in several places is taken as one change spanning
   * them: where the Text differs from the stored text inside that span,
   * the typed version wins.
   */
  static showStored(element: HTMLTextAreaElement | HTMLInputElement, stored: string): void;
}
