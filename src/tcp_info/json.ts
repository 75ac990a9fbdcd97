/**
 * A TCP_INFO reading as JSON: `JSON.stringify` of a {@linkcode TcpInfo} would spell its `raw`
 * bytes as an object of up to 280 numbered keys; here they are one hex string.
 *
 * @module
 */

import type { TcpInfo } from "./types.ts";

/** A {@linkcode TcpInfo} with `raw` as a hex string (two digits per byte, as the kernel gave). */
export type TcpInfoJson = Omit<TcpInfo, "raw"> & { readonly raw: string };

/**
 * `info` for `JSON.stringify`: every decoded field as it is, `raw` as a hex string.
 *
 * @example
 * ```ts
 * import { decodeLinuxTcpInfo } from "./linux.ts";
 * import { tcpInfoToJSON } from "./json.ts";
 *
 * const bytes = new Uint8Array(104);
 * bytes[0] = 1; // TCP_ESTABLISHED
 * const json = tcpInfoToJSON(decodeLinuxTcpInfo(bytes, 104));
 * console.log(json.state, json.raw.length); // "ESTABLISHED" 208
 * ```
 */
export function tcpInfoToJSON(info: TcpInfo): TcpInfoJson {
  let hex = "";
  for (const byte of info.raw) hex += byte.toString(16).padStart(2, "0");
  return { ...info, raw: hex };
}
