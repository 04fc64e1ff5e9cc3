import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { testEnv } from './temporal';

export const ROOT = join(__dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'ttsync.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the compiled CLI (scripts/test's bootstrap builds dist/ before vitest runs). */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...opts.env },
    input: opts.input,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return Object.assign(child, { output: () => out });
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export type SpawnedCli = ReturnType<typeof spawnCli>;

/** Waits until the spawned CLI's output matches `re`; fails with the output if it exits first or time runs out. */
export async function waitForOutput(child: SpawnedCli, re: RegExp, timeoutMs = 90_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = re.exec(child.output());
    if (m) return m;
    if (child.exitCode !== null) throw new Error(`ttsync exited early:\n${child.output()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}:\n${child.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The spawned CLI's exit code, once it has exited. */
export const exitOf = (child: SpawnedCli): Promise<number | null> =>
  child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((res) => child.once('exit', res));

/**
 * Runs the compiled CLI against the test dev server without blocking this process: the
 * workers it talks to run here, and runCli's spawnSync would freeze them.
 */
export function cliAgainstTestServer(
  args: string[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; onStderr?: (soFar: string) => void } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, TEMPORAL_ADDRESS: testEnv().TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE: testEnv().TEMPORAL_NAMESPACE, ...opts.env };
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      opts.onStderr?.(stderr);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
