/**
 * The Bun socket adapter: `Bun.connect` with one shared handler object (no per-connection
 * closures), a write queue fed by Bun's `drain` callback, and pause/resume for backpressure.
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
  type TlsSettings,
} from "./socket.ts";
import { startTlsOver } from "./node.ts";
import { toSocketError } from "./socket_errors.ts";
import { WirefetchError } from "../errors.ts";

// deno-lint-ignore no-explicit-any
type BunRawSocket = any;

function family(address: string): "IPv4" | "IPv6" {
  return address.includes(":") ? "IPv6" : "IPv4";
}

/**
 * Writes up to this many bytes (a request head, a small body) may be deferred; see
 * {@linkcode flushDeferredWrites}.
 */
const DEFER_MAX_BYTES = 16 * 1024;

/** Bun sockets that are ref'd: their connection waits for a response. */
let busySockets = 0;
/** Sockets holding a deferred write, in the order they deferred it. */
let deferredSockets: BunSocket[] = [];
/** Whether a flush of {@linkcode deferredSockets} is scheduled. */
let flushScheduled = false;
/**
 * Writes to make at once before deferring is tried again: a flush that found one socket only
 * batched nothing (replies come one per event loop turn, as from a distant server), and
 * deferring then costs an event loop turn per request for no gain.
 */
let directWrites = 0;
/** {@linkcode directWrites} after a flush of a single socket. */
const DIRECT_WRITES_AFTER_LONE_FLUSH = 64;

/**
 * Writes what every socket deferred, in one go after the reads of this event loop turn.
 *
 * Why defer at all: with several requests in flight, Bun delivers the replies that one poll
 * found one `data` callback at a time, and each callback's continuation (the caller's next
 * request) would write at once, several microseconds of JavaScript apart. A server on the same
 * machine then answers each request and goes back to sleep before the next one comes, so every
 * write pays a wake-up of the server and often a preemption of this process: measured against
 * nginx on loopback at c=16, 0.8 involuntary context switches per request on a busy machine,
 * and 0.5–1 µs more system CPU per request on a quiet one. Writing them together after the
 * reads, as a simple loop over ready sockets does, wakes the server once per batch (issue #10).
 */
function flushDeferredWrites(): void {
  flushScheduled = false;
  const sockets = deferredSockets;
  deferredSockets = [];
  if (sockets.length === 1) directWrites = DIRECT_WRITES_AFTER_LONE_FLUSH;
  for (let i = 0; i < sockets.length; i++) sockets[i].flushDeferred();
}

class BunSocket implements Socket {
  localAddress: NetAddress;
  remoteAddress: NetAddress;
  alpnProtocol: string | null = null;
  tlsVersion: string | null = null;
  fd: number;
  raw: BunRawSocket = undefined;
  listener: SocketListener | null = null;
  // Data that arrived between open and listen (a server that speaks first).
  early: Uint8Array[] | null = null;
  earlyEnd = false;
  earlyError: WirefetchError | null = null;
  // Bytes Bun did not take yet, written again on drain, with the promise that waits for them.
  pending: Uint8Array | null = null;
  pendingDone: (() => void) | null = null;
  closed = false;
  // Counted in busySockets (ref'd).
  busy = false;
  // A write held back until flushDeferredWrites, or null.
  deferred: Uint8Array | null = null;
  // The connect promise's settlers, until open or a connect error.
  settle: ((error: WirefetchError | null) => void) | null = null;
  onTcpConnect: (() => boolean) | undefined = undefined;

  isTls: boolean;
  insecure: boolean;
  // The TLS settings while a handshake with a `checkServerIdentity` callback runs, else null.
  checkIdentity: TlsSettings | null = null;
  // A unix socket's path: Bun reports no addresses for those.
  path: string | undefined;

  constructor(isTls: boolean, insecure: boolean, path?: string) {
    this.isTls = isTls;
    this.insecure = insecure;
    this.path = path;
    this.fd = -1;
    this.localAddress = this.remoteAddress = { address: "", port: 0, family: "IPv4" };
  }

