// How fast the CLI starts, and what `ids normalize` costs next to a naive line loop.
//   npm run bench:cli                 20 starts of each kind, 400,000 emails
//   npm run bench:cli -- 50 1000000   more starts, more emails
// Every figure is the wall time of a whole process (what a user waits for), median of the
// runs, measured in this one run for both sides of each comparison.
import { spawn } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../src/paths';

const BIN = join(PROJECT_ROOT, 'bin', 'ttsync.js');
const STARTS = Number(process.argv[2] ?? 20);
const EMAILS = Number(process.argv[3] ?? 400_000);

// The baseline a user would write in a minute: one line in, one JSON line out.
const NAIVE = `
const { createHash } = require('node:crypto');
const rl = require('node:readline').createInterface({ input: process.stdin });
const out = [];
rl.on('line', (line) => {
  const v = line.trim().toLowerCase();
  out.push(JSON.stringify({ input: line, normalized: v, hash: createHash('sha256').update(v).digest('hex') }));
  if (out.length >= 1024) process.stdout.write(out.splice(0).join('\\n') + '\\n');
});
rl.on('close', () => { if (out.length) process.stdout.write(out.join('\\n') + '\\n'); });
`;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (n: number): string => `${n.toFixed(0)} ms`;

/** Runs a process to its end; wall ms, and ms until its first stdout byte after `input` was written. */
function run(args: string[], input?: { file?: string; firstLine?: string }): Promise<{ wall: number; firstOut: number }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const elapsed = (): number => Number(process.hrtime.bigint() - t0) / 1e6;
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    let firstOut = -1;
    child.stdout.on('data', () => {
      if (firstOut < 0) {
        firstOut = elapsed();
        // Time to first answer measured: now end the input so the process exits.
        if (input?.firstLine !== undefined) child.stdin.end();
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve({ wall: elapsed(), firstOut }) : reject(new Error(`${args.join(' ')} exited ${code}`))));
    if (input?.firstLine !== undefined) child.stdin.write(input.firstLine + '\n');
    else if (input?.file) createReadStream(input.file).pipe(child.stdin);
    else child.stdin.end();
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ttsync-bench-cli-'));
  try {
    const help: number[] = [];
    const first: number[] = [];
    for (let i = 0; i < STARTS; i++) {
      help.push((await run([BIN, '--help'])).wall);
      first.push((await run([BIN, 'ids', 'normalize', '--type', 'email', '--context', 'audience'], { firstLine: ' Jane.Doe@Example.com ' })).firstOut);
    }
    const bare: number[] = [];
    for (let i = 0; i < 5; i++) bare.push((await run(['-e', ''])).wall);
    const node = median(bare);
    process.stdout.write(`bench:cli  node ${process.version}  ${STARTS} starts each (bare node start ${ms(node)})\n`);
    process.stdout.write(`  ttsync --help                          median ${ms(median(help))}  (goal < 200 ms)\n`);
    process.stdout.write(`  ids normalize, first line answered in  median ${ms(median(first))}  (goal < 300 ms)\n`);

    const file = join(dir, 'emails.txt');
    const lines: string[] = [];
    for (let i = 0; i < EMAILS; i++) lines.push(i % 7 === 0 ? ` User.${i}+promo@Example.COM ` : `user${i}@example.com`);
    writeFileSync(file, lines.join('\n') + '\n');
    const naiveFile = join(dir, 'naive.js');
    writeFileSync(naiveFile, NAIVE);
    const ours: number[] = [];
    const naive: number[] = [];
    // Alternated, so both sides see the same machine.
    for (let i = 0; i < 3; i++) {
      naive.push((await run([naiveFile], { file })).wall);
      ours.push((await run([BIN, 'ids', 'normalize', '--type', 'email', '--context', 'audience'], { file })).wall);
    }
    const [o, n] = [median(ours), median(naive)];
    process.stdout.write(`  ids normalize on ${EMAILS.toLocaleString('en-US')} emails        median ${ms(o)}; naive line loop ${ms(n)}: ${(n / o).toFixed(2)}x  (goal >= 3x)\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench-cli: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
