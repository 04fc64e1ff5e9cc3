import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import type { AudienceSyncInput } from '../../../src/audience-sync/messages';
import { checkedInput, inputShapeProblem } from '../../../workflows/audience-sync/context';

const config = {
  destinationId: 'vip-buyers',
  advertiserId: '7000000001',
  audienceName: 'VIP buyers',
  action: 'create',
  identifiers: { email: 'EMAIL' },
  accessToken: 'env:TIKTOK_TOKEN',
  sourceSegmentId: 'seg-vip',
  storage: { workdir: 'gs://acme-ttsync/work' },
};

function failureOf(input: unknown): ApplicationFailure {
  try {
    checkedInput(input as AudienceSyncInput);
  } catch (err) {
    if (err instanceof ApplicationFailure) return err;
    throw err;
  }
  throw new Error('accepted');
}

describe('the workflow input as pasted into the UI', () => {
  it('a destination config without its {"config": …} wrapper: says to wrap it, with an example', () => {
    const f = failureOf(config);
    expect(f.type).toBe('InvalidConfig');
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toContain('looks like a destination config on its own');
    expect(f.message).toContain('wrap it as {"config": {...}, "snapshot": {"uri": ...}}');
    expect(f.message).not.toContain('expected object, received undefined');
  });

  it('input that is not an object, or lacks config, shows the expected shape', () => {
    expect(inputShapeProblem(undefined)).toMatch(/expected a JSON object \{"config": .*got undefined/);
    expect(inputShapeProblem([config])).toContain('got an array');
    expect(inputShapeProblem({ snapshot: { uri: 'gs://a/b.csv' } })).toMatch(/"config" is missing \(the input has "snapshot"\); expected \{"config"/);
    expect(inputShapeProblem({ config: 'vip-buyers' })).toContain('"config" must be the destination config object, got string');
  });

  it('a wrapped config goes on to the config check (problems under their JSON paths)', () => {
    expect(inputShapeProblem({ config })).toBeNull();
    const f = failureOf({ config: { ...config, advertiserId: 'abc' } });
    expect(f.message).toMatch(/^invalid destination config: \$\.advertiserId: /);
  });
});
