// CodeMirror 6 binding: keeps an EditorView and a FlowState Text in sync,
// shares the local selection through presence and draws the selections of
// the other clients.
//
//   const text = doc.getText('content');
//   const view = new EditorView({
//     state: EditorState.create({ doc: text.toString(), extensions: [flowstateCollab(text, { presence })] }),
//     parent,
//   });
//
// Both sides count UTF-16 units, so positions pass through unchanged.
// Remote changes become one CodeMirror transaction each, built from the
// Text's delta: the editor keeps its selection, scroll position and undo
// history (remote changes are left out of it, so undo takes back only
// local edits).

import { Annotation, ChangeSet, Compartment, StateEffect, StateField, Transaction } from '@codemirror/state';
import { Decoration, EditorView, ViewPlugin, WidgetType } from '@codemirror/view';
import { diffText } from './textdiff.js';
import { safeColor, safeName } from './cursorstyle.js';

/**
 * remoteOrigin marks the transactions the binding dispatches for changes
 * that reached the Text from elsewhere, so that it does not send them back.
 */
const remoteOrigin = Annotation.define();

/** refreshCursors asks the cursor plugin to resolve the remote cursors again. */
const refreshCursors = StateEffect.define();

/**
 * isRemote reports whether a transaction is one of the binding's remote
 * transactions.
 * @param {Transaction} tr
 */
export function isRemote(tr) {
  return tr.annotation(remoteOrigin) === true;
}

/**
 * syncPlugin returns the plugin that carries changes both ways between the
 * editor and text.
 * @param {import('./text.js').Text} text
 */
function syncPlugin(text) {
  return ViewPlugin.fromClass(
    class {
      /** @param {EditorView} view */
      constructor(view) {
        this.view = view;
        // applying is set while the plugin edits the Text, so that the Text
        // observer ignores the plugin's own edits.
        this.applying = false;
        // resyncing is set while the editor disagrees with the Text and a
        // replacement of the whole editor content is scheduled: local
        // changes made meanwhile would land at wrong positions, and the
        // replacement discards them anyway.
        this.resyncing = false;
        this.destroyed = false;
        this.unobserve = text.observe((ev) => this.onText(ev));
        if (view.state.doc.length !== text.length || view.state.doc.toString() !== text.toString()) this.resync();
      }

      /**
       * onText turns a change of the Text into one editor transaction.
       * @param {{delta: Array<{retain?: number, insert?: string, delete?: number}>}} ev
       */
      onText(ev) {
        if (this.applying || this.resyncing) return;
        const changes = [];
        let pos = 0;
        for (const op of ev.delta) {
          if (op.retain !== undefined) {
            pos += op.retain;
          } else if (op.insert !== undefined) {
            changes.push({ from: pos, insert: op.insert });
          } else if (op.delete !== undefined) {
            changes.push({ from: pos, to: pos + op.delete });
            pos += op.delete;
          }
        }
        if (pos > this.view.state.doc.length) {
          // The editor and the Text disagree: never apply a delta to the
          // wrong content.
          this.resync();
          return;
        }
        try {
          this.view.dispatch({
            changes,
            annotations: [remoteOrigin.of(true), Transaction.addToHistory.of(false)],
          });
        } catch (err) {
          // The Text changed while the editor was in the middle of an
          // update (another binding's edit made from an update listener,
          // say), where CodeMirror refuses a dispatch: catch up afterwards.
          this.resync();
          if (!(err instanceof Error && /update is in progress/.test(err.message))) throw err;
        }
      }

      /** @param {import('@codemirror/view').ViewUpdate} update */
      update(update) {
        if (this.resyncing) return;
        for (const tr of update.transactions) {
          if (!tr.docChanged || isRemote(tr)) continue;
          this.applyLocal(tr);
        }
        if (update.docChanged && update.state.doc.length !== text.length) this.resync();
      }

      /**
       * applyLocal makes the changes of a local editor transaction in the
       * Text, as one Doc transaction: one update for the whole keystroke,
       * paste or command.
       * @param {Transaction} tr
       */
      applyLocal(tr) {
        this.applying = true;
        try {
          applyChanges(text, tr.changes);
        } catch (err) {
          // A change the Text refuses (a lone surrogate): the Text is the
          // truth, so the editor goes back to it.
          this.resync();
          throw err;
        } finally {
          this.applying = false;
        }
      }

      /**
       * resync replaces the editor's content with the Text's once the
       * current editor update is over (dispatching inside one is not
       * allowed). It is the way back from any disagreement.
       */
      resync() {
        if (this.resyncing) return;
        this.resyncing = true;
        queueMicrotask(() => {
          this.resyncing = false;
          if (this.destroyed) return;
          const doc = this.view.state.doc;
          const want = text.toString();
          if (doc.length === want.length && doc.toString() === want) return;
          this.view.dispatch({
            changes: { from: 0, to: doc.length, insert: want },
            annotations: [remoteOrigin.of(true), Transaction.addToHistory.of(false)],
          });
        });
      }

      destroy() {
        this.destroyed = true;
        this.unobserve();
      }
    },
  );
}

