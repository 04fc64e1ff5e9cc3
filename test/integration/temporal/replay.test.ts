import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

  it('replays an audience sync under the workflow id it was recorded with, and the id check holds in replay', async () => {
    const recorded = loadHistoryFile(join(HISTORIES, 'audienceSync-first-sync.json'));
    expect(recorded.workflowId).toBe('audience-sync:audiencesync-first-sync');
    const [own] = await replayAll({ workflowsPath: workflowsPath() }, [recorded]);
    expect(own?.ok).toBe(true);
    // The same events under another id: the workflow refuses to be a second writer, which the history does not show.
    const [other] = await replayAll({ workflowsPath: workflowsPath() }, [{ ...recorded, workflowId: 'audience-sync:someone-else' }]);
    expect(other?.ok).toBe(false);
  });

  it('takes a writer\'s id from its input when the file carries none (temporal workflow show --output json)', async () => {
    const { workflowId: _id, ...plain } = JSON.parse(readFileSync(join(HISTORIES, 'audienceSync-first-sync.json'), 'utf8')) as Record<string, unknown>;
    const dir = mkdtempSync(join(tmpdir(), 'ttsync-replay-'));
    try {
      const file = join(dir, 'downloaded.json');
      writeFileSync(file, JSON.stringify(plain));
      const loaded = loadHistoryFile(file);
      expect(loaded.workflowId).toBe('audience-sync:audiencesync-first-sync');
      expect((await replayAll({ workflowsPath: workflowsPath() }, [loaded]))[0]?.ok).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
