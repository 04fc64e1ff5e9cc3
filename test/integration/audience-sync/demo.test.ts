import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runDemo, type DemoResult } from '../../../src/audience-sync/demo/run';
import { formatDemoSummary } from '../../../src/audience-sync/demo/summary';
import { expectedValues, peopleOf, personLine, type SyntheticSpec } from '../../../src/audience-sync/demo/synthetic';
import { WorkflowIds } from '../../../src/temporal/workflowIds';
import { useAudienceHarness } from '../../helpers/audienceHarness';
import { runCli } from '../../helpers/cli';
import { sha } from '../../helpers/syntheticPeople';
import { testEnv, uniqueId } from '../../helpers/temporal';
import { decodedText } from '../../helpers/workflowHistory';

/*
 * The quickstart demo end to end on the test dev server: real workers on unique queues, its
 * own TikTok emulator over HTTP, a temp data dir. Expectations are computed here: digests
 * with node:crypto from the normalized values, adds/removes as set differences, rejects
 * from the invalid-row rotation (one invalid row per 500 people).
 */

const REASONS = ['invalid_email', 'invalid_phone', 'invalid_maid', 'zeroed_maid', 'malformed_row', 'too_long'];
const UI = 'http://127.0.0.1:8233';

const harness = useAudienceHarness({ name: 'demo', emulator: { processingDelay: 150 }, tiktokTimeoutMs: 10_000 });

function digestsOf(spec: SyntheticSpec): Set<string> {
  const out = new Set<string>();
  for (const i of peopleOf(spec)) {
    const v = expectedValues(i);
    for (const x of [v.email, v.phone, v.maid]) if (x !== null) out.add(sha(x));
  }
  return out;
}

