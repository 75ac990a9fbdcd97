/**
 * `--adapter-cost`: the runtime socket adapter alone (src/runtime), against the raw loop on the
 * runtime's own socket. The "adapter" candidate is the raw loop run over the build's `Socket`:
 * per request it does what a pooled connection does to its socket (`ref`, one `write` it does not
 * wait for, chunks pushed to the listener, `unref` once the reply is complete) and scans the
 * chunks with the raw loop's scanner. What adapter/raw misses of 1.00 is the adapter's cost: its
 * reads, copies, promises and ref bookkeeping, with no HTTP client on top.
 *
 * With `--in-memory` the runtime's own socket API is replaced (`Deno.connect`, `Bun.connect`) by
 * one whose peer answers each write with a canned response from memory, so the adapter's own CPU
 * per request shows without the kernel, the server and a shared machine's noise. Node is not
 * covered (its bench runs the npm build, which `node:net` would have to be patched under).
 *
 * @module
 */

import type { Candidate, Requester } from "../harness.ts";
import { useMemoryRuntimeSockets } from "../memory.ts";
import { rawCandidate, ReplyScanner } from "../raw.ts";
import type { Mode, WirefetchBuild } from "./types.ts";

interface AdapterSocket {
  listen(listener: {
    onSocketData(chunk: Uint8Array): void;
    onSocketEnd(): void;
    onSocketError(error: Error): void;
  }): void;
  write(data: Uint8Array): Promise<void> | null;
  ref(): void;
  unref(): void;
  close(): void;
}

interface Connector {
  connect(options: { hostname: string; port: number; tls: null }): Promise<AdapterSocket>;
}

// One worker's connection: the listener resolves the request in flight once its reply is whole.
class AdapterConn {
  scanner = new ReplyScanner();
  waiting: ((bytes: number) => void) | null = null;
  failed: ((error: Error) => void) | null = null;
  socket: AdapterSocket | null = null;

  onSocketData(chunk: Uint8Array): void {
    if (this.scanner.feed(chunk) > 0) {
      // As a connection going idle does, before the response is handed on.
      this.socket!.unref();
      const resolve = this.waiting;
      this.waiting = null;
      resolve?.(this.scanner.lastBodyLength);
    }
  }
  onSocketEnd(): void {
    this.failed?.(new Error("adapter: connection closed"));
  }
  onSocketError(error: Error): void {
    this.failed?.(error);
  }
}

/** The raw loop over the build's socket adapter. */
export function adapterCandidate(build: WirefetchBuild): Candidate {
  const sockets: AdapterSocket[] = [];
  const ext = build.entry.endsWith(".js") ? "js" : "ts";
  return {
    name: `adapter${build.suffix}`,
    async worker(url: string): Promise<Requester> {
      const module = await import(
        new URL(`./src/runtime/connector.${ext}`, build.entry).href
      ) as { defaultConnector(): Connector };
      const target = new URL(url);
      const socket = await module.defaultConnector().connect({
        hostname: target.hostname,
        port: target.port === "" ? 80 : Number(target.port),
        tls: null,
      });
      sockets.push(socket);
      const conn = new AdapterConn();
      conn.socket = socket;
      socket.listen(conn);
      socket.unref();
      const request = new TextEncoder().encode(
        `GET ${target.pathname}${target.search} HTTP/1.1\r\nhost: ${target.host}\r\n\r\n`,
      );
      return () =>
        new Promise<number>((resolve, reject) => {
          conn.waiting = resolve;
          conn.failed = reject;
          socket.ref();
          socket.write(request);
        });
    },
    close(): Promise<void> {
      for (const socket of sockets.splice(0)) socket.close();
      return Promise.resolve();
    },
  };
}

/** The adapter-cost mode. */
export const adapterCostMode: Mode = {
  flag: "--adapter-cost",
  summary: "the raw loop over wirefetch's socket adapter (src/runtime) vs on the runtime's socket",
  fixed: () => [rawCandidate("raw")],
  wirefetch: (build) => [adapterCandidate(build)],
  ratios: [["adapter", "raw"]],
  inMemory: useMemoryRuntimeSockets,
  big: false,
};
