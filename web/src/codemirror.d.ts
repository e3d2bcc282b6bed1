// Hand-written declarations for the CodeMirror 6 binding (src/codemirror.js).
// In a page, import it from the bundle the server serves at
// /flowstate-codemirror.js, which also re-exports all of @codemirror/state,
// @codemirror/view and @codemirror/commands, so that the page has exactly
// one copy of CodeMirror. From npm, import '@flowstate/web/codemirror' with
// @codemirror/state and @codemirror/view installed beside it.

import type { Extension, Transaction } from '@codemirror/state';
import type { EditorView } from '@codemirror/view';
import type { Text } from './index.js';

/**
 * The presence the binding needs: the Provider's `presence` satisfies it.
 * The binding publishes the local selection as the `cursor` field of the
 * local state (keeping the other fields) and draws the `cursor`, `name`
 * and `color` fields of the remote states.
 */
export interface CursorPresence {
  /** The local state, or null. */
  readonly local: unknown;
  /** The states of the other clients, by client ID. */
  readonly states: Map<number, any>;
  /** Replaces the local state. */
  setLocal(state: unknown): void;
  /** Subscribes to changes of the remote states; returns the unsubscribe function. */
  on(event: 'change', fn: (ev: { added: number[]; updated: number[]; removed: number[] }) => void): () => void;
}

/**
 * The `cursor` field of a presence state: the main selection of a client's
 * editor on the Text named `text`, as CRDT-anchored relative positions
 * (from `Text.relativePosition`), so that it follows concurrent edits.
 */
export interface SharedCursor {
  text: string;
  anchor: unknown;
  head: unknown;
}

/** Options of flowstateCollab and CodeMirrorBinding. */
export interface CollabOptions {
  /** Shares the local selection and draws remote cursors when given. */
  presence?: CursorPresence;
}

/**
 * A CodeMirror extension that binds the editor to text: each local editor
 * transaction becomes one Doc transaction on the Text, and each change of
 * the Text made elsewhere becomes one editor transaction built from its
 * delta (never a whole-document replacement), left out of the undo
 * history, so that undo takes back local edits only. Positions are UTF-16
 * units on both sides.
 *
 * Create the EditorState with `doc: text.toString()`; if they differ, the
 * editor's content is replaced with the Text's right after the view
 * starts. With `presence`, it includes remoteCursors(text, presence).
 */
export function flowstateCollab(text: Text, options?: CollabOptions): Extension;

/**
 * A CodeMirror extension that publishes the editor's main selection as the
 * `cursor` field of the local presence state and draws the other clients'
 * cursors and selections on the same Text: a caret with a name label in
 * the client's colour (a `#rgb` or `#rrggbb` `color`; anything else gets
 * a colour picked by client ID) and a translucent selection. The carets
 * have the class `cm-fs-caret` (with `data-client`), the labels
 * `cm-fs-caret-label`, the selections `cm-fs-selection`.
 */
export function remoteCursors(text: Text, presence: CursorPresence): Extension;

/**
 * Binds an existing EditorView to a Text: replaces the editor's content
 * with the Text's (the smallest change) and adds flowstateCollab(text,
 * options) to the view's configuration, in one transaction. An editor
 * with earlyEdits() keeps the edits typed before: they are made in the
 * Text first, moved over what the Text has that the editor's stored text
 * lacked.
 */
export class CodeMirrorBinding {
  constructor(text: Text, view: EditorView, options?: CollabOptions);
  readonly text: Text;
  readonly view: EditorView;
  /** Removes the binding (and the local cursor from presence); the editor keeps its content. */
  destroy(): void;
}

/** Whether tr is one the binding dispatched for a change that came from the Text. */
export function isRemote(tr: Transaction): boolean;

/**
 * A CodeMirror extension that lets an editor be edited before it is bound
 * to its Text, as one painted from IndexedDBPersistence.whenFirstScreen
 * before the Doc is loaded: it records the text the editor was created
 * with and the edits made since, which CodeMirrorBinding makes in the
 * Text when it binds. Every change other than through showStored counts
 * as an edit to be made in the Text.
 */
export function earlyEdits(): Extension;

/**
 * Makes an editor with earlyEdits() show stored (the whole rendering
 * after the first screen, say), keeping the edits typed so far on it, in
 * the smallest transaction, left out of the undo history: the rest of
 * the text is inserted at the end, and the selection and scroll position
 * stay. Returns false, doing nothing, without earlyEdits or once bound.
 */
export function showStored(view: EditorView, stored: string): boolean;
