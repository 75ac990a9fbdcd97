/**
 * The Node socket adapter: `node:net` and `node:tls`, loaded lazily so the module can be
 * imported on any runtime.
 *
 * @module
 */

import {
  ABANDONED,
  type ConnectOptions,
  type NetAddress,
  type Socket,
  type SocketConnector,
  type SocketListener,
} from "./socket.ts";
import { WirefetchError } from "../errors.ts";
import { toSocketError } from "./socket_errors.ts";

// deno-lint-ignore no-explicit-any
type NodeSocket = any;

function address(host: string | undefined, port: number | undefined): NetAddress {
  const a = host ?? "";
  return { address: a, port: port ?? 0, family: a.includes(":") ? "IPv6" : "IPv4" };
}

class NodeAdaptedSocket implements Socket {
  readonly localAddress: NetAddress;
  readonly remoteAddress: NetAddress;
  readonly alpnProtocol: string | null;
  readonly fd: number;
  #raw: NodeSocket;
  #listener: SocketListener | null = null;
  #closed = false;

  constructor(raw: NodeSocket) {
    this.#raw = raw;
    this.localAddress = address(raw.localAddress, raw.localPort);
    this.remoteAddress = address(raw.remoteAddress, raw.remotePort);
    this.alpnProtocol = raw.alpnProtocol || null;
    this.fd = raw._handle?.fd ?? -1;
  }

  listen(listener: SocketListener): void {
    this.#listener = listener;
    const raw = this.#raw;
    raw.on("data", (chunk: Uint8Array) => {
      if (!this.#closed) listener.onSocketData(chunk);
    });
    raw.on("end", () => {
      if (!this.#closed) listener.onSocketEnd();
    });
    raw.on("error", (error: unknown) => {
      if (this.#closed) return;
      this.close();
      listener.onSocketError(toSocketError(error));
    });
    raw.on("close", () => {
      if (this.#closed) return;
      this.#closed = true;
      listener.onSocketEnd();
    });
  }

  write(data: Uint8Array): Promise<void> | null {
    if (this.#closed) return null;
    if (this.#raw.write(data)) return null;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.#raw.off("drain", done);
        this.#raw.off("close", done);
        resolve();
      };
      this.#raw.on("drain", done);
      this.#raw.on("close", done);
    });
  }

  pause(): void {
    this.#raw.pause();
  }

  resume(): void {
    this.#raw.resume();
  }

  unref(): void {
    this.#raw.unref();
  }

  ref(): void {
    this.#raw.ref();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#raw.destroy();
  }
}

/**
 * Connects with `node:net` and `node:tls`.
 *
 * @example
 * ```ts
 * import { nodeConnector } from "./node.ts";
 * const socket = await nodeConnector.connect({ hostname: "127.0.0.1", port: 8080, tls: null });
 * socket.close();
 * ```
 */
export const nodeConnector: SocketConnector = {
  runtime: "node",
  async connect(options: ConnectOptions): Promise<Socket> {
    const tls = options.tls;
    const raw: NodeSocket = tls === null
      ? (await import("node:net")).connect({
        host: options.hostname,
        port: options.port,
        noDelay: true,
      })
      : (await import("node:tls")).connect({
        host: options.hostname,
        port: options.port,
        servername: isIp(tls.serverName) ? undefined : tls.serverName,
        ca: tls.caCerts ? [...tls.caCerts] : undefined,
        rejectUnauthorized: !tls.insecure,
        ALPNProtocols: tls.alpnProtocols ? [...tls.alpnProtocols] : undefined,
      });
    await new Promise<void>((resolve, reject) => {
      // TLS sockets emit "connect" when TCP is up and "secureConnect" after the handshake.
      raw.once("connect", () => {
        if (options.onTcpConnect?.() === false) {
          raw.destroy();
          reject(new WirefetchError("ERR_SOCKET", ABANDONED));
        }
      });
      const event = tls === null ? "connect" : "secureConnect";
      const onError = (error: unknown): void => {
        raw.destroy();
        reject(toSocketError(error, tls !== null && raw.connecting === false));
      };
      raw.once("error", onError);
      raw.once(event, () => {
        raw.off("error", onError);
        resolve();
      });
    });
    raw.setNoDelay?.(true);
    return new NodeAdaptedSocket(raw);
  },
};

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}
