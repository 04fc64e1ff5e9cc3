import { execFile } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/*
 * A private PostgreSQL cluster under the topology's data dir, managed with the package's own
 * initdb and pg_ctl. PostgreSQL refuses to run as root, so as root every program runs as the
 * `postgres` user the Debian package creates (and the cluster's folder belongs to it).
 */

export interface PostgresPaths {
  /** initdb, pg_ctl, pg_isready. */
  binDir: string;
  /** The cluster's folder (PGDATA). */
  dataDir: string;
  /** In the data dir's parent folder, which belongs to the user running PostgreSQL. */
  logFile: string;
  /** The `temporal` role's password, made at initdb (0600). */
  passwordFile: string;
}

export const POSTGRES_USER = 'temporal';

interface RunAs {
  prefix: string[];
  uid?: number;
  gid?: number;
}

function runAs(): RunAs {
  if (process.getuid?.() !== 0) return { prefix: [] };
  const passwd = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!passwd) throw new Error('PostgreSQL cannot run as root and this machine has no postgres user (the postgresql package creates it); run as another user');
  const [, , uid, gid] = passwd.split(':');
  return { prefix: ['runuser', '-u', 'postgres', '--'], uid: Number(uid), gid: Number(gid) };
}

async function pg(paths: PostgresPaths, program: string, args: string[]): Promise<string> {
  const as = runAs();
  const cmd = [...as.prefix, join(paths.binDir, program), ...args];
  try {
    const { stdout, stderr } = await run(cmd[0]!, cmd.slice(1), { encoding: 'utf8', timeout: 120_000 });
    return stdout + stderr;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${program} ${args.join(' ')} failed: ${(e.stderr || e.stdout || e.message).trim()}`);
  }
}

/** initdb once (password auth for TCP, no Unix socket); true when it made the cluster now. */
export async function initCluster(paths: PostgresPaths): Promise<boolean> {
  if (existsSync(join(paths.dataDir, 'PG_VERSION'))) return false;
  const as = runAs();
  // The cluster's parent folder belongs to the user that runs PostgreSQL: the data dir, the
  // log and initdb's password file live in it.
  const home = dirname(paths.dataDir);
  mkdirSync(home, { recursive: true, mode: 0o700 });
  if (as.uid !== undefined) {
    chownSync(home, as.uid, as.gid!);
    try {
      await run(as.prefix[0]!, [...as.prefix.slice(1), 'test', '-w', home], { timeout: 10_000 });
    } catch {
      throw new Error(`PostgreSQL runs as the postgres user, which cannot reach ${home}: every folder above it must be searchable by others (chmod o+x), or choose another --dir`);
    }
  }
  mkdirSync(dirname(paths.passwordFile), { recursive: true, mode: 0o700 });
  if (!existsSync(paths.passwordFile)) writeFileSync(paths.passwordFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
  // initdb reads the password from a file the postgres user can read; removed right after.
  const pwfile = join(home, `.initdb-pw-${process.pid}`);
  writeFileSync(pwfile, readFileSync(paths.passwordFile, 'utf8'), { mode: 0o600 });
  if (as.uid !== undefined) chownSync(pwfile, as.uid, as.gid!);
  try {
    await pg(paths, 'initdb', ['-D', paths.dataDir, '-U', POSTGRES_USER, `--pwfile=${pwfile}`, '--auth-host=scram-sha-256', '--auth-local=scram-sha-256', '-E', 'UTF8', '--locale=C.UTF-8']);
  } finally {
    rmSync(pwfile, { force: true });
  }
  // Loopback only, no Unix socket (its default folder may not exist or be writable).
  appendFileSync(join(paths.dataDir, 'postgresql.conf'), "\n# ttsync topology\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\nmax_connections = 200\n");
  return true;
}

export async function startCluster(paths: PostgresPaths, port: number): Promise<void> {
  await pg(paths, 'pg_ctl', ['start', '-D', paths.dataDir, '-l', paths.logFile, '-w', '-t', '60', '-o', `-p ${port}`]);
}

export async function stopCluster(paths: PostgresPaths): Promise<'stopped' | 'not running'> {
  if (!(await clusterRunning(paths))) return 'not running';
  await pg(paths, 'pg_ctl', ['stop', '-D', paths.dataDir, '-m', 'fast', '-w', '-t', '60']);
  return 'stopped';
}

export async function clusterRunning(paths: PostgresPaths): Promise<boolean> {
  if (!existsSync(join(paths.dataDir, 'PG_VERSION'))) return false;
  try {
    await pg(paths, 'pg_ctl', ['status', '-D', paths.dataDir]);
    return true;
  } catch {
    return false;
  }
}

export function postgresPassword(paths: PostgresPaths): string {
  return readFileSync(paths.passwordFile, 'utf8').trim();
}
