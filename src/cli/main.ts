import { runCli } from './program';

runCli(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`ttsync: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
