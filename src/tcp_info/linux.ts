/**
 * Decoder of Linux's `struct tcp_info` (`include/uapi/linux/tcp.h`), as `getsockopt(fd,
 * IPPROTO_TCP, TCP_INFO, ...)` returns it. Pure: bytes in, values out.
 *
 * The structure only ever grows at its end, and the kernel copies `min(optlen, sizeof)` bytes and
 * reports that length, so the length says which fields this kernel knows: a field that ends past
 * it is left out of the result (absent), never reported as zero.
 *
 * @module
 */

import type { TcpCaStateName, TcpInfo, TcpInfoOptions, TcpStateName } from "./types.ts";

/** `IPPROTO_TCP`, the `getsockopt` level of TCP options. */
export const IPPROTO_TCP = 6;
/** `TCP_INFO` on Linux. */
export const TCP_INFO = 11;
/**
 * The size of the buffer handed to the kernel: larger than any `struct tcp_info` so far (280 bytes
 * on 6.18), so a newer kernel's extra fields are still returned (and kept in `raw`).
 */
export const LINUX_TCP_INFO_BUFFER_SIZE = 512;
/** The size `struct tcp_info` had before Linux 3.15 added the pacing rates: the fields all kernels fill. */
export const LINUX_TCP_INFO_MIN_LENGTH = 104;
/**
 * The length up to which this decoder knows the layout (Linux 6.18). The 4 bytes from 276 to 280
 * hold a word whose layout changed after 6.18 (two u16 AccECN fields became a bitfield), so they
 * are left to `raw`.
 */
export const LINUX_TCP_INFO_KNOWN_LENGTH = 280;

// include/net/tcp_states.h, in kernel order starting at TCP_ESTABLISHED = 1.
const STATES: readonly TcpStateName[] = [
  "UNKNOWN",
  "ESTABLISHED",
  "SYN_SENT",
  "SYN_RECV",
  "FIN_WAIT1",
  "FIN_WAIT2",
  "TIME_WAIT",
  "CLOSE",
  "CLOSE_WAIT",
  "LAST_ACK",
  "LISTEN",
  "CLOSING",
  "NEW_SYN_RECV",
  "BOUND_INACTIVE",
];

const CA_STATES: readonly TcpCaStateName[] = ["open", "disorder", "cwr", "recovery", "loss"];

/**
 * Linux's TCP state number to its name (`1` → `"ESTABLISHED"`); unknown numbers give
 * `"UNKNOWN"`.
 *
 * @example
 * ```ts
 * import { linuxStateName } from "./linux.ts";
 *
 * console.log(linuxStateName(1)); // "ESTABLISHED"
 * ```
 */
export function linuxStateName(state: number): TcpStateName {
  return STATES[state] ?? "UNKNOWN";
}

/** Options for {@linkcode decodeLinuxTcpInfo}. */
export interface DecodeOptions {
  /**
   * Byte order of the bytes, which is the byte order of the machine that produced them. Defaults
   * to this machine's. Bitfields follow it too (GCC allocates them from the low bit on
   * little-endian targets, from the high bit on big-endian ones).
   */
  readonly littleEndian?: boolean;
}

/** Whether this machine stores integers little-endian. */
export const HOST_LITTLE_ENDIAN: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const U64_MAX = 0xffff_ffff_ffff_ffffn;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

// The fields after the first 8 bytes as [name, offset, size], in struct order. tcpi_fackets (40)
// and tcpi_last_ack_sent (48) are left out: the kernel has filled them with 0 since 4.15 and
// always, respectively.
const FIELDS: readonly (readonly [keyof TcpInfo, number, 2 | 4 | 8])[] = [
  ["rto", 8, 4],
  ["ato", 12, 4],
  ["sndMss", 16, 4],
  ["rcvMss", 20, 4],
  ["unacked", 24, 4],
  ["sacked", 28, 4],
  ["lost", 32, 4],
  ["retrans", 36, 4],
  ["lastDataSent", 44, 4],
  ["lastDataRecv", 52, 4],
  ["lastAckRecv", 56, 4],
  ["pmtu", 60, 4],
  ["rcvSsthresh", 64, 4],
  ["rtt", 68, 4],
  ["rttVar", 72, 4],
  ["sndSsthresh", 76, 4],
  ["sndCwnd", 80, 4],
  ["advmss", 84, 4],
  ["reordering", 88, 4],
  ["rcvRtt", 92, 4],
  ["rcvSpace", 96, 4],
  ["totalRetrans", 100, 4],
  ["pacingRate", 104, 8],
  ["maxPacingRate", 112, 8],
  ["bytesAcked", 120, 8],
  ["bytesReceived", 128, 8],
  ["segsOut", 136, 4],
  ["segsIn", 140, 4],
  ["notsentBytes", 144, 4],
  ["minRtt", 148, 4],
  ["dataSegsIn", 152, 4],
  ["dataSegsOut", 156, 4],
  ["deliveryRate", 160, 8],
  ["busyTime", 168, 8],
  ["rwndLimited", 176, 8],
  ["sndbufLimited", 184, 8],
  ["delivered", 192, 4],
  ["deliveredCe", 196, 4],
  ["bytesSent", 200, 8],
  ["bytesRetrans", 208, 8],
  ["dsackDups", 216, 4],
  ["reordSeen", 220, 4],
  ["rcvOoopack", 224, 4],
  ["sndWnd", 228, 4],
  ["rcvWnd", 232, 4],
  ["rehash", 236, 4],
  ["totalRto", 240, 2],
  ["totalRtoRecoveries", 242, 2],
  ["totalRtoTime", 244, 4],
  ["receivedCe", 248, 4],
  ["deliveredE1Bytes", 252, 4],
  ["deliveredE0Bytes", 256, 4],
  ["deliveredCeBytes", 260, 4],
  ["receivedE1Bytes", 264, 4],
  ["receivedE0Bytes", 268, 4],
  ["receivedCeBytes", 272, 4],
];

