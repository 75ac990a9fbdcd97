/**
 * The Deno socket adapter: `Deno.connect`, then `Deno.startTls` over the connected socket, and a
 * read loop that pushes owned chunks to the listener.
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
import { toSocketError } from "./socket_errors.ts";
import { WirefetchError } from "../errors.ts";
import { nodeConnector, startTlsOver } from "./node.ts";

// deno-lint-ignore no-explicit-any
type AnyConn = any;

// Reads go into a slab the socket fills from front to back, and each read's bytes are handed to the
// listener as a view of it: later reads land after them, so a chunk the listener keeps (a body
// queued for the user) is never overwritten, and no read allocates or copies (a copy per read,
// `slice`, cost about 0.4 µs of CPU per keep-alive request on Deno: an ArrayBuffer with a malloc'd
// backing store, swept by the GC later). The next read starts a new slab when what is left could
// not take twice the last read (at least MIN_REGION): responses on one connection tend to be alike,
// and one split over two reads costs more than a new slab. An old slab lives as long as chunks
// viewing it do (a kept chunk pins at most its slab). Slabs are small because an idle socket's
// pending read pins its slab for as long as the socket waits. A read that fills a whole fresh slab
// switches to bulk mode: slabs of LARGE_READ for fewer, bigger reads (no copy of the bytes either;
// a new one when less than a quarter is left), until a read fills less than a sixteenth of one or
// the connection goes idle.
const SLAB = 4096;
const MIN_REGION = 1024;
const LARGE_READ = 262144;
// pull() (a proxy handshake before listen) reads into a buffer of its own of this size.
const PULL_SIZE = 16384;

// A pooled connection unrefs its socket when it goes idle and refs it when it serves the next
// request, which on a busy keep-alive connection comes within the same turn of the event loop.
// On Deno each of the two is an op per pending read (`Deno.Conn.ref`/`unref` walk the set of
// pending read promises with a new closure): about 0.2 µs a request for nothing. So an unref is
// applied a little later, by one timer for all sockets, and only to sockets still idle then; a ref
// in between cancels it without touching the connection. The process may exit at most
// UNREF_DELAY ms later than it could have (the timer keeps the loop alive until it runs), and
// the timer fires at most once per UNREF_DELAY ms however many requests pass.
const UNREF_DELAY = 10;
let unrefQueue: DenoSocket[] = [];
let unrefTimer: ReturnType<typeof setTimeout> | null = null;

function applyUnrefs(): void {
  unrefTimer = null;
  const sockets = unrefQueue;
  unrefQueue = [];
  for (const socket of sockets) socket.applyUnref();
}

function toAddress(
  addr: { hostname: string; port: number; transport?: string; path?: string | null },
): NetAddress {
  if (addr.transport === "unix") return { address: addr.path ?? "", port: 0, family: "unix" };
  return {
    address: addr.hostname,
    port: addr.port,
    family: addr.hostname.includes(":") ? "IPv6" : "IPv4",
  };
}

class DenoSocket implements Socket {
  readonly localAddress: NetAddress;
  readonly remoteAddress: NetAddress;
  readonly alpnProtocol: string | null;
  readonly fd = -1;
  #conn: AnyConn;
  #listener: SocketListener | null = null;
  // The slab reads go into (allocated on first read), where its free part starts, and whether it
  // is a bulk one.
  #slab: Uint8Array | null = null;
  #offset = 0;
  // What the next read needs left in the slab: twice the last read, at least MIN_REGION.
  #need = MIN_REGION;
  #bulk = false;
  #paused = false;
  // What the connection asked for (unref'd when idle or paused), what the Deno connection is,
  // and whether this socket waits in the unref queue (see UNREF_DELAY).
  #unrefWanted = false;
  #connUnrefd = false;
  #unrefQueued = false;
  #wake: (() => void) | null = null;
  #closed = false;
  #queue: Uint8Array[] = [];
  #flushed: Promise<void> | null = null;
  #inFlight: Uint8Array | null = null;
  // Bound once per socket: a write allocates no closures.
  #onWritten = (n: number): Promise<void> | undefined => this.#written(n);
  #onWriteFailed = (error: unknown): void => this.#writeFailed(error);

  constructor(conn: AnyConn, alpnProtocol: string | null, path?: string) {
    this.#conn = conn;
    this.localAddress = toAddress(conn.localAddr);
    // A unix socket's peer is the path we connected to, whatever Deno reports.
    this.remoteAddress = path !== undefined
      ? { address: path, port: 0, family: "unix" }
      : toAddress(conn.remoteAddr);
    this.alpnProtocol = alpnProtocol;
  }

  listen(listener: SocketListener): void {
    this.#listener = listener;
    this.#readLoop();
  }

  async pull(): Promise<Uint8Array | null> {
    const buffer = new Uint8Array(PULL_SIZE);
    let n: number | null;
    try {
      n = await this.#conn.read(buffer);
    } catch (error) {
      throw toSocketError(error);
    }
    return n === null ? null : buffer.subarray(0, n);
  }

  detach(): unknown {
    // Only a plain TCP connection can be handed to Deno.startTls (a TLS one has handshake()).
    if (this.#listener !== null || this.#closed) return undefined;
    if (typeof this.#conn.handshake === "function" || this.remoteAddress.family === "unix") {
      return undefined;
    }
    this.#closed = true;
    return this.#conn;
  }

  async #readLoop(): Promise<void> {
    const conn = this.#conn;
    const listener = this.#listener!;
    while (!this.#closed) {
      if (this.#paused) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        continue;
      }
      const bulk = this.#bulk;
      let slab = this.#slab;
      let offset = this.#offset;
      // A slab whose ArrayBuffer a user transferred away (a body chunk's `buffer`) is 0 long.
      if (slab === null || slab.length - offset < (bulk ? LARGE_READ / 4 : this.#need)) {
        slab = this.#slab = new Uint8Array(bulk ? LARGE_READ : SLAB);
        offset = this.#offset = 0;
      }
      // Views made with the constructor: `subarray` looks up the species constructor and costs
      // about twice as much on V8.
      const region = offset === 0
        ? slab
        : new Uint8Array(slab.buffer, offset, slab.length - offset);
      let n: number | null;
      try {
        n = await conn.read(region);
      } catch (error) {
        if (this.#closed) return;
        this.close();
        listener.onSocketError(toSocketError(error));
        return;
      }
      if (this.#closed) return;
      if (n === null) {
        listener.onSocketEnd();
        return;
      }
      if (region.length === 0) {
        // The slab was transferred while this read was pending: its bytes went with it.
        this.close();
        listener.onSocketError(
          new WirefetchError(
            "ERR_SOCKET",
            "a response chunk's ArrayBuffer was transferred while the socket was reading into " +
              "it; copy chunks (chunk.slice()) before transferring their buffer",
          ),
        );
        return;
      }
      const chunk = new Uint8Array(slab.buffer, offset, n);
      // The next read starts 4-byte aligned: the response parser compares a head with its
      // cached one 32 bits at a time where the chunk starts aligned, and byte by byte where not
      // (a 160-byte head: 0.18 vs 0.25 µs). Chunk lengths rarely are multiples of 4; the gap
      // costs at most 3 bytes a read. Slab sizes are multiples of 4, so this stays in bounds.
      this.#offset = (offset + n + 3) & ~3;
      if (bulk) {
        if (n < LARGE_READ / 16) this.#leaveBulk();
      } else {
        this.#need = n < MIN_REGION / 2 ? MIN_REGION : 2 * n;
        // A whole fresh slab filled: more is probably waiting.
        if (n === SLAB) {
          this.#bulk = true;
          this.#slab = null;
        }
      }
      listener.onSocketData(chunk);
    }
  }

  write(data: Uint8Array): Promise<void> | null {
    if (this.#closed) return null;
    // Deno's write ops may complete out of order when issued concurrently, so only one is ever in
    // flight; bytes written meanwhile queue behind it, and every caller gets the promise that
    // settles once its bytes are written.
    if (this.#flushed !== null) {
      this.#queue.push(data);
      return this.#flushed;
    }
    // Nothing in flight (the keep-alive case): start the op now, with no drain loop. The op
    // writes eagerly; only its byte count arrives later.
    this.#inFlight = data;
    this.#flushed = this.#conn.write(data).then(this.#onWritten, this.#onWriteFailed);
    return this.#flushed;
  }

  // The direct write finished: queue what it did not take, and drain whatever queued meanwhile.
  #written(n: number): Promise<void> | undefined {
    const data = this.#inFlight!;
    this.#inFlight = null;
    const queue = this.#queue;
    if (n < data.length) queue.unshift(data.subarray(n));
    if (queue.length > 0) {
      if (!this.#closed) return this.#drain();
      // Only when there is something to drop: V8 sets an array's length through the runtime
      // (0.05 µs, on every keep-alive write otherwise).
      queue.length = 0;
    }
    this.#flushed = null;
    return undefined;
  }

  #writeFailed(error: unknown): void {
    this.#inFlight = null;
    this.#queue.length = 0;
    this.#flushed = null;
    if (!this.#closed) {
      this.close();
      this.#listener?.onSocketError(toSocketError(error));
    }
  }

  async #drain(): Promise<void> {
    const queue = this.#queue;
    try {
      while (queue.length > 0) {
        const data = queue.shift()!;
        let offset = 0;
        while (offset < data.length) {
          offset += await this.#conn.write(offset === 0 ? data : data.subarray(offset));
        }
      }
    } catch (error) {
      queue.length = 0;
      if (!this.#closed) {
        this.close();
        this.#listener?.onSocketError(toSocketError(error));
      }
    } finally {
      this.#flushed = null;
    }
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  unref(): void {
    this.#unrefWanted = true;
    if (!this.#connUnrefd && !this.#unrefQueued) {
      this.#unrefQueued = true;
      unrefQueue.push(this);
      unrefTimer ??= setTimeout(applyUnrefs, UNREF_DELAY);
    }
    // The connection unrefs a socket going idle from inside onSocketData, before the loop issues
    // its next read: make that read a small one, so a socket waiting in the pool after a bulk
    // transfer does not pin a bulk slab. A socket paused for backpressure (unref'd too) keeps
    // bulk mode: its transfer goes on when the consumer reads, and a small first read would cost
    // a syscall per pause.
    if (!this.#paused && this.#bulk) this.#leaveBulk();
  }

  // Back to small slabs: the next read takes a fresh one.
  #leaveBulk(): void {
    this.#bulk = false;
    this.#slab = null;
    this.#need = MIN_REGION;
  }

  ref(): void {
    this.#unrefWanted = false;
    if (this.#connUnrefd) {
      this.#connUnrefd = false;
      this.#conn.ref?.();
    }
  }

  /** Applies a deferred {@linkcode unref} if no {@linkcode ref} came in between. */
  applyUnref(): void {
    this.#unrefQueued = false;
    if (!this.#unrefWanted || this.#connUnrefd || this.#closed) return;
    this.#connUnrefd = true;
    this.#conn.unref?.();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer or by a failed read: nothing left to free.
    }
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}