/** Every run of the workflow (continue-as-new makes one per cycle), decoded payloads included, as text. */
async function historiesText(workflowId: string, minRuns: number): Promise<string> {
  const runIds: string[] = [];
  for (const deadline = Date.now() + 20_000; ; ) {
    runIds.length = 0;
    for await (const w of harness.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runIds.push(w.runId);
    if (runIds.length >= minRuns) break;
    if (Date.now() > deadline) throw new Error(`only ${runIds.length} runs of ${workflowId} are listed`);
    await new Promise((res) => setTimeout(res, 200));
  }
  const texts: string[] = [];
  for (const runId of runIds) texts.push(decodedText(await harness.client.workflow.getHandle(workflowId, runId).fetchHistory()));
  return texts.join('\n');
}

const minus = (a: Set<string>, b: Set<string>): number => [...a].filter((x) => !b.has(x)).length;

function rejectsExpected(people: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (let k = 0; k < Math.floor(people / 500); k++) out[REASONS[k % REASONS.length]!] = (out[REASONS[k % REASONS.length]!] ?? 0) + 1;
  return out;
}

const demo = (destinationId: string, people?: number): Promise<DemoResult> =>
  runDemo({
    client: harness.client,
    namespace: testEnv().TEMPORAL_NAMESPACE,
    emulatorUrl: harness.emu.url,
    dir: join(harness.dir, destinationId),
    uiUrl: UI,
    destinationId,
    ...(people ? { people } : {}),
    taskQueue: harness.taskQueue,
    queues: harness.queues,
    timing: { cadence: '1h', pollInitial: '50ms', pollMax: '300ms' },
    cycleTimeoutMs: 60_000,
  });

describe('ttsync demo on the dev server with the TikTok emulator', { timeout: 90_000 }, () => {
  it('default demo: 60,000 people then 5% churn; the emulator holds exactly the expected digests; summary counts match set differences', async () => {
    const destinationId = uniqueId('demo');
    const r = await demo(destinationId);
    const [s1, s2] = r.syncs;
    expect(r.syncs).toHaveLength(2);
    expect(s1!.snapshot.people).toBe(60_000);
    expect(s1!.snapshot.rows).toBeGreaterThanOrEqual(50_000);
    // 5% leave, as many enter.
    expect(s2!.snapshot.spec).toMatchObject({ people: 60_000, exitEvery: 20, enters: 3_000 });

    const d1 = digestsOf(s1!.snapshot.spec);
    const d2 = digestsOf(s2!.snapshot.spec);
    // Each person has an email; most a phone, many a MAID: ids of all three kinds.
    expect(d1.size).toBeGreaterThan(2 * 60_000);
    expect(s1!.summary).toMatchObject({ ok: true, phase: 'synced', added: d1.size, removed: 0, rejected: rejectsExpected(60_000) });
    expect(s2!.summary).toMatchObject({ ok: true, phase: 'synced', added: minus(d2, d1), removed: minus(d1, d2), rejected: rejectsExpected(57_000 + 3_000) });
    expect(minus(d2, d1)).toBeGreaterThan(0);
    expect(minus(d1, d2)).toBeGreaterThan(0);

    const audience = await harness.control<{ ids: string[]; size: number; cover_num: number; name: string }>('GET', `audiences/${r.audienceId}`);
    expect(audience.ids.sort()).toEqual([...d2].sort());
    expect(r.emulatorSize).toBe(d2.size);
    expect(r.coverNum).toBe(audience.cover_num);
    expect(r.coverNum).toBeGreaterThan(0.5 * d2.size);
    expect(r.coverNum).toBeLessThan(d2.size);
    // The demo's name with the create's marker (src/audience-sync/createMarker.ts), as reported.
    expect(audience.name).toMatch(/^ttsync demo .+ ttsync-[0-9a-f]{12}$/);
    expect(audience.name).toBe(r.audienceName);

    // Each bad row is in the rejects file with its reason.
    const rejectsPath = fileURLToPath(s1!.summary.rejectsUris[0]!);
    const lines = readFileSync(rejectsPath, 'utf8').trim().split('\n').slice(1);
    expect(lines).toHaveLength(120);
    expect(lines.filter((l) => l.includes(',zeroed_maid,'))).toHaveLength(20);
    expect(statSync(s2!.snapshot.path).size).toBe(s2!.snapshot.bytes);

    const text = formatDemoSummary(r);
    const workflowId = WorkflowIds.audienceSync(destinationId);
    expect(r.workflowUrl).toBe(`${UI}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`);
    expect(text).toContain(r.workflowUrl);
    expect(text).toContain(`${d2.size.toLocaleString('en-US')} ids (equal to the valid ids of the last snapshot)`);
    expect(text).toContain(`added ${minus(d2, d1).toLocaleString('en-US')} ids, removed ${minus(d1, d2).toLocaleString('en-US')} ids`);
    expect(text).toContain('zeroed_maid 20');
    expect(text).toContain(rejectsPath);
    const filesDir = join(r.workdir, 'runs', s2!.status.lastSync!.runId, 'files');
    expect(text).toContain(filesDir);
    expect(existsSync(filesDir)).toBe(true);
    // The token lives in a file the worker reads; it is not in the summary.
    const token = readFileSync(join(r.dir, 'tiktok-access-token'), 'utf8').trim();
    expect(text).not.toContain(token);

    // Privacy: no history of any run of the workflow holds a person's email, phone or MAID
    // (raw as exported or normalized) or the token.
    const histories = await historiesText(workflowId, 3);
    expect(histories).toContain('"destinationId"');
    expect(histories).not.toContain(token);
    const personal = new Set<string>();
    const sample: string[] = [];
    for (const spec of [s1!.snapshot.spec, s2!.snapshot.spec])
      for (const i of peopleOf(spec)) {
        const v = expectedValues(i);
        const raw = personLine(i).trim().split(',');
        for (const x of [v.email, v.phone, v.phone?.slice(1), v.maid, ...raw]) if (x && x.trim().length >= 8) personal.add(x.trim().toLowerCase());
        // Raw phones have spaces and brackets, so a sample of them is searched for as they are.
        if (i % 500 === 0) sample.push(v.email, ...raw.filter((x) => x.trim().length >= 8).map((x) => x.trim()), ...(v.maid ? [v.maid] : []));
      }
    expect(personal.size).toBeGreaterThan(150_000);
    const leaked = histories
      .toLowerCase()
      .split(/[\s"',;:{}[\]\\()=<>]+/)
      .filter((t) => personal.has(t) || personal.has(t.replace(/^\+/, '')));
    expect(leaked).toEqual([]);
    for (const v of sample) expect(histories.includes(v), 'a personal value inside a longer history string').toBe(false);
  });

  it('bad usage exits 2 with one line', () => {
    const few = runCli(['demo', '--people', '12']);
    expect(few.code).toBe(2);
    expect(few.stderr.trim().split('\n')).toHaveLength(1);
    expect(few.stderr).toMatch(/--people.*must be a whole number from 1,000/);
    const noEmu = runCli(['dev', '--demo', '--no-emulator', '--port', '1', '--ui-port', '2']);
    expect(noEmu.code).toBe(2);
    expect(noEmu.stderr).toContain('--demo syncs to the TikTok emulator; drop --no-emulator');
  });
});
