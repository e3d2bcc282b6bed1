// FlowState's JavaScript client: the same text CRDT, last-writer-wins map and
// update format as the Go package crdt (crdt/FORMAT.md), bit for bit; the
// wire protocol (protocol/PROTOCOL.md); a Provider that keeps a Doc in sync
// with a room of a FlowState server; presence. The bindings and the
// browser's local store are entries of their own (textarea.js,
// codemirror.js, prosemirror.js, tiptap.js, quill.js, richdelta.js,
// persistence.js), each a bundle that imports this core.
//
//   import { Doc } from '@flowstate/web';
//   const alice = new Doc();
//   const update = alice.getText('body').insert(0, 'hello');
//   const bob = new Doc();
//   bob.apply(update); // bob's "body" now reads "hello"
//
//   const provider = new Provider(alice, { url: Provider.roomURL(location.href, 'notes') });
//   // import { TextareaBinding } from '@flowstate/web/textarea';
//   new TextareaBinding(alice.getText('body'), textarea, { presence: provider.presence });

export { Doc, MAX_PENDING_BYTES } from './doc.js';
export { Text } from './text.js';
export { DEFAULT_MARK_SCHEMA } from './rich.js';
export { SharedMap } from './map.js';
export { DecodeError, InvalidUpdateError, TooMuchPendingError } from './errors.js';
export { encodeStateVector, decodeStateVector, stateVectorsEqual } from './statevector.js';
export { MAX_CLIENT_ID, randomClientID } from './id.js';
export { toHex, fromHex } from './codec.js';
export {
  PROTOCOL_VERSION,
  FORMAT_VERSION,
  Code,
  ProtocolError,
  isPermanent,
  validRoom,
  encodeMessage,
  decodeMessage,
  makePatch,
  patchBase,
  patchSmaller,
  applyPatch,
} from './protocol.js';
export { Provider, FlowStateError } from './provider.js';
export { CrossTab } from './crosstab.js';
export { Presence } from './presence.js';
export { UndoManager, StackItem, DEFAULT_CAPTURE_TIMEOUT } from './undo.js';
