import { join } from 'node:path';
import { PROJECT_ROOT } from '../../paths';

/** Where `npm run build` (scripts/build-wasm.ts) writes the compiled sha256batch.wat. */
export const SHA256_BATCH_WASM = join(PROJECT_ROOT, 'dist', 'wasm', 'sha256batch.wasm');

/** The email and MAID rules in WebAssembly (src/identifiers/asciiRules.wat), run on the kernel's memory. */
export const ASCII_RULES_WASM = join(PROJECT_ROOT, 'dist', 'wasm', 'asciiRules.wasm');
