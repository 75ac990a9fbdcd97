/**
 * The table of normalized TCP_INFO fields: unit, source field on Linux and macOS, and the Linux
 * version that added it. The README renders it; tests check it against {@linkcode TcpInfo}.
 *
 * @module
 */

import type { TcpInfo } from "./types.ts";

/**
 * The unit of a field's value. `"µs"` and `"ms"` are durations, `"bytes/s"` a rate, `"segments"`
 * and `"packets"` TCP segment counts, `"count"` a number of events, `"shift"` a window-scale
 * shift, `"enum"` a state number or name, `"flags"` booleans.
 */
export type TcpInfoUnit =
  | "µs"
  | "ms"
  | "bytes"
  | "bytes/s"
  | "segments"
  | "packets"
  | "count"
  | "shift"
  | "enum"
  | "flags";

/**
 * One row of {@linkcode TCP_INFO_FIELDS}.
 *
 * @example
 * ```ts
 * import type { TcpInfoField } from "./fields.ts";
 *
 * const row: TcpInfoField = {
 *   name: "rtt",
 *   unit: "µs",
 *   linux: "tcpi_rtt",
 *   darwin: "tcpi_srtt (ms × 1000)",
 *   since: "2.6",
 *   description: "smoothed round-trip time",
 * };
 * ```
 */
export interface TcpInfoField {
  /** The property of {@linkcode TcpInfo}. */
  readonly name: keyof TcpInfo;
  /** The unit of its value, the same on every platform. */
  readonly unit: TcpInfoUnit;
  /** The `struct tcp_info` member it comes from on Linux, if any. */
  readonly linux?: string;
  /** The `struct tcp_connection_info` member it comes from on macOS, with the conversion, if any. */
  readonly darwin?: string;
  /** The Linux version whose `struct tcp_info` first has the field. */
  readonly since?: string;
  /** What it measures. */
  readonly description: string;
}

const f = (
  name: keyof TcpInfo,
  unit: TcpInfoUnit,
  linux: string | undefined,
  darwin: string | undefined,
  since: string | undefined,
  description: string,
): TcpInfoField => ({
  name,
  unit,
  ...(linux === undefined ? {} : { linux }),
  ...(darwin === undefined ? {} : { darwin }),
  ...(since === undefined ? {} : { since }),
  description,
});

/**
 * Every normalized field of a reading, in `struct tcp_info` order, with its unit. Durations are
 * µs or ms as Linux reports them (note `lastDataSent`, `lastDataRecv`, `lastAckRecv` and
 * `totalRtoTime` are ms while `rtt` and `rto` are µs); macOS values are converted to the same
 * units. `platform`, `length` and `raw` are not listed.
 *
 * @example Render a Markdown table
 * ```ts
 * import { TCP_INFO_FIELDS } from "./fields.ts";
 *
 * for (const field of TCP_INFO_FIELDS) {
 *   console.log(`| ${field.name} | ${field.unit} | ${field.description} |`);
 * }
 * ```
 */
