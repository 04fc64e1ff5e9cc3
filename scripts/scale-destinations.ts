// Many destinations on the production topology (issue 20 §4): D audience-sync destinations
// with a Schedule each (hourly in production, compressed here), on `ttsync cluster up`
// (PostgreSQL, Temporal server, fake-gcs-server, the emulator, N workers) in a temp folder.
// Prints schedule actions per second, workflow task latency, per-round cycle times, history
// per run and the cluster's CPU per cycle; exits 1 when a destination missed a round, an
// audience is not exact, the rate limit was passed or a history grew past bounds.
//   npm run scale:destinations -- --destinations 1000 --qps 100
//   npm run scale:destinations -- --destinations 50 --rounds 2 --cadence 1m
//   npm run scale:destinations -- --destinations 1000 --qps 100 --cadence 20m --jitter 5m
// --data-step-timeout (default 2m) goes to `schedules apply`: the quick data steps' start-to-close.
import { parseArgs } from 'node:util';
import { durationMs, durationProblem } from '../src/config/duration';
import { runScaleDestinations } from './scale/destinationsRun';
import { endWithReport, runScript, wholeFlag } from './runArgs';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      destinations: { type: 'string', default: '1000' },
      workers: { type: 'string', default: '3' },
      qps: { type: 'string', default: '50' },
      rounds: { type: 'string', default: '3' },
      people: { type: 'string', default: '20' },
      cadence: { type: 'string' },
      jitter: { type: 'string' },
      // Quick data steps whose completion the loaded server lost wait this long before their retry (the workflow's default is 10m).
      'data-step-timeout': { type: 'string', default: '2m' },
      'history-sample': { type: 'string', default: '100' },
    },
    strict: true,
  });
  const stepProblem = durationMs(values['data-step-timeout']) === 0 ? 'must be longer than zero' : durationProblem(values['data-step-timeout']);
  if (stepProblem) throw new Error(`--data-step-timeout: ${stepProblem}`);
  const result = await runScaleDestinations({
    destinations: wholeFlag('destinations', values.destinations, 1),
    workers: wholeFlag('workers', values.workers, 1),
    qps: wholeFlag('qps', values.qps, 1),
    rounds: wholeFlag('rounds', values.rounds, 1),
    people: wholeFlag('people', values.people, 10),
    historySample: wholeFlag('history-sample', values['history-sample'], 1),
    ...(values.cadence ? { cadence: values.cadence } : {}),
    ...(values.jitter ? { jitter: values.jitter } : {}),
    dataStepTimeout: values['data-step-timeout'],
  });
  endWithReport(result);
}

runScript(main);
