/**
 * The raw loop: the ceiling a client on this runtime's own socket API can reach. Each worker
 * owns one keep-alive connection (`Deno.connect`, `Bun.connect` or `node:net`), writes one fixed
 * request and scans the reply for the end of its Content-Length body; nothing else. wirefetch's
 * requests/s over this loop's is the share of the socket's capacity the client keeps.
 *
 * @module
 */

import type { Candidate, Requester } from "./harness.ts";

const CR = 0x0d;
const LF = 0x0a;

/**
 * Finds complete replies in a byte stream: the head's end, then Content-Length bytes of body.
 * Only what a raw loop needs: no chunked bodies, no 1xx.
 */
export class ReplyScanner {
  #held: Uint8Array | null = null;
  /** Body length of the last complete reply. */
  lastBodyLength = -1;

  /** Takes bytes; returns how many replies they completed. */
  feed(chunk: Uint8Array): number {
    let data = chunk;
    if (this.#held !== null) {
      data = new Uint8Array(this.#held.length + chunk.length);
      data.set(this.#held);
      data.set(chunk, this.#held.length);
      this.#held = null;
    }
    let offset = 0;
    let done = 0;
    while (offset < data.length) {
      const end = this.#reply(data, offset);
      if (end < 0) break;
      offset = end;
      done++;
    }
    if (offset < data.length) this.#held = data.subarray(offset);
    return done;
  }

  // The end of the reply starting at `from`, or -1 when it is not complete yet.
  #reply(data: Uint8Array, from: number): number {
    const n = data.length;
    let length = 0;
    let lineStart = from;
    for (let i = from; i + 1 < n; i++) {
      if (data[i] !== CR || data[i + 1] !== LF) continue;
      if (i === lineStart) {
        const end = i + 2 + length;
        if (end > n) return -1;
        this.lastBodyLength = length;
        return end;
      }
      // "content-length:" is 15 bytes; compare case-insensitively on the first letters only.
      if (
        i - lineStart > 15 && (data[lineStart] | 0x20) === 0x63 &&
        (data[lineStart + 8] | 0x20) === 0x6c && data[lineStart + 14] === 0x3a
      ) {
        length = 0;
        for (let j = lineStart + 15; j < i; j++) {
          const c = data[j];
          if (c >= 0x30 && c <= 0x39) length = length * 10 + c - 0x30;
        }
      }
      lineStart = i + 2;
      i++;
    }
    return -1;
  }
}

function requestBytes(url: URL): Uint8Array {
  return new TextEncoder().encode(
    `GET ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n\r\n`,
  );
}

interface DenoConn {
  read(buffer: Uint8Array): Promise<number | null>;
  write(data: Uint8Array): Promise<number>;
  setNoDelay(on: boolean): void;
  close(): void;
}

interface DenoLike {
  connect(options: { hostname: string; port: number }): Promise<DenoConn>;
}

interface BunSocketLike {
  write(data: Uint8Array): number;
  setNoDelay?(on: boolean): void;
  end(): void;
  data: RawBunConn;
}

interface BunLike {
  connect(options: unknown): Promise<BunSocketLike>;
}

class RawBunConn {
  scanner = new ReplyScanner();
  waiting: ((bytes: number) => void) | null = null;
  failed: ((error: Error) => void) | null = null;
}

const bunHandlers = {
  data(socket: BunSocketLike, chunk: Uint8Array): void {
    const conn = socket.data;
    if (conn.scanner.feed(chunk) > 0) {
      const resolve = conn.waiting;
      conn.waiting = null;
      resolve?.(conn.scanner.lastBodyLength);
    }
  },
  close(socket: BunSocketLike): void {
    socket.data.failed?.(new Error("raw: connection closed"));
  },
  error(socket: BunSocketLike, error: Error): void {
    socket.data.failed?.(error);
  },
};

function port(url: URL): number {
  return url.port === "" ? 80 : Number(url.port);
}

async function denoWorker(url: URL, closers: (() => void)[]): Promise<Requester> {
  const Deno = (globalThis as unknown as { Deno: DenoLike }).Deno;
  const conn = await Deno.connect({ hostname: url.hostname, port: port(url) });
  conn.setNoDelay(true);
  closers.push(() => conn.close());
  const request = requestBytes(url);
  const buffer = new Uint8Array(65536);
  const scanner = new ReplyScanner();
  return async () => {
    await conn.write(request);
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) throw new Error("raw: connection closed");
      if (scanner.feed(buffer.subarray(0, n)) > 0) return scanner.lastBodyLength;
    }
  };
}

async function bunWorker(url: URL, closers: (() => void)[]): Promise<Requester> {
  const Bun = (globalThis as unknown as { Bun: BunLike }).Bun;
  const state = new RawBunConn();
  const socket = await Bun.connect({
    hostname: url.hostname,
    port: port(url),
    socket: bunHandlers,
    data: state,
  });
  socket.setNoDelay?.(true);
  closers.push(() => socket.end());
  const request = requestBytes(url);
  return () =>
    new Promise<number>((resolve, reject) => {
      state.waiting = resolve;
      state.failed = reject;
      socket.write(request);
    });
}

async function nodeWorker(url: URL, closers: (() => void)[]): Promise<Requester> {
  const net = await import("node:net");
  const socket = net.connect({ host: url.hostname, port: port(url), noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  closers.push(() => socket.destroy());
  const request = requestBytes(url);
  const scanner = new ReplyScanner();
  let waiting: ((bytes: number) => void) | null = null;
  let failed: ((error: Error) => void) | null = null;
  socket.on("data", (chunk: Uint8Array) => {
    if (scanner.feed(chunk) > 0) {
      const resolve = waiting;
      waiting = null;
      resolve?.(scanner.lastBodyLength);
    }
  });
  socket.on("error", (error: Error) => failed?.(error));
  socket.on("close", () => failed?.(new Error("raw: connection closed")));
  return () =>
    new Promise<number>((resolve, reject) => {
      waiting = resolve;
      failed = reject;
      socket.write(request);
    });
}

/**
 * The raw-loop candidate for the runtime running the benchmark.
 *
 * @example
 * ```ts ignore
 * const raw = rawCandidate();
 * const request = await raw.worker("http://127.0.0.1:8080/small");
 * console.log(await request()); // body length
 * ```
 */
export function rawCandidate(name = "raw"): Candidate {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  const closers: (() => void)[] = [];
  const open = g.Deno !== undefined ? denoWorker : g.Bun !== undefined ? bunWorker : nodeWorker;
  return {
    name,
    worker: (url) => open(new URL(url), closers),
    close(): Promise<void> {
      for (const close of closers.splice(0)) {
        try {
          close();
        } catch {
          // Already closed by the server.
        }
      }
      return Promise.resolve();
    },
  };
}
