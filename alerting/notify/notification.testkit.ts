import type { NotificationMethodRecord } from '../store/alarmStore.js';
import type { Notification } from './notification.js';

/** Builders for the senders' tests: one notification and one method, overridable field by field. */
export function notificationFor(overrides: Partial<Notification> = {}): Notification {
  return {
    deliveryId: 'delivery-1',
    kind: 'transition',
    tenantId: 'acme',
    alarmId: 'a1b2c3d4-0000-0000-0000-000000000001',
    alarmDefinitionId: 'def-0001',
    alarmName: 'high-cpu',
    alarmDescription: 'CPU above 90% for a minute',
    severity: 'HIGH',
    state: 'ALARM',
    oldState: 'OK',
    message: 'Thresholds were exceeded for the sub-alarms: avg(cpu.percent, 60) > 90 with the values: [95]',
    timestampMs: 1_700_000_000_999,
    metrics: [{ name: 'cpu.percent', dimensions: { hostname: 'node-1', service: 'compute' } }],
    lifecycleState: null,
    link: null,
    methodId: 'method-1',
    methodName: 'ops',
    methodType: 'WEBHOOK',
    address: 'http://127.0.0.1/hook',
    ...overrides,
  };
}

export function methodFor(type: string, address: string, overrides: Partial<NotificationMethodRecord> = {}): NotificationMethodRecord {
  return {
    id: 'method-1',
    tenantId: 'acme',
    name: 'ops',
    type,
    address,
    periodSeconds: 0,
    secret: null,
    createdAtMs: 1_700_000_000_000,
    updatedAtMs: 1_700_000_000_000,
    ...overrides,
  };
}
