import { installRuntimeLogging } from '../src/temporal/logging';
import { NO_TEMPORAL_CONFIG_FILE } from './helpers/noProfile';

// Core's warnings about failures the tests provoke on purpose would drown the output.
installRuntimeLogging('WARN', 'ERROR');

// The tests and every process they start reach only the run's own server: a developer's
// `temporal` CLI profile (~/.config/temporalio/temporal.toml) must never point them elsewhere.
process.env.TEMPORAL_CONFIG_FILE = NO_TEMPORAL_CONFIG_FILE;
delete process.env.TEMPORAL_PROFILE;

// Payload keys of the developer's shell would make workers encrypt what the tests' plain
// clients read; the tests that encrypt give their codec explicitly.
delete process.env.TTSYNC_PAYLOAD_KEYS;
delete process.env.TTSYNC_CODEC_TOKEN;
