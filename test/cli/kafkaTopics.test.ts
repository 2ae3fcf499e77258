import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafkaMockCluster, type KafkaMockCluster } from '../kafka/mockCluster.js';
import { runKansoku } from '../support/kansokuProcess.js';
import { kafkaEnv } from '../support/pipelineFixtures.js';

/** Kansoku never creates topics; on a cluster that lacks one, start-up says which and stops. */
describe('start-up on a Kafka cluster with a missing topic', () => {
  let kafka: KafkaMockCluster;
  beforeAll(async () => {
    kafka = await startKafkaMockCluster({ brokers: 1, topics: { metrics: 1 } });
  });
  afterAll(async () => {
    await kafka?.stop();
  });

  it.each([
    ['server', ['server'], /no topic "kansoku-dead-letter"/],
    ['alerting', ['alerting'], /no topic "alarm-state-transitions"/],
  ])('%s names the missing topic and exits 2', async (_name, args, message) => {
    const p = runKansoku(args, { ...kafkaEnv(kafka.brokers), KANSOKU_AUTH_TOKENS: 't:p:admin' });
    expect(await p.exited()).toBe(2);
    expect(p.stderr()).toMatch(message);
    expect(p.stderr()).toMatch(/kafka-topics\.sh --create/);
  });
});
