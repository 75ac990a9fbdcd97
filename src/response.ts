/**
 * Builds the global `Response` objects fetch returns: headers from the parsed head, `url` and
 * `redirected` set as the Fetch standard says, and a body that either holds the bytes already
 * received or streams from the connection with backpressure.
 *
 * @module
 */

import { contentCodings, decodeBody } from "./body/content_coding.ts";
import type { ResponseHead } from "./h1/response_parser.ts";
import { TIMING_MARKS, type TimingMarks } from "./trace/timings.ts";

/**
 * The headers of a fetched response: the Fetch standard gives them the "immutable" guard, so
 * `set`, `append` and `delete` throw a `TypeError`, as they do on native fetch's responses. The
 * Response's own Headers object is re-prototyped to this class the first time `headers` is
 * read, so construction stays as cheap as a constructed Response's.
 */
class ImmutableHeaders extends Headers {
  override append(_name: string, _value: string): void {
    throw new TypeError("the headers of a fetched response are immutable");
  }
  override set(_name: string, _value: string): void {
    throw new TypeError("the headers of a fetched response are immutable");
  }
  override delete(_name: string): void {
    throw new TypeError("the headers of a fetched response are immutable");
  }
}

function seal(headers: Headers): void {
  if (!(headers instanceof ImmutableHeaders)) {
    Object.setPrototypeOf(headers, ImmutableHeaders.prototype);
  }
}

// On Node, undici's Response builds a ReadableStream (and makes it transferable) for every
// body, bytes included: 25–35 µs per response, more than the rest of a keep-alive request. There a
// body received whole is kept as bytes beside a Response constructed with a null body, and the body
// methods, `body` and `bodyUsed` are served from those bytes; a stream is made only if `body` is
// read. Deno and Bun build a bytes body cheaply, and their servers (`Deno.serve`, `Bun.serve`)
// read a returned Response's body from its internal slot, so a proxied fetched response must
// carry it there: they keep the runtime's own body.
const runtimeGlobals = globalThis as { Bun?: unknown; Deno?: unknown };
const HELD_BODIES = runtimeGlobals.Deno === undefined && runtimeGlobals.Bun === undefined;

const utf8 = new TextDecoder();

/**
 * Deno keeps a Response's header fields as an array of `[name, value]` pairs, under an own symbol
 * of its Headers object; `Headers` methods, `Response` body methods and `Deno.serve` all read
 * that array. `append` costs about 0.2 µs a field there (two ByteString conversions, a trim, two
 * character scans, a lowercase comparison with every field so far), and the parser has already
 * checked every name is a token and every value field-vchar/obs-text without CR, LF or NUL and
 * without surrounding whitespace (RFC 9110 §5.1, §5.5), which is exactly what those checks
 * enforce. So on Deno a parsed field list is pushed into that array as is: 5 fields cost 0.1 µs
 * instead of 1.1 µs (performance issue #10).
 *
 * The symbol is found once, and only used if a probe shows that the array behaves as described
 * (a pair pushed into it is what `get`, `has` and iteration see, and nothing else is cached);
 * on any other Deno, or another runtime, this is null and fields are appended.
 */
const DENO_HEADER_LIST: symbol | null = runtimeGlobals.Deno === undefined
  ? null
  : findDenoHeaderList();

/** The own symbol of `object` whose description is `description` (Deno's internal slots), or null. */
function ownSymbol(object: object, description: string): symbol | null {
  for (const key of Object.getOwnPropertySymbols(object)) {
    if (key.description === description) return key;
  }
  return null;
}

function findDenoHeaderList(): symbol | null {
  const withInit = probeDenoHeaderList(new Response("x", { status: 200, statusText: "OK" }));
  const withoutInit = probeDenoHeaderList(new Response("x"));
  return withInit !== null && withInit === withoutInit ? withInit : null;
}

/**
 * The symbol of the header list of `probe`, a Response with a string body constructed as
 * makeResponse does on Deno, if it behaves as {@linkcode DENO_HEADER_LIST} says: the string's
 * implied Content-Type is its one entry, and what is pushed after emptying it is what the
 * Headers methods see.
 */
