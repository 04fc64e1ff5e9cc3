import { spawn, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnTied } from '../../../src/process/spawnTied';

const COMPILED = join(__dirname, '..', '..', '..', 'dist', 'src', 'process', 'spawnTied.js');

function running(marker: string): boolean {
  try {
    return execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' }).trim().length > 0;
  } catch {
    return false; // pgrep exits 1 when nothing matches
  }
}

async function eventually(check: () => boolean, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

describe('spawnTied', () => {
  it('kills the child when its parent is SIGKILLed', async () => {
    const secs = String(800_000 + Math.floor(Math.random() * 100_000));
    const marker = `sleep ${secs}`;
    const parent = spawn(process.execPath, [
      '-e',
      `require(${JSON.stringify(COMPILED)}).spawnTied('sleep', [${JSON.stringify(secs)}]); console.log('up'); setInterval(() => {}, 1000);`,
    ]);
    await new Promise<void>((res) => parent.stdout.once('data', () => res()));
    expect(await eventually(() => running(marker))).toBe(true);
    parent.kill('SIGKILL');
    expect(await eventually(() => !running(marker))).toBe(true);
  });

  it('forwards SIGTERM to the child and reports its exit', async () => {
    const secs = String(700_000 + Math.floor(Math.random() * 100_000));
    const child = spawnTied('sleep', [secs]);
    expect(await eventually(() => running(`sleep ${secs}`))).toBe(true);
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(143); // sleep died of SIGTERM; the watchdog exits with its status
    expect(await eventually(() => !running(`sleep ${secs}`))).toBe(true);
  });
});
