/**
 * Decides how a response body is delimited and whether its connection may be reused, from the
 * parsed head alone (RFC 9112 §6.3 and §9.3). Pure: no I/O, no state; the parser calls it once
 * per final response.
 *
 * @module
 */

import { WirefetchError } from "../errors.ts";

/**
 * How the end of a response body is found (RFC 9112 §6.3):
 * - `"none"`: there is no body (HEAD, 1xx, 204, 304).
 * - `"length"`: exactly `Content-Length` bytes follow the head.
 * - `"chunked"`: the chunked transfer coding delimits the body (RFC 9112 §7.1).
 * - `"close"`: the body runs until the server closes the connection.
 */
export type BodyFraming = "none" | "length" | "chunked" | "close";

/** The framing and connection-persistence facts of a response head. */
export interface FramingDecision {
  /** How the body is delimited. */
  framing: BodyFraming;
  /** Body length when `framing` is `"length"`, else -1. */
  contentLength: number;
  /** Whether the connection may carry another request after this response (RFC 9112 §9.3). */
  keepAlive: boolean;
  /** `Keep-Alive: timeout=N` in milliseconds, or -1 when absent or invalid. */
  keepAliveTimeoutMs: number;
  /** `Keep-Alive: max=N`, or -1 when absent or invalid. */
  keepAliveMax: number;
}

/**
 * Decides the body framing, persistence and keep-alive parameters of a final response.
 *
 * Rules, in RFC 9112 §6.3 order:
 * 1. A response to HEAD (`noBody`), and any 1xx, 204 or 304 response, has no body whatever its
 *    header fields say. `Transfer-Encoding` is not checked for these: a server may send the one a
 *    GET would have had (§6.1), so an unsupported coding there is not an error.
 * 2. `Transfer-Encoding` wins over `Content-Length` (rule 3). When both are present the message
 *    may be a request-smuggling or response-splitting attempt, so the connection is never reused
 *    (`keepAlive` false). An HTTP/1.0 response with `Transfer-Encoding` has faulty framing (§6.1)
 *    and is rejected. When `chunked` is the final coding it delimits the body; it must appear
 *    once, and codings before it other than `identity` are rejected, because wirefetch does not
 *    decode them. When the final coding is anything else, known or unknown, the body runs until
 *    the server closes the connection (rule 4), and the connection is not reused.
 * 3. `Content-Length` must be `1*DIGIT`; repeated fields or a comma list of identical values are
 *    accepted as one value, different values are rejected (rule 5, RFC 9110 §8.6). It is checked
 *    on every response, so a malformed one fails even on a HEAD response.
 * 4. Otherwise the body is delimited by the server closing the connection (rule 8).
 *
 * Persistence (§9.3): the `close` connection option ends the connection; otherwise HTTP/1.1
 * persists and HTTP/1.0 persists only with the `keep-alive` option. A close-delimited body
 * always ends the connection.
 *
 * @param minorVersion The HTTP/1.x minor version of the response: 0 or 1.
 * @param status The status code.
 * @param noBody Whether the request was HEAD, whose response never has a body.
 * @param headers The flat `[name, value, ...]` field list with lowercased names.
 * @param out Object to fill in place (the parser passes the head it builds, to avoid an
 * allocation); a new one when omitted.
 * @returns `out`, filled in.
 * @throws {WirefetchError} `ERR_PROTOCOL` when the framing fields are invalid or unsupported.
 *
 * @example A chunked HTTP/1.1 response
 * ```ts
 * import { decideFraming } from "./framing.ts";
 * const decision = decideFraming(1, 200, false, ["transfer-encoding", "chunked"]);
 * console.log(decision.framing, decision.keepAlive); // "chunked" true
 * ```
 */
