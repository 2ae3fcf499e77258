#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import pino, { type Logger } from 'pino';
import { Counters } from '../core/counters.js';
import type { Bus } from '../core/pipeline.js';
import { requireClean, shutdownInOrder } from '../core/shutdown.js';
import { TOPICS, type Topic } from '../core/envelope.js';
import type { PublishSettings } from '../agent/main.js';
import type { AlertingDeps } from '../alerting/main.js';
import type { AlertingRules } from '../alerting/config.js';
import type { AlarmStore } from '../alerting/store/alarmStore.js';
import { buildBus, type ConfiguredBus } from '../bus/main.js';
import type { Config } from './configSchema.js';
import { ConfigError, loadConfig } from './loadConfig.js';
import { startTelemetryServer } from './telemetryServer.js';
import { HELP } from './help.js';

// Each command loads only the components it runs (dynamic imports below): an agent on
// every node has no use for fastify, the SQLite driver or the InfluxDB client, and
// loading them costs every node tens of megabytes.

type Command = keyof typeof HELP;

interface Stoppable {
  readonly name: string;
  /** Within `deadlineMs` (epoch ms); rejects when it did not stop cleanly. */
  stop(deadlineMs: number): Promise<void>;
}

function fail(message: string, code = 2): never {
  process.stderr.write(`kansoku: ${message}\n`);
  process.exit(code);
}

function makeLogger(config: Readonly<Config>): Logger {
  // Logs go to stderr so that stdout stays clean for `agent --once --output stdout`.
  return pino({ level: config.log_level, base: { service: 'kansoku' } }, pino.destination(2));
}

/** Start-up stops here, with the topics to create, when the cluster lacks one the command needs. */
async function requireTopics(configured: ConfiguredBus, topics: readonly Topic[]): Promise<Bus> {
  const missing = await configured.missingTopics(topics);
  if (missing && missing.length > 0) {
    fail(`the Kafka cluster has no topic ${missing.map((t) => `"${t}"`).join(', ')}; create ${missing.length > 1 ? 'them' : 'it'} first (see README.md, "Kafka in production"), e.g. kafka-topics.sh --create --topic ${missing[0] ?? ''} --partitions 12 --replication-factor 3`);
  }
  return configured.bus;
}

/** The daemon's /metrics and /healthz, when enabled; stopping it closes the port last. */
async function telemetryOf(settings: { enabled: boolean; host: string; port: number }, counters: Counters, logger: Logger): Promise<Stoppable> {
  if (!settings.enabled) return { name: 'telemetry', stop: () => Promise.resolve() };
  try {
    const server = await startTelemetryServer(counters, settings.host, settings.port);
    logger.info({ url: server.url }, 'self-metrics at /metrics, liveness at /healthz');
    return { name: 'telemetry', stop: () => server.close() };
  } catch (error) {
    fail(`cannot listen for self-metrics on ${settings.host}:${settings.port}: ${(error as Error).message}`);
  }
}

/**
 * On SIGINT or SIGTERM, stops the parts in reverse order of starting (intake first), all
 * within `shutdown_timeout_ms`: a part that fails or hangs is reported and the next one
 * still stops. Exits 0 when every part stopped cleanly, 1 otherwise.
 */
