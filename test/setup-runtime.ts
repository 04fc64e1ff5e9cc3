import { DefaultLogger, Runtime, makeTelemetryFilterString } from '@temporalio/worker';

// Webpack's bundle report, worker lifecycle lines and core's warnings about failures the
// tests provoke on purpose would drown the test output; real errors still show.
Runtime.install({
  logger: new DefaultLogger('WARN'),
  telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR', other: 'ERROR' }), forward: {} } },
});