/**
 * Connects with Deno's own TCP and TLS APIs.
 *
 * @example
 * ```ts
 * import { denoConnector } from "./deno.ts";
 * const socket = await denoConnector.connect({ hostname: "127.0.0.1", port: 8080, tls: null });
 * socket.close();
 * ```
 */
export const denoConnector: SocketConnector = {
  runtime: "deno",
  async connect(options: ConnectOptions): Promise<Socket> {
    // Deno's own API cannot bind a local address, send a client certificate, skip verification
    // or hand the peer certificate to a callback; `node:net` and `node:tls` in Deno can. They
    // cost more per connection (see ARCHITECTURE.md), so only routes that need them take them.
    const tls = options.tls;
    if (options.localAddress !== undefined || (tls !== null && needsNodeTls(tls))) {
      return nodeConnector.connect(options);
    }
    if (options.path !== undefined) return connectUnix(options);
    // deno-lint-ignore no-explicit-any
    const Deno = (globalThis as any).Deno;
    let conn: AnyConn;
    try {
      conn = await Deno.connect({
        hostname: options.hostname,
        port: options.port,
        signal: options.signal,
      });
    } catch (error) {
      if (options.signal?.aborted) throw new WirefetchError("ERR_SOCKET", ABANDONED);
      throw toSocketError(error);
    }
    if (options.onTcpConnect?.() === false) {
      conn.close();
      throw new WirefetchError("ERR_SOCKET", ABANDONED);
    }
    // Small requests must not wait for Nagle's algorithm to coalesce them with nothing.
    conn.setNoDelay?.(true);
    // Deno.Conn.setKeepAlive takes no delay: the system's idle time applies (Linux: 7200 s).
    if ((options.keepAlive ?? 0) > 0) conn.setKeepAlive?.(true);
    if (tls === null) return new DenoSocket(conn, null);
    return handshakeTls(conn, tls, options.signal);
  },
  startTls(socket: Socket, tls: TlsSettings, signal?: AbortSignal): Promise<Socket> {
    // A tunnel through a plain TCP proxy is still a Deno.TcpConn: Deno's own TLS handshakes
    // about twice as fast as node:tls (see ARCHITECTURE.md). A TLS proxy connection, or options
    // Deno.startTls cannot express, take node:tls over the socket.
    if (!needsNodeTls(tls)) {
      const conn = socket.detach?.() as AnyConn | undefined;
      if (conn !== undefined) return handshakeTls(conn, tls, signal);
    }
    return startTlsOver(socket, tls, signal);
  },
};

