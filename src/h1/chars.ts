/**
 * Byte-class lookup tables shared by the HTTP/1.1 encoder and parser.
 *
 * Tables indexed by a byte (or a char code below 256) beat regular expressions and chains of
 * comparisons on the hot path, and one shared copy keeps the encoder's and the parser's idea of
 * a token identical.
 *
 * @module
 */

/**
 * `1` at the index of every `tchar` (RFC 9110 §5.6.2), `0` elsewhere:
 * `"!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" /
 * DIGIT / ALPHA`. Method names and field names are tokens.
 *
 * @example Check one byte
 * ```ts
 * import { TCHAR } from "./chars.ts";
 * console.log(TCHAR[0x41] === 1, TCHAR[0x3a] === 0); // "A" is a tchar, ":" is not
 * ```
 */
export const TCHAR: Uint8Array = (() => {
  const table = new Uint8Array(256);
  for (let c = 0x30; c <= 0x39; c++) table[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) table[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) table[c] = 1;
  const symbols = "!#$%&'*+-.^_`|~";
  for (let i = 0; i < symbols.length; i++) table[symbols.charCodeAt(i)] = 1;
  return table;
})();

/**
 * The value of each hexadecimal digit byte (`0-9`, `a-f`, `A-F`), `-1` for every other byte.
 * Chunk sizes are `1*HEXDIG` (RFC 9112 §7.1).
 *
 * @example Read a hex digit
 * ```ts
 * import { HEX_VALUE } from "./chars.ts";
 * console.log(HEX_VALUE[0x66], HEX_VALUE[0x67]); // 15 -1
 * ```
 */
export const HEX_VALUE: Int8Array = (() => {
  const table = new Int8Array(256).fill(-1);
  for (let c = 0; c < 10; c++) table[0x30 + c] = c;
  for (let c = 0; c < 6; c++) {
    table[0x41 + c] = 10 + c;
    table[0x61 + c] = 10 + c;
  }
  return table;
})();
