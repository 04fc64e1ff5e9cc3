import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';

/*
 * Temporal's remote codec protocol, so that the Web UI and the `temporal` CLI show decoded
 * payloads to operators: POST …/encode and …/decode (only the last path segment counts) with
 * a Payloads message in proto3 JSON, `{"payloads":[{"metadata":{"encoding":"<base64>"},"data":"<base64>"}]}`,
 * answered in the same shape. The UI sends X-Namespace, Content-Type: application/json
 * (hence a CORS preflight) and, when it is set up to pass its OIDC access token,
 * `Authorization: Bearer <token>`.
 */

export interface CodecServerOptions {
  codec: PayloadCodec;
  host: string;
  port: number;
  /** Origins allowed by CORS (the Web UI's, e.g. http://127.0.0.1:8233); `*` allows any. */
  origins: readonly string[];
  /** When set, every encode/decode must carry `Authorization: Bearer <token>`. */
  token?: string;
  /** Largest request body accepted. */
  maxBodyBytes?: number;
  log?: (line: string) => void;
}

export interface RunningCodecServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

class BadRequest extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const b64 = (s: unknown, where: string): Uint8Array => {
  // proto3 JSON bytes: standard or URL-safe base64.
  if (typeof s !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(s)) throw new BadRequest(400, `${where} must be a base64 string`);
  return new Uint8Array(Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
};

export function payloadsFromJson(body: unknown): Payload[] {
  const list = (body as { payloads?: unknown } | null)?.payloads;
  if (!Array.isArray(list)) throw new BadRequest(400, 'body must be {"payloads": [...]}');
  return list.map((raw, i) => {
    if (!raw || typeof raw !== 'object') throw new BadRequest(400, `payloads[${i}] must be an object`);
    const { metadata, data } = raw as JsonPayload;
    const md: Record<string, Uint8Array> = {};
    if (metadata !== undefined) {
      if (!metadata || typeof metadata !== 'object' || Array.isArray(metadata)) throw new BadRequest(400, `payloads[${i}].metadata must be an object`);
      for (const [k, v] of Object.entries(metadata)) md[k] = b64(v, `payloads[${i}].metadata.${k}`);
    }
    return { metadata: md, data: data === undefined ? new Uint8Array() : b64(data, `payloads[${i}].data`) };
  });
}

export function payloadsToJson(payloads: Payload[]): { payloads: JsonPayload[] } {
  return {
    payloads: payloads.map((p) => ({
      metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
      data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
    })),
  };
}

function sameToken(given: string, expected: string): boolean {
  // Hashes first, so the comparison takes the same time whatever the lengths.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BadRequest(413, `body larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startCodecServer(opts: CodecServerOptions): Promise<RunningCodecServer> {
  const limit = opts.maxBodyBytes ?? 16 * 1024 * 1024;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const origin = req.headers.origin;
    if (origin && (opts.origins.includes('*') || opts.origins.includes(origin))) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Vary', 'Origin');
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
      res.setHeader('Access-Control-Max-Age', '600');
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
      return;
    }
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '');
    const op = path.endsWith('/encode') ? 'encode' : path.endsWith('/decode') ? 'decode' : undefined;
    if (!op) throw new BadRequest(404, 'not found: POST …/encode or …/decode');
    if (req.method !== 'POST') throw new BadRequest(405, `${op} takes POST`);
    if (opts.token !== undefined) {
      const auth = req.headers.authorization ?? '';
      const m = /^Bearer\s+(\S+)$/i.exec(auth);
      if (!m || !sameToken(m[1]!, opts.token)) {
        res.setHeader('WWW-Authenticate', 'Bearer');
        throw new BadRequest(401, 'a valid Authorization: Bearer token is required');
      }
    }
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req, limit));
    } catch (err) {
      if (err instanceof BadRequest) throw err;
      throw new BadRequest(400, 'body is not JSON');
    }
    const payloads = payloadsFromJson(body);
    const out = op === 'encode' ? await opts.codec.encode(payloads) : await opts.codec.decode(payloads);
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(payloadsToJson(out)));
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof BadRequest ? err.status : 400;
      // Messages name the problem, never a payload's content or the token.
      const message = (err as Error).message;
      if (!(err instanceof BadRequest)) opts.log?.(`codec-server: ${req.method} ${req.url}: ${message}`);
      if (!res.headersSent) res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: message }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A browser's keep-alive connections would hold close() open.
        server.closeAllConnections();
      }),
  };
}
