/**
 * Turns `fetch(input, init)` arguments into a {@linkcode RequestSpec}: method, URL, header list,
 * body bytes or stream, signal and redirect mode, following the Fetch standard's rules for
 * `Request` construction without paying for a `Request` object on the common path.
 *
 * @module
 */

import { isToken, isValidFieldValue } from "./h1/request_head.ts";
import {
  parseReferrer,
  parseReferrerPolicy,
  type Referrer,
  referrerOfRequest,
} from "./fetch/referrer.ts";

/** The body of a request, ready to be framed. */
export type RequestBody =
  | { readonly kind: "bytes"; readonly bytes: Uint8Array }
  | {
    /**
     * A small string, encoded (UTF-8) only when it is written, straight into the buffer that
     * carries the head: one allocation instead of two (on Deno each typed array costs an
     * allocation outside the heap).
     */
    readonly kind: "text";
    readonly text: string;
    /** Its length in UTF-8 bytes. */
    readonly length: number;
  }
  | {
    readonly kind: "stream";
    readonly stream: ReadableStream<Uint8Array>;
    /** Exact length for Content-Length framing, or -1 for chunked. */
    readonly length: number;
  };

/** Everything needed to send a request, independent of any connection. */
export interface RequestSpec {
  /** Normalized method. */
  method: string;
  /** The target; its fragment is never sent. */
  url: URL;
  /**
   * Flat [name, value, ...] list, names lowercased, one field per name (values of names that
   * differ only in case combined), without Host or framing headers.
   */
  headers: string[];
  /** The caller's spelling of the names it wrote in another case than lowercase, or null. */
  casing: Map<string, string> | null;
  /** The body, or null. */
  body: RequestBody | null;
  /** The signal, or null. */
  signal: AbortSignal | null;
  /** What to do with redirects. */
  redirect: RequestRedirect;
  /** A Host header the caller set (virtual hosting), or null for the URL's. */
  host: string | null;
  /** The request said `Connection: close`. */
  closeAfter: boolean;
  /** The request's referrer (Fetch §2.2.5), updated to what was sent as redirects go. */
  referrer: Referrer;
  /** The request's referrer policy ("" for the default); a redirect may change it. */
  referrerPolicy: ReferrerPolicy;
  /** The request's mode (for the Origin header's response tainting). */
  mode: RequestMode;
  /** Subresource Integrity metadata, or "". */
  integrity: string;
  /** Most redirects followed before the fetch fails. */
  maxRedirects: number;
}

const encoder = new TextEncoder();

const normalizedMethods: Record<string, string> = {
  delete: "DELETE",
  get: "GET",
  head: "HEAD",
  options: "OPTIONS",
  post: "POST",
  put: "PUT",
  patch: "PATCH",
};

/**
 * Normalizes a method as `new Request` does: the standard methods case-insensitively upper-cased,
 * CONNECT, TRACE and TRACK refused.
 *
 * @example
 * ```ts
 * import { normalizeMethod } from "./request.ts";
 * console.log(normalizeMethod("post")); // "POST"
 * ```
 */
export function normalizeMethod(method: string): string {
  if (method === "GET" || method === "POST") return method;
  const known = normalizedMethods[method.toLowerCase()];
  // PATCH is not upper-cased by the Fetch standard, but every server treats it the same and
  // users who write "patch" mean it.
  if (known !== undefined) return known;
  if (!isToken(method)) throw new TypeError(`invalid method: ${JSON.stringify(method)}`);
  const upper = method.toUpperCase();
  if (upper === "CONNECT" || upper === "TRACE" || upper === "TRACK") {
    throw new TypeError(`method ${upper} is forbidden`);
  }
  return method;
}

function trimValue(value: string): string {
  // Fetch normalizes header values by stripping leading and trailing HTTP whitespace.
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(value.length - 1);
  if (first > 32 && last > 32) return value;
  return value.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
}

