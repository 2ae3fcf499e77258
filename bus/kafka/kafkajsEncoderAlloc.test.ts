import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import './kafkaClient.js';
import { kafkajsEncoderPatched } from './kafkajsEncoderAlloc.js';

const require = createRequire(import.meta.url);
const Encoder = require('kafkajs/src/protocol/encoder.js') as new (initialSize?: number) => {
  writeInt32(value: number): unknown;
  writeVarIntBytes(value: string | Buffer): unknown;
  writeEncoder(value: unknown): unknown;
  writeArray(value: unknown[], type?: string): unknown;
  writeVarIntArray(value: unknown[], type?: string): unknown;
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

  it('writes arrays of encoders whole, in order, after what came before, and goes on writing after them', () => {
    const part = (byte: number, length: number) => {
      const encoder = new Encoder();
      encoder.writeVarIntBytes(Buffer.alloc(length, byte));
      return encoder;
    };
    const parts = [part(1, 10), part(2, 1000), part(3, 0)];
    const outer = new Encoder(4);
    outer.writeInt32(9);
    outer.writeArray(parts, 'object');
    outer.writeVarIntArray([part(4, 2)], 'object');
    outer.writeInt32(5);
    const expected = Buffer.concat([
      Buffer.from([0, 0, 0, 9, 0, 0, 0, 3]),
      Buffer.from([20]), Buffer.alloc(10, 1),
      Buffer.from([0xd0, 0x0f]), Buffer.alloc(1000, 2),
      Buffer.from([0]),
      Buffer.from([2, 4]), Buffer.alloc(2, 4),
      Buffer.from([0, 0, 0, 5]),
    ]);
    expect(outer.buffer).toEqual(expected);
  });

  it('refuses what is not an encoder, as kafkajs does', () => {
    expect(() => new Encoder().writeEncoder({})).toThrow('value should be an instance of Encoder');
    expect(() => new Encoder().writeArray([{}], 'object')).toThrow('all values should be an instance of Encoder[]');
  });
});
