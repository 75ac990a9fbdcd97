/**
 * A dial follows a {@linkcode Route}: resolve the name, race TCP connections over its addresses
 * (Happy Eyeballs), then TLS over the winner with the original host name for SNI and
 * verification. Through a proxy the first hop is the proxy (TLS to it for `https://` proxies);
 * a tunnel (`CONNECT`, SOCKS5) is opened next, and the origin's TLS runs inside it. A unix socket
 * route connects to its path. Each phase is reported to an observer, which turns them into trace
 * events and timings.
 *
 * @module
 */

import { WirefetchError } from "../errors.ts";
import type { Socket, SocketConnector, TlsSettings } from "../runtime/socket.ts";
import { CONNECTION_ATTEMPT_DELAY, interleave, race } from "./happy_eyeballs.ts";
import { ipFamily, type LookupAddress, type Resolver } from "./resolve.ts";
import type { ProxySettings, Route } from "../route/route.ts";
import { HandshakeSocket } from "../proxy/handshake_socket.ts";
import { openTunnel } from "../proxy/connect.ts";
import { socks5Connect, type SocksTarget } from "../proxy/socks5.ts";

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
  /**
   * A connection attempt begins (`network` is tcp4 or tcp6 with `address` ip:port, or unix with
   * the socket's path).
   */
  onConnectStart(network: string, address: string): void;
  /** A connection attempt ended. */
  onConnectDone(network: string, address: string, error: Error | undefined): void;
  /**
   * The proxy handshake begins: `CONNECT` or SOCKS5 to `target` (host:port) through `proxy`
   * (its URL without credentials).
   */
  onProxyConnectStart(proxy: string, target: string): void;
  /**
   * The proxy handshake ended: `status` is the CONNECT status or the SOCKS5 reply code when the
   * proxy answered, else undefined.
   */
  onProxyConnectDone(
    proxy: string,
    target: string,
    status: number | undefined,
    error: Error | undefined,
  ): void;
  /** The TLS handshake begins. */
  onTlsStart(): void;
  /** The TLS handshake ended. */
  onTlsDone(alpnProtocol: string | null, error: Error | undefined): void;
}

/** Where to dial: a route (the pool's key). */
export type DialTarget = Route;

function endpoint(address: LookupAddress, port: number): string {
  return address.family === 6 ? `[${address.address}]:${port}` : `${address.address}:${port}`;
}