  attach(raw: BunRawSocket): void {
    if (this.raw !== undefined) return;
    this.raw = raw;
    if (this.closed) {
      // Abandoned before TCP came up: drop the connection as soon as Bun hands it over.
      raw.terminate?.() ?? raw.end();
      return;
    }
    this.fd = typeof raw.fd === "number" ? raw.fd : -1;
    if (this.path !== undefined) {
      this.localAddress = { address: "", port: 0, family: "unix" };
      this.remoteAddress = { address: this.path, port: 0, family: "unix" };
      return;
    }
    this.localAddress = {
      address: raw.localAddress ?? "",
      port: raw.localPort ?? 0,
      family: family(raw.localAddress ?? ""),
    };
    this.remoteAddress = {
      address: raw.remoteAddress ?? "",
      port: raw.remotePort ?? 0,
      family: family(raw.remoteAddress ?? ""),
    };
  }

  listen(listener: SocketListener): void {
    this.listener = listener;
    const early = this.early;
    if (early !== null) {
      this.early = null;
      for (const chunk of early) listener.onSocketData(chunk);
    }
    if (this.earlyError !== null) listener.onSocketError(this.earlyError);
    else if (this.earlyEnd) listener.onSocketEnd();
  }

  write(data: Uint8Array): Promise<void> | null {
    if (this.closed) return null;
    // Bytes stay in order: what was deferred goes first.
    if (this.deferred !== null) this.flushDeferred();
    // Deferred only while another connection also waits for a response (more replies may come
    // in this event loop turn): a lone request is written at once, adding no latency.
    if (busySockets > 1 && this.pending === null && data.length <= DEFER_MAX_BYTES) {
      if (directWrites > 0) {
        directWrites--;
        return this.writeNow(data);
      }
      this.deferred = data;
      deferredSockets.push(this);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flushDeferredWrites);
      }
      return null;
    }
    return this.writeNow(data);
  }

  /** Writes what {@linkcode write} deferred, if the socket is still open. */
  flushDeferred(): void {
    const data = this.deferred;
    if (data === null) return;
    this.deferred = null;
    // Nobody waits for this promise: if Bun takes only part of the bytes, the rest is pending
    // and the next write waits for it.
    if (!this.closed) this.writeNow(data);
  }

  writeNow(data: Uint8Array): Promise<void> | null {
    if (this.pending !== null) {
      // Callers await each write, so a second write while one is pending is a caller bug; keep
      // the bytes in order anyway.
      const merged = new Uint8Array(this.pending.length + data.length);
      merged.set(this.pending);
      merged.set(data, this.pending.length);
      this.pending = merged;
      return new Promise<void>((resolve) => {
        const previous = this.pendingDone;
        this.pendingDone = () => {
          previous?.();
          resolve();
        };
      });
    }
    const written = this.raw.write(data);
    if (written === data.length) return null;
    if (written < 0) return null; // Closed; the close callback reports it.
    this.pending = data.subarray(written);
    return new Promise<void>((resolve) => (this.pendingDone = resolve));
  }

  onDrain(): void {
    const pending = this.pending;
    if (pending === null) return;
    const written = this.raw.write(pending);
    if (written < 0) return;
    if (written < pending.length) {
      this.pending = pending.subarray(written);
      return;
    }
    this.pending = null;
    const done = this.pendingDone;
    this.pendingDone = null;
    done?.();
  }

  releaseWriters(): void {
    this.pending = null;
    const done = this.pendingDone;
    this.pendingDone = null;
    done?.();
  }

  pause(): void {
    this.raw.pause?.();
  }

  resume(): void {
    this.raw.resume?.();
  }

  unref(): void {
    this.idle();
    this.raw.unref?.();
  }

  ref(): void {
    if (!this.busy && !this.closed) {
      this.busy = true;
      busySockets++;
    }
    this.raw.ref?.();
  }

  /** No longer counted as waiting for a response. */
  idle(): void {
    if (!this.busy) return;
    this.busy = false;
    busySockets--;
  }

  close(): void {
    if (this.closed) return;
    // A deferred write goes out first, as it would have before a close without deferral.
    this.flushDeferred();
    this.closed = true;
    this.idle();
    this.releaseWriters();
    const raw = this.raw;
    if (raw === undefined) return; // Not connected yet: attach() drops it when it comes.
    // terminate() drops buffered output at once; end() would linger on a dead peer.
    raw.terminate?.() ?? raw.end();
  }
}

// Bun takes ALPN protocols in the TLS wire format (RFC 7301 §3.1: each name prefixed by its
// length), not as an array.
function alpnWireFormat(protocols: readonly string[]): ArrayBuffer {
  const names = protocols.map((p) => new TextEncoder().encode(p));
  const out = new Uint8Array(names.reduce((n, b) => n + 1 + b.length, 0));
  let offset = 0;
  for (const name of names) {
    out[offset++] = name.length;
    out.set(name, offset);
    offset += name.length;
  }
  return out.buffer;
}

