/**
 * A Temporal config file that never exists: test/setup-runtime.ts points TEMPORAL_CONFIG_FILE
 * at it in every test process (and so in every process a test starts), so that no developer's
 * `temporal` CLI profile is read, whatever ~/.config/temporalio holds.
 */
export const NO_TEMPORAL_CONFIG_FILE = '/nonexistent/ttsync-tests/temporal.toml';
