// A minimal event emitter for the Provider and Presence: the same code runs
// in browsers and Node, and EventTarget would wrap every payload in an
// Event object.

/**
 * An Emitter calls the listeners of a named event in the order they were
 * added. A listener that throws does not stop the others: its error is
 * rethrown asynchronously, as an uncaught exception.
 */
export class Emitter {
  constructor() {
    /** @type {Map<string, Array<(...args: any[]) => void>>} */
    this.listeners = new Map();
  }

  /**
   * on adds fn as a listener of event and returns a function that removes it.
   * @param {string} event
   * @param {(...args: any[]) => void} fn
   * @returns {() => void}
   */
  on(event, fn) {
    if (typeof fn !== 'function') throw new TypeError('flowstate: a listener must be a function');
    let list = this.listeners.get(event);
    if (list === undefined) this.listeners.set(event, (list = []));
    list.push(fn);
    return () => this.off(event, fn);
  }

  /**
   * off removes one registration of fn as a listener of event.
   * @param {string} event
   * @param {(...args: any[]) => void} fn
   */
  off(event, fn) {
    const list = this.listeners.get(event);
    if (list === undefined) return;
    const i = list.indexOf(fn);
    if (i >= 0) list.splice(i, 1);
  }

  /**
   * emit calls the listeners of event with args.
   * @param {string} event
   * @param {...any} args
   */
  emit(event, ...args) {
    const list = this.listeners.get(event);
    if (list === undefined || list.length === 0) return;
    for (const fn of list.slice()) {
      try {
        fn(...args);
      } catch (e) {
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }

  /** clear removes every listener. */
  clear() {
    this.listeners.clear();
  }
}
