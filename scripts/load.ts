// Load held (issue 18): many small audience-sync destinations on one worker process against
// the emulator's 10 requests/s per app, on a compressed cadence of at least destinations ×
// TikTok calls per cycle ÷ QPS. Prints the rate the emulator saw, per-round latencies, the
// audiences' exactness, starvation and history sizes; exits 1 when any of them fails.
//   npm run load                                   100 destinations, 3 rounds
//   npm run load -- --destinations 20 --rounds 2
import { parseArgs } from 'node:util';
import { runLoad } from './chaos/loadRun';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      destinations: { type: 'string', default: '100' },
      rounds: { type: 'string', default: '3' },
      people: { type: 'string', default: '150' },
      keep: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const int = (name: string, v: string, min: number): number => {
    const x = Number(v);
    if (!Number.isInteger(x) || x < min) throw new Error(`--${name}: "${v}" is not a whole number of at least ${min}`);
    return x;
  };
  const result = await runLoad({
    destinations: int('destinations', values.destinations, 1),
    rounds: int('rounds', values.rounds, 2),
    people: int('people', values.people, 10),
    keep: values.keep,
  });
  console.log('');
  for (const line of result.report) console.log(line);
  process.exitCode = result.ok ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