function authority(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Opens connections for a client.
 *
 * @example
 * ```ts ignore
 * const dialer = new Dialer(defaultConnector(), new Resolver());
 * const socket = await dialer.dial(route, null);
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

  /** Follows `route`; rejects with a WirefetchError. `signal` aborts the dial. */
  async dial(
    route: DialTarget,
    observer: DialObserver | null,
    signal?: AbortSignal,
  ): Promise<Socket> {
    if (route.unix !== null) return await this.#dialUnix(route, observer, signal);
    const proxy = route.proxy;
    if (proxy === null) {
      return await this.#dialTcp(route.host, route.port, route.tls, route, observer, signal);
    }
    let socket: Socket;
    try {
      socket = await this.#dialTcp(proxy.host, proxy.port, proxy.tls, route, observer, signal);
    } catch (error) {
      const e = error as WirefetchError;
      if (e.code === "ERR_CONNECT_TIMEOUT" || signal?.aborted) throw error;
      throw new WirefetchError(
        "ERR_PROXY",
        `cannot reach the proxy ${proxy.url}: ${e.message}`,
        { cause: error },
      );
    }
    if (!route.tunnel) return socket;
    const tunnel = await this.#openTunnel(socket, proxy, route, observer, signal);
    if (route.tls === null) return tunnel;
    return await this.#startTls(tunnel, route.tls, observer, signal);
  }

  async #openTunnel(
    socket: Socket,
    proxy: ProxySettings,
    route: Route,
    observer: DialObserver | null,
    signal: AbortSignal | undefined,
  ): Promise<Socket> {
    const target = authority(route.host, route.port);
    observer?.onProxyConnectStart(proxy.url, target);
    const handshake = new HandshakeSocket(socket);
    // A proxy that accepts and never answers is bounded by connectTimeout, which aborts here.
    const onAbort = (): void => handshake.close();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      let status: number;
      if (proxy.protocol === "socks5" || proxy.protocol === "socks5h") {
        status = await socks5Connect(
          handshake,
          await this.#socksTarget(route, proxy.protocol === "socks5h"),
          proxy.credentials,
        );
      } else {
        // RFC 9110 §9.3.6. Proxy-Authorization goes on CONNECT only: inside the tunnel the
        // origin would see it.
        status = (await openTunnel(handshake, target, proxy.headers)).status;
      }
      observer?.onProxyConnectDone(proxy.url, target, status, undefined);
      return handshake;
    } catch (error) {
      handshake.close();
      observer?.onProxyConnectDone(
        proxy.url,
        target,
        (error as { proxyStatus?: number }).proxyStatus,
        error as Error,
      );
      throw error;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  // socks5h sends the name for the proxy to resolve; socks5 resolves it here first, as curl and
  // Node's SOCKS agents do (Deno sends the name either way), so /etc/hosts and the `lookup`
  // option apply and the proxy never learns the name.
  async #socksTarget(route: Route, remoteDns: boolean): Promise<SocksTarget> {
    const family = ipFamily(route.host);
    if (family !== 0 || remoteDns) return { host: route.host, family, port: route.port };
    let addresses: readonly LookupAddress[];
    try {
      addresses = (await this.resolver.resolve(route.host)).addresses;
    } catch (error) {
      throw new WirefetchError(
        "ERR_DNS",
        `cannot resolve ${route.host} for the SOCKS5 proxy (use socks5h:// to let the proxy ` +
          `resolve it): ${(error as Error).message}`,
        { cause: error },
      );
    }
    const first = addresses[0];
    return { host: first.address, family: first.family === 6 ? 6 : 4, port: route.port };
  }

  async #startTls(
    socket: Socket,
    tls: TlsSettings,
    observer: DialObserver | null,
    signal: AbortSignal | undefined,
  ): Promise<Socket> {
    observer?.onTlsStart();
    try {
      const secure = await this.connector.startTls(socket, tls, signal);
      observer?.onTlsDone(secure.alpnProtocol, undefined);
      return secure;
    } catch (error) {
      socket.close();
      observer?.onTlsDone(null, error as Error);
      throw error;
    }
  }

  async #dialUnix(
    route: Route,
    observer: DialObserver | null,
    signal: AbortSignal | undefined,
  ): Promise<Socket> {
    const path = route.unix!;
    const tls = route.tls;
    let tlsStarted = false;
    observer?.onConnectStart("unix", path);
    try {
      const socket = await this.connector.connect({
        hostname: "",
        port: 0,
        path,
        tls,
        signal,
        onTcpConnect: observer === null ? undefined : () => {
          observer.onConnectDone("unix", path, undefined);
          if (tls !== null) {
            tlsStarted = true;
            observer.onTlsStart();
          }
          return true;
        },
      });
      if (tls !== null) observer?.onTlsDone(socket.alpnProtocol, undefined);
      return socket;
    } catch (error) {
      if (tlsStarted) {
        observer?.onTlsDone(null, error as Error);
        throw error;
      }
      const e = error as WirefetchError;
      if (signal?.aborted) throw error;
      // Runtimes say "Failed to connect" or "No such file or directory": name the path. A
      // missing socket file means nothing listens there, as a refused TCP connection does.
      const wrapped = new WirefetchError(
        e.code === "ERR_SOCKET" ? "ERR_CONNECTION_REFUSED" : e.code,
        `cannot connect to the unix socket ${JSON.stringify(path)}: ${e.message}`,
        { cause: error },
      );
      observer?.onConnectDone("unix", path, wrapped);
      throw wrapped;
    }
  }

  async #dialTcp(
    host: string,
    port: number,
    tls: TlsSettings | null,
    route: Route,
    observer: DialObserver | null,
    signal: AbortSignal | undefined,
  ): Promise<Socket> {
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
    const localAddress = route.localAddress ?? undefined;
    const keepAlive = route.keepAlive;
    let tlsStarted = false;
    try {
      const socket = await race(
        addresses,
        (address, onTcpConnect, attemptSignal) =>
          connector.connect({
            hostname: address.address,
            port,
            tls,
            localAddress,
            keepAlive,
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
