// Shared set-up of the tests that run Providers against the real server:
// one server per test file, fresh rooms, providers destroyed at the end,
// waiting on conditions instead of sleeping, and a WebSocket class that
// records what a provider sends.
//
// The providers use Node's built-in WebSocket (node --experimental-websocket
// on Node 20), or, with FLOWSTATE_TEST_WEBSOCKET=ws, the ws package's: the
// two differ where it matters (Node's reports a refused connection with an
// error event and no close event), and `npm test` runs these files with
// both.

import { before, after } from 'node:test';
import { WebSocket as WsWebSocket } from 'ws';
import { Provider, decodeMessage } from '../src/index.js';
import { startServer } from './server.js';

/** The name of the WebSocket implementation under test: 'builtin' or 'ws'. */
export const WEBSOCKET = process.env.FLOWSTATE_TEST_WEBSOCKET === 'ws' ? 'ws' : 'builtin';

/** The WebSocket class the providers use. */
export function TestWebSocket() {
  return WEBSOCKET === 'ws' ? WsWebSocket : globalThis.WebSocket;
}

/** Fast reconnection: the tests restart the server and drop connections. */
const FAST = { minBackoff: 20, maxBackoff: 400 };
/** How long a condition may take before the test fails, in ms: generous, the machine is shared. */
const WAIT_TIMEOUT = 30_000;

/**
 * harness starts a server before the file's tests and stops it, and every
 * provider made with connect, after them.
 */
export function harness(serverOptions = {}) {
  const ctx = {
    /** @type {Awaited<ReturnType<typeof startServer>>} */
    server: null,
    providers: new Set(),
    rooms: 0,

    /** room returns a fresh room name, so that tests do not see each other's documents. */
    room(name) {
      return `${name}-${process.pid}-${++ctx.rooms}`;
    },

    /** connect makes a Provider for doc in the room, with fast backoff and no network events. */
    connect(doc, name, options = {}) {
      const p = new Provider(doc, { url: Provider.roomURL(ctx.server.url, name), network: null, WebSocket: TestWebSocket(), ...FAST, ...options });
      ctx.providers.add(p);
      return p;
    },

    waitFor,

    /** converged waits until every provider is synced and every doc's text "t" equals want (or the first's). */
    async converged(pairs, want) {
      const text = (d) => d.getText('t').toString();
      await waitFor(
        () => pairs.every(([p, d]) => p.status === 'synced' && text(d) === (want ?? text(pairs[0][1]))),
        `convergence: ${pairs.map(([p, d]) => `${p.status} ${JSON.stringify(text(d))}`).join(', ')}`,
      );
    },
  };
  before(async () => {
    if (WEBSOCKET === 'builtin' && typeof globalThis.WebSocket !== 'function') {
      throw new Error('no WebSocket global: run node with --experimental-websocket');
    }
    ctx.server = await startServer(serverOptions);
  });
  after(async () => {
    for (const p of ctx.providers) p.destroy();
    if (ctx.server) await ctx.server.stop();
  });
  return ctx;
}

/**
 * waitFor polls cond until it holds, and fails after a generous timeout.
 * @param {() => boolean} cond
 * @param {string} what
 */
export async function waitFor(cond, what) {
  const deadline = Date.now() + WAIT_TIMEOUT;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * recordingWebSocket returns a WebSocket class that records its sockets,
 * the messages they send and those they receive, and lets a test rewrite
 * what goes out (patchSend): the server and the sockets stay real.
 * @param {{patchSend?: (b: Uint8Array) => Uint8Array}} [options]
 */
export function recordingWebSocket({ patchSend } = {}) {
  const sockets = [];
  const sent = [];
  const received = [];
  class Recording extends TestWebSocket() {
    constructor(url) {
      super(url);
      sockets.push(this);
      this.addEventListener('message', (ev) => received.push(decodeMessage(new Uint8Array(ev.data))));
    }
    send(b) {
      const out = patchSend ? patchSend(b) : b;
      sent.push(decodeMessage(out));
      super.send(out);
    }
  }
  return { WebSocket: Recording, sockets, sent, received };
}

/**
 * impliedSeqs returns the seq that each Update or Patch of messages (sent
 * on one connection, in order) stands for: an Update's own, a Patch's the
 * one before it plus 1 (PROTOCOL.md §4.8).
 * @param {import('../src/index.js').Message[]} messages
 * @returns {Array<number | bigint>}
 */
export function impliedSeqs(messages) {
  let seq = 0;
  return messages.filter((m) => m.type === 'update' || m.type === 'patch').map((m) => (seq = m.type === 'patch' ? seq + 1 : m.seq));
}
