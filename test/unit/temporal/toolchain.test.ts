import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import {
  DEV_SERVER_FLAGS,
  FAKE_GCS_VERSION,
  MAILPIT_VERSION,
  TEMPORAL_CLI_VERSION,
  TEMPORAL_SERVER_VERSION,
  cachedMailpitPath,
  cachedTemporalPath,
  cachedTemporalServerPath,
  cachedTemporalSqlToolPath,
  resolvePostgresBin,
  resolveTemporalCli,
  resolveTemporalServer,
  versionAtLeast,
} from '../../../src/temporal/toolchain';

const bootstrap = readFileSync(join(__dirname, '..', '..', '..', 'scripts', 'bootstrap'), 'utf8');

describe('toolchain pins', () => {
  it('agree between scripts/bootstrap and src/temporal/toolchain.ts', () => {
    expect(bootstrap).toContain(`TEMPORAL_VERSION=${TEMPORAL_CLI_VERSION}`);
    expect(bootstrap).toContain(`FAKE_GCS_VERSION=${FAKE_GCS_VERSION}`);
    expect(bootstrap).toContain('$CACHE/bin/temporal-$TEMPORAL_VERSION/temporal');
    expect(cachedTemporalPath({ TTSYNC_CACHE_DIR: '/c' })).toBe(`/c/bin/temporal-${TEMPORAL_CLI_VERSION}/temporal`);
    expect(bootstrap).toContain(`MAILPIT_VERSION=${MAILPIT_VERSION}`);
    expect(bootstrap).toContain('$CACHE/bin/mailpit-$MAILPIT_VERSION/mailpit');
    expect(cachedMailpitPath({ TTSYNC_CACHE_DIR: '/c' })).toBe(`/c/bin/mailpit-${MAILPIT_VERSION}/mailpit`);
    expect(bootstrap).toContain(`TEMPORAL_SERVER_VERSION=${TEMPORAL_SERVER_VERSION}`);
    expect(bootstrap).toContain('$CACHE/bin/temporal-server-$TEMPORAL_SERVER_VERSION/temporal-server');
    expect(bootstrap).toContain('$CACHE/bin/temporal-server-$TEMPORAL_SERVER_VERSION/temporal-sql-tool');
    expect(bootstrap).toContain('"go.temporal.io/server/cmd/server@v$TEMPORAL_SERVER_VERSION" "go.temporal.io/server/cmd/tools/sql@v$TEMPORAL_SERVER_VERSION"');
    expect(cachedTemporalServerPath({ TTSYNC_CACHE_DIR: '/c' })).toBe(`/c/bin/temporal-server-${TEMPORAL_SERVER_VERSION}/temporal-server`);
    expect(cachedTemporalSqlToolPath({ TTSYNC_CACHE_DIR: '/c' })).toBe(`/c/bin/temporal-server-${TEMPORAL_SERVER_VERSION}/temporal-sql-tool`);
  });

  it('the topology finds the newest Debian PostgreSQL, or says how to get one; a server of another version is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ttsync-pg-'));
    try {
      expect(() => resolvePostgresBin({}, join(dir, 'none'))).toThrow(/not installed under .*none.*scripts\/bootstrap --topology.*TTSYNC_PG_BIN/);
      for (const v of ['13', '15', '9']) {
        mkdirSync(join(dir, v, 'bin'), { recursive: true });
        writeFileSync(join(dir, v, 'bin', 'pg_ctl'), '');
      }
      expect(resolvePostgresBin({}, dir)).toBe(join(dir, '15', 'bin'));
      expect(() => resolvePostgresBin({ TTSYNC_PG_BIN: join(dir, '13', 'bin') }, dir)).toThrow(/has no initdb/);
      expect(() => resolveTemporalServer({ TEMPORAL_SERVER: '/bin/true', TTSYNC_CACHE_DIR: dir })).toThrow(
        new RegExp(`no Temporal server ${TEMPORAL_SERVER_VERSION.replaceAll('.', '\\.')} at /bin/true \\(not runnable\\)`),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a TEMPORAL_CLI of the wrong version, saying what it tried', () => {
    expect(() => resolveTemporalCli({ TEMPORAL_CLI: '/bin/true', TTSYNC_CACHE_DIR: '/nonexistent', PATH: '' })).toThrow(
      /no Temporal CLI 1\.5\.1 found; tried \/bin\/true \(not runnable\)/,
    );
  });

  it('ttsync dev takes a newer Temporal CLI whose dev server knows its flags; tests keep the pin', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ttsync-toolchain-'));
    // A stand-in `temporal`: its version, and the dev server flags its help lists.
    const fake = (name: string, version: string, flags: readonly string[]): string => {
      const path = join(dir, name);
      writeFileSync(path, `#!/bin/sh\nif [ "$1" = --version ]; then echo "temporal version ${version} (Server 1.30.0, UI 2.43.0)"; else printf '%s\\n' ${flags.map((f) => `"  ${f} string"`).join(' ')}; fi\n`);
      chmodSync(path, 0o755);
      return path;
    };
    try {
      const env = (cli: string) => ({ TEMPORAL_CLI: cli, TTSYNC_CACHE_DIR: '/nonexistent', PATH: '' });
      const newer = fake('newer', '1.6.2', DEV_SERVER_FLAGS);
      expect(resolveTemporalCli(env(newer), 'newer')).toBe(newer);
      expect(() => resolveTemporalCli(env(newer))).toThrow(/no Temporal CLI 1\.5\.1 found; tried .*newer \(version 1\.6\.2\)/);
      const lacking = fake('lacking', '2.0.0', DEV_SERVER_FLAGS.filter((f) => f !== '--search-attribute'));
      expect(() => resolveTemporalCli(env(lacking), 'newer')).toThrow(/version 2\.0\.0, its dev server lacks --search-attribute/);
      const older = fake('older', '1.4.9', DEV_SERVER_FLAGS);
      expect(() => resolveTemporalCli(env(older), 'newer')).toThrow(/no Temporal CLI 1\.5\.1 or newer found; tried .*older \(version 1\.4\.9\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect([versionAtLeast('1.5.1', '1.5.1'), versionAtLeast('1.10.0', '1.5.1'), versionAtLeast('1.5.0', '1.5.1'), versionAtLeast('2.0', '1.5.1')]).toEqual([true, true, false, true]);
  });
});
