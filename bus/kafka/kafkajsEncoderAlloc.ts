/**
 * kafkajs 2.2.4's Encoder grows its buffer with `Buffer.alloc`, which zero-fills memory
 * that the very next line overwrites: when a record batch is encoded each nesting level
 * (record, batch body, batch, produce request, request) copies the whole payload into a
 * freshly grown buffer, so a scrape's ~1 MB of messages was zero-filled several times
 * over. The Encoder never hands out bytes it has not written (`buffer` is the slice up to
 * `offset`), so uninitialised memory is safe here. Applied once, at load, to kafkajs's
 * own class, like the other kafkajs patches.
 */
import { createRequire } from 'node:module';

interface EncoderLike {
  buf: Buffer;
  offset: number;
  ensureAvailable(length: number): void;
}

const require = createRequire(import.meta.url);
const Encoder = require('kafkajs/src/protocol/encoder.js') as { prototype: EncoderLike; nextPowerOfTwo(value: number): number };

function ensureAvailable(this: EncoderLike, length: number): void {
  if (this.offset + length <= this.buf.length) return;
  const grown = Buffer.allocUnsafe(Encoder.nextPowerOfTwo(this.offset + length));
  this.buf.copy(grown, 0, 0, this.offset);
  this.buf = grown;
}

Encoder.prototype.ensureAvailable = ensureAvailable;

/** True once kafkajs's Encoder grows without zero-filling (for a test that it was applied to the class kafkajs uses). */
export function kafkajsEncoderPatched(): boolean {
  return Encoder.prototype.ensureAvailable === ensureAvailable;
}
