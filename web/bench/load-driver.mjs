// Drives FlowState, the peer y-websocket server and a bare Go relay with
// the same load and measures what each server spends per delivered edit.
//
//   node bench/load-driver.mjs --rooms 100 --clients 10 --rate 1 --duration 30 --repeat 3
//
// Each run starts a fresh server (FlowState: `flowstate serve` on a new
// data file; the peer: @y/websocket-server, in memory; the relay:
// `flowstate bench relay`), connects ROOMS x CLIENTS clients (FlowState's
// Provider over Doc; y-websocket's WebsocketProvider over Y.Doc; for the
// relay, a bare socket; all on the `ws` package), has every client insert
// one character at a random place RATE times a second for DURATION
// seconds, and reports deliveries (an edit arriving at another member of
// its room), p50/p99 delivery latency, and the server process's CPU time
// (user, system), context switches and write system calls over the
// editing window, from /proc/PID, each divided by the deliveries. The
// servers alternate (FlowState, peer, FlowState, ...) so that they see the
// same background load. --servers names the servers to run, in their
// order within a round: flowstate,peer by default; flowstate,peer,relay
// adds the relay. With --floor, each round ends with `flowstate bench
// floor` at the round's first delivery rate, over ROOMS x CLIENTS sockets,
// for DURATION: the CPU time of one small write(2) to a parked loopback
// reader, measured under the same background load, against which the
// servers' CPU per delivery is compared. FLOWSTATE_BIN names a prebuilt
// binary; otherwise cmd/flowstate is built once. The servers inherit this
// process's environment (GOMAXPROCS=1 node ... runs the Go servers on one
// thread of Go code).
//
// The relay is the least a Go server on gorilla/websocket can spend per
// delivery: it writes each binary message, as it is, to the other
// connections of its room from the goroutine that read it, and keeps no
// document and sends no acknowledgement. Its clients do not edit a
// document: an "insert" is a 40-byte binary message (the sender's 32-bit
// id, a 32-bit sequence number from 1, zero padding), the size of a
// FlowState client's Update of one keystroke. Their clock of a sender is
// the number of its messages received (of their own id: sent), which is
// what the driver counts deliveries by; their text is those counts, by
// sender, so that the members of a room read the same text only if each
// received every message of every other member exactly once, and it names
// any message that came out of order, twice or from outside the room.
//
// All clients are driven by the same code: only connect, insert, clock
// and the update hook differ, so that no side is favoured by how it is
// measured.
//
// Idle mode (--rate 0) measures what an idle connection costs each server:
//
//   ulimit -n 20000; node bench/load-driver.mjs --rooms 100 --clients 100 --rate 0 --duration 5 --repeat 2
//
// For each server in turn (fresh server per run, alternating; FlowState
// with --data :memory:, as the peer keeps its documents in memory), it
// opens ROOMS x CLIENTS WebSockets from this process, each of which syncs
// its (empty) room once and then sends nothing. The clients are raw
// sockets doing the minimum handshake of each protocol, not providers, so
// that 10,000 of them fit in one Node process and neither side gets more
// traffic than the other: FlowState, a Hello of version 3 with an empty
// state vector and no heartbeat, then the Welcome; the peer, y-protocols'
// sync step 1 with an empty state vector, the step 2 answering the
// server's step 1, then the server's step 2 (the bytes y-websocket sends
// for an empty Y.Doc). Both answer WebSocket pings, as ws does by itself.
// One second after the last client synced, it reads the server's RSS
// (VmRSS of /proc/PID/status, as FlowState's /healthz does) and reports
// the delta over the RSS read before connecting, divided by the
// connections (server_rss_per_connection_bytes, the method of `flowstate
// bench load --rate 0`); then, after SETTLE more seconds (--settle, 5 by
// default: FlowState probes each client about 2 s after sending it data),
// the server's CPU time, context switches and write calls over DURATION
// idle seconds, per second, and the RSS per connection again at the end
// (server_rss_per_connection_end_bytes). A DURATION of 60 s holds one
// keep-alive ping per connection from FlowState (every 54 s) and two from
// the peer (every 30 s). It also reports the server's OS threads and, for
// FlowState, its goroutines (go_goroutines of /metrics). --workers and
// --floor do not apply, and neither does the relay, which has no sync to
// reach.

