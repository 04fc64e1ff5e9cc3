// Compiles the committed WebAssembly text sources to dist/wasm/*.wasm (part of `npm run build`).
// The binaries are build output, like the rest of dist/: the .wat is what is reviewed.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import wabt from 'wabt';
import { PROJECT_ROOT } from '../src/paths';
import { ASCII_RULES_WASM, SHA256_BATCH_WASM } from '../src/identifiers/sha256batch/wasmPath';
import { LINE_FINGERPRINTS_WASM } from '../src/snapshot/lineFingerprints';

const SOURCES: Array<[source: string, out: string]> = [
  [join(PROJECT_ROOT, 'src', 'identifiers', 'sha256batch', 'sha256batch.wat'), SHA256_BATCH_WASM],
  [join(PROJECT_ROOT, 'src', 'identifiers', 'asciiRules.wat'), ASCII_RULES_WASM],
  [join(PROJECT_ROOT, 'src', 'snapshot', 'lineFingerprints.wat'), LINE_FINGERPRINTS_WASM],
];

async function main(): Promise<void> {
  const w = await wabt();
  for (const [source, out] of SOURCES) {
    const mod = w.parseWat(source, readFileSync(source, 'utf8'), { simd: true });
    try {
      mod.validate();
      const { buffer } = mod.toBinary({});
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, buffer);
    } finally {
      mod.destroy();
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`build-wasm: ${(err as Error).message}\n`);
  process.exit(1);
});
