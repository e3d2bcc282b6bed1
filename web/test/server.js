// Runs the real FlowState server for the tests: builds cmd/flowstate once
// per test process, starts it on 127.0.0.1 and waits for its "listening"
// log line. Servers can be stopped gracefully, killed (SIGKILL, as in a
// crash) and restarted on the same port and data file. Every server still
// running when the process exits is killed, so no test leaves one behind.
//
//   const srv = await startServer();
//   const provider = new Provider(doc, { url: Provider.roomURL(srv.url, 'notes') });
//   await srv.kill(); await srv.restart();
//   await srv.stop();
//
// FLOWSTATE_BIN names a prebuilt binary and skips the build.

import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from './helpers.js';

/** How long a build or a start may take before startServer gives up, in ms. */
const BUILD_TIMEOUT = 300_000;
const START_TIMEOUT = 30_000;

/** Temporary directories to remove and children to kill at exit. */
const tempDirs = [];
const children = new Set();

function cleanUp() {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  children.clear();
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.length = 0;
}

process.on('exit', cleanUp);
// A test runner that times out, or a developer's Ctrl-C, ends the process
// by a signal, which skips 'exit': clean up, then die of the same signal.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    cleanUp();
    process.kill(process.pid, sig);
  });
}

function tempDir() {
  const d = mkdtempSync(join(tmpdir(), 'flowstate-web-test-'));
  tempDirs.push(d);
  return d;
}

let built = null;

/**
 * buildServer builds cmd/flowstate into a temporary directory, once per
 * process, and resolves to the binary's path.
 * @returns {Promise<string>}
 */
export function buildServer() {
  if (process.env.FLOWSTATE_BIN) return Promise.resolve(process.env.FLOWSTATE_BIN);
  if (built === null) {
    const bin = join(tempDir(), 'flowstate');
    built = new Promise((resolve, reject) => {
      execFile('go', ['build', '-o', bin, './cmd/flowstate'], { cwd: REPO_ROOT, timeout: BUILD_TIMEOUT }, (err, _stdout, stderr) => {
        if (err) reject(new Error(`go build ./cmd/flowstate failed: ${err.message}\n${stderr}`));
        else resolve(bin);
      });
    });
  }
  return built;
}

/**
 * serverEnv is the environment of the server processes: this process's,
 * without the FLOWSTATE_ variables a developer's shell may set, so that
 * only the test decides how the server runs.
 */
function serverEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('FLOWSTATE_')) env[k] = v;
  return { ...env, ...extra };
}

/**
 * mintToken runs `flowstate token` and resolves to a token for the user
 * sub granting perm in room for ttl, signed with secret.
 * @param {{secret: string, room: string, perm?: 'read' | 'write', ttl?: string, sub?: string}} options ttl as a Go duration ("1h", "2s")
 * @returns {Promise<string>}
 */
export async function mintToken({ secret, room, perm = 'write', ttl = '1h', sub = 'tester' }) {
  const bin = await buildServer();
  return new Promise((resolve, reject) => {
    execFile(bin, ['token', '--room', room, '--perm', perm, '--ttl', ttl, '--sub', sub, '--secret', secret], { env: serverEnv() }, (err, stdout, stderr) => {
      if (err) reject(new Error(`flowstate token failed: ${err.message}\n${stderr}`));
      else resolve(stdout.trim());
    });
  });
}

/**
 * startServer starts a FlowState server on 127.0.0.1 and resolves once it
 * listens.
 * @param {{port?: number, dataFile?: string, args?: string[], env?: Record<string, string>}} [options]
 *   port: 0 or absent for a free one; dataFile: a new file in a temporary
 *   directory by default; args: more flags of "flowstate serve" (such as
 *   --auth-secret); env: more environment variables (the FLOWSTATE_ ones of
 *   this process are not passed on)
 * @returns {Promise<{url: string, httpURL: string, port: number, dataFile: string,
 *   logs: () => string, listening: Record<string, any>, stop: () => Promise<void>, kill: () => Promise<void>,
 *   restart: () => Promise<void>}>}
 *   url is the ws:// base (Provider.roomURL(url, room) gives a room's URL)
 *   and httpURL the http:// one; stop sends SIGTERM and waits for the exit,
 *   kill sends SIGKILL and waits; restart kills a running server, then
 *   starts a new one on the same port and data file.
 */
export async function startServer(options = {}) {
  const bin = await buildServer();
  const dataFile = options.dataFile ?? join(tempDir(), 'flowstate.db');
  let log = '';
  let child = null;
  let exited = null;
  let listeningRecord = null;

  const launch = async (port) => {
    const args = ['serve', '--addr', `127.0.0.1:${port}`, '--data', dataFile, '--log-format', 'json', ...(options.args ?? [])];
    const c = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'], env: serverEnv(options.env) });
    children.add(c);
    child = c;
    exited = new Promise((resolve) => c.once('exit', resolve)).then(() => {
      children.delete(c);
    });
    const lines = createInterface({ input: c.stderr });
    const listening = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server did not listen within ${START_TIMEOUT} ms:\n${log}`)), START_TIMEOUT);
      lines.on('line', (line) => {
        log += line + '\n';
        let rec;
        try {
          rec = JSON.parse(line);
        } catch {
          return;
        }
        if (rec.msg === 'listening') {
          clearTimeout(timer);
          listeningRecord = rec;
          resolve(Number(rec.addr.slice(rec.addr.lastIndexOf(':') + 1)));
        }
      });
      c.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the server exited (${signal ?? code}) before listening:\n${log}`));
      });
    });
    try {
      return await listening;
    } catch (e) {
      c.kill('SIGKILL');
      await exited;
      throw e;
    }
  };

  const end = async (signal) => {
    if (child === null) return;
    const c = child;
    child = null;
    if (c.exitCode === null && c.signalCode === null) c.kill(signal);
    await exited;
  };

  const port = await launch(options.port ?? 0);
  return {
    url: `ws://127.0.0.1:${port}`,
    httpURL: `http://127.0.0.1:${port}`,
    port,
    dataFile,
    logs: () => log,
    /** The fields of the server's "listening" log line (addr, data, storage, …). */
    get listening() {
      return listeningRecord;
    },
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
    restart: async () => {
      await end('SIGKILL');
      await launch(port);
    },
  };
}