import { spawn, execFileSync, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { Doc, Provider, encodeMessage, decodeMessage, encodeStateVector } from '../src/index.js';

const WEB = join(dirname(fileURLToPath(import.meta.url)), '..');
const REPO = join(WEB, '..');

const { values: opt } = parseArgs({
  options: {
    rooms: { type: 'string', default: '100' },
    clients: { type: 'string', default: '10' },
    rate: { type: 'string', default: '1' },
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    repeat: { type: 'string', default: '1' },
    workers: { type: 'string', default: '2' },
    servers: { type: 'string', default: 'flowstate,peer' },
    json: { type: 'boolean', default: false },
    floor: { type: 'boolean', default: false },
    settle: { type: 'string', default: '5' },
    'server-args': { type: 'string', default: '' },
  },
});
const cfg = {
  rooms: Number(opt.rooms),
  clients: Number(opt.clients),
  rate: Number(opt.rate),
  duration: Number(opt.duration),
  warmup: Number(opt.warmup),
  settle: Number(opt.settle),
};

const idle = cfg.rate === 0;
if (!(cfg.rooms >= 1 && cfg.clients >= 1 && cfg.rate >= 0 && cfg.duration > 0 && cfg.settle >= 0)) {
  console.error('load-driver: --rooms and --clients must be at least 1, --rate and --settle at least 0, --duration above 0');
  process.exit(2);
}
if (idle && opt.floor) {
  console.error('load-driver: --floor needs a rate above 0 (an idle run delivers nothing)');
  process.exit(2);
}

const CLK_TCK = 100; // /proc/PID/stat's unit, on every Linux this runs on

/** procSample reads the counters of process pid and all its threads. */
function procSample(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 (utime, stime) are the 12th and 13th after the name.
  const s = { user: Number(f[11]) / CLK_TCK, system: Number(f[12]) / CLK_TCK, vcsw: 0, ivcsw: 0, syscw: NaN };
  // /proc/PID/status counts the main thread's switches only: sum the threads.
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    let st;
    try {
      st = readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
    } catch {
      continue; // the thread ended
    }
    s.vcsw += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(st)?.[1] ?? 0);
    s.ivcsw += Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(st)?.[1] ?? 0);
  }
  try {
    s.syscw = Number(/syscw:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))[1]);
  } catch {
    // not readable here
  }
  return s;
}

/** procMemory reads the resident memory and OS threads of process pid. */
function procMemory(pid) {
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  return {
    rss: Number(/VmRSS:\s+(\d+) kB/.exec(st)[1]) * 1024,
    threads: Number(/Threads:\s+(\d+)/.exec(st)[1]),
  };
}

