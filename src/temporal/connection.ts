import { readFileSync } from 'node:fs';
import { platform } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { loadClientConfig, loadClientConfigProfile, toClientOptions, type ClientConfigProfile, type ConfigDataSource } from '@temporalio/envconfig';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import type { PayloadCodec } from '@temporalio/common';
import { ConfigError } from '../config/errors';
import { payloadCodecFromEnv } from './payloadCodec';

/*
 * How ttsync reaches Temporal: the same TOML profiles (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE)
 * and TEMPORAL_* variables as the `temporal` CLI and the other SDKs, read by the SDK's own
 * @temporalio/envconfig, so one setup serves `temporal`, ttsync and any other client.
 */

export const DEFAULT_ADDRESS = '127.0.0.1:7233';
export const DEFAULT_NAMESPACE = 'default';

/** Where the connection goes and with what credentials; no secret is ever printed from it. */
export interface TemporalSettings {
  address: string;
  namespace: string;
  /** Options for both the client's Connection and the worker's NativeConnection. */
  connection: NativeConnectionOptions & { address: string };
  /** Where the settings came from, for messages: `profile "prod" of /home/me/.config/temporalio/temporal.toml`, `environment`, … */
  source: string;
}

/**
 * ttsync's names before it followed the CLI's (one release of grace): each still works,
 * with a warning naming the standard variable, which wins when both are set.
 */
export const DEPRECATED_TLS_VARIABLES: Readonly<Record<string, string>> = {
  TEMPORAL_TLS_CERT_PATH: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
  TEMPORAL_TLS_KEY_PATH: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
  TEMPORAL_TLS_CA_PATH: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
};

/** Every variable ttsync's connection reads (the SDK's names, plus TEMPORAL_GRPC_META_<header>). */
export const TEMPORAL_ENV_VARIABLES: readonly string[] = [
  'TEMPORAL_CONFIG_FILE',
  'TEMPORAL_PROFILE',
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_CERT_DATA',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_DATA',
  'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  'TEMPORAL_TLS_SERVER_CA_CERT_DATA',
  'TEMPORAL_TLS_SERVER_NAME',
  ...Object.keys(DEPRECATED_TLS_VARIABLES),
];

export interface LoadTemporalSettingsOptions {
  env?: NodeJS.ProcessEnv;
  /** Receives each deprecation warning (default: one line on stderr per process and variable). */
  warn?: (message: string) => void;
}

const warnedOnce = new Set<string>();
const warnOnStderr = (message: string): void => {
  if (warnedOnce.has(message)) return;
  warnedOnce.add(message);
  process.stderr.write(`warning: ${message}\n`);
};

/**
 * The path the `temporal` CLI and the SDKs read when TEMPORAL_CONFIG_FILE is not set (the
 * SDK keeps it private; computed the same way so that messages name the file it reads).
 */
export function defaultConfigFilePath(env: NodeJS.ProcessEnv): string | undefined {
  switch (platform()) {
    case 'win32':
      return env.APPDATA ? join(env.APPDATA, 'temporalio', 'temporal.toml') : undefined;
    case 'darwin':
      return env.HOME ? join(env.HOME, 'Library', 'Application Support', 'temporalio', 'temporal.toml') : undefined;
    default: {
      const xdg = env.XDG_CONFIG_HOME;
      if (xdg) return isAbsolute(xdg) ? join(xdg, 'temporalio', 'temporal.toml') : undefined;
      return env.HOME ? join(env.HOME, '.config', 'temporalio', 'temporal.toml') : undefined;
    }
  }
}

function readIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(`cannot read the Temporal config file ${path}: ${(err as Error).message}`);
  }
}

/** The legacy names mapped onto the standard ones, with a warning for each legacy name in use. */
function withStandardNames(env: NodeJS.ProcessEnv, warn: (m: string) => void): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  for (const [legacy, standard] of Object.entries(DEPRECATED_TLS_VARIABLES)) {
    const value = out[legacy];
    if (!value) continue;
    delete out[legacy];
    if (out[standard] !== undefined) {
      warn(`${legacy} is ignored because ${standard} is set; ${legacy} is deprecated and goes away in the next release, remove it`);
    } else {
      out[standard] = value;
      warn(`${legacy} is deprecated and goes away in the next release: set ${standard} instead (the name the temporal CLI and the SDKs read)`);
    }
  }
  const tls = out.TEMPORAL_TLS;
  if (tls !== undefined && !['true', 'false', '1', '0'].includes(tls)) {
    throw new ConfigError(`invalid Temporal connection settings: TEMPORAL_TLS: expected true or false, got "${tls}"`);
  }
  return out;
}

/** A PEM named by a path, read now so that a missing file is named with the setting that named it. */
function pemData(source: ConfigDataSource | undefined, setting: string): ConfigDataSource | undefined {
  if (!source || !('path' in source)) return source;
  try {
    return { data: readFileSync(source.path) };
  } catch (err) {
    throw new ConfigError(`cannot read ${setting} at ${source.path}: ${(err as Error).message}`);
  }
}

/**
 * The connection as the `temporal` CLI would make it: the profile named by TEMPORAL_PROFILE
 * (or `default`) of the TOML file named by TEMPORAL_CONFIG_FILE (or the user's default file,
 * when it exists), then the TEMPORAL_* variables over it. Nothing set: the local dev server.
 * Throws ConfigError naming the file, profile or variable that is wrong.
 */
