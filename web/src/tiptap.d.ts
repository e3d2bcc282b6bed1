// Hand-written declarations for the TipTap extension (src/tiptap.js). In a
// page, import it from /flowstate-tiptap.js, which also holds the binding,
// @tiptap/core (re-exported whole), StarterKit and Image. From npm, import
// '@flowstate/web/tiptap' with @tiptap/core installed beside it.

import type { Extension } from '@tiptap/core';
import type { Text, UndoManager } from './index.js';
import type { CursorPresence, ProseMirrorBindingOptions } from './prosemirror.js';

/** Options of FlowStateCollaboration. */
export interface FlowStateCollaborationOptions {
  /** The rich Text the editor shows and edits (required). */
  text: Text | null;
  /** The Provider of the Text's Doc; its presence is the default one. */
  provider: ProseMirrorBindingOptions['provider'] | null;
  /** Shares the selection and draws the other clients'. */
  presence: CursorPresence | null;
  /** The UndoManager behind the undo and redo commands. */
  undoManager: UndoManager | null;
  /** Called with what the Text cannot carry or the editor cannot show. */
  onError: ((err: Error) => void) | null;
}

/**
 * The TipTap extension binding an editor to a rich Text, like
 * @tiptap/extension-collaboration: use it with
 * `StarterKit.configure({ undoRedo: false, trailingNode: false })`. It adds
 * the commands undo and redo (local edits only) on Mod-z, Shift-Mod-z and
 * Mod-y.
 */
export const FlowStateCollaboration: Extension<FlowStateCollaborationOptions>;
