/**
 * The small socket interface everything above the runtime layer is written against.
 *
 * Sockets push bytes to one {@linkcode SocketListener} (Bun and Node push natively; the Deno
 * adapter runs a read loop). Ownership of every chunk passes to the listener, so the HTTP layer
 * can hand body bytes to users as views without copying them again.
 *
 * @module
 */

import type { WirefetchError } from "../errors.ts";

/** An IP endpoint of a connected socket. */
export interface NetAddress {
  /** The IP address, without brackets for IPv6. */
  readonly address: string;
  /** The port number. */
  readonly port: number;
  /** `"IPv4"` or `"IPv6"`. */
  readonly family: "IPv4" | "IPv6";
}

/** The receiver of a socket's events; a connection implements it. */
export interface SocketListener {
  /** Bytes arrived. The listener owns `chunk` from now on. */
  onSocketData(chunk: Uint8Array): void;
  /** The peer closed its side (EOF). No more data follows. */
  onSocketEnd(): void;
  /** The socket failed (reset, broken pipe...). No more events follow. */
  onSocketError(error: WirefetchError): void;
}

/** TLS settings for a connection. */
export interface TlsSettings {
  /** Name sent as SNI and checked against the certificate. */
  readonly serverName: string;
  /** Extra trusted root certificates in PEM format. */
  readonly caCerts?: readonly string[];
  /** Skip certificate verification entirely (tests only). */
  readonly insecure?: boolean;
  /** ALPN protocols to offer. */
  readonly alpnProtocols?: readonly string[];
}

/** Where and how to connect. */
export interface ConnectOptions {
  /** An IP address or host name. */
  readonly hostname: string;
  /** The TCP port. */
  readonly port: number;
  /** When set, a TLS handshake follows the TCP connection. */
  readonly tls: TlsSettings | null;
  /**
   * Called once the TCP connection is established, before any TLS handshake. Returning false
   * abandons the attempt (a Happy Eyeballs loser): the connector closes the socket and rejects
   * with an `ERR_SOCKET` error whose message starts with "abandoned".
   */
  readonly onTcpConnect?: () => boolean;
  /**
   * Aborts a connection attempt still waiting for TCP (a Happy Eyeballs loser whose SYN goes
   * unanswered would otherwise hold a socket for the OS's whole connect timeout). The connector
   * rejects with the {@linkcode ABANDONED} error. Bun cannot cancel before TCP is up; there the
   * attempt is closed as soon as it connects, through `onTcpConnect`.
   */
  readonly signal?: AbortSignal;
}

/** The message of the error a connector rejects with when `onTcpConnect` returned false. */
export const ABANDONED = "abandoned: another connection attempt won";

/** A connected (and, for https, TLS-established) byte stream. */
export interface Socket {
  /** The local end of the connection. */
  readonly localAddress: NetAddress;
  /** The remote end of the connection. */
  readonly remoteAddress: NetAddress;
  /** The negotiated ALPN protocol, or null. */
  readonly alpnProtocol: string | null;
  /** The negotiated TLS version ("TLSv1.3"), or null when plain or not exposed (Deno). */
  readonly tlsVersion?: string | null;
  /** The OS file descriptor when the runtime exposes it, else -1. */
  readonly fd: number;
  /** Starts delivering events to `listener`. Called once. */
  listen(listener: SocketListener): void;
  /**
   * Writes bytes. Returns null when the bytes were handed to the kernel (or buffered without
   * backpressure) synchronously, else a promise that resolves once they were. The promise never
   * rejects: failures reach the listener's `onSocketError`.
   */
  write(data: Uint8Array): Promise<void> | null;
  /** Stops delivering data until `resume` (read backpressure). */
  pause(): void;
  /** Delivers data again after `pause`. */
  resume(): void;
  /** Lets the process exit while this socket is open (idle sockets). */
  unref(): void;
  /** Keeps the process alive while this socket is open (busy sockets). */
  ref(): void;
  /** Closes the socket and frees its resources. Idempotent; no events follow. */
  close(): void;
}

/** Opens sockets for one runtime. */
export interface SocketConnector {
  /** The runtime's name, for diagnostics. */
  readonly runtime: "deno" | "bun" | "node";
  /** Connects (and handshakes TLS when asked). Rejects with a WirefetchError. */
  connect(options: ConnectOptions): Promise<Socket>;
}
