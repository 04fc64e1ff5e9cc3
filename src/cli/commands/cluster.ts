import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { DATA_DIR } from '../../paths';
import { parsePort } from '../../config/flags';
import { installRuntimeLogging } from '../../temporal/logging';

/*
 * `ttsync cluster up|down|status|env`: the production topology on this machine (see
 * src/cli/topology/cluster.ts). Its modules load only when a subcommand runs.
 */

const DEFAULT_DIR = join(DATA_DIR, 'topology');

function count(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number of at least 1');
  return n;
}

const portOrZero = (value: string): number => (value === '0' ? 0 : parsePort(value));
const log = (line: string) => process.stderr.write(`[cluster] ${line}\n`);
const envLines = (env: Record<string, string>): string => Object.entries(env).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';

export function registerClusterCommand(program: Command, summary: string): void {
  const cluster = program.command('cluster').description(summary);
  cluster
    .command('up')
    .description('Start PostgreSQL, the Temporal server on it (schemas, namespace, search attributes), fake-gcs-server, the TikTok emulator and N workers, all in the background; prints the environment a client needs')
    .option('--dir <dir>', 'where the database, bucket files, logs and workers\' data dirs live', DEFAULT_DIR)
    .option('--workers <n>', 'ttsync worker processes', count, 2)
    .option('--port <port>', "Temporal's gRPC port on 127.0.0.1 (0: a free one)", portOrZero, 7233)
    .option('--bucket <name>', 'the bucket workers share (gs://<name>)', 'ttsync')
    .option('--no-emulator', 'no TikTok emulator: workers call TIKTOK_API_BASE_URL (real TikTok by default)')
    .option('--emulator-port <port>', "the TikTok emulator's port on 127.0.0.1 (0: a free one); ttsync demo's default is 8787", portOrZero, 8787)
    .option('--max-activities <n>', "activities each worker queue runs at once (ttsync worker --max-activities)", count)
    .option('--tiktok-qps <n>', "the TikTok app's QPS: the workers' TIKTOK_QPS (shared among them) and the emulator's limit", count)
    .action(async (opts: { dir: string; workers: number; port: number; bucket: string; emulator: boolean; emulatorPort: number; maxActivities?: number; tiktokQps?: number }) => {
      installRuntimeLogging('WARN');
      const { topologyUp, clientEnv } = await import('../topology/cluster.js');
      const dir = resolve(opts.dir);
      const t0 = Date.now();
      const state = await topologyUp({ ...opts, dir, log });
      log(`up in ${((Date.now() - t0) / 1000).toFixed(1)} s. Stop it with: ttsync cluster down --dir ${dir}`);
      log('clients of this topology need (also: ttsync cluster env):');
      process.stdout.write(envLines(clientEnv(state)));
    });
  cluster
    .command('down')
    .description('Stop the workers (they drain), the emulator, the Temporal server, fake-gcs-server and PostgreSQL; data stays in --dir')
    .option('--dir <dir>', 'the topology\'s folder', DEFAULT_DIR)
    .action(async (opts: { dir: string }) => {
      const { topologyDown } = await import('../topology/cluster.js');
      await topologyDown(resolve(opts.dir), log);
    });
  cluster
    .command('status')
    .description('Say which parts run; exits 1 when the topology is not fully up')
    .option('--dir <dir>', 'the topology\'s folder', DEFAULT_DIR)
    .option('--json', 'the state and each part as JSON')
    .action(async (opts: { dir: string; json?: boolean }) => {
      const { topologyStatus } = await import('../topology/cluster.js');
      const { state, parts } = await topologyStatus(resolve(opts.dir));
      const allUp = Boolean(state) && parts.every((p) => p.up);
      if (opts.json) process.stdout.write(JSON.stringify({ up: allUp, parts, state }, null, 2) + '\n');
      else if (!state) process.stdout.write(`no topology in ${resolve(opts.dir)} (ttsync cluster up)\n`);
      else for (const p of parts) process.stdout.write(`${p.up ? 'up  ' : 'DOWN'}  ${p.part.padEnd(36)} ${p.detail}\n`);
      if (!allUp) process.exitCode = 1;
    });
  cluster
    .command('env')
    .description('Print the environment (KEY=value lines) that points ttsync commands at the running topology')
    .option('--dir <dir>', 'the topology\'s folder', DEFAULT_DIR)
    .action(async (opts: { dir: string }) => {
      const { readState, clientEnv } = await import('../topology/cluster.js');
      const state = readState(resolve(opts.dir));
      if (!state) throw new Error(`no topology in ${resolve(opts.dir)}; start it with ttsync cluster up`);
      process.stdout.write(envLines(clientEnv(state)));
    });
}
