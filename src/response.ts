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
 * A global `Response` whose `url` and `redirected` reflect the request that produced it (the
 * `Response` constructor cannot set them).
 */
export class FetchResponse extends Response {
  /** The timing marks of the request that produced this response. */
  readonly [TIMING_MARKS]: TimingMarks | null;
  #url: string;
  #redirected: boolean;

  /**
   * Creates a response for `url`.
   *
   * @example
   * ```ts
   * import { FetchResponse } from "./response.ts";
   * const response = new FetchResponse("hi", { status: 200 }, "http://example.test/", false);
   * console.log(response.url, response instanceof Response);
   * ```
   */
  constructor(
    body: BodyInit | null,
    init: ResponseInit,
    url: string,
    redirected: boolean,
    marks: TimingMarks | null = null,
  ) {
    super(body, init);
    this.#url = url;
    this.#redirected = redirected;
    this[TIMING_MARKS] = marks;
  }

  /** The final URL, after redirects. */
  override get url(): string {
    return this.#url;
  }

  /** Whether a redirect was followed to get here. */
  override get redirected(): boolean {
    return this.#redirected;
  }

  /** A copy that shares nothing with this response's body. */
  override clone(): Response {
    const copy = super.clone();
    Object.defineProperties(copy, {
      url: { value: this.#url },
      redirected: { value: this.#redirected },
    });
    return copy;
  }
}

function headersOf(head: ResponseHead): Headers {
  const headers = new Headers();
  const list = head.headers;
  for (let i = 0; i < list.length; i += 2) headers.append(list[i], list[i + 1]);
  return headers;
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
  const init: ResponseInit = {
    status: head.status,
    statusText: head.statusText,
    headers: headersOf(head),
  };
  if (isNullBodyStatus(head.status)) body = null;
  try {
    return new FetchResponse(body as BodyInit | null, init, url, redirected, marks);
  } catch (error) {
    // A reason phrase with bytes the Response constructor rejects is not worth failing the
    // request for: RFC 9112 §4 says clients should ignore the reason phrase.
    if (head.statusText !== "") {
      init.statusText = "";
      return new FetchResponse(body as BodyInit | null, init, url, redirected, marks);
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
    this.controller = controller;
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
