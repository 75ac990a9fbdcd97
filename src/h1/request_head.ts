/**
 * Encodes HTTP/1.1 request heads (RFC 9112 §3 request line, §5 field lines) and validates the
 * pieces first, so no invalid byte ever reaches the wire: a CR or LF in a field value would let
 * the value inject header fields or a whole request (RFC 9112 §11.1 response splitting, §11.2
 * request smuggling).
 *
 * Validation failures throw `TypeError`, which is what the Fetch standard prescribes for
 * invalid requests.
 *
 * @module
 */

import { TCHAR } from "./chars.ts";

/** One encoder for the module: `TextEncoder` is stateless, so sharing it is safe. */
const encoder = new TextEncoder();

/**
 * True if `name` is a non-empty token (RFC 9110 §5.6.2: `1*tchar`). Methods (RFC 9110 §9.1)
 * and field names (RFC 9110 §5.1) are tokens.
 *
 * @param name The string to check.
 * @returns Whether every char is a `tchar`.
 *
 * @example
 * ```ts
 * import { isToken } from "./request_head.ts";
 * console.log(isToken("x-request-id"), isToken("bad name")); // true false
 * ```
 */
export function isToken(name: string): boolean {
  const n = name.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c > 0x7e || TCHAR[c] === 0) return false;
  }
  return true;
}

/**
 * True if `value` may be sent as a field value: no NUL, CR or LF (RFC 9110 §5.5 forbids them;
 * CR and LF would end the field line early and let the value forge fields), and every char code
 * at most 0xFF, so it is a ByteString sent as one byte per char (obs-text, RFC 9110 §5.5).
 *
 * @param value The field value to check.
 * @returns Whether it can be sent unchanged.
 *
 * @example
 * ```ts
 * import { isValidFieldValue } from "./request_head.ts";
 * console.log(isValidFieldValue("text/plain"), isValidFieldValue("a\r\nb: c")); // true false
 * ```
 */
export function isValidFieldValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 0xff || c === 0x0d || c === 0x0a || c === 0x00) return false;
  }
  return true;
}

/**
 * Encodes a request head: request line (RFC 9112 §3), one field line per header (RFC 9112 §5),
 * and the empty line that ends the head (RFC 9112 §2.1).
 *
 * Everything is validated before any byte is produced:
 * - `method` must be a token (RFC 9110 §9.1);
 * - `target` must be non-empty and contain only visible ASCII (0x21–0x7E): it is one element
 *   of the request line, so a space would split it (RFC 9112 §3.2), and URL serialization has
 *   already percent-encoded everything else;
 * - header names must be tokens (RFC 9110 §5.1);
 * - header values must pass {@linkcode isValidFieldValue}.
 *
 * Names are sent as given. `headers` must already hold Host (RFC 9112 §3.2) and any framing
 * header (Content-Length or Transfer-Encoding).
 *
 * @param method The request method, e.g. `"GET"`.
 * @param target The request target in origin-form (`/path?query`) or another form.
 * @param headers A flat `[name, value, ...]` list.
 * @returns The head bytes, one char per byte.
 * @throws {TypeError} Naming the invalid part, if any part is invalid.
 *
 * @example
 * ```ts
 * import { encodeRequestHead } from "./request_head.ts";
 * const head = encodeRequestHead("GET", "/", ["host", "example.com"]);
 * console.log(new TextDecoder().decode(head)); // "GET / HTTP/1.1\r\nhost: example.com\r\n\r\n"
 * ```
 */
