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
