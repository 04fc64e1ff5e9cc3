import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { payloadEncryptionCheck } from '../../../src/temporal/doctor';

const dir = mkdtempSync(join(tmpdir(), 'ttsync-doctor-enc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const run = (env: NodeJS.ProcessEnv) => payloadEncryptionCheck(env).run(new AbortController().signal);

describe('doctor: payload encryption', () => {
  it('off is info, with the variable to set', async () => {
    expect(await run({})).toMatchObject({ status: 'info', message: expect.stringContaining('TTSYNC_PAYLOAD_KEYS unset') });
  });

  it('keys that resolve: ok, naming the encrypting key and the older ones, never the key material', async () => {
    const newKey = randomBytes(32).toString('base64');
    const oldKey = randomBytes(32).toString('hex');
    writeFileSync(join(dir, 'new'), newKey + '\n', { mode: 0o600 });
    const out = await run({ TTSYNC_PAYLOAD_KEYS: `2026-12=file:${join(dir, 'new')},2026-06=env:OLD_KEY`, OLD_KEY: oldKey });
    expect(out).toEqual({ status: 'ok', message: 'payloads encrypted with AES-256-GCM under key 2026-12; older keys kept for reading: 2026-06' });
    expect(JSON.stringify(out)).not.toContain(newKey);
    expect(JSON.stringify(out)).not.toContain(oldKey);
  });

  it('a malformed list, a missing secret or short key material fails with advice, and the value is not shown', async () => {
    const bad = await run({ TTSYNC_PAYLOAD_KEYS: 'just-a-key' });
    expect(bad).toMatchObject({ status: 'fail', message: expect.stringContaining('must be <key id>=<secret reference>'), advice: expect.stringContaining('TTSYNC_PAYLOAD_KEYS') });
    expect(JSON.stringify(bad)).not.toContain('just-a-key');
    expect(await run({ TTSYNC_PAYLOAD_KEYS: `k1=file:${join(dir, 'absent')}` })).toMatchObject({ status: 'fail', message: expect.stringContaining('payload key k1') });
    const short = await run({ TTSYNC_PAYLOAD_KEYS: 'k1=env:SHORT', SHORT: 'c2hvcnQ=' });
    expect(short).toMatchObject({ status: 'fail', message: expect.stringContaining('not a 256-bit key') });
    expect(JSON.stringify(short)).not.toContain('c2hvcnQ=');
  });
});
