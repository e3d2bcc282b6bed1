// Hand-written declarations for the ProseMirror binding (src/prosemirror.js).
// In a page, import it from the bundle the server serves at
// /flowstate-prosemirror.js, which also re-exports all of prosemirror-model,
// -state, -view, -transform, -keymap and -commands, so that the page has exactly one
// copy of ProseMirror. From npm, import '@flowstate/web/prosemirror' with
// the prosemirror packages installed beside it.

import type { Node as PMNode, Schema } from 'prosemirror-model';
import type { Command, EditorState, Plugin, PluginKey, Transaction } from 'prosemirror-state';
import type { Text, UndoManager } from './index.js';
import type { CursorPresence } from './codemirror.js';

export type { CursorPresence } from './codemirror.js';

/** One op of a rich Text delta (Quill's shape); an attribute value null removes the key. */
export interface RichDeltaOp {
  insert?: string | Record<string, unknown>;
  retain?: number;
  delete?: number;
  attributes?: Record<string, unknown>;
}

/** The character that stands for a hard break in the Text: U+2028 LINE SEPARATOR. */
export const HARD_BREAK: string;

/** The character shown in the editor for an embed its schema cannot show: U+FFFC. */
export const OBJECT_REPLACEMENT: string;

/**
 * Something a document or a delta holds that the mapping cannot carry
 * (another node or mark, an attribute other than its default, a
 * blockquote inside a list, …); path tells where.
 */
export class SchemaError extends Error {
  readonly path: string;
}

/**
 * The Text delta (inserts) a ProseMirror document stands for. Blocks end
 * with "\n" carrying their attributes (header, list, indent, blockquote,
 * code-block); hard breaks are U+2028; images are `{image: src}` embeds
 * with alt and title as attributes; marks are bold, italic, underline,
 * strike, code and link (the href). Throws a SchemaError for anything
 * else.
 */
export function docToDelta(doc: PMNode): RichDeltaOp[];

/**
 * The document of schema a Text delta stands for. What the schema cannot
 * show throws a SchemaError or, with onUnsupported, is reported there and
 * left out without moving any position.
 */
export function deltaToDoc(schema: Schema, delta: RichDeltaOp[], options?: { onUnsupported?: (err: SchemaError) => void }): PMNode;

/**
 * The smallest Text delta (retain/insert/delete with attributes) that
 * turns the Text of a into that of b, or null if they stand for the same
 * Text; cursor (the caret's position in b) picks among equally small
 * changes the one where the user typed. Throws a SchemaError if b holds
 * what the mapping cannot carry.
 */
export function diffDocs(a: PMNode, b: PMNode, cursor?: number): RichDeltaOp[] | null;

/** The range where two documents differ: start, its end in a and in b; null if equal. */
export function changedRange(a: PMNode, b: PMNode): { start: number; endA: number; endB: number } | null;

/** The length of the Text a document stands for. */
export function docLength(doc: PMNode): number;

/** The Text offset of a document position. */
export function textOffset(doc: PMNode, pos: number): number;

/** The document position of a Text offset. */
export function docPosition(doc: PMNode, offset: number): number;

/**
 * The ProseMirror document a rich Text stands for (deltaToDoc of its
 * toDelta), kept up to date from the Text's change events: each costs in
 * proportion to the lines it touches. The binding's remote path.
 */
export class TextMirror {
  constructor(schema: Schema, delta: RichDeltaOp[], options?: { onUnsupported?: (err: SchemaError) => void });
  /** Takes the Text whole from its delta (toDelta). */
  reset(delta: RichDeltaOp[]): void;
  /** Takes a Text event's delta (Text.observe) into the mirror. */
  applyEvent(delta: RichDeltaOp[]): void;
  /** The document the Text stands for now. */
  doc(): PMNode;
  /** Replaces the document with an equal one, so that they share nodes. */
  adopt(doc: PMNode): void;
}

/** The transaction that makes state show target (the Text's document after a change made elsewhere), or null if it shows it already. */
export function remoteTransaction(state: EditorState, target: PMNode, options?: { restoring?: boolean }): Transaction | null;

/** Makes a delta's changes in text, as one Doc transaction. */
export function applyTextDelta(text: Text, delta: RichDeltaOp[]): void;

/** Options of the binding's plugins. */
export interface ProseMirrorBindingOptions {
  /** The Provider syncing the Text's Doc: its presence is the default one (remote changes reach the editor through the Text's events). */
  provider?: { presence?: CursorPresence };
  /** Shares the selection and draws the other clients' (the provider's presence by default). */
  presence?: CursorPresence;
  /** The UndoManager of the Text behind undo and redo; the binding makes one without it. */
  undoManager?: UndoManager;
  /** Called with what the Text cannot carry (a refused local transaction) or the editor cannot show; console.error by default. */
  onError?: (err: Error) => void;
  /** flowstatePlugins only: false leaves out flowstateKeymap. */
  keymap?: boolean;
}

/** The sync plugin's key. */
export const flowstateSyncKey: PluginKey;

/** The cursor plugin's key. */
export const flowstateCursorKey: PluginKey;

/**
 * The plugin that binds the editor to text: each local transaction becomes
 * the smallest Text delta for what it changed (one Doc transaction), each
 * change of the Text made elsewhere the smallest editor transaction, kept
 * out of the editor's history and keeping the selection. A local
 * transaction the Text cannot carry is refused and reported to onError.
 * The Text is the truth: the editor shows it right after the view starts.
 */
export function flowstateSync(text: Text, options?: ProseMirrorBindingOptions): Plugin;

/**
 * The plugin that publishes the selection as the `cursor` field of the
 * local presence state and draws the other clients' carets (class
 * `fs-pm-caret`, with `data-client`; name label `fs-pm-caret-label`; in
 * an empty block, the block itself gets `fs-pm-caret-block`, a bar in the
 * colour and the name as its title) and selections (`fs-pm-selection`) in
 * their colours.
 */
export function flowstateCursors(text: Text, presence: CursorPresence): Plugin;

/** Mod-z undoes, Shift-Mod-z and Mod-y redo, local edits only. */
export function flowstateKeymap(): Plugin;

/** flowstateSync, flowstateKeymap and (with a presence) flowstateCursors. */
export function flowstatePlugins(text: Text, options?: ProseMirrorBindingOptions): Plugin[];

/** Undoes the last local step of the Text (never another client's). */
export const undo: Command;

/** Redoes the last undone step. */
export const redo: Command;

/** Whether tr is one the binding dispatched for a change of the Text made elsewhere. */
export function isRemoteTransaction(tr: Transaction): boolean;
