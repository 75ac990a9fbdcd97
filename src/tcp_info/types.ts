/**
 * The normalized shape of a TCP connection's kernel statistics, shared by the Linux and macOS
 * decoders, and the result and target types of `tcpInfo`.
 *
 * @module
 */

/**
 * A TCP state name. Linux's names (`include/net/tcp_states.h`) are used on every platform; macOS
 * states are mapped onto them (`SYN_RECEIVED` → `"SYN_RECV"`, `FIN_WAIT_1` → `"FIN_WAIT1"`,
 * `CLOSED` → `"CLOSE"`...). A number the decoder does not know becomes `"UNKNOWN"`, and
 * {@linkcode TcpInfo.stateNumber} keeps it.
 */
export type TcpStateName =
  | "ESTABLISHED"
  | "SYN_SENT"
  | "SYN_RECV"
  | "FIN_WAIT1"
  | "FIN_WAIT2"
  | "TIME_WAIT"
  | "CLOSE"
  | "CLOSE_WAIT"
  | "LAST_ACK"
  | "LISTEN"
  | "CLOSING"
  | "NEW_SYN_RECV"
  | "BOUND_INACTIVE"
  | "UNKNOWN";

/**
 * A Linux congestion-avoidance state (`enum tcp_ca_state`): `"open"` is normal operation,
 * `"disorder"` means duplicate ACKs or SACKs were seen, `"cwr"` the window was reduced (ECN or
 * local congestion), `"recovery"` fast retransmit is under way, `"loss"` an RTO fired.
 */
export type TcpCaStateName = "open" | "disorder" | "cwr" | "recovery" | "loss" | "unknown";

/** The TCP options negotiated on the connection (`tcpi_options` bits). */
export interface TcpInfoOptions {
  /** RFC 7323 timestamps are in use. */
  readonly timestamps: boolean;
  /** Selective acknowledgements are in use. */
  readonly sack: boolean;
  /** Window scaling is in use (see `sndWscale`, `rcvWscale`). */
  readonly wscale: boolean;
  /** ECN was negotiated at connection setup. */
  readonly ecn: boolean;
  /** At least one ECT-marked packet was received (Linux only). */
  readonly ecnSeen?: boolean;
  /** The SYN carried data that was acknowledged: TCP Fast Open worked (Linux only). */
  readonly synData?: boolean;
  /** Timestamps tick in microseconds instead of milliseconds (Linux 6.7+). */
  readonly usecTs?: boolean;
  /** This is the passive side of a Fast Open connection (Linux 6.9+). */
  readonly tfoChild?: boolean;
}

/**
 * Fields only macOS reports (`struct tcp_connection_info`), or that it reports in a unit that
 * cannot be converted exactly to the normalized one (bytes where Linux counts segments).
 */
export interface DarwinTcpInfoExtra {
  /** The most recent RTT sample, in microseconds (xnu measures milliseconds: a multiple of 1000). */
  readonly rttCur: number;
  /** The congestion window, in bytes (Linux's `sndCwnd` counts segments). */
  readonly sndCwndBytes: number;
  /** The slow-start threshold, in bytes (Linux's `sndSsthresh` counts segments). */
  readonly sndSsthreshBytes: number;
  /** Bytes in the send socket buffer, in flight included. */
  readonly sndSbbytes: number;
  /** Bytes received out of order (Linux counts packets: `rcvOoopack`). */
  readonly rxOutOfOrderBytes: number;
  /** The connection is in loss recovery (`TCPCI_FLAG_LOSSRECOVERY`). */
  readonly lossRecovery: boolean;
  /** Reordering was detected (`TCPCI_FLAG_REORDERING_DETECTED`). */
  readonly reorderingDetected: boolean;
  /** The TCP Fast Open bitfield as a number (bit 0 `tfo_cookie_req` ... bit 14 `onebyte_proxy`). */
  readonly tfoFlags: number;
}