/**
 * applyChanges makes the changes of a CodeMirror change set, which starts
 * from the Text's content, in the Text, as one Doc transaction.
 * @param {import('./text.js').Text} text
 * @param {ChangeSet} changes
 */
function applyChanges(text, changes) {
  text.doc.transact(() => {
    // iterChanges gives positions in the old document, in order; shift
    // tracks how far the changes made so far moved the rest.
    let shift = 0;
    changes.iterChanges((fromA, toA, _fromB, _toB, inserted) => {
      const at = fromA + shift;
      const removed = toA - fromA;
      if (removed > 0) text.delete(at, removed);
      const s = inserted.toString();
      if (s.length > 0) text.insert(at, s);
      shift += s.length - removed;
    });
  });
}

/**
 * baseChange carries, on a transaction made by showStored, the change
 * from the old base to the new one (over the old base).
 */
const baseChange = Annotation.define();

/** endEarly ends the recording of early edits: the editor is bound. */
const endEarly = StateEffect.define();

/**
 * early holds, until the editor is bound, the text the editor was given
 * (base: its content at creation, or the last showStored) and the edits
 * typed since, as one change set over base; null once bound.
 * @type {StateField<{base: string, changes: ChangeSet} | null>}
 */
const early = StateField.define({
  create: (state) => ({ base: state.doc.toString(), changes: ChangeSet.empty(state.doc.length) }),
  update(value, tr) {
    if (value === null || tr.effects.some((e) => e.is(endEarly))) return null;
    if (!tr.docChanged) return value;
    const d = tr.annotation(baseChange);
    if (d !== undefined) {
      // The editor's change was d moved over the edits; the edits move
      // over d the same way round (they come first where both insert).
      return { base: d.base, changes: value.changes.map(d.changes, true) };
    }
    return { base: value.base, changes: value.changes.compose(tr.changes) };
  },
});

/**
 * earlyEdits returns a CodeMirror extension that lets an editor be edited
 * before it is bound to its Text: a stored document painted from
 * IndexedDBPersistence.whenFirstScreen or whenRendered can take typing at
 * once. It records what the editor was created with and the edits made
 * since; showStored brings in more of the stored text around them, and
 * CodeMirrorBinding makes them in the Text when it binds, moved over
 * whatever the stored text lacked, so no keystroke is lost.
 *
 * Every change to the editor other than through showStored counts as an
 * edit of the user's, to be made in the Text: give the editor its stored
 * text at creation or through showStored.
 */
export function earlyEdits() {
  return early;
}

