import { TikTokErrorType, type TikTokErrorTypeName } from './errorTypes';

export interface TikTokErrorInit {
  /** TikTok's envelope code; null when the failure happened below the envelope (HTTP, network). */
  code: number | null;
  /** TikTok's message (or a description of the HTTP/network failure). Never contains the token. */
  tiktokMessage: string;
  requestId: string | null;
  httpStatus: number | null;
  /** API path such as `dmp/custom_audience/update/`. */
  endpoint: string;
}

export interface UnexpectedResponseInit extends TikTokErrorInit {
  /** Where in the body the first problem is, e.g. `data.list.0.audience_id`; `(root)` for the body itself. */
  jsonPath: string;
  /** The request path as sent, e.g. `/open_api/v1.3/dmp/custom_audience/get/` (defaults to endpoint). */
  requestPath?: string;
}

/**
 * Base of the seven classes. Carries only what is safe to log or put in a workflow payload:
 * code, message, request_id, HTTP status and path: never headers, bodies or the token.
 */
export abstract class TikTokError extends Error {
  abstract readonly type: TikTokErrorTypeName;
  readonly code: number | null;
  readonly tiktokMessage: string;
  readonly requestId: string | null;
  readonly httpStatus: number | null;
  readonly endpoint: string;

  constructor(init: TikTokErrorInit, message?: string) {
    const where = init.code !== null ? `code ${init.code}` : init.httpStatus !== null ? `HTTP ${init.httpStatus}` : 'network';
    super(message ?? `TikTok ${init.endpoint}: ${where}: ${init.tiktokMessage}${init.requestId ? ` (request_id ${init.requestId})` : ''}`);
    this.code = init.code;
    this.tiktokMessage = init.tiktokMessage;
    this.requestId = init.requestId;
    this.httpStatus = init.httpStatus;
    this.endpoint = init.endpoint;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      type: this.type,
      code: this.code,
      message: this.tiktokMessage,
      requestId: this.requestId,
      httpStatus: this.httpStatus,
      endpoint: this.endpoint,
    };
  }
}

export class Throttled extends TikTokError {
  override name = TikTokErrorType.Throttled;
  readonly type = TikTokErrorType.Throttled;
}
export class Transient extends TikTokError {
  override name = TikTokErrorType.Transient;
  readonly type = TikTokErrorType.Transient;
}
export class AudienceBusy extends TikTokError {
  override name = TikTokErrorType.AudienceBusy;
  readonly type = TikTokErrorType.AudienceBusy;
}
export class ReauthorizationRequired extends TikTokError {
  override name = TikTokErrorType.ReauthorizationRequired;
  readonly type = TikTokErrorType.ReauthorizationRequired;
}
export class PermissionDenied extends TikTokError {
  override name = TikTokErrorType.PermissionDenied;
  readonly type = TikTokErrorType.PermissionDenied;
}
export class InvalidRequest extends TikTokError {
  override name = TikTokErrorType.InvalidRequest;
  readonly type = TikTokErrorType.InvalidRequest;
}

/**
 * TikTok answered, but not in a shape ttsync can use. Its message names the request path,
 * the request_id (what TikTok support asks for) and the JSON path of the problem.
 */
export class UnexpectedResponse extends TikTokError {
  override name = TikTokErrorType.UnexpectedResponse;
  readonly type = TikTokErrorType.UnexpectedResponse;
  readonly jsonPath: string;

  constructor(init: TikTokErrorInit & Partial<Pick<UnexpectedResponseInit, 'jsonPath' | 'requestPath'>>) {
    const jsonPath = init.jsonPath ?? '(root)';
    const rid = init.requestId ? ` (request_id ${init.requestId})` : '';
    super(init, `TikTok answered ${init.requestPath ?? init.endpoint} with an unexpected shape${rid}: ${init.tiktokMessage}`);
    this.jsonPath = jsonPath;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), jsonPath: this.jsonPath };
  }
}

const CLASSES = { Throttled, Transient, AudienceBusy, ReauthorizationRequired, PermissionDenied, InvalidRequest, UnexpectedResponse } as const;

export function createTikTokError(type: TikTokErrorTypeName, init: TikTokErrorInit): TikTokError {
  return new CLASSES[type](init);
}

const THROTTLED_CODES = new Set([40100, 40133, 40016, 40132, 61000]);
const REAUTH_CODES = new Set([40102, 40104, 40105, 40106, 40110, 40113]);

/** Success codes: 0, and 20001 (partial success) which peers and TikTok treat as delivered. */
export function isSuccessCode(code: number): boolean {
  return code === 0 || code === 20001;
}

/** The class of a non-success envelope code (see the table in errorTypes.ts). */
export function classifyCode(code: number, message: string): TikTokErrorTypeName {
  if (THROTTLED_CODES.has(code)) return TikTokErrorType.Throttled;
  if (code === 50000 || code === 50002 || code === 60001) return TikTokErrorType.Transient;
  if ((code >= 51000 && code <= 51999) || (code >= 52000 && code <= 52999)) return TikTokErrorType.Transient;
  // 40002 is also every plain parameter error; only the processing lock is worth waiting for.
  if (code === 40002 && /not editable/i.test(message)) return TikTokErrorType.AudienceBusy;
  if (REAUTH_CODES.has(code)) return TikTokErrorType.ReauthorizationRequired;
  if (code === 40001) return TikTokErrorType.PermissionDenied;
  return TikTokErrorType.InvalidRequest;
}

/**
 * The class of an HTTP failure outside the envelope. 5xx = server fault (retry). TikTok does
 * not use 429, but a proxy in front of it might; it means the same as 40100. Any other status
 * (404 wrong path, 405 wrong method…) is a bug in the request.
 */
export function classifyHttpStatus(status: number): TikTokErrorTypeName {
  if (status >= 500) return TikTokErrorType.Transient;
  if (status === 429) return TikTokErrorType.Throttled;
  return TikTokErrorType.InvalidRequest;
}
