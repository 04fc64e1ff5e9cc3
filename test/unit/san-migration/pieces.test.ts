import { describe, expect, it } from 'vitest';
import { biMappingCsv, biMappingKey } from '../../../src/san-migration/biMapping';
import { mergeImported } from '../../../src/san-migration/client';
import { AccountSchema, ProgramSchema } from '../../../src/san-migration/model';
import { composeNotice } from '../../../src/san-migration/notices';
import { summaryOf } from '../../../src/san-migration/provision';
import { sampleAccount } from './partnerConfigContract';

describe('BI mapping file', () => {
  it('one row per rename under the documented header, quoted where CSV needs it', () => {
    const csv = biMappingCsv([
      { accountId: 'acme', appId: 'acme-ios', platform: 'ios', oldNetworkName: 'TikTok for Business – iOS', newNetworkName: 'TikTok for Business – SAN', effectiveAt: '2024-03-18T09:00:00.000Z' },
      { accountId: 'acme', appId: 'acme-x', platform: 'android', oldNetworkName: 'TikTok, legacy', newNetworkName: 'TikTok for Business – SAN', effectiveAt: '2024-03-19T09:00:00.000Z' },
    ]);
    expect(csv).toBe(
      'old_network_name,new_network_name,app_id,platform,effective_time\n' +
        'TikTok for Business – iOS,TikTok for Business – SAN,acme-ios,ios,2024-03-18T09:00:00.000Z\n' +
        '"TikTok, legacy",TikTok for Business – SAN,acme-x,android,2024-03-19T09:00:00.000Z\n',
    );
    expect(biMappingKey({ accountId: 'acme', appId: 'acme-ios', effectiveAt: '2024-03-18T09:00:00.000Z' })).toBe('bi-mappings/acme/acme-ios.2024-03-18T090000000Z.csv');
  });
});

describe('import keeps what the migration recorded', () => {
  it('decision, SAN integration, active side and cutover survive a re-import that changes the App ID and contacts', () => {
    const stored = sampleAccount('acme');
    stored.decision = { kind: 'opt_in', by: 'a@acme.example', at: '2024-01-01T00:00:00.000Z', sentence: 's', programId: 'p', programRevision: 'r' };
    stored.apps[0] = { ...stored.apps[0]!, san: { tiktokAppId: '7200000000000000001', eventMapping: [], fraudPostbacks: true, source: 'provisioned', configuredAt: '2024-03-11T00:00:00.000Z' }, active: 'san', reportingNetworkName: 'TikTok for Business – SAN' };
    const incoming = AccountSchema.parse({ ...sampleAccount('acme'), contacts: [{ email: 'new@acme.example' }] });
    const merged = mergeImported(stored, incoming);
    expect(merged.contacts).toEqual([{ email: 'new@acme.example' }]);
    expect(merged.decision).toEqual(stored.decision);
    expect(merged.apps[0]).toMatchObject({ active: 'san', reportingNetworkName: 'TikTok for Business – SAN', san: { source: 'provisioned' } });
    expect(summaryOf(merged).apps[0]).toMatchObject({ active: 'san', sanSource: 'provisioned', networkName: 'TikTok for Business – SAN' });
  });
});

describe('notices', () => {
  const program = ProgramSchema.parse({
    programId: 'tiktok-san',
    revision: 'r',
    mode: 'opt_out',
    decisionDeadline: '2024-03-07T23:59:59Z',
    provisioningDate: '2024-03-11T00:00:00Z',
    targetCompletionDate: '2024-03-20T00:00:00Z',
    sentences: { optIn: 'IN', optOut: 'OUT' },
  });
  const facts = { programId: program.programId, mode: program.mode, decisionDeadline: program.decisionDeadline, provisioningDate: program.provisioningDate, targetCompletionDate: program.targetCompletionDate };
  it('an opt-out reminder names the deadline, the provisioning date and the sentence, and warns against pausing', () => {
    const n = composeNotice('reminder', { ...facts, sentence: 'OUT' }, sampleAccount('acme'));
    expect(n.subject).toBe('TikTok SAN migration: automatic on 2024-03-11T00:00:00Z unless you opt out by 2024-03-07T23:59:59Z');
    expect(n.text).toContain('\n\nOUT\n\n');
    expect(n.text).toContain('Do not pause your TikTok campaigns');
  });
  it('no notice carries a contact address in its text', () => {
    for (const kind of ['reminder', 'provisioned', 'cutover_notice', 'short_notice', 'paused_campaigns', 'needs_app_id', 'target_missed', 'cut_over'] as const) {
      const n = composeNotice(kind, { ...facts, appId: 'acme-ios', appIds: ['acme-ios'], pausedCampaignIds: ['1'], advice: 'x', at: '2024-03-14T00:00:00Z', noticeHours: 72, noticeDays: 7 }, sampleAccount('acme'));
      expect(n.subject.length).toBeGreaterThan(0);
      expect(`${n.subject}\n${n.text}`).not.toContain('ua-lead@acme.example');
    }
  });
});
