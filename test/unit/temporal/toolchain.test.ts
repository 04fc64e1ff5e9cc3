import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FAKE_GCS_VERSION, TEMPORAL_CLI_VERSION, cachedTemporalPath, resolveTemporalCli } from '../../../src/temporal/toolchain';

const bootstrap = readFileSync(join(__dirname, '..', '..', '..', 'scripts', 'bootstrap'), 'utf8');

describe('toolchain pins', () => {
  it('agree between scripts/bootstrap and src/temporal/toolchain.ts', () => {
    expect(bootstrap).toContain(`TEMPORAL_VERSION=${TEMPORAL_CLI_VERSION}`);
    expect(bootstrap).toContain(`FAKE_GCS_VERSION=${FAKE_GCS_VERSION}`);
    expect(bootstrap).toContain('$CACHE/bin/temporal-$TEMPORAL_VERSION/temporal');
    expect(cachedTemporalPath({ TTSYNC_CACHE_DIR: '/c' })).toBe(`/c/bin/temporal-${TEMPORAL_CLI_VERSION}/temporal`);
  });

  it('refuses a TEMPORAL_CLI of the wrong version, saying what it tried', () => {
    expect(() => resolveTemporalCli({ TEMPORAL_CLI: '/bin/true', TTSYNC_CACHE_DIR: '/nonexistent', PATH: '' })).toThrow(
      /no Temporal CLI 1\.5\.1 found; tried \/bin\/true \(not runnable\)/,
    );
  });
});
