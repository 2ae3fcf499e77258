/**
 * CRC-32C for kafkajs's record batches, eight bytes per step ("slicing-by-8") instead of
 * kafkajs 2.2.4's one. Every produced batch is checksummed in JavaScript; on the agent
 * that was 7 % of its CPU per scrape (a profile of the agent process), and the server
 * pays it again on every dead-letter it writes. Node 20 has no native CRC-32C (zlib's
 * crc32 is the other polynomial).
 *
 * kafkajs loads its checksum module lazily, on the first produce request, so replacing
 * the module's export here, when the Kafka client is loaded, is in time for every batch.
 */
import { createRequire } from 'node:module';

/** Castagnoli's polynomial, bit-reflected. */
const POLYNOMIAL = 0x82f63b78;

function buildTables(): Uint32Array[] {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
  const first = tables[0] as Uint32Array;
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLYNOMIAL : c >>> 1;
    first[n] = c >>> 0;
  }
  for (let t = 1; t < 8; t++) {
    const previous = tables[t - 1] as Uint32Array;
    const table = tables[t] as Uint32Array;
    for (let n = 0; n < 256; n++) {
      const p = previous[n] as number;
      table[n] = ((p >>> 8) ^ (first[p & 0xff] as number)) >>> 0;
    }
  }
  return tables;
}

const [T0, T1, T2, T3, T4, T5, T6, T7] = buildTables() as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];

/** CRC-32C of `bytes`, as an unsigned 32-bit number. */
export function crc32c(bytes: Uint8Array): number {
  let crc = -1;
  let i = 0;
  const n = bytes.length;
  // Table lookups of typed arrays in range cannot miss; the `as number`s only satisfy noUncheckedIndexedAccess.
  for (; i + 8 <= n; i += 8) {
    const low = crc ^ ((bytes[i] as number) | ((bytes[i + 1] as number) << 8) | ((bytes[i + 2] as number) << 16) | ((bytes[i + 3] as number) << 24));
    crc =
      (T7[low & 0xff] as number) ^
      (T6[(low >>> 8) & 0xff] as number) ^
      (T5[(low >>> 16) & 0xff] as number) ^
      (T4[low >>> 24] as number) ^
      (T3[bytes[i + 4] as number] as number) ^
      (T2[bytes[i + 5] as number] as number) ^
      (T1[bytes[i + 6] as number] as number) ^
      (T0[bytes[i + 7] as number] as number);
  }
  for (; i < n; i++) crc = (T0[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return ~crc >>> 0;
}

const require = createRequire(import.meta.url);
const MODULE = require.resolve('kafkajs/src/protocol/recordBatch/crc32C/index.js');
require(MODULE);
const cached = require.cache[MODULE];
if (cached) cached.exports = crc32c;

/** True when kafkajs's record batches are checksummed here. */
export function kafkajsUsesFastCrc32c(): boolean {
  return require(MODULE) === crc32c;
}
