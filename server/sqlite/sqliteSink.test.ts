import { describe } from 'vitest';
import { sinkContract } from '../sinkContract.testkit.js';
import { openDatabase } from './database.js';
import { SqliteSink } from './sqliteSink.js';
import { SqliteStore } from './sqliteStore.js';

describe('SqliteSink and SqliteStore', () => {
  sinkContract(() => {
    const db = openDatabase(':memory:');
    return Promise.resolve({ sink: new SqliteSink(db), store: new SqliteStore(db) });
  });
});
