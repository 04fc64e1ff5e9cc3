// Many destinations on the production topology (issue 20 §4): D audience-sync destinations
// with a Schedule each (hourly in production, compressed here), on `ttsync cluster up`
// (PostgreSQL, Temporal server, fake-gcs-server, the emulator, N workers) in a temp folder.
// Prints schedule actions per second, workflow task latency, per-round cycle times, history
// per run and the cluster's CPU per cycle; exits 1 when a destination missed a round, an
// audience is not exact, the rate limit was passed or a history grew past bounds.
//   npm run scale:destinations -- --destinations 1000 --qps 100
//   npm run scale:destinations -- --destinations 50 --rounds 2 --cadence 1m
import { parseArgs } from 'node:util';
import { runScaleDestinations } from './scale/destinationsRun';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      destinations: { type: 'string', default: '1000' },
      workers: { type: 'string', default: '3' },
      qps: { type: 'string', default: '50' },
      rounds: { type: 'string', default: '3' },
      people: { type: 'string', default: '20' },
      cadence: { type: 'string' },
      'history-sample': { type: 'string', default: '100' },
    },
    strict: true,
  });
  const int = (name: string, v: string, min: number): number => {
    const x = Number(v);
    if (!Number.isInteger(x) || x < min) throw new Error(`--${name}: "${v}" is not a whole number of at least ${min}`);
    return x;
  };
  const result = await runScaleDestinations({
    destinations: int('destinations', values.destinations, 1),
    workers: int('workers', values.workers, 1),
    qps: int('qps', values.qps, 1),
    rounds: int('rounds', values.rounds, 1),
    people: int('people', values.people, 10),
    historySample: int('history-sample', values['history-sample'], 1),
    ...(values.cadence ? { cadence: values.cadence } : {}),
  });
  console.log('');
  for (const line of result.report) console.log(line);
  process.exitCode = result.ok ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