function probeDenoHeaderList(probe: Response): symbol | null {
  try {
    const headers = probe.headers;
    const key = ownSymbol(headers, "header list");
    if (key === null) return null;
    const list = (headers as unknown as Record<symbol, unknown>)[key];
    if (
      !Array.isArray(list) || list.length !== 1 || !Array.isArray(list[0]) ||
      String(list[0][0]).toLowerCase() !== "content-type"
    ) {
      return null;
    }
    list.pop();
    list.push(["x-probe", "1"]);
    const entries = [...headers];
    const ok = headers.get("x-probe") === "1" && !headers.has("content-type") &&
      entries.length === 1 && entries[0][0] === "x-probe" && entries[0][1] === "1" &&
      headers.get("content-type") === null;
    return ok ? key : null;
  } catch {
    // Anything unexpected: use the public API.
  }
  return null;
}

/**
 * The init of every `200 OK` response (Deno), made once. The status and reason phrase must be in
 * the Response itself, not only answered by a getter: the runtime reads them from its own slots
 * (Deno's Cache API stores them, `Response.prototype.clone` copies them). Deno's constructor
 * takes a shorter path without an init (no dictionary conversion, no reason phrase check: about
 * 0.2 µs of a 0.4 µs response), so where {@linkcode DENO_INNER_RESPONSE} was found a `200 OK`
 * is constructed without one and its reason phrase written into the runtime's own response.
 */
const OK_INIT: ResponseInit = Object.freeze({ status: 200, statusText: "OK" });

/**
 * Deno keeps a Response's status and reason phrase in an inner response object, under an own
 * symbol of the Response: constructed without an init it says 200 and "". The symbol is found
 * once, by its description, and only used if a probe shows that writing "OK" there is what the
 * getter and the runtime's own clone then see; otherwise (another Deno, another runtime) this is
 * null and a `200 OK` is constructed with {@linkcode OK_INIT}.
 */
const DENO_INNER_RESPONSE: symbol | null = runtimeGlobals.Deno === undefined
  ? null
  : findDenoInnerResponse();

function findDenoInnerResponse(): symbol | null {
  try {
    const probe = new Response(null);
    const key = ownSymbol(probe, "response");
    if (key === null) return null;
    const inner =
      (probe as unknown as Record<symbol, { status?: unknown; statusMessage?: unknown }>)[key];
    if (
      inner === null || typeof inner !== "object" || inner.status !== 200 ||
      inner.statusMessage !== ""
    ) {
      return null;
    }
    inner.statusMessage = "OK";
    const copy = Response.prototype.clone.call(probe);
    return probe.statusText === "OK" && copy.statusText === "OK" && copy.status === 200
      ? key
      : null;
  } catch {
    // Anything unexpected: construct with the init.
  }
  return null;
}

/**
 * On Bun, the init of each shared head (`ResponseHead.shared`: the response parser's head
 * cache, which shares one field list between responses), made once, keyed weakly by
 * that list (so it goes with the parser's cache entry). It carries the fields as one `Headers`,
 * which Bun copies natively in about half the time of appending them one by one (0.5 vs 1 µs for
 * 5 fields); the init is frozen and never handed out, so nothing changes it. Deno (whose
 * Headers init sorts and combines the fields) and Node append.
 */
const INIT_BY_LIST: WeakMap<readonly string[], ResponseInit> | null =
  runtimeGlobals.Bun === undefined ? null : new WeakMap();

/** The init made once for the shared head `head` (see {@linkcode INIT_BY_LIST}). */
function sharedInit(
  cache: WeakMap<readonly string[], ResponseInit>,
  head: ResponseHead,
): ResponseInit {
  const list = head.headers;
  let init = cache.get(list);
  if (init === undefined) {
    const headers = new Headers();
    for (let i = 0; i < list.length; i += 2) headers.append(list[i], list[i + 1]);
    init = Object.freeze({ status: head.status, statusText: head.statusText, headers });
    cache.set(list, init);
  }
  return init;
}

/** {@linkcode FetchResponse} flag: a redirect was followed. */
const REDIRECTED = 1;

/**
 * Longest body handed to Deno's Response as a string rather than bytes (see
 * {@linkcode denoStringBody}): decoding it costs the `arrayBuffer()` reader about what the copy
 * of bytes would, and saves the `text()` and `json()` reader its decoding.
 */
const STRING_BODY_MAX = 4096;

/** Longest body checked and built as ASCII in JavaScript, cheaper than a decoder call. */
const ASCII_BODY_MAX = 64;

