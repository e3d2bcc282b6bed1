// Hand-written declarations for src/richdelta.js: Quill deltas applied to
// a Text (crdt/RICH.md §R7). In a page, import the bundle the server
// serves at /flowstate-richdelta.js, beside the core at /flowstate.js
// (which it imports). From npm, import '@flowstate/web/richdelta'.
// Importing it gives every Text the methods applyDelta and setBlockKeys.

import type { DeltaOp, Text } from './index.js';

declare module './index.js' {
  interface Text {
    /**
     * Applies a Quill delta in one transaction and returns its update
     * (null inside transact or when nothing changes): an insert gets
     * exactly its attributes, a retain sets the keys it names (null
     * removes one), block keys go on the newlines an op covers only. A
     * bad delta throws (RangeError past the end or inside a surrogate
     * pair, TypeError for an op or value it does not accept) and changes
     * nothing.
     */
    applyDelta(delta: DeltaOp[]): Uint8Array | null;
    /** Sets the keys applyDelta applies as block attributes, on newlines only (null: DEFAULT_BLOCK_KEYS). */
    setBlockKeys(keys: string[] | null): void;
  }
}

/** The keys applyDelta treats as block attributes by default: align, blockquote, code-block, direction, header, indent, list. */
export const DEFAULT_BLOCK_KEYS: readonly string[];

/** text.applyDelta(delta), as a function. */
export function applyDelta(text: Text, delta: DeltaOp[]): Uint8Array | null;

/** text.setBlockKeys(keys), as a function. */
export function setBlockKeys(text: Text, keys: string[] | null): void;