export function encodeRequestHead(
  method: string,
  target: string,
  headers: readonly string[],
): Uint8Array {
  if (!isToken(method)) throw new TypeError(`invalid method: ${JSON.stringify(method)}`);
  const targetLength = target.length;
  if (targetLength === 0) throw new TypeError("invalid request target: empty");
  for (let i = 0; i < targetLength; i++) {
    const c = target.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) {
      throw new TypeError(
        `invalid request target: char 0x${c.toString(16)} at index ${i} ` +
          "(only visible ASCII is allowed)",
      );
    }
  }
  const count = headers.length;
  if (count % 2 !== 0) {
    throw new TypeError("invalid header list: expected [name, value, ...] pairs");
  }
  // Whether any value has a char above 0x7F, which must go out as one byte, not UTF-8.
  let latin1 = false;
  for (let i = 0; i < count; i += 2) {
    const name = headers[i];
    if (!isToken(name)) throw new TypeError(`invalid header name: ${JSON.stringify(name)}`);
    const value = headers[i + 1];
    for (let j = 0; j < value.length; j++) {
      const c = value.charCodeAt(j);
      if (c < 0x7f) {
        if (c === 0x0d || c === 0x0a || c === 0x00) {
          // The value is not quoted in the message: it may be a credential.
          throw new TypeError(
            `invalid value for header ${JSON.stringify(name)}: ` +
              `${c === 0 ? "NUL" : c === 0x0d ? "CR" : "LF"} at index ${j}`,
          );
        }
      } else if (c > 0xff) {
        throw new TypeError(
          `invalid value for header ${JSON.stringify(name)}: char 0x${c.toString(16)} at ` +
            `index ${j} is not a byte (header values are ByteStrings)`,
        );
      } else if (c > 0x7f) {
        latin1 = true;
      }
    }
  }

  let head = method + " " + target + " HTTP/1.1\r\n";
  for (let i = 0; i < count; i += 2) head += headers[i] + ": " + headers[i + 1] + "\r\n";
  head += "\r\n";

  // All ASCII (the common case): UTF-8 is the same bytes and the native encoder is fastest.
  if (!latin1) return encoder.encode(head);
  // obs-text in a value: each char is one byte (RFC 9110 §5.5), so UTF-8 would be wrong.
  const bytes = new Uint8Array(head.length);
  for (let i = 0; i < head.length; i++) bytes[i] = head.charCodeAt(i);
  return bytes;
}

/** An encoded head and the field list it was encoded from. */
export interface CachedHead {
  /** The head bytes. Shared by every request that hits the entry: never modify them. */
  readonly head: Uint8Array;
  /** The `[name, value, ...]` list, as sent (for trace events). Never modify it. */
  readonly headers: readonly string[];
}

// Entries per variant before the cache starts over: far more distinct URLs than a hot loop
// uses, few enough that a crawler visiting each URL once holds little.
const HEAD_CACHE_LIMIT = 256;

/**
 * Heads already encoded, for requests that differ only in their URL: a keep-alive loop fetching
 * the same URL again skips validation, string building and `TextEncoder` (an off-heap
 * allocation on Deno): about 1 µs per request. Entries are keyed by a variant (what else went
 * into the head, e.g. the User-Agent) and the URL; when a variant's map is full it is emptied
 * rather than tracked by age, which keeps hits to two map lookups.
 *
 * @example
 * ```ts
 * import { encodeRequestHead, RequestHeadCache } from "./request_head.ts";
 * const cache = new RequestHeadCache();
 * const headers = ["host", "example.com"];
 * let hit = cache.get("GET ua", "http://example.com/");
 * if (hit === undefined) {
 *   hit = cache.set("GET ua", "http://example.com/", encodeRequestHead("GET", "/", headers), headers);
 * }
 * console.log(hit.head.length);
 * ```
 */
export class RequestHeadCache {
  readonly #variants = new Map<string, Map<string, CachedHead>>();

  /** The entry for `url` in `variant`, if encoded before. */
  get(variant: string, url: string): CachedHead | undefined {
    return this.#variants.get(variant)?.get(url);
  }

  /** Stores and returns an entry. */
  set(variant: string, url: string, head: Uint8Array, headers: readonly string[]): CachedHead {
    let map = this.#variants.get(variant);
    if (map === undefined) {
      if (this.#variants.size >= HEAD_CACHE_LIMIT) this.#variants.clear();
      map = new Map();
      this.#variants.set(variant, map);
    } else if (map.size >= HEAD_CACHE_LIMIT) {
      map.clear();
    }
    const entry: CachedHead = { head, headers };
    map.set(url, entry);
    return entry;
  }
}
