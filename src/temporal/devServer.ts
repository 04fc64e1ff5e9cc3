import type { ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { dirname } from 'node:path';
import { Connection } from '@temporalio/client';
import { devServerSearchAttributeArgs } from './searchAttributes';
import { spawnTied } from '../process/spawnTied';

export interface DevServerOptions {
  /** Path to the pinned Temporal CLI (see toolchain.ts). */
  cliPath: string;
  ip?: string;
  /** gRPC port; 0 picks a free one. */
  port?: number;
  /** Web UI port; undefined runs headless. */
  uiPort?: number;
  namespace?: string;
  /** SQLite file; undefined keeps state in memory. */
  dbFile?: string;
  /** Where the server's own log goes; undefined discards it. */
  logFile?: string;
  extraArgs?: string[];
  /**
   * Own process group: a terminal's Ctrl-C then reaches only ttsync, which drains its
   * workers before it stops the server (workers need the server to finish their tasks).
   */
  detached?: boolean;
  /** How long to wait for the server to answer gRPC. A cold SQLite start can take a while. */
  readyTimeoutMs?: number;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  namespace: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function freePort(ip = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, ip, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function portOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = tcpConnect({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** True when a Temporal frontend answers at the address (not merely an open port). */
export async function temporalAnswers(address: string, timeoutMs = 2_000): Promise<boolean> {
  const [host, portStr] = splitAddress(address);
  if (!(await portOpen(host, Number(portStr)))) return false;
  let conn: Connection | undefined;
  try {
    conn = await Connection.connect({ address, connectTimeout: timeoutMs });
    await conn.workflowService.getSystemInfo({});
    return true;
  } catch {
    return false;
  } finally {
    await conn?.close().catch(() => undefined);
  }
}

function splitAddress(address: string): [string, string] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i), address.slice(i + 1)];
}

/** Starts `temporal server start-dev` with ttsync's search attributes and waits until it serves. */
export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const ip = opts.ip ?? '127.0.0.1';
  const port = opts.port || (await freePort(ip));
  const namespace = opts.namespace ?? 'default';
  const args = ['server', 'start-dev', '--ip', ip, '--port', String(port), '--namespace', namespace];
  args.push('--log-level', 'warn', '--log-format', 'pretty');
  if (opts.uiPort === undefined) args.push('--headless');
  else args.push('--ui-port', String(opts.uiPort), '--ui-ip', ip);
  if (opts.dbFile) {
    mkdirSync(dirname(opts.dbFile), { recursive: true });
    args.push('--db-filename', opts.dbFile);
  }
  args.push(...devServerSearchAttributeArgs(), ...(opts.extraArgs ?? []));

  let logFd: number | 'ignore' = 'ignore';
  if (opts.logFile) {
    mkdirSync(dirname(opts.logFile), { recursive: true });
    logFd = openSync(opts.logFile, 'a');
  }
  // Tied: the server never outlives the process that started it (see spawnTied).
  const child = spawnTied(opts.cliPath, args, { output: logFd, detached: opts.detached ?? false });
  if (typeof logFd === 'number') closeSync(logFd);

  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `exited with ${signal ?? `code ${code}`}`;
  });
  const address = `${ip}:${port}`;
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  while (!(await temporalAnswers(address))) {
    if (exited) {
      throw new Error(
        `Temporal dev server ${exited} before serving on ${address}` + (opts.logFile ? `; see ${opts.logFile}` : ''),
      );
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`Temporal dev server did not answer on ${address} within ${opts.readyTimeoutMs ?? 60_000} ms`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  return {
    address,
    namespace,
    uiUrl: opts.uiPort === undefined ? undefined : `http://${ip}:${opts.uiPort}`,
    child,
    stop: () => stopChild(child),
  };
}

/** SIGTERM, then SIGKILL after a grace period; resolves once the process is gone. */
export function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