function pushHeader(
  list: string[],
  name: string,
  value: unknown,
  casing: Map<string, string> | null,
): void {
  const v = trimValue(String(value));
  if (!isToken(name)) throw new TypeError(`invalid header name: ${JSON.stringify(name)}`);
  if (!isValidFieldValue(v)) {
    throw new TypeError(`invalid value for header ${name}: ${JSON.stringify(v)}`);
  }
  const lower = name.toLowerCase();
  // Fetch §2.2.2 "append" to a header list: a name already present (in any case) gets the
  // value combined with ", ", so the request carries one field per name, as Headers would.
  for (let i = 0; i < list.length; i += 2) {
    if (list[i] === lower) {
      list[i + 1] = list[i + 1] + ", " + v;
      return;
    }
  }
  // The first spelling of a name is the one sent (undici's header list does the same).
  if (casing !== null && lower !== name) casing.set(lower, name);
  list.push(lower, v);
}

/**
 * Flattens any `HeadersInit` into a validated [name, value, ...] list with lowercase names,
 * combining names that differ only in case into one field. When `casing` is given, it records
 * the caller's spelling of names written in another case (a plain object or an array of pairs
 * keeps it; a `Headers` object has already lowercased them).
 *
 * @example
 * ```ts
 * import { flattenHeaders } from "./request.ts";
 * console.log(flattenHeaders({ Accept: "text/plain" })); // ["accept", "text/plain"]
 * ```
 */
export function flattenHeaders(
  init: HeadersInit | undefined | null,
  casing: Map<string, string> | null = null,
): string[] {
  const list: string[] = [];
  if (init === undefined || init === null) return list;
  if (init instanceof Headers) {
    // Already validated and normalized by the Headers object.
    for (const [name, value] of init) list.push(name, value);
    return list;
  }
  if (
    Array.isArray(init) ||
    typeof (init as unknown as Iterable<unknown>)[Symbol.iterator] === "function"
  ) {
    for (const pair of init as Iterable<string[]>) {
      if (pair.length !== 2) {
        throw new TypeError("each header pair must have exactly a name and a value");
      }
      pushHeader(list, String(pair[0]), pair[1], casing);
    }
    return list;
  }
  for (const name in init as Record<string, string>) {
    pushHeader(list, name, (init as Record<string, string>)[name], casing);
  }
  return list;
}

/** Finds a header in a flat list (names lowercase); returns its index or -1. */
export function findHeader(list: readonly string[], name: string): number {
  for (let i = 0; i < list.length; i += 2) if (list[i] === name) return i;
  return -1;
}

function removeHeader(list: string[], name: string): void {
  for (let i = list.length - 2; i >= 0; i -= 2) if (list[i] === name) list.splice(i, 2);
}

// The casing of the list flattenInit returned last (a module variable rather than a result
// object, which would be an allocation); read-only once made, so it may be shared.
let flatCasing: Map<string, string> | null = null;

// The last plain-object header init flattened: its names and values as given, and the result.
// Callers tend to pass the same fields on every request (often the same object, which may have
// changed since: so compared by content); a match skips validation and lowercasing.
let lastRaw: string[] = [];
let lastFlat: readonly string[] = [];
let lastCasing: Map<string, string> | null = null;

/** `flattenHeaders` with the caller's casing, into `flatCasing`; a record init is memoized. */
function flattenInit(init: HeadersInit | null): string[] {
  // A Headers object is iterable: the second test sends it to flattenHeaders too.
  if (
    init === null || typeof init !== "object" ||
    typeof (init as unknown as Iterable<unknown>)[Symbol.iterator] === "function"
  ) {
    const casing = new Map<string, string>();
    const list = flattenHeaders(init, casing);
    flatCasing = casing.size === 0 ? null : casing;
    return list;
  }
  return flattenRecord(init as Record<string, unknown>);
}

function flattenRecord(init: Record<string, unknown>): string[] {
  const last = lastRaw;
  let same = 0;
  // Made once a field differs from the last call's: then every field is validated as usual,
  // in order, each value converted to a string once.
  let list: string[] | null = null;
  let raw: string[] = last;
  let casing: Map<string, string> | null = null;
  for (const name in init) {
    const value = String(init[name]);
    if (list === null) {
      if (same < last.length && last[same] === name && last[same + 1] === value) {
        same += 2;
        continue;
      }
      list = [];
      raw = [];
      casing = new Map();
      replayFields(last, same, list, raw, casing);
    }
    pushHeader(list, name, value, casing);
    raw.push(name, value);
  }
  if (list === null) {
    if (same === last.length) {
      flatCasing = lastCasing;
      return lastFlat.slice();
    }
    // The fields of the last call, fewer of them.
    list = [];
    raw = [];
    casing = new Map();
    replayFields(last, same, list, raw, casing);
  }
  flatCasing = casing!.size === 0 ? null : casing;
  lastRaw = raw;
  lastFlat = list.slice();
  lastCasing = flatCasing;
  return list;
}

