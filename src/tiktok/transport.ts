import type { z } from 'zod';
import {
  TikTokError,
  classifyCode,
  classifyHttpStatus,
  createTikTokError,
  isSuccessCode,
  type TikTokErrorInit,
} from './errors';
import { TikTokErrorType, type TikTokErrorTypeName } from './errorTypes';
import type { AppRateLimiters, RateBucket } from './rateLimiter';
import { EnvelopeSchema } from './schemas';
import { formatZodIssues } from '../config/errors';

export interface RetryPolicy {
  /** Total attempts including the first; 1 = never retry in the client. */
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export interface RetryInfo {
  endpoint: string;
  type: TikTokErrorTypeName;
  code: number | null;
  attempt: number;
  delayMs: number;
}

export interface TransportOptions {
  baseUrl: string;
  timeoutMs: number;
  uploadTimeoutMs: number;
  limiters: AppRateLimiters;
  retry: RetryPolicy;
  /** Called before each in-client retry (metrics, logs). Receives no request data. */
  onRetry?: (info: RetryInfo) => void;
  fetch?: typeof fetch;
}

export interface CallSpec<T> {
  method: 'GET' | 'POST';
  /** Relative API path with its trailing slash, e.g. `dmp/custom_audience/create/`. */
  path: string;
  query?: Record<string, unknown>;
  json?: unknown;
  /** Built per attempt: a FormData body cannot be sent twice. */
  form?: () => FormData;
  auth: boolean;
  bucket: RateBucket;
  /**
   * Whether repeating the request after an unknown outcome is harmless. Throttled requests
   * were never executed and are always retried; Transient ones (a 5xx or a timeout may have
   * been applied) only when idempotent, e.g. never audience create.
   */
  idempotent: boolean;
  schema: z.ZodType<T>;
}

export interface CallResult<T> {
  data: T;
  code: number;
  message: string;
  requestId: string | null;
}

/** GET arrays and objects travel as JSON strings (`advertiser_ids=["1","2"]`), per TikTok. */
export function encodeQuery(query: Record<string, unknown> | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null) continue;
    params.set(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * HTTP + envelope + classification + in-client retry. The access token lives in a private
 * field: it is written into one request header and nowhere else, and is scrubbed from any
 * text that ends up in an error.
 */
export class Transport {
  readonly #token: string | undefined;
  private readonly opts: TransportOptions;

  constructor(opts: TransportOptions, accessToken?: string) {
    this.opts = opts;
    this.#token = accessToken;
  }

  get baseUrl(): string {
    return this.opts.baseUrl;
  }

  async call<T>(spec: CallSpec<T>): Promise<CallResult<T>> {
    const { maxAttempts, initialDelayMs, maxDelayMs } = this.opts.retry;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(spec);
      } catch (err) {
        if (!(err instanceof TikTokError)) throw err;
        const retryable =
          err.type === TikTokErrorType.Throttled || (err.type === TikTokErrorType.Transient && spec.idempotent);
        if (!retryable || attempt >= maxAttempts) throw err;
        // Full jitter; throttles wait at least a second ("retry in the next second").
        const cap = Math.min(maxDelayMs, initialDelayMs * 2 ** (attempt - 1));
        const floor = err.type === TikTokErrorType.Throttled ? Math.min(1000, maxDelayMs) : 0;
        const delayMs = Math.round(floor + Math.random() * cap);
        this.opts.onRetry?.({ endpoint: spec.path, type: err.type, code: err.code, attempt, delayMs });
        await sleep(delayMs);
      }
    }
  }

  private fail(type: TikTokErrorTypeName, init: TikTokErrorInit): TikTokError {
    return createTikTokError(type, { ...init, tiktokMessage: this.scrub(init.tiktokMessage) });
  }

  private scrub(text: string): string {
    const t = this.#token;
    return t ? text.split(t).join('[redacted]') : text;
  }

  private async once<T>(spec: CallSpec<T>): Promise<CallResult<T>> {
    const endpoint = spec.path;
    const base: Omit<TikTokErrorInit, 'tiktokMessage'> = { code: null, requestId: null, httpStatus: null, endpoint };
    const headers: Record<string, string> = {};
    if (spec.auth) {
      if (!this.#token) {
        throw this.fail(TikTokErrorType.ReauthorizationRequired, {
          ...base,
          tiktokMessage: 'no access token configured for this client',
        });
      }
      headers['Access-Token'] = this.#token;
    }
    let body: string | FormData | undefined;
    if (spec.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(spec.json);
    } else if (spec.form) {
      body = spec.form();
    }
    const url = `${this.opts.baseUrl}/${spec.path}${encodeQuery(spec.query)}`;
    const timeoutMs = spec.form ? this.opts.uploadTimeoutMs : this.opts.timeoutMs;

    await this.opts.limiters[spec.bucket].acquire();
    let res: Response;
    let text: string;
    try {
      res = await (this.opts.fetch ?? fetch)(url, {
        method: spec.method,
        headers,
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      // Timeouts, resets, refused connections, DNS: all below HTTP, all worth a retry.
      throw this.fail(TikTokErrorType.Transient, { ...base, tiktokMessage: describeNetworkError(err, timeoutMs) });
    }

    if (res.status < 200 || res.status > 299) {
      throw this.fail(classifyHttpStatus(res.status), {
        ...base,
        httpStatus: res.status,
        tiktokMessage: `HTTP ${res.status} ${res.statusText}`.trim(),
      });
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      // A 200 that is not JSON comes from something in between (gateway, captive proxy).
      throw this.fail(TikTokErrorType.Transient, { ...base, httpStatus: res.status, tiktokMessage: 'response is not JSON' });
    }
    const env = EnvelopeSchema.safeParse(raw);
    if (!env.success) {
      throw this.fail(TikTokErrorType.Transient, {
        ...base,
        httpStatus: res.status,
        tiktokMessage: `response is not a TikTok envelope: ${formatZodIssues(env.error)}`,
      });
    }
    const { code, message } = env.data;
    const requestId = env.data.request_id ?? null;
    if (!isSuccessCode(code)) {
      throw this.fail(classifyCode(code, message), { code, requestId, httpStatus: res.status, endpoint, tiktokMessage: message });
    }
    const data = spec.schema.safeParse(env.data.data ?? {});
    if (!data.success) {
      throw this.fail(TikTokErrorType.InvalidRequest, {
        code,
        requestId,
        httpStatus: res.status,
        endpoint,
        tiktokMessage: `response data does not match the expected shape: ${formatZodIssues(data.error)}`,
      });
    }
    return { data: data.data, code, message, requestId };
  }
}

function describeNetworkError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no response within ${timeoutMs} ms`;
  const cause = e.cause?.code ?? e.cause?.message;
  return `network error: ${e.message ?? String(err)}${cause ? ` (${cause})` : ''}`;
}
