/**
 * Test servers that run unchanged on Deno and Bun: they use only `node:net`, `node:tls`,
 * `node:http` and `node:https`, which both runtimes implement, rather than `Deno.serve` or
 * `Bun.serve`, so one test file exercises the client the same way on both.
 *
 * Every server listens on port 0 (the OS picks a free port) on 127.0.0.1 unless told otherwise, and
 * its `close()` destroys every open socket before closing the listener, so a test that forgets a
 * connection neither hangs nor keeps the process alive.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import * as tls from "node:tls";
import { fileURLToPath } from "node:url";

function fixture(name: string): string {
  // Resolved from this module rather than the working directory, so any runner cwd works.
  return readFileSync(fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url)), "utf8");
}

/**
 * The TLS fixtures (see tests/fixtures/make_certs.sh), as PEM text: `ca` is the test CA to trust,
 * `cert` and `key` the server certificate (valid for localhost, 127.0.0.1 and ::1) and its key.
 */
export const fixtures: { ca: string; cert: string; key: string } = {
  ca: fixture("ca.pem"),
  cert: fixture("server.pem"),
  key: fixture("server-key.pem"),
};

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function origin(scheme: "http" | "https", host: string, port: number): string {
  return `${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

function listen(server: net.Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => {
      server.off("error", reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

function closeListener(server: net.Server): Promise<void> {
  // The callback also receives ERR_SERVER_NOT_RUNNING; either way the listener is gone.
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A raw TCP (or TLS) server whose every accepted connection runs a script. */
export interface RawServer {
  /** The port the server listens on. */
  port: number;
  /** The address the server listens on. */
  host: string;
  /** `http://host:port`, or `https://host:port` for a TLS server (IPv6 hosts bracketed). */
  url: string;
  /** TCP connections accepted so far (for TLS, including ones whose handshake failed). */
  readonly accepted: number;
  /** The sockets handed to the script that are still open (TLS sockets for a TLS server). */
  sockets: Set<net.Socket>;
  /** Destroys every open socket and closes the listener. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Starts a raw server: each connection runs `script(socket, index)`, `index` counting from 0 in
 * the order the script was started. With `tls: true` the server speaks TLS with {@link fixtures}
 * and the script gets the socket once the handshake is done.
 *
 * If the script returns a promise that rejects with {@link PeerClosedError} (the client went away
 * while it was reading, or `close()` destroyed the socket), the rejection is ignored, so tests need
 * not catch teardown races; any other rejection stays unhandled and fails the test run.
 */
export async function startRawServer(
  script: (socket: net.Socket, index: number) => void | Promise<void>,
  options: { host?: string; tls?: boolean } = {},
): Promise<RawServer> {
  const host = options.host ?? "127.0.0.1";
  const sockets = new Set<net.Socket>();
  // Every TCP-level socket, including TLS ones that never finished the handshake, for close().
  const all = new Set<net.Socket>();
  let accepted = 0;
  let started = 0;

  const track = (socket: net.Socket, set: Set<net.Socket>): void => {
    set.add(socket);
    socket.once("close", () => set.delete(socket));
    // A client reset would otherwise be an unhandled 'error' event that crashes the run.
    socket.on("error", () => {});
  };

  const run = (socket: net.Socket): void => {
    track(socket, sockets);
    // Scripts write responses piece by piece on purpose; Nagle would merge those pieces.
    socket.setNoDelay?.(true);
    const result = script(socket, started++);
    if (result instanceof Promise) {
      result.catch((error) => {
        if (!(error instanceof PeerClosedError)) throw error;
      });
    }
  };

  const server = options.tls
    ? tls.createServer({ cert: fixtures.cert, key: fixtures.key }, run)
    : net.createServer(run);
  // 'connection' is emitted for every accepted TCP connection on both runtimes (for a TLS server
  // Deno passes the raw net.Socket, Bun the TLSSocket; destroying either frees the connection).
  server.on("connection", (socket: net.Socket) => {
    accepted++;
    track(socket, all);
  });
  if (options.tls) server.on("tlsClientError", (_error, socket: net.Socket) => socket.destroy());

  const port = await listen(server, host);
  let closing: Promise<void> | null = null;
  return {
    port,
    host,
    url: origin(options.tls ? "https" : "http", host, port),
    get accepted(): number {
      return accepted;
    },
    sockets,
    close(): Promise<void> {
      closing ??= (() => {
        // Node may run the listener's close callback before the destroyed sockets emit 'close';
        // wait for those too, so `sockets` is empty once close() resolved, on every runtime.
        const gone = [...sockets].map((socket) => new Promise((r) => socket.once("close", r)));
        for (const socket of [...sockets, ...all]) socket.destroy();
        return Promise.all([closeListener(server), ...gone]).then(() => {});
      })();
      return closing;
    },
  };
}

/** A real HTTP (or HTTPS) server built on `node:http`. */
export interface HttpServer {
  /** The port the server listens on. */
  port: number;
  /** The address the server listens on. */
  host: string;
  /** `http://host:port`, or `https://host:port` with `tls: true` (IPv6 hosts bracketed). */
  url: string;
  /** TCP connections accepted so far: keep-alive reuse does not add to it. */
  readonly accepted: number;
  /** Drops every connection, idle or busy, and closes the listener. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Starts a `node:http` server (or `node:https` with {@link fixtures} when `tls` is set) that
 * answers with `handler`. `keepAliveTimeout` (ms) sets how long an idle keep-alive connection is
 * kept; left unset, the runtime's default applies.
 */
export async function startHttpServer(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
  options: { tls?: boolean; host?: string; keepAliveTimeout?: number } = {},
): Promise<HttpServer> {
  const host = options.host ?? "127.0.0.1";
  const server = options.tls
    ? https.createServer({ cert: fixtures.cert, key: fixtures.key }, handler)
    : http.createServer(handler);
  if (options.keepAliveTimeout !== undefined) server.keepAliveTimeout = options.keepAliveTimeout;

  const sockets = new Set<net.Socket>();
  let accepted = 0;
  server.on("connection", (socket: net.Socket) => {
    accepted++;
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });

  const port = await listen(server, host);
  let closing: Promise<void> | null = null;
  return {
    port,
    host,
    url: origin(options.tls ? "https" : "http", host, port),
    get accepted(): number {
      return accepted;
    },
    close(): Promise<void> {
      closing ??= (() => {
        const done = closeListener(server);
        // closeAllConnections covers the sockets node:http knows about; destroying the tracked
        // ones as well covers connections still in the TLS handshake, which it does not see.
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
        return done;
      })();
      return closing;
    },
  };
}

/**
 * Rejection of a read helper when the connection ended (or was destroyed) before the bytes it
 * waited for arrived. `received` holds what was buffered but not consumed.
 */
export class PeerClosedError extends Error {
  /** Bytes that arrived but did not make up what was asked for. */
  readonly received: Uint8Array;

  /** Builds the error; `waitingFor` says what the read expected. */
  constructor(waitingFor: string, received: Uint8Array) {
    super(`connection closed while waiting for ${waitingFor} (${received.length} bytes buffered)`);
    this.name = "PeerClosedError";
    this.received = received;
  }
}

const CRLF = new Uint8Array([13, 10]);
const CRLFCRLF = new Uint8Array([13, 10, 13, 10]);

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

function latin1(bytes: Uint8Array): string {
  // HTTP heads are octets; latin1 maps each byte to one char, unlike TextDecoder("latin1"), which
  // is really windows-1252.
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return text;
}

/**
 * Buffers one socket's incoming bytes so consecutive reads (head, then body, then the next
 * request) each take exactly what they need and leave the rest for the next.
 */
class SocketReader {
  // Unconsumed bytes are #storage[#start, #end); the storage doubles when full, so a large body
  // arriving in many chunks costs linear copying, not quadratic.
  #storage = new Uint8Array(4096);
  #start = 0;
  #end = 0;
  #closed = false;
  #wake: (() => void) | null = null;

  constructor(socket: net.Socket) {
    socket.on("data", (chunk: Uint8Array) => {
      this.#append(chunk);
      this.#wake?.();
    });
    const closed = (): void => {
      this.#closed = true;
      this.#wake?.();
    };
    socket.once("end", closed);
    socket.once("close", closed);
    // The error is reported as 'close' right after; this only keeps it from being unhandled.
    socket.on("error", () => {});
  }

  get #buffer(): Uint8Array {
    return this.#storage.subarray(this.#start, this.#end);
  }

  #append(chunk: Uint8Array): void {
    if (this.#end + chunk.length > this.#storage.length) {
      const length = this.#end - this.#start;
      let capacity = this.#storage.length;
      while (capacity < length + chunk.length) capacity *= 2;
      if (capacity === this.#storage.length) {
        // Room enough once the consumed prefix is dropped.
        this.#storage.copyWithin(0, this.#start, this.#end);
      } else {
        const storage = new Uint8Array(capacity);
        storage.set(this.#storage.subarray(this.#start, this.#end));
        this.#storage = storage;
      }
      this.#start = 0;
      this.#end = length;
    }
    this.#storage.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /** Takes the first `n` buffered bytes, once they are there. */
  async take(n: number, waitingFor: string): Promise<Uint8Array> {
    await this.#until(() => this.#buffer.length >= n, waitingFor);
    return this.#consume(n);
  }

  /** Takes bytes up to and including the first `delimiter`, once it is there. */
  async takeThrough(delimiter: Uint8Array, waitingFor: string): Promise<Uint8Array> {
    let at = -1;
    let searched = 0;
    await this.#until(() => {
      at = indexOf(this.#buffer, delimiter, searched);
      searched = Math.max(0, this.#buffer.length - delimiter.length + 1);
      return at !== -1;
    }, waitingFor);
    return this.#consume(at + delimiter.length);
  }

  #consume(n: number): Uint8Array {
    // A copy (not a view, not a Buffer) so results compare equal to plain Uint8Arrays and stay
    // valid when the storage is reused.
    const taken = this.#storage.slice(this.#start, this.#start + n);
    this.#start += n;
    return taken;
  }

  async #until(ready: () => boolean, waitingFor: string): Promise<void> {
    if (this.#wake) throw new Error("readRequest/readRequestHead: concurrent reads on one socket");
    try {
      while (!ready()) {
        if (this.#closed) throw new PeerClosedError(waitingFor, this.#buffer.slice());
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = null;
      }
    } finally {
      this.#wake = null;
    }
  }
}

const readers = new WeakMap<net.Socket, SocketReader>();

function readerFor(socket: net.Socket): SocketReader {
  let reader = readers.get(socket);
  if (!reader) {
    reader = new SocketReader(socket);
    readers.set(socket, reader);
  }
  return reader;
}

/**
 * Resolves with the head of the next request on `socket` as text: the request line and header
 * lines up to and including the blank line (CRLFCRLF), however the client split its writes. Bytes
 * after it stay buffered for the next read on this socket. The first read helper used on a socket
 * takes over its 'data' events, so do not mix it with your own 'data' listener. Rejects with
 * {@link PeerClosedError} if the connection ends first.
 */
export async function readRequestHead(socket: net.Socket): Promise<string> {
  return latin1(await readerFor(socket).takeThrough(CRLFCRLF, "a request head"));
}

/** A request read by {@link readRequest}. */
export interface ReceivedRequest {
  /** The head text, up to and including CRLFCRLF. */
  head: string;
  /** The method, as sent. */
  method: string;
  /** The request target, as sent (origin-form path, absolute-form URL, ...). */
  target: string;
  /** Header fields by lowercased name; repeated fields are joined with ", ". */
  headers: Record<string, string>;
  /** The body, de-chunked if it was chunked; empty if the request had none. */
  body: Uint8Array;
}

function parseHead(head: string): Omit<ReceivedRequest, "body"> {
  const lines = head.slice(0, -4).split("\r\n");
  const [method = "", target = ""] = lines[0].split(" ");
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`readRequest: malformed header line ${JSON.stringify(line)}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { head, method, target, headers };
}

async function readChunked(reader: SocketReader): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (;;) {
    const line = latin1(await reader.takeThrough(CRLF, "a chunk size line"));
    const digits = line.split(";")[0].trim();
    // Strict on purpose: parseInt alone would take "5x" or "-5" and hide a client framing bug.
    if (!/^[0-9a-f]{1,12}$/i.test(digits)) {
      throw new Error(`readRequest: bad chunk size line ${JSON.stringify(line)}`);
    }
    const size = parseInt(digits, 16);
    if (size === 0) break;
    parts.push(await reader.take(size, "chunk data"));
    const end = await reader.take(2, "the CRLF after chunk data");
    if (end[0] !== 13 || end[1] !== 10) {
      throw new Error("readRequest: chunk data not followed by CRLF");
    }
  }
  // Trailer fields (ignored) up to the empty line that ends the message.
  while ((await reader.takeThrough(CRLF, "the end of the chunked trailer")).length > 2);
  const body = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    body.set(part, offset);
    offset += part.length;
  }
  return body;
}

/**
 * Reads the next whole request on `socket`: its head, then its body as framed by
 * `Transfer-Encoding: chunked` (decoded; trailers are dropped) or `Content-Length`; with neither,
 * the body is empty. Leftover bytes stay buffered for the next read. Rejects with
 * {@link PeerClosedError} if the connection ends before the request is complete.
 */
export async function readRequest(socket: net.Socket): Promise<ReceivedRequest> {
  const reader = readerFor(socket);
  const request = parseHead(latin1(await reader.takeThrough(CRLFCRLF, "a request head")));
  const codings = (request.headers["transfer-encoding"] ?? "").toLowerCase();
  let body: Uint8Array;
  if (codings.split(",").pop()?.trim() === "chunked") {
    body = await readChunked(reader);
  } else if (request.headers["content-length"] !== undefined) {
    const length = Number(request.headers["content-length"]);
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new Error(`readRequest: bad Content-Length ${request.headers["content-length"]}`);
    }
    body = await reader.take(length, `a ${length}-byte body`);
  } else {
    body = new Uint8Array(0);
  }
  return { ...request, body };
}