// Validates the first `same` entries of the last call's names and values into `list` (and
// `casing`), and copies them to `raw`: the shared prefix, once a field differs or is missing.
// Plain parameters rather than a closure or result object: this runs per request.
function replayFields(
  last: readonly string[],
  same: number,
  list: string[],
  raw: string[],
  casing: Map<string, string>,
): void {
  for (let i = 0; i < same; i += 2) {
    pushHeader(list, last[i], last[i + 1], casing);
    raw.push(last[i], last[i + 1]);
  }
}

function copyBytes(view: ArrayBufferView | ArrayBuffer): Uint8Array {
  // The standard snapshots the bytes when the request is made; a caller that reuses its buffer
  // right after calling fetch must not change what goes on the wire.
  if (view instanceof ArrayBuffer) return new Uint8Array(view.slice(0));
  return new Uint8Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
}

interface Extracted {
  body: RequestBody;
  contentType: string | null;
}

// Blobs above this size are streamed from their own stream with a Content-Length instead of
// being copied into memory first.
const BLOB_STREAM_THRESHOLD = 1 << 20;

// Strings up to this length stay strings until written (see RequestBody "text"): measuring
// their UTF-8 length is a scan, cheaper than encoding only while they are short.
const TEXT_BODY_MAX = 16 * 1024;

/** The length in bytes of `text` encoded as UTF-8 (a lone surrogate becomes U+FFFD, 3 bytes). */
function utf8Length(text: string): number {
  const length = text.length;
  let bytes = length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (
      c >= 0xd800 && c <= 0xdbff && i + 1 < length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00
    ) {
      // A surrogate pair: two code units, four bytes.
      bytes += 2;
      i++;
    } else bytes += 2;
  }
  return bytes;
}

function extractBody(init: unknown): Extracted | Promise<Extracted> {
  if (typeof init === "string") {
    return {
      body: init.length <= TEXT_BODY_MAX
        ? { kind: "text", text: init, length: utf8Length(init) }
        : { kind: "bytes", bytes: encoder.encode(init) },
      contentType: "text/plain;charset=UTF-8",
    };
  }
  if (init instanceof Uint8Array || ArrayBuffer.isView(init) || init instanceof ArrayBuffer) {
    return { body: { kind: "bytes", bytes: copyBytes(init as ArrayBuffer) }, contentType: null };
  }
  if (init instanceof URLSearchParams) {
    return {
      body: { kind: "bytes", bytes: encoder.encode(init.toString()) },
      contentType: "application/x-www-form-urlencoded;charset=UTF-8",
    };
  }
  if (init instanceof ReadableStream) {
    return { body: { kind: "stream", stream: init, length: -1 }, contentType: null };
  }
  if (init instanceof Blob) {
    const contentType = init.type === "" ? null : init.type;
    if (init.size > BLOB_STREAM_THRESHOLD) {
      return { body: { kind: "stream", stream: init.stream(), length: init.size }, contentType };
    }
    return init.arrayBuffer().then((buffer) => ({
      body: { kind: "bytes", bytes: new Uint8Array(buffer) },
      contentType,
    }));
  }
  if (init instanceof FormData) {
    // The runtime's own multipart encoder picks the boundary and escapes names as the standard
    // says; reusing it keeps our output identical to native fetch.
    const encoded = new Response(init);
    const contentType = encoded.headers.get("content-type");
    return encoded.arrayBuffer().then((buffer) => ({
      body: { kind: "bytes", bytes: new Uint8Array(buffer) },
      contentType,
    }));
  }
  if (typeof init === "object" && init !== null && Symbol.asyncIterator in init) {
    return {
      body: { kind: "stream", stream: iterableStream(init as AsyncIterable<unknown>), length: -1 },
      contentType: null,
    };
  }
  // Anything else is converted to a string, as the Fetch standard's USVString branch does.
  return {
    body: { kind: "bytes", bytes: encoder.encode(String(init)) },
    contentType: "text/plain;charset=UTF-8",
  };
}

