import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';

// The WebAssembly global exists in Node 20, but @types/node leaves its types to lib.dom;
// only the few members used here are declared.
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
export const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** A built module's bytes; a missing build says how to make it rather than failing obscurely. */
export function readWasm(path: string, source: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${path} is missing (${(err as NodeJS.ErrnoException).code ?? 'unreadable'}): run \`npm run build\`, which compiles ${source}`);
  }
}

/**
 * Compiles with V8's optimizing tier for every function at once. By default (dynamic
 * tiering) V8 runs WebAssembly from its baseline compiler and optimizes a function only
 * after it has run "enough", in a background job: on the loaded shared machine the rule
 * functions stayed unoptimized for millions of values (phone rule ~50 ns a value instead
 * of ~28). The flag is read when a module is compiled, so it is set for these small
 * modules only and restored after (unless the process was started without dynamic tiering).
 */
export function compileOptimized(bytes: Uint8Array): object {
  setFlagsFromString('--no-wasm-dynamic-tiering');
  try {
    return new Wasm.Module(bytes);
  } finally {
    if (!process.execArgv.includes('--no-wasm-dynamic-tiering') && !(process.env.NODE_OPTIONS ?? '').includes('--no-wasm-dynamic-tiering'))
      setFlagsFromString('--wasm-dynamic-tiering');
  }
}
