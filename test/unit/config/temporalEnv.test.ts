import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTemporalEnv } from '../../../src/config/temporalEnv';
import { connectionOptionsFromEnv } from '../../../src/temporal/connection';

describe('Temporal connection settings from the environment', () => {
  it('defaults to the local dev server', () => {
    const env = parseTemporalEnv({});
    expect(env.TEMPORAL_ADDRESS).toBe('127.0.0.1:7233');
    expect(env.TEMPORAL_NAMESPACE).toBe('default');
    expect(connectionOptionsFromEnv(env)).toEqual({ address: '127.0.0.1:7233' });
  });

  it('uses mTLS when a cert and key are given', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ttsync-tls-'));
    writeFileSync(join(dir, 'c.pem'), 'CERT');
    writeFileSync(join(dir, 'k.pem'), 'KEY');
    const env = parseTemporalEnv({
      TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'ns.acct',
      TEMPORAL_TLS_CERT_PATH: join(dir, 'c.pem'),
      TEMPORAL_TLS_KEY_PATH: join(dir, 'k.pem'),
    });
    const opts = connectionOptionsFromEnv(env);
    expect(opts.tls).toEqual({ clientCertPair: { crt: Buffer.from('CERT'), key: Buffer.from('KEY') } });
  });

  it('uses TLS and the API key for Temporal Cloud API-key auth', () => {
    const opts = connectionOptionsFromEnv(parseTemporalEnv({ TEMPORAL_ADDRESS: 'x:7233', TEMPORAL_API_KEY: 'k' }));
    expect(opts).toEqual({ address: 'x:7233', tls: true, apiKey: 'k' });
  });

  it('refuses a cert without its key, naming the missing variable', () => {
    expect(() => parseTemporalEnv({ TEMPORAL_TLS_CERT_PATH: '/c.pem' })).toThrow(
      /TEMPORAL_TLS_KEY_PATH: TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH must be set together/,
    );
  });

  it('names an unreadable certificate file', () => {
    const env = parseTemporalEnv({ TEMPORAL_TLS_CERT_PATH: '/nope/c.pem', TEMPORAL_TLS_KEY_PATH: '/nope/k.pem' });
    expect(() => connectionOptionsFromEnv(env)).toThrow(/cannot read TEMPORAL_TLS_CERT_PATH at \/nope\/c\.pem/);
  });
});