// A Request's body is only visible as a stream. Take what it yields without waiting (a body
// made from a string or buffer is all there at once) for up to one macrotask: if it ends, it
// goes out with Content-Length, which many servers require; a real stream is sent chunked,
// starting at once with what was read, so neither a slow producer nor an abort waits on us.
const PROBE_LIMIT = 1 << 20;
const WINDOW_CLOSED = Symbol("window closed");

async function probeStream(stream: ReadableStream<Uint8Array>): Promise<RequestBody> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const windowClosed = new Promise<typeof WINDOW_CLOSED>((resolve) => {
    timer = setTimeout(() => resolve(WINDOW_CLOSED), 0);
  });
  let pending: Promise<ReadableStreamReadResult<Uint8Array>> | null = null;
  try {
    while (total <= PROBE_LIMIT) {
      const read = reader.read();
      const result = await Promise.race([read, windowClosed]);
      if (result === WINDOW_CLOSED) {
        pending = read;
        break;
      }
      if (result.done) {
        reader.releaseLock();
        return { kind: "bytes", bytes: concat(chunks, total) };
      }
      chunks.push(result.value);
      total += result.value.length;
    }
  } finally {
    clearTimeout(timer);
  }
  let index = 0;
  const rest = new ReadableStream<Uint8Array>({
    async pull(controller): Promise<void> {
      if (index < chunks.length) {
        controller.enqueue(chunks[index]);
        chunks[index++] = undefined as unknown as Uint8Array;
        return;
      }
      const next = pending ?? reader.read();
      pending = null;
      const { done, value } = await next;
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason): Promise<void> {
      return reader.cancel(reason);
    },
  });
  return { kind: "stream", stream: rest, length: -1 };
}

// Async iterables (async generators, Node's Readable) are accepted as bodies by Deno's, Bun's
// and Node's fetch; their chunks may be bytes or strings.
function iterableStream(iterable: AsyncIterable<unknown>): ReadableStream<Uint8Array> {
  const iterator = iterable[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller): Promise<void> {
      const { done, value } = await iterator.next();
      if (done) {
        controller.close();
        return;
      }
      if (value instanceof Uint8Array) controller.enqueue(value);
      else if (typeof value === "string") controller.enqueue(encoder.encode(value));
      else if (value instanceof ArrayBuffer) controller.enqueue(new Uint8Array(value));
      else if (ArrayBuffer.isView(value)) {
        controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
      } else {
        throw new TypeError("body iterable chunks must be strings or byte arrays");
      }
    },
    async cancel(reason): Promise<void> {
      await iterator.return?.(reason);
    },
  });
}

/**
 * Joins byte chunks into one array.
 *
 * @example
 * ```ts
 * import { concat } from "./request.ts";
 * console.log(concat([new Uint8Array([1]), new Uint8Array([2])], 2));
 * ```
 */
export function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** `RequestInit` as wirefetch reads it. */
export interface RequestSpecInit extends RequestInit {
  /** Most redirects to follow (wirefetch's extension); the client's default when absent. */
  maxRedirects?: number;
}

/**
 * Validates a `maxRedirects` value: a non-negative integer.
 *
 * @example
 * ```ts
 * import { checkMaxRedirects } from "./request.ts";
 * console.log(checkMaxRedirects(5)); // 5
 * ```
 */
