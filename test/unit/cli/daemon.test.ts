import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startDaemon, waitUntil } from '../../../src/cli/topology/daemon';
import { testTempDir } from '../../helpers/tempDir';

describe('waitUntil, for a daemon that dies before it is ready', () => {
  it("quotes the end of the daemon's log, so the reason survives the folder's removal", async () => {
    const dir = testTempDir('ttsync-daemon-');
    const logFile = join(dir, 'server.log');
    const lines = Array.from({ length: 30 }, (_, i) => `line_${i + 1}`);
    const pid = startDaemon('sh', ['-c', `printf '%s\\n' ${lines.join(' ')}; echo 'bind: address already in use' >&2; exit 3`], { logFile });
    const err = await waitUntil('a server', () => Promise.resolve(false), { timeoutMs: 10_000, pid, logFile }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/^a server exited before it was ready; see .*server\.log; its log ends:\n/);
    const quoted = err!.message.split('\n').slice(1);
    // The last 12 lines, the error included, and nothing before them.
    expect(quoted).toEqual([...lines.slice(-11).map((l) => `  ${l}`), '  bind: address already in use']);
  });

  it('says only that it exited when there is no log to quote', async () => {
    const dir = testTempDir('ttsync-daemon-');
    const pid = startDaemon('sh', ['-c', 'exit 0'], { logFile: join(dir, 'quiet.log') });
    await expect(waitUntil('a quiet one', () => Promise.resolve(false), { timeoutMs: 10_000, pid, logFile: join(dir, 'quiet.log') })).rejects.toThrow(
      /^a quiet one exited before it was ready; see .*quiet\.log$/,
    );
  });
});
