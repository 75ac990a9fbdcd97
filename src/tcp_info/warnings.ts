/**
 * `warnings`: what in a TCP_INFO reading is worth telling a human about (retransmissions, RTO
 * backoff, losses, time limited by a window or buffer, reordering), as coded messages.
 *
 * @module
 */

import type { TcpInfo } from "./types.ts";

/** The kinds of {@linkcode TcpWarning}. */
export type TcpWarningCode =
  | "RETRANSMISSIONS"
  | "RTO_BACKOFF"
  | "LOST"
  | "RWND_LIMITED"
  | "SNDBUF_LIMITED"
  | "REORDERING"
  | "OUT_OF_ORDER";

/**
 * One finding about a connection.
 *
 * @example
 * ```ts
 * import type { TcpWarning } from "./warnings.ts";
 *
 * const warning: TcpWarning = {
 *   code: "RTO_BACKOFF",
 *   message: "the retransmission timeout was doubled 2 times",
 *   value: 2,
 * };
 * ```
 */
export interface TcpWarning {
  /** What kind of finding it is, to branch on. */
  readonly code: TcpWarningCode;
  /** A sentence for humans. */
  readonly message: string;
  /** The number the finding is about (a count, or a share between 0 and 1 for `*_LIMITED`). */
  readonly value: number;
}

/**
 * Thresholds of {@linkcode warnings}.
 *
 * @example
 * ```ts
 * import type { WarningThresholds } from "./warnings.ts";
 *
 * const strict: WarningThresholds = { limitedShare: 0.01 };
 * ```
 */
export interface WarningThresholds {
  /**
   * The share of `busyTime` (time with data in flight) spent limited by the peer's receive window
   * (`rwndLimited`) or by our send buffer (`sndbufLimited`) above which a `RWND_LIMITED` or
   * `SNDBUF_LIMITED` warning is given. Default 0.1: a tenth of the sending time waiting on a
   * window is a tuning problem worth a look, short bursts below it are normal.
   */
  readonly limitedShare: number;
}

/**
 * The default thresholds: `limitedShare` 0.1. Every other warning fires on any non-zero count,
 * because on a healthy connection (and always on loopback) those counters stay at zero.
 *
 * @example
 * ```ts
 * import { DEFAULT_WARNING_THRESHOLDS } from "./warnings.ts";
 *
 * console.log(DEFAULT_WARNING_THRESHOLDS.limitedShare); // 0.1
 * ```
 */
export const DEFAULT_WARNING_THRESHOLDS: WarningThresholds = Object.freeze({ limitedShare: 0.1 });

// Linux starts every connection with a reordering tolerance of net.ipv4.tcp_reordering = 3.
const INITIAL_REORDERING = 3;

function percent(share: number): string {
  return `${Math.round(share * 1000) / 10}%`;
}

/**
 * Findings about a reading, in a fixed order (the codes of {@linkcode TcpWarningCode}); empty for
 * a healthy connection. Fields the platform or kernel did not report are skipped.
 *
 * - `RETRANSMISSIONS`: `totalRetrans` > 0, or `retransmits` > 0 (an RTO retransmission under way).
 * - `RTO_BACKOFF`: `backoff` > 0: the peer or the path stopped answering and the timeout doubled.
 * - `LOST`: `lost` > 0 segments presumed lost right now, or macOS's loss-recovery flag.
 * - `RWND_LIMITED` / `SNDBUF_LIMITED`: `rwndLimited` / `sndbufLimited` above
 *   `thresholds.limitedShare` of `busyTime`.
 * - `REORDERING`: `reordSeen` > 0 (Linux 4.19+; before it, `reordering` grown above its initial 3),
 *   or macOS's reordering flag.
 * - `OUT_OF_ORDER`: `rcvOoopack` > 0 packets (Linux 5.4+), or out-of-order bytes on macOS.
 *
 * @example
 * ```ts ignore
 * import { tcpInfo, warnings } from "@wirefetch/fetch/tcp-info";
 *
 * const { info } = tcpInfo(conn);
 * if (info) for (const w of warnings(info)) console.warn(`${w.code}: ${w.message}`);
 * ```
 */
export function warnings(
  info: TcpInfo,
  thresholds: Partial<WarningThresholds> = {},
): TcpWarning[] {
  const limitedShare = thresholds.limitedShare ?? DEFAULT_WARNING_THRESHOLDS.limitedShare;
  const found: TcpWarning[] = [];
  const darwin = info.darwin;

  const total = info.totalRetrans ?? 0;
  const current = info.retransmits ?? 0;
  if (total > 0 || current > 0) {
    const bytes = info.bytesRetrans ? ` (${info.bytesRetrans} bytes)` : "";
    const now = current > 0
      ? `; ${current} consecutive timeout retransmission(s) of the current segment`
      : "";
    found.push({
      code: "RETRANSMISSIONS",
      message: `${total} segment(s) retransmitted${bytes}${now}`,
      value: Math.max(total, current),
    });
  }
  if ((info.backoff ?? 0) > 0) {
    found.push({
      code: "RTO_BACKOFF",
      message: `the retransmission timeout was doubled ${info.backoff} time(s): ` +
        "the peer or the path is not answering",
      value: info.backoff!,
    });
  }
  if ((info.lost ?? 0) > 0 || darwin?.lossRecovery) {
    found.push({
      code: "LOST",
      message: (info.lost ?? 0) > 0
        ? `${info.lost} segment(s) presumed lost`
        : "the connection is in loss recovery",
      value: info.lost ?? 1,
    });
  }
  const busy = info.busyTime ?? 0;
  if (busy > 0) {
    const rwnd = (info.rwndLimited ?? 0) / busy;
    if (rwnd > limitedShare) {
      found.push({
        code: "RWND_LIMITED",
        message: `${
          percent(rwnd)
        } of the sending time was limited by the peer's receive window (threshold ${
          percent(limitedShare)
        })`,
        value: rwnd,
      });
    }
    const sndbuf = (info.sndbufLimited ?? 0) / busy;
    if (sndbuf > limitedShare) {
      found.push({
        code: "SNDBUF_LIMITED",
        message: `${percent(sndbuf)} of the sending time was limited by the send buffer ` +
          `(threshold ${percent(limitedShare)})`,
        value: sndbuf,
      });
    }
  }
  if ((info.reordSeen ?? 0) > 0) {
    found.push({
      code: "REORDERING",
      message: `${info.reordSeen} reordering event(s) seen`,
      value: info.reordSeen!,
    });
  } else if (
    info.reordSeen === undefined && (info.reordering ?? 0) > INITIAL_REORDERING
  ) {
    found.push({
      code: "REORDERING",
      message: `the reordering tolerance grew to ${info.reordering} segments`,
      value: info.reordering!,
    });
  } else if (darwin?.reorderingDetected) {
    found.push({ code: "REORDERING", message: "reordering was detected", value: 1 });
  }
  if ((info.rcvOoopack ?? 0) > 0) {
    found.push({
      code: "OUT_OF_ORDER",
      message: `${info.rcvOoopack} packet(s) arrived out of order`,
      value: info.rcvOoopack!,
    });
  } else if ((darwin?.rxOutOfOrderBytes ?? 0) > 0) {
    found.push({
      code: "OUT_OF_ORDER",
      message: `${darwin!.rxOutOfOrderBytes} byte(s) arrived out of order`,
      value: darwin!.rxOutOfOrderBytes,
    });
  }
  return found;
}
