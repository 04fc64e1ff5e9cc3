import { z } from 'zod';
import { durationMs, durationProblem } from '../config/duration';

/**
 * An emulator duration in milliseconds. Programmatic callers (tests, the control API's
 * JSON) may pass a number, which is milliseconds; a string is read with ttsync's one
 * duration grammar, so "1500" without a unit is refused (write "1500ms").
 */
export const EmulatorDurationSchema = z.union([z.number().nonnegative(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v;
  const ms = durationMs(v);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: durationProblem(v) ?? 'not a duration' });
    return z.NEVER;
  }
  return ms;
});
const share = z.number().min(0).max(1);

/** What `ttsync auth connect` suggests registering (README "Connecting to TikTok"). */
export const DEFAULT_REDIRECT_URIS = ['http://127.0.0.1:8788/callback', 'http://localhost:8788/callback'];

/**
 * A deterministic fault: every API request to `endpoint` (whose JSON body has the `match`
 * values, when given) is answered with `code`, or held `latency` ms and then handled, or
 * handled and then cut off (`dropAfter`), until the rule is removed. For tests and drills
 * that need one step to fail for sure (the shares below are random and all retryable), e.g.
 * the first create answered after the client gave up, and only the first.
 */
export const FaultRuleSchema = z
  .object({
    /** The path after /open_api/v1.3/, e.g. `dmp/custom_audience/update/`. */
    endpoint: z.string().min(1),
    /** Top-level fields of the request's JSON body, e.g. {"action": "REMOVE"}. */
    match: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
    /** The TikTok code answered (HTTP 200), e.g. 40001 (no permission). Absent: the request is handled. */
    code: z.number().int().positive().optional(),
    message: z.string().default('Injected error.'),
    /** Held this long before it is handled (or answered with `code`): past the client's timeout, the client gives up and the request still takes effect. */
    latency: EmulatorDurationSchema.optional(),
    /** Handled (an edit takes effect), then the connection is cut before the answer. */
    dropAfter: z.boolean().optional(),
    /** Only the first `times` matching requests get it (e.g. a burst of throttling that then clears); absent: every one. */
    times: z.number().int().positive().optional(),
  })
  .refine((r) => r.code !== undefined || r.latency !== undefined || r.dropAfter === true, { message: 'a fault rule needs a code, a latency or dropAfter: true' });
export type FaultRule = z.infer<typeof FaultRuleSchema>;

/** Injected failures, each a share of API requests (not of /_emulator/ requests). */
export const FaultsSchema = z
  .object({
    /** HTTP 200 + code 40100, logged as injected (not a real rate-limit hit). */
    throttle: share.default(0),
    /** HTTP 200 + code 50000 "System error". */
    error: share.default(0),
    /** HTTP 503 with a non-envelope body, like a gateway. */
    http503: share.default(0),
    /** The socket is destroyed without a response (the client sees a reset); the request was not applied. */
    drop: share.default(0),
    /**
     * The request IS applied (an edit takes effect, a file is stored), then the socket is
     * destroyed before the answer: the client cannot tell this from `drop`, and must retry safely.
     */
    dropAfter: share.default(0),
    /** Added delay (ms) for the share `latencyShare` of requests. */
    latency: EmulatorDurationSchema.default(0),
    latencyShare: share.default(1),
    /** PRNG seed: the same request sequence gets the same faults. */
    seed: z.number().int().default(1),
    /** Only these API paths (e.g. ["event/track/"]) get the random faults above; absent: every path. */
    paths: z.array(z.string().min(1)).min(1).optional(),
    /** Deterministic failures (FaultRuleSchema); set with POST /_emulator/faults, `[]` removes them. */
    rules: z.array(FaultRuleSchema).default([]),
  })
  .refine((f) => f.throttle + f.error + f.http503 + f.drop + f.dropAfter <= 1, { message: 'fault shares must add up to at most 1' });
export type Faults = z.infer<typeof FaultsSchema>;
export type FaultsInput = z.input<typeof FaultsSchema>;

/**
 * `throttle=0.1,error=0.05,http503=0.01,drop=0.01,dropAfter=0.01,latency=200ms,latencyShare=0.2,seed=7`
 * (CLI form of FaultsSchema). Unknown keys are an error, not ignored.
 */
export function parseFaultSpec(spec: string): Faults {
  const raw: Record<string, unknown> = {};
  const keys = Object.keys(FaultsSchema.shape);
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [k, v, ...rest] = part.split('=');
    if (!k || v === undefined || rest.length) throw new Error(`fault "${part}" is not key=value`);
    if (!keys.includes(k)) throw new Error(`unknown fault "${k}" (known: ${keys.join(', ')})`);
    if (k === 'rules') throw new Error('fault rules are JSON: set them with POST /_emulator/faults {"rules": [...]}');
    // paths=event/track/+dmp/custom_audience/update/ (a "," already separates faults).
    raw[k] = k === 'latency' ? v : k === 'paths' ? v.split('+').filter(Boolean) : Number(v);
  }
  const r = FaultsSchema.safeParse(raw);
  if (!r.success) throw new Error(r.error.issues.map((i) => `${i.path.join('.') || 'faults'}: ${i.message}`).join('; '));
  return r.data;
}

