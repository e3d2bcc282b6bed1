// Hand-written declarations for the Quill 2 binding (src/quill.js). In a
// page, import it from the bundle the server serves at /flowstate-quill.js,
// beside the core at /flowstate.js (which it imports, so the page keeps one
// copy of the core). From npm, import '@flowstate/web/quill'. The binding
// does not bundle Quill: it takes the page's Quill editor.

import type { Presence, Provider, Text, UndoManager } from './index.js';

/** A Quill delta op, as Quill's text-change events and getContents give them. */
export type QuillOp =
  | { insert: string | Record<string, unknown>; attributes?: Record<string, unknown> }
  | { retain: number; attributes?: Record<string, unknown> }
  | { delete: number };

/**
 * The Quill format names the binding carries: bold, italic, underline,
 * strike, code, link (inline); header 1–6, list "bullet" | "ordered",
 * indent 1–8, blockquote, code-block (on a line's "\n"; Quill 2's "plain"
 * is true in the Text); image (an embed, which may carry alt). Pass it as
 * Quill's `formats` option.
 */
export const QUILL_FORMATS: readonly string[];

/** The character the editor shows for an embed it cannot show. */
export const OBJECT_REPLACEMENT: '\ufffc';

/**
 * A FormatError says that a Quill change or a Text holds a format or an
 * embed the binding does not carry; `what` names it ("color",
 * "list=\"checked\"", "embed video").
 */
export class FormatError extends Error {
  readonly name: 'FormatError';
  readonly what: string;
}

/** Throws a FormatError for the first format or embed of a Quill change that the Text does not carry. */
export function checkQuillDelta(ops: readonly QuillOp[]): void;

/**
 * The Quill document that shows a Text's delta (`text.toDelta()`): inline
 * formats on characters and embeds, block formats on each "\n", a last
 * "\n" when the Text lacks one. What the binding does not carry is left
 * out and given to report (an unknown embed shows as U+FFFC).
 */
export function toQuillDelta(
  delta: ReadonlyArray<{ insert: unknown; attributes?: Record<string, unknown> }>,
  report?: (err: FormatError) => void,
): Array<{ insert: string | Record<string, unknown>; attributes?: Record<string, unknown> }>;

/** Makes a Quill change in a Text with applyDelta (inside the caller's transaction, if any): block formats on newlines only, each insert with exactly its attributes. */
export function applyToText(text: Text, ops: readonly QuillOp[]): void;

/**
 * The Quill change for a Text event's delta (inserts with their
 * attributes, retains with the attributes that changed, deletes), shown
 * as toQuillDelta shows a Text; what the binding does not carry is left
 * out and given to report.
 */
export function toQuillChange(
  delta: ReadonlyArray<Record<string, unknown>>,
  report?: (err: FormatError) => void,
): QuillOp[];

/** Options of `new QuillBinding`. */
export interface QuillBindingOptions {
  /** The Provider syncing the Text's Doc: its presence, unless presence is given, publishes and shows cursors. */
  provider?: Provider;
  /** The presence to publish the selection in and draw remote cursors from (by default the provider's). */
  presence?: Presence;
  /** The UndoManager behind the undo keys; by default the binding makes one over its Text (and destroys it with itself). */
  undoManager?: UndoManager;
  /** Gets every FormatError (a refused local change, something of the Text the editor cannot show) and failed edit; console.error by default. */
  onError?: (err: Error) => void;
}

/**
 * A QuillBinding keeps a Quill 2 editor and a rich Text equal. Every change
 * of the editor it did not make becomes one Doc transaction; a change
 * holding a format the Text does not carry is refused whole (the editor
 * goes back to the Text, onError gets a FormatError). Changes of the Text
 * made elsewhere (other clients, undo) reach the editor as their event's
 * delta, one Quill change with source 'api', keeping the local selection
 * (during an IME composition they wait for its end). Quill's
 * history is turned off: Mod+Z, Mod+Shift+Z, Mod+Y and the browser's undo
 * input events go to the UndoManager, which undoes only local changes.
 * With a presence, the selection is published as `cursor: {text, anchor,
 * head}` and the other clients' cursors are drawn with names and colours.
 */
export class QuillBinding {
  constructor(text: Text, quill: unknown, options?: QuillBindingOptions);
  readonly text: Text;
  readonly quill: any;
  /** The UndoManager behind the undo keys. */
  readonly undoManager: UndoManager;
  /** Undoes the last local step; returns whether anything changed. */
  undo(): boolean;
  /** Redoes the last undone step; returns whether anything changed. */
  redo(): boolean;
  /** Makes the editor show the Text (the binding does so on every change it hears of). */
  pull(): void;
  /** Removes every listener, observer and the cursor overlay (and its own UndoManager); the editor keeps its contents. */
  destroy(): void;
}
