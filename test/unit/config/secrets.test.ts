import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SecretError, resolveSecret } from '../../../src/config/secrets';
import { rejectionOf } from '../../helpers/rejection';

const dir = mkdtempSync(join(tmpdir(), 'ttsync-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const TOKEN = 'act.9c1f0e2d3b4a59687766554433221100ffeeddcc';

async function refusal(ref: string, env: NodeJS.ProcessEnv = {}): Promise<SecretError> {
  const err = await rejectionOf(resolveSecret(ref, { env }), SecretError);
  // Whatever went wrong, the token never appears in the error.
  expect(JSON.stringify(err, Object.getOwnPropertyNames(err))).not.toContain(TOKEN);
  return err;
}

describe('secret references', () => {
  it('reads env:NAME from the given environment', async () => {
    expect(await resolveSecret('env:TIKTOK_ACCESS_TOKEN', { env: { TIKTOK_ACCESS_TOKEN: TOKEN } })).toBe(TOKEN);
    expect(await resolveSecret('env:T', { env: { T: `  ${TOKEN}\n` } })).toBe(TOKEN);
  });

  it('reads file:/path and file:///path, trimming the trailing newline', async () => {
    const f = join(dir, 'token');
    writeFileSync(f, `${TOKEN}\n`);
    expect(await resolveSecret(`file:${f}`)).toBe(TOKEN);
    expect(await resolveSecret(`file://${f}`)).toBe(TOKEN);
  });

  it('re-reads on every call, so a rotated token is picked up at once', async () => {
    const f = join(dir, 'rotating');
    writeFileSync(f, 'old-token');
    expect(await resolveSecret(`file:${f}`)).toBe('old-token');
    writeFileSync(f, 'new-token');
    expect(await resolveSecret(`file:${f}`)).toBe('new-token');
  });

  it('explains each failure by reference, never by value', async () => {
    expect((await refusal('env:MISSING_TOKEN')).message).toBe("secret env:MISSING_TOKEN: environment variable MISSING_TOKEN is not set in the worker's environment");
    expect((await refusal('env:EMPTY', { EMPTY: '  \n' })).message).toBe('secret env:EMPTY: environment variable EMPTY is empty');
    const two = await refusal('env:TWO', { TWO: `${TOKEN} ${TOKEN}` });
    expect(two.code).toBe('malformed');
    expect(two.message).toBe('secret env:TWO: environment variable TWO holds more than one word or line; it should hold only the token');
    expect((await refusal(`file:${join(dir, 'nope')}`)).message).toBe(`secret file:${join(dir, 'nope')}: file ${join(dir, 'nope')} does not exist`);
    mkdirSync(join(dir, 'folder'));
    expect((await refusal(`file:${join(dir, 'folder')}`)).message).toContain('is a folder, not a file');
    const json = join(dir, 'creds.json');
    writeFileSync(json, JSON.stringify({ access_token: TOKEN, note: 'x' }, null, 2));
    expect((await refusal(`file:${json}`)).code).toBe('malformed');
    const big = join(dir, 'big');
    writeFileSync(big, `${TOKEN}\n`.repeat(3000));
    expect((await refusal(`file:${big}`)).message).toContain('too large for a token');
    const bad = await refusal(TOKEN);
    expect(bad.code).toBe('bad_reference');
    expect(bad.message).toBe('the secret setting is not a reference such as env:TIKTOK_ACCESS_TOKEN or file:/run/secrets/tiktok_token (its value is not shown)');
  });
});
