/*
 * The Temporal server's configuration on PostgreSQL: what the temporalio/server image renders
 * from its config template (config/docker.yaml of the server module) for docker-compose.yml's
 * environment (DB=postgres12, DBNAME, VISIBILITY_DBNAME, NUM_HISTORY_SHARDS, POSTGRES_USER),
 * except that every address is loopback and every port is the topology's own.
 * test/unit/architecture/compose.test.ts keeps the two in step.
 */

export const TEMPORAL_DB = { plugin: 'postgres12', database: 'temporal', visibilityDatabase: 'temporal_visibility', numHistoryShards: 4 } as const;

/** Each database and the schema the SQL tool embeds for it (`update-schema --schema-name`). */
export const TEMPORAL_SCHEMAS = [
  { database: TEMPORAL_DB.database, schemaName: 'postgresql/v12/temporal' },
  { database: TEMPORAL_DB.visibilityDatabase, schemaName: 'postgresql/v12/visibility' },
] as const;

/** The namespace ttsync runs in, and its retention (docker-compose.yml's temporal-namespace). */
export const TOPOLOGY_NAMESPACE = { name: 'default', retentionDays: 30 } as const;

export interface ServerPorts {
  frontend: number;
  frontendHttp: number;
  frontendMembership: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
}

export const SERVER_PORT_NAMES: readonly (keyof ServerPorts)[] = [
  'frontend',
  'frontendHttp',
  'frontendMembership',
  'history',
  'historyMembership',
  'matching',
  'matchingMembership',
  'worker',
  'workerMembership',
];

export interface ServerConfigInput {
  postgres: { host: string; port: number; user: string; password: string };
  ports: ServerPorts;
  logLevel?: string;
}

function sqlStore(database: string, maxConns: number, p: ServerConfigInput['postgres']) {
  return {
    sql: {
      pluginName: TEMPORAL_DB.plugin,
      databaseName: database,
      connectAddr: `${p.host}:${p.port}`,
      connectProtocol: 'tcp',
      user: p.user,
      password: p.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  };
}

export function temporalServerConfig(input: ServerConfigInput): Record<string, unknown> {
  const ip = '127.0.0.1';
  const { ports: p } = input;
  const rpc = (grpcPort: number, membershipPort: number, extra: Record<string, unknown> = {}) => ({ rpc: { grpcPort, membershipPort, bindOnIP: ip, ...extra } });
  return {
    log: { stdout: true, level: input.logLevel ?? 'warn' },
    persistence: {
      numHistoryShards: TEMPORAL_DB.numHistoryShards,
      defaultStore: 'default',
      visibilityStore: 'visibility',
      datastores: {
        // The template's defaults: SQL_MAX_CONNS 20, SQL_VIS_MAX_CONNS 10.
        default: sqlStore(TEMPORAL_DB.database, 20, input.postgres),
        visibility: sqlStore(TEMPORAL_DB.visibilityDatabase, 10, input.postgres),
      },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: ip }, pprof: { port: 0 } },
    services: {
      frontend: rpc(p.frontend, p.frontendMembership, { httpPort: p.frontendHttp }),
      matching: rpc(p.matching, p.matchingMembership),
      history: rpc(p.history, p.historyMembership),
      worker: rpc(p.worker, p.workerMembership),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: `${ip}:${p.frontend}`, httpAddress: `${ip}:${p.frontendHttp}` },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
  };
}

/** YAML is a superset of JSON: the server reads this as it reads its own YAML files. */
export function serverConfigText(config: Record<string, unknown>): string {
  return `# Written by ttsync cluster up; rewritten on every up (ports may change). Holds the database password: 0600.\n${JSON.stringify(config, null, 2)}\n`;
}