/** One reusable argument array per length up to {@linkcode ASCII_BODY_MAX}. */
const ASCII_BODY_ARGS: number[][] = [];
for (let n = 0; n <= ASCII_BODY_MAX; n++) ASCII_BODY_ARGS.push(new Array<number>(n).fill(0));

/** UTF-8, replacing invalid bytes (never throwing: an exception costs microseconds), BOM kept. */
const UTF8_AS_IS = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * A body of valid UTF-8 (up to {@linkcode STRING_BODY_MAX} bytes) as a string, else null. Deno's
 * Response copies a bytes body into a new ArrayBuffer, and on Deno every ArrayBuffer is
 * allocated by the embedder: about 0.5 µs, more than the rest of a small response's
 * construction. A string body is kept as is and encoded as UTF-8 when read as bytes (by
 * `arrayBuffer()`, `bytes()`, `blob()`, `body` or `Deno.serve`), and encoding valid UTF-8 decoded
 * gives back exactly the bytes received; `text()` and `json()` then need no decoding (871 bytes
 * of JSON: `text()` 1.0 vs 2.3 µs). Not for bytes that are not UTF-8 (they would come back
 * replaced), nor for a body starting with a BOM, which `text()` must strip. Only used together
 * with {@linkcode DENO_HEADER_LIST}, which replaces the `text/plain` Content-Type a string body
 * implies.
 */
function denoStringBody(bytes: Uint8Array): string | null {
  const n = bytes.length;
  if (n <= ASCII_BODY_MAX) {
    const args = ASCII_BODY_ARGS[n];
    let i = 0;
    for (; i < n; i++) {
      const c = bytes[i];
      if (c > 0x7f) break;
      args[i] = c;
    }
    if (i === n) return String.fromCharCode.apply(null, args);
  } else if (n > STRING_BODY_MAX) return null;
  const text = UTF8_AS_IS.decode(bytes);
  // U+FFFD: invalid bytes were replaced (or the body had one: rare, and bytes are as good).
  return text.charCodeAt(0) === 0xfeff || text.indexOf("\ufffd") !== -1 ? null : text;
}

/**
 * The byte stream of a held body, made when `body` is read: its bytes go out on the first read
 * (a byte stream with no high-water mark pulls only when read), which is also what makes it
 * "disturbed" for `bodyUsed`.
 */
class HeldBody implements UnderlyingByteSource {
  readonly type = "bytes" as const;
  /** The bytes, until read by a body method or the stream. */
  bytes: Uint8Array | null;
  /** The stream, once `body` was read. */
  stream: ReadableStream<Uint8Array<ArrayBuffer>> | null = null;
  /** Whether the stream was read from or cancelled. */
  disturbed = false;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }
  pull(controller: ReadableByteStreamController): void {
    this.disturbed = true;
    const bytes = this.bytes;
    this.bytes = null;
    // enqueue() transfers the chunk's buffer: give it a copy, never the received buffer.
    if (bytes !== null && bytes.byteLength > 0) controller.enqueue(bytes.slice());
    controller.close();
  }
  cancel(): void {
    this.disturbed = true;
    this.bytes = null;
  }
}

/** Makes a held body's stream (when `body` is first read). */
function heldStream(held: HeldBody): ReadableStream<Uint8Array<ArrayBuffer>> {
  const stream = new ReadableStream(held) as ReadableStream<Uint8Array<ArrayBuffer>>;
  if (held.bytes === null) {
    // Read by a body method already: the stream is the one that was read, locked and done.
    held.disturbed = true;
    stream.getReader().read().catch(() => {});
  }
  return stream;
}

/** A held body's bytes, taken once (a copy: the caller may write into them). */
function takeHeld(held: HeldBody): Promise<Uint8Array<ArrayBuffer>> {
  const stream = held.stream;
  if (stream !== null) {
    if (stream.locked || held.disturbed) return Promise.reject(unusable());
    return new Response(stream).arrayBuffer().then((buffer) => new Uint8Array(buffer));
  }
  const bytes = held.bytes;
  if (bytes === null) return Promise.reject(unusable());
  held.bytes = null;
  return Promise.resolve(bytes.slice());
}

function unusable(): TypeError {
  return new TypeError("Body is unusable: Body has already been read");
}

/** Marks a fetched response as aborted (see {@linkcode FetchResponse}). */
export const ABORT: unique symbol = Symbol("wirefetch.abort");

const NOT_ABORTED: unique symbol = Symbol("not aborted");

