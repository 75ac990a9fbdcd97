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

/** An endpoint of a connected socket: an IP address and port, or a unix socket path. */
export interface NetAddress {
  /** The IP address, without brackets for IPv6; for a unix socket its path (or ""). */
  readonly address: string;
  /** The port number (0 for a unix socket). */
  readonly port: number;
  /** `"IPv4"`, `"IPv6"`, or `"unix"` for a unix domain socket. */
  readonly family: "IPv4" | "IPv6" | "unix";
}

/**
 * The parts of a peer certificate that `checkServerIdentity` callbacks use, as Node's and Bun's
 * `getPeerCertificate()` describe them (`subject`, `subjectaltname`, `fingerprint256`, `raw`...).
 */
export interface PeerCertificate {
  /** SHA-256 fingerprint, colon-separated upper-case hex. */
  readonly fingerprint256?: string;
  /** The subjectAltName extension as text ("DNS:localhost, IP Address:127.0.0.1"). */
  readonly subjectaltname?: string;
  /** The DER bytes of the certificate. */
  readonly raw?: Uint8Array;
  /** Any other field the runtime reports. */
  readonly [field: string]: unknown;
}

/**
 * Decides whether a certificate belongs to `hostname`: returns an Error to reject it. Runs after
 * chain verification (unless that is off), instead of the default host name check.
 */
export type CheckServerIdentity = (
  hostname: string,
  cert: PeerCertificate,
) => Error | undefined;

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
  /** A client certificate chain (PEM) for mutual TLS, with `key`. */
  readonly cert?: string;
  /** The private key (PEM) of `cert`. */
  readonly key?: string;
  /** Replaces the host name check (certificate pinning). */
  readonly checkServerIdentity?: CheckServerIdentity;
}

/** Where and how to connect. */
export interface ConnectOptions {
  /** An IP address or host name (ignored with `path`). */
  readonly hostname: string;
  /** The TCP port (ignored with `path`). */
  readonly port: number;
  /** A unix domain socket path (a leading NUL byte names a Linux abstract socket). */
  readonly path?: string;
  /** The local IP address to bind the outgoing TCP socket to. */
  readonly localAddress?: string;
  /**
   * TCP keepalive: milliseconds of idleness before the first probe, or 0 for none. Deno's own
   * sockets cannot set the delay; there the operating system's default applies.
   */
  readonly keepAlive?: number;
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
  /**
   * Optional, before `listen`: reads once and resolves with the bytes, or null at EOF (rejects
   * with a WirefetchError). A proxy handshake reads this way where it can, so that no read is
   * left pending when the runtime's own TLS must take the connection over (Deno's `startTls`
   * refuses a connection with a read in flight).
   */
  pull?(): Promise<Uint8Array | null>;
  /**
   * Optional: gives up the runtime's own connection object for a TLS upgrade, if `listen` was
   * never called and nothing is buffered; this Socket is then dead. Else undefined.
   */
  detach?(): unknown;
}

/** Opens sockets for one runtime. */
export interface SocketConnector {
  /** The runtime's name, for diagnostics. */
  readonly runtime: "deno" | "bun" | "node";
  /** Connects (and handshakes TLS when asked). Rejects with a WirefetchError. */
  connect(options: ConnectOptions): Promise<Socket>;
  /**
   * Runs a TLS handshake over a socket that is already connected (a proxy tunnel), on which
   * `listen` was not called yet. Rejects with a WirefetchError; the socket is closed then.
   */
  startTls(socket: Socket, tls: TlsSettings, signal?: AbortSignal): Promise<Socket>;
}
