import { join } from 'node:path';
import { PROJECT_ROOT } from '../../paths';

/** Where `npm run build` (scripts/build-wasm.ts) writes the compiled sha256batch.wat. */
export const SHA256_BATCH_WASM = join(PROJECT_ROOT, 'dist', 'wasm', 'sha256batch.wasm');
