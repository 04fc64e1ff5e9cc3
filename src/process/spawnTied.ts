import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/**
 * The watchdog: runs the command in the background, forwards TERM/INT/HUP to it, and kills
 * it when its stdin (a pipe from our process) reaches EOF, which happens when our process
 * dies, even by SIGKILL or a test runner's timeout, where no exit handler runs.
 */
// Background jobs of a non-interactive shell get stdin from /dev/null, so the pipe is kept
// on fd 3 for the watcher and closed for the command.
const WATCHDOG = [
  'exec 3<&0',
  '"$@" </dev/null 3<&- & pid=$!',
  'trap \'kill -TERM $pid 2>/dev/null\' TERM INT HUP',
  '(while read -r _; do :; done <&3; kill -TERM $pid 2>/dev/null) &',
  'exec 3<&-',
  'wait $pid; st=$?',
  'wait $pid 2>/dev/null',
  'exit $st',
].join('\n');

export type TiedSpawnOptions = Omit<SpawnOptions, 'stdio'> & {
  /** Where the child's stdout and stderr go: a file descriptor, 'ignore' or 'pipe'. */
  output?: number | 'ignore' | 'pipe';
};

/** spawn() whose child cannot outlive this process. */
export function spawnTied(command: string, args: string[], opts: TiedSpawnOptions = {}): ChildProcess {
  const { output = 'ignore', ...rest } = opts;
  return spawn('/bin/sh', ['-c', WATCHDOG, 'ttsync-watchdog', command, ...args], {
    ...rest,
    stdio: ['pipe', output, output],
  });
}