/**
 * showStored makes an editor with earlyEdits show stored (the whole
 * rendering, after the first screen, say) with the edits typed so far
 * kept on it, in the smallest transaction: when stored starts with what
 * the editor was given, the rest is inserted at its end. The selection
 * and the scroll position stay on the text they were on; the change is
 * left out of the undo history. Without earlyEdits, or once bound, it
 * does nothing and returns false.
 * @param {EditorView} view
 * @param {string} stored
 */
export function showStored(view, stored) {
  const value = view.state.field(early, false);
  if (value == null) return false;
  if (value.base === stored) return true;
  const c = diffText(value.base, stored);
  const d = ChangeSet.of({ from: c.index, to: c.index + c.remove, insert: c.insert }, value.base.length);
  view.dispatch({
    changes: d.map(value.changes),
    annotations: [baseChange.of({ base: stored, changes: d }), Transaction.addToHistory.of(false)],
  });
  return true;
}

/** A CaretWidget draws a remote client's caret with its name above it. */
class CaretWidget extends WidgetType {
  /**
   * @param {string} color a #rrggbb colour
   * @param {string} name
   * @param {number} clientID
   */
  constructor(color, name, clientID) {
    super();
    this.color = color;
    this.name = name;
    this.clientID = clientID;
  }

  /** @param {CaretWidget} other */
  eq(other) {
    return other.color === this.color && other.name === this.name && other.clientID === this.clientID;
  }

  toDOM() {
    const caret = document.createElement('span');
    caret.className = 'cm-fs-caret';
    caret.setAttribute('aria-hidden', 'true');
    caret.dataset.client = String(this.clientID);
    caret.style.borderLeftColor = this.color;
    const label = document.createElement('span');
    label.className = 'cm-fs-caret-label';
    label.style.backgroundColor = this.color;
    label.textContent = this.name; // text, never markup: the name is remote input
    caret.appendChild(label);
    return caret;
  }

  ignoreEvent() {
    return true;
  }
}

/**
 * cursorDecorations resolves the cursors the remote clients publish for
 * text into decorations of a document of docLength units.
 * @param {import('./text.js').Text} text
 * @param {{states: Map<number, any>}} presence
 * @param {number} docLength
 */
function cursorDecorations(text, presence, docLength) {
  const ranges = [];
  for (const [clientID, state] of presence.states) {
    const cursor = state?.cursor;
    if (cursor == null || typeof cursor !== 'object' || cursor.text !== text.name) continue;
    let anchor, head;
    try {
      anchor = text.absolutePosition(cursor.anchor);
      head = text.absolutePosition(cursor.head);
    } catch {
      continue; // a malformed position from a remote client draws nothing
    }
    if (anchor == null || head == null) continue;
    anchor = Math.max(0, Math.min(anchor, docLength));
    head = Math.max(0, Math.min(head, docLength));
    const color = safeColor(state.color, clientID);
    const from = Math.min(anchor, head);
    const to = Math.max(anchor, head);
    if (from < to) {
      ranges.push(
        Decoration.mark({
          class: 'cm-fs-selection',
          attributes: { style: `background-color: ${color}33` },
        }).range(from, to),
      );
    }
    ranges.push(
      Decoration.widget({ widget: new CaretWidget(color, safeName(state.name, clientID), clientID), side: head === to ? 1 : -1 }).range(head),
    );
  }
  return Decoration.set(ranges, true);
}

/**
 * localCursor returns the cursor field the local client publishes for the
 * editor's main selection.
 * @param {import('./text.js').Text} text
 * @param {import('@codemirror/state').EditorState} state
 */
function localCursor(text, state) {
  const sel = state.selection.main;
  // A caret sticks to the character before it, so that text others type
  // at the same place goes after it, as it would on their screen; a
  // selection's ends stick to the selected characters, so that it does not
  // grow over text inserted at its edges.
  const assoc = (pos) => (pos === sel.from && !sel.empty ? 0 : -1);
  return {
    text: text.name,
    anchor: text.relativePosition(sel.anchor, assoc(sel.anchor)),
    head: text.relativePosition(sel.head, assoc(sel.head)),
  };
}

