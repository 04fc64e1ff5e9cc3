import type { z } from 'zod';
import {
  TikTokError,
  UnexpectedResponse,
  classifyCode,
  classifyHttpStatus,
  createTikTokError,
  isSuccessCode,
  type TikTokErrorInit,
} from './errors';
import { TikTokErrorType, type TikTokErrorTypeName } from './errorTypes';
import type { TikTokCallObserver } from './metrics';
import type { AppRateLimiters, RateBucket } from './rateLimiter';
import { EnvelopeSchema } from './schemas';

export interface RetryPolicy {
  /** Total attempts including the first; 1 = never retry in the client. */
  maxAttempts: number;
  /**
   * Total attempts for an UnexpectedResponse (idempotent calls only). Kept apart from
   * maxAttempts: a shape TikTok got wrong once is usually wrong again, so a few are enough.
   */
  unexpectedResponseAttempts: number;
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
  /** Called once per request sent, with its endpoint, code and latency (metrics). Receives no request data. */
  onCall?: TikTokCallObserver;
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
    const { maxAttempts, unexpectedResponseAttempts, initialDelayMs, maxDelayMs } = this.opts.retry;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.observed(spec);
      } catch (err) {
        if (!(err instanceof TikTokError)) throw err;
        // An odd answer to a create may still mean the audience exists: only the next
        // cycle (which lists by name first) may try a non-idempotent call again.
        const unexpected = err.type === TikTokErrorType.UnexpectedResponse && spec.idempotent;
        const retryable =
          err.type === TikTokErrorType.Throttled || (err.type === TikTokErrorType.Transient && spec.idempotent) || unexpected;
        if (!retryable || attempt >= (unexpected ? unexpectedResponseAttempts : maxAttempts)) throw err;
        // Full jitter; throttles wait at least a second ("retry in the next second").
        const cap = Math.min(maxDelayMs, initialDelayMs * 2 ** (attempt - 1));
        const floor = err.type === TikTokErrorType.Throttled ? Math.min(1000, maxDelayMs) : 0;
        const delayMs = Math.round(floor + Math.random() * cap);
        this.opts.onRetry?.({ endpoint: spec.path, type: err.type, code: err.code, attempt, delayMs });
        await sleep(delayMs);
      }
    }
  }

  /** One attempt, reported to onCall when a request went out (not when it failed before sending). */
  private async observed<T>(spec: CallSpec<T>): Promise<CallResult<T>> {
    const onCall = this.opts.onCall;
    if (!onCall) return this.once(spec);
    const startedAt = performance.now();
    let sentAt: number | undefined;
    const sent = () => (sentAt = performance.now());
    try {
      const r = await this.once(spec, sent);
      const at = sentAt ?? startedAt;
      onCall({ endpoint: spec.path, code: String(r.code), outcome: 'ok', latencyMs: performance.now() - at, queuedMs: at - startedAt });
      return r;
    } catch (err) {
      if (sentAt !== undefined) {
        const e = err instanceof TikTokError ? err : undefined;
        const code = e?.code !== null && e?.code !== undefined ? String(e.code) : e?.httpStatus ? `http_${e.httpStatus}` : 'network';
        onCall({ endpoint: spec.path, code, outcome: e?.type ?? 'error', latencyMs: performance.now() - sentAt, queuedMs: sentAt - startedAt });
      }
      throw err;
    }
  }

  private fail(type: TikTokErrorTypeName, init: TikTokErrorInit): TikTokError {
    return createTikTokError(type, { ...init, tiktokMessage: this.scrub(init.tiktokMessage) });
  }

  private scrub(text: string): string {
    const t = this.#token;
    return t ? text.split(t).join('[redacted]') : text;
  }

  private async once<T>(spec: CallSpec<T>, sent?: () => void): Promise<CallResult<T>> {
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

    const release = await this.opts.limiters[spec.bucket].acquire();
    sent?.();
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
    } finally {
      // TikTok has counted this request by now, if it ever will: its place in the window may
      // start to run out (rateLimiter.ts, AnsweredWindow).
      release?.();
    }

    if (res.status < 200 || res.status > 299) {
      throw this.fail(classifyHttpStatus(res.status), {
        ...base,
        httpStatus: res.status,
        tiktokMessage: `HTTP ${res.status} ${res.statusText}`.trim(),
      });
    }
    // Past this point TikTok (or something in between) answered 200: whatever is wrong with
    // the body is not the caller's fault, hence UnexpectedResponse, never InvalidRequest.
    const unexpected = (jsonPath: string, problem: string, requestId: string | null = null, code: number | null = null) =>
      new UnexpectedResponse({
        code,
        requestId,
        httpStatus: res.status,
        endpoint,
        jsonPath,
        requestPath: requestPathOf(url),
        tiktokMessage: this.scrub(problem),
      });
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      // A 200 that is not JSON comes from something in between (gateway, captive proxy).
      throw unexpected('(root)', 'response is not JSON');
    }
    const env = EnvelopeSchema.safeParse(raw, { reportInput: true });
    if (!env.success) {
      const p = describeIssues(env.error, []);
      throw unexpected(p.jsonPath, `not a TikTok envelope: ${p.text}`);
    }
    const { code, message } = env.data;
    const requestId = env.data.request_id ?? null;
    if (!isSuccessCode(code)) {
      throw this.fail(classifyCode(code, message), { code, requestId, httpStatus: res.status, endpoint, tiktokMessage: message });
    }
    // `data: null` is how some endpoints say "nothing" (digest §14); schemas decide what they need.
    const data = spec.schema.safeParse(env.data.data ?? {}, { reportInput: true });
    if (!data.success) {
      const p = describeIssues(data.error, ['data']);
      throw unexpected(p.jsonPath, p.text, requestId, code);
    }
    return { data: data.data, code, message, requestId };
  }
}

function requestPathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

/**
 * Zod issues as `a.b.0.c: missing` (the common case: a field TikTok left out), or zod's own
 * text for anything else. Values are never quoted: a body may carry personal data.
 */
export function describeIssues(error: z.ZodError, prefix: readonly string[]): { jsonPath: string; text: string } {
  const parts = error.issues.slice(0, 5).map((i) => {
    const path = [...prefix, ...i.path.map(String)].join('.') || '(root)';
    let problem = i.message;
    // Ids are unions (string or number): their issue is invalid_union, not invalid_type.
    if (i.code === 'invalid_type' || i.code === 'invalid_union') {
      const input = 'input' in i ? i.input : undefined;
      if (input === undefined) problem = 'missing';
      else if (input === null) problem = i.code === 'invalid_type' ? `null, expected ${i.expected}` : 'null';
    }
    return { path, text: `${path}: ${problem}` };
  });
  const more = error.issues.length > parts.length ? `; and ${error.issues.length - parts.length} more` : '';
  return { jsonPath: parts[0]?.path ?? '(root)', text: parts.map((p) => p.text).join('; ') + more };
}

function describeNetworkError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no response within ${timeoutMs} ms`;
  const cause = e.cause?.code ?? e.cause?.message;
  return `network error: ${e.message ?? String(err)}${cause ? ` (${cause})` : ''}`;
}
