import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import ts from 'typescript';
import { spawnTied } from '../../src/process/spawnTied';
import { ROOT } from './cli';

/**
 * Compiles a TypeScript fixture of test/fixtures into dist/test/fixtures/, beside the compiled
 * sources it imports (dist/src, dist/activities; scripts/test builds them before vitest), so
 * it runs in a plain `node` child process. Type-checked with the rest of test/ by tsc.
 */
export function compileFixture(name: string): string {
  const source = join(ROOT, 'test', 'fixtures', `${name}.ts`);
  const out = join(ROOT, 'dist', 'test', 'fixtures', `${name}.js`);
  const js = ts.transpileModule(readFileSync(source, 'utf8'), {
    fileName: source,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  }).outputText;
  mkdirSync(dirname(out), { recursive: true });
  // Another test run may compile the same fixture at the same moment: rename is atomic.
  const tmp = `${out}.${process.pid}.tmp`;
  writeFileSync(tmp, js);
  renameSync(tmp, out);
  return out;
}

export interface ChildProcessLines {
  /** The fixture's own pid (from its `ready <pid>` line), not the watchdog shell's. */
  pid: number;
  /** Every stdout line so far. */
  lines: string[];
  /** Stdout and stderr so far, for failure messages. */
  output(): string;
  /** Resolves with the first line (already seen or still to come) matching `re`. */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends `signal` to the fixture, then lets the watchdog go; resolves when both are gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Runs a compiled fixture under the spawnTied watchdog (it dies with this process, even on
 * SIGKILL) and waits for its `ready <pid>` line.
 */
export async function spawnFixture(script: string, env: NodeJS.ProcessEnv, readyTimeoutMs = 30_000): Promise<ChildProcessLines> {
  const child = spawnTied(process.execPath, [script], { cwd: ROOT, env: { ...process.env, ...env }, output: 'pipe' });
  const lines: string[] = [];
  let all = '';
  let partial = '';
  const waiters = new Set<() => void>();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => {
    gone = true;
    waiters.forEach((w) => w());
  });
  child.stdout?.on('data', (d: Buffer) => {
    all += d.toString();
    partial += d.toString();
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    waiters.forEach((w) => w());
  });
  child.stderr?.on('data', (d: Buffer) => (all += d.toString()));

  const waitForLine = (re: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        for (const l of lines) {
          const m = l.match(re);
          if (m) return done(() => resolve(m));
        }
        if (gone) done(() => reject(new Error(`fixture exited before printing ${re}; output:\n${all}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`no line ${re} within ${timeoutMs} ms; output:\n${all}`))), timeoutMs);
      const done = (fn: () => void): void => {
        clearTimeout(timer);
        waiters.delete(check);
        fn();
      };
      waiters.add(check);
      check();
    });

  let pid: number;
  try {
    pid = Number((await waitForLine(/^ready (\d+)$/, readyTimeoutMs))[1]);
  } catch (err) {
    child.stdin?.end();
    throw err;
  }
  return {
    pid,
    lines,
    output: () => all,
    waitForLine,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      try {
        process.kill(pid, signal);
      } catch {
        // Already gone.
      }
      // EOF on its stdin makes the watchdog's reader exit too.
      child.stdin?.end();
      await exited;
    },
  };
}