/**
 * One reading of a connection's TCP statistics, normalized across platforms.
 *
 * A field is present only when the kernel reported it: Linux fills as many bytes of
 * `struct tcp_info` as it knows (104 on 2.6 kernels, 280 on 6.18), and every field that lies beyond
 * the returned length is absent (the property does not exist), not zero. macOS reports fewer
 * fields; the ones it lacks are absent too. Times are converted to the unit given on each field,
 * on every platform (macOS's milliseconds become microseconds where the field is in µs).
 *
 * 64-bit kernel counters are plain numbers: they are exact up to 2^53 (8 PiB, 104 days of
 * microseconds), which a connection does not reach in practice. `raw` keeps the exact bytes.
 */
export interface TcpInfo {
  /** Which decoder produced this reading. */
  readonly platform: "linux" | "darwin";
  /** How many bytes of the structure the kernel filled (Linux `optlen`; 112 on macOS). */
  readonly length: number;
  /** The bytes the kernel returned, exactly `length` of them (a copy). */
  readonly raw: Uint8Array;
  /** The connection state by name, e.g. `"ESTABLISHED"`. */
  readonly state: TcpStateName;
  /** The state as the platform numbers it (Linux: ESTABLISHED = 1; xnu: ESTABLISHED = 4). */
  readonly stateNumber: number;
  /** Congestion-avoidance state number (`tcpi_ca_state`; Linux). */
  readonly caState?: number;
  /** Congestion-avoidance state by name (Linux). */
  readonly caStateName?: TcpCaStateName;
  /** Consecutive unrecovered RTO retransmissions of the current segment (count; Linux). */
  readonly retransmits?: number;
  /** Unanswered zero-window probes or keepalives (count; Linux). */
  readonly probes?: number;
  /** Exponential backoff of the RTO: the timeout is doubled this many times (count; Linux). */
  readonly backoff?: number;
  /** Negotiated TCP options. */
  readonly options?: TcpInfoOptions;
  /** Window scale the peer applies to the windows we receive from it (shift, 0-14). */
  readonly sndWscale?: number;
  /** Window scale we apply to the windows we advertise (shift, 0-14). */
  readonly rcvWscale?: number;
  /** The last delivery-rate sample was limited by the application, not the network (Linux 4.9+). */
  readonly deliveryRateAppLimited?: boolean;
  /** Why a Fast Open attempt as client failed, 0 = no failure (enum; Linux 5.5+, else 0). */
  readonly fastopenClientFail?: number;
  /** Retransmission timeout (µs; macOS reports ms, converted). */
  readonly rto?: number;
  /** Delayed-ACK timeout (µs; Linux). */
  readonly ato?: number;
  /** Sender maximum segment size (bytes; macOS: `tcpi_maxseg`). */
  readonly sndMss?: number;
  /** Receiver's estimate of the peer's MSS (bytes; Linux). */
  readonly rcvMss?: number;
  /** Segments sent and not yet acknowledged (segments; Linux). */
  readonly unacked?: number;
  /** Segments the peer SACKed (segments; Linux). */
  readonly sacked?: number;
  /** Segments presumed lost (segments; Linux). */
  readonly lost?: number;
  /** Retransmitted segments still unacknowledged (segments; Linux). */
  readonly retrans?: number;
  /** Time since the last data was sent (ms; Linux). */
  readonly lastDataSent?: number;
  /** Time since the last data was received (ms; Linux). */
  readonly lastDataRecv?: number;
  /** Time since the last ACK was received (ms; Linux). */
  readonly lastAckRecv?: number;
  /** Path MTU (bytes; Linux). */
  readonly pmtu?: number;
  /** Current receive window clamp, the slow-start threshold of the receive side (bytes; Linux). */
  readonly rcvSsthresh?: number;
  /** Smoothed round-trip time (µs; macOS reports ms, converted). */
  readonly rtt?: number;
  /** Round-trip time variation (µs; macOS reports ms, converted). */
  readonly rttVar?: number;
  /** Slow-start threshold (segments; 2147483647 means not yet set; Linux). */
  readonly sndSsthresh?: number;
  /** Congestion window (segments; Linux, see `darwin.sndCwndBytes` on macOS). */
  readonly sndCwnd?: number;
  /** MSS we advertise (bytes; Linux). */
  readonly advmss?: number;
  /** Reordering tolerance the sender currently assumes (segments; initially 3; Linux). */
  readonly reordering?: number;
  /** Receiver-side RTT estimate (µs; Linux). */
  readonly rcvRtt?: number;
  /** Receive buffer space the receiver autotuning aims for (bytes; Linux). */
  readonly rcvSpace?: number;
  /** Segments retransmitted over the connection's life (segments; macOS: packets). */
  readonly totalRetrans?: number;
  /** Current pacing rate (bytes/s; `Infinity` when unlimited; Linux 3.15+). */
  readonly pacingRate?: number;
  /** Pacing rate cap, `SO_MAX_PACING_RATE` (bytes/s; `Infinity` when unlimited; Linux 3.15+). */
  readonly maxPacingRate?: number;
  /**
   * Bytes the peer acknowledged (bytes; Linux 4.1+). On the side that connected, the SYN counts as
   * one: N data bytes acknowledged read N + 1. On the side that accepted, the SYN-ACK does not.
   */
  readonly bytesAcked?: number;
  /** Data bytes received in order (bytes; Linux 4.1+; macOS: payload bytes received). */
  readonly bytesReceived?: number;
  /** Segments sent, retransmissions and pure ACKs included (segments; Linux 4.2+; macOS: packets). */
  readonly segsOut?: number;
  /** Segments received (segments; Linux 4.2+; macOS: packets). */
  readonly segsIn?: number;
  /** Bytes written by the application but not yet sent (bytes; Linux 4.6+). */
  readonly notsentBytes?: number;
  /** Minimum RTT seen over a recent window (µs; Linux 4.6+). */
  readonly minRtt?: number;
  /** Segments received that carried data (segments; Linux 4.6+). */
  readonly dataSegsIn?: number;
  /** Segments sent that carried data, retransmissions included (segments; Linux 4.6+). */
  readonly dataSegsOut?: number;
  /** Most recent delivery-rate sample (bytes/s; Linux 4.9+). */
  readonly deliveryRate?: number;
  /** Time with data in flight (µs; Linux 4.10+). */
  readonly busyTime?: number;
  /** Part of `busyTime` limited by the peer's receive window (µs; Linux 4.10+). */
  readonly rwndLimited?: number;
  /** Part of `busyTime` limited by our send buffer (µs; Linux 4.10+). */
  readonly sndbufLimited?: number;
  /** Segments delivered to the peer, retransmissions included (segments; Linux 4.18+). */
  readonly delivered?: number;
  /** Delivered segments the peer echoed as CE-marked (segments; Linux 4.18+). */
  readonly deliveredCe?: number;
  /** Data bytes sent, retransmissions included (bytes; Linux 4.19+; macOS: payload bytes). */
  readonly bytesSent?: number;
  /** Data bytes retransmitted (bytes; Linux 4.19+; macOS). */
  readonly bytesRetrans?: number;
  /** Duplicate segments reported by DSACK: spurious retransmissions (segments; Linux 4.19+). */
  readonly dsackDups?: number;
  /** Reordering events seen (count; Linux 4.19+). */
  readonly reordSeen?: number;
  /** Packets received out of order (packets; Linux 5.4+). */
  readonly rcvOoopack?: number;
  /** Peer's advertised receive window, scaled (bytes; Linux 5.4+; macOS). */
  readonly sndWnd?: number;
  /** Receive window we advertise, scaled (bytes; Linux 6.2+; macOS). */
  readonly rcvWnd?: number;
  /** PLB or timeout-triggered rehash attempts (count; Linux 6.2+). */
  readonly rehash?: number;
  /** RTO timeouts, SYN ones and recurring ones included (count; Linux 6.7+). */
  readonly totalRto?: number;
  /** RTO recoveries, an unfinished one included (count; Linux 6.7+). */
  readonly totalRtoRecoveries?: number;
  /** Time spent in RTO recoveries (ms; Linux 6.7+). */
  readonly totalRtoTime?: number;
  /** CE-marked segments received (segments; Linux 6.18+). */
  readonly receivedCe?: number;
  /** Accurate ECN: bytes delivered with ECT(1) (bytes; Linux 6.18+). */
  readonly deliveredE1Bytes?: number;
  /** Accurate ECN: bytes delivered with ECT(0) (bytes; Linux 6.18+). */
  readonly deliveredE0Bytes?: number;
  /** Accurate ECN: bytes delivered CE-marked (bytes; Linux 6.18+). */
  readonly deliveredCeBytes?: number;
  /** Accurate ECN: bytes received with ECT(1) (bytes; Linux 6.18+). */
  readonly receivedE1Bytes?: number;
  /** Accurate ECN: bytes received with ECT(0) (bytes; Linux 6.18+). */
  readonly receivedE0Bytes?: number;
  /** Accurate ECN: bytes received CE-marked (bytes; Linux 6.18+). */
  readonly receivedCeBytes?: number;
  /** Fields only macOS reports (present on macOS only). */
  readonly darwin?: DarwinTcpInfoExtra;
}

