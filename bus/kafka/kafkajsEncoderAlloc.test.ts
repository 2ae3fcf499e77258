import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import './kafkaClient.js';
import { kafkajsEncoderPatched } from './kafkajsEncoderAlloc.js';

const require = createRequire(import.meta.url);
const Encoder = require('kafkajs/src/protocol/encoder.js') as new (initialSize?: number) => {
  writeInt32(value: number): unknown;
  writeVarIntBytes(value: string | Buffer): unknown;
  writeEncoder(value: unknown): unknown;
  readonly buffer: Buffer;
};

describe("kafkajs Encoder's growth", () => {
  it('is replaced on the class kafkajs itself uses, once the Kafka client is loaded', () => {
    expect(kafkajsEncoderPatched()).toBe(true);
  });

  it('writes what it was given, byte for byte, across growths and nesting', () => {
    const big = 'x'.repeat(70_000);
    const inner = new Encoder();
    inner.writeInt32(7);
    inner.writeVarIntBytes(big);
    inner.writeVarIntBytes(Buffer.from([1, 2, 3]));
    const outer = new Encoder(4);
    outer.writeInt32(-1);
    outer.writeEncoder(inner);
    const bytes = outer.buffer;
    expect(bytes.length).toBe(4 + 4 + 3 + big.length + 1 + 3);
    expect(bytes.readInt32BE(0)).toBe(-1);
    expect(bytes.readInt32BE(4)).toBe(7);
    // zig-zag varint of 70,000: 140,000 in three 7-bit groups.
    expect([...bytes.subarray(8, 11)]).toEqual([0xe0, 0xc5, 0x08]);
    expect(bytes.subarray(11, 11 + big.length).toString('latin1')).toBe(big);
    expect([...bytes.subarray(11 + big.length)]).toEqual([6, 1, 2, 3]);
  });
});
