/**
 * Decoder of macOS's `struct tcp_connection_info` (xnu `bsd/netinet/tcp.h`), as
 * `getsockopt(fd, IPPROTO_TCP, TCP_CONNECTION_INFO, ...)` returns it. Pure: bytes in, values out.
 *
 * Layout (112 bytes, natural alignment, the u64 counters `aligned(8)`):
 *
 * | offset | field                  | type | unit              | normalized as            |
 * | -----: | ---------------------- | ---- | ----------------- | ------------------------ |
 * |      0 | tcpi_state             | u8   | xnu state         | `state`, `stateNumber`   |
 * |      1 | tcpi_snd_wscale        | u8   | shift             | `sndWscale`              |
 * |      2 | tcpi_rcv_wscale        | u8   | shift             | `rcvWscale`              |
 * |      4 | tcpi_options           | u32  | TCPCI_OPT_* bits  | `options`                |
 * |      8 | tcpi_flags             | u32  | TCPCI_FLAG_* bits | `darwin.lossRecovery`... |
 * |     12 | tcpi_rto               | u32  | ms                | `rto` (µs)               |
 * |     16 | tcpi_maxseg            | u32  | bytes             | `sndMss`                 |
 * |     20 | tcpi_snd_ssthresh      | u32  | bytes             | `darwin.sndSsthreshBytes` |
 * |     24 | tcpi_snd_cwnd          | u32  | bytes             | `darwin.sndCwndBytes`    |
 * |     28 | tcpi_snd_wnd           | u32  | bytes             | `sndWnd`                 |
 * |     32 | tcpi_snd_sbbytes       | u32  | bytes             | `darwin.sndSbbytes`      |
 * |     36 | tcpi_rcv_wnd           | u32  | bytes             | `rcvWnd`                 |
 * |     40 | tcpi_rttcur            | u32  | ms                | `darwin.rttCur` (µs)     |
 * |     44 | tcpi_srtt              | u32  | ms                | `rtt` (µs)               |
 * |     48 | tcpi_rttvar            | u32  | ms                | `rttVar` (µs)            |
 * |     52 | tcpi_tfo_* bitfield    | u32  | bits              | `darwin.tfoFlags`        |
 * |     56 | tcpi_txpackets         | u64  | packets           | `segsOut`                |
 * |     64 | tcpi_txbytes           | u64  | bytes             | `bytesSent`              |
 * |     72 | tcpi_txretransmitbytes | u64  | bytes             | `bytesRetrans`           |
 * |     80 | tcpi_rxpackets         | u64  | packets           | `segsIn`                 |
 * |     88 | tcpi_rxbytes           | u64  | bytes             | `bytesReceived`          |
 * |     96 | tcpi_rxoutoforderbytes | u64  | bytes             | `darwin.rxOutOfOrderBytes` |
 * |    104 | tcpi_txretransmitpackets | u64 | packets          | `totalRetrans`           |
 *
 * Times are converted from milliseconds to the normalized microseconds (so they are multiples of
 * 1000). Window and threshold values in bytes are not forced into Linux's segment-counted
 * `sndCwnd`/`sndSsthresh`: they stay in `darwin`.
 *
 * @module
 */

import type { DarwinTcpInfoExtra, TcpInfo, TcpStateName } from "./types.ts";
import { type DecodeOptions, HOST_LITTLE_ENDIAN } from "./linux.ts";

/** `TCP_CONNECTION_INFO` on macOS (`getsockopt` level `IPPROTO_TCP`). */
export const TCP_CONNECTION_INFO = 0x106;
/** `sizeof(struct tcp_connection_info)`. */
export const DARWIN_TCP_INFO_LENGTH = 112;

// xnu bsd/netinet/tcp_fsm.h, TCPS_CLOSED = 0 ... TCPS_TIME_WAIT = 10, mapped onto Linux names.
const STATES: readonly TcpStateName[] = [
  "CLOSE",
  "LISTEN",
  "SYN_SENT",
  "SYN_RECV",
  "ESTABLISHED",
  "CLOSE_WAIT",
  "FIN_WAIT1",
  "CLOSING",
  "LAST_ACK",
  "FIN_WAIT2",
  "TIME_WAIT",
];

