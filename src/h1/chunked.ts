/**
 * Chunked transfer coding for request bodies (RFC 9112 §7.1): each piece of a streamed body is
 * sent as `chunk-size CRLF data CRLF`, and the body ends with the last chunk `0 CRLF CRLF`.
 * wirefetch sends no chunk extensions and no trailers.
 *
 * The decoder lives in the response parser, which shares its line handling with the trailers.
 *
 * @module
 */

/** ASCII codes of the lowercase hex digits. */
const HEX_DIGITS: Uint8Array = new TextEncoder().encode("0123456789abcdef");

/** Hex digits needed for `size` (at least one). */
function hexDigits(size: number): number {
  let digits = 1;
  // Division, not shifts: sizes may exceed 2^32.
  for (let rest = Math.floor(size / 16); rest > 0; rest = Math.floor(rest / 16)) digits++;
  return digits;
}

/** Writes `${size.toString(16)}\r\n` at `out[0..]`; returns the bytes written. */
function writeHeader(out: Uint8Array, size: number, digits: number): number {
  let rest = size;
  for (let i = digits - 1; i >= 0; i--) {
    out[i] = HEX_DIGITS[rest % 16];
    rest = Math.floor(rest / 16);
  }
  out[digits] = 0x0d;
  out[digits + 1] = 0x0a;
  return digits + 2;
}

function checkSize(size: number): void {
  // RFC 9112 §7.1: a chunk of size 0 is the last chunk, so it would end the body early.
  if (!Number.isSafeInteger(size) || size <= 0) {
    throw new RangeError(`chunk size must be a positive safe integer, got ${size}`);
  }
}

/**
 * The chunk header `${size.toString(16)}\r\n` for a chunk of `size` bytes (RFC 9112 §7.1:
 * `chunk-size [ chunk-ext ] CRLF`, lowercase hex, no extension).
 *
 * @param size The chunk's data length; a positive safe integer.
 * @returns A new array with the header bytes.
 * @throws {RangeError} If `size` is not a positive safe integer: a size of 0 would be the
 * last chunk and end the body.
 *
 * @example
 * ```ts
 * import { chunkHeader } from "./chunked.ts";
 * console.log(new TextDecoder().decode(chunkHeader(255))); // "ff\r\n"
 * ```
 */
export function chunkHeader(size: number): Uint8Array {
  checkSize(size);
  const digits = hexDigits(size);
  const out = new Uint8Array(digits + 2);
  writeHeader(out, size, digits);
  return out;
}

/**
 * Frames `data` as one chunk: header, data, CRLF, in one new array, so the chunk goes out in a
 * single socket write. The one copy of `data` is the price of that single write.
 *
 * An empty `data` gives an empty array: a zero-size chunk is the last chunk (RFC 9112 §7.1) and
 * would end the body, so an empty piece of a body stream must produce no bytes at all.
 *
 * @param data The chunk data.
 * @returns `chunk-size CRLF data CRLF`, or an empty array for empty `data`.
 *
 * @example
 * ```ts
 * import { encodeChunk } from "./chunked.ts";
 * const bytes = encodeChunk(new TextEncoder().encode("hello"));
 * console.log(new TextDecoder().decode(bytes)); // "5\r\nhello\r\n"
 * ```
 */
export function encodeChunk(data: Uint8Array): Uint8Array {
  const size = data.length;
  if (size === 0) return new Uint8Array(0);
  const digits = hexDigits(size);
  const out = new Uint8Array(digits + 2 + size + 2);
  const offset = writeHeader(out, size, digits);
  out.set(data, offset);
  out[offset + size] = 0x0d;
  out[offset + size + 1] = 0x0a;
  return out;
}

/**
 * The last chunk with an empty trailer section, `0\r\n\r\n`, which ends a chunked body
 * (RFC 9112 §7.1: `last-chunk trailer-section CRLF`). Shared: never modify it.
 *
 * @example
 * ```ts
 * import { LAST_CHUNK } from "./chunked.ts";
 * console.log(LAST_CHUNK.length); // 5
 * ```
 */
export const LAST_CHUNK: Uint8Array = new Uint8Array([0x30, 0x0d, 0x0a, 0x0d, 0x0a]);