/** Why {@linkcode TcpInfoResult} has no `info`. */
export type TcpInfoFailureCode =
  /** The runtime withholds the permission (Deno without `--allow-ffi`). */
  | "PERMISSION"
  /** The runtime or operating system is not supported (Windows, Node without koffi, no FFI). */
  | "UNSUPPORTED"
  /** The target is neither a file descriptor nor a socket with addresses. */
  | "INVALID_TARGET"
  /** No socket of this process has the target's local and remote address (closed?). */
  | "NOT_FOUND"
  /** `getsockopt` failed (not a TCP socket, bad descriptor...); the reason names the errno. */
  | "SYSCALL"
  /** The C library could not be loaded or called. */
  | "FFI_ERROR";

/**
 * What `tcpInfo` returns: `info` when the kernel answered, or `info: undefined` with a `reason`
 * (a sentence for humans) and a `code` (to branch on). It never throws.
 */
export type TcpInfoResult =
  | {
    /** The reading. */
    readonly info: TcpInfo;
    /** The file descriptor the reading came from. */
    readonly fd: number;
    /** Always undefined on success. */
    readonly reason?: undefined;
    /** Always undefined on success. */
    readonly code?: undefined;
  }
  | {
    /** Always undefined on failure. */
    readonly info: undefined;
    /** Always undefined on failure. */
    readonly fd?: undefined;
    /** Why there is no reading, for humans. */
    readonly reason: string;
    /** Why there is no reading, to branch on. */
    readonly code: TcpInfoFailureCode;
  };