/**
 * xnu's TCP state number to the normalized name (`4` → `"ESTABLISHED"`, `3` → `"SYN_RECV"`).
 *
 * @example
 * ```ts
 * import { darwinStateName } from "./darwin.ts";
 *
 * console.log(darwinStateName(4)); // "ESTABLISHED"
 * ```
 */
export function darwinStateName(state: number): TcpStateName {
  return STATES[state] ?? "UNKNOWN";
}

/**
 * Decodes the first `length` bytes of `bytes` as macOS's `struct tcp_connection_info`. The
 * structure has had one size since it appeared (macOS 10.12); fields beyond a shorter `length`
 * are absent all the same.
 *
 * @throws {RangeError} if `length` is negative or larger than `bytes`.
 *
 * @example
 * ```ts
 * import { decodeDarwinTcpInfo } from "./darwin.ts";
 *
 * const bytes = new Uint8Array(112); // filled by getsockopt(fd, 6, 0x106, bytes, &len)
 * bytes[0] = 4; // TCPS_ESTABLISHED
 * new DataView(bytes.buffer).setUint32(44, 12, true); // tcpi_srtt = 12 ms
 * const info = decodeDarwinTcpInfo(bytes, 112);
 * console.log(info.state, info.rtt); // "ESTABLISHED" 12000
 * ```
 */
export function decodeDarwinTcpInfo(
  bytes: Uint8Array,
  length: number,
  options: DecodeOptions = {},
): TcpInfo {
  if (!Number.isInteger(length) || length < 0 || length > bytes.length) {
    throw new RangeError(`tcp_connection_info length ${length} outside 0..${bytes.length}`);
  }
  const le = options.littleEndian ?? HOST_LITTLE_ENDIAN;
  const raw = bytes.slice(0, length);
  const view = new DataView(raw.buffer);
  const has = (offset: number, size: number): boolean => offset + size <= length;
  const u32 = (offset: number): number => view.getUint32(offset, le);
  const u64 = (offset: number): number => Number(view.getBigUint64(offset, le));
  const ms = (offset: number): number => u32(offset) * 1000;

  const stateNumber = has(0, 1) ? raw[0] : 0;
  const info: Record<string, unknown> = {
    platform: "darwin",
    length,
    raw,
    state: has(0, 1) ? darwinStateName(stateNumber) : "UNKNOWN",
    stateNumber,
  };
  if (has(1, 1)) info.sndWscale = raw[1];
  if (has(2, 1)) info.rcvWscale = raw[2];
  if (has(4, 4)) {
    const bits = u32(4);
    info.options = {
      timestamps: (bits & 1) !== 0,
      sack: (bits & 2) !== 0,
      wscale: (bits & 4) !== 0,
      ecn: (bits & 8) !== 0,
    };
  }
  if (has(12, 4)) info.rto = ms(12);
  if (has(16, 4)) info.sndMss = u32(16);
  if (has(28, 4)) info.sndWnd = u32(28);
  if (has(36, 4)) info.rcvWnd = u32(36);
  if (has(44, 4)) info.rtt = ms(44);
  if (has(48, 4)) info.rttVar = ms(48);
  if (has(56, 8)) info.segsOut = u64(56);
  if (has(64, 8)) info.bytesSent = u64(64);
  if (has(72, 8)) info.bytesRetrans = u64(72);
  if (has(80, 8)) info.segsIn = u64(80);
  if (has(88, 8)) info.bytesReceived = u64(88);
  if (has(104, 8)) info.totalRetrans = u64(104);
  // The macOS-only group is all or nothing: every one of its fields lies before 112.
  if (has(0, DARWIN_TCP_INFO_LENGTH)) {
    const flags = u32(8);
    const darwin: DarwinTcpInfoExtra = {
      rttCur: ms(40),
      sndCwndBytes: u32(24),
      sndSsthreshBytes: u32(20),
      sndSbbytes: u32(32),
      rxOutOfOrderBytes: u64(96),
      lossRecovery: (flags & 1) !== 0,
      reorderingDetected: (flags & 2) !== 0,
      // Apple's targets are all little-endian, where GCC and clang give the first of the 15 TFO
      // bitfield members the lowest bit.
      tfoFlags: u32(52) & 0x7fff,
    };
    info.darwin = darwin;
  }
  return info as unknown as TcpInfo;
}
