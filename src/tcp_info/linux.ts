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

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

// The fields after the first 8 bytes, in struct order, each present when the kernel filled it
// (`length` covers its end). tcpi_fackets (40) and tcpi_last_ack_sent (48) are left out: the
// kernel has filled them with 0 since 4.15 and always, respectively. Written out field by field:
// a named store per field keeps the object's shape fast, where a loop over a [name, offset]
// table (keyed stores of ever-changing names) made decoding five times slower.

/** An unsigned 64-bit field as a Number (rounded as `Number(bigint)` rounds, above 2^53). */
function u64(view: DataView, offset: number, le: boolean): number {
  const lo = view.getUint32(le ? offset : offset + 4, le);
  const hi = view.getUint32(le ? offset + 4 : offset, le);
  // hi * 2^32 is exact; adding lo rounds once, to nearest, as the BigInt conversion does.
  return hi * 4294967296 + lo;
}

/** A pacing rate: all bits set means "unlimited", reported as Infinity. */
function rate(view: DataView, offset: number, le: boolean): number {
  if (view.getUint32(offset, le) === 0xffffffff && view.getUint32(offset + 4, le) === 0xffffffff) {
    return Infinity;
  }
  return u64(view, offset, le);
}

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
  if (length >= 12) info.rto = view.getUint32(8, le);
  if (length >= 16) info.ato = view.getUint32(12, le);
  if (length >= 20) info.sndMss = view.getUint32(16, le);
  if (length >= 24) info.rcvMss = view.getUint32(20, le);
  if (length >= 28) info.unacked = view.getUint32(24, le);
  if (length >= 32) info.sacked = view.getUint32(28, le);
  if (length >= 36) info.lost = view.getUint32(32, le);
  if (length >= 40) info.retrans = view.getUint32(36, le);
  if (length >= 48) info.lastDataSent = view.getUint32(44, le);
  if (length >= 56) info.lastDataRecv = view.getUint32(52, le);
  if (length >= 60) info.lastAckRecv = view.getUint32(56, le);
  if (length >= 64) info.pmtu = view.getUint32(60, le);
  if (length >= 68) info.rcvSsthresh = view.getUint32(64, le);
  if (length >= 72) info.rtt = view.getUint32(68, le);
  if (length >= 76) info.rttVar = view.getUint32(72, le);
  if (length >= 80) info.sndSsthresh = view.getUint32(76, le);
  if (length >= 84) info.sndCwnd = view.getUint32(80, le);
  if (length >= 88) info.advmss = view.getUint32(84, le);
  if (length >= 92) info.reordering = view.getUint32(88, le);
  if (length >= 96) info.rcvRtt = view.getUint32(92, le);
  if (length >= 100) info.rcvSpace = view.getUint32(96, le);
  if (length >= 104) info.totalRetrans = view.getUint32(100, le);
  if (length >= 112) info.pacingRate = rate(view, 104, le);
  if (length >= 120) info.maxPacingRate = rate(view, 112, le);
  if (length >= 128) info.bytesAcked = u64(view, 120, le);
  if (length >= 136) info.bytesReceived = u64(view, 128, le);
  if (length >= 140) info.segsOut = view.getUint32(136, le);
  if (length >= 144) info.segsIn = view.getUint32(140, le);
  if (length >= 148) info.notsentBytes = view.getUint32(144, le);
  if (length >= 152) info.minRtt = view.getUint32(148, le);
  if (length >= 156) info.dataSegsIn = view.getUint32(152, le);
  if (length >= 160) info.dataSegsOut = view.getUint32(156, le);
  if (length >= 168) info.deliveryRate = u64(view, 160, le);
  if (length >= 176) info.busyTime = u64(view, 168, le);
  if (length >= 184) info.rwndLimited = u64(view, 176, le);
  if (length >= 192) info.sndbufLimited = u64(view, 184, le);
  if (length >= 196) info.delivered = view.getUint32(192, le);
  if (length >= 200) info.deliveredCe = view.getUint32(196, le);
  if (length >= 208) info.bytesSent = u64(view, 200, le);
  if (length >= 216) info.bytesRetrans = u64(view, 208, le);
  if (length >= 220) info.dsackDups = view.getUint32(216, le);
  if (length >= 224) info.reordSeen = view.getUint32(220, le);
  if (length >= 228) info.rcvOoopack = view.getUint32(224, le);
  if (length >= 232) info.sndWnd = view.getUint32(228, le);
  if (length >= 236) info.rcvWnd = view.getUint32(232, le);
  if (length >= 240) info.rehash = view.getUint32(236, le);
  if (length >= 242) info.totalRto = view.getUint16(240, le);
  if (length >= 244) info.totalRtoRecoveries = view.getUint16(242, le);
  if (length >= 248) info.totalRtoTime = view.getUint32(244, le);
  if (length >= 252) info.receivedCe = view.getUint32(248, le);
  if (length >= 256) info.deliveredE1Bytes = view.getUint32(252, le);
  if (length >= 260) info.deliveredE0Bytes = view.getUint32(256, le);
  if (length >= 264) info.deliveredCeBytes = view.getUint32(260, le);
  if (length >= 268) info.receivedE1Bytes = view.getUint32(264, le);
  if (length >= 272) info.receivedE0Bytes = view.getUint32(268, le);
  if (length >= 276) info.receivedCeBytes = view.getUint32(272, le);
  return info;
}