/** goroutines reads go_goroutines from FlowState's /metrics. */
async function goroutines(base) {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(/^go_goroutines (\d+)/m.exec(text)[1]);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function waitHTTP(url) {
  for (let i = 0; i < 300; i++) {
    try {
      await fetch(url);
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`no answer from ${url}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let flowstateBin = process.env.FLOWSTATE_BIN;
function binary() {
  if (!flowstateBin) {
    flowstateBin = join(mkdtempSync(join(tmpdir(), 'flowstate-load-')), 'flowstate');
    execFileSync('go', ['build', '-o', flowstateBin, './cmd/flowstate'], { cwd: REPO, stdio: 'inherit' });
  }
  return flowstateBin;
}

/** The servers: how to start one, and the client operations on it. */
const servers = {
  flowstate: {
    async start(port) {
      const dir = mkdtempSync(join(tmpdir(), 'flowstate-load-data-'));
      // Idle runs keep the rooms in memory, like the peer, and lift the
      // rate limits, like the idle figures of `flowstate bench load`.
      const data = idle ? [':memory:', '--rate-messages', '0', '--rate-bytes', '0'] : [join(dir, 'bench.db')];
      const args = ['serve', '--addr', `127.0.0.1:${port}`, '--data', ...data, '--log-level', 'warn',
        '--max-conns-per-ip', '0', ...opt['server-args'].split(' ').filter(Boolean)];
      const child = spawn(binary(), args, { stdio: ['ignore', 'ignore', 'inherit'] });
      await waitHTTP(`http://127.0.0.1:${port}/healthz`);
      return { child, cleanUp: () => rmSync(dir, { recursive: true, force: true }) };
    },
    connect(url, room) {
      const doc = new Doc();
      const text = doc.getText('body');
      const provider = new Provider(doc, { url: `${url}/ws/${room}`, WebSocket, network: null });
      const synced = new Promise((resolve) => provider.on('synced', resolve));
      return {
        id: doc.clientID,
        synced,
        clock: (id) => doc.clients.get(id)?.next ?? 0,
        insert() {
          text.insert(Math.floor(Math.random() * (text.length + 1)), String.fromCharCode(97 + Math.floor(Math.random() * 26)));
        },
        onRemote(fn) {
          text.observe((ev) => {
            if (!ev.local) fn();
          });
        },
        text: () => text.toString(),
        close: () => provider.destroy(),
      };
    },
    idleHandshake(url, room, i) {
      const hello = encodeMessage({
        type: 'hello', version: 3, room, client: idleClientBase + i, token: '', stateVector: encodeStateVector(new Doc().stateVector()), heartbeatMillis: 0,
      });
      return rawSocket(`${url}/ws/${room}`, (ws, synced, fail) => {
        ws.on('open', () => ws.send(hello));
        ws.on('message', (data) => {
          let m;
          try {
            m = decodeMessage(new Uint8Array(data));
          } catch (e) {
            fail(e);
            return;
          }
          if (m.type === 'welcome') synced();
          else if (m.type === 'error') fail(new Error(`Error ${m.code}: ${m.message}`));
        });
      });
    },
  },
  peer: {
    async start(port) {
      const child = spawn(process.execPath, [join(WEB, 'node_modules/@y/websocket-server/src/server.js')], {
        env: { ...process.env, HOST: '127.0.0.1', PORT: String(port) },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      await waitHTTP(`http://127.0.0.1:${port}/`);
      return { child, cleanUp() {} };
    },
    connect(url, room) {
      const doc = new Y.Doc();
      const text = doc.getText('body');
      const provider = new WebsocketProvider(url, room, doc, { WebSocketPolyfill: WebSocket, disableBc: true });
      const synced = new Promise((resolve) => provider.once('sync', resolve));
      return {
        id: doc.clientID,
        synced,
        clock(id) {
          // Yjs's getState, which the package does not export.
          const structs = doc.store.clients.get(id);
          if (structs === undefined) return 0;
          const last = structs[structs.length - 1];
          return last.id.clock + last.length;
        },
        insert() {
          text.insert(Math.floor(Math.random() * (text.length + 1)), String.fromCharCode(97 + Math.floor(Math.random() * 26)));
        },
        onRemote(fn) {
          doc.on('update', (_u, origin) => {
            if (origin === provider) fn();
          });
        },
        text: () => text.toString(),
        close: () => provider.destroy(),
      };
    },
    idleHandshake(url, room) {
      return rawSocket(`${url}/${room}`, (ws, synced) => {
        ws.on('open', () => ws.send(peerStep1));
        ws.on('message', (data) => {
          const b = new Uint8Array(data);
          if (b[0] !== 0) return; // awareness: none in these rooms
          if (b[1] === 0) ws.send(peerStep2);
          else if (b[1] === 1) synced(); // after the server's step 1, TCP being in order
        });
      });
    },
  },
  relay: {
    async start(port) {
      const child = spawn(binary(), ['bench', 'relay', '--addr', `127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'inherit'] });
      await waitHTTP(`http://127.0.0.1:${port}/healthz`);
      return { child, cleanUp() {} };
    },
    connect(url, room) {
      const id = crypto.getRandomValues(new Uint32Array(1))[0];
      const ws = new WebSocket(`${url}/ws/${room}`, { perMessageDeflate: false });
      // Open is enough: the relay adds a connection to its room right
      // after the upgrade, and the edits start once every socket of the
      // run is open. A message the relay sent before it added a member
      // would show as missing and fail the check at the end.
      const synced = new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      const counts = new Map([[id, 0]]); // messages by sender: received, or sent for id
      const faults = []; // messages out of order, repeated or malformed
      const msg = Buffer.alloc(RELAY_MESSAGE_BYTES);
      msg.writeUInt32LE(id, 0);
      ws.on('message', (data, isBinary) => {
        if (!isBinary || data.length !== RELAY_MESSAGE_BYTES) {
          faults.push(`${isBinary ? 'binary' : 'text'} message of ${data.length} bytes`);
          return;
        }
        const from = data.readUInt32LE(0);
        const seq = data.readUInt32LE(4);
        if (from === id) {
          faults.push(`its own #${seq}`);
          return;
        }
        const n = counts.get(from) ?? 0;
        if (seq !== n + 1) faults.push(`${from}#${seq} after #${n}`);
        counts.set(from, n + 1);
      });
      return {
        id,
        synced,
        clock: (from) => counts.get(from) ?? 0,
        insert() {
          const seq = counts.get(id) + 1;
          counts.set(id, seq);
          // ws masks a Buffer into the frame it builds, leaving msg as is.
          msg.writeUInt32LE(seq, 4);
          ws.send(msg);
        },
        onRemote(fn) {
          // Called after the counting listener above, which came first.
          ws.on('message', () => fn());
        },
        text: () =>
          [...counts]
            .sort((a, b) => a[0] - b[0])
            .map(([from, n]) => `${from}:${n}`)
            // Its own id names each fault: no other member reads the same.
            .concat(faults.map((f) => `fault at ${id}: ${f}`))
            .join(' '),
        close: () => ws.close(),
      };
    },
  },
};

// The size of a relay client's message: a FlowState client's Update of one
// keystroke is 38 to 40 bytes.
const RELAY_MESSAGE_BYTES = 40;

// The FlowState clients' IDs: distinct within a run, below 2^53.
const idleClientBase = 1 + Math.floor(Math.random() * 2 ** 40);

// y-protocols' sync messages of an empty Y.Doc, as y-websocket sends them:
// varuint messageSync (0), varuint step (0: step 1, the state vector; 1:
// step 2, the update the other side lacks; 2: an update), then the payload as a varuint-length byte
// string (every length here is below 128, one byte).
function ySyncMessage(step, payload) {
  if (payload.length >= 128) throw new Error('load-driver: y-protocols payload too long for a one-byte length');
  return Uint8Array.of(0, step, payload.length, ...payload);
}
const peerStep1 = ySyncMessage(0, Y.encodeStateVector(new Y.Doc()));
const peerStep2 = ySyncMessage(1, Y.encodeStateAsUpdate(new Y.Doc()));

/**
 * rawSocket opens a WebSocket to url and lets handshake drive it; it
 * resolves to the socket once handshake calls synced, and rejects if
 * handshake calls fail, the socket fails or closes first, or 60 s pass.
 */
function rawSocket(url, handshake) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    let done = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        ws.terminate();
        reject(new Error(`${url}: ${err.message}`));
      } else resolve(ws);
    };
    const timer = setTimeout(() => finish(new Error('not synced after 60 s')), 60_000);
    ws.on('error', (e) => finish(e));
    ws.on('close', (code) => finish(new Error(`closed with ${code} before it synced`)));
    handshake(ws, () => finish(null), finish);
  });
}