function needsNodeTls(tls: TlsSettings): boolean {
  return tls.insecure === true || tls.cert !== undefined || tls.key !== undefined ||
    tls.checkServerIdentity !== undefined;
}

async function connectUnix(options: ConnectOptions): Promise<Socket> {
  // deno-lint-ignore no-explicit-any
  const Deno = (globalThis as any).Deno;
  let conn: AnyConn;
  try {
    conn = await Deno.connect({ transport: "unix", path: options.path });
  } catch (error) {
    throw toSocketError(error);
  }
  if (options.onTcpConnect?.() === false) {
    conn.close();
    throw new WirefetchError("ERR_SOCKET", ABANDONED);
  }
  const socket = new DenoSocket(conn, null, options.path);
  if (options.tls === null) return socket;
  return startTlsOver(socket, options.tls, options.signal);
}

// Deno.startTls over a connected TCP connection, then the handshake; closes it on failure.
async function handshakeTls(
  conn: AnyConn,
  tls: TlsSettings,
  signal: AbortSignal | undefined,
): Promise<Socket> {
  // deno-lint-ignore no-explicit-any
  const Deno = (globalThis as any).Deno;
  let tlsConn: AnyConn = undefined;
  // The signal stays live through the handshake: a server that accepts and never answers the
  // ClientHello must not keep the socket (and the process) alive past connectTimeout.
  const onAbort = (): void => {
    try {
      (tlsConn ?? conn).close();
    } catch {
      // Already closed.
    }
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    tlsConn = await Deno.startTls(conn, {
      hostname: tls.serverName,
      caCerts: tls.caCerts ? [...tls.caCerts] : undefined,
      alpnProtocols: tls.alpnProtocols ? [...tls.alpnProtocols] : undefined,
    });
    if (signal?.aborted) throw new WirefetchError("ERR_SOCKET", ABANDONED);
    const info = await tlsConn.handshake();
    return new DenoSocket(tlsConn, info.alpnProtocol ?? null);
  } catch (error) {
    try {
      (tlsConn ?? conn).close();
    } catch {
      // The failed handshake may have closed it already.
    }
    if (signal?.aborted) throw new WirefetchError("ERR_SOCKET", ABANDONED);
    throw toSocketError(error, true);
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}
