// Starts the real `duet serve` binary on a free port with a fresh data directory,
// generous rate limits and short like-round timers, and stops it afterwards.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

export const BIN = process.env.DUET_BIN || join(ROOT, 'target', 'debug', 'duet');

/**
 * `extraArgs`: more `duet serve` flags. `reuse`: `{port, dataDir}` of a stopped server,
 * to start it again on the same address and database (a restart).
 */
export async function startServer(extraArgs = [], reuse = null) {
  const bin = BIN;
  if (!existsSync(bin)) throw new Error(`no server binary at ${bin}: run \`cargo build --bin duet\` or set DUET_BIN`);
  const dataDir = reuse?.dataDir || mkdtempSync(join(tmpdir(), 'duet-e2e-'));
  const port = reuse?.port || (await freePort());
  const args = [
    'serve',
    `--bind=127.0.0.1:${port}`,
    `--data-dir=${dataDir}`,
    '--jwt-secret=e2e-secret-e2e-secret-e2e-secret-e2e!',
    '--rate-signup=1000/min',
    '--rate-signup-address=1000/min',
    '--rate-login=1000/min',
    '--rate-search=1000/min',
    '--rate-avatar=1000/min',
    '--rate-default=100000/min',
    ...extraArgs,
  ];
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: undefined } });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`duet exited with ${child.exitCode}:\n${log}`);
    try {
      const res = await fetch(`${base}/ready`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`duet did not become ready in 30 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    port,
    dataDir,
    log: () => log,
    /** Stops the server; with `keepData`, its data directory stays for a restart. */
    async stop({ keepData = false } = {}) {
      child.kill('SIGTERM');
      await new Promise((r) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          r();
        }, 10_000);
        child.once('exit', () => {
          clearTimeout(timer);
          r();
        });
      });
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
