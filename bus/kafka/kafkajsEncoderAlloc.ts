/**
 * kafkajs 2.2.4's Encoder, growing less and without zero-filling.
 *
 * When a produce request is encoded each nesting level (record, batch body, batch,
 * partition, topic, request) copies the whole payload into a new Encoder. kafkajs grows
 * that buffer by doubling, one appended record or partition at a time, so each level
 * copied the payload about twice, into zero-filled memory that the next line overwrites.
 * With 110 pods (a ~35 MB scrape) those copies were 29 % of the agent's CPU in a profile.
 * Here an array of encoders (records, partitions, topics) or a nested encoder is measured
 * first and the buffer grown once, to the size needed, with `Buffer.allocUnsafe`: the
 * Encoder never hands out bytes it has not written (`buffer` is the slice up to `offset`).
 * Applied once, at load, to kafkajs's own class, like the other kafkajs patches.
 */
import { createRequire } from 'node:module';

interface EncoderLike {
  buf: Buffer;
  offset: number;
  ensureAvailable(length: number): void;
  writeEncoder(value: EncoderLike): EncoderLike;
  writeEncoderArray(value: readonly EncoderLike[]): EncoderLike;
}

const require = createRequire(import.meta.url);
const Encoder = require('kafkajs/src/protocol/encoder.js') as { prototype: EncoderLike; nextPowerOfTwo(value: number): number };

function ensureAvailable(this: EncoderLike, length: number): void {
  if (this.offset + length <= this.buf.length) return;
  const grown = Buffer.allocUnsafe(Encoder.nextPowerOfTwo(this.offset + length));
  this.buf.copy(grown, 0, 0, this.offset);
  this.buf = grown;
}

/** Room for exactly `length` more bytes: for a payload appended whole, doubling would only overshoot. */
function reserve(encoder: EncoderLike, length: number): void {
  if (encoder.offset + length <= encoder.buf.length) return;
  const grown = Buffer.allocUnsafe(encoder.offset + length);
  encoder.buf.copy(grown, 0, 0, encoder.offset);
  encoder.buf = grown;
}

function isEncoder(value: unknown): value is EncoderLike {
  return value != null && Buffer.isBuffer((value as EncoderLike).buf);
}

function append(encoder: EncoderLike, value: EncoderLike): void {
  value.buf.copy(encoder.buf, encoder.offset, 0, value.offset);
  encoder.offset += value.offset;
}

function writeEncoder(this: EncoderLike, value: EncoderLike): EncoderLike {
  if (!isEncoder(value)) throw new Error('value should be an instance of Encoder');
  reserve(this, value.offset);
  append(this, value);
  return this;
}

function writeEncoderArray(this: EncoderLike, value: readonly EncoderLike[]): EncoderLike {
  if (!Array.isArray(value) || !value.every(isEncoder)) throw new Error('all values should be an instance of Encoder[]');
  let length = 0;
  for (const encoder of value) length += encoder.offset;
  reserve(this, length);
  for (const encoder of value) append(this, encoder);
  return this;
}

Encoder.prototype.ensureAvailable = ensureAvailable;
Encoder.prototype.writeEncoder = writeEncoder;
Encoder.prototype.writeEncoderArray = writeEncoderArray;

/** True once kafkajs's Encoder grows without zero-filling (for a test that it was applied to the class kafkajs uses). */
export function kafkajsEncoderPatched(): boolean {
  const { prototype } = Encoder;
  return prototype.ensureAvailable === ensureAvailable && prototype.writeEncoder === writeEncoder && prototype.writeEncoderArray === writeEncoderArray;
}