export function loadTemporalSettings(opts: LoadTemporalSettingsOptions = {}): TemporalSettings {
  const env = withStandardNames(opts.env ?? process.env, opts.warn ?? warnOnStderr);
  const file = env.TEMPORAL_CONFIG_FILE || defaultConfigFilePath(env);
  const data = file ? readIfPresent(file) : undefined;
  const profileName = env.TEMPORAL_PROFILE || undefined;
  if (profileName && data === undefined) {
    throw new ConfigError(
      `TEMPORAL_PROFILE is "${profileName}" but the Temporal config file ${file ?? '(none: set TEMPORAL_CONFIG_FILE)'} does not exist; create it (temporal config set --profile ${profileName} --prop address --value host:7233) or unset TEMPORAL_PROFILE`,
    );
  }
  let profile: ClientConfigProfile;
  let inFile = false;
  try {
    if (data !== undefined) inFile = (profileName ?? 'default') in loadClientConfig({ configSource: { data } }).profiles;
    profile = loadClientConfigProfile({
      ...(data !== undefined ? { configSource: { data } } : { disableFile: true }),
      ...(profileName ? { profile: profileName } : {}),
      overrideEnvVars: env,
    });
  } catch (err) {
    const msg = (err as Error).message;
    if (/^Profile '.*' not found/.test(msg)) {
      throw new ConfigError(`TEMPORAL_PROFILE is "${profileName}" but ${file} has no [profile.${profileName}]`);
    }
    // smol-toml's message carries a code excerpt over several lines; its position is enough.
    const { line, column } = err as { line?: number; column?: number };
    const at = line !== undefined ? `line ${line}${column !== undefined ? `, column ${column}` : ''}: ` : '';
    throw new ConfigError(`cannot read the Temporal config file ${file}: ${at}${msg.split('\n')[0]}`);
  }
  const where = inFile ? `profile "${profileName ?? 'default'}" of ${file}` : undefined;
  // Variables set over a profile, by name only (one may hold a key).
  const over = TEMPORAL_ENV_VARIABLES.filter((v) => v !== 'TEMPORAL_CONFIG_FILE' && v !== 'TEMPORAL_PROFILE' && env[v] !== undefined);
  const of = (key: string, variable: string) => `${variable}${where ? ` or tls.${key} of ${where}` : ''}`;
  if (profile.tls) {
    profile.tls = {
      ...profile.tls,
      clientCert: pemData(profile.tls.clientCert, `the TLS client certificate (${of('client_cert_path', 'TEMPORAL_TLS_CLIENT_CERT_PATH')})`),
      clientKey: pemData(profile.tls.clientKey, `the TLS client key (${of('client_key_path', 'TEMPORAL_TLS_CLIENT_KEY_PATH')})`),
      serverCACert: pemData(profile.tls.serverCACert, `the server CA certificate (${of('server_ca_cert_path', 'TEMPORAL_TLS_SERVER_CA_CERT_PATH')})`),
    };
    if (Boolean(profile.tls.clientCert) !== Boolean(profile.tls.clientKey) && !profile.tls.disabled) {
      const missing = profile.tls.clientCert ? of('client_key_path', 'TEMPORAL_TLS_CLIENT_KEY_PATH') : of('client_cert_path', 'TEMPORAL_TLS_CLIENT_CERT_PATH');
      throw new ConfigError(`invalid Temporal connection settings: mTLS needs both a client certificate and its key; set ${missing}`);
    }
  }
  const { connectionOptions, namespace } = toClientOptions(profile);
  const address = connectionOptions.address ?? DEFAULT_ADDRESS;
  const connection: TemporalSettings['connection'] = { address };
  if (connectionOptions.tls !== undefined) connection.tls = connectionOptions.tls;
  if (connectionOptions.apiKey !== undefined) connection.apiKey = connectionOptions.apiKey;
  if (connectionOptions.metadata && Object.keys(connectionOptions.metadata).length) connection.metadata = connectionOptions.metadata;
  const source = where ? `${where}${over.length ? `, with ${over.join(', ')}` : ''}` : 'environment';
  return { address, namespace: namespace ?? DEFAULT_NAMESPACE, connection, source };
}

/**
 * A local dev server, reached without reading any profile or TEMPORAL_* variable: `ttsync dev`,
 * the tests and the scripts use it, so a developer's profile can never point them at a real cluster.
 */
export function localTemporalSettings(address: string, namespace: string = DEFAULT_NAMESPACE): TemporalSettings {
  return { address, namespace, connection: { address }, source: 'local dev server' };
}

/** Payload encryption for a client or worker: the given codec, none for null, else TTSYNC_PAYLOAD_KEYS's (payloadCodec.ts). */
export async function resolvePayloadCodec(codec?: PayloadCodec | null): Promise<PayloadCodec | undefined> {
  return codec === undefined ? payloadCodecFromEnv() : (codec ?? undefined);
}

export async function connectClient(settings: TemporalSettings = loadTemporalSettings(), opts: { payloadCodec?: PayloadCodec | null } = {}): Promise<Client> {
  const codec = await resolvePayloadCodec(opts.payloadCodec);
  const connection = await Connection.connect(settings.connection as ConnectionOptions);
  return new Client({ connection, namespace: settings.namespace, ...(codec ? { dataConverter: { payloadCodecs: [codec] } } : {}) });
}

/** Runs `fn` with a client of the environment's Temporal (as every command connects), then closes it. */
export async function withClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = await connectClient();
  try {
    return await fn(client);
  } finally {
    await client.connection.close();
  }
}

export async function connectNative(settings: TemporalSettings = loadTemporalSettings()): Promise<NativeConnection> {
  return NativeConnection.connect(settings.connection);
}