export function checkMaxRedirects(value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new TypeError(`maxRedirects must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

// Web IDL's AbortSignal conversion, as undici does it: duck-typed, so that the signals of
// AbortController polyfills (and of another realm) are accepted.
function isSignal(value: unknown): value is AbortSignal {
  return typeof value === "object" && value !== null &&
    typeof (value as AbortSignal).aborted === "boolean" &&
    typeof (value as AbortSignal).addEventListener === "function";
}

// Parsed URLs of http(s) inputs without credentials, by their text (a string input, a URL
// input's href, a Request's url), shared by every request for the same text: parsing costs about as much as the
// rest of building a request, and one URL object per text lets the client find its pool by
// identity. Nothing writes into a RequestSpec's URL (a redirect replaces it; credentials are
// stripped from a copy; observers get a copy), so sharing is safe, and a caller's own URL object
// is never kept (the caller may change it). Bounded: emptied when full, no LRU bookkeeping.
const plainUrls = new Map<string, URL>();
const PLAIN_URLS_MAX = 256;

// Whether the URL parseUrl returned last is a shared one from plainUrls (http(s), no
// credentials): a module variable rather than a result object, which would be an allocation.
let parsedPlain = false;

/** The URL of `text` (resolved against `base`), shared when it is a plain http(s) one. */
function parseUrl(text: string, base: string | undefined): URL {
  if (base !== undefined) {
    // Against a base (a `location`), a text may mean another URL once the base changes (even
    // "http:x" is relative to an http: base): not shared.
    parsedPlain = false;
    return new URL(text, base);
  }
  const hit = plainUrls.get(text);
  if (hit !== undefined) {
    parsedPlain = true;
    return hit;
  }
  const url = new URL(text);
  parsedPlain = (url.protocol === "http:" || url.protocol === "https:") &&
    url.username === "" && url.password === "";
  if (parsedPlain) {
    if (plainUrls.size >= PLAIN_URLS_MAX) plainUrls.clear();
    plainUrls.set(text, url);
  }
  return url;
}

/**
 * Builds the {@linkcode RequestSpec} for `fetch(input, init)`. Synchronous on the common path
 * (URL or string input, no body or a string/bytes body); a promise when the body must be read.
 * Throws TypeError for what `new Request` would refuse. Returns null for a URL whose scheme is
 * not http: or https: (scheme fetch: see src/fetch/schemes.ts).
 *
 * @example
 * ```ts
 * import { toRequestSpec } from "./request.ts";
 * const spec = toRequestSpec("http://example.test/a?b#c", { method: "post", body: "hi" });
 * ```
 */
export function toRequestSpec(
  input: RequestInfo | URL,
  init: RequestSpecInit | undefined,
  maxRedirects = 20,
): RequestSpec | Promise<RequestSpec> | null {
  let url: URL;
  let method = "GET";
  let headers: string[];
  let casing: Map<string, string> | null = null;
  let signal: AbortSignal | null = null;
  let redirect: RequestRedirect = "follow";
  let requestBody: ReadableStream<Uint8Array> | null = null;
  let referrer: Referrer = "client";
  let referrerPolicy: ReferrerPolicy = "";
  let mode: RequestMode = "cors";
  let integrity = "";
  // The URL is a shared one from plainUrls: http(s), no credentials.
  let plain = false;

  // Web IDL converts the init dictionary before the Request constructor runs a step: a signal
  // that is not an AbortSignal is a TypeError even before the URL is looked at.
  const initSignal = init?.signal;
  if (initSignal !== undefined && initSignal !== null && !isSignal(initSignal)) {
    throw new TypeError("signal is not an AbortSignal");
  }
  if (input instanceof Request) {
    url = parseUrl(input.url, undefined);
    plain = parsedPlain;
    method = input.method;
    signal = input.signal;
    redirect = input.redirect;
    // Not every runtime's Request has all of these (Bun's lacks some): absent means default.
    referrer = referrerOfRequest(input.referrer ?? "about:client");
    referrerPolicy = input.referrerPolicy ?? "";
    mode = input.mode === "same-origin" || input.mode === "no-cors" ? input.mode : "cors";
    integrity = input.integrity ?? "";
    if (init?.headers !== undefined) {
      headers = flattenInit(init.headers);
      casing = flatCasing;
    } else {
      headers = flattenHeaders(input.headers);
    }
    requestBody = input.body;
  } else {
    url = input instanceof URL
      ? parseUrl(input.href, undefined)
      : parseUrl(String(input), locationBase());
    plain = parsedPlain;
    if (init?.headers !== undefined) {
      headers = flattenInit(init.headers);
      casing = flatCasing;
    } else {
      headers = [];
    }
  }
  if (casing !== null && casing.size === 0) casing = null;
  if (!plain && url.protocol !== "http:" && url.protocol !== "https:") return null;
  if (init !== undefined) {
    if (init.method !== undefined) method = normalizeMethod(String(init.method));
    if (initSignal !== undefined) signal = initSignal;
    if (init.redirect !== undefined) {
      if (init.redirect !== "follow" && init.redirect !== "manual" && init.redirect !== "error") {
        throw new TypeError(`invalid redirect mode: ${init.redirect}`);
      }
      redirect = init.redirect;
    }
    if (init.referrer !== undefined) referrer = parseReferrer(init.referrer);
    if (init.referrerPolicy !== undefined) {
      referrerPolicy = parseReferrerPolicy(init.referrerPolicy);
    }
    if (init.mode !== undefined) {
      const m = String(init.mode);
      if (m !== "cors" && m !== "no-cors" && m !== "same-origin") {
        // "navigate" and unknown modes are refused by the Request constructor.
        throw new TypeError(`invalid mode: ${m}`);
      }
      mode = m;
    }
    if (init.integrity !== undefined) integrity = String(init.integrity);
    if (init.maxRedirects !== undefined) maxRedirects = checkMaxRedirects(init.maxRedirects);
  }

  let closeAfter = false;
  let host: string | null = null;
  let userLength = -1;
  // Whether a field fetch frames or writes itself (below) is among the caller's.
  let framing = false;
  for (let i = 0; i < headers.length; i += 2) {
    switch (headers[i]) {
      case "host":
        framing = true;
        host = headers[i + 1];
        break;
      case "connection": {
        framing = true;
        const tokens = headers[i + 1].toLowerCase().split(",").map((t) => t.trim());
        for (const token of tokens) {
          if (token === "close") closeAfter = true;
          else if (token !== "keep-alive" && token !== "") {
            // Upgrades would hand the socket to the caller, which this client does not do.
            throw new TypeError(`unsupported Connection option: ${token}`);
          }
        }
        break;
      }
      case "transfer-encoding":
        framing = true;
        if (headers[i + 1].toLowerCase() !== "chunked") {
          throw new TypeError(`unsupported Transfer-Encoding: ${headers[i + 1]}`);
        }
        break;
      case "content-length":
        framing = true;
        if (!/^\d+$/.test(headers[i + 1])) {
          throw new TypeError(`invalid Content-Length: ${headers[i + 1]}`);
        }
        userLength = Number(headers[i + 1]);
        break;
    }
  }
  if (framing) {
    // We frame the body ourselves and write Host from `host`; the caller's copies go.
    removeHeader(headers, "host");
    removeHeader(headers, "transfer-encoding");
    removeHeader(headers, "content-length");
    removeHeader(headers, "connection");
  }

  if (!plain && (url.username !== "" || url.password !== "")) {
    if (findHeader(headers, "authorization") < 0) {
      let credentials: string;
      try {
        credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
      } catch {
        throw new TypeError("the URL's credentials are not valid percent-encoding");
      }
      headers.push(
        "authorization",
        `Basic ${btoa(String.fromCharCode(...encoder.encode(credentials)))}`,
      );
    }
    url = new URL(url.href);
    url.username = "";
    url.password = "";
  }

  const spec: RequestSpec = {
    method,
    url,
    headers,
    casing,
    body: null,
    signal,
    redirect,
    host,
    closeAfter,
    referrer,
    referrerPolicy,
    mode,
    integrity,
    maxRedirects,
  };

  const bodyInit = init?.body !== undefined ? init.body : requestBody;
  if (bodyInit === null || bodyInit === undefined) return spec;
  if (method === "GET" || method === "HEAD") {
    throw new TypeError(`a ${method} request cannot have a body`);
  }
  if (bodyInit === requestBody && requestBody !== null) {
    if (signal?.aborted) {
      // Nothing will be sent: no probing, so fetch cancels the stream synchronously, as the
      // standard's "abort the fetch" does.
      return withBody(spec, { kind: "stream", stream: requestBody, length: -1 }, null, -1);
    }
    return probeStream(requestBody).then((body) => withBody(spec, body, null, userLength));
  }
  const extracted = extractBody(bodyInit);
  if (extracted instanceof Promise) {
    return extracted.then((e) => withBody(spec, e.body, e.contentType, userLength));
  }
  return withBody(spec, extracted.body, extracted.contentType, userLength);
}

function withBody(
  spec: RequestSpec,
  body: RequestBody,
  contentType: string | null,
  userLength: number,
): RequestSpec {
  if (contentType !== null && findHeader(spec.headers, "content-type") < 0) {
    spec.headers.push("content-type", contentType);
  }
  if (userLength >= 0) {
    const length = body.kind === "bytes" ? body.bytes.length : body.length;
    if (body.kind !== "stream" && length !== userLength) {
      throw new TypeError(
        `Content-Length ${userLength} does not match the body's ${length} bytes`,
      );
    }
    if (body.kind === "stream") body = { kind: "stream", stream: body.stream, length: userLength };
  }
  spec.body = body;
  return spec;
}

function locationBase(): string | undefined {
  return (globalThis as { location?: { href?: string } }).location?.href;
}