function quantile(sorted, q) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] : NaN;
}

/**
 * clientPart runs the clients of some rooms, in a worker process, as the
 * parent tells it over IPC: 'edit' starts the editing, 'measure' starts
 * counting, 'stop' stops the edits and reports the counts once the
 * measured edits arrived (or after 5 s), 'close' checks convergence and
 * disconnects.
 */
async function clientPart({ name, url, prefix, first, count }) {
  const impl = servers[name];
  const rooms = [];
  let measuring = false;
  const latencies = [];
  let deliveries = 0;
  for (let r = first; r < first + count; r++) {
    const members = [];
    for (let c = 0; c < cfg.clients; c++) {
      const m = impl.connect(url, prefix + r);
      m.sends = []; // {end, at, measured} per edit, in order
      m.seen = new Array(cfg.clients).fill(0);
      members.push(m);
    }
    for (const m of members) {
      m.onRemote(() => {
        const now = performance.now();
        for (let i = 0; i < members.length; i++) {
          const o = members[i];
          if (o === m || m.seen[i] === o.sends.length) continue;
          const clock = m.clock(o.id);
          while (m.seen[i] < o.sends.length && o.sends[m.seen[i]].end <= clock) {
            if (o.sends[m.seen[i]].measured && measuring) {
              latencies.push(now - o.sends[m.seen[i]].at);
              deliveries++;
            }
            m.seen[i]++;
          }
        }
      });
    }
    rooms.push(members);
    if (r % 10 === 9) await Promise.all(members.map((m) => m.synced));
  }
  const all = rooms.flat();
  await Promise.all(all.map((m) => m.synced));
  process.send({ ready: true });

  const period = 1000 / cfg.rate;
  let edits = 0;
  let stopping = false;
  let measureEdits = false;
  const timers = [];
  process.on('message', async (msg) => {
    if (msg === 'edit') {
      // Each client on a timer of its own, spread over the period.
      for (const m of all) {
        timers.push(
          setTimeout(() => {
            const tick = () => {
              if (stopping) return;
              m.sends.push({ end: m.clock(m.id) + 1, at: performance.now(), measured: measureEdits });
              if (measureEdits) edits++;
              m.insert();
            };
            tick();
            timers.push(setInterval(tick, period));
          }, Math.random() * period),
        );
      }
    } else if (msg === 'measure') {
      measuring = measureEdits = true;
    } else if (msg === 'stop') {
      measureEdits = false;
      stopping = true;
      for (let i = 0; i < 50 && deliveries < edits * (cfg.clients - 1); i++) await sleep(100);
      measuring = false;
      for (const t of timers) clearTimeout(t), clearInterval(t);
      process.send({ edits, deliveries, latencies });
    } else if (msg === 'close') {
      let converged = true;
      for (let i = 0; i < 50; i++) {
        converged = rooms.every((ms) => ms.every((m) => m.text() === ms[0].text()));
        if (converged) break;
        await sleep(100);
      }
      for (const m of all) m.close();
      process.send({ converged });
      process.exit(0);
    }
  });
}