export const RateLimitSchema = z.object({ qps: z.number().positive(), qpm: z.number().positive() });

export const EmulatorOptionsSchema = z.object({
  /** 0 = any free port. The emulator only ever binds loopback. */
  port: z.number().int().min(0).max(65535).default(0),
  host: z.enum(['127.0.0.1', 'localhost', '::1']).default('127.0.0.1'),
  /** How long a created/edited audience reports is_valid=false and refuses edits (real: 1–48 h). */
  processingDelay: EmulatorDurationSchema.default(2000),
  /** Share of uploaded digests that belong to the emulated TikTok population (cover_num). */
  matchRate: share.default(0.7),
  /** Mixed into the population test so different runs can model different populations. */
  populationSeed: z.number().int().default(0),
  /**
   * Sparse answers (sparse.ts): fields TikTok does not always send are dropped or null, and
   * every object gains an unknown field. For checking that a client reads only what it can count on.
   */
  sparseAnswers: z.boolean().default(false),
  faults: FaultsSchema.default({ throttle: 0, error: 0, http503: 0, drop: 0, dropAfter: 0, latency: 0, latencyShare: 1, seed: 1, rules: [] }),
  stateFile: z.string().min(1).optional(),
  /** Per app. Basic tier (digest §7): 10 QPS / 600 QPM; events 1,000 QPS; segment 10,000 QPS. */
  rateLimits: z
    .object({
      default: RateLimitSchema.default({ qps: 10, qpm: 600 }),
      events: RateLimitSchema.default({ qps: 1000, qpm: 600_000 }),
      segment: RateLimitSchema.default({ qps: 10_000, qpm: 600_000 }),
    })
    .default({ default: { qps: 10, qpm: 600 }, events: { qps: 1000, qpm: 600_000 }, segment: { qps: 10_000, qpm: 600_000 } }),
  /** Apps that may exchange auth codes: app_id → secret. */
  apps: z.record(z.string(), z.string()).default({ 'emulator-app': 'emulator-secret' }),
  /**
   * Redirect URIs registered per app: the authorization page redirects only to one of these,
   * exactly as written (TikTok: up to 10 per app, localhost allowed; digest §13.1).
   */
  redirectUris: z.record(z.string(), z.array(z.string().min(1)).max(10)).default({ 'emulator-app': DEFAULT_REDIRECT_URIS }),
  /** Ad accounts the emulated signed-in user grants on the authorization page; empty = every advertiser the emulator knows. */
  portalAdvertisers: z.array(z.string().min(1)).default([]),
  /**
   * The signed-in user's role per ad account (ADMIN, OPERATOR, ANALYST), shown by the emulated
   * Business Center's bc/asset/get/. An ad account not listed is in no Business Center, so
   * its role cannot be read, as at TikTok.
   */
  advertiserRoles: z.record(z.string(), z.string().min(1)).default({}),
  authCodeTtl: EmulatorDurationSchema.default(3_600_000),
  fileTtl: EmulatorDurationSchema.default(86_400_000),
  /** 50 MB per file (Treasure Data; digest §3.1). */
  maxFileBytes: z.number().int().positive().default(50 * 1024 * 1024),
  maxFilesPerAudience: z.number().int().positive().default(500),
  maxAudiencesPerAdvertiser: z.number().int().positive().default(400),
  minAudienceSize: z.number().int().nonnegative().default(1000),
  /** UNCONFIRMED whether API uploads carry a header row: optional = skip a non-digest first line. */
  headerRow: z.enum(['optional', 'required', 'forbidden']).default('optional'),
  /** UNCONFIRMED batch cap for segment/mapping. */
  segmentMaxRows: z.number().int().positive().default(10_000),
  /** UNCONFIRMED for web/app; 28 days is documented for offline. */
  eventMaxAge: EmulatorDurationSchema.default(7 * 86_400_000),
  offlineEventMaxAge: EmulatorDurationSchema.default(28 * 86_400_000),
  /** An identical (event_source_id, event_id, event) within this time of the first is a duplicate (tiktok-api.md §14: 48 h). */
  eventDedupWindow: EmulatorDurationSchema.default(48 * 3_600_000),
  /** Synthetic campaigns per advertiser for report/integrated/get/. */
  campaignsPerAdvertiser: z.number().int().min(1).max(100).default(3),
  /** Call log and event store caps (oldest dropped; counters stay exact). */
  callLogLimit: z.number().int().positive().default(10_000),
  eventLogLimit: z.number().int().positive().default(100_000),
});
export type EmulatorOptions = z.infer<typeof EmulatorOptionsSchema>;
export type EmulatorOptionsInput = z.input<typeof EmulatorOptionsSchema>;
