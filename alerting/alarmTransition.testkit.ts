import type { AlarmTransition } from './alarmState.js';
import { loadAlertingRules, type AlarmDefinition } from './config.js';

/** Builders for tests: a definition through the real loader, a transition of it. */
export function definitionFor(raw: Record<string, unknown>): AlarmDefinition {
  const loaded = loadAlertingRules({ alarm_definitions: [{ name: 'high-cpu', tenant_id: 'acme', metric: 'cpu.percent', operator: 'GT', threshold: 90, ...raw }] });
  if (!loaded.ok) throw new Error(loaded.error);
  const [definition] = loaded.value.definitions;
  if (!definition) throw new Error('no definition loaded');
  return definition;
}

export function transitionFor(definition: AlarmDefinition, overrides: Partial<AlarmTransition> = {}): AlarmTransition {
  return {
    alarmId: 'a1b2c3d4-0000-0000-0000-000000000001',
    alarmDefinition: definition,
    tenantId: definition.tenant_id,
    matchBy: {},
    oldState: 'UNDETERMINED',
    newState: 'ALARM',
    reason: 'Thresholds were exceeded for the sub-alarms: avg(cpu.percent, 60) > 90 with the values: [95]',
    timestampMs: 1_700_000_000_999,
    metrics: [{ name: definition.metric, dimensions: { hostname: 'node-1' } }],
    value: 95,
    ...overrides,
  };
}
