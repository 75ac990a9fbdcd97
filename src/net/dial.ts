/**
 * A dial: resolve the name, race TCP connections over its addresses (Happy Eyeballs), then run
 * TLS over the winner with the original host name for SNI and verification. Each phase is
 * reported to an observer, which turns them into trace events and timings.
 *
 * @module
 */

import type { Socket, SocketConnector, TlsSettings } from "../runtime/socket.ts";
import { CONNECTION_ATTEMPT_DELAY, interleave, race } from "./happy_eyeballs.ts";
import { ipFamily, type LookupAddress, type Resolver } from "./resolve.ts";

/** Receives the phases of a dial. */
export interface DialObserver {
  /** A name lookup begins (not for IP literals). */
  onDnsStart(host: string): void;
  /** The lookup ended. */
  onDnsDone(
    addresses: readonly string[],
    error: Error | undefined,
    coalesced: boolean,
    cached: boolean,
  ): void;
  /** A TCP attempt begins (`network` is tcp4 or tcp6, `address` is ip:port). */
  onConnectStart(network: string, address: string): void;
  /** A TCP attempt ended. */
  onConnectDone(network: string, address: string, error: Error | undefined): void;
  /** The TLS handshake begins. */
  onTlsStart(): void;
  /** The TLS handshake ended. */
  onTlsDone(alpnProtocol: string | null, error: Error | undefined): void;
}

/** Where to dial. */
export interface DialTarget {
  /** Host name or IP literal (IPv6 without brackets). */
  readonly host: string;
  /** TCP port. */
  readonly port: number;
  /** TLS settings for https, else null. */
  readonly tls: TlsSettings | null;
}

function endpoint(address: LookupAddress, port: number): string {
  return address.family === 6 ? `[${address.address}]:${port}` : `${address.address}:${port}`;
}

/**
 * Opens connections for a client.
 *
 * @example
 * ```ts ignore
 * const dialer = new Dialer(defaultConnector(), new Resolver());
 * const socket = await dialer.dial({ host: "localhost", port: 8080, tls: null }, null);
 * ```
 */
export class Dialer {
  /** The runtime's connector. */
  readonly connector: SocketConnector;
  /** The name resolver. */
  readonly resolver: Resolver;

  /** Creates a dialer. */
  constructor(connector: SocketConnector, resolver: Resolver) {
    this.connector = connector;
    this.resolver = resolver;
  }

  /** Resolves, races and handshakes; rejects with a WirefetchError. `signal` aborts the dial. */
  async dial(
    target: DialTarget,
    observer: DialObserver | null,
    signal?: AbortSignal,
  ): Promise<Socket> {
    const { host, port, tls } = target;
    let addresses: readonly LookupAddress[];
    const family = ipFamily(host);
    if (family !== 0) {
      addresses = [{ address: host, family }];
    } else {
      observer?.onDnsStart(host);
      try {
        const resolution = await this.resolver.resolve(host);
        addresses = interleave(resolution.addresses);
        observer?.onDnsDone(
          addresses.map((a) => a.address),
          undefined,
          resolution.coalesced,
          resolution.cached,
        );
      } catch (error) {
        observer?.onDnsDone([], error as Error, false, false);
        throw error;
      }
    }
    const connector = this.connector;
    let tlsStarted = false;
    try {
      const socket = await race(
        addresses,
        (address, onTcpConnect, attemptSignal) =>
          connector.connect({
            hostname: address.address,
            port,
            tls,
            onTcpConnect,
            signal: attemptSignal,
          }),
        observer === null && tls === null ? null : {
          onAttemptStart(address: LookupAddress): void {
            observer?.onConnectStart(`tcp${address.family}`, endpoint(address, port));
          },
          onAttemptDone(address: LookupAddress, error: Error | undefined): void {
            observer?.onConnectDone(`tcp${address.family}`, endpoint(address, port), error);
            if (error === undefined && tls !== null) {
              tlsStarted = true;
              observer?.onTlsStart();
            }
          },
        },
        CONNECTION_ATTEMPT_DELAY,
        signal,
      );
      if (tls !== null) observer?.onTlsDone(socket.alpnProtocol, undefined);
      return socket;
    } catch (error) {
      if (tlsStarted) observer?.onTlsDone(null, error as Error);
      throw error;
    }
  }
}
