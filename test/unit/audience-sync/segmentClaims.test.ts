import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SegmentConflictError, claimSegment, releaseSegmentClaim, segmentClaimKey } from '../../../src/audience-sync';
import type { SegmentClaimant } from '../../../src/audience-sync/config';
import { LocalBlobStore } from '../../../src/storage';
import { rejectionOf } from '../../helpers/rejection';

const dir = mkdtempSync(join(tmpdir(), 'ttsync-claims-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const registry = () => new LocalBlobStore(join(dir, `r${n++}`));
const claimant = (destinationId: string, advertiserId: string, over: Partial<SegmentClaimant> = {}): SegmentClaimant => ({
  destinationId,
  advertiserId,
  sourceSegmentId: 'segment/with spaces & slashes',
  separateCopy: false,
  audienceName: `audience of ${destinationId}`,
  ...over,
});
const at = new Date('2026-11-22T00:00:00Z');

describe('segment claim registry', () => {
  it('first claim owns the segment; a repeat writes nothing; same advertiser shares it; another advertiser is refused', async () => {
    const r = registry();
    expect(await claimSegment(r, claimant('a', '111'), at)).toMatchObject({ written: true, owner: { destinationId: 'a', advertiserId: '111' } });
    const gen = (await r.stat(segmentClaimKey('segment/with spaces & slashes'))).generation;
    expect(await claimSegment(r, claimant('a', '111'), at)).toMatchObject({ written: false });
    expect((await r.stat(segmentClaimKey('segment/with spaces & slashes'))).generation).toBe(gen);
    expect(await claimSegment(r, claimant('a2', '111'), at)).toMatchObject({ written: true, owner: { destinationId: 'a' } });
    const refused = await rejectionOf(claimSegment(r, claimant('b', '222'), at), SegmentConflictError);
    expect(refused.message).toContain('already synced to advertiser 111 by destination "a"');
    expect(refused.owner).toEqual({ destinationId: 'a', advertiserId: '111' });
    // Refused claims are not recorded; a separate copy with its own name is.
    expect(await claimSegment(r, claimant('b', '222', { separateCopy: true }), at)).toMatchObject({ written: true, owner: { destinationId: 'a' } });
  });

  it('a released claim lets the segment go to another advertiser', async () => {
    const r = registry();
    await claimSegment(r, claimant('old', '111'), at);
    await expect(claimSegment(r, claimant('new', '222'), at)).rejects.toBeInstanceOf(SegmentConflictError);
    expect(await releaseSegmentClaim(r, 'segment/with spaces & slashes', 'old')).toBe(true);
    expect(await releaseSegmentClaim(r, 'segment/with spaces & slashes', 'old')).toBe(false);
    expect(await claimSegment(r, claimant('new', '222'), at)).toMatchObject({ written: true, owner: { destinationId: 'new', advertiserId: '222' } });
  });

  it('a later owner cannot push out an earlier separate copy that has the same name', async () => {
    const r = registry();
    await claimSegment(r, claimant('copy', '222', { separateCopy: true, audienceName: 'shared name here' }), at);
    const e = await rejectionOf(claimSegment(r, claimant('late', '111', { audienceName: 'shared name here' }), at), SegmentConflictError);
    expect(e.message).toMatch(/destination "copy" claimed it first/);
    expect(await claimSegment(r, claimant('late', '111'), at)).toMatchObject({ written: true });
  });

  it('claims at the same moment from two advertisers: exactly one wins (compare-and-swap)', async () => {
    for (let round = 0; round < 5; round++) {
      const r = registry();
      const results = await Promise.allSettled([claimSegment(r, claimant('x', '111'), at), claimSegment(r, claimant('y', '222'), at)]);
      expect(results.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
      const lost = results.find((x) => x.status === 'rejected');
      expect(lost?.reason).toBeInstanceOf(SegmentConflictError);
    }
  });
});
