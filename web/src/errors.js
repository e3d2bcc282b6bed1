// Errors thrown by the Doc. They mirror the Go package's errors (errors.go):
// DecodeError for bytes that are not a valid update or state vector,
// InvalidUpdateError for updates that decode but break a rule of the format.

/**
 * DecodeError reports bytes that are not a valid update or state vector
 * (FORMAT.md §2–§4). `offset` is the byte offset in the input where decoding
 * failed. A Doc that throws it is unchanged.
 */
export class DecodeError extends Error {
  /**
   * @param {number} offset byte offset of the failure in the input
   * @param {string} msg what is wrong
   */
  constructor(offset, msg) {
    super(`crdt: decode error at byte ${offset}: ${msg}`);
    this.name = 'DecodeError';
    /** @type {number} */
    this.offset = offset;
    /** @type {string} */
    this.msg = msg;
  }
}

/**
 * InvalidUpdateError reports an update that is well-formed msgpack but
 * breaks a rule of the format, such as a text record whose origin is a map
 * entry or a code point of another text (FORMAT.md §5.2). A Doc that throws
 * it is unchanged.
 */
export class InvalidUpdateError extends Error {
  /** @param {string} msg what is wrong */
  constructor(msg) {
    super(`crdt: invalid update: ${msg}`);
    this.name = 'InvalidUpdateError';
  }
}

/**
 * TooMuchPendingError reports an update that would take the changes a Doc
 * holds as pending (received, but waiting for changes they depend on) past
 * MAX_PENDING_BYTES (Go: ErrTooMuchPending). It is an InvalidUpdateError;
 * a Doc that throws it is unchanged.
 */
export class TooMuchPendingError extends InvalidUpdateError {
  /** @param {string} msg what is wrong */
  constructor(msg) {
    super(msg);
    this.name = 'TooMuchPendingError';
  }
}
