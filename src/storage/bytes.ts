import { createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { WriteSource } from './blobStore';

/** Every write source as chunks of bytes, so both adapters count and hash the same way. */
export async function* chunksOf(data: WriteSource): AsyncGenerator<Buffer> {
  if (typeof data === 'string') {
    yield Buffer.from(data, 'utf8');
    return;
  }
  if (data instanceof Uint8Array) {
    yield Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return;
  }
  for await (const chunk of data as AsyncIterable<Uint8Array | string>) {
    if (typeof chunk === 'string') yield Buffer.from(chunk, 'utf8');
    else if (chunk.byteLength > 0) yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
}

/** Counts and MD5-hashes bytes as they pass. */
export class ByteTally {
  size = 0;
  private readonly hash: Hash = createHash('md5');
  private digest: string | undefined;

  add(chunk: Buffer): Buffer {
    this.size += chunk.length;
    this.hash.update(chunk);
    return chunk;
  }

  /** The MD5 of what was added; ends the tally (asked again, the same answer). */
  md5Hex(): string {
    return (this.digest ??= this.hash.digest('hex'));
  }
}

export async function md5OfStream(stream: Readable): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** GCS reports MD5 as base64; ttsync (and TikTok's file_signature) use lowercase hex. */
export function base64ToHex(b64: string): string {
  return Buffer.from(b64, 'base64').toString('hex');
}

export function md5Hex(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}
