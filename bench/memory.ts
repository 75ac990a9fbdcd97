/**
 * `--in-memory`: wirefetch's own CPU cost per request, without the kernel or a server. Each
 * build's socket connector is replaced by one whose sockets answer every request with a canned
 * nginx-like response (5 header fields, a 12-byte body) on the next microtask. Requests/s is then
 * the client alone, so hot-path changes show that the noise of a shared machine hides on
 * loopback. It applies to any mode (`--in-memory --trace-cost`, `--in-memory --baseline REF`);
 * candidates that need a real server (the raw loop, native fetch, the stream) are left out.
 *
 * @module
 */

import type { Target } from "./harness.ts";
import type { WirefetchBuild } from "./modes/types.ts";

const RESPONSE = new TextEncoder().encode(
  "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 30 Nov 2026 06:00:00 GMT\r\n" +
    "Content-Type: text/plain\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\n" +
    "hello world\n",
);

interface Listener {
  onSocketData(chunk: Uint8Array): void;
}

/** A socket whose peer answers each write (one request) with RESPONSE. */
class MemorySocket {
  readonly localAddress = { address: "127.0.0.1", port: 1, family: "IPv4" as const };
  readonly remoteAddress = { address: "127.0.0.1", port: 9, family: "IPv4" as const };
  readonly alpnProtocol = null;
  readonly fd = -1;
  #listener: Listener | null = null;
  #closed = false;
  #answer = (): void => {
    if (this.#closed) return;
    // A copy, as the runtime adapters hand over chunks the listener owns, with an ArrayBuffer of
    // its own as theirs have: JSC keeps a small `slice()` in its heap without one, and the first
    // `subarray` of it then allocates one and copies, which no runtime's socket chunk costs.
    const chunk = new Uint8Array(new ArrayBuffer(RESPONSE.length));
    chunk.set(RESPONSE);
    this.#listener!.onSocketData(chunk);
  };
  listen(listener: Listener): void {
    this.#listener = listener;
  }
  write(_data: Uint8Array): null {
    queueMicrotask(this.#answer);
    return null;
  }
  pause(): void {}
  resume(): void {}
  unref(): void {}
  ref(): void {}
  close(): void {
    this.#closed = true;
  }
}

// A Deno.Conn whose peer answers each write with RESPONSE: a read waits for it (or takes one
// already there), as an op promise would.
class MemoryDenoConn {
  readonly localAddr = { hostname: "127.0.0.1", port: 1, transport: "tcp" };
  readonly remoteAddr = { hostname: "127.0.0.1", port: 9, transport: "tcp" };
  #reader: ((n: number | null) => void) | null = null;
  #buffer: Uint8Array | null = null;
  #ready = 0;
  read(buffer: Uint8Array): Promise<number | null> {
    if (this.#ready > 0) {
      this.#ready--;
      buffer.set(RESPONSE);
      return Promise.resolve(RESPONSE.length);
    }
    return new Promise((resolve) => {
      this.#reader = resolve;
      this.#buffer = buffer;
    });
  }
  write(data: Uint8Array): Promise<number> {
    const reader = this.#reader;
    if (reader !== null) {
      this.#reader = null;
      this.#buffer!.set(RESPONSE);
      reader(RESPONSE.length);
    } else {
      this.#ready++;
    }
    return Promise.resolve(data.length);
  }
  close(): void {
    this.#reader?.(null);
    this.#reader = null;
  }
  setNoDelay(): void {}
  setKeepAlive(): void {}
  ref(): void {}
  unref(): void {}
}

interface BunHandlers {
  open(raw: unknown): void;
  data(raw: unknown, chunk: Uint8Array): void;
  close(raw: unknown, error?: Error): void;
}

// A Bun socket whose peer answers each write with RESPONSE, delivered to the `data` handler on
// the next microtask in a new Uint8Array, as Bun hands over a read.
class MemoryBunSocket {
  readonly localAddress = "127.0.0.1";
  readonly localPort = 1;
  readonly remoteAddress = "127.0.0.1";
  readonly remotePort = 9;
  readonly fd = -1;
  readonly data: unknown;
  #handlers: BunHandlers;
  #answer = (): void => {
    const chunk = new Uint8Array(RESPONSE.length);
    chunk.set(RESPONSE);
    this.#handlers.data(this, chunk);
  };
  constructor(handlers: BunHandlers, data: unknown) {
    this.#handlers = handlers;
    this.data = data;
  }
  write(data: Uint8Array): number {
    queueMicrotask(this.#answer);
    return data.length;
  }
  setNoDelay(): void {}
  setKeepAlive(): void {}
  ref(): void {}
  unref(): void {}
  pause(): void {}
  resume(): void {}
  terminate(): void {
    this.#handlers.close(this);
  }
  end(): void {
    this.terminate();
  }
}

/**
 * `--in-memory=runtime`: replaces the runtime's own socket API (`Deno.connect`, `Bun.connect`) for
 * the whole process by one whose peer answers each write with RESPONSE, so every build runs its
 * real socket adapter (src/runtime) over memory. The client's CPU per request then includes the
 * adapter's reads, promises and chunk handling, still without the kernel or a server.
 */
export function useMemoryRuntimeSockets(): Promise<void> {
  const g = globalThis as {
    Deno?: { connect: unknown };
    Bun?: { connect: unknown };
  };
  if (g.Bun !== undefined) {
    g.Bun.connect = (options: { socket: BunHandlers; data: unknown }) => {
      const socket = new MemoryBunSocket(options.socket, options.data);
      options.socket.open(socket);
      return Promise.resolve(socket);
    };
  } else if (g.Deno !== undefined) {
    g.Deno.connect = () => Promise.resolve(new MemoryDenoConn());
  } else {
    return Promise.reject(
      new Error("--in-memory=runtime: Deno and Bun only (Node runs the npm build over node:net)"),
    );
  }
  return Promise.resolve();
}

/** Points the build's connector for this runtime at memory sockets. */
export async function useMemorySockets(build: WirefetchBuild): Promise<void> {
  const ext = build.entry.endsWith(".js") ? "js" : "ts";
  const module = await import(new URL(`./src/runtime/connector.${ext}`, build.entry).href) as {
    defaultConnector(): { connect: (options: unknown) => Promise<unknown> };
  };
  module.defaultConnector().connect = () => Promise.resolve(new MemorySocket());
}

/** The target for memory sockets: an IP literal, so no lookup happens; no server stats. */
export const memoryTarget: Target = {
  label: "in-memory sockets (canned nginx-like response, no kernel, no server)",
  smallUrl: "http://127.0.0.1:9/small",
  bigUrl: null,
  stats: () => Promise.resolve(null),
  stop: () => {},
};
