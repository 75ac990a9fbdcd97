/**
 * The Node socket adapter: `node:net` and `node:tls`, loaded lazily (once) so the module can be
 * imported on any runtime without pulling Node's networking in where it is not used.
 *
 * Node's sockets are streams: they push `data`, `end`, `error` and `close` events. The adapter
 * turns them into {@linkcode SocketListener} calls, never more than one terminal call, and keeps
 * an `error` handler attached for the socket's whole life (an `error` event without a handler
 * crashes the process).
 *
 * @module
 */

import {
  ABANDONED,
  type ConnectOptions,
  type NetAddress,
  type PeerCertificate,
  type Socket,
  type SocketConnector,
  type SocketListener,
  type TlsSettings,
} from "./socket.ts";
import { WirefetchError } from "../errors.ts";
import { toSocketError } from "./socket_errors.ts";

type NetModule = typeof import("node:net");
type TlsModule = typeof import("node:tls");
type NodeRawSocket = import("node:net").Socket;
type SecureContext = import("node:tls").SecureContext;

let netModule: Promise<NetModule> | null = null;
type StreamModule = { Duplex: typeof import("node:stream").Duplex };
let streamModule: Promise<StreamModule> | null = null;
let tlsModule: Promise<TlsModule> | null = null;

function loadNet(): Promise<NetModule> {
  return (netModule ??= import("node:net"));
}

function loadTls(): Promise<TlsModule> {
  return (tlsModule ??= import("node:tls"));
}

function loadStream(): Promise<StreamModule> {
  return (streamModule ??= import("node:stream").then((m) => ({ Duplex: m.Duplex })));
}

function address(
  host: string | undefined,
  port: number | undefined,
  family: string | undefined,
): NetAddress {
  const a = host ?? "";
  const f = family === "IPv6" || family === "IPv4" ? family : a.includes(":") ? "IPv6" : "IPv4";
  return { address: a, port: port ?? 0, family: f };
}

