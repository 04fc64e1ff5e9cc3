import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as workflows from '../../../workflows';
import { loadHistoryFile, replayAll } from '../../../src/temporal/replay';
import { workflowsPath } from '../../../src/worker';

const HISTORIES = join(__dirname, '..', '..', 'histories');
const files = readdirSync(HISTORIES)
  .filter((f) => f.endsWith('.json'))
  .map((f) => join(HISTORIES, f));

function workflowTypeOf(file: string): string | undefined {
  const { history } = loadHistoryFile(file);
  return history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? undefined;
}

describe('replay of saved histories against the current workflow code', () => {
  it('keeps a saved history for every workflow type', () => {
    const types = Object.entries(workflows)
      .filter(([, v]) => typeof v === 'function')
      .map(([k]) => k);
    expect(types.length).toBeGreaterThan(0);
    const covered = new Set(files.map(workflowTypeOf));
    expect(types.filter((t) => !covered.has(t))).toEqual([]);
  });

  it('replays every saved history without non-determinism', async () => {
    const outcomes = await replayAll({ workflowsPath: workflowsPath() }, files.map(loadHistoryFile));
    expect(outcomes.filter((o) => !o.ok)).toEqual([]);
    expect(outcomes).toHaveLength(files.length);
  });

  it('fails when a workflow changes its command order', async () => {
    const healthFiles = files.filter((f) => workflowTypeOf(f) === 'healthCheck');
    expect(healthFiles.length).toBeGreaterThan(0);
    const outcomes = await replayAll(
      { workflowsPath: join(__dirname, '..', '..', 'fixtures', 'reordered-workflows', 'index.ts') },
      healthFiles.map(loadHistoryFile),
    );
    for (const o of outcomes) {
      expect(o.ok).toBe(false);
      expect(o.error).toMatch(/DeterminismViolation|[Nn]ondetermin/);
    }
  });
});