/** A fetched response's `body` was not read and its fetch not aborted. */
const UNTOUCHED = 0;
/** A fetched response's `body` was read, and its fetch not aborted. */
const BODY_EXPOSED = 1;

/** The abort of a fetched response's fetch (see {@linkcode FetchResponse}). */
class Aborted {
  /** The abort reason, with which the body methods reject. */
  readonly reason: unknown;
  /** Whether `body` had been read before: then it stays the stream it was. */
  readonly bodyExposed: boolean;
  /** The errored stream `body` returns otherwise, once made. */
  body: ReadableStream<Uint8Array<ArrayBuffer>> | null = null;
  constructor(reason: unknown, bodyExposed: boolean) {
    this.reason = reason;
    this.bodyExposed = bodyExposed;
  }
}

/**
 * A global `Response` that looks as a fetched one does: `url` and `redirected` from the request
 * that produced it, `type` `"basic"` (a constructed Response says `"default"`), and immutable
 * headers. It is constructed with the status only (or the init makeResponse made for a shared
 * head on Bun) and gets its header fields afterwards, appended or, on Deno, pushed into the
 * runtime's list (see {@linkcode DENO_HEADER_LIST}): a `headers` init costs microseconds more in
 * Deno's constructor (performance issue #10), and the parser has validated the fields already.
 */
export class FetchResponse extends Response {
  /** The timing marks of the request that produced this response. */
  readonly [TIMING_MARKS]: TimingMarks | null;
  #url: string;
  /** {@linkcode REDIRECTED}. */
  #flags: number;
  /**
   * {@linkcode UNTOUCHED}, {@linkcode BODY_EXPOSED} once `body` was read, or the abort. One
   * field for three facts: every field is stored on every response, and a fetched response is
   * built per request.
   */
  #abort: Aborted | typeof UNTOUCHED | typeof BODY_EXPOSED = UNTOUCHED;

  /**
   * Creates a response for `url` with the header fields of `headers`: a `Headers`, or a flat
   * `[name, value, ...]` list of fields the response parser produced (names lowercase tokens,
   * values valid and trimmed: on Deno they go into the Response unchecked).
   *
   * @example
   * ```ts
   * import { FetchResponse } from "./response.ts";
   * const response = new FetchResponse("hi", { status: 200 }, "http://example.test/", false);
   * console.log(response.url, response.type, response instanceof Response);
   * ```
   */
  constructor(
    body: BodyInit | null,
    init: ResponseInit,
    url: string,
    redirected: boolean,
    marks: TimingMarks | null = null,
    headers: readonly string[] | Headers | null = null,
  ) {
    // Deno's shorter path, no init, for a 200 OK, whose reason phrase then goes into Deno's own
    // slot (see DENO_INNER_RESPONSE).
    const okPath = init === OK_INIT && DENO_INNER_RESPONSE !== null;
    super(body, okPath ? undefined : init);
    if (okPath) {
      (this as unknown as Record<symbol, { statusMessage: string }>)[DENO_INNER_RESPONSE!]
        .statusMessage = "OK";
    }
    this.#url = url;
    this.#flags = redirected ? REDIRECTED : 0;
    this[TIMING_MARKS] = marks;
    if (headers !== null) {
      const own = super.headers;
      if (headers instanceof Headers) {
        for (const [name, value] of headers) own.append(name, value);
      } else if (DENO_HEADER_LIST !== null) {
        // A parsed list: already valid, pushed as is (see DENO_HEADER_LIST). The list holds
        // nothing but the Content-Type Deno implies for a string body, which the received
        // fields replace.
        const list = (own as unknown as Record<symbol, [string, string][]>)[DENO_HEADER_LIST];
        // pop, not `length = 0`: V8 sets an array's length through the runtime, 0.1 µs.
        while (list.length > 0) list.pop();
        for (let i = 0; i < headers.length; i += 2) list.push([headers[i], headers[i + 1]]);
      } else {
        for (let i = 0; i < headers.length; i += 2) own.append(headers[i], headers[i + 1]);
      }
    }
  }

  /** The final URL, after redirects, without its fragment. */
  override get url(): string {
    return this.#url;
  }