function waitForSignal(logger: Logger, config: Readonly<Config>, parts: Stoppable[]): void {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, timeoutMs: config.shutdown_timeout_ms }, 'stopping');
    const deadlineMs = Date.now() + config.shutdown_timeout_ms;
    void (async () => {
      const outcomes = await shutdownInOrder(
        [...parts].reverse().map((part) => ({ name: part.name, run: async () => { await part.stop(deadlineMs); } })),
        deadlineMs,
      );
      const clean = outcomes.every((o) => o.outcome === 'done');
      if (clean) logger.info({ steps: outcomes }, 'stopped');
      else logger.error({ steps: outcomes }, 'stopped, but not every part stopped cleanly');
      logger.flush();
      process.exit(clean ? 0 : 1);
    })();
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP.kansoku);
    return;
  }
  if (command === '--version' || command === 'version') {
    process.stdout.write('kansoku 0.1.0\n');
    return;
  }
  if (!(command in HELP) || command === 'kansoku') fail(`unknown command "${command}"; see kansoku --help`);
  const cmd = command as Command;

  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        help: { type: 'boolean', short: 'h' },
        config: { type: 'string', short: 'c' },
        once: { type: 'boolean' },
        output: { type: 'string' },
        'kubelet-url': { type: 'string' },
        'log-path': { type: 'string' },
        hostname: { type: 'string' },
        port: { type: 'string' },
      },
      strict: true,
    }));
  } catch (error) {
    fail(`${(error as Error).message}; see kansoku ${cmd} --help`);
  }
  if (values['help']) {
    process.stdout.write(HELP[cmd]);
    return;
  }

  const overrides: Record<string, unknown> = {};
  if (typeof values['kubelet-url'] === 'string') Object.assign(overrides, { 'agent.kubelet.enabled': true, 'agent.kubelet.url': values['kubelet-url'] });
  if (typeof values['log-path'] === 'string') Object.assign(overrides, { 'agent.logs.enabled': true, 'agent.logs.include': values['log-path'] });
  if (typeof values['hostname'] === 'string') overrides['agent.hostname'] = values['hostname'];
  if (typeof values['port'] === 'string') overrides['server.api.port'] = Number(values['port']);
  if (cmd === 'all-in-one') {
    overrides['bus.kind'] = 'memory';
  }

  let config: Readonly<Config>;
  try {
    config = loadConfig({ ...(typeof values['config'] === 'string' ? { file: values['config'] } : {}), env: process.env, overrides });
  } catch (error) {
    if (error instanceof ConfigError) fail(`invalid configuration: ${error.message}`);
    throw error;
  }
  if (cmd === 'all-in-one' && ![config.agent.kubelet, config.agent.summary, config.agent.cadvisor, config.agent.cgroup].some((source) => source.enabled)) {
    // With no kubelet, the single-machine default measures this machine's own cgroups.
    config = loadConfig({ ...(typeof values['config'] === 'string' ? { file: values['config'] } : {}), env: process.env, overrides: { ...overrides, 'agent.cgroup.enabled': true } });
  }

  const logger = makeLogger(config);
  const counters = new Counters();
  const now = (): number => Date.now();

  const publishSettings = (configured: ConfiguredBus): PublishSettings => ({
    producer: configured.bus.producer(),
    wire: configured.wire,
    maxQueued: config.agent.publisher.max_queued,
    batchSize: config.agent.publisher.batch_size,
    ...(config.agent.spill.enabled ? { spill: { dir: config.agent.spill.dir, maxBytes: config.agent.spill.max_bytes } } : {}),
  });

  if (cmd === 'agent') {
    const { buildSources, printLogsOnce, publishOnce, runOnce, startAgent, startAgentSteps, startContainerLogs } = await import('../agent/main.js');
    const sources = buildSources(config.agent, { nodeTenant: config.tenants.node_tenant, counters, now });
    const logs = config.agent.logs;
    if (sources.length === 0 && !logs.enabled) fail('no agent source is enabled: set agent.kubelet.enabled, agent.summary.enabled, agent.cadvisor.enabled, agent.cgroup.enabled or agent.logs.enabled, or pass --kubelet-url or --log-path');
    const output = values['output'] ?? 'bus';
    if (output !== 'bus' && output !== 'stdout') fail(`--output must be bus or stdout, not "${String(output)}"`);
    const agentSteps = await startAgentSteps(config.agent, config.tenants, { region: config.region, counters, logger, now });
    const logsContext = { region: config.region, counters, now, logger, enrichment: agentSteps.enrichment };
    if (values['once'] && output === 'stdout') {
      let printed = 0;
      let problems = 0;
      if (sources.length > 0) {
        const result = await runOnce(sources, agentSteps.metrics, counters, (line) => process.stdout.write(line));
        for (const { source, error } of result.errors) process.stderr.write(`kansoku: ${source}: ${error}\n`);
        printed += result.records;
        problems += result.errors.length;
      }
      if (logs.enabled) {
        printed += await printLogsOnce(config.agent, logsContext, logs.include, (line) => process.stdout.write(line));
        const parseErrors = counters.total('kansoku_agent_log_parse_errors_total');
        if (parseErrors > 0) process.stderr.write(`kansoku: ${parseErrors} log lines did not parse; they are printed with parse_error\n`);
      }
      process.exitCode = printed === 0 && problems > 0 ? 1 : 0;
      await agentSteps.stop();
      return;
    }
    if (output === 'stdout') fail('--output stdout goes with --once');
    if (config.bus.kind === 'memory') fail('the agent alone cannot use the in-process bus (nothing in this process reads it): set bus.kind=kafka (KANSOKU_BUS__KIND=kafka), or run all-in-one');
    const configured = buildBus(config.bus, logger, counters);
    if (values['once']) {
      if (sources.length === 0) fail('--once onto the bus publishes metrics: logs are followed by the running agent (for a look at them, add --output stdout)');
      // One cycle onto the bus within one interval, then exit: non-zero when the bus did not take everything.
      const unsent = await publishOnce(sources, agentSteps.metrics, publishSettings(configured), counters, config.agent.interval_seconds * 1000);
      await agentSteps.stop();
      process.exitCode = unsent > 0 ? 1 : 0;
      if (unsent > 0) process.stderr.write(`kansoku: the bus did not take ${unsent} measurements in time\n`);
      return;
    }
    await requireTopics(configured, [...(sources.length > 0 ? [TOPICS.metrics] : []), ...(logs.enabled ? [TOPICS.logs] : [])]);
    const telemetry = await telemetryOf(config.agent.telemetry, counters, logger);
    const steps: Stoppable[] = [telemetry];
    if (logs.enabled) {
      const shipping = await startContainerLogs(config.agent, logsContext, publishSettings(configured), config.agent.publisher.shutdown_flush_ms);
      steps.push({ name: 'container logs', stop: () => shipping.stop() });
    }
    if (sources.length > 0) {
      const agent = startAgent({ sources, steps: agentSteps.metrics, publish: publishSettings(configured), counters, logger, intervalMs: config.agent.interval_seconds * 1000, shutdownFlushMs: config.agent.publisher.shutdown_flush_ms });
      steps.push({ name: 'agent', stop: () => agent.stop() });
    }
    steps.push({ name: 'kubernetes informers', stop: () => agentSteps.stop() });
    waitForSignal(logger, config, steps);
    return;
  }

  const { StaticTokenAuthenticator } = await import('../server/api/auth.js');
  const { startServer } = await import('../server/main.js');
  const authenticator = (() => {
    try {
      return StaticTokenAuthenticator.parse(config.auth.tokens);
    } catch (error) {
      fail(`invalid configuration: auth.tokens: ${(error as Error).message}`);
    }
  })();

  const { startAlerting } = await import('../alerting/main.js');
  const { loadAlertingRules } = await import('../alerting/config.js');
  const { openAlarmStore } = await import('../alerting/store/openAlarmStore.js');
  const alertingRules = (): AlertingRules => {
    const { group_id: _groupId, telemetry: _telemetry, ...rules } = config.alerting;
    const loaded = loadAlertingRules(rules);
    if (!loaded.ok) fail(`invalid configuration: alerting: ${loaded.error}`);
    return loaded.value;
  };
  const alertingDeps = (bus: Bus, rules: AlertingRules, store: AlarmStore): AlertingDeps => ({ bus, groupId: config.alerting.group_id, rules, store, counters, logger, now });
  const closeAfter = (store: AlarmStore, stop: (deadlineMs: number) => Promise<void>) => (deadlineMs: number) => stop(deadlineMs).finally(() => store.close());

  if (cmd === 'server') {
    if (config.server.api.enabled && config.auth.tokens === '') fail('the tenant API needs tokens: set KANSOKU_AUTH_TOKENS=TOKEN:TENANT_ID:ROLE[+ROLE...] (or auth.tokens)');
    const configured = buildBus(config.bus, logger, counters);
    const bus = await requireTopics(configured, [TOPICS.metrics, TOPICS.deadLetter, ...(config.server.logs.enabled ? [TOPICS.logs] : [])]);
    // The alarm routes read and write the engine's store: the same SQLite file on one machine, or PostgreSQL.
    const rules = alertingRules();
    const alarmStore = await openAlarmStore(rules.store);
    const alarms = { store: alarmStore, notificationPeriodsSeconds: rules.notification.periods_seconds, allowPrivateNotificationAddresses: rules.notification.http.allow_private_addresses };
    const server = await startServer({ config: config.server, region: config.region, bus, wire: configured.wire, counters, logger, authenticator, now, alarms });
    waitForSignal(logger, config, [{ name: 'server', stop: closeAfter(alarmStore, async (deadlineMs) => requireClean(await server.stop(deadlineMs))) }]);
    return;
  }

  if (cmd === 'alerting') {
    if (config.bus.kind === 'memory') fail('alerting alone cannot use the in-process bus (nothing in this process writes it): set bus.kind=kafka (KANSOKU_BUS__KIND=kafka), or run all-in-one');
    const bus = await requireTopics(buildBus(config.bus, logger, counters), [TOPICS.metrics, TOPICS.alarmTransitions]);
    const rules = alertingRules();
    const store = await openAlarmStore(rules.store);
    const telemetry = await telemetryOf(config.alerting.telemetry, counters, logger);
    const alerting = await startAlerting(alertingDeps(bus, rules, store));
    waitForSignal(logger, config, [telemetry, { name: 'alerting', stop: closeAfter(store, () => alerting.stop()) }]);
    return;
  }

  // all-in-one: every stage in this process, on the in-process bus and the embedded store.
  let effectiveAuth = authenticator;
  let generatedToken: string | undefined;
  if (config.auth.tokens === '') {
    generatedToken = randomBytes(18).toString('base64url');
    effectiveAuth = StaticTokenAuthenticator.parse(`${generatedToken}:${config.agent.cgroup.tenant}:monasca-user`);
  }
  const { buildSources, startAgent, startAgentSteps, startContainerLogs } = await import('../agent/main.js');
  const configured = buildBus(config.bus, logger, counters);
  const agentSteps = await startAgentSteps(config.agent, config.tenants, { region: config.region, counters, logger, now });
  const { bus } = configured;
  const rules = alertingRules();
  // One store for the engine and the API: what the engine records, the API shows at once.
  const alarmStore = await openAlarmStore(rules.store);
  const alarms = { store: alarmStore, notificationPeriodsSeconds: rules.notification.periods_seconds, allowPrivateNotificationAddresses: rules.notification.http.allow_private_addresses };
  const server = await startServer({ config: config.server, region: config.region, bus, wire: configured.wire, counters, logger, authenticator: effectiveAuth, now, alarms });
  const alerting = await startAlerting(alertingDeps(bus, rules, alarmStore));
  const agent = startAgent({
    sources: buildSources(config.agent, { nodeTenant: config.tenants.node_tenant, counters, now }),
    steps: agentSteps.metrics,
    publish: publishSettings(configured),
    counters,
    logger,
    intervalMs: config.agent.interval_seconds * 1000,
    shutdownFlushMs: config.agent.publisher.shutdown_flush_ms,
  });
  const logs = config.agent.logs.enabled
    ? await startContainerLogs(config.agent, { region: config.region, counters, now, logger, enrichment: agentSteps.enrichment }, publishSettings(configured), config.agent.publisher.shutdown_flush_ms)
    : undefined;
  const url = server.apiUrl ?? '(API disabled)';
  const token = generatedToken ?? '<one of your KANSOKU_AUTH_TOKENS>';
  process.stdout.write(
    [
      '',
      `Kansoku all-in-one is running: agent → in-process bus → server → SQLite (${config.server.sqlite.path}) → tenant API`,
      `  Tenant API (Monasca v2.0): ${url}/v2.0`,
      generatedToken ? `  Token for tenant "${config.agent.cgroup.tenant}" (made for this run; set KANSOKU_AUTH_TOKENS to choose your own): ${generatedToken}` : '',
      `  Try:  curl -s -H 'X-Auth-Token: ${token}' '${url}/v2.0/metrics/names'`,
      `        monasca --os-auth-type admin_token --os-token ${token} --os-endpoint ${url}/v2.0 metric-list`,
      `  Self-metrics: ${url}/metrics   Health: ${url}/healthcheck`,
      '  Stop with Ctrl-C.',
      '',
    ]
      .filter((line) => line !== '')
      .join('\n') + '\n',
  );
  waitForSignal(logger, config, [
    { name: 'alerting', stop: () => alerting.stop() },
    { name: 'server', stop: closeAfter(alarmStore, async (deadlineMs) => requireClean(await server.stop(deadlineMs))) },
    { name: 'agent', stop: () => agent.stop() },
    ...(logs ? [{ name: 'container logs', stop: () => logs.stop() }] : []),
    { name: 'kubernetes informers', stop: () => agentSteps.stop() },
  ]);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`kansoku: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
