/**
 * The kernel's view of a TCP connection: `TCP_INFO` on Linux, `TCP_CONNECTION_INFO` on macOS,
 * read through FFI on Deno and Bun (and on Node through the optional npm package `koffi`), decoded
 * into one normalized shape with documented units.
 *
 * - {@linkcode tcpInfo} reads a connection: a file descriptor, a Bun socket, a `Deno.TcpConn`, a
 *   wirefetch socket. It is synchronous and never throws: without permission (Deno needs
 *   `--allow-ffi`), on Node without koffi, on an unsupported OS, or for a closed connection it
 *   returns `info: undefined` with a `reason`.
 * - {@linkcode warnings} turns a reading into coded findings: retransmissions, RTO backoff, losses,
 *   window- or buffer-limited sending, reordering.
 * - {@linkcode decodeLinuxTcpInfo} and {@linkcode decodeDarwinTcpInfo} are the pure decoders;
 *   {@linkcode TCP_INFO_FIELDS} lists every field with its unit (for documentation tables).
 * - {@linkcode fdSearchStats} counts the descriptor searches, for diagnostics.
 *
 * Fields a kernel does not report are absent, not zero: Linux fills as much of `struct tcp_info`
 * as it knows (104 bytes on 2.6, 280 on 6.18) and says how much. Durations keep Linux's units:
 * `rtt`, `rttVar`, `rto`, `ato`, `rcvRtt`, `minRtt` and the `*Limited`/`busyTime` times are
 * microseconds, `lastDataSent`, `lastDataRecv`, `lastAckRecv` and `totalRtoTime` milliseconds.
 *
 * Deno exposes no file descriptor for its connections, so one is found by matching the
 * connection's local and remote address against `getsockname`/`getpeername` of the process's
 * descriptors (`/proc/self/fd`), once per connection (cached), one scan serving many lookups.
 *
 * Permissions on Deno: `--allow-ffi` (required), `--allow-read=/proc/self/fd` (recommended for
 * Deno connections; without it descriptors are probed by number).
 *
 * @example Read a Deno connection
 * ```ts ignore
 * import { tcpInfo, warnings } from "@wirefetch/fetch/tcp-info";
 *
 * const conn = await Deno.connect({ hostname: "example.com", port: 80 });
 * await conn.write(new TextEncoder().encode("HEAD / HTTP/1.1\r\nHost: example.com\r\n\r\n"));
 * await conn.read(new Uint8Array(4096));
 * const result = tcpInfo(conn);
 * if (result.info === undefined) {
 *   console.log(`no TCP_INFO (${result.code}): ${result.reason}`);
 * } else {
 *   console.log(result.info.state, `rtt ${result.info.rtt} µs`, `acked ${result.info.bytesAcked}`);
 *   for (const warning of warnings(result.info)) console.warn(warning.code, warning.message);
 * }
 * conn.close();
 * ```
 *
 * @example Decode bytes captured elsewhere
 * ```ts
 * import { decodeLinuxTcpInfo } from "@wirefetch/fetch/tcp-info";
 *
 * const bytes = new Uint8Array(104);
 * bytes[0] = 1; // TCP_ESTABLISHED
 * const info = decodeLinuxTcpInfo(bytes, 104);
 * console.log(info.state, "bytesAcked" in info); // "ESTABLISHED" false (a 2.6-sized struct)
 * ```
 *
 * @module
 */

export { fdSearchStats, tcpInfo } from "./src/tcp_info/tcp_info.ts";
export {
  DEFAULT_WARNING_THRESHOLDS,
  type TcpWarning,
  type TcpWarningCode,
  warnings,
  type WarningThresholds,
} from "./src/tcp_info/warnings.ts";
export {
  decodeLinuxTcpInfo,
  type DecodeOptions,
  LINUX_TCP_INFO_BUFFER_SIZE,
  TCP_INFO,
} from "./src/tcp_info/linux.ts";
export { decodeDarwinTcpInfo, TCP_CONNECTION_INFO } from "./src/tcp_info/darwin.ts";
export { TCP_INFO_FIELDS, type TcpInfoField, type TcpInfoUnit } from "./src/tcp_info/fields.ts";
export type { FdSearchStats } from "./src/tcp_info/native.ts";
export type {
  DarwinTcpInfoExtra,
  TcpCaStateName,
  TcpInfo,
  TcpInfoEndpoint,
  TcpInfoFailureCode,
  TcpInfoOptions,
  TcpInfoResult,
  TcpInfoTarget,
  TcpSocketLike,
  TcpStateName,
} from "./src/tcp_info/types.ts";
