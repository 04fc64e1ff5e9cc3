import { readFileSync } from 'node:fs';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import { parseTemporalEnv, type TemporalEnv } from '../config/temporalEnv';

interface CommonOptions {
  address: string;
  tls?: { clientCertPair?: { crt: Buffer; key: Buffer }; serverRootCACertificate?: Buffer; serverNameOverride?: string } | true;
  apiKey?: string;
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read ${what} at ${path}: ${(err as Error).message}`);
  }
}

/** Connection options shared by the client and the worker's native connection. */
export function connectionOptionsFromEnv(env: TemporalEnv): CommonOptions {
  const opts: CommonOptions = { address: env.TEMPORAL_ADDRESS };
  const wantsTls =
    env.TEMPORAL_TLS === 'true' || Boolean(env.TEMPORAL_TLS_CERT_PATH) || Boolean(env.TEMPORAL_API_KEY);
  if (wantsTls && env.TEMPORAL_TLS !== 'false') {
    const tls: Exclude<CommonOptions['tls'], true | undefined> = {};
    if (env.TEMPORAL_TLS_CERT_PATH && env.TEMPORAL_TLS_KEY_PATH) {
      tls.clientCertPair = {
        crt: readPem(env.TEMPORAL_TLS_CERT_PATH, 'TEMPORAL_TLS_CERT_PATH'),
        key: readPem(env.TEMPORAL_TLS_KEY_PATH, 'TEMPORAL_TLS_KEY_PATH'),
      };
    }
    if (env.TEMPORAL_TLS_CA_PATH) tls.serverRootCACertificate = readPem(env.TEMPORAL_TLS_CA_PATH, 'TEMPORAL_TLS_CA_PATH');
    if (env.TEMPORAL_TLS_SERVER_NAME) tls.serverNameOverride = env.TEMPORAL_TLS_SERVER_NAME;
    opts.tls = Object.keys(tls).length ? tls : true;
  }
  if (env.TEMPORAL_API_KEY) opts.apiKey = env.TEMPORAL_API_KEY;
  return opts;
}

export interface TemporalTarget {
  env: TemporalEnv;
  namespace: string;
}

export async function connectClient(env: TemporalEnv = parseTemporalEnv()): Promise<Client> {
  const connection = await Connection.connect(connectionOptionsFromEnv(env) as ConnectionOptions);
  return new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
}

export async function connectNative(env: TemporalEnv = parseTemporalEnv()): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptionsFromEnv(env) as NativeConnectionOptions);
}
