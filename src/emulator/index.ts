// The emulator's public surface: what the CLI, tests and scripts use.
export {
  DEFAULT_REDIRECT_URIS,
  EmulatorOptionsSchema,
  parseFaultSpec,
  type EmulatorOptions,
  type EmulatorOptionsInput,
  type Faults,
} from './options';
export { EmulatorState } from './state';
export { EmulatorControl } from './control';
export { DigestSet } from './digestSet';
export { syntheticDay, campaignIds, syntheticAdgroupIds, centsText } from './report';
export { ensureEmulator, emulatorAnswers, type EnsuredEmulator } from './ensure';
export { startEmulator, type RunningEmulator } from './start';
