/**
 * The HTTP `CONNECT` handshake (RFC 9110 §9.3.6): asks an HTTP proxy for a tunnel to
 * `host:port`, after which the socket carries the origin's bytes (TLS, for an https origin).
 *
 * @module
 */

import { WirefetchError } from "../errors.ts";
import type { HandshakeSocket } from "./handshake_socket.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// A proxy's answer to CONNECT is a head and nothing else; anything this long is not one.
const MAX_REPLY = 16 * 1024;

const PHRASES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  407: "Proxy Authentication Required",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/**
 * Encodes the CONNECT request. `headers` is a flat [name, value, ...] list for the proxy
 * (Proxy-Authorization, the caller's proxy headers): they go here and nowhere else.
 *
 * @example
 * ```ts
 * import { encodeConnect } from "./connect.ts";
 * const bytes = encodeConnect("example.com:443", ["proxy-authorization", "Basic dTpw"]);
 * ```
 */
export function encodeConnect(authority: string, headers: readonly string[]): Uint8Array {
  // RFC 9110 §9.3.6: the request target is the authority-form, and Host carries the same.
  let head = `CONNECT ${authority} HTTP/1.1\r\nhost: ${authority}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return encoder.encode(head + "\r\n");
}

/** The answer to a CONNECT: its status, and the reason phrase as the proxy sent it. */
export interface ConnectReply {
  /** The status code. */
  readonly status: number;
  /** The reason phrase (may be empty). */
  readonly reason: string;
}

function findEnd(bytes: Uint8Array): number {
  for (let i = 3; i < bytes.length; i++) {
    if (bytes[i] === 10 && bytes[i - 1] === 13 && bytes[i - 2] === 10 && bytes[i - 3] === 13) {
      return i + 1;
    }
  }
  // Bare LF line ends (RFC 9112 §2.2 allows a recipient to accept them).
  for (let i = 1; i < bytes.length; i++) {
    if (bytes[i] === 10 && bytes[i - 1] === 10) return i + 1;
  }
  return -1;
}

/**
 * Sends CONNECT and reads the proxy's answer. Resolves on 2xx; the socket then carries the
 * tunnel, with any bytes after the head put back. Rejects with `ERR_PROXY` otherwise, naming the
 * status ("Proxy refused to open a tunnel: 407 Proxy Authentication Required"), or saying that
 * the answer was not HTTP or never came.
 *
 * @example
 * ```ts ignore
 * const reply = await openTunnel(new HandshakeSocket(socket), "example.com:443", []);
 * ```
 */
export async function openTunnel(
  socket: HandshakeSocket,
  authority: string,
  headers: readonly string[],
): Promise<ConnectReply> {
  await socket.write(encodeConnect(authority, headers));
  let received = new Uint8Array(0);
  let end = -1;
  while (end < 0) {
    const chunk = await socket.read("the answer to CONNECT");
    const joined = new Uint8Array(received.length + chunk.length);
    joined.set(received);
    joined.set(chunk, received.length);
    received = joined;
    end = findEnd(received);
    if (end < 0 && received.length > MAX_REPLY) {
      throw new WirefetchError(
        "ERR_PROXY",
        `the proxy's answer to CONNECT exceeds ${MAX_REPLY} bytes without ending its head`,
      );
    }
    if (end < 0 && received.length >= 5 && decoder.decode(received.subarray(0, 5)) !== "HTTP/") {
      throw notHttp(received);
    }
  }
  const head = decoder.decode(received.subarray(0, end));
  const match = /^HTTP\/1\.[01] (\d{3})(?: ([^\r\n]*))?\r?\n/.exec(head);
  if (match === null) throw notHttp(received);
  const status = Number(match[1]);
  const reason = (match[2] ?? "").trim();
  if (status < 200 || status > 299) {
    const phrase = reason !== "" ? reason : PHRASES[status] ?? "";
    // The status travels with the error for the `proxyconnectdone` event.
    throw Object.assign(
      new WirefetchError(
        "ERR_PROXY",
        `Proxy refused to open a tunnel: ${status}${phrase === "" ? "" : ` ${phrase}`}`,
      ),
      { proxyStatus: status },
    );
  }
  // A 2xx ends the proxy's part (RFC 9110 §9.3.6: it has no content); what follows already
  // belongs to the origin.
  socket.unread(received.subarray(end));
  return { status, reason };
}

function notHttp(bytes: Uint8Array): WirefetchError {
  const sample = decoder.decode(bytes.subarray(0, 40)).replace(/[^\x20-\x7e]/g, ".");
  return new WirefetchError(
    "ERR_PROXY",
    `the proxy answered CONNECT with something that is not HTTP: "${sample}"`,
  );
}
