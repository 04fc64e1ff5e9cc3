import { Command } from 'commander';
import { UsageError, ConfigError } from '../../config/errors';
import { parsePort } from '../../config/flags';
import { resolveSecret } from '../../config/secrets';
import { SecretRefSchema } from '../../config/secretRef';
import { startCodecServer } from '../../temporal/codecServer';
import { PAYLOAD_KEYS_VARIABLE, payloadCodecFromEnv } from '../../temporal/payloadCodec';

interface CodecServerOpts {
  ip: string;
  port: number;
  uiOrigin: string[];
  token?: string;
}

export const DEFAULT_CODEC_PORT = 8234;
export const CODEC_TOKEN_VARIABLE = 'TTSYNC_CODEC_TOKEN';
const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];
const isLoopback = (ip: string) => ip === 'localhost' || ip === '::1' || /^127\./.test(ip);

export function registerCodecServerCommand(program: Command, summary: string): void {
  program
    .command('codec-server')
    .description(summary)
    .option('--ip <ip>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'port to listen on', parsePort, DEFAULT_CODEC_PORT)
    .option('--ui-origin <origin>', 'origin of the Temporal Web UI allowed by CORS (repeatable; * for any)', collect)
    .option('--token <secretRef>', `secret reference (env:NAME or file:/path) of the bearer token every request must carry (default: env:${CODEC_TOKEN_VARIABLE} when that variable is set)`)
    .action(async (opts: CodecServerOpts) => {
      const codec = await payloadCodecFromEnv();
      if (!codec) throw new ConfigError(`no payload keys: set ${PAYLOAD_KEYS_VARIABLE} (e.g. 2026-12=file:/run/secrets/ttsync-payload-key), as for the workers`);
      const ref = opts.token ?? (process.env[CODEC_TOKEN_VARIABLE] !== undefined ? `env:${CODEC_TOKEN_VARIABLE}` : undefined);
      if (ref !== undefined && !SecretRefSchema.safeParse(ref).success) throw new UsageError('--token takes a secret reference such as env:TTSYNC_CODEC_TOKEN, never the token itself');
      if (ref === undefined && !isLoopback(opts.ip))
        throw new UsageError(`--ip ${opts.ip} is reachable from other machines: anyone reaching it could decrypt payloads; give --token (or set ${CODEC_TOKEN_VARIABLE})`);
      const token = ref !== undefined ? await resolveSecret(ref) : undefined;
      const origins = opts.uiOrigin ?? ['http://127.0.0.1:8233', 'http://localhost:8233'];
      const server = await startCodecServer({ codec, host: opts.ip, port: opts.port, origins, ...(token !== undefined ? { token } : {}), log: (l) => process.stderr.write(`${l}\n`) });
      process.stderr.write(
        `ttsync codec-server on ${server.url} (POST /encode, /decode), keys ${codec.keyIds.join(', ')} (encrypting with ${codec.encryptingKeyId}), CORS for ${origins.join(', ')}, ${token !== undefined ? `bearer token from ${ref}` : 'no token (loopback only)'}\n`,
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
    });
}
