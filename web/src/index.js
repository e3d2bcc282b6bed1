// FlowState's JavaScript CRDT: the same text CRDT, last-writer-wins map and
// update format as the Go package crdt (crdt/FORMAT.md), bit for bit.
//
//   import { Doc } from '@flowstate/web';
//   const alice = new Doc();
//   const update = alice.getText('body').insert(0, 'hello');
//   const bob = new Doc();
//   bob.apply(update); // bob's "body" now reads "hello"

export { Doc } from './doc.js';
export { Text } from './text.js';
export { SharedMap } from './map.js';
export { DecodeError, InvalidUpdateError } from './errors.js';
export { encodeStateVector, decodeStateVector, stateVectorsEqual } from './statevector.js';
export { MAX_CLIENT_ID, randomClientID } from './id.js';
export { toHex, fromHex } from './codec.js';
