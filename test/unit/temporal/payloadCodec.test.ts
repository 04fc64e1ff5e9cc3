import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/errors';
import {
  AesGcmPayloadCodec,
  ENCRYPTED_ENCODING,
  KEY_ID_METADATA,
  PayloadDecryptionError,
  ensureDevPayloadKey,
  parseKeySpecs,
  payloadCodecFromEnv,
} from '../../../src/temporal/payloadCodec';

const te = new TextEncoder();
const td = new TextDecoder();
const payload = (json: string) => ({ metadata: { encoding: te.encode('json/plain') }, data: te.encode(json) });
const k = (id: string) => ({ id, key: randomBytes(32) });
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('AesGcmPayloadCodec', () => {
  it('round-trips and hides the content and its encoding; each encryption differs (random IV)', async () => {
    const codec = new AesGcmPayloadCodec([k('a')]);
    const p = payload('{"email":"person@example.com"}');
    const [e1] = await codec.encode([p]);
    const [e2] = await codec.encode([p]);
    expect(td.decode(e1!.metadata!.encoding!)).toBe(ENCRYPTED_ENCODING);
    expect(td.decode(e1!.metadata![KEY_ID_METADATA]!)).toBe('a');
    expect(Buffer.from(e1!.data!).includes('person@example.com')).toBe(false);
    expect(Buffer.from(e1!.data!).includes('json/plain')).toBe(false);
    expect(Buffer.from(e1!.data!).equals(Buffer.from(e2!.data!))).toBe(false);
    const [d] = await codec.decode([e1!]);
    expect(td.decode(d!.data!)).toBe('{"email":"person@example.com"}');
    expect(td.decode(d!.metadata!.encoding!)).toBe('json/plain');
  });

  it('rotation: the newest key encrypts, an old key still decrypts, a removed key is named', async () => {
    const old = k('2026-06');
    const newer = k('2026-12');
    const [sealedOld] = await new AesGcmPayloadCodec([old]).encode([payload('1')]);
    const rotated = new AesGcmPayloadCodec([newer, old]);
    expect(td.decode((await rotated.decode([sealedOld!]))[0]!.data!)).toBe('1');
    const [sealedNew] = await rotated.encode([payload('2')]);
    expect(td.decode(sealedNew!.metadata![KEY_ID_METADATA]!)).toBe('2026-12');
    await expect(new AesGcmPayloadCodec([newer]).decode([sealedOld!])).rejects.toThrow(/key "2026-06", which is not among the configured keys \(2026-12\)/);
  });

  it('passes plaintext payloads through on decode (UI-typed starts, saved histories)', async () => {
    const codec = new AesGcmPayloadCodec([k('a')]);
    const p = payload('{"x":1}');
    expect(await codec.decode([p, { metadata: {}, data: te.encode('raw') }])).toEqual([p, { metadata: {}, data: te.encode('raw') }]);
  });

  it('refuses altered ciphertext and a wrong key under the right id', async () => {
    const a = k('a');
    const [sealed] = await new AesGcmPayloadCodec([a]).encode([payload('{"x":1}')]);
    const flipped = Buffer.from(sealed!.data!);
    flipped[20] = flipped[20]! ^ 1;
    await expect(new AesGcmPayloadCodec([a]).decode([{ ...sealed!, data: flipped }])).rejects.toBeInstanceOf(PayloadDecryptionError);
    await expect(new AesGcmPayloadCodec([k('a')]).decode([sealed!])).rejects.toThrow(/does not authenticate/);
  });
});

describe('keys from secret references', () => {
  it('reads TTSYNC_PAYLOAD_KEYS (newest first) and never echoes key material in errors', async () => {
    const hex = randomBytes(32).toString('hex');
    const b64 = randomBytes(32).toString('base64');
    const codec = await payloadCodecFromEnv({ TTSYNC_PAYLOAD_KEYS: 'new=env:K_NEW, old=env:K_OLD', K_NEW: hex, K_OLD: b64 });
    expect(codec?.encryptingKeyId).toBe('new');
    expect(codec?.keyIds).toEqual(['new', 'old']);
    expect(await payloadCodecFromEnv({})).toBeUndefined();
    const short = 'c2hvcnQta2V5LXNlY3JldA==';
    const err = await payloadCodecFromEnv({ TTSYNC_PAYLOAD_KEYS: 'a=env:K', K: short }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/payload key a \(env:K\) is not a 256-bit key/);
    expect((err as Error).message).not.toContain(short);
    expect(() => parseKeySpecs(hex)).toThrow(/item 1 must be <key id>=<secret reference>/);
    expect(() => parseKeySpecs(hex)).not.toThrow(new RegExp(hex));
    await expect(payloadCodecFromEnv({ TTSYNC_PAYLOAD_KEYS: 'a=env:MISSING' })).rejects.toThrow(/payload key a: secret env:MISSING: environment variable MISSING is not set/);
  });

  it('the dev key is made once, 0600 in a 0700 folder, and kept', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ttsync-devkey-'));
    dirs.push(dir);
    const first = ensureDevPayloadKey(dir);
    expect(first.created).toBe(true);
    expect(statSync(first.path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'codec')).mode & 0o777).toBe(0o700);
    const again = ensureDevPayloadKey(dir);
    expect(again.created).toBe(false);
    expect(again.ref).toBe(`file:${first.path}`);
    writeFileSync(first.path, 'not a key');
    expect(() => ensureDevPayloadKey(dir)).toThrow(/not a 256-bit key/);
  });
});
