import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../../src/cli/program';
import { freePort } from '../../../src/temporal/devServer';
import { AesGcmPayloadCodec } from '../../../src/temporal/payloadCodec';
import { exitOf, runCli, spawnCli, waitForOutput } from '../../helpers/cli';

/*
 * `ttsync codec-server` as an operator runs it: keys from TTSYNC_PAYLOAD_KEYS (secret
 * references), the bearer token from TTSYNC_CODEC_TOKEN, loopback unless a token guards it.
 * The local stack's listeners default to 127.0.0.1.
 */

const dir = mkdtempSync(join(tmpdir(), 'ttsync-codec-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ttsync codec-server', { timeout: 60_000 }, () => {
  it('refuses to start without keys, on a non-loopback address without a token, or with a raw token', () => {
    const none = runCli(['codec-server'], { env: { TTSYNC_PAYLOAD_KEYS: '' } });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no payload keys: set TTSYNC_PAYLOAD_KEYS');
    const key = randomBytes(32).toString('base64');
    const open = runCli(['codec-server', '--ip', '0.0.0.0'], { env: { TTSYNC_PAYLOAD_KEYS: 'k=env:K', K: key, TTSYNC_CODEC_TOKEN: undefined } });
    expect(open.code).toBe(2);
    expect(open.stderr).toMatch(/--ip 0\.0\.0\.0 is reachable from other machines.*give --token/);
    const raw = runCli(['codec-server', '--token', 'abcdef0123456789'], { env: { TTSYNC_PAYLOAD_KEYS: 'k=env:K', K: key } });
    expect(raw.code).toBe(2);
    expect(raw.stderr).not.toContain('abcdef0123456789');
    for (const r of [none, open, raw]) expect(r.stderr).not.toContain(key);
  });

  it('serves decode to a caller with the bearer token only, and prints neither token nor key', async () => {
    const keyText = randomBytes(32).toString('hex');
    const keyFile = join(dir, 'payload-key');
    writeFileSync(keyFile, `${keyText}\n`, { mode: 0o600 });
    const token = randomBytes(20).toString('hex');
    const port = await freePort();
    const child = spawnCli(['codec-server', '--port', String(port), '--ui-origin', 'http://127.0.0.1:8233'], {
      TTSYNC_PAYLOAD_KEYS: `2026-12=file:${keyFile}`,
      TTSYNC_CODEC_TOKEN: token,
    });
    try {
      await waitForOutput(child, /ttsync codec-server on http:\/\/127\.0\.0\.1:\d+/);
      const codec = new AesGcmPayloadCodec([{ id: '2026-12', key: Buffer.from(keyText, 'hex') }]);
      const [sealed] = await codec.encode([{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"secret input"') }]);
      const body = JSON.stringify({
        payloads: [{ metadata: Object.fromEntries(Object.entries(sealed!.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])), data: Buffer.from(sealed!.data!).toString('base64') }],
      });
      const url = `http://127.0.0.1:${port}/decode`;
      const headers = { 'Content-Type': 'application/json', 'X-Namespace': 'default' };
      const refused = await fetch(url, { method: 'POST', headers, body });
      expect(refused.status).toBe(401);
      const ok = await fetch(url, { method: 'POST', headers: { ...headers, Authorization: `Bearer ${token}` }, body });
      expect(ok.status).toBe(200);
      const out = (await ok.json()) as { payloads: Array<{ data: string }> };
      expect(Buffer.from(out.payloads[0]!.data, 'base64').toString()).toBe('"secret input"');
      child.kill('SIGTERM');
      expect(await exitOf(child)).toBe(0);
      expect(child.output()).toContain('bearer token from env:TTSYNC_CODEC_TOKEN');
      expect(child.output()).not.toContain(token);
      expect(child.output()).not.toContain(keyText);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('the local stack listens on 127.0.0.1 unless told otherwise', async () => {
    for (const [path, flag] of [
      [['dev'], '--ip'],
      [['codec-server'], '--ip'],
    ] as const) {
      const program = await buildProgram(['node', 'ttsync', ...path]);
      const cmd = program.commands.find((c) => c.name() === path[0])!;
      expect(cmd.options.find((o) => o.long === flag)?.defaultValue).toBe('127.0.0.1');
    }
    // The emulator has no address flag at all: its port is on 127.0.0.1.
    const emulator = (await buildProgram(['node', 'ttsync', 'emulator'])).commands.find((c) => c.name() === 'emulator')!;
    expect(emulator.options.some((o) => o.long === '--ip' || o.long === '--host')).toBe(false);
  });
});
