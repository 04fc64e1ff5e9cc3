import { runInNewContext } from 'node:vm';
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { formatLogLine, formatLogMeta } from '../../../src/temporal/logging';

describe('worker log lines', () => {
  it('prints an error with its type, message and stack instead of {}', () => {
    const err = ApplicationFailure.nonRetryable('invalid destination config: $: wrap it', 'InvalidConfig');
    const meta = JSON.parse(formatLogMeta({ error: err, workflowId: 'audience-sync:x' })) as { error: Record<string, unknown>; workflowId: string };
    expect(meta.workflowId).toBe('audience-sync:x');
    expect(meta.error.type).toBe('InvalidConfig');
    expect(meta.error.message).toBe('invalid destination config: $: wrap it');
    expect(String(meta.error.stack)).toContain('ApplicationFailure: invalid destination config');
  });

  it("names a workflow error that crossed from the workflow thread (own fields lost) by its class", () => {
    // Workflow logs reach the worker's logger through a structured clone: the type is gone, the stack is not.
    const cloned = structuredClone({ error: ApplicationFailure.nonRetryable('bad input', 'InvalidConfig') });
    const meta = JSON.parse(formatLogMeta(cloned)) as { error: Record<string, unknown> };
    expect(meta.error).toMatchObject({ type: 'ApplicationFailure', message: 'bad input' });
  });

  it('recognises errors of another V8 context (the workflow sandbox)', () => {
    const foreign: unknown = runInNewContext('new TypeError("boom")');
    expect(foreign instanceof Error).toBe(false);
    const meta = JSON.parse(formatLogMeta({ error: foreign })) as { error: Record<string, unknown> };
    expect(meta.error).toMatchObject({ type: 'TypeError', message: 'boom' });
  });

  it('keeps the cause of an activity failure, itself serialised', () => {
    const cause = ApplicationFailure.create({ message: 'snapshot gone', type: 'SnapshotUnreadable' });
    const err = new ActivityFailure('Activity task failed', 'inspectSnapshot', '3', RetryState.NON_RETRYABLE_FAILURE, undefined, cause);
    const meta = JSON.parse(formatLogMeta({ error: err })) as { error: { type: string; cause: Record<string, unknown> } };
    expect(meta.error.type).toBe('ActivityFailure');
    expect(meta.error.cause).toMatchObject({ type: 'SnapshotUnreadable', message: 'snapshot gone' });
  });

  it('survives bigints and cycles, and stays on one line', () => {
    const loop: Record<string, unknown> = { n: 1n };
    loop.self = loop;
    const line = formatLogLine({ timestampNanos: 1_700_000_000_000_000_000n, level: 'WARN', message: 'Workflow failed', meta: { loop, error: new Error('a\nb') } });
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    expect(line).toMatch(/^2023-11-14T22:13:20\.000Z WARN Workflow failed \{/);
    expect(line).toContain('"n":"1"');
    expect(line).toContain('"self":"[repeated]"');
    expect(line).toContain('"message":"a\\nb"');
  });
});
