import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TEMPORAL_ENV_VARIABLES } from '../../../src/temporal/connection';
import { TikTokEnvSchema } from '../../../src/tiktok/config';
import { SEARCH_ATTRIBUTE_NAMES } from '../../../src/temporal/searchAttributes';
import { TEMPORAL_SERVER_VERSION } from '../../../src/temporal/toolchain';
import { clientEnv, workerEnv, type TopologyState } from '../../../src/cli/topology/cluster';
import { POSTGRES_USER } from '../../../src/cli/topology/postgres';
import { TEMPORAL_DB, TEMPORAL_SCHEMAS, TOPOLOGY_NAMESPACE, temporalServerConfig, SERVER_PORT_NAMES, type ServerPorts } from '../../../src/cli/topology/serverConfig';

// js-yaml ships no type declarations; this is the one function the test uses.
const { load } = createRequire(__filename)('js-yaml') as { load(text: string): unknown };

const ROOT = join(__dirname, '..', '..', '..');
const read = (name: string): string => readFileSync(join(ROOT, name), 'utf8');

interface Service {
  image?: string;
  build?: string;
  command?: string | string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  expose?: string[];
  depends_on?: Record<string, { condition: string }>;
  profiles?: string[];
  network_mode?: string;
  volumes?: string[];
}

const compose = load(read('docker-compose.yml')) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const svc = (name: string): Service => {
  const s = compose.services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
};
const commandText = (s: Service): string => (Array.isArray(s.command) ? s.command.join(' ') : (s.command ?? ''));

describe('docker-compose.yml (the production-like topology for users)', () => {
  it('has the Temporal production topology, the worker and the optional emulator, and no fake-gcs-server', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      ['postgresql', 'temporal', 'temporal-namespace', 'temporal-schema', 'temporal-ui', 'tiktok-emulator', 'ttsync-worker'].sort(),
    );
    expect(JSON.stringify(compose)).not.toMatch(/fake-gcs/);
    expect(svc('postgresql').image).toBe('postgres:16');
    expect(svc('temporal-schema').image).toMatch(/^temporalio\/admin-tools:/);
    expect(commandText(svc('temporal-schema'))).toContain('--plugin postgres12');
    const temporal = svc('temporal');
    expect(temporal.image).toMatch(/^temporalio\/server:/);
    expect(temporal.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql', POSTGRES_USER: 'temporal', DB_PORT: '5432' });
    expect(temporal.environment?.POSTGRES_PWD).toBeDefined();
    expect(temporal.depends_on).toEqual({ 'temporal-schema': { condition: 'service_completed_successfully' } });
    expect(temporal.ports).toEqual(['127.0.0.1:7233:7233']);
    const ui = svc('temporal-ui');
    expect(ui.image).toMatch(/^temporalio\/ui:/);
    expect(ui.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(ui.ports).toEqual(['127.0.0.1:8080:8080']);
  });

  it('registers exactly the search attributes the workflows set', () => {
    const cmd = commandText(svc('temporal-namespace'));
    const names = /for name in ([A-Za-z ]+); do/.exec(cmd)?.[1]?.trim().split(/\s+/);
    expect(names?.sort()).toEqual([...SEARCH_ATTRIBUTE_NAMES].sort());
    expect(cmd).toContain('--type Keyword');
  });

  it('runs the worker from the image in production mode, with env names ttsync actually reads', () => {
    const w = svc('ttsync-worker');
    expect(w.build).toBe('.');
    expect(w.command).toEqual(['node', 'bin/ttsync.js', 'worker']);
    expect(w.depends_on).toEqual({ 'temporal-namespace': { condition: 'service_completed_successfully' } });
    const env = w.environment ?? {};
    expect(env.NODE_ENV).toBe('production');
    expect(env.TEMPORAL_ADDRESS).toBe('temporal:7233');
    const temporalKeys = TEMPORAL_ENV_VARIABLES;
    const tiktokKeys = [...Object.keys(TikTokEnvSchema.shape), 'TIKTOK_ACCESS_TOKEN' /* the destinations' secret reference env:TIKTOK_ACCESS_TOKEN */];
    for (const name of Object.keys(env)) {
      if (name.startsWith('TEMPORAL_')) expect(temporalKeys, name).toContain(name);
      else if (name.startsWith('TIKTOK_')) expect(tiktokKeys, name).toContain(name);
      else expect(['NODE_ENV', 'TTSYNC_DATA_DIR', 'TTSYNC_METRICS_ADDRESS', ...SHARED_STORE_VARIABLES], name).toContain(name);
    }
    // Metrics for a Prometheus on the compose network, on the port the container exposes.
    expect(env.TTSYNC_METRICS_ADDRESS).toBe('0.0.0.0:9464');
    expect(w.expose).toEqual(['9464']);
  });

  it('offers the TikTok emulator as an opt-in profile reachable from the worker', () => {
    const e = svc('tiktok-emulator');
    expect(e.profiles).toEqual(['emulator']);
    expect(e.image).toBe(svc('ttsync-worker').image);
    expect(commandText(e)).toMatch(/^node bin\/ttsync\.js emulator --port 8787 /);
    expect(e.network_mode).toBe('service:ttsync-worker');
  });

  it('only names volumes it declares', () => {
    for (const [name, s] of Object.entries(compose.services))
      for (const v of s.volumes ?? []) expect(Object.keys(compose.volumes), `${name}: ${v}`).toContain(v.split(':')[0]);
  });
});

