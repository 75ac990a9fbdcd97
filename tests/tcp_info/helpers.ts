/**
 * Test helpers for tcp_info: a client connection that looks the same on Deno (`Deno.connect`, no
 * file descriptor) and Bun (`Bun.connect`, with one), and address-only stand-ins for wirefetch's
 * socket interface.
 *
 * @module
 */

import { connect as netConnect, type Socket as NetSocket } from "node:net";
import type { TcpSocketLike } from "../../tcp_info.ts";
import type { Socket } from "../../src/runtime/socket.ts";

/**
 * Which runtime runs the tests. Node runs them too (scripts/test_node.mjs, against the npm build),
 * where tcpInfo goes through the npm package koffi.
 */
export const runtime: "deno" | "bun" | "node" = (globalThis as { Bun?: unknown }).Bun !== undefined
  ? "bun"
  : (globalThis as { Deno?: unknown }).Deno !== undefined
  ? "deno"
  : "node";

/** An IP endpoint as wirefetch's `NetAddress`. */
export interface Endpoint {
  address: string;
  port: number;
  family: "IPv4" | "IPv6";
}

/** A connected client socket, whatever the runtime. */
export interface TestClient {
  /** The runtime's own socket object: a `Deno.TcpConn` or a Bun socket. */
  readonly target: TcpSocketLike;
  /** The local end. */
  readonly local: Endpoint;
  /** The remote end. */
  readonly remote: Endpoint;
  /** Writes all of `bytes`. */
  write(bytes: Uint8Array): Promise<void>;
  /** Resolves with exactly `n` bytes (rejects if the connection ends first). */
  read(n: number): Promise<Uint8Array>;
  /** Resolves when the peer has closed its side (EOF) and everything before it was read. */
  eof(): Promise<void>;
  /** Closes the connection. */
  close(): void;
}

function endpoint(address: string, port: number): Endpoint {
  return { address, port, family: address.includes(":") ? "IPv6" : "IPv4" };
}

/**
 * The part of wirefetch's `Socket` that `tcpInfo` reads, for `client`, with `fd: -1` as wirefetch's
 * Deno socket has: the descriptor must be found by address. Typed with wirefetch's own interface,
 * so type-checking the tests proves that a real `Socket` is an accepted target.
 */
export function addressOnly(
  client: TestClient,
): Pick<Socket, "fd" | "localAddress" | "remoteAddress"> {
  return { fd: -1, localAddress: { ...client.local }, remoteAddress: { ...client.remote } };
}

// Incoming bytes of one connection, consumed by exact-size reads.
class Inbox {
  chunks: Uint8Array[] = [];
  size = 0;
  ended = false;
  wake: (() => void) | null = null;

  push(chunk: Uint8Array): void {
    this.chunks.push(chunk.slice());
    this.size += chunk.length;
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async take(n: number): Promise<Uint8Array> {
    while (this.size < n) {
      if (this.ended) throw new Error(`connection ended with ${this.size} of ${n} bytes`);
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
    const all = new Uint8Array(this.size);
    let offset = 0;
    for (const chunk of this.chunks) {
      all.set(chunk, offset);
      offset += chunk.length;
    }
    this.chunks = n < all.length ? [all.slice(n)] : [];
    this.size = all.length - n;
    return all.slice(0, n);
  }

  async untilEnd(): Promise<void> {
    while (!this.ended) {
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
  }
}

async function connectDeno(host: string, port: number): Promise<TestClient> {
  const conn = await Deno.connect({ hostname: host, port });
  const inbox = new Inbox();
  let closed = false;
  (async () => {
    const buffer = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) break;
        inbox.push(buffer.subarray(0, n));
      }
    } catch {
      // Closed by the test: the inbox just ends.
    }
    inbox.end();
  })();
  const local = conn.localAddr as Deno.NetAddr;
  const remote = conn.remoteAddr as Deno.NetAddr;
  return {
    target: conn,
    local: endpoint(local.hostname, local.port),
    remote: endpoint(remote.hostname, remote.port),
    async write(bytes) {
      let offset = 0;
      while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
    },
    read: (n) => inbox.take(n),
    eof: () => inbox.untilEnd(),
    close() {
      if (closed) return;
      closed = true;
      conn.close();
    },
  };
}

// deno-lint-ignore no-explicit-any
type BunSocket = any;

async function connectBun(host: string, port: number): Promise<TestClient> {
  const inbox = new Inbox();
  let pending: { bytes: Uint8Array; done: () => void } | null = null;
  const flush = (socket: BunSocket): void => {
    if (pending === null) return;
    const written = socket.write(pending.bytes);
    if (written >= pending.bytes.length) {
      const done = pending.done;
      pending = null;
      done();
    } else if (written > 0) {
      pending.bytes = pending.bytes.subarray(written);
    }
  };
  // deno-lint-ignore no-explicit-any
  const bun = (globalThis as any).Bun;
  const socket: BunSocket = await bun.connect({
    hostname: host,
    port,
    socket: {
      data(_socket: BunSocket, chunk: Uint8Array) {
        inbox.push(chunk);
      },
      drain(socket: BunSocket) {
        flush(socket);
      },
      end() {
        inbox.end();
      },
      close() {
        inbox.end();
      },
      error() {
        inbox.end();
      },
    },
  });
  return {
    target: socket,
    local: endpoint(socket.localAddress, socket.localPort),
    remote: endpoint(socket.remoteAddress, socket.remotePort),
    write(bytes) {
      return new Promise<void>((resolve) => {
        pending = { bytes, done: resolve };
        flush(socket);
      });
    },
    read: (n) => inbox.take(n),
    eof: () => inbox.untilEnd(),
    close() {
      socket.end();
    },
  };
}

async function connectNode(host: string, port: number): Promise<TestClient> {
  const inbox = new Inbox();
  // Half-open allowed, as Deno and Bun: the peer's FIN must leave our side open (CLOSE_WAIT).
  const socket: NetSocket = netConnect({ host, port, allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.on("data", (chunk: Uint8Array) => inbox.push(chunk));
  socket.on("end", () => inbox.end());
  socket.on("close", () => inbox.end());
  socket.on("error", () => inbox.end());
  return {
    target: socket as unknown as TcpSocketLike,
    local: endpoint(socket.localAddress!, socket.localPort!),
    remote: endpoint(socket.remoteAddress!, socket.remotePort!),
    write: (bytes) =>
      new Promise<void>((resolve, reject) =>
        socket.write(bytes, (error) => error ? reject(error) : resolve())
      ),
    read: (n) => inbox.take(n),
    eof: () => inbox.untilEnd(),
    close() {
      socket.destroy();
    },
  };
}

/** Connects to `host:port` with the runtime's own API (node:net on Node). */
export function connect(host: string, port: number): Promise<TestClient> {
  return runtime === "bun"
    ? connectBun(host, port)
    : runtime === "deno"
    ? connectDeno(host, port)
    : connectNode(host, port);
}
