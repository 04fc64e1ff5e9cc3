import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { runCli, spawnCli, ROOT } from '../../helpers/cli';
import { testEnv, withWorkers } from '../../helpers/temporal';

const COMMANDS = ['dev', 'worker', 'replay', 'health', 'rerun', 'retention', 'cluster', 'usage'];

describe('ttsync CLI usage', () => {
  it('answers --help on the program and on every command', () => {
    const top = runCli(['--help']);
    expect(top.code).toBe(0);
    for (const c of COMMANDS) expect(top.stdout).toContain(c);
    for (const c of COMMANDS) {
      const r = runCli([c, '--help']);
      expect(r.code, `${c} --help`).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`Usage: ttsync ${c}`));
    }
  });

  it.each([
    [['dev', '--bogus'], /unknown option '--bogus'/],
    [['worker', '--roles', 'nope'], /unknown role nope/],
    [['dev', '--port', 'seventy'], /port number/],
    [['replay'], /exactly one of --workflow-id or --file/],
    [['nosuchcommand'], /unknown command/],
    [['rerun'], /missing required argument 'workflowId'/],
    [['rerun', 'audience-sync:x', '--reset-to', 'middle'], /argument 'middle' is invalid.*last-good, start/],
  ])('rejects %j with a one-line error and exit code 2', (args, message) => {
    const r = runCli(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  });

  it('replays saved history files and exits 0', () => {
    const file = join(ROOT, 'test', 'histories', 'healthCheck-signals.json');
    const r = runCli(['replay', '--file', file], { timeoutMs: 120_000 });
    expect(r.stderr).not.toMatch(/FAIL/);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`ok   ${file}`);
  });

  it('replay exits 1 naming a file that is not a history', () => {
    const r = runCli(['replay', '--file', join(ROOT, 'package.json')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/package\.json is not a workflow history/);
  });

  it('runs the healthCheck workflow through `ttsync health` and replays it by id from the server', async () => {
    const { TEMPORAL_ADDRESS } = testEnv();
    await withWorkers(async ({ taskQueue }) => {
      const child = spawnCli(['health', '--timer', '100ms', '--task-queue', taskQueue], { TEMPORAL_ADDRESS });
      const code = await new Promise<number | null>((res) => child.once('exit', res));
      expect(code, child.output()).toBe(0);
      const result = JSON.parse(child.output().trim().split('\n').pop() ?? '{}') as { workflowId: string; phase: string };
      expect(result.phase).toBe('done');
      const replay = runCli(['replay', '--workflow-id', result.workflowId], { env: { TEMPORAL_ADDRESS } });
      expect(replay.code, replay.stderr).toBe(0);
      expect(replay.stdout).toContain(`ok   server:${result.workflowId}`);
    });
  });
});
