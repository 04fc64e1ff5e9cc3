import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadClientConfigProfile } from '@temporalio/envconfig';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/errors';
import { loadTemporalSettings, type LoadTemporalSettingsOptions } from '../../../src/temporal/connection';
import { fileTempDir } from '../../helpers/tempDir';

const dir = fileTempDir('ttsync-connection-');
const NONE = join(dir, 'absent.toml');
writeFileSync(join(dir, 'c.pem'), 'CERT');
writeFileSync(join(dir, 'k.pem'), 'KEY');
writeFileSync(join(dir, 'ca.pem'), 'CA');

function toml(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Settings from exactly `env` (no file unless it names one), with the warnings collected. */
function load(env: NodeJS.ProcessEnv): ReturnType<typeof loadTemporalSettings> & { warnings: string[] } {
  const warnings: string[] = [];
  const opts: LoadTemporalSettingsOptions = { env: { TEMPORAL_CONFIG_FILE: NONE, ...env }, warn: (m) => warnings.push(m) };
  return { ...loadTemporalSettings(opts), warnings };
}

describe('Temporal connection settings, as the temporal CLI reads them', () => {
  it('defaults to the local dev server when nothing is set', () => {
    const s = load({});
    expect(s).toMatchObject({ address: '127.0.0.1:7233', namespace: 'default', connection: { address: '127.0.0.1:7233' }, source: 'environment' });
    expect(s.connection.tls).toBeUndefined();
    expect(s.warnings).toEqual([]);
  });

  it('reads the profile TEMPORAL_PROFILE names from the file TEMPORAL_CONFIG_FILE names', () => {
    const file = toml(
      'profiles.toml',
      '[profile.default]\naddress = "wrong:1"\n\n[profile.cloud]\naddress = "ns.acct.tmprl.cloud:7233"\nnamespace = "ns.acct"\napi_key = "secret-key"\n',
    );
    const s = load({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'cloud' });
    expect(s.address).toBe('ns.acct.tmprl.cloud:7233');
    expect(s.namespace).toBe('ns.acct');
    // An API key implies TLS, as in the CLI.
    expect(s.connection).toMatchObject({ address: 'ns.acct.tmprl.cloud:7233', apiKey: 'secret-key', tls: true });
    expect(s.source).toBe(`profile "cloud" of ${file}`);
  });

  it('uses the profile "default" without TEMPORAL_PROFILE, and the variables win over the profile', () => {
    const file = toml('default.toml', '[profile.default]\naddress = "profile-host:7233"\nnamespace = "from-profile"\n');
    expect(load({ TEMPORAL_CONFIG_FILE: file })).toMatchObject({ address: 'profile-host:7233', namespace: 'from-profile' });
    expect(load({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_ADDRESS: 'env-host:7233' })).toMatchObject({
      address: 'env-host:7233',
      namespace: 'from-profile',
      source: `profile "default" of ${file}, with TEMPORAL_ADDRESS`,
    });
    // A file without the default profile: the variables alone, and the source says so.
    const other = toml('other.toml', '[profile.prod]\naddress = "prod:7233"\n');
    expect(load({ TEMPORAL_CONFIG_FILE: other })).toMatchObject({ address: '127.0.0.1:7233', source: 'environment' });
  });

  it('finds the default file where the SDK does ($XDG_CONFIG_HOME/temporalio/temporal.toml)', () => {
    const xdg = join(dir, 'xdg');
    mkdirSync(join(xdg, 'temporalio'), { recursive: true });
    writeFileSync(join(xdg, 'temporalio', 'temporal.toml'), '[profile.default]\naddress = "xdg-host:7233"\n');
    const env = { XDG_CONFIG_HOME: xdg };
    expect(loadClientConfigProfile({ overrideEnvVars: env }).address).toBe('xdg-host:7233');
    const s = loadTemporalSettings({ env, warn: () => undefined });
    expect(s.address).toBe('xdg-host:7233');
    expect(s.source).toBe(`profile "default" of ${join(xdg, 'temporalio', 'temporal.toml')}`);
  });

  it('builds mTLS from a profile: certificate pair, CA and server name', () => {
    const file = toml(
      'mtls.toml',
      `[profile.prod]\naddress = "temporal.internal:7233"\n[profile.prod.tls]\nclient_cert_path = "${join(dir, 'c.pem')}"\nclient_key_path = "${join(dir, 'k.pem')}"\nserver_ca_cert_path = "${join(dir, 'ca.pem')}"\nserver_name = "temporal.example"\n`,
    );
    const tls = load({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' }).connection.tls as Record<string, unknown>;
    expect(tls.clientCertPair).toEqual({ crt: Buffer.from('CERT'), key: Buffer.from('KEY') });
    expect(Buffer.from(tls.serverRootCACertificate as Uint8Array).toString()).toBe('CA');
    expect(tls.serverNameOverride).toBe('temporal.example');
  });

  it('reads the standard TLS variables', () => {
    const tls = load({ TEMPORAL_TLS_CLIENT_CERT_PATH: join(dir, 'c.pem'), TEMPORAL_TLS_CLIENT_KEY_PATH: join(dir, 'k.pem') }).connection.tls as Record<string, unknown>;
    expect(tls.clientCertPair).toEqual({ crt: Buffer.from('CERT'), key: Buffer.from('KEY') });
    expect(load({ TEMPORAL_TLS: 'true' }).connection.tls).toBeTruthy();
    expect(load({ TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' }).connection.tls).toBe(false);
  });

  it("keeps ttsync's old TLS names working for one release, each with a warning naming the standard one", () => {
    const s = load({
      TEMPORAL_TLS_CERT_PATH: join(dir, 'c.pem'),
      TEMPORAL_TLS_KEY_PATH: join(dir, 'k.pem'),
      TEMPORAL_TLS_CA_PATH: join(dir, 'ca.pem'),
    });
    const tls = s.connection.tls as Record<string, unknown>;
    expect(tls.clientCertPair).toEqual({ crt: Buffer.from('CERT'), key: Buffer.from('KEY') });
    expect(Buffer.from(tls.serverRootCACertificate as Uint8Array).toString()).toBe('CA');
    expect(s.warnings).toEqual([
      'TEMPORAL_TLS_CERT_PATH is deprecated and goes away in the next release: set TEMPORAL_TLS_CLIENT_CERT_PATH instead (the name the temporal CLI and the SDKs read)',
      'TEMPORAL_TLS_KEY_PATH is deprecated and goes away in the next release: set TEMPORAL_TLS_CLIENT_KEY_PATH instead (the name the temporal CLI and the SDKs read)',
      'TEMPORAL_TLS_CA_PATH is deprecated and goes away in the next release: set TEMPORAL_TLS_SERVER_CA_CERT_PATH instead (the name the temporal CLI and the SDKs read)',
    ]);
  });

  it('lets the standard name win over the old one, and says the old one is ignored', () => {
    writeFileSync(join(dir, 'c2.pem'), 'CERT2');
    const s = load({
      TEMPORAL_TLS_CERT_PATH: join(dir, 'c.pem'),
      TEMPORAL_TLS_CLIENT_CERT_PATH: join(dir, 'c2.pem'),
      TEMPORAL_TLS_CLIENT_KEY_PATH: join(dir, 'k.pem'),
    });
    expect((s.connection.tls as unknown as { clientCertPair: { crt: Buffer } }).clientCertPair.crt).toEqual(Buffer.from('CERT2'));
    expect(s.warnings).toEqual([expect.stringMatching(/^TEMPORAL_TLS_CERT_PATH is ignored because TEMPORAL_TLS_CLIENT_CERT_PATH is set/)]);
  });

  it('names the file and the line of a TOML error', () => {
    const file = toml('bad.toml', '[profile.default]\naddress = "a:7233"\nnamespace = \n');
    const err = (() => {
      try {
        load({ TEMPORAL_CONFIG_FILE: file });
      } catch (e) {
        return e as Error;
      }
      throw new Error('no error');
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe(`cannot read the Temporal config file ${file}: line 3, column 13: Invalid TOML document: invalid value`);
  });

  it('names the file when the profile is not in it, or the file is missing', () => {
    const file = toml('one.toml', '[profile.default]\naddress = "a:7233"\n');
    expect(() => load({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' })).toThrow(`TEMPORAL_PROFILE is "prod" but ${file} has no [profile.prod]`);
    expect(() => load({ TEMPORAL_PROFILE: 'prod' })).toThrow(`TEMPORAL_PROFILE is "prod" but the Temporal config file ${NONE} does not exist`);
  });

  it('refuses a certificate without its key, naming what to set', () => {
    expect(() => load({ TEMPORAL_TLS_CLIENT_CERT_PATH: join(dir, 'c.pem') })).toThrow(
      /mTLS needs both a client certificate and its key; set TEMPORAL_TLS_CLIENT_KEY_PATH$/,
    );
  });

  it('names an unreadable certificate with the setting that named it', () => {
    expect(() => load({ TEMPORAL_TLS_CLIENT_CERT_PATH: '/nope/c.pem', TEMPORAL_TLS_CLIENT_KEY_PATH: '/nope/k.pem' })).toThrow(
      /cannot read the TLS client certificate \(TEMPORAL_TLS_CLIENT_CERT_PATH\) at \/nope\/c\.pem/,
    );
  });

  it('refuses a TEMPORAL_TLS that is neither true nor false', () => {
    expect(() => load({ TEMPORAL_TLS: 'yes' })).toThrow('TEMPORAL_TLS: expected true or false, got "yes"');
  });
});