  /** Whether a redirect was followed to get here. */
  override get redirected(): boolean {
    return (this.#flags & REDIRECTED) !== 0;
  }

  /** `"basic"`, as for every response native fetch returns to a request without an origin. */
  override get type(): ResponseType {
    return "basic";
  }

  /** The response's header fields; immutable, as a fetched response's are. */
  override get headers(): Headers {
    const headers = super.headers;
    seal(headers);
    return headers;
  }

  /**
   * Fetch "abort the fetch" on a response: its body methods reject with the reason from now on,
   * at once (before the next microtask, as native fetch's), read before or not. The body stream
   * is errored by the caller.
   */
  [ABORT](reason: unknown): void {
    const abort = this.#abort;
    if (typeof abort !== "object") this.#abort = new Aborted(reason, abort === BODY_EXPOSED);
  }

  /**
   * The body stream. Once the fetch was aborted, a body not looked at before is a stream errored
   * with the reason (a body received whole is held as bytes, which nothing can error later).
   */
  override get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
    const abort = this.#abort;
    if (abort === UNTOUCHED) this.#abort = BODY_EXPOSED;
    else if (typeof abort === "object" && !abort.bodyExposed && super.body !== null) {
      const reason = abort.reason;
      return abort.body ??= new ReadableStream<Uint8Array<ArrayBuffer>>({
        start(controller): void {
          controller.error(reason);
        },
      });
    }
    return super.body;
  }

  /** The body as text; rejects with the abort reason once the fetch was aborted. */
  override text(): Promise<string> {
    const abort = this.#abort;
    if (typeof abort === "object") return Promise.reject(abort.reason);
    return super.text();
  }

  /** The body parsed as JSON; rejects with the abort reason once the fetch was aborted. */
  override json(): Promise<unknown> {
    const abort = this.#abort;
    if (typeof abort === "object") return Promise.reject(abort.reason);
    return super.json();
  }

  /** The body's bytes; rejects with the abort reason once the fetch was aborted. */
  override arrayBuffer(): Promise<ArrayBuffer> {
    const abort = this.#abort;
    if (typeof abort === "object") return Promise.reject(abort.reason);
    return super.arrayBuffer();
  }

  /** The body as a Blob; rejects with the abort reason once the fetch was aborted. */
  override blob(): Promise<Blob> {
    const abort = this.#abort;
    if (typeof abort === "object") return Promise.reject(abort.reason);
    return super.blob();
  }

  /** The body as FormData; rejects with the abort reason once the fetch was aborted. */
  override formData(): Promise<FormData> {
    const abort = this.#abort;
    if (typeof abort === "object") return Promise.reject(abort.reason);
    return super.formData();
  }

  /** The body's bytes; rejects with the abort reason once the fetch was aborted. */
  override bytes(): Promise<Uint8Array<ArrayBuffer>> {
    const abort = this.#abort;
    if (typeof abort === "object") return Promise.reject(abort.reason);
    return super.bytes();
  }

  /** A copy that shares nothing with this response's body. */
  override clone(): Response {
    const copy = super.clone();
    seal(copy.headers);
    Object.defineProperties(copy, {
      url: { value: this.#url },
      redirected: { value: this.redirected },
      type: { value: "basic" },
    });
    return copy;
  }
}

/**
 * A fetched response whose body arrived whole, on Node (HELD_BODIES): the `Response` underneath
 * has a null body, and the bytes are held here. The body methods answer from them (a copy each
 * time), `blob` and `formData` through a runtime `Response` made on demand, `bodyUsed` from whether
 * they were taken, and `body` with a byte stream made on its first read. Abort semantics are
 * those of {@linkcode FetchResponse}.
 */
class HeldFetchResponse extends FetchResponse {
  #held: HeldBody;
  #abortReason: unknown = NOT_ABORTED;
  #bodyExposed = false;
  #abortedBody: ReadableStream<Uint8Array<ArrayBuffer>> | null = null;

  constructor(
    bytes: Uint8Array,
    init: ResponseInit,
    url: string,
    redirected: boolean,
    marks: TimingMarks | null,
    headers: readonly string[] | Headers | null,
  ) {
    super(null, init, url, redirected, marks, headers);
    this.#held = new HeldBody(bytes);
  }

  override [ABORT](reason: unknown): void {
    super[ABORT](reason);
    if (this.#abortReason === NOT_ABORTED) this.#abortReason = reason;
  }

  override get body(): ReadableStream<Uint8Array<ArrayBuffer>> {
    if (this.#abortReason !== NOT_ABORTED && !this.#bodyExposed) {
      const reason = this.#abortReason;
      return this.#abortedBody ??= new ReadableStream<Uint8Array<ArrayBuffer>>({
        start(controller): void {
          controller.error(reason);
        },
      });
    }
    this.#bodyExposed = true;
    const held = this.#held;
    return held.stream ??= heldStream(held);
  }

