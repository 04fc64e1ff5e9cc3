import { describe, expect, it } from 'vitest';
import { AccountSchema, ProgramSchema, type Account } from '../../../src/san-migration/model';
import { PartnerConfigConflict, updateAccount, type PartnerConfigStore } from '../../../src/san-migration/partnerConfig';
import { SanMigrationError } from '../../../src/san-migration/failures';
import { rejectionOf } from '../../helpers/rejection';

export const sampleAccount = (accountId: string): Account =>
  AccountSchema.parse({
    accountId,
    advertiserId: '7000000000000000001',
    contacts: [{ email: 'ua-lead@acme.example' }],
    apps: [
      {
        appId: `${accountId}-ios`,
        platform: 'ios',
        storeAppId: 'id1234567890',
        tiktokAppId: '7200000000000000001',
        legacy: {
          trackerLinks: { clickUrl: 'https://track.mmp.example/click?c=__CAMPAIGN_ID__', impressionUrl: 'https://track.mmp.example/imp?c=__CAMPAIGN_ID__' },
          eventMapping: [{ partnerEvent: 'purchase', tiktokEvent: 'Purchase' }],
          fraudPostbacks: true,
          networkName: 'TikTok for Business – iOS',
        },
      },
    ],
  });

const program = ProgramSchema.parse({
  programId: 'tiktok-san',
  revision: 'r1',
  mode: 'opt_in',
  decisionDeadline: '2023-09-01T23:59:59Z',
  provisioningDate: '2023-09-05T00:00:00Z',
  targetCompletionDate: '2024-03-20T00:00:00Z',
  sentences: { optIn: 'in', optOut: 'out' },
});

/** What every partner-config adapter must do; `fresh()` gives an empty store per test. */
export function partnerConfigContract(name: string, fresh: () => Promise<PartnerConfigStore>): void {
  describe(`PartnerConfigStore contract: ${name}`, () => {
    it('an absent account or program is null; a written one reads back equal, with a version', async () => {
      const store = await fresh();
      expect(await store.getAccount('acme')).toBeNull();
      expect(await store.getProgram()).toBeNull();
      const v = await store.putAccount(sampleAccount('acme'), null);
      const got = await store.getAccount('acme');
      expect(got).toEqual({ value: sampleAccount('acme'), version: v });
      const pv = await store.putProgram(program, null);
      expect(await store.getProgram()).toEqual({ value: program, version: pv });
    });

    it('lists account ids, sorted', async () => {
      const store = await fresh();
      for (const id of ['zeta', 'alpha', 'mid']) await store.putAccount(sampleAccount(id), null);
      expect(await store.listAccountIds()).toEqual(['alpha', 'mid', 'zeta']);
    });

    it('compare-and-swap: a stale version or a second create loses, and the stored document is the winner', async () => {
      const store = await fresh();
      const v1 = await store.putAccount(sampleAccount('acme'), null);
      await expect(store.putAccount(sampleAccount('acme'), null)).rejects.toBeInstanceOf(PartnerConfigConflict);
      const renamed = { ...sampleAccount('acme'), name: 'first' };
      const v2 = await store.putAccount(renamed, v1);
      expect(v2).not.toBe(v1);
      await expect(store.putAccount({ ...sampleAccount('acme'), name: 'stale' }, v1)).rejects.toBeInstanceOf(PartnerConfigConflict);
      expect((await store.getAccount('acme'))?.value.name).toBe('first');
      const pv = await store.putProgram(program, null);
      await expect(store.putProgram({ ...program, revision: 'r2' }, null)).rejects.toBeInstanceOf(PartnerConfigConflict);
      await store.putProgram({ ...program, revision: 'r2' }, pv);
      expect((await store.getProgram())?.value.revision).toBe('r2');
    });

    it('of two concurrent updates through updateAccount, neither is lost', async () => {
      const store = await fresh();
      await store.putAccount(sampleAccount('acme'), null);
      const addApp = (suffix: string) =>
        updateAccount(store, 'acme', (a) => ({ ...a, apps: [...a.apps, { ...a.apps[0]!, appId: `acme-${suffix}` }] }));
      await Promise.all([addApp('a'), addApp('b'), addApp('c')]);
      const ids = (await store.getAccount('acme'))!.value.apps.map((a) => a.appId).sort();
      expect(ids).toEqual(['acme-a', 'acme-b', 'acme-c', 'acme-ios']);
    });

    it('updateAccount of an unknown account names the import command; a null change writes nothing', async () => {
      const store = await fresh();
      const err = await rejectionOf(updateAccount(store, 'ghost', (a) => a), SanMigrationError);
      expect(err.type).toBe('AccountNotFound');
      expect(err.message).toContain('ttsync san import');
      const v = await store.putAccount(sampleAccount('acme'), null);
      await updateAccount(store, 'acme', () => null);
      expect((await store.getAccount('acme'))?.version).toBe(v);
    });

    it('refuses to store what the schema refuses', async () => {
      const store = await fresh();
      const bad = { ...sampleAccount('acme'), advertiserId: 'not-digits' } as Account;
      await expect(store.putAccount(bad, null)).rejects.toThrow(/advertiserId/);
      expect(await store.getAccount('acme')).toBeNull();
    });
  });
}
