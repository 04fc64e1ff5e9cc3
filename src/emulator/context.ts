import type { IncomingMessage } from 'node:http';
import type { EmulatorOptions } from './options';
import type { EmulatorState, TokenRec } from './state';

/** A TikTok application error: HTTP 200 with this code and message in the envelope. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export type Body = Record<string, unknown>;

export interface Ctx {
  now: number;
  req: IncomingMessage;
  query: URLSearchParams;
  /** Parsed JSON body (POST) or {} (GET, multipart). */
  body: Body;
  token: TokenRec | undefined;
  state: EmulatorState;
  opts: EmulatorOptions;
  /** Set by the audience code so the state file is rewritten. */
  markDirty(): void;
}

export const paramError = (msg: string) => new ApiError(40002, msg);

/** A field from the JSON body (POST) or the query (GET; arrays/objects arrive JSON-encoded). */
export function field(ctx: Ctx, name: string): unknown {
  if (ctx.req.method === 'GET') {
    const v = ctx.query.get(name);
    if (v === null) return undefined;
    const t = v.trim();
    if (t.startsWith('[') || t.startsWith('{')) {
      try {
        return JSON.parse(t) as unknown;
      } catch {
        throw paramError(`${name}: not valid JSON`);
      }
    }
    return v;
  }
  return ctx.body[name];
}

export function reqString(ctx: Ctx, name: string): string {
  const v = field(ctx, name);
  if (typeof v === 'number') return String(v);
  if (typeof v !== 'string' || v.trim() === '') throw paramError(`${name}: Missing data for required field.`);
  return v;
}

export function optString(ctx: Ctx, name: string): string | undefined {
  const v = field(ctx, name);
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return String(v);
  if (typeof v !== 'string') throw paramError(`${name}: Not a valid string.`);
  return v;
}

export function optInt(ctx: Ctx, name: string, min: number, max: number): number | undefined {
  const v = field(ctx, name);
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n)) throw paramError(`${name}: Not a valid integer.`);
  if (n < min || n > max) throw paramError(`${name}: Must be between ${min} and ${max}.`);
  return n;
}

export function stringArray(ctx: Ctx, name: string, min: number, max: number, required = true): string[] | undefined {
  const v = field(ctx, name);
  if (v === undefined || v === null) {
    if (required) throw paramError(`${name}: Missing data for required field.`);
    return undefined;
  }
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' || typeof x === 'number')) {
    throw paramError(`${name}: Not a valid list of strings.`);
  }
  if (v.length < min || v.length > max) throw paramError(`${name}: Length must be between ${min} and ${max}.`);
  return v.map(String);
}

/** The token must carry the advertiser (40001 otherwise); the advertiser then exists. */
export function requireAdvertiser(ctx: Ctx, advertiserId: string): void {
  if (!ctx.token?.advertiserIds.includes(advertiserId)) {
    throw new ApiError(
      40001,
      `No permission to operate advertiser ${advertiserId}. You must be an admin or operator of this advertiser account.`,
    );
  }
  ctx.state.ensureAdvertiser(advertiserId);
}
