import { describe, expect, it } from 'vitest';
import { definitionFor, transitionFor } from './alarmTransition.testkit.js';
import { decodeTransitionEvent, transitionEvent, transitionMessage } from './transitionEvent.js';

describe('transition events', () => {
  const definition = definitionFor({ description: 'CPU is busy', severity: 'HIGH', dimensions: { service: 'api' }, function: 'max', operator: '>=' });

  it("are Monasca's alarm-transitioned event, keyed by tenant", () => {
    const message = transitionMessage(transitionFor(definition));
    expect(message.key).toBe('acme');
    expect(JSON.parse(String(message.value))).toEqual({
      'alarm-transitioned': {
        tenantId: 'acme',
        alarmId: 'a1b2c3d4-0000-0000-0000-000000000001',
        alarmDefinitionId: definition.id,
        metrics: [{ name: 'cpu.percent', dimensions: { hostname: 'node-1' } }],
        alarmName: 'high-cpu',
        alarmDescription: 'CPU is busy',
        oldState: 'UNDETERMINED',
        newState: 'ALARM',
        actionsEnabled: true,
        stateChangeReason: 'Thresholds were exceeded for the sub-alarms: avg(cpu.percent, 60) > 90 with the values: [95]',
        severity: 'HIGH',
        link: null,
        lifecycleState: null,
        subAlarms: [
          {
            subAlarmExpression: { function: 'MAX', metricDefinition: { name: 'cpu.percent', dimensions: { service: 'api' } }, operator: 'GTE', threshold: 90, period: 60, periods: 1 },
            subAlarmState: 'ALARM',
            currentValues: [95],
          },
        ],
        timestamp: 1_700_000_000_999,
      },
    });
  });

  it('carry no current value when there was no data', () => {
    const event = transitionEvent(transitionFor(definition, { newState: 'UNDETERMINED', oldState: 'OK', value: null }));
    expect(event['alarm-transitioned'].subAlarms[0]?.currentValues).toEqual([]);
  });

  it('read back as they were written', () => {
    const transition = transitionFor(definition);
    expect(decodeTransitionEvent(transitionMessage(transition).value)).toEqual({ ok: true, value: transitionEvent(transition) });
  });

  it.each([
    { name: 'not JSON', bytes: '{', error: 'not JSON' },
    { name: 'no alarm-transitioned object', bytes: '{"metric":{}}', error: 'missing "alarm-transitioned" object' },
    { name: 'an unknown state', bytes: JSON.stringify({ 'alarm-transitioned': { ...transitionEvent(transitionFor(definition))['alarm-transitioned'], newState: 'FIRING' } }), error: 'newState' },
    { name: 'a timestamp that is not a number', bytes: JSON.stringify({ 'alarm-transitioned': { ...transitionEvent(transitionFor(definition))['alarm-transitioned'], timestamp: '1' } }), error: 'timestamp' },
  ])('refuse $name', ({ bytes, error }) => {
    const decoded = decodeTransitionEvent(Buffer.from(bytes));
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.error).toContain(error);
  });
});
