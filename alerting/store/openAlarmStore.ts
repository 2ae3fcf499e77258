import type { AlarmStoreSettings } from '../config.js';
import type { AlarmStore } from './alarmStore.js';

/** The store the settings name; PostgreSQL's client is loaded only when asked for. */
export async function openAlarmStore(settings: Readonly<AlarmStoreSettings>): Promise<AlarmStore> {
  if (settings.kind === 'postgres') {
    if (settings.postgres_url === '') throw new Error('alerting.store.kind is postgres but alerting.store.postgres_url is empty');
    const { openPostgresAlarmStore } = await import('./postgresAlarmStore.js');
    return openPostgresAlarmStore(settings.postgres_url);
  }
  const { openSqliteAlarmStore } = await import('./sqliteAlarmStore.js');
  return openSqliteAlarmStore(settings.sqlite_path);
}
