import type { AddressInfo } from 'node:net';
import { EmulatorControl } from './control';
import { EmulatorOptionsSchema, type EmulatorOptions, type EmulatorOptionsInput } from './options';
import { API_PREFIX, EmulatorServer } from './server';
import { EmulatorState } from './state';

export {
  EmulatorOptionsSchema,
  parseFaultSpec,
  type EmulatorOptions,
  type EmulatorOptionsInput,
  type Faults,
} from './options';
export { EmulatorState } from './state';
export { EmulatorControl } from './control';
export { DigestSet } from './digestSet';
export { syntheticDay, campaignIds } from './report';
export { ensureEmulator, emulatorAnswers, type EnsuredEmulator } from './ensure';

export interface RunningEmulator {
  /** http://127.0.0.1:<port> */
  url: string;
  /** The API base to give the client: <url>/open_api/v1.3 */
  apiBaseUrl: string;
  port: number;
  state: EmulatorState;
  control: EmulatorControl;
  options: EmulatorOptions;
  /** Stops listening, closes connections, writes the state file (if any). */
  close(): Promise<void>;
}

export async function startEmulator(input: EmulatorOptionsInput = {}): Promise<RunningEmulator> {
  const options = EmulatorOptionsSchema.parse(input);
  const state = new EmulatorState();
  if (options.stateFile) state.load(options.stateFile);
  const server = new EmulatorServer(state, options);
  await new Promise<void>((resolve, reject) => {
    server.http.once('error', reject);
    server.http.listen(options.port, options.host, () => {
      server.http.off('error', reject);
      resolve();
    });
  });
  const port = (server.http.address() as AddressInfo).port;
  const host = options.host === '::1' ? '[::1]' : options.host;
  const url = `http://${host}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    apiBaseUrl: `${url}${API_PREFIX.replace(/\/$/, '')}`,
    port,
    state,
    control: server.control,
    options,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.http.close(() => resolve());
        server.http.closeAllConnections();
      }).then(() => server.saveNow())),
  };
}
