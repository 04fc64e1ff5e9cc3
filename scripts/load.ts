// Load held (issue 18): many small audience-sync destinations on one worker process against
// the emulator's 10 requests/s per app, on a compressed cadence of at least destinations ×
// TikTok calls per cycle ÷ QPS. Prints the rate the emulator saw, per-round latencies, the
// audiences' exactness, starvation and history sizes; exits 1 when any of them fails.
//   npm run load                                   100 destinations, 3 rounds
//   npm run load -- --destinations 20 --rounds 2
import { parseArgs } from 'node:util';
import { runLoad } from './chaos/loadRun';
import { endWithReport, runScript, wholeFlag } from './runArgs';

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
  const result = await runLoad({
    destinations: wholeFlag('destinations', values.destinations, 1),
    rounds: wholeFlag('rounds', values.rounds, 2),
    people: wholeFlag('people', values.people, 10),
    keep: values.keep,
  });
  endWithReport(result);
}

runScript(main);