// Like Node's, Bun's `ca` replaces the default roots; `caCerts` means extra roots (as Deno's
// does), so the bundled roots are added back. Built once per set of extra certificates.
let rootsFor: { extra: readonly string[]; all: string[] } | null = null;

async function withSystemRoots(extra: readonly string[]): Promise<string[]> {
  if (rootsFor !== null && rootsFor.extra === extra) return rootsFor.all;
  const { rootCertificates } = await import("node:tls");
  const all = [...rootCertificates, ...extra];
  rootsFor = { extra, all };
  return all;
}

const handlers = {
  // Chunks arrive as plain Uint8Arrays, not Node Buffers: the parser's `subarray`s and decodes
  // take the typed array's own fast paths (a Buffer's go through its species constructor), and
  // body chunks reach users with Uint8Array semantics (`slice` copies), as on Deno and Node.
  binaryType: "uint8array",
  open(raw: BunRawSocket): void {
    const socket: BunSocket = raw.data;
    socket.attach(raw);
    // Bun calls open when TCP is up, before any TLS handshake: the moment Happy Eyeballs picks
    // its winner.
    // The hook closes over the dial (and so the request that caused it): drop it once used, or
    // the socket would keep that request reachable for its whole life.
    const onTcpConnect = socket.onTcpConnect;
    socket.onTcpConnect = undefined;
    if (socket.settle !== null && onTcpConnect?.() === false) {
      const settle = socket.settle;
      socket.settle = null;
      socket.close();
      settle(new WirefetchError("ERR_SOCKET", ABANDONED));
      return;
    }
    if (socket.settle !== null && !socket.isTls) {
      const settle = socket.settle;
      socket.settle = null;
      settle(null);
    }
  },
  handshake(raw: BunRawSocket, success: boolean, authorizationError: Error | null): void {
    const socket: BunSocket = raw.data;
    socket.attach(raw);
    const settle = socket.settle;
    if (settle === null) return;
    socket.settle = null;
    // With verification off, Bun still reports why the chain would have failed; only a failed
    // handshake itself counts then.
    const identity = socket.checkIdentity;
    socket.checkIdentity = null;
    // A checkServerIdentity callback replaces the host name check, as in Node: Bun then runs
    // with verification off (see connect) and its name mismatch is left to the callback, while
    // a chain that does not verify still fails.
    const nameOnly = identity !== null &&
      (authorizationError as { code?: string } | null)?.code === "ERR_TLS_CERT_ALTNAME_INVALID";
    // Bun reports a name mismatch as an unsuccessful handshake even with verification off.
    if ((success && (authorizationError === null || socket.insecure)) || nameOnly) {
      if (identity !== null) {
        // The callback decides with the peer certificate Node's callback would get.
        let refusal: Error | undefined;
        try {
          refusal = identity.checkServerIdentity!(identity.serverName, raw.getPeerCertificate());
        } catch (error) {
          refusal = error as Error;
        }
        if (refusal !== undefined) {
          settle(new WirefetchError("ERR_TLS", refusal.message, { cause: refusal }));
          return;
        }
      }
      socket.alpnProtocol = raw.alpnProtocol || null;
      socket.tlsVersion = raw.getTLSVersion?.() ?? null;
      settle(null);
    } else {
      settle(toSocketError(authorizationError ?? new Error("TLS handshake failed"), true));
    }
  },
  data(raw: BunRawSocket, chunk: Uint8Array): void {
    const socket: BunSocket = raw.data;
    if (socket.closed) return;
    const listener = socket.listener;
    if (listener !== null) listener.onSocketData(chunk);
    else (socket.early ??= []).push(chunk);
  },
  drain(raw: BunRawSocket): void {
    (raw.data as BunSocket).onDrain();
  },
  end(raw: BunRawSocket): void {
    const socket: BunSocket = raw.data;
    if (socket.closed) return;
    if (socket.listener !== null) socket.listener.onSocketEnd();
    else socket.earlyEnd = true;
  },
  close(raw: BunRawSocket, error?: Error): void {
    const socket: BunSocket = raw.data;
    if (socket.settle !== null) {
      const settle = socket.settle;
      socket.settle = null;
      settle(toSocketError(error ?? new Error("connection closed during connect")));
      return;
    }
    if (socket.closed) return;
    socket.closed = true;
    socket.idle();
    socket.releaseWriters();
    const listener = socket.listener;
    if (error) {
      const wrapped = toSocketError(error);
      if (listener !== null) listener.onSocketError(wrapped);
      else socket.earlyError = wrapped;
    } else if (listener !== null) listener.onSocketEnd();
    else socket.earlyEnd = true;
  },
  error(raw: BunRawSocket, error: Error): void {
    const socket: BunSocket = raw.data;
    if (socket.settle !== null) {
      const settle = socket.settle;
      socket.settle = null;
      settle(toSocketError(error));
      return;
    }
    if (socket.closed) return;
    socket.closed = true;
    socket.idle();
    socket.releaseWriters();
    const wrapped = toSocketError(error);
    if (socket.listener !== null) socket.listener.onSocketError(wrapped);
    else socket.earlyError = wrapped;
  },
  connectError(_raw: BunRawSocket, _error: Error): void {
    // Bun rejects the promise returned by Bun.connect as well; that is where we report it.
  },
};