/**
 * subscribe registers fn for presence changes and returns the function
 * that unregisters it.
 * @param {any} presence
 * @param {(ev: any) => void} fn
 */
function subscribe(presence, fn) {
  const off = presence.on('change', fn);
  if (typeof off === 'function') return off;
  return () => presence.off?.('change', fn);
}

/**
 * remoteCursors returns a CodeMirror extension that publishes the editor's
 * main selection as the `cursor` field of the local presence state
 * (`{ text: text.name, anchor, head }`, CRDT-anchored relative positions)
 * and draws the cursors and selections the other clients publish for the
 * same Text, with their `name` and `color` (a `#rgb` or `#rrggbb` string;
 * anything else gets a colour picked by client ID). flowstateCollab
 * includes it when given a presence.
 * @param {import('./text.js').Text} text
 * @param {any} presence
 */
export function remoteCursors(text, presence) {
  const plugin = ViewPlugin.fromClass(
    class {
      /** @param {EditorView} view */
      constructor(view) {
        this.view = view;
        this.decorations = cursorDecorations(text, presence, view.state.doc.length);
        this.destroyed = false;
        this.publishing = false; // a publish is scheduled
        this.unsubscribe = subscribe(presence, () => this.refresh());
      }

      /** refresh asks for the remote cursors to be resolved again. */
      refresh() {
        if (!this.destroyed) this.view.dispatch({ effects: refreshCursors.of(null) });
      }

      /** @param {import('@codemirror/view').ViewUpdate} update */
      update(update) {
        // The remote cursors' positions are CRDT-anchored: resolving them
        // again after a remote change, rather than mapping the old
        // decorations, keeps them exact. Local changes have not reached the
        // Text yet when this runs, so those are mapped.
        const refresh =
          update.transactions.some((tr) => isRemote(tr) || tr.effects.some((e) => e.is(refreshCursors)));
        if (refresh) this.decorations = cursorDecorations(text, presence, update.state.doc.length);
        else if (update.docChanged) this.decorations = this.decorations.map(update.changes);
        const local = update.transactions.some((tr) => !isRemote(tr) && (tr.selection !== undefined || tr.docChanged));
        if (local && !this.publishing) {
          // Published after the update: by then every plugin, the sync one
          // included, has seen the change, so the Text matches the editor,
          // and a presence that reports changes synchronously does not
          // make this plugin dispatch inside an editor update. Several
          // updates in one task publish once.
          this.publishing = true;
          queueMicrotask(() => {
            this.publishing = false;
            if (!this.destroyed) this.publish();
          });
        }
      }

      /** publish makes the editor's main selection the local cursor. */
      publish() {
        const state = this.view.state;
        if (state.doc.length !== text.length) return; // a resync is on its way; the next local change publishes
        const cursor = localCursor(text, state);
        const prev = presence.local?.cursor;
        if (prev && samePosition(prev.anchor, cursor.anchor) && samePosition(prev.head, cursor.head) && prev.text === cursor.text) return;
        presence.setLocal({ ...(presence.local ?? {}), cursor });
      }

      destroy() {
        this.destroyed = true;
        this.unsubscribe();
        if (presence.local?.cursor != null) {
          const { cursor: _, ...rest } = presence.local;
          presence.setLocal(rest);
        }
      }
    },
    { decorations: (p) => p.decorations },
  );
  return [plugin, cursorTheme];
}

/**
 * samePosition reports whether two relative positions are the same plain
 * object by value.
 */
