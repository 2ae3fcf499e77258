import { describe } from 'vitest';
import { logSinkContract } from '../logSinkContract.testkit.js';
import { openDatabase } from './database.js';
import { SqliteLogSink } from './sqliteLogSink.js';
import { SqliteLogStore } from './sqliteLogStore.js';

describe('SqliteLogSink and SqliteLogStore', () => {
  logSinkContract(async () => {
    const db = openDatabase(':memory:');
    return { sink: new SqliteLogSink(db), store: new SqliteLogStore(db), refresh: () => Promise.resolve() };
  });
});
