import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import './kafkaClient.js';
import { crc32c, kafkajsUsesFastCrc32c } from './kafkajsCrc32c.js';

const require = createRequire(import.meta.url);
/** kafkajs's own byte-at-a-time implementation, the reference. */
const reference = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js') as (bytes: Uint8Array) => number;

describe('crc32c', () => {
  it.each([
    ['the standard check value of "123456789"', Buffer.from('123456789'), 0xe3069283],
    ['nothing', Buffer.alloc(0), 0],
    ['32 zero bytes (RFC 3720 B.4)', Buffer.alloc(32), 0x8a9136aa],
    ['32 0xff bytes (RFC 3720 B.4)', Buffer.alloc(32, 0xff), 0x62a8ab43],
  ])('of %s', (_name, bytes, expected) => {
    expect(crc32c(bytes)).toBe(expected);
  });

  it("equals kafkajs's own for any bytes, any length, any offset into a buffer", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(7), (bytes, offset) => {
        const shifted = Buffer.concat([Buffer.alloc(offset), Buffer.from(bytes)]).subarray(offset);
        expect(crc32c(shifted)).toBe(reference(shifted) >>> 0);
      }),
    );
  });

  it('is what kafkajs checksums its record batches with, once the Kafka client is loaded', () => {
    expect(kafkajsUsesFastCrc32c()).toBe(true);
  });
});
