/**
 * What the outside may see of a connection: a handle for trace events and `tcpInfo()`, and its
 * counters. Plain types, so the trace layer can name them without importing the connection.
 *
 * @module
 */

import type { NetAddress } from "../runtime/socket.ts";

/**
 * A connection as trace events hand it out: enough to identify it and to read its TCP_INFO
 * (`tcpInfo(event.connection)` from `@wirefetch/fetch/tcp-info`).
 */
export interface ConnectionHandle {
  /** The connection's id, as in `connectionId`. */
  readonly id: number;
  /** Our end. */
  readonly localAddress: NetAddress;
  /** The server's end. */
  readonly remoteAddress: NetAddress;
  /** The socket's file descriptor when the runtime exposes it (Bun, Node), else -1. */
  readonly fd: number;
  /** The negotiated ALPN protocol for https, else null. */
  readonly alpnProtocol: string | null;
  /** The TLS version for https when the runtime exposes it (Bun, Node), else null. */
  readonly tlsVersion: string | null;
}

/** A connection's counters and timestamps (performance.now() ms; -1 for "not yet"). */
export interface ConnectionStats {
  /** When the connection was established. */
  readonly openedAt: number;
  /** When it closed. */
  readonly closedAt: number;
  /** First time bytes arrived (kept with the `tcpInfo` option). */
  readonly firstReadAt: number;
  /** Last time bytes arrived (kept with the `tcpInfo` option). */
  readonly lastReadAt: number;
  /** First time bytes were written (kept with the `tcpInfo` option). */
  readonly firstWriteAt: number;
  /** Last time bytes were written (kept with the `tcpInfo` option). */
  readonly lastWriteAt: number;
  /** Bytes received. */
  readonly bytesRead: number;
  /** Bytes handed to the socket. */
  readonly bytesWritten: number;
  /** Requests completed. */
  readonly requestsServed: number;
}