/** ask sends msg to every worker and resolves to their next answers. */
function ask(workers, msg) {
  return Promise.all(
    workers.map((w) => {
      const answer = new Promise((resolve) => w.once('message', resolve));
      if (msg !== null) w.send(msg);
      return answer;
    }),
  );
}

/**
 * run measures one server under the load and returns its figures. The
 * clients run in worker processes, rooms split between them, so that one
 * Node thread does not limit the load on a machine with several cores.
 */
async function run(name) {
  const impl = servers[name];
  const port = await freePort();
  const { child, cleanUp } = await impl.start(port);
  const url = `ws://127.0.0.1:${port}`;
  const prefix = `load${Date.now() % 1e6}-`;
  const n = Math.min(Number(opt.workers), cfg.rooms);
  const workers = [];
  for (let i = 0; i < n; i++) {
    const first = Math.floor((cfg.rooms * i) / n);
    const count = Math.floor((cfg.rooms * (i + 1)) / n) - first;
    const w = fork(fileURLToPath(import.meta.url), process.argv.slice(2), { env: { ...process.env, LOAD_PART: JSON.stringify({ name, url, prefix, first, count }) } });
    workers.push(w);
  }
  await ask(workers, null); // ready
  for (const w of workers) w.send('edit');
  await sleep(cfg.warmup * 1000);
  for (const w of workers) w.send('measure');
  const before = procSample(child.pid);
  const t0 = performance.now();
  await sleep(cfg.duration * 1000);
  // The edits of the window arrive shortly after it; the workers wait for
  // them before answering. The tail adds the server's idle cost of the
  // wait, about the same for both servers.
  const parts = await ask(workers, 'stop');
  const after = procSample(child.pid);
  const elapsed = (performance.now() - t0) / 1000;
  const closed = await ask(workers, 'close');

  await stopServer(child);
  cleanUp();

  const latencies = parts.flatMap((p) => p.latencies).sort((a, b) => a - b);
  const edits = parts.reduce((a, p) => a + p.edits, 0);
  const deliveries = parts.reduce((a, p) => a + p.deliveries, 0);
  const per = (x) => (deliveries ? x / deliveries : NaN);
  return {
    server: name,
    rooms: cfg.rooms,
    clients: cfg.clients,
    rate: cfg.rate,
    edits,
    deliveries,
    missing: edits * (cfg.clients - 1) - deliveries,
    deliveries_per_s: deliveries / elapsed,
    p50_ms: quantile(latencies, 0.5),
    p99_ms: quantile(latencies, 0.99),
    converged: closed.every((c) => c.converged),
    cpu_us_per_delivery: per((after.user + after.system - before.user - before.system) * 1e6),
    user_us_per_delivery: per((after.user - before.user) * 1e6),
    system_us_per_delivery: per((after.system - before.system) * 1e6),
    vcsw_per_delivery: per(after.vcsw - before.vcsw),
    ivcsw_per_delivery: per(after.ivcsw - before.ivcsw),
    writes_per_delivery: per(after.syscw - before.syscw),
  };
}