// Where tcpi_delivery_rate ends: the kernel (4.9) that added it also added
// tcpi_delivery_rate_app_limited in the spare bits of byte 7, so byte 7 means something only then.
const DELIVERY_RATE_END = 168;

/**
 * Decodes the first `length` bytes of `bytes` as Linux's `struct tcp_info`. Fields that end beyond
 * `length` are absent from the result. `raw` is a copy of those `length` bytes.
 *
 * Units are converted nowhere: Linux reports `rto`, `ato`, `rtt`, `rttVar`, `rcvRtt`, `minRtt`,
 * `busyTime`, `rwndLimited` and `sndbufLimited` in microseconds, `lastDataSent`, `lastDataRecv`,
 * `lastAckRecv` and `totalRtoTime` in milliseconds. `pacingRate` and `maxPacingRate` are
 * `Infinity` when the kernel reports "unlimited" (all bits set).
 *
 * @throws {RangeError} if `length` is negative or larger than `bytes`.
 *
 * @example Decode what getsockopt returned
 * ```ts
 * import { decodeLinuxTcpInfo } from "./linux.ts";
 *
 * const bytes = new Uint8Array(512); // filled by getsockopt(fd, 6, 11, bytes, &len)
 * bytes[0] = 1; // TCP_ESTABLISHED
 * const info = decodeLinuxTcpInfo(bytes, 104);
 * console.log(info.state, info.rtt, info.bytesAcked); // "ESTABLISHED" 0 undefined
 * ```
 */
export function decodeLinuxTcpInfo(
  bytes: Uint8Array,
  length: number,
  options: DecodeOptions = {},
): TcpInfo {
  if (!Number.isInteger(length) || length < 0 || length > bytes.length) {
    throw new RangeError(`tcp_info length ${length} outside 0..${bytes.length}`);
  }
  const le = options.littleEndian ?? HOST_LITTLE_ENDIAN;
  const raw = bytes.slice(0, length);
  const view = new DataView(raw.buffer);
  const stateNumber = length >= 1 ? raw[0] : 0;
  const info: Mutable<TcpInfo> = {
    platform: "linux",
    length,
    raw,
    state: length >= 1 ? linuxStateName(stateNumber) : "UNKNOWN",
    stateNumber,
  };
  if (length >= 2) {
    info.caState = raw[1];
    info.caStateName = CA_STATES[raw[1]] ?? "unknown";
  }
  if (length >= 3) info.retransmits = raw[2];
  if (length >= 4) info.probes = raw[3];
  if (length >= 5) info.backoff = raw[4];
  if (length >= 6) {
    const bits = raw[5];
    const opts: TcpInfoOptions = {
      timestamps: (bits & 1) !== 0,
      sack: (bits & 2) !== 0,
      wscale: (bits & 4) !== 0,
      ecn: (bits & 8) !== 0,
      ecnSeen: (bits & 16) !== 0,
      synData: (bits & 32) !== 0,
      usecTs: (bits & 64) !== 0,
      tfoChild: (bits & 128) !== 0,
    };
    info.options = opts;
  }
  if (length >= 7) {
    // __u8 tcpi_snd_wscale : 4, tcpi_rcv_wscale : 4;
    const byte = raw[6];
    info.sndWscale = le ? byte & 0x0f : byte >> 4;
    info.rcvWscale = le ? byte >> 4 : byte & 0x0f;
  }
  if (length >= DELIVERY_RATE_END) {
    // __u8 tcpi_delivery_rate_app_limited:1, tcpi_fastopen_client_fail:2;
    const byte = raw[7];
    info.deliveryRateAppLimited = (le ? byte & 1 : byte >> 7) !== 0;
    info.fastopenClientFail = le ? (byte >> 1) & 3 : (byte >> 5) & 3;
  }
  const fields = info as unknown as Record<string, number>;
  for (const [name, offset, size] of FIELDS) {
    if (offset + size > length) break;
    if (size === 2) fields[name] = view.getUint16(offset, le);
    else if (size === 4) fields[name] = view.getUint32(offset, le);
    else {
      const value = view.getBigUint64(offset, le);
      fields[name] = value === U64_MAX && (name === "pacingRate" || name === "maxPacingRate")
        ? Infinity
        : Number(value);
    }
  }
  return info;
}