export function decideFraming(
  minorVersion: number,
  status: number,
  noBody: boolean,
  headers: readonly string[],
  out?: FramingDecision,
): FramingDecision {
  let transferEncoding = false;
  let contentLength = -1;
  let close = false;
  let keepAliveOption = false;
  let keepAliveTimeoutMs = -1;
  let keepAliveMax = -1;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    // The parser interns these names, so each comparison is usually a pointer check.
    if (name === "content-length") {
      contentLength = parseContentLength(headers[i + 1], contentLength);
    } else if (name === "transfer-encoding") {
      transferEncoding = true;
    } else if (name === "connection") {
      // RFC 9110 §7.6.1: Connection is a comma list of case-insensitive options and may be
      // split over several field lines.
      const value = headers[i + 1];
      // The two common values alone (interned by the parser) skip the list scan.
      if (value === "keep-alive") keepAliveOption = true;
      else if (value === "close") close = true;
      else {
        if (hasListToken(value, "close")) close = true;
        if (hasListToken(value, "keep-alive")) keepAliveOption = true;
      }
    } else if (name === "keep-alive") {
      // RFC 2068 §19.7.1.1 (the HTTP/1.0 keep-alive mechanism RFC 9112 §9.3 still honours):
      // `Keep-Alive: timeout=5, max=100`. A later field overrides an earlier one.
      const value = headers[i + 1];
      const timeout = keepAliveParam(value, "timeout");
      if (timeout !== -2) {
        keepAliveTimeoutMs = timeout >= 0 && timeout * 1000 <= Number.MAX_SAFE_INTEGER
          ? timeout * 1000
          : -1;
      }
      const max = keepAliveParam(value, "max");
      if (max !== -2) keepAliveMax = max;
    }
  }

  // RFC 9112 §9.3: "close" always wins; HTTP/1.1 persists by default; HTTP/1.0 only on request.
  let keepAlive = !close && (minorVersion >= 1 || keepAliveOption);
  // RFC 9112 §6.3 rule 3: a message with both fields "ought to be handled as an error"; we parse
  // it by Transfer-Encoding but never reuse the connection, since an intermediary may have framed
  // it the other way (request smuggling, RFC 9112 §11.2).
  if (transferEncoding && contentLength >= 0) keepAlive = false;

  let framing: BodyFraming;
  let length = -1;
  if (noBody || status < 200 || status === 204 || status === 304) {
    // RFC 9112 §6.3 rule 1: these responses end at the empty line after the header
    // section, whatever Content-Length or Transfer-Encoding say.
    framing = "none";
    // RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing; with no
    // body to misread we accept the message but do not trust the connection afterwards.
    if (transferEncoding && minorVersion === 0) keepAlive = false;
  } else if (transferEncoding) {
    if (minorVersion === 0) {
      // RFC 9112 §6.1: Transfer-Encoding did not exist in HTTP/1.0, so a recipient must treat
      // such a message's framing as faulty, even if Content-Length is present.
      throw new WirefetchError(
        "ERR_PROTOCOL",
        "an HTTP/1.0 response must not use Transfer-Encoding (RFC 9112 §6.1)",
      );
    }
    if (transferCodings(headers)) {
      // RFC 9112 §6.3 rule 4: chunked is the final coding, so it delimits the body.
      framing = "chunked";
    } else {
      // RFC 9112 §6.3 rule 4: Transfer-Encoding without a final chunked coding in a response
      // means the body runs until the connection closes.
      framing = "close";
    }
  } else if (contentLength >= 0) {
    // RFC 9112 §6.3 rule 6.
    framing = "length";
    length = contentLength;
  } else {
    // RFC 9112 §6.3 rule 8.
    framing = "close";
  }
  // A close-delimited body consumes the connection (RFC 9112 §6.3 rule 8, §9.6).
  if (framing === "close") keepAlive = false;

  const result = out ?? {
    framing,
    contentLength: length,
    keepAlive,
    keepAliveTimeoutMs,
    keepAliveMax,
  };
  result.framing = framing;
  result.contentLength = length;
  result.keepAlive = keepAlive;
  result.keepAliveTimeoutMs = keepAliveTimeoutMs;
  result.keepAliveMax = keepAliveMax;
  return result;
}

