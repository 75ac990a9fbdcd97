/**
 * Translates the runtimes' socket errors (Deno error classes, Node and Bun `code` strings) into
 * {@linkcode WirefetchError} codes, so nothing above the runtime layer sees runtime errors.
 *
 * @module
 */

import { WirefetchError, type WirefetchErrorCode } from "../errors.ts";

const byName: Record<string, WirefetchErrorCode> = {
  // Deno's error classes.
  ConnectionRefused: "ERR_CONNECTION_REFUSED",
  ConnectionReset: "ERR_CONNECTION_RESET",
  ConnectionAborted: "ERR_CONNECTION_RESET",
  BrokenPipe: "ERR_CONNECTION_RESET",
  TimedOut: "ERR_CONNECT_TIMEOUT",
  // Node's and Bun's codes.
  ECONNREFUSED: "ERR_CONNECTION_REFUSED",
  ECONNRESET: "ERR_CONNECTION_RESET",
  ECONNABORTED: "ERR_CONNECTION_RESET",
  EPIPE: "ERR_CONNECTION_RESET",
  ETIMEDOUT: "ERR_CONNECT_TIMEOUT",
  ENOTFOUND: "ERR_DNS",
  EAI_AGAIN: "ERR_DNS",
  EAI_NONAME: "ERR_DNS",
  EAI_FAIL: "ERR_DNS",
};

const tlsPattern =
  /certificate|CERT|SSL|TLS|handshake|UnknownIssuer|self.signed|altname|peer sent no/i;

/**
 * Maps a runtime error to a {@linkcode WirefetchError}, keeping the original as `cause`.
 *
 * @example
 * ```ts
 * import { toSocketError } from "./socket_errors.ts";
 * const error = toSocketError(Object.assign(new Error("refused"), { code: "ECONNREFUSED" }));
 * console.log(error.code); // "ERR_CONNECTION_REFUSED"
 * ```
 */
export function toSocketError(error: unknown, tls = false): WirefetchError {
  if (error instanceof WirefetchError) return error;
  const e = error as { name?: string; code?: string; message?: string } | undefined;
  const message = e?.message ?? String(error);
  let code: WirefetchErrorCode | undefined = (e?.code && byName[e.code]) ||
    (e?.name && byName[e.name]) || undefined;
  if (code === undefined) {
    if (tls || tlsPattern.test(message) || (e?.name === "InvalidData")) code = "ERR_TLS";
    else if (/refused/i.test(message)) code = "ERR_CONNECTION_REFUSED";
    else if (/reset|broken pipe/i.test(message)) code = "ERR_CONNECTION_RESET";
    else if (/lookup|resolve|getaddrinfo|name or service/i.test(message)) code = "ERR_DNS";
    else code = "ERR_SOCKET";
  }
  return new WirefetchError(code, message, { cause: error });
}
