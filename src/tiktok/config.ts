import { z } from 'zod';
import { ConfigError, formatZodIssues } from '../config/errors';

export const TIKTOK_PRODUCTION_BASE_URL = 'https://business-api.tiktok.com/open_api/v1.3';

const positiveNumber = (def: number) => z.coerce.number().positive().default(def);

/**
 * How ttsync talks to TikTok. QPS values are per app (TikTok counts per app_id); when several
 * workers call TikTok for one app, TIKTOK_QPS_WORKERS splits it so each worker's in-process
 * guard takes its share (see rateLimiter.ts).
 */
export const TikTokEnvSchema = z.object({
  TIKTOK_API_BASE_URL: z
    .url()
    .default(TIKTOK_PRODUCTION_BASE_URL)
    .transform((u) => u.replace(/\/+$/, '')),
  TIKTOK_APP_ID: z.string().min(1).optional(),
  /** Basic tier: 10 QPS / 600 QPM per app for everything except the events endpoints. */
  TIKTOK_QPS: positiveNumber(10),
  /** /event/track/ and the pixel/app/offline endpoints: 1,000 QPS at every tier. */
  TIKTOK_EVENTS_QPS: positiveNumber(1000),
  /** Worker processes sharing the app's limits: a count, or `auto` (the live workers, as Temporal lists them). */
  TIKTOK_QPS_WORKERS: z.union([z.literal('auto'), z.coerce.number().int().positive()]).default(1),
  TIKTOK_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  /** Uploads carry up to 50 MB. */
  TIKTOK_UPLOAD_TIMEOUT_MS: z.coerce.number().int().positive().default(300_000),
  /** In-client attempts for Throttled/Transient before the error goes up (Temporal retries further). */
  TIKTOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).default(3),
  /** In-client attempts for an answer that lacks what ttsync reads (UnexpectedResponse); then the cycle fails. */
  TIKTOK_UNEXPECTED_RESPONSE_ATTEMPTS: z.coerce.number().int().min(1).default(3),
});

export type TikTokEnv = z.infer<typeof TikTokEnvSchema>;

export function parseTikTokEnv(env: NodeJS.ProcessEnv = process.env): TikTokEnv {
  const r = TikTokEnvSchema.safeParse(env);
  if (!r.success) throw new ConfigError(`invalid TikTok settings: ${formatZodIssues(r.error)}`);
  return r.data;
}