function samePosition(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** cursorTheme styles the remote carets, labels and selections. */
const cursorTheme = EditorView.baseTheme({
  '.cm-fs-caret': {
    position: 'relative',
    borderLeft: '2px solid',
    marginLeft: '-1px',
    marginRight: '-1px',
    pointerEvents: 'none',
  },
  '.cm-fs-caret-label': {
    position: 'absolute',
    left: '-2px',
    bottom: '100%',
    padding: '0 4px',
    borderRadius: '3px 3px 3px 0',
    color: '#fff',
    fontSize: '11px',
    fontFamily: 'system-ui, sans-serif',
    fontWeight: '600',
    lineHeight: '16px',
    whiteSpace: 'nowrap',
    userSelect: 'none',
    zIndex: '10',
  },
});

/**
 * flowstateCollab returns a CodeMirror extension that binds the editor to
 * text: local edits become Text edits (one Doc transaction per editor
 * transaction) and changes of the Text made elsewhere become minimal
 * editor transactions, left out of the undo history. With a presence, it
 * also shares the local selection and draws remote cursors (see
 * remoteCursors).
 *
 * Create the state with the Text's content (`doc: text.toString()`); if
 * the two differ, the editor is replaced with the Text's content right
 * after the view starts.
 * @param {import('./text.js').Text} text
 * @param {{presence?: any}} [options]
 */
export function flowstateCollab(text, options = {}) {
  const ext = [syncPlugin(text)];
  if (options.presence != null) ext.push(remoteCursors(text, options.presence));
  return ext;
}

/**
 * A CodeMirrorBinding binds an existing EditorView to a Text: it brings the
 * editor's content to the Text's with the smallest change, then adds
 * flowstateCollab(text, options) to the view's configuration; destroy
 * removes it again.
 *
 * It is how an editor shows a stored document before its Doc is loaded:
 * make the view from IndexedDBPersistence.whenFirstScreen with
 * earlyEdits(), bring in the rest with showStored once whenRendered
 * resolves, and bind it once whenSynced resolves. The rendering may lack
 * the last edits stored after it; the binding brings them in, and makes
 * the edits typed into the editor before it (recorded by earlyEdits) in
 * the Text, moved over what the rendering lacked. Without earlyEdits,
 * keep the editor read only until it is bound: what it holds beyond the
 * Text is replaced.
 */
export class CodeMirrorBinding {
  /**
   * @param {import('./text.js').Text} text
   * @param {EditorView} view
   * @param {{presence?: any}} [options]
   */
  constructor(text, view, options = {}) {
    this.text = text;
    this.view = view;
    this.compartment = new Compartment();
    const pending = view.state.field(early, false);
    /** The editor's change, when the early edits give it. @type {ChangeSet | null} */
    let moved = null;
    if (pending != null && !pending.changes.empty) {
      // Edits typed before the binding: made on the stored text the
      // editor showed, they move over what the Text has that it lacked,
      // and the editor gets that, moved over them (the same pair of
      // changes as showStored's): its selection and undo history stay on
      // the typed text.
      const c = diffText(pending.base, text.toString());
      const d = ChangeSet.of({ from: c.index, to: c.index + c.remove, insert: c.insert }, pending.base.length);
      try {
        applyChanges(text, pending.changes.map(d, true));
        moved = d.map(pending.changes);
      } catch (err) {
        // An edit the Text refuses (a lone surrogate): the editor takes
        // the Text's content below, and the error is reported, not
        // thrown, so that the editor is bound all the same.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    const want = text.toString();
    let changes;
    if (moved !== null && moved.apply(view.state.doc).toString() === want) {
      changes = moved;
    } else {
      const have = view.state.doc.toString();
      const c = diffText(have, want);
      changes = have === want ? undefined : { from: c.index, to: c.index + c.remove, insert: c.insert };
    }
    // One transaction: the plugins start with the content already equal.
    view.dispatch({
      changes,
      effects: [
        StateEffect.appendConfig.of(this.compartment.of(flowstateCollab(text, options))),
        ...(pending != null ? [endEarly.of(null)] : []),
      ],
      annotations: [remoteOrigin.of(true), Transaction.addToHistory.of(false)],
    });
  }

  /** destroy unbinds the editor; its content stays as it is. */
  destroy() {
    this.view.dispatch({ effects: this.compartment.reconfigure([]) });
  }
}
