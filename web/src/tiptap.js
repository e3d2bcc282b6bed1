// TipTap extension: binds a TipTap editor to a rich FlowState Text, as
// @tiptap/extension-collaboration binds one to Yjs.
//
//   const editor = new Editor({
//     extensions: [
//       StarterKit.configure({ undoRedo: false, trailingNode: false }),
//       Image,
//       FlowStateCollaboration.configure({ text: doc.getText('body'), provider }),
//     ],
//   });
//
// StarterKit's own history (undoRedo) must be left out: undo and redo are
// the Text's, of local edits only. Its trailing node is best left out too:
// every client would add the same empty paragraph at once.

import { Extension } from '@tiptap/core';
import { flowstatePlugins, redo, undo } from './prosemirror.js';

/**
 * FlowStateCollaboration is the TipTap extension. Options: text (the
 * Text, required), provider (the Provider of its Doc: its presence is the
 * default one), presence (shares the selection and draws the others'),
 * undoManager (an UndoManager of the Text; the extension makes one without
 * it), onError (called with what the Text cannot carry or show; logs it
 * to the console by default). It adds the commands undo and redo and
 * binds them to Mod-z, Shift-Mod-z and Mod-y.
 */
export const FlowStateCollaboration = Extension.create({
  name: 'flowstateCollaboration',
  priority: 1000,

  addOptions() {
    return { text: null, provider: null, presence: null, undoManager: null, onError: null };
  },

  onCreate() {
    if (this.editor.extensionManager.extensions.some((e) => e.name === 'undoRedo' || e.name === 'history')) {
      console.warn('flowstate: leave TipTap\'s undoRedo out (StarterKit.configure({ undoRedo: false })): undo is the Text\'s');
    }
  },

  addCommands() {
    // TipTap dispatches each command's transaction after the command, made
    // from the state before it: undo changes the Text, whose change the
    // binding dispatches on its own, so it runs right after TipTap's
    // (empty) transaction rather than inside it.
    const deferred = (command) => () => ({ state, dispatch }) => {
      if (!command(state, undefined)) return false;
      if (dispatch) queueMicrotask(() => command(this.editor.state, this.editor.view.dispatch));
      return true;
    };
    return { undo: deferred(undo), redo: deferred(redo) };
  },

  addKeyboardShortcuts() {
    return {
      'Mod-z': () => this.editor.commands.undo(),
      'Shift-Mod-z': () => this.editor.commands.redo(),
      'Mod-y': () => this.editor.commands.redo(),
    };
  },

  addProseMirrorPlugins() {
    const { text, provider, presence, undoManager, onError } = this.options;
    if (!text) throw new TypeError('flowstate: FlowStateCollaboration needs the option text');
    return flowstatePlugins(text, {
      provider: provider ?? undefined,
      presence: presence ?? undefined,
      undoManager: undoManager ?? undefined,
      onError: onError ?? undefined,
      keymap: false, // addKeyboardShortcuts binds the keys
    });
  },
});
