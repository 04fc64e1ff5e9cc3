import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, app, program, startSanWorld, waitForStatus, type SanWorld } from './harness';
import { cliAgainstTestServer } from '../../helpers/cli';

/* The `ttsync san` commands, compiled, against the test server and this file's workers. */

const ADV = ['7000000000000000401', '7000000000000000402'];
let w: SanWorld;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  w = await startSanWorld('cli', ADV);
  env = { TTSYNC_SAN_STORE: join(w.dir, 'san') };
}, 120_000);
afterAll(async () => {
  await w?.close();
});

const san = (args: string[]) => cliAgainstTestServer(['san', ...args], { env });
const queueFlags = () => ['--task-queue', w.queues.taskQueue, '--activity-queue', w.queues.activityQueue];

describe('ttsync san', () => {
  it('import, program apply, opt-in, status, report, announce-cutover refusals', async () => {
    const accountsFile = join(w.dir, 'accounts.json');
    writeFileSync(accountsFile, JSON.stringify({ accounts: [account('cli-a', ADV[0]!, [app('cli-a-ios', 'ios', '7200000000000000401')]), account('cli-b', ADV[1]!, [app('cli-b-android', 'android', 'N/A')])] }));
    const imported = await san(['import', '--accounts', accountsFile]);
    expect(imported).toMatchObject({ code: 0, stdout: 'cli-a: created\ncli-b: created\n' });
    expect((await san(['import', '--accounts', accountsFile])).stdout).toBe('cli-a: unchanged\ncli-b: unchanged\n');

    const programFile = join(w.dir, 'program.json');
    const p = program({ programId: 'tiktok-san', revision: 'cli-1', mode: 'opt_in', deadlineIn: 600, provisioningIn: 700, targetIn: 900 });
    writeFileSync(programFile, JSON.stringify(p));
    const applied = await san(['program', 'apply', '--program', programFile, ...queueFlags()]);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('program tiktok-san revision cli-1 (opt_in) stored in');
    expect(applied.stdout).toMatch(/cli-a: signalled san-migration:cli-a \(run [0-9a-f-]+\)\ncli-b: signalled san-migration:cli-b/);

    const optIn = await san(['opt-in', 'san-migration:cli-a', '--by', 'cto@cli-a.example', '--message', 'yes', ...queueFlags()]);
    expect(optIn.code).toBe(0);
    expect(optIn.stdout).toContain('cli-a: opt_in recorded by cto@cli-a.example');
    expect(optIn.stdout).toContain(`sentence: "${p.sentences.optIn}"`);

    // An opt-out after that opt-in, in an opt-in program, would undo it: refused (exit 1), saying why.
    const undo = await san(['opt-out', 'cli-a', '--by', 'cfo@cli-a.example', ...queueFlags()]);
    expect(undo.code).toBe(1);
    expect(undo.stderr).toContain('refused: program tiktok-san is in opt-in mode');

    // Cutover of an app not on SAN yet: refused, naming its state.
    const cut = await san(['announce-cutover', 'cli-a', '--app', 'cli-a-ios', '--at', '2030-01-01T00:00:00Z', ...queueFlags()]);
    expect(cut.code).toBe(1);
    expect(cut.stderr).toContain('has no SAN integration (state legacy)');
    const badTime = await san(['announce-cutover', 'cli-a', '--app', 'cli-a-ios', '--at', '2030-01-01 00:00']);
    expect(badTime.code).toBe(2);

    await waitForStatus(w, 'cli-a', (s) => s.decision !== null && s.next !== null, 'decision recorded');
    const status = await san(['status', 'cli-a', '--json']);
    expect(status.code).toBe(0);
    const s = JSON.parse(status.stdout) as { running: boolean; phase: string; decision: { by: string }; apps: { state: string }[]; next: { step: string } };
    expect(s).toMatchObject({ running: true, phase: 'awaiting_decision', decision: { by: 'cto@cli-a.example' }, apps: [{ state: 'legacy' }], next: { step: 'decision deadline' } });
    const text = await san(['status', 'cli-a']);
    expect(text.stdout).toContain('account cli-a (advertiser 7000000000000000401): awaiting_decision');
    expect(text.stdout).toContain('decision: opt_in by cto@cli-a.example');

    await waitForStatus(w, 'cli-b', (s) => s.next !== null, 'cli-b planned');
    const rep = await san(['report', '--json']);
    expect(JSON.parse(rep.stdout)).toEqual({
      accounts: [
        { accountId: 'cli-a', phase: 'awaiting_decision', running: true },
        { accountId: 'cli-b', phase: 'awaiting_decision', running: true },
      ],
      counts: { awaiting_decision: 2 },
    });
    for (const id of ['cli-a', 'cli-b']) await w.client.workflow.getHandle(`san-migration:${id}`).terminate('test over');
  }, 180_000);

  it('bad files are exit 2, naming the file and the JSON path', async () => {
    const bad = join(w.dir, 'bad-program.json');
    writeFileSync(bad, JSON.stringify({ programId: 'x', revision: '1', mode: 'sometimes', decisionDeadline: '2024-03-07', provisioningDate: '2024-03-11T00:00:00Z', targetCompletionDate: '2024-03-20T00:00:00Z', sentences: { optIn: 'a', optOut: 'b' } }));
    const r = await san(['program', 'apply', '--program', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${bad}: $.mode:`);
    expect(r.stderr).toContain(`${bad}: $.decisionDeadline: must be an ISO 8601 time with its zone`);
    const accounts = join(w.dir, 'bad-accounts.json');
    writeFileSync(accounts, JSON.stringify([{ accountId: 'x', advertiserId: 'abc', contacts: [], apps: [] }]));
    const a = await san(['import', '--accounts', accounts]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain(`${accounts}: $[0].advertiserId`);
    expect(a.stderr).toContain(`${accounts}: $[0].contacts: an account needs at least one contact`);
  }, 60_000);

  it('links create: the imported app through the template, with and without re-engagement', async () => {
    const template = join(__dirname, '..', '..', 'fixtures', 'san-migration', 'links-appsflyer-like.json');
    const links = (args: string[]) => cliAgainstTestServer(['links', 'create', ...args], { env });
    const r = await links(['--app', 'cli-a-ios', '--template', template, '--json']);
    expect(r.code).toBe(0);
    const l = JSON.parse(r.stdout) as { accountId: string; clickThroughUrl: string; viewThroughUrl: string; reengagement: boolean };
    expect(l).toMatchObject({ accountId: 'cli-a', reengagement: false });
    expect(l.clickThroughUrl).toBe(
      'https://app.mmp.example/id1234567890?pid=tiktokglobal_int&c=__CAMPAIGN_NAME__&af_c_id=__CAMPAIGN_ID__&af_adset=__AID_NAME__&af_adset_id=__AID__&af_ad=__CID_NAME__&af_ad_id=__CID__&af_channel=__PLACEMENT__&clickid=__CALLBACK_PARAM__&idfa=__IDFA__&af_ip=__IP__&af_ua=__UA__&af_lang=__SL__&af_click_lookback=7d',
    );
    const re = await links(['--app', 'cli-a-ios', '--template', template, '--reengagement']);
    expect(re.code).toBe(0);
    expect(re.stdout).toMatch(/^click-through: https:\/\/app\.mmp\.example\/id1234567890\?.*&is_retargeting=true\nview-through: {2}https:\/\/impression\.mmp\.example\/id1234567890\?.*&af_viewthrough_lookback=1d&is_retargeting=true\n$/);
    const missing = await links(['--app', 'nope', '--template', template]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no app nope in the partner-config store');
  }, 60_000);

  it('doctor --lifecycle san-migration: store, program, imported accounts, App IDs, token, campaigns, workflow', async () => {
    const file = join(w.dir, 'doctor-accounts.json');
    writeFileSync(file, JSON.stringify([account('cli-a', ADV[0]!, [app('cli-a-ios', 'ios', '7200000000000000401')]), account('cli-b', ADV[1]!, [app('cli-b-android', 'android', 'N/A')]), account('cli-new', ADV[0]!, [app('cli-new-ios', 'ios', '7200000000000000409')])]));
    const campaigns = (await fetch(`${w.emu.apiBaseUrl}/campaign/get/?advertiser_id=${ADV[1]}`, { headers: { 'Access-Token': w.token } }).then((r) => r.json())) as { data: { list: { campaign_id: string }[] } };
    await fetch(`${w.emu.url}/_emulator/campaigns`, { method: 'POST', body: JSON.stringify({ advertiser_id: ADV[1], campaign_id: campaigns.data.list[0]!.campaign_id, operation_status: 'DISABLE' }) });
    const q = w.queues.taskQueue;
    const r = await cliAgainstTestServer(['doctor', '--lifecycle', 'san-migration', '--config', file, '--json', '--task-queue', q, '--data-queue', q, '--tiktok-queue', q], {
      env: { ...env, TIKTOK_API_BASE_URL: w.emu.apiBaseUrl, SAN_TEST_TOKEN: w.token },
    });
    const run = JSON.parse(r.stdout) as { results: { subject: string; check: string; status: string; message: string; advice?: string }[] };
    const got = (subject: string, check: string) => run.results.find((x) => x.subject === subject && x.check === check);
    expect(got('deployment', 'san-store')).toMatchObject({ status: 'ok', message: expect.stringContaining('(TTSYNC_SAN_STORE) can be written and read') });
    expect(got('deployment', 'san-program')).toMatchObject({ status: 'ok', message: expect.stringContaining('program tiktok-san revision cli-1: opt_in') });
    expect(got('cli-a', 'imported')).toMatchObject({ status: 'ok', message: expect.stringContaining('decision opt_in by cto@cli-a.example') });
    expect(got('cli-a', 'token')).toMatchObject({ status: 'ok' });
    expect(got('cli-a', 'campaigns')).toMatchObject({ status: 'ok', message: '3 campaigns, none paused' });
    // The first test terminated it: the doctor says so and how to go on.
    expect(got('cli-a', 'workflow')).toMatchObject({ status: 'fail', advice: expect.stringContaining('ttsync rerun san-migration:cli-a') });
    expect(got('cli-b', 'app-ids')).toMatchObject({ status: 'warn', message: expect.stringContaining('cli-b-android') });
    expect(got('cli-b', 'campaigns')).toMatchObject({ status: 'warn', message: expect.stringContaining(`1 of 3 campaigns are paused: ${campaigns.data.list[0]!.campaign_id}`) });
    expect(got('cli-new', 'imported')).toMatchObject({ status: 'fail', advice: expect.stringContaining('ttsync san import') });
    expect(got('cli-new', 'workflow')).toMatchObject({ status: 'info', message: 'san-migration:cli-new not started' });
    expect(r.code).toBe(1);
  }, 90_000);
});