export const TCP_INFO_FIELDS: readonly TcpInfoField[] = Object.freeze([
  f("state", "enum", "tcpi_state", "tcpi_state", "2.6", "connection state name (Linux names)"),
  f("stateNumber", "enum", "tcpi_state", "tcpi_state", "2.6", "state as the platform numbers it"),
  f("caState", "enum", "tcpi_ca_state", undefined, "2.6", "congestion-avoidance state number"),
  f("caStateName", "enum", "tcpi_ca_state", undefined, "2.6", "congestion-avoidance state name"),
  f(
    "retransmits",
    "count",
    "tcpi_retransmits",
    undefined,
    "2.6",
    "unrecovered RTO retransmissions",
  ),
  f("probes", "count", "tcpi_probes", undefined, "2.6", "unanswered zero-window probes"),
  f("backoff", "count", "tcpi_backoff", undefined, "2.6", "RTO doublings (exponential backoff)"),
  f("options", "flags", "tcpi_options", "tcpi_options", "2.6", "negotiated options"),
  f("sndWscale", "shift", "tcpi_snd_wscale", "tcpi_snd_wscale", "2.6", "send window scale"),
  f("rcvWscale", "shift", "tcpi_rcv_wscale", "tcpi_rcv_wscale", "2.6", "receive window scale"),
  f(
    "deliveryRateAppLimited",
    "flags",
    "tcpi_delivery_rate_app_limited",
    undefined,
    "4.9",
    "delivery-rate sample limited by the application",
  ),
  f(
    "fastopenClientFail",
    "enum",
    "tcpi_fastopen_client_fail",
    undefined,
    "5.5",
    "why client Fast Open failed (0 = it did not)",
  ),
  f("rto", "µs", "tcpi_rto", "tcpi_rto (ms × 1000)", "2.6", "retransmission timeout"),
  f("ato", "µs", "tcpi_ato", undefined, "2.6", "delayed-ACK timeout"),
  f("sndMss", "bytes", "tcpi_snd_mss", "tcpi_maxseg", "2.6", "sender MSS"),
  f("rcvMss", "bytes", "tcpi_rcv_mss", undefined, "2.6", "estimated peer MSS"),
  f("unacked", "segments", "tcpi_unacked", undefined, "2.6", "sent, not yet acknowledged"),
  f("sacked", "segments", "tcpi_sacked", undefined, "2.6", "selectively acknowledged"),
  f("lost", "segments", "tcpi_lost", undefined, "2.6", "presumed lost"),
  f("retrans", "segments", "tcpi_retrans", undefined, "2.6", "retransmitted, not yet acked"),
  f("lastDataSent", "ms", "tcpi_last_data_sent", undefined, "2.6", "time since data was sent"),
  f("lastDataRecv", "ms", "tcpi_last_data_recv", undefined, "2.6", "time since data arrived"),
  f("lastAckRecv", "ms", "tcpi_last_ack_recv", undefined, "2.6", "time since an ACK arrived"),
  f("pmtu", "bytes", "tcpi_pmtu", undefined, "2.6", "path MTU"),
  f("rcvSsthresh", "bytes", "tcpi_rcv_ssthresh", undefined, "2.6", "receive window clamp"),
  f("rtt", "µs", "tcpi_rtt", "tcpi_srtt (ms × 1000)", "2.6", "smoothed round-trip time"),
  f("rttVar", "µs", "tcpi_rttvar", "tcpi_rttvar (ms × 1000)", "2.6", "round-trip time variation"),
  f("sndSsthresh", "segments", "tcpi_snd_ssthresh", undefined, "2.6", "slow-start threshold"),
  f("sndCwnd", "segments", "tcpi_snd_cwnd", undefined, "2.6", "congestion window"),
  f("advmss", "bytes", "tcpi_advmss", undefined, "2.6", "advertised MSS"),
  f("reordering", "segments", "tcpi_reordering", undefined, "2.6", "reordering tolerance"),
  f("rcvRtt", "µs", "tcpi_rcv_rtt", undefined, "2.6", "receiver-side RTT estimate"),
  f("rcvSpace", "bytes", "tcpi_rcv_space", undefined, "2.6", "receive-buffer autotuning target"),
  f(
    "totalRetrans",
    "segments",
    "tcpi_total_retrans",
    "tcpi_txretransmitpackets",
    "2.6",
    "retransmitted over the connection's life",
  ),
  f("pacingRate", "bytes/s", "tcpi_pacing_rate", undefined, "3.15", "pacing rate (∞: none)"),
  f("maxPacingRate", "bytes/s", "tcpi_max_pacing_rate", undefined, "3.15", "pacing rate cap"),
  f(
    "bytesAcked",
    "bytes",
    "tcpi_bytes_acked",
    undefined,
    "4.1",
    "acknowledged (+1 for the SYN when connecting)",
  ),
  f("bytesReceived", "bytes", "tcpi_bytes_received", "tcpi_rxbytes", "4.1", "data received"),
  f("segsOut", "segments", "tcpi_segs_out", "tcpi_txpackets", "4.2", "segments sent"),
  f("segsIn", "segments", "tcpi_segs_in", "tcpi_rxpackets", "4.2", "segments received"),
  f("notsentBytes", "bytes", "tcpi_notsent_bytes", undefined, "4.6", "written, not yet sent"),
  f("minRtt", "µs", "tcpi_min_rtt", undefined, "4.6", "minimum RTT (windowed)"),
  f("dataSegsIn", "segments", "tcpi_data_segs_in", undefined, "4.6", "data segments received"),
  f("dataSegsOut", "segments", "tcpi_data_segs_out", undefined, "4.6", "data segments sent"),
  f("deliveryRate", "bytes/s", "tcpi_delivery_rate", undefined, "4.9", "delivery-rate sample"),
  f("busyTime", "µs", "tcpi_busy_time", undefined, "4.10", "time with data in flight"),
  f("rwndLimited", "µs", "tcpi_rwnd_limited", undefined, "4.10", "busy time receive-window-bound"),
  f("sndbufLimited", "µs", "tcpi_sndbuf_limited", undefined, "4.10", "busy time send-buffer-bound"),
  f("delivered", "segments", "tcpi_delivered", undefined, "4.18", "segments delivered"),
  f("deliveredCe", "segments", "tcpi_delivered_ce", undefined, "4.18", "delivered, CE-echoed"),
  f("bytesSent", "bytes", "tcpi_bytes_sent", "tcpi_txbytes", "4.19", "data sent, retransmits too"),
  f(
    "bytesRetrans",
    "bytes",
    "tcpi_bytes_retrans",
    "tcpi_txretransmitbytes",
    "4.19",
    "data retransmitted",
  ),
  f("dsackDups", "segments", "tcpi_dsack_dups", undefined, "4.19", "DSACKed (spurious) duplicates"),
  f("reordSeen", "count", "tcpi_reord_seen", undefined, "4.19", "reordering events"),
  f("rcvOoopack", "packets", "tcpi_rcv_ooopack", undefined, "5.4", "packets received out of order"),
  f("sndWnd", "bytes", "tcpi_snd_wnd", "tcpi_snd_wnd", "5.4", "peer's receive window"),
  f("rcvWnd", "bytes", "tcpi_rcv_wnd", "tcpi_rcv_wnd", "6.2", "our advertised receive window"),
  f("rehash", "count", "tcpi_rehash", undefined, "6.2", "PLB or timeout rehashes"),
  f("totalRto", "count", "tcpi_total_rto", undefined, "6.7", "RTO timeouts"),
  f("totalRtoRecoveries", "count", "tcpi_total_rto_recoveries", undefined, "6.7", "RTO recoveries"),
  f("totalRtoTime", "ms", "tcpi_total_rto_time", undefined, "6.7", "time in RTO recovery"),
  f("receivedCe", "segments", "tcpi_received_ce", undefined, "6.18", "CE-marked segments received"),
  f("deliveredE1Bytes", "bytes", "tcpi_delivered_e1_bytes", undefined, "6.18", "AccECN ECT(1)"),
  f("deliveredE0Bytes", "bytes", "tcpi_delivered_e0_bytes", undefined, "6.18", "AccECN ECT(0)"),
  f("deliveredCeBytes", "bytes", "tcpi_delivered_ce_bytes", undefined, "6.18", "AccECN CE"),
  f("receivedE1Bytes", "bytes", "tcpi_received_e1_bytes", undefined, "6.18", "AccECN ECT(1) in"),
  f("receivedE0Bytes", "bytes", "tcpi_received_e0_bytes", undefined, "6.18", "AccECN ECT(0) in"),
  f("receivedCeBytes", "bytes", "tcpi_received_ce_bytes", undefined, "6.18", "AccECN CE in"),
]);
