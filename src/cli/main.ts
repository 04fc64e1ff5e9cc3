import { runCli } from './program';

/**
 * Exits explicitly once output is flushed: the Temporal runtime (its log forwarding, its
 * native connections) can keep the event loop alive after a command has finished.
 */
function exitAfterFlush(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

runCli(process.argv).then(exitAfterFlush, (err: unknown) => {
  process.stderr.write(`ttsync: ${String(err)}\n`);
  exitAfterFlush(1);
});
