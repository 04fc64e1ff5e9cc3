import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveSecret, SecretError } from '../../../src/config/secrets';
import { storeSecret } from '../../../src/config/secretStore';

const dir = mkdtempSync(join(tmpdir(), 'ttsync-secret-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('storeSecret', () => {
  it('writes a 0600 file that resolveSecret reads back, creating missing folders, and leaves no temporary file', async () => {
    const path = join(dir, 'a', 'b', 'token');
    await storeSecret(`file:${path}`, 'tok-0123456789');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(await resolveSecret(`file:${path}`)).toBe('tok-0123456789');
    expect(readdirSync(join(dir, 'a', 'b'))).toEqual(['token']);
  });

  it('replaces an existing world-readable file with a 0600 one (file:/// form too)', async () => {
    const path = join(dir, 'old-token');
    writeFileSync(path, 'old\n');
    chmodSync(path, 0o644);
    await storeSecret(`file://${path}`, 'new-token-value');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toBe('new-token-value\n');
  });

  it('refuses env: references and values with whitespace, without echoing the value', async () => {
    await expect(storeSecret('env:TOKEN', 'v')).rejects.toBeInstanceOf(SecretError);
    const e = (await storeSecret(`file:${join(dir, 'x')}`, 'two words').catch((err: unknown) => err)) as Error;
    expect(e).toBeInstanceOf(SecretError);
    expect(e.message).not.toContain('two words');
  });
});
