import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openBlobStore } from '../../../src/storage';
import { audienceLeaseKey, type AudienceLease } from '../../../src/storage/registry';
import { audiencesFromRegistry } from '../../../src/usage-report/store';

/*
 * A 3PD destination that created its audience names no audienceId in its config: the report
 * finds the audience through the id lease its audience sync took in the deployment registry.
 */

const dir = mkdtempSync(join(tmpdir(), 'ttsync-usage-registry-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('audiences from the registry', () => {
  it('takes the latest id lease of each destination of the advertiser, nothing else', async () => {
    const registry = openBlobStore(dir);
    const lease = (destinationId: string, advertiserId: string, kind: 'id' | 'name', value: string, takenAt: string): Promise<unknown> => {
      const body: AudienceLease = { schema: 1, advertiserId, audience: { kind, value }, holder: { destinationId, workflowId: `audience-sync:${destinationId}` }, takenAt };
      return registry.write(audienceLeaseKey(advertiserId, { kind, value }), JSON.stringify(body));
    };
    await lease('created', '42', 'name', 'Created audience', '2026-09-01T00:00:00Z');
    await lease('created', '42', 'id', '111', '2026-09-01T00:00:01Z');
    await lease('created', '42', 'id', '222', '2026-10-03T00:00:00Z');
    await lease('elsewhere', '43', 'id', '333', '2026-09-01T00:00:00Z');
    await lease('first-party', '42', 'id', '444', '2026-09-01T00:00:00Z');
    const found = await audiencesFromRegistry(registry, '42', ['created', 'elsewhere', 'never-synced']);
    expect([...found].map(([d, f]) => [d, f.audienceId, f.others])).toEqual([['created', '222', 1]]);
    expect(found.get('created')!.uri).toBe(registry.uriOf(audienceLeaseKey('42', { kind: 'id', value: '222' })));
  });
});
