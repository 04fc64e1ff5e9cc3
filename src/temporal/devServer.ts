import type { ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
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

/** Ports below this are never handed out to outgoing connections here (Linux's ip_local_port_range). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 0) return low;
  } catch {
    // Not Linux: macOS and Windows start theirs at 49152.
  }
  return 49_152;
}

const PICK_FROM = 20_000;
/** Membership ports are stored in a smallint column by the Temporal server: below 32768. */
const PICK_BELOW = 32_768;
const handedOut: number[] = [];

/**
 * A port that is free to listen on now, for a server this process is about to start, from
 * 20000 up to 32767 or the start of the kernel's ephemeral range. A port from that range
 * (port 0) can be taken by any process's outgoing connection in the moment before the server
 * binds it, which then exits with "address already in use" (the likely end of a topology
 * test's Temporal server while other tests ran beside it). Where the range starts too low to
 * leave room, the ports up to 32767 are tried all the same (the Temporal server's membership
 * ports must be below 32768). A port handed out recently is not handed out again: callers pick
 * several before their servers bind any.
 */
export async function freePort(ip = '127.0.0.1'): Promise<number> {
  const low = ephemeralLow();
  const top = low - PICK_FROM >= 1000 ? Math.min(PICK_BELOW, low) : PICK_BELOW;
  for (let i = 0; i < 200; i++) {
    const port = PICK_FROM + Math.floor(Math.random() * (top - PICK_FROM));
    if (handedOut.includes(port) || !(await canListen(ip, port))) continue;
    handedOut.push(port);
    if (handedOut.length > 256) handedOut.shift();
    return port;
  }
  throw new Error(`no port between ${PICK_FROM} and ${top - 1} is free to listen on ${ip}`);
}

function canListen(ip: string, port: number): Promise<boolean> {
  return listenOnce(ip, port).then(
    () => true,
    () => false,
  );
}

function listenOnce(ip: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(port, ip, () => srv.close(() => resolve()));
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
