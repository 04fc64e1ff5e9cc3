import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../src/emulator';
import { ReauthorizationRequired, TikTokClient, readAdvertiserRoles } from '../../../src/tiktok';
import { clientFor, emulatorFor } from './helpers';

/*
 * readAdvertiserRoles against the emulated Business Center over HTTP: every page of it, roles
 * mapped to verdicts, and answers that do not show a role (sparse answers, a refusal) leaving
 * the role unverified rather than guessed.
 */

let emu: RunningEmulator;
beforeAll(async () => {
  emu = await emulatorFor();
});
afterAll(async () => emu?.close());

const ROLES = ['ADMIN', 'OPERATOR', 'ANALYST'] as const;
const EXPECTED = { ADMIN: 'ok', OPERATOR: 'ok', ANALYST: 'insufficient' } as const;

describe('readAdvertiserRoles', () => {
  it('reads every page of the Business Center (120 ad accounts with roles): Admin and Operator ok, Analyst insufficient, an ad account outside it unverified', async () => {
    const ids = Array.from({ length: 120 }, (_, i) => `7500000000000${String(i).padStart(6, '0')}`);
    const roles = Object.fromEntries(ids.map((id, i) => [id, ROLES[i % 3]!]));
    emu.control.setRoles(roles);
    const outside = '7599999999999999999';
    const token = emu.control.issueToken([...ids, outside]);
    const got = await readAdvertiserRoles(clientFor(emu, token), [...ids, outside]);
    expect(got).toHaveLength(121);
    for (const [i, id] of ids.entries()) {
      const role = ROLES[i % 3]!;
      expect(got[i]).toMatchObject({ advertiserId: id, role, verdict: EXPECTED[role] });
      expect(got[i]!.businessCenterId).toMatch(/^\d+$/);
    }
    expect(got[120]).toMatchObject({ advertiserId: outside, role: null, businessCenterId: null, verdict: 'unverified' });
    expect(got[120]!.message).toBe('role unverified: the ad account is in no Business Center the user belongs to');
    const bcCalls = emu.state.calls.filter((c) => c.path === 'bc/asset/get/');
    expect(bcCalls.length).toBe(3);
  });

  it('a role TikTok does not name, or an answer without the role (sparse answers), is unverified, never assumed', async () => {
    emu.control.setRoles({ '7510000000000000001': 'SUPERVISOR', '7510000000000000002': 'ADMIN' });
    const token = emu.control.issueToken(['7510000000000000001', '7510000000000000002']);
    const [unknown] = await readAdvertiserRoles(clientFor(emu, token), ['7510000000000000001']);
    expect(unknown).toMatchObject({ role: 'SUPERVISOR', verdict: 'unverified' });
    expect(unknown!.message).toContain('"SUPERVISOR"');
    emu.control.setSparseAnswers(true);
    try {
      const [sparse] = await readAdvertiserRoles(clientFor(emu, token), ['7510000000000000002']);
      expect(sparse).toMatchObject({ role: null, verdict: 'unverified' });
      expect(sparse!.message).toMatch(/lists the ad account without the user's role/);
    } finally {
      emu.control.setSparseAnswers(false);
    }
  });

  it("a refusal of the Business Center endpoints leaves every role unverified with the reason; a refused token is the token's failure", async () => {
    const answering = (code: number, message: string): typeof fetch =>
      (async () => new Response(JSON.stringify({ code, message, request_id: 'r1', data: {} }), { status: 200, headers: { 'content-type': 'application/json' } })) as typeof fetch;
    const client = (f: typeof fetch) => new TikTokClient({ accessToken: 'x'.repeat(20), appId: 'roles-test', env: { TIKTOK_API_BASE_URL: emu.apiBaseUrl }, retry: { maxAttempts: 1 }, fetch: f });
    const refused = await readAdvertiserRoles(client(answering(40001, 'No permission to operate Business Center.')), ['1', '2']);
    expect(refused.map((r) => r.verdict)).toEqual(['unverified', 'unverified']);
    expect(refused[0]!.message).toMatch(/^role unverified: TikTok's Business Center endpoints did not answer \(.*code 40001/);
    await expect(readAdvertiserRoles(client(answering(40105, 'Access token is incorrect or has been revoked.')), ['1'])).rejects.toBeInstanceOf(ReauthorizationRequired);
  });
});
