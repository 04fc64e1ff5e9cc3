import { z } from 'zod';
import { ConfigError, formatZodIssues } from './errors';

/**
 * How ttsync reaches Temporal. Read from the environment so the same binary serves the
 * local dev server, a self-hosted cluster (mTLS) and Temporal Cloud (mTLS or API key).
 */
export const TemporalEnvSchema = z
  .object({
    TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
    TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
    TEMPORAL_TLS_CERT_PATH: z.string().min(1).optional(),
    TEMPORAL_TLS_KEY_PATH: z.string().min(1).optional(),
    TEMPORAL_TLS_CA_PATH: z.string().min(1).optional(),
    TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
    TEMPORAL_TLS: z.enum(['true', 'false']).optional(),
    TEMPORAL_API_KEY: z.string().min(1).optional(),
  })
  .superRefine((env, ctx) => {
    if (Boolean(env.TEMPORAL_TLS_CERT_PATH) !== Boolean(env.TEMPORAL_TLS_KEY_PATH)) {
      ctx.addIssue({
        code: 'custom',
        message: 'TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH must be set together (mTLS needs both)',
        path: [env.TEMPORAL_TLS_CERT_PATH ? 'TEMPORAL_TLS_KEY_PATH' : 'TEMPORAL_TLS_CERT_PATH'],
      });
    }
  });

export type TemporalEnv = z.infer<typeof TemporalEnvSchema>;


export function parseTemporalEnv(env: NodeJS.ProcessEnv = process.env): TemporalEnv {
  const r = TemporalEnvSchema.safeParse(env);
  if (!r.success) throw new ConfigError(`invalid Temporal connection settings: ${formatZodIssues(r.error)}`);
  return r.data;
}
