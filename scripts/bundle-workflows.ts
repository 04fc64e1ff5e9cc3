// Produces dist/workflow-bundle.js, which production workers load instead of bundling
// workflows/ at start-up (see src/worker.ts workflowSource).
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { defaultWorkflowBundlePath, workflowsPath } from '../src/worker';

async function main(): Promise<void> {
  const out = defaultWorkflowBundlePath();
  const { code } = await bundleWorkflowCode({ workflowsPath: workflowsPath(), logger: quietLogger });
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, code);
  process.stderr.write(`workflow bundle: ${out} (${(code.length / 1024).toFixed(0)} KiB)\n`);
}

const noop = () => undefined;
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };

main().catch((err: unknown) => {
  process.stderr.write(`bundle-workflows: ${(err as Error).message}\n`);
  process.exit(1);
});
