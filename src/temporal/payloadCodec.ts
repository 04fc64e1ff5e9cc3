import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { ConfigError } from '../config/errors';
import { resolveSecret } from '../config/secrets';

/*
 * Encryption at rest of every payload the Temporal server stores (inputs, results, signals,
 * queries, updates, memos, heartbeat details, failures' details): AES-256-GCM over the whole
 * Payload proto, so the original encoding is hidden too. Search attributes are not payloads
 * the codec sees (the server must index them); ttsync keeps only ids and states there.
 */

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
/** Keys: `id=secretRef` pairs, comma-separated, newest first (it encrypts; all decrypt). */
export const PAYLOAD_KEYS_VARIABLE = 'TTSYNC_PAYLOAD_KEYS';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface PayloadKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

export class PayloadDecryptionError extends Error {
  override name = 'PayloadDecryptionError';
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** 32 bytes written as 64 hex digits or base64 (with or without padding); errors never echo the value. */
export function parseKeyMaterial(text: string, what: string): Buffer {
  const t = text.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(t)) key = Buffer.from(t, 'hex');
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) key = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (!key || key.length !== 32) throw new ConfigError(`${what} is not a 256-bit key: write 32 random bytes as 64 hex digits or base64 (e.g. openssl rand -base64 32); the value is not shown`);
  return key;
}

export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;
  readonly encryptingKeyId: string;

  /** keys[0] encrypts; every key decrypts (rotation: add the new key first, keep the old ones). */
  constructor(keys: readonly PayloadKey[]) {
    if (keys.length === 0) throw new ConfigError('payload encryption needs at least one key');
    this.byId = new Map();
    for (const k of keys) {
      if (k.key.length !== 32) throw new ConfigError(`payload key ${k.id} must be 32 bytes`);
      if (this.byId.has(k.id)) throw new ConfigError(`payload key id ${k.id} is given twice`);
      this.byId.set(k.id, k.key);
    }
    this.encryptingKeyId = keys[0]!.id;
  }

  get keyIds(): string[] {
    return [...this.byId.keys()];
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const key = this.byId.get(this.encryptingKeyId)!;
    return payloads.map((p) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const plain = temporal.api.common.v1.Payload.encode(p).finish();
      const body = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { encoding: enc.encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: enc.encode(this.encryptingKeyId) },
        data: new Uint8Array(body),
      };
    });
  }

  /** Payloads that are not encrypted pass through: UI/CLI-typed starts and signals, saved plaintext histories. */
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      const encoding = p.metadata?.encoding ? dec.decode(p.metadata.encoding) : undefined;
      if (encoding !== ENCRYPTED_ENCODING) return p;
      const idBytes = p.metadata?.[KEY_ID_METADATA];
      const id = idBytes ? dec.decode(idBytes) : '';
      const key = this.byId.get(id);
      if (!key) throw new PayloadDecryptionError(`payload encrypted with key "${id}", which is not among the configured keys (${this.keyIds.join(', ')}); add it to ${PAYLOAD_KEYS_VARIABLE}`);
      const data = Buffer.from(p.data ?? new Uint8Array());
      if (data.length < IV_BYTES + TAG_BYTES) throw new PayloadDecryptionError(`encrypted payload (key "${id}") is too short to be ciphertext`);
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
        decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
        const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
        return temporal.api.common.v1.Payload.decode(plain) as Payload;
      } catch {
        throw new PayloadDecryptionError(`encrypted payload (key "${id}") does not authenticate: wrong key material for that id, or the payload was altered`);
      }
    });
  }
}

export interface KeySpec {
  id: string;
  ref: string;
}

/** `2026-12=file:/run/secrets/k2,2026-06=env:OLD_KEY` → specs, newest first. */
export function parseKeySpecs(text: string, what = PAYLOAD_KEYS_VARIABLE): KeySpec[] {
  const specs = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item, i) => {
      const eq = item.indexOf('=');
      const id = eq > 0 ? item.slice(0, eq) : '';
      const ref = eq > 0 ? item.slice(eq + 1) : '';
      if (!KEY_ID.test(id) || !/^(env|file):/.test(ref))
        throw new ConfigError(`${what}: item ${i + 1} must be <key id>=<secret reference> (e.g. 2026-12=file:/run/secrets/ttsync-payload-key); the value is not shown`);
      return { id, ref };
    });
  if (specs.length === 0) throw new ConfigError(`${what} is set but names no key`);
  return specs;
}

export async function loadPayloadKeys(specs: readonly KeySpec[], env: NodeJS.ProcessEnv = process.env): Promise<PayloadKey[]> {
  const out: PayloadKey[] = [];
  for (const s of specs) {
    let text: string;
    try {
      text = await resolveSecret(s.ref, { env });
    } catch (err) {
      throw new ConfigError(`payload key ${s.id}: ${(err as Error).message}`);
    }
    out.push({ id: s.id, key: parseKeyMaterial(text, `payload key ${s.id} (${s.ref})`) });
  }
  return out;
}

/** The codec configured by TTSYNC_PAYLOAD_KEYS, or undefined (no encryption) when it is unset or empty. */
export async function payloadCodecFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<AesGcmPayloadCodec | undefined> {
  const spec = env[PAYLOAD_KEYS_VARIABLE]?.trim();
  if (!spec) return undefined;
  return new AesGcmPayloadCodec(await loadPayloadKeys(parseKeySpecs(spec), env));
}

/**
 * The dev stack's key: generated once, kept under the data dir (0600 in a 0700 folder),
 * so workflows started in an earlier session stay readable.
 */
export function ensureDevPayloadKey(dataDir: string): { id: string; path: string; ref: string; created: boolean } {
  const dir = join(dataDir, 'codec');
  const path = join(dir, 'payload-key');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  let created = false;
  if (!existsSync(path)) {
    writeFileSync(path, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    created = true;
  } else {
    parseKeyMaterial(readFileSync(path, 'utf8'), `the dev payload key ${path}`);
  }
  chmodSync(path, 0o600);
  return { id: 'dev', path, ref: `file:${path}`, created };
}