  override get bodyUsed(): boolean {
    const held = this.#held;
    return held.stream === null ? held.bytes === null : held.disturbed;
  }

  override text(): Promise<string> {
    if (this.#abortReason !== NOT_ABORTED) return Promise.reject(this.#abortReason);
    return takeHeld(this.#held).then((bytes) => utf8.decode(bytes));
  }

  override json(): Promise<unknown> {
    if (this.#abortReason !== NOT_ABORTED) return Promise.reject(this.#abortReason);
    return takeHeld(this.#held).then((bytes) => JSON.parse(utf8.decode(bytes)));
  }

  override arrayBuffer(): Promise<ArrayBuffer> {
    if (this.#abortReason !== NOT_ABORTED) return Promise.reject(this.#abortReason);
    return takeHeld(this.#held).then((bytes) => bytes.buffer);
  }

  override bytes(): Promise<Uint8Array<ArrayBuffer>> {
    if (this.#abortReason !== NOT_ABORTED) return Promise.reject(this.#abortReason);
    return takeHeld(this.#held);
  }

  override blob(): Promise<Blob> {
    if (this.#abortReason !== NOT_ABORTED) return Promise.reject(this.#abortReason);
    return this.#asNative().then((response) => response.blob());
  }

  override formData(): Promise<FormData> {
    if (this.#abortReason !== NOT_ABORTED) return Promise.reject(this.#abortReason);
    return this.#asNative().then((response) => response.formData());
  }

  /** A runtime Response with the held bytes and these headers, for blob and formData. */
  #asNative(): Promise<Response> {
    const headers = this.headers;
    return takeHeld(this.#held).then((bytes) => new Response(bytes, { headers }));
  }

  // Fetch "clone a response": refused once the body was read or its stream locked; the copy holds
  // the same bytes (nothing writes into them: every read hands out a copy).
  override clone(): Response {
    const held = this.#held;
    const bytes = held.bytes;
    if (bytes === null || held.disturbed || held.stream?.locked === true) {
      throw new TypeError("Response.clone: Body has already been consumed.");
    }
    return new HeldFetchResponse(
      bytes,
      { status: this.status, statusText: this.statusText },
      this.url,
      this.redirected,
      null,
      this.headers,
    );
  }
}

// Response.prototype.bytes is recent (Node 22): where the runtime has none, neither do we.
if (typeof (Response.prototype as { bytes?: unknown }).bytes !== "function") {
  delete (FetchResponse.prototype as { bytes?: unknown }).bytes;
  delete (HeldFetchResponse.prototype as { bytes?: unknown }).bytes;
}

/**
 * A URL's serialization without its fragment: what `response.url` reports (Fetch §4.1 main
 * fetch, step 15, and the Response's url getter exclude the fragment).
 *
 * @example
 * ```ts
 * import { hrefWithoutFragment } from "./response.ts";
 * console.log(hrefWithoutFragment(new URL("http://example.test/a#b"))); // "http://example.test/a"
 * ```
 */
export function hrefWithoutFragment(url: URL): string {
  const href = url.href;
  if (url.hash === "" && !href.endsWith("#")) return href;
  return href.slice(0, href.indexOf("#"));
}

/** Statuses whose responses never have a body (the Response constructor refuses one). */
export function isNullBodyStatus(status: number): boolean {
  return status === 204 || status === 205 || status === 304;
}

/**
 * Makes the Response for a parsed head and a body (bytes, a stream, or null).
 *
 * @example
 * ```ts ignore
 * const response = makeResponse(head, bytes, "http://example.test/", false);
 * ```
 */
export function makeResponse(
  head: ResponseHead,
  body: Uint8Array | ReadableStream<Uint8Array> | null,
  url: string,
  redirected: boolean,
  marks: TimingMarks | null = null,
  decompress = true,
): Response {
  // Fetch §4.6 step 16 (HTTP-network fetch): content codings are undone for the caller, unless
  // `decompress: false` asked for the bytes as sent.
  if (body !== null && decompress && !isNullBodyStatus(head.status)) {
    const codings = contentCodings(head.headers);
    if (codings !== null) body = decodeBody(codings, body);
  }
  const status = head.status;
  let list: string[] | null = head.headers;
  let init: ResponseInit;
  if (INIT_BY_LIST !== null && head.shared) {
    init = sharedInit(INIT_BY_LIST, head);
    list = null;
  } else if (DENO_HEADER_LIST !== null && status === 200 && head.statusText === "OK") {
    init = OK_INIT;
  } else {
    init = { status, statusText: head.statusText };
  }
  if (isNullBodyStatus(status)) body = null;
  const held = HELD_BODIES && body instanceof Uint8Array;
  let runtimeBody = body as BodyInit | null;
  if (DENO_HEADER_LIST !== null && body instanceof Uint8Array) {
    runtimeBody = denoStringBody(body) ?? runtimeBody;
  }
  try {
    return held
      ? new HeldFetchResponse(body as Uint8Array, init, url, redirected, marks, list)
      : new FetchResponse(runtimeBody, init, url, redirected, marks, list);
  } catch (error) {
    // A reason phrase with bytes the Response constructor rejects is not worth failing the
    // request for: RFC 9112 §4 says clients should ignore the reason phrase.
    if (head.statusText !== "") {
      const plain: ResponseInit = { status, statusText: "", headers: init.headers };
      return held
        ? new HeldFetchResponse(body as Uint8Array, plain, url, redirected, marks, list)
        : new FetchResponse(runtimeBody, plain, url, redirected, marks, list);
    }
    throw error;
  }
}

/** The body source's view of the request it belongs to. */
export interface BodyOwner {
  /** The consumer wants more data. */
  onBodyPull(): void;
  /** The consumer cancelled the body. */
  onBodyCancel(reason: unknown): void;
}

// Buffer up to 256 KiB of body before pausing the socket: enough to keep a fast reader busy
// while the next segments arrive, little enough to bound memory per response.
const bodyStrategy: QueuingStrategy<Uint8Array> = {
  highWaterMark: 256 * 1024,
  size(chunk: Uint8Array): number {
    return chunk.byteLength;
  },
};

/**
 * The controller of a streamed body as its feeder sees it: a chunk that is a view into a larger
 * buffer is copied before it reaches the caller. The socket adapters hand out views (on Deno, of
 * a slab the socket's later reads go into; everywhere, the parser cuts a read's body pieces out
 * of it), and a caller owns a chunk's `buffer` as native fetch's callers do: enqueueing a chunk
 * into a byte stream or posting it with `transfer` detaches that buffer, which would empty every
 * other chunk sharing it and fail the socket's pending read. A chunk that is its whole buffer
 * (a bulk read of body bytes only, on Node and Bun) goes through as is. A body received whole
 * never gets here: its Response copies or decodes it.
 */
class OwnChunks implements ReadableStreamDefaultController<Uint8Array> {
  #inner: ReadableStreamDefaultController<Uint8Array>;
  constructor(inner: ReadableStreamDefaultController<Uint8Array>) {
    this.#inner = inner;
  }
  get desiredSize(): number | null {
    return this.#inner.desiredSize;
  }
  enqueue(chunk: Uint8Array): void {
    this.#inner.enqueue(
      // The constructor copies (a Buffer's `slice` would not) into a plain Uint8Array.
      chunk.byteLength === chunk.buffer.byteLength ? chunk : new Uint8Array(chunk),
    );
  }
  close(): void {
    this.#inner.close();
  }
  error(reason?: unknown): void {
    this.#inner.error(reason);
  }
}

/**
 * The underlying source of a streamed response body. Its methods live on the prototype, so a
 * streamed response allocates no closures.
 */
export class BodySource implements UnderlyingDefaultSource<Uint8Array> {
  /** The stream's controller, once started. */
  controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  #owner: BodyOwner;

  /**
   * Creates a source bound to its request.
   *
   * @example
   * ```ts ignore
   * const source = new BodySource(attempt);
   * const stream = source.stream();
   * ```
   */
  constructor(owner: BodyOwner) {
    this.#owner = owner;
  }

  /** Creates the stream this source feeds. */
  stream(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>(this, bodyStrategy);
  }

  /** @internal */
  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.controller = new OwnChunks(controller);
  }

  /** @internal */
  pull(): void {
    this.#owner.onBodyPull();
  }

  /** @internal */
  cancel(reason: unknown): void {
    this.#owner.onBodyCancel(reason);
  }
}