/**
 * Parses a Content-Length field value (RFC 9110 §8.6: `1*DIGIT`), merging it with the value of
 * earlier Content-Length fields (`previous`, or -1 for none).
 *
 * RFC 9110 §8.6 lets a recipient accept `42, 42` or repeated identical fields as one value;
 * any other list, a sign, inner whitespace, or a value beyond 2^53-1 is invalid.
 *
 * @param value The field value, with its surrounding whitespace already trimmed.
 * @param previous The value from earlier Content-Length fields, or -1 for none.
 * @returns The Content-Length.
 * @throws {WirefetchError} `ERR_PROTOCOL` for an invalid or conflicting value.
 *
 * @example Accept a list of identical values
 * ```ts
 * import { parseContentLength } from "./framing.ts";
 * console.log(parseContentLength("42, 42", -1)); // 42
 * ```
 */
export function parseContentLength(value: string, previous: number): number {
  let result = previous;
  const n = value.length;
  let i = 0;
  for (;;) {
    // OWS around list elements (RFC 9110 §5.6.1).
    while (i < n && isOws(value.charCodeAt(i))) i++;
    const start = i;
    let length = 0;
    for (; i < n; i++) {
      const d = value.charCodeAt(i) - 0x30;
      if (d < 0 || d > 9) break;
      length = length * 10 + d;
      if (length > Number.MAX_SAFE_INTEGER) {
        throw new WirefetchError(
          "ERR_PROTOCOL",
          `Content-Length ${quote(value)} is too large (RFC 9110 §8.6)`,
        );
      }
    }
    if (i === start) {
      throw new WirefetchError("ERR_PROTOCOL", `invalid Content-Length ${quote(value)}`);
    }
    while (i < n && isOws(value.charCodeAt(i))) i++;
    if (result >= 0 && result !== length) {
      throw new WirefetchError(
        "ERR_PROTOCOL",
        `conflicting Content-Length values ${result} and ${length} (RFC 9112 §6.3)`,
      );
    }
    result = length;
    if (i === n) return result;
    if (value.charCodeAt(i) !== 0x2c) {
      throw new WirefetchError("ERR_PROTOCOL", `invalid Content-Length ${quote(value)}`);
    }
    i++;
  }
}

/**
 * Checks the transfer codings of all Transfer-Encoding fields, in order (RFC 9112 §6.1), and
 * returns true when `chunked` is the final one (the body is chunked), false when it is not (RFC
 * 9112 §6.3 rule 4: the body then runs until the server closes, whatever the codings are, known
 * or not, such as a misspelt "chunked"). Throws for an empty field, for `chunked` applied twice,
 * and for a final `chunked` after codings other than `identity`, which wirefetch would have to
 * decode and will not hand over as if they were the content.
 */