/** stopServer ends a server and waits for it to exit. */
async function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  // SIGTERM, so that a server run with --cpuprofile writes its profile.
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(killer);
}

// How many idle clients are between upgrade and sync at once.
const IDLE_DIAL_CONCURRENCY = 64;

/**
 * runIdle measures what ROOMS x CLIENTS idle connections cost one server:
 * its RSS per connection, its threads (and goroutines), and its CPU while
 * they stay idle (see the header comment).
 */
async function runIdle(name) {
  const impl = servers[name];
  const port = await freePort();
  const { child, cleanUp } = await impl.start(port);
  const url = `ws://127.0.0.1:${port}`;
  const base = `http://127.0.0.1:${port}`;
  const prefix = `idle${Date.now() % 1e6}-`;
  const total = cfg.rooms * cfg.clients;
  const sockets = [];
  let closing = false;
  try {
    await sleep(1000); // let the fresh server settle before the baseline
    const before = procMemory(child.pid);
    const goroutinesBefore = name === 'flowstate' ? await goroutines(base) : null;

    const t0 = performance.now();
    let next = 0;
    const dialer = async () => {
      while (next < total) {
        const i = next++;
        sockets.push(await impl.idleHandshake(url, prefix + Math.floor(i / cfg.clients), i));
      }
    };
    await Promise.all(Array.from({ length: Math.min(IDLE_DIAL_CONCURRENCY, total) }, dialer));
    const connectS = (performance.now() - t0) / 1000;
    let dropped = 0;
    for (const ws of sockets) ws.on('close', () => closing || dropped++);

    await sleep(1000); // as `flowstate bench load` does before reading the RSS
    const connected = procMemory(child.pid);
    const goroutinesConnected = name === 'flowstate' ? await goroutines(base) : null;
    // What follows a connection's sync is not idle yet: FlowState probes
    // each client it sent data about 2 s later (a ping and its pong).
    await sleep(cfg.settle * 1000);
    const a = procSample(child.pid);
    const t1 = performance.now();
    await sleep(cfg.duration * 1000);
    const b = procSample(child.pid);
    const idleS = (performance.now() - t1) / 1000;
    const end = procMemory(child.pid);
    // CPU times come in clock ticks: round off the float noise of seconds.
    const perS = (x) => Math.round(x * 1e3) / 1e3 / idleS;
    return {
      server: name,
      rooms: cfg.rooms,
      clients: cfg.clients,
      rate: 0,
      connections: total,
      connect_s: connectS,
      dropped,
      server_rss_before_bytes: before.rss,
      server_rss_connected_bytes: connected.rss,
      server_rss_per_connection_bytes: (connected.rss - before.rss) / total,
      server_rss_end_bytes: end.rss,
      server_rss_per_connection_end_bytes: (end.rss - before.rss) / total,
      server_threads_before: before.threads,
      server_threads_connected: connected.threads,
      server_goroutines_before: goroutinesBefore,
      server_goroutines_connected: goroutinesConnected,
      settle_s: cfg.settle,
      idle_s: idleS,
      idle_cpu_ms_per_s: perS((b.user + b.system - a.user - a.system) * 1e3),
      idle_user_ms_per_s: perS((b.user - a.user) * 1e3),
      idle_system_ms_per_s: perS((b.system - a.system) * 1e3),
      idle_csw_per_s: perS(b.vcsw + b.ivcsw - a.vcsw - a.ivcsw),
      idle_writes_per_s: perS(b.syscw - a.syscw),
    };
  } finally {
    closing = true;
    for (const ws of sockets) ws.terminate();
    await stopServer(child);
    cleanUp();
  }
}

