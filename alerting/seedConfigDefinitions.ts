import { stableId } from './ids.js';
import type { ConfigAlarmDefinition } from './config.js';
import type { AlarmStore, NewAlarmDefinition } from './store/alarmStore.js';

/**
 * Writes the definitions of the configuration file into the store at start-up, so that
 * what worked from the file keeps working and the API shows them like any other. Ids are
 * derived from tenant and name (and a webhook's URL), so a restart updates rather than
 * duplicates; a definition that is already stored as given is left alone. A definition
 * removed from the file stays in the store: it may have been changed through the API since.
 */
export async function seedConfigDefinitions(store: AlarmStore, definitions: readonly ConfigAlarmDefinition[], nowMs: number): Promise<{ created: number; updated: number }> {
  let created = 0;
  let updated = 0;
  for (const definition of definitions) {
    const actions: string[] = [];
    for (const url of definition.webhooks) {
      const id = stableId('notification-method', definition.tenant_id, url);
      actions.push(id);
      if (await store.getNotificationMethod(definition.tenant_id, id)) continue;
      await racing(
        // The secret is derived, not random: a receiver configured once keeps verifying across restarts.
        () => store.createNotificationMethod({ id, tenantId: definition.tenant_id, name: `webhook ${new URL(url).host}`.slice(0, 250), type: 'WEBHOOK', address: url, periodSeconds: 0, secret: stableId('webhook-secret', id, url) }, nowMs),
        async () => (await store.getNotificationMethod(definition.tenant_id, id)) !== null,
      );
    }
    const wanted: NewAlarmDefinition = {
      id: definition.id,
      tenantId: definition.tenant_id,
      name: definition.name,
      description: definition.description,
      expression: definition.expression,
      matchBy: definition.match_by,
      severity: definition.severity,
      alarmActions: actions,
      okActions: actions,
      undeterminedActions: actions,
      actionsEnabled: true,
    };
    const stored = await store.getDefinition(definition.tenant_id, definition.id);
    if (!stored) {
      if (await racing(() => store.createDefinition(wanted, nowMs), async () => (await store.getDefinition(definition.tenant_id, definition.id)) !== null)) created++;
      continue;
    }
    const same =
      stored.expression === wanted.expression &&
      stored.description === wanted.description &&
      stored.severity === wanted.severity &&
      stored.matchBy.join(',') === wanted.matchBy.join(',') &&
      stored.alarmActions.join(',') === actions.join(',');
    if (same) continue;
    await store.updateDefinition(definition.tenant_id, definition.id, wanted, nowMs);
    updated++;
  }
  return { created, updated };
}

/**
 * Creates, unless another replica starting at the same moment created it first: then the
 * insert fails on the id and the row is there. Returns whether this call created it.
 */
async function racing(create: () => Promise<unknown>, exists: () => Promise<boolean>): Promise<boolean> {
  try {
    await create();
    return true;
  } catch (error) {
    if (await exists()) return false;
    throw error;
  }
}