function transferCodings(headers: readonly string[]): boolean {
  let chunked = 0;
  let chunkedLast = false;
  let other: string | null = null;
  let any = false;
  for (let h = 0; h < headers.length; h += 2) {
    if (headers[h] !== "transfer-encoding") continue;
    const value = headers[h + 1];
    const n = value.length;
    let i = 0;
    while (i <= n) {
      // One list element: OWS coding [ OWS ";" parameters ] OWS, up to the next comma.
      while (i < n && isOws(value.charCodeAt(i))) i++;
      const start = i;
      while (i < n) {
        const c = value.charCodeAt(i);
        if (c === 0x2c || c === 0x3b || isOws(c)) break;
        i++;
      }
      const end = i;
      while (i < n && value.charCodeAt(i) !== 0x2c) i++;
      const elementEnd = i;
      i++; // past the comma (or the end)
      if (start === end) {
        // RFC 9110 §5.6.1: empty list elements are ignored; parameters without a coding are not.
        if (start !== elementEnd) {
          throw new WirefetchError(
            "ERR_PROTOCOL",
            `invalid Transfer-Encoding ${quote(value)} (RFC 9112 §6.1)`,
          );
        }
        continue;
      }
      any = true;
      if (equalsLower(value, start, end, "chunked")) {
        chunked++;
        chunkedLast = true;
      } else {
        chunkedLast = false;
        // RFC 2616 §3.6 identity: no transformation, so nothing to decode.
        if (other === null && !equalsLower(value, start, end, "identity")) {
          other = value.slice(start, end);
        }
      }
    }
  }
  if (!any) {
    throw new WirefetchError("ERR_PROTOCOL", "empty Transfer-Encoding (RFC 9112 §6.1)");
  }
  // RFC 9112 §6.3 rule 4: without a final chunked the body is close-delimited.
  if (!chunkedLast) return false;
  if (chunked > 1) {
    // RFC 9112 §6.1: a sender must not apply chunked more than once.
    throw new WirefetchError(
      "ERR_PROTOCOL",
      "chunked transfer-coding applied more than once (RFC 9112 §6.1)",
    );
  }
  if (other !== null) {
    throw new WirefetchError(
      "ERR_PROTOCOL",
      `unsupported transfer-coding ${quote(other)} before chunked (RFC 9112 §6.1)`,
    );
  }
  return true;
}

/** True if the comma list `value` has an element equal to `token` (lowercase) ignoring case. */
function hasListToken(value: string, token: string): boolean {
  const n = value.length;
  let i = 0;
  while (i < n) {
    while (i < n && isOws(value.charCodeAt(i))) i++;
    const start = i;
    while (i < n && value.charCodeAt(i) !== 0x2c) i++;
    let end = i;
    while (end > start && isOws(value.charCodeAt(end - 1))) end--;
    if (equalsLower(value, start, end, token)) return true;
    i++;
  }
  return false;
}

/**
 * The non-negative integer of parameter `param` (lowercase) in a Keep-Alive value, -1 when it
 * is present but not a valid number, -2 when absent. Values may be quoted (RFC 9110 §5.6.6).
 */
function keepAliveParam(value: string, param: string): number {
  const n = value.length;
  let result = -2;
  let i = 0;
  while (i < n) {
    while (i < n && isOws(value.charCodeAt(i))) i++;
    const start = i;
    while (i < n && value.charCodeAt(i) !== 0x2c) i++;
    const elementEnd = i;
    i++;
    let eq = start;
    while (eq < elementEnd && value.charCodeAt(eq) !== 0x3d) eq++;
    let nameEnd = eq;
    while (nameEnd > start && isOws(value.charCodeAt(nameEnd - 1))) nameEnd--;
    if (!equalsLower(value, start, nameEnd, param)) continue;
    let vs = eq + 1;
    let ve = elementEnd;
    while (vs < ve && isOws(value.charCodeAt(vs))) vs++;
    while (ve > vs && isOws(value.charCodeAt(ve - 1))) ve--;
    if (ve - vs >= 2 && value.charCodeAt(vs) === 0x22 && value.charCodeAt(ve - 1) === 0x22) {
      vs++;
      ve--;
    }
    result = parseDigits(value, vs, ve);
  }
  return result;
}

/** The value of `1*DIGIT` in `value[start, end)`, or -1 if empty, not digits or unsafe. */
function parseDigits(value: string, start: number, end: number): number {
  if (start >= end) return -1;
  let result = 0;
  for (let i = start; i < end; i++) {
    const d = value.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    result = result * 10 + d;
    if (result > Number.MAX_SAFE_INTEGER) return -1;
  }
  return result;
}

/** Case-insensitive comparison of `value[start, end)` with the lowercase ASCII `lower`. */
function equalsLower(value: string, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    let c = value.charCodeAt(start + i);
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** OWS is `*( SP / HTAB )` (RFC 9110 §5.6.3). */
function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** A short quoted excerpt of a peer-supplied value for error messages. */
function quote(value: string): string {
  return JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value);
}
