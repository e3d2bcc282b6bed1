// Drives FlowState and the peer y-websocket server with the same load and
// measures what each server spends per delivered edit.
//
//   node bench/load-driver.mjs --rooms 100 --clients 10 --rate 1 --duration 30 --repeat 3
//
// Each run starts a fresh server (FlowState: `flowstate serve` on a new
// data file; the peer: @y/websocket-server, in memory), connects ROOMS x
// CLIENTS clients (FlowState's Provider over Doc; y-websocket's
// WebsocketProvider over Y.Doc, both on the `ws` package), has every
// client insert one character at a random place RATE times a second for
// DURATION seconds, and reports deliveries (an edit arriving at another
// member of its room), p50/p99 delivery latency, and the server process's
// CPU time (user, system), context switches and write system calls over
// the editing window, from /proc/PID, each divided by the deliveries.
// The servers alternate (FlowState, peer, FlowState, ...) so that both
// see the same background load. --servers flowstate or --servers peer runs
// one of them only. With --floor, each round ends with `flowstate bench
// floor` at the round's first delivery rate, over ROOMS x CLIENTS sockets,
// for DURATION: the CPU time of one small write(2) to a parked loopback
// reader, measured under the same background load, against which the
// servers' CPU per delivery is compared. FLOWSTATE_BIN names a prebuilt binary; otherwise
// cmd/flowstate is built once.
//
// Both clients are driven by the same code: only connect, insert, clock
// and the update hook differ, so that neither side is favoured by how it is
// measured.

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
import { Doc, Provider } from '../src/index.js';

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
    'server-args': { type: 'string', default: '' },
  },
});
const cfg = {
  rooms: Number(opt.rooms),
  clients: Number(opt.clients),
  rate: Number(opt.rate),
  duration: Number(opt.duration),
  warmup: Number(opt.warmup),
};

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

/** The two servers: how to start one, and the client operations on it. */
const servers = {
  flowstate: {
    async start(port) {
      const dir = mkdtempSync(join(tmpdir(), 'flowstate-load-data-'));
      const args = ['serve', '--addr', `127.0.0.1:${port}`, '--data', join(dir, 'bench.db'), '--log-level', 'warn',
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
  },
};

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

  // SIGTERM, so that a server run with --cpuprofile writes its profile.
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(killer);
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
  const results = [];
  for (let i = 0; i < Number(opt.repeat); i++) {
    let rate = 0;
    for (const name of names) {
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
