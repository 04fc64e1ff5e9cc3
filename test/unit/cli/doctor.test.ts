import { describe, expect, it } from 'vitest';
import { formatDoctor, runCheck, runChecks, runDoctor } from '../../../src/cli/commands/doctor';
import { fail, info, ok, warn, type DoctorCheck, type DoctorSource } from '../../../src/temporal/doctor';
import { testTempDir } from '../../helpers/tempDir';

/*
 * The doctor's runner without any service: timeouts, crashes, prerequisites, the report and
 * the exit rule. The checks themselves meet planted faults in
 * test/integration/audience-sync/doctor.test.ts.
 */

const check = (name: string, run: DoctorCheck['run'], needs?: string[]): DoctorCheck => ({ name, run, ...(needs ? { needs } : {}) });
const queues = { control: 'c', data: 'd', tiktok: 't' };

describe('doctor runner', () => {
  it('passes an outcome through, with its time', async () => {
    const r = await runCheck('s', check('a', async () => warn('close to the cap', 'clean up')), 1000);
    expect(r).toMatchObject({ subject: 's', check: 'a', status: 'warn', message: 'close to the cap', advice: 'clean up' });
    expect(r.ms).toBeGreaterThanOrEqual(0);
  });

  it('reports a check that throws, synchronously or not, as FAIL with its message', async () => {
    const sync = await runCheck('s', check('a', () => { throw new Error('boom'); }), 1000);
    const async_ = await runCheck('s', check('b', async () => { throw new TypeError('bang'); }), 1000);
    expect(sync).toMatchObject({ status: 'fail', message: 'the check failed: boom' });
    expect(async_).toMatchObject({ status: 'fail', message: 'the check failed: bang' });
  });

  it('reports a check that hangs as FAIL after its timeout, and aborts it', async () => {
    let aborted = false;
    const t0 = Date.now();
    const r = await runCheck(
      's',
      check('slow', (signal) => new Promise(() => signal.addEventListener('abort', () => (aborted = true)))),
      80,
    );
    expect(r.status).toBe('fail');
    expect(r.message).toBe('no answer within 80ms');
    expect(r.advice).toMatch(/--timeout/);
    expect(aborted).toBe(true);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it("a check's own timeout wins over the runner's", async () => {
    const r = await runCheck('s', { name: 'x', timeoutMs: 30, run: () => new Promise(() => undefined) }, 60_000);
    expect(r.message).toBe('no answer within 30ms');
  });

  it('skips a check whose prerequisite did not pass (of its subject, else of the deployment); warn and info pass', async () => {
    const outer = new Map([
      ['temporal', { subject: 'deployment', check: 'temporal', status: 'fail' as const, message: 'down', ms: 1 }],
      ['registry', { subject: 'deployment', check: 'registry', status: 'info' as const, message: 'local', ms: 1 }],
    ]);
    let ran = 0;
    const results = await runChecks(
      'dest',
      [
        check('token', async () => fail('revoked', 'reauthorize')),
        check('advertiser', async () => (ran++, ok('x')), ['token']),
        check('soft', async () => warn('near', 'hmm')),
        check('after-soft', async () => (ran++, ok('ran')), ['soft']),
        check('schedule', async () => (ran++, ok('x')), ['temporal']),
        check('claims', async () => (ran++, info('ran')), ['registry']),
        check('typo', async () => ok('x'), ['nothing']),
      ],
      1000,
      outer,
    );
    expect(results.map((r) => [r.check, r.status])).toEqual([
      ['token', 'fail'],
      ['advertiser', 'skip'],
      ['soft', 'warn'],
      ['after-soft', 'ok'],
      ['schedule', 'skip'],
      ['claims', 'info'],
      ['typo', 'fail'],
    ]);
    expect(results[1]!.message).toBe('not run: token did not pass');
    expect(results[4]!.message).toBe('not run: deployment temporal did not pass');
    expect(ran).toBe(2);
  });

  it('runs every config even when Temporal is unreachable, and fails the run', async () => {
    const source: DoctorSource<{ id: string; bad?: boolean }> = {
      lifecycle: 'test',
      load: async () => [],
      subjectOf: (c) => c.id,
      deploymentChecks: () => [check('shared', async () => ok('shared store fine'))],
      checks: (c) => {
        if (c.bad) throw new Error('cannot plan');
        return [check('local', async () => ok(`${c.id} fine`)), check('needs-shared', async () => ok('y'), ['shared']), check('needs-temporal', async () => ok('z'), ['temporal'])];
      },
    };
    const run = await runDoctor(source, [{ id: 'one' }, { id: 'two', bad: true }], {
      queues,
      expectSchedules: false,
      timeoutMs: 1000,
      connect: () => Promise.reject(new Error('connection refused')),
      // The notices and encryption checks read the given environment, never the developer's: an
      // outbox in a fresh folder and a webhook default route need no service to pass; the
      // payload key is given inline (env: reference).
      env: {
        TTSYNC_NOTICES: testTempDir('doctor-notices-'),
        TTSYNC_NOTICE_WEBHOOK: 'http://127.0.0.1:9/alerts',
        TTSYNC_PAYLOAD_KEYS: 'k1=env:DOCTOR_TEST_KEY',
        DOCTOR_TEST_KEY: '0'.repeat(64),
      },
    });
    expect(run.ok).toBe(false);
    const by = (subject: string, name: string) => run.results.find((r) => r.subject === subject && r.check === name);
    expect(by('deployment', 'temporal')).toMatchObject({ status: 'fail', message: expect.stringMatching(/cannot reach Temporal at .*connection refused/) });
    for (const name of ['search-attributes', 'poller-control', 'poller-data', 'poller-tiktok']) expect(by('deployment', name)?.status).toBe('skip');
    expect(by('deployment', 'shared')?.status).toBe('ok');
    expect(by('deployment', 'notices')?.status).toBe('ok');
    expect(by('deployment', 'encryption')).toMatchObject({ status: 'ok', message: expect.stringContaining('under key k1') });
    expect(by('one', 'local')?.status).toBe('ok');
    expect(by('one', 'needs-shared')?.status).toBe('ok');
    expect(by('one', 'needs-temporal')?.status).toBe('skip');
    expect(by('two', 'checks')).toMatchObject({ status: 'fail', message: 'cannot build the checks: cannot plan' });
    expect(run.counts).toEqual({ ok: 5, info: 0, warn: 0, fail: 2, skip: 5 });

    const text = formatDoctor(run);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(run.results.length + 1);
    expect(lines[0]).toMatch(/^deployment +temporal +FAIL +cannot reach Temporal at \S+: connection refused {2}=> check TEMPORAL_ADDRESS/);
    expect(lines.find((l) => l.startsWith('one ') && / local /.test(l))).toMatch(/ ok +one fine$/);
    expect(lines.at(-1)).toBe('2 problems found: 2 configs, 12 checks: 5 ok, 0 info, 0 warn, 2 FAIL, 5 skipped');
  });
});
