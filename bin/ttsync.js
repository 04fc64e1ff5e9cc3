#!/usr/bin/env node
'use strict';
// The CLI runs from the compiled tree; scripts/bootstrap (or `npm run build`) produces it.
const path = require('node:path');
const entry = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
try {
  require.resolve(entry);
} catch {
  process.stderr.write(`ttsync: ${entry} is missing; run scripts/bootstrap (or npm run build) first\n`);
  process.exit(1);
}
require(entry);
