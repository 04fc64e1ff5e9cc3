import { spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, readSync } from 'node:fs';
import { dirname } from 'node:path';

/*
 * The topology's processes outlive the command that starts them (`cluster up` returns, and
 * `cluster down` is another process), so they are daemons: their own session, output to a
 * log file, known by the pid the state file keeps. Never spawnTied, which would end them
 * with `up`.
 */

export function startDaemon(command: string, args: string[], opts: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string }): number {
  mkdirSync(dirname(opts.logFile), { recursive: true });
  const fd = openSync(opts.logFile, 'a');
  try {
    const child = spawn(command, args, { detached: true, stdio: ['ignore', fd, fd], env: opts.env ?? process.env, ...(opts.cwd ? { cwd: opts.cwd } : {}) });
    if (child.pid === undefined) throw new Error(`cannot start ${command}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** The process runs (a zombie, whose parent has not reaped it, does not). */
export function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to another user (e.g. postgres run as its own user).
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    // "<pid> (<name>) <state> …": the name may hold spaces, the state follows its last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    // No /proc (not Linux): kill(0) answered.
    return true;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the pid is gone. Returns how it ended. */
export async function stopPid(pid: number | undefined, graceMs: number): Promise<'not running' | 'stopped' | 'killed'> {
  if (!alive(pid)) return 'not running';
  try {
    process.kill(pid!, 'SIGTERM');
  } catch {
    return 'not running';
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!alive(pid)) return 'stopped';
    await sleep(100);
  }
  try {
    process.kill(pid!, 'SIGKILL');
  } catch {
    return 'stopped';
  }
  while (alive(pid)) await sleep(50);
  return 'killed';
}

/** Polls `check` until it is true; the error names what did not come up and where its log is. */
export async function waitUntil(what: string, check: () => Promise<boolean>, opts: { timeoutMs: number; pid?: number; logFile?: string }): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  const where = opts.logFile ? `; see ${opts.logFile}` : '';
  for (;;) {
    if (await check().catch(() => false)) return;
    if (opts.pid !== undefined && !alive(opts.pid)) throw new Error(`${what} exited before it was ready${where}${logTail(opts.logFile)}`);
    if (Date.now() > deadline) throw new Error(`${what} was not ready within ${Math.round(opts.timeoutMs / 1000)} s${where}`);
    await sleep(250);
  }
}

/**
 * The last lines of a log, to quote in an error: a folder that is removed after the failure
 * (a test's, a CI run's) takes the log with it, and the reason would be lost.
 */
export function logTail(logFile: string | undefined, lines = 12, maxBytes = 4096): string {
  if (!logFile) return '';
  let text: string;
  try {
    // Only the end is read: a daemon's log can be large.
    const fd = openSync(logFile, 'r');
    try {
      const size = fstatSync(fd).size;
      const buf = Buffer.alloc(Math.min(size, maxBytes));
      readSync(fd, buf, 0, buf.length, size - buf.length);
      text = buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
  const tail = text.split('\n').filter((l) => l.trim() !== '').slice(-lines);
  return tail.length ? `; its log ends:\n${tail.map((l) => `  ${l}`).join('\n')}` : '';
}