/** printIdle prints one idle run's figures as a line of text. */
function printIdle(r) {
  const kb = (x) => (x / 1000).toFixed(2);
  const mib = (x) => (x / 2 ** 20).toFixed(1);
  console.log(
    `${r.server.padEnd(9)} ${r.rooms}x${r.clients} idle  ${r.connections} connections in ${r.connect_s.toFixed(1)} s` +
      `  RSS ${kb(r.server_rss_per_connection_bytes)} KB/connection (${mib(r.server_rss_before_bytes)} -> ${mib(r.server_rss_connected_bytes)} MiB),` +
      ` ${kb(r.server_rss_per_connection_end_bytes)} KB ${(r.settle_s + r.idle_s).toFixed(0)} s later` +
      `  threads ${r.server_threads_connected}` +
      (r.server_goroutines_connected === null ? '' : `  goroutines ${r.server_goroutines_connected}`) +
      `  idle CPU ${r.idle_cpu_ms_per_s.toFixed(2)} ms/s (user ${r.idle_user_ms_per_s.toFixed(2)}, sys ${r.idle_system_ms_per_s.toFixed(2)})` +
      `  csw ${r.idle_csw_per_s.toFixed(1)}/s  writes ${r.idle_writes_per_s.toFixed(1)}/s` +
      (r.dropped ? `  ${r.dropped} DROPPED` : ''),
  );
}

if (process.env.LOAD_PART) {
  await clientPart(JSON.parse(process.env.LOAD_PART));
} else {
  await main();
}

/**
 * floor runs `flowstate bench floor` at rate writes per second over the
 * load's sockets for its duration, and returns its figures.
 */
function floor(rate) {
  const out = execFileSync(
    binary(),
    ['bench', 'floor', '--json', '--sockets', String(cfg.rooms * cfg.clients), '--rate', String(Math.max(1, Math.round(rate))), '--duration', `${cfg.duration}s`],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return JSON.parse(out);
}

async function main() {
  const names = opt.servers.split(',');
  for (const name of names) {
    if (!Object.hasOwn(servers, name)) {
      console.error(`load-driver: unknown server ${JSON.stringify(name)} in --servers: want some of flowstate, peer and relay, separated by commas`);
      process.exit(2);
    }
    if (idle && !servers[name].idleHandshake) {
      console.error(`load-driver: idle mode (--rate 0) does not apply to ${name}`);
      process.exit(2);
    }
  }
  const results = [];
  for (let i = 0; i < Number(opt.repeat); i++) {
    let rate = 0;
    for (const name of names) {
      if (idle) {
        const r = await runIdle(name);
        if (opt.json) console.log(JSON.stringify(r));
        else printIdle(r);
        continue;
      }
      const r = await run(name);
      results.push(r);
      rate ||= r.deliveries_per_s;
      if (opt.json) console.log(JSON.stringify(r));
      else {
        console.log(
          `${r.server.padEnd(9)} ${r.rooms}x${r.clients}x${r.rate}/s  deliveries ${r.deliveries} (${r.deliveries_per_s.toFixed(0)}/s, missing ${r.missing})` +
            `  p50 ${r.p50_ms.toFixed(1)} ms  p99 ${r.p99_ms.toFixed(1)} ms` +
            `  CPU ${r.cpu_us_per_delivery.toFixed(1)} µs/delivery (user ${r.user_us_per_delivery.toFixed(1)}, sys ${r.system_us_per_delivery.toFixed(1)})` +
            `  csw ${r.vcsw_per_delivery.toFixed(2)}+${r.ivcsw_per_delivery.toFixed(2)}  writes ${r.writes_per_delivery.toFixed(2)}` +
            (r.converged ? '' : '  NOT CONVERGED'),
        );
      }
    }
    if (opt.floor) {
      const f = floor(rate);
      if (opt.json) console.log(JSON.stringify({ server: 'floor', ...f }));
      else {
        console.log(
          `floor     ${f.sockets} sockets, ${f.writes_per_s.toFixed(0)} writes/s  writer thread ${f.writer_cpu_us_per_write.toFixed(1)} µs/write (user ${f.writer_user_us_per_write.toFixed(1)}, sys ${f.writer_system_us_per_write.toFixed(1)})`,
        );
      }
    }
  }
  process.exit(0);
}