// The stores every worker must share, as the topology sets them (a state with made-up values).
const topologyState = { gcs: { endpoint: 'http://127.0.0.1:1', bucket: 'b', pid: 1, logFile: '' }, temporal: { address: 'x:1', namespace: 'default' } } as TopologyState;
const topologyEnv = clientEnv(topologyState);
const SHARED_STORE_VARIABLES = Object.keys(topologyEnv).filter((k) => k.startsWith('TTSYNC_'));

describe('docker-compose.yml and scripts/topology (ttsync cluster up) run the same Temporal', () => {
  it('the same server version, in the server and admin-tools images', () => {
    expect(svc('temporal').image).toBe(`temporalio/server:\${TEMPORAL_SERVER_VERSION:-${TEMPORAL_SERVER_VERSION}}`);
    expect(svc('temporal-schema').image).toBe(`temporalio/admin-tools:\${TEMPORAL_ADMIN_TOOLS_VERSION:-${TEMPORAL_SERVER_VERSION}}`);
    expect(svc('temporal-namespace').image).toBe(svc('temporal-schema').image);
  });

  it('the same server configuration: what the image renders from compose\'s environment is what the topology writes', () => {
    const env = svc('temporal').environment ?? {};
    const ports = Object.fromEntries(SERVER_PORT_NAMES.map((n, i) => [n, 20_000 + i])) as unknown as ServerPorts;
    const written = temporalServerConfig({ postgres: { host: '127.0.0.1', port: 5432, user: POSTGRES_USER, password: 'p' }, ports }) as {
      persistence: { numHistoryShards: number; datastores: Record<'default' | 'visibility', { sql: { pluginName: string; databaseName: string; user: string } }> };
    };
    // config/docker.yaml of the server module: DB → pluginName, DBNAME / VISIBILITY_DBNAME → databaseName, NUM_HISTORY_SHARDS.
    expect(env.DB).toBe(written.persistence.datastores.default.sql.pluginName);
    expect(env.DB).toBe(written.persistence.datastores.visibility.sql.pluginName);
    expect(env.DBNAME).toBe(written.persistence.datastores.default.sql.databaseName);
    expect(env.VISIBILITY_DBNAME).toBe(written.persistence.datastores.visibility.sql.databaseName);
    expect(Number(env.NUM_HISTORY_SHARDS)).toBe(written.persistence.numHistoryShards);
    expect(env.POSTGRES_USER).toBe(written.persistence.datastores.default.sql.user);
    expect([env.DB, env.DBNAME, env.VISIBILITY_DBNAME, Number(env.NUM_HISTORY_SHARDS)]).toEqual([TEMPORAL_DB.plugin, TEMPORAL_DB.database, TEMPORAL_DB.visibilityDatabase, TEMPORAL_DB.numHistoryShards]);
  });

  it('the same schema steps: each database created, set up at 0.0 and updated to the schema the SQL tool embeds', () => {
    const cmd = commandText(svc('temporal-schema'));
    expect(cmd).toContain('--plugin postgres12');
    expect(cmd).toMatch(/for db in temporal temporal_visibility; do\s+sql --db "\$\$db" create-database/);
    for (const { database, schemaName } of TEMPORAL_SCHEMAS) {
      expect(cmd).toContain(`sql --db ${database} setup-schema -v 0.0`);
      expect(cmd).toContain(`sql --db ${database} update-schema --schema-name ${schemaName}`);
    }
  });

  it('the same namespace and retention', () => {
    expect(commandText(svc('temporal-namespace'))).toContain(`temporal operator namespace create --namespace ${TOPOLOGY_NAMESPACE.name} --retention ${TOPOLOGY_NAMESPACE.retentionDays}d`);
    expect(svc('ttsync-worker').environment?.TEMPORAL_NAMESPACE).toBe(TOPOLOGY_NAMESPACE.name);
  });

  it('the workers split TikTok\'s per-app limit by the live worker count, in both', () => {
    expect(svc('ttsync-worker').environment?.TIKTOK_QPS_WORKERS).toBe('${TIKTOK_QPS_WORKERS:-auto}');
    expect(workerEnv(topologyState, '/w').TIKTOK_QPS_WORKERS).toBe('auto');
  });

  it('the workers name the same shared stores (the topology puts them in the bucket)', () => {
    expect(SHARED_STORE_VARIABLES.sort()).toEqual(['TTSYNC_NOTICES', 'TTSYNC_SAN_STORE', 'TTSYNC_SEGMENT_REGISTRY', 'TTSYNC_WORKDIR']);
    const env = svc('ttsync-worker').environment ?? {};
    for (const name of SHARED_STORE_VARIABLES) expect(env[name], name).toMatch(new RegExp(`^\\$\\{${name}:-/data/`));
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const dockerignore = read('.dockerignore').split('\n').map((l) => l.trim());

  it('builds on node:20-slim from the lockfile and runs the prebuilt workflow bundle', () => {
    expect(dockerfile.match(/^FROM node:20-slim\b/gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/^RUN npm ci --no-audit --no-fund$/m);
    expect(dockerfile).toMatch(/^RUN npm run build$/m);
    expect(dockerfile).toMatch(/NODE_ENV=production/);
    expect(dockerfile).toMatch(/^CMD \["node", "bin\/ttsync\.js", "worker"\]$/m);
    // npm run build must also produce the bundle NODE_ENV=production loads.
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(pkg.scripts.build).toContain('bundle-workflows');
  });

  it('copies only paths that exist and that .dockerignore lets through', () => {
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => (m[1] ?? '').split(/\s+/));
    expect(sources.length).toBeGreaterThan(5);
    for (const src of sources) {
      expect(existsSync(join(ROOT, src)), src).toBe(true);
      expect(dockerignore, src).not.toContain(src);
    }
    for (const heavy of ['node_modules', 'dist', '.data', '.git']) expect(dockerignore).toContain(heavy);
  });
});