// Node emits Buffers. A Buffer is a Uint8Array whose `slice` returns a view instead of a copy and
// whose `toString` decodes; the layers above (and users reading body chunks) expect the plain
// Uint8Array semantics every other runtime gives them, so chunks are re-viewed, never copied.
function plain(chunk: Uint8Array): Uint8Array {
  return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/**
 * A Node stream socket (`net.Socket` or `tls.TLSSocket`) as a {@linkcode Socket}. `under`, when
 * given, is the socket this one runs over (TLS inside a proxy tunnel, a unix socket's path): its
 * addresses and descriptor are the ones to show, since a TLS socket over a stream has none.
 *
 * @example
 * ```ts ignore
 * const socket = new NodeAdaptedSocket(net.connect({ port: 8080 }));
 * ```
 */
export class NodeAdaptedSocket implements Socket {
  /** The negotiated ALPN protocol, or null. */
  readonly alpnProtocol: string | null;
  /** The TLS version, or null for a plain socket. */
  readonly tlsVersion: string | null;
  /** The descriptor, or -1. */
  readonly fd: number;
  /** Our end. */
  readonly localAddress: NetAddress;
  /** The peer's end. */
  readonly remoteAddress: NetAddress;
  #raw: NodeRawSocket;
  #listener: SocketListener | null = null;
  // Set once a terminal event (end, error, close) was delivered or close() was called: nothing
  // reaches the listener after that.
  #done = false;
  // A terminal event that arrived before listen(), delivered by listen().
  #earlyEnd = false;
  #earlyError: WirefetchError | null = null;
  // Whether the connection asked for read backpressure (pause() without a resume() since).
  #paused = false;

  /** Adapts `raw`; see the class documentation for `under` and `path`. */
  constructor(raw: NodeRawSocket, under?: Socket, path?: string) {
    this.#raw = raw;
    if (under !== undefined) {
      this.localAddress = under.localAddress;
      this.remoteAddress = under.remoteAddress;
    } else if (path !== undefined) {
      this.localAddress = { address: "", port: 0, family: "unix" };
      this.remoteAddress = { address: path, port: 0, family: "unix" };
    } else {
      this.localAddress = address(raw.localAddress, raw.localPort, raw.localFamily);
      this.remoteAddress = address(raw.remoteAddress, raw.remotePort, raw.remoteFamily);
    }
    const secure = raw as {
      alpnProtocol?: string | false | null;
      getProtocol?: () => string | null;
    };
    this.alpnProtocol = secure.alpnProtocol || null;
    // "TLSv1.3" on a TLS socket; plain sockets have no getProtocol.
    this.tlsVersion = secure.getProtocol?.() ?? null;
    const handle = (raw as unknown as { _handle?: { fd?: number } | null })._handle;
    this.fd = under !== undefined
      ? under.fd
      : typeof handle?.fd === "number" && handle.fd >= 0
      ? handle.fd
      : -1;
    // Attached now, not in listen(): between connect and listen the peer may already reset or
    // close, and an unhandled 'error' event would crash the process. 'data' waits for listen(),
    // since attaching it switches the stream to flowing mode; until then Node buffers the bytes.
    raw.on("end", this.#onEnd);
    raw.on("error", this.#onError);
    raw.on("close", this.#onClose);
  }

  #onEnd = (): void => {
    if (this.#done) return;
    const listener = this.#listener;
    if (listener === null) {
      this.#earlyEnd = true;
      return;
    }
    this.#done = true;
    listener.onSocketEnd();
  };

  #onError = (error: unknown): void => {
    if (this.#done) return;
    const wrapped = toSocketError(error);
    const listener = this.#listener;
    if (listener === null) {
      this.#earlyError ??= wrapped;
      return;
    }
    this.#done = true;
    this.#raw.destroy();
    listener.onSocketError(wrapped);
  };

  // 'close' follows 'end' or 'error' normally; alone, the socket was torn down without either
  // (destroyed by Node itself), which for the listener is the end of the stream.
  // A close without a preceding end or error (destroyed by the peer's RST after our own end,
  // say) ends the stream the same way.
  #onClose = this.#onEnd;

  #onData = (chunk: Uint8Array): void => {
    if (!this.#done) this.#listener!.onSocketData(plain(chunk));
  };

  listen(listener: SocketListener): void {
    this.#listener = listener;
    const error = this.#earlyError;
    if (error !== null) {
      this.#done = true;
      this.#raw.destroy();
      listener.onSocketError(error);
      return;
    }
    // Node emits 'end' only once every buffered byte was read, so an early end had no data left.
    if (this.#earlyEnd) {
      this.#done = true;
      listener.onSocketEnd();
      return;
    }
    this.#raw.on("data", this.#onData);
    // Attaching 'data' starts the flow, unless pause() came first; honour a later resume() too.
    if (!this.#paused) this.#raw.resume();
  }

  write(data: Uint8Array): Promise<void> | null {
    const raw = this.#raw;
    // After the peer's FIN Node ends our side too (allowHalfOpen is false); a write then would
    // only produce a late "write after end" error. The listener already got (or will get) the end.
    if (this.#done || raw.destroyed || raw.writableEnded) return null;
    if (raw.write(data)) return null;
    // Node took the bytes but its buffer is above the high-water mark: wait for it to drain (or
    // for the socket to close, which the listener hears about separately).
    return new Promise<void>((resolve) => {
      const done = (): void => {
        raw.off("drain", done);
        raw.off("close", done);
        resolve();
      };
      raw.on("drain", done);
      raw.on("close", done);
    });
  }

  pause(): void {
    this.#paused = true;
    this.#raw.pause();
  }

  resume(): void {
    this.#paused = false;
    // Before listen() there is no 'data' handler: a flowing stream would drop the bytes. listen()
    // starts the flow then.
    if (this.#listener !== null) this.#raw.resume();
  }

  unref(): void {
    this.#raw.unref();
  }

  ref(): void {
    this.#raw.ref();
  }

  close(): void {
    if (this.#done && this.#raw.destroyed) return;
    this.#done = true;
    // destroy(), not end(): end() would wait for buffered output to flush to a peer that may be
    // gone, and for its FIN.
    this.#raw.destroy();
  }
}

// Strips the brackets of an IPv6 literal as it appears in a URL's host.
function bare(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

// One secure context per set of trusted roots, reused by every connection: Node would otherwise
// build one (an OpenSSL context) per connection. Verification, SNI and ALPN stay per connection.
//
// `caCerts` adds roots to the default ones (as Deno's `caCerts` does), but Node's `ca` option
// replaces its whole store, so that context trusts the bundled roots plus the extra ones. It is
// keyed by the `caCerts` array (one per Client) and rebuilt if the array's contents changed.
let defaultContext: SecureContext | null = null;
// Deno's node:tls adds `ca` to its default roots (Deno's own `caCerts` semantics) and keeps a
// "secure context" as plain options, parsed again for every connection: handing it Node's ~140
// bundled roots as well cost about 85 ms per handshake (measured), for nothing.
const extraRootsOnly = (globalThis as { Deno?: unknown; Bun?: unknown }).Deno !== undefined &&
  (globalThis as { Bun?: unknown }).Bun === undefined;

function withRoots(tls: TlsModule, pems: readonly string[]): string[] {
  return extraRootsOnly ? [...pems] : [...tls.rootCertificates, ...pems];
}
const contexts = new WeakMap<readonly string[], { pems: string[]; context: SecureContext }>();
// A client certificate makes the context specific to the settings object (one per route).
const clientContexts = new WeakMap<TlsSettings, SecureContext>();

function secureContextFor(tls: TlsModule, settings: TlsSettings): SecureContext {
  const caCerts = settings.caCerts;
  if (settings.cert !== undefined || settings.key !== undefined) {
    let context = clientContexts.get(settings);
    if (context === undefined) {
      context = tls.createSecureContext({
        ca: caCerts === undefined || caCerts.length === 0 ? undefined : withRoots(tls, caCerts),
        cert: settings.cert,
        key: settings.key,
      });
      clientContexts.set(settings, context);
    }
    return context;
  }
  if (caCerts === undefined || caCerts.length === 0) {
    return (defaultContext ??= tls.createSecureContext());
  }
  const cached = contexts.get(caCerts);
  if (
    cached !== undefined && cached.pems.length === caCerts.length &&
    cached.pems.every((pem, i) => pem === caCerts[i])
  ) {
    return cached.context;
  }
  const pems = [...caCerts];
  const context = tls.createSecureContext({ ca: withRoots(tls, pems) });
  contexts.set(caCerts, { pems, context });
  return context;
}

/**
 * The options of `tls.connect` for our settings over `socket` (a TCP socket, or any stream: a
 * proxy tunnel). Shared by the Node adapter and the TLS upgrade of tunnels on every runtime.
 *
 * @example
 * ```ts ignore
 * const secure = tls.connect(nodeTlsOptions(tls, net, settings, socket));
 * ```
 */
export function nodeTlsOptions(
  tlsModule: TlsModule,
  settings: TlsSettings,
  socket: import("node:stream").Duplex,
): import("node:tls").ConnectionOptions {
  const serverName = bare(settings.serverName);
  const check = settings.checkServerIdentity;
  const options: import("node:tls").ConnectionOptions = {
    socket,
    // The name the certificate is checked against (Node uses servername, else host).
    host: serverName,
    // SNI must not carry an IP address (RFC 6066 §3; Node warns about it).
    servername: isIpLiteral(serverName) ? undefined : serverName,
    secureContext: secureContextFor(tlsModule, settings),
    rejectUnauthorized: settings.insecure !== true,
    ALPNProtocols: settings.alpnProtocols ? [...settings.alpnProtocols] : undefined,
  };
  // Only when given: Deno's node:tls refuses an explicit undefined.
  if (check !== undefined) {
    options.checkServerIdentity = (host, cert) => check(host, cert as unknown as PeerCertificate);
  }
  return options;
}

function isIpLiteral(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}

// Waits for `socket` to emit `ready`; an error or a close before that rejects (and destroys it).
// `mapError` turns Node's error into ours. The listeners are removed either way: the closures hold
// the connect options (and so the request that dialled), which the socket must not keep alive.
/**
 * Resolves once `socket` emits `ready` (see above); exported for the TLS upgrade of tunnels.
 *
 * @example
 * ```ts ignore
 * await settle(socket, "connect", toSocketError, () => new WirefetchError("ERR_SOCKET", "closed"));
 * ```
 */
export function settle(
  socket: NodeRawSocket,
  ready: "connect" | "secureConnect",
  mapError: (error: unknown) => WirefetchError,
  closed: () => WirefetchError,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      socket.off(ready, onReady);
      socket.off("error", onError);
      socket.off("close", onClose);
    };
    const onReady = (): void => {
      cleanup();
      resolve();
    };
    const onError = (error: unknown): void => {
      cleanup();
      socket.on("error", ignore);
      socket.destroy();
      reject(mapError(error));
    };
    const onClose = (): void => {
      cleanup();
      socket.on("error", ignore);
      reject(closed());
    };
    socket.on(ready, onReady);
    socket.on("error", onError);
    socket.on("close", onClose);
  });
}

function ignore(): void {}

/**
 * Connects with `node:net` and `node:tls`. TLS starts over the connected TCP socket (as Deno's
 * `startTls` does) rather than through `tls.connect({ host })`, which would send its ClientHello
 * as soon as TCP is up: `onTcpConnect` runs first, and an abandoned attempt never handshakes.
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
    const net = await loadNet();
    const tls = options.tls;
    const tlsModule = tls === null ? null : await loadTls();
    const path = options.path;
    const where = path ?? `${options.hostname}:${options.port}`;
    const tcp = path !== undefined ? net.connect({ path }) : net.connect({
      host: bare(options.hostname),
      port: options.port,
      localAddress: options.localAddress,
      noDelay: true,
    });
    // Small requests must not wait for Nagle's algorithm to coalesce them with nothing.
    if (path === undefined) tcp.setNoDelay(true);
    const keepAlive = options.keepAlive ?? 0;
    if (path === undefined && keepAlive > 0) tcp.setKeepAlive(true, keepAlive);
    const signal = options.signal;
    const onAbort = (): void => {
      tcp.destroy(new WirefetchError("ERR_SOCKET", ABANDONED));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    await settle(
      tcp,
      "connect",
      (error) => toSocketError(error),
      () => new WirefetchError("ERR_SOCKET", `connection to ${where} closed while connecting`),
    );
    // Again once connected: Deno's node:net drops socket options set before the handle exists.
    if (path === undefined) {
      tcp.setNoDelay(true);
      if (keepAlive > 0) tcp.setKeepAlive(true, keepAlive);
    }
    let keep: boolean;
    try {
      keep = options.onTcpConnect?.() !== false;
    } catch (error) {
      tcp.destroy();
      throw toSocketError(error);
    }
    if (!keep) {
      signal?.removeEventListener("abort", onAbort);
      tcp.destroy();
      throw new WirefetchError("ERR_SOCKET", ABANDONED);
    }
    if (tls === null || tlsModule === null) {
      signal?.removeEventListener("abort", onAbort);
      return new NodeAdaptedSocket(tcp, undefined, path);
    }

    // The TLS socket takes over the TCP handle and reports every error itself; a handler on the
    // TCP socket only guards against a stray 'error' event crashing the process.
    tcp.on("error", ignore);
    const secure = tlsModule.connect(nodeTlsOptions(tlsModule, tls, tcp));
    // The signal stays live through the handshake: a server that accepts and never answers
    // the ClientHello must not keep the socket (and the process) alive past connectTimeout.
    signal?.removeEventListener("abort", onAbort);
    await handshake(secure, where, signal);
    return path === undefined
      ? new NodeAdaptedSocket(secure)
      : new NodeAdaptedSocket(secure, new NodeAdaptedSocket(tcp, undefined, path));
  },
  startTls(socket: Socket, tls: TlsSettings, signal?: AbortSignal): Promise<Socket> {
    return startTlsOver(socket, tls, signal);
  },
};

async function handshake(
  secure: import("node:tls").TLSSocket,
  where: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  const onAbortTls = (): void => {
    secure.destroy(new WirefetchError("ERR_SOCKET", ABANDONED));
  };
  signal?.addEventListener("abort", onAbortTls, { once: true });
  try {
    await settle(
      secure,
      "secureConnect",
      // Resets and the like keep their own code; anything else failing here is the handshake.
      (error) =>
        signal?.aborted ? new WirefetchError("ERR_SOCKET", ABANDONED) : toSocketError(error, true),
      () => new WirefetchError("ERR_TLS", `connection to ${where} closed during the TLS handshake`),
    );
  } finally {
    signal?.removeEventListener("abort", onAbortTls);
  }
}

/**
 * TLS over any connected {@linkcode Socket} with `node:tls`, which Deno and Bun implement too:
 * the socket becomes a Duplex stream (with backpressure both ways) under a `TLSSocket`. This is
 * how every runtime runs TLS inside a proxy tunnel (Deno's `startTls` cannot wrap a TLS
 * connection, nor send a client certificate), and how Deno gets the TLS options its own API
 * lacks. The result shows the addresses and descriptor of the socket underneath.
 *
 * @example
 * ```ts ignore
 * const secure = await startTlsOver(tunnel, { serverName: "example.com" });
 * ```
 */
export async function startTlsOver(
  socket: Socket,
  tls: TlsSettings,
  signal?: AbortSignal,
): Promise<Socket> {
  const [tlsModule, { Duplex }] = await Promise.all([loadTls(), loadStream()]);
  let closed = false;
  const stream = new Duplex({
    read(): void {
      socket.resume();
    },
    write(chunk: Uint8Array, _encoding, callback): void {
      const pending = socket.write(plain(chunk));
      if (pending === null) callback();
      else pending.then(() => callback());
    },
    final(callback): void {
      callback();
    },
    destroy(error, callback): void {
      closed = true;
      socket.close();
      callback(error);
    },
  });
  socket.listen({
    onSocketData(chunk: Uint8Array): void {
      if (!closed && !stream.push(chunk)) socket.pause();
    },
    onSocketEnd(): void {
      if (!closed) stream.push(null);
    },
    onSocketError(error: WirefetchError): void {
      if (!closed) stream.destroy(error);
    },
  });
  stream.on("error", ignore);
  const secure = tlsModule.connect(nodeTlsOptions(tlsModule, tls, stream));
  const where = socket.remoteAddress.family === "unix"
    ? socket.remoteAddress.address
    : `${tls.serverName}`;
  try {
    await handshake(secure, where, signal);
  } catch (error) {
    secure.destroy();
    socket.close();
    throw error;
  }
  return new NodeAdaptedSocket(secure, socket);
}
