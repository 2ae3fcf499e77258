/** UTF-8 sizes of JS strings, without encoding them. */

/** Bytes `text` takes in UTF-8 (a lone surrogate counts as the 3 bytes of U+FFFD, as encoders write it). */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** True when `text` surely fits in `maxBytes` (each UTF-16 unit is at most 3 UTF-8 bytes), or when it does after counting. */
export function fitsUtf8(text: string, maxBytes: number): boolean {
  return text.length * 3 <= maxBytes || (text.length <= maxBytes && utf8ByteLength(text) <= maxBytes);
}

/**
 * Cuts `text` into pieces of at most `maxBytes` UTF-8 bytes each, never inside a character
 * (a surrogate pair stays whole). `maxBytes` below 4 is raised to 4 so that every character fits.
 */
export function splitUtf8(text: string, maxBytes: number): string[] {
  const limit = Math.max(4, maxBytes);
  const pieces: string[] = [];
  let pieceStart = 0;
  let pieceBytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let units = 1;
    let bytes: number;
    if (c < 0x80) bytes = 1;
    else if (c < 0x800) bytes = 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes = 4;
      units = 2;
    } else bytes = 3;
    if (pieceBytes + bytes > limit) {
      pieces.push(text.slice(pieceStart, i));
      pieceStart = i;
      pieceBytes = 0;
    }
    pieceBytes += bytes;
    i += units - 1;
  }
  pieces.push(text.slice(pieceStart));
  return pieces;
}
