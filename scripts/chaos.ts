// Chaos with one command (issue 18): several audience syncs and events exports, a SAN
// migration, a retention dataset and a usage report on worker processes SIGKILLed at random,
// a Temporal dev server SIGKILLed and restarted on its database file, TikTok and GCS faults;
// then every audience, event store, partner-config store, dataset, report and email is
// checked against expectations computed from the inputs. Prints kills survived, faults
// injected and lost / duplicated counts; exits 1 when anything is lost, duplicated or
// unexpected, or something did not finish.
//   npm run chaos -- --minutes 10
//   npm run chaos -- --minutes 2 --audiences 6 --events 2 --workers 3 --seed 7 --keep
//   npm run chaos -- --minutes 2 --lifecycles none        (audience sync and events export only)
import { parseArgs } from 'node:util';
import { runChaos } from './chaos/chaosRun';
import { LIFECYCLES, type LifecycleName } from './chaos/lifecycles';
import { endWithReport, runScript, wholeFlag } from './runArgs';

function lifecycleList(v: string): LifecycleName[] {
  if (v === 'none') return [];
  const names = v.split(',').map((x) => x.trim()).filter(Boolean);
  const bad = names.filter((x) => !(LIFECYCLES as readonly string[]).includes(x));
  if (bad.length) throw new Error(`--lifecycles: ${bad.join(', ')} unknown; give some of ${LIFECYCLES.join(', ')} (comma-separated), or none`);
  return names as LifecycleName[];
}

function positive(name: string, v: string, integer: boolean): number {
  const x = Number(v);
  if (!(x > 0) || (integer && !Number.isInteger(x))) throw new Error(`--${name}: "${v}" is not a positive ${integer ? 'whole number' : 'number'}`);
  return x;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '10' },
      audiences: { type: 'string', default: '4' },
      events: { type: 'string', default: '2' },
      workers: { type: 'string', default: '2' },
      seed: { type: 'string', default: '20261203' },
      'settle-minutes': { type: 'string', default: '10' },
      lifecycles: { type: 'string', default: LIFECYCLES.join(',') },
      keep: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const result = await runChaos({
    durationMs: positive('minutes', values.minutes, false) * 60_000,
    audiences: positive('audiences', values.audiences, true),
    eventsDestinations: wholeFlag('events', values.events, 0),
    workers: positive('workers', values.workers, true),
    seed: positive('seed', values.seed, true),
    settleTimeoutMs: positive('settle-minutes', values['settle-minutes'], false) * 60_000,
    lifecycles: lifecycleList(values.lifecycles),
    keep: values.keep,
  });
  endWithReport(result);
}

runScript(main);
