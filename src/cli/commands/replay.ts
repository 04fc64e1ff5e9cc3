import { Command } from 'commander';
import { connectClient } from '../../temporal/connection';
import { payloadCodecFromEnv } from '../../temporal/payloadCodec';
import { installRuntimeLogging } from '../../temporal/logging';
import { fetchHistory, loadHistoryFile, replayAll, type NamedHistory } from '../../temporal/replay';
import { workflowSource } from '../../worker';
import { UsageError } from '../../config/errors';

interface ReplayOpts {
  workflowId?: string;
  runId?: string;
  file?: string[];
  bundle?: string;
}

export function registerReplayCommand(program: Command, summary: string): void {
  program
    .command('replay')
    .description(summary)
    .option('--workflow-id <id>', 'fetch this workflow\'s history from the server (TEMPORAL_ADDRESS)')
    .option('--run-id <id>', 'with --workflow-id: a specific run (default: the latest)')
    .option('--file <path...>', 'saved history JSON files (ttsync or `temporal workflow show --output json`)')
    .option('--bundle <path>', 'replay against a prebuilt workflow bundle instead of workflows/')
    .action(async (opts: ReplayOpts) => {
      if (Boolean(opts.workflowId) === Boolean(opts.file?.length))
        throw new UsageError('give exactly one of --workflow-id or --file');
      // Replay output is the verdict per history; the bundler's report would bury it.
      installRuntimeLogging('WARN');
      let histories: NamedHistory[];
      if (opts.workflowId) {
        const client = await connectClient();
        try {
          histories = [await fetchHistory(client, opts.workflowId, opts.runId)];
        } finally {
          await client.connection.close();
        }
      } else {
        histories = (opts.file ?? []).map(loadHistoryFile);
      }
      // Encrypted histories need the keys; plaintext ones (saved histories) pass through the codec.
      const codec = await payloadCodecFromEnv();
      const outcomes = await replayAll({ ...workflowSource({ workflowBundlePath: opts.bundle }), ...(codec ? { dataConverter: { payloadCodecs: [codec] } } : {}) }, histories);
      for (const o of outcomes) process.stdout.write(`${o.ok ? 'ok  ' : 'FAIL'} ${o.source}${o.error ? `\n     ${o.error}` : ''}\n`);
      const failed = outcomes.filter((o) => !o.ok).length;
      if (failed) throw new Error(`${failed} of ${outcomes.length} histories failed to replay`);
    });
}