/**
 * An endpoint as the supported socket objects describe it: wirefetch's `{ address, port }`,
 * Deno's `{ hostname, port }`. `transport` is accepted (and ignored) so `Deno.Addr` fits.
 */
export interface TcpInfoEndpoint {
  /** The IP address (wirefetch sockets). */
  readonly address?: string;
  /** The IP address (Deno's `NetAddr`). */
  readonly hostname?: string;
  /** The port. */
  readonly port?: number;
  /** Ignored; present in Deno's `NetAddr`. */
  readonly transport?: string;
}

/**
 * A socket `tcpInfo` can read, described by shape so no runtime type is imported:
 *
 * - anything with a file descriptor `fd >= 0`: Bun sockets, wirefetch's socket on Bun;
 * - wirefetch's socket on Deno (`fd: -1`, `localAddress` and `remoteAddress` objects);
 * - a `Deno.TcpConn` or `Deno.TlsConn` (`localAddr`, `remoteAddr`);
 * - a `node:net` socket (`localAddress` and `remoteAddress` strings with `localPort`,
 *   `remotePort`).
 *
 * Without a descriptor, the socket is found by its local and remote address among the process's
 * open descriptors.
 */
export interface TcpSocketLike {
  /** The OS file descriptor, or -1 when the runtime does not expose it. */
  readonly fd?: number;
  /** Local endpoint (wirefetch) or local IP address (node:net, with `localPort`). */
  readonly localAddress?: TcpInfoEndpoint | string;
  /** Remote endpoint (wirefetch) or remote IP address (node:net, with `remotePort`). */
  readonly remoteAddress?: TcpInfoEndpoint | string;
  /** Local port when `localAddress` is a string. */
  readonly localPort?: number;
  /** Remote port when `remoteAddress` is a string. */
  readonly remotePort?: number;
  /** Local endpoint (Deno connections). */
  readonly localAddr?: TcpInfoEndpoint;
  /** Remote endpoint (Deno connections). */
  readonly remoteAddr?: TcpInfoEndpoint;
}

/** A file descriptor, or a socket object (see {@linkcode TcpSocketLike}). */
export type TcpInfoTarget = number | TcpSocketLike;