/**
 * Connects with `Bun.connect`, TLS included when asked.
 *
 * @example
 * ```ts
 * import { bunConnector } from "./bun.ts";
 * const socket = await bunConnector.connect({ hostname: "127.0.0.1", port: 8080, tls: null });
 * socket.close();
 * ```
 */
export const bunConnector: SocketConnector = {
  runtime: "bun",
  async connect(options: ConnectOptions): Promise<Socket> {
    // deno-lint-ignore no-explicit-any
    const Bun = (globalThis as any).Bun;
    const tls = options.tls;
    const socket = new BunSocket(tls !== null, tls?.insecure === true, options.path);
    if (tls?.checkServerIdentity !== undefined) socket.checkIdentity = tls;
    socket.onTcpConnect = options.onTcpConnect;
    const ready = new Promise<WirefetchError | null>((resolve) => (socket.settle = resolve));
    // Bun cannot cancel a connect in progress, but an abort (Happy Eyeballs loser, connect
    // timeout) settles this attempt at once and closes the socket, during TLS or whenever TCP
    // comes up.
    const signal = options.signal;
    let abandon!: () => void;
    const abandoned = new Promise<null>((resolve) => (abandon = () => resolve(null)));
    const onAbort = (): void => {
      const settle = socket.settle;
      socket.settle = null;
      socket.close();
      settle?.(new WirefetchError("ERR_SOCKET", ABANDONED));
      abandon();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    let raw: BunRawSocket;
    try {
      const connecting = Bun.connect({
        ...(options.path !== undefined
          ? { unix: options.path }
          : { hostname: options.hostname, port: options.port }),
        // Not in Bun's types, but honoured (Bun passes it to bind(2)).
        localAddress: options.localAddress,
        socket: handlers,
        data: socket,
        tls: tls === null ? undefined : {
          serverName: tls.serverName,
          ca: tls.caCerts ? await withSystemRoots(tls.caCerts) : undefined,
          cert: tls.cert,
          key: tls.key,
          rejectUnauthorized: !tls.insecure && tls.checkServerIdentity === undefined,
          ALPNProtocols: tls.alpnProtocols ? alpnWireFormat(tls.alpnProtocols) : undefined,
        },
      });
      // An abort settles `ready`: stop waiting for a connect that may take the OS minutes.
      raw = await Promise.race([connecting, abandoned]);
      if (raw === null) {
        connecting.then((late: BunRawSocket) => socket.attach(late), () => {});
        throw new WirefetchError("ERR_SOCKET", ABANDONED);
      }
    } catch (error) {
      socket.settle = null;
      signal?.removeEventListener("abort", onAbort);
      if (error instanceof WirefetchError) throw error;
      throw toSocketError(error, false);
    }
    socket.attach(raw);
    if (options.path === undefined) {
      raw.setNoDelay?.(true);
      const keepAlive = options.keepAlive ?? 0;
      if (keepAlive > 0) raw.setKeepAlive?.(true, keepAlive);
    }
    const error = await ready;
    signal?.removeEventListener("abort", onAbort);
    if (error !== null) {
      socket.close();
      throw error;
    }
    return socket;
  },
  startTls(socket: Socket, tls: TlsSettings, signal?: AbortSignal): Promise<Socket> {
    return startTlsOver(socket, tls, signal);
  },
};
