/**
 * Content codings (RFC 9110 §8.4): which codings a response carries, which of them this runtime
 * can undo, the default `Accept-Encoding`, and the decoding itself, as a stream with
 * backpressure.
 *
 * Two decoder backends, picked per runtime and coding by speed and correctness:
 * - Bun: the native `DecompressionStream` ("gzip", "deflate", "deflate-raw", "brotli", "zstd"),
 *   several times faster there than `node:zlib`.
 * - Deno and Node: `node:zlib` streams. Deno's `DecompressionStream` ends a truncated deflate
 *   stream cleanly and emits a whole bomb as one chunk; Node's lacks brotli. `node:zlib` stops
 *   inflating while its output is not read, so a decompression bomb never sits whole in memory.
 * - Except brotli on Deno: its `node:zlib` ends a truncated brotli stream cleanly, so brotli
 *   goes through `DecompressionStream("brotli")` there, fed at most 4 KiB at a time because it
 *   inflates each input chunk whole.
 *
 * @module
 */

import * as zlib from "node:zlib";
import { bodyError, WirefetchError } from "../errors.ts";

/** A content coding wirefetch may decode. */
export type ContentCoding = "gzip" | "deflate" | "br" | "zstd";

/**
 * Most codings one response may stack. undici's limit too: each layer costs a decoder, and a
 * long chain is a decompression-amplification attack, not something a server needs.
 */
export const MAX_CONTENT_CODINGS = 5;

/** A zlib decompressor as a Node stream (the parts of `Transform` used here). */
type ZlibStream = zlib.Zlib & NodeJS.ReadWriteStream & { destroy(): void };
type ZlibFactory = (options: zlib.ZlibOptions) => ZlibStream;

const runtime = globalThis as { Bun?: unknown; Deno?: unknown };
// Decoder backend per coding: see the module documentation for why.
const allWeb = runtime.Bun !== undefined;
const brotliWeb = allWeb || runtime.Deno !== undefined;
// Deno's DecompressionStream inflates each input chunk whole: feed it small pieces.
const WEB_INPUT_PIECE = runtime.Deno !== undefined ? 4096 : Infinity;

function useWeb(coding: ContentCoding): boolean {
  return allWeb || (coding === "br" && brotliWeb);
}

// Node 22.15+ and Bun have zstd in node:zlib; Node 20 does not, and then zstd is passed through
// undecoded with its Content-Encoding header, as native fetch there does.
const zstdFactory = (zlib as { createZstdDecompress?: ZlibFactory }).createZstdDecompress;

function canDecode(coding: ContentCoding): boolean {
  if (coding !== "zstd") return true;
  if (allWeb) return webFormatSupported("zstd");
  return zstdFactory !== undefined;
}

function webFormatSupported(format: string): boolean {
  try {
    new DecompressionStream(format as CompressionFormat);
    return true;
  } catch {
    return false;
  }
}

/**
 * The `Accept-Encoding` value sent when the request has none: what the runtime's own fetch sends,
 * restricted to the codings wirefetch decodes there (Deno's fetch sends `gzip, br`, Bun's
 * `gzip, deflate, br, zstd`, Node's `gzip, deflate`).
 *
 * @example
 * ```ts
 * import { defaultAcceptEncoding } from "./content_coding.ts";
 * console.log(defaultAcceptEncoding); // "gzip, deflate" on Node
 * ```
 */
export const defaultAcceptEncoding: string = (
  runtime.Bun !== undefined
    ? ["gzip", "deflate", "br", "zstd"] as ContentCoding[]
    : runtime.Deno !== undefined
    ? ["gzip", "br"] as ContentCoding[]
    : ["gzip", "deflate"] as ContentCoding[]
).filter(canDecode).join(", ");

/**
 * The codings of a response to undo, in the order they were applied (the last one listed was
 * applied last, RFC 9110 §8.4), from every `Content-Encoding` field; names are case-insensitive.
 * `identity` entries are skipped. Returns null when there is nothing to decode, or when any
 * coding is one this runtime cannot decode: then the body is passed through as received, with
 * its Content-Encoding header, as the Fetch standard says for unsupported codings.
 *
 * @param headers The flat `[name, value, ...]` list with lowercased names.
 * @throws {WirefetchError} `ERR_CONTENT_DECODING` for more than {@linkcode MAX_CONTENT_CODINGS}.
 *
 * @example
 * ```ts
 * import { contentCodings } from "./content_coding.ts";
 * console.log(contentCodings(["content-encoding", "deflate, GZIP"])); // ["deflate", "gzip"]
 * ```
 */
export function contentCodings(headers: readonly string[]): ContentCoding[] | null {
  let codings: ContentCoding[] | null = null;
  let unsupported = false;
  let count = 0;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] !== "content-encoding") continue;
    for (const element of headers[i + 1].split(",")) {
      const name = element.trim().toLowerCase();
      if (name === "" || name === "identity") continue;
      if (++count > MAX_CONTENT_CODINGS) {
        throw new WirefetchError(
          "ERR_CONTENT_DECODING",
          `more than ${MAX_CONTENT_CODINGS} content codings`,
        );
      }
      const coding: ContentCoding | null = name === "gzip" || name === "x-gzip"
        ? "gzip"
        : name === "deflate"
        ? "deflate"
        : name === "br"
        ? "br"
        : name === "zstd"
        ? "zstd"
        : null;
      if (coding === null || !canDecode(coding)) unsupported = true;
      else (codings ??= []).push(coding);
    }
  }
  return unsupported ? null : codings;
}

/**
 * The body with `codings` undone (last applied first): bytes for a small body that came whole
 * and decodes to at most 1 MiB, else a stream. Corrupt or truncated data errors the stream with
 * a `TypeError` whose cause is a `WirefetchError` with code `ERR_CONTENT_DECODING`; an error of
 * `body` itself (a truncated transfer, an abort) is passed on unchanged. Cancelling the result
 * cancels `body`. An empty body decodes to an empty body.
 *
 * @example
 * ```ts
 * import { gzipSync } from "node:zlib";
 * import { decodeBody } from "./content_coding.ts";
 * const body = decodeBody(["gzip"], new Uint8Array(gzipSync("hello")));
 * // Small and whole: decoded at once, to bytes.
console.log(body instanceof Uint8Array ? new TextDecoder().decode(body) : "a stream"); // "hello"
 * ```
 */
export function decodeBody(
  codings: readonly ContentCoding[],
  body: Uint8Array | ReadableStream<Uint8Array>,
): Uint8Array | ReadableStream<Uint8Array> {
  if (body instanceof Uint8Array) {
    if (body.length === 0) return body;
    if (body.length <= SYNC_INPUT_MAX) {
      const decoded = decodeSync(codings, body);
      if (decoded !== null) return decoded;
    }
  }
  let stream = body instanceof Uint8Array ? bytesStream(body) : body;
  // Runs of codings with the same backend, from the one applied last.
  let end = codings.length;
  while (end > 0) {
    const web = useWeb(codings[end - 1]);
    let start = end - 1;
    while (start > 0 && useWeb(codings[start - 1]) === web) start--;
    const run = codings.slice(start, end);
    stream = web ? webDecode(run, stream) : zlibDecode(run, stream);
    end = start;
  }
  return stream;
}

// A small body that came whole with its head is decoded in one call (several times cheaper than
// a decoder stream for a typical compressed API response), as long as its output stays under
// SYNC_OUTPUT_MAX: a bomb in a small body falls back to the stream, with backpressure.
const SYNC_INPUT_MAX = 64 * 1024;
const SYNC_OUTPUT_MAX = 1024 * 1024;

type SyncDecoder = (input: Uint8Array, options: zlib.ZlibOptions) => Uint8Array;

const zstdSync = (zlib as { zstdDecompressSync?: SyncDecoder }).zstdDecompressSync;

function syncDecoder(coding: ContentCoding, input: Uint8Array): SyncDecoder | null {
  switch (coding) {
    case "gzip":
      return zlib.gunzipSync as SyncDecoder;
    case "deflate":
      return (input.length >= 2 && !isZlibHeader(input[0], input[1])
        ? zlib.inflateRawSync
        : zlib.inflateSync) as SyncDecoder;
    case "br":
      // Deno's node:zlib returns a truncated brotli stream's prefix without an error.
      return runtime.Deno !== undefined ? null : zlib.brotliDecompressSync as SyncDecoder;
    case "zstd":
      return zstdSync ?? null;
  }
}

/**
 * `bytes` with `codings` undone in one call per coding, or null when the stream path must do it
 * (no synchronous decoder, or the output would exceed SYNC_OUTPUT_MAX). Corrupt data gives a
 * stream that errors as the stream path would.
 */
function decodeSync(
  codings: readonly ContentCoding[],
  bytes: Uint8Array,
): Uint8Array | ReadableStream<Uint8Array> | null {
  let data = bytes;
  for (let i = codings.length - 1; i >= 0; i--) {
    if (data.length === 0) return data;
    const decode = syncDecoder(codings[i], data);
    if (decode === null) return null;
    try {
      const out = decode(data, { maxOutputLength: SYNC_OUTPUT_MAX });
      data = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    } catch (error) {
      if ((error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") return null;
      const failure = decodingError(error);
      return new ReadableStream<Uint8Array>({
        start(controller): void {
          controller.error(failure);
        },
      });
    }
  }
  return data;
}

function bytesStream(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller): void {
      if (bytes.length > 0) controller.enqueue(bytes);
      controller.close();
    },
  });
}

function decodingError(error: unknown): TypeError {
  const message = (error as Error)?.message ?? String(error);
  // Fetch "fetch termination": a body failing mid-read is undici's "terminated" TypeError.
  return bodyError(
    new WirefetchError("ERR_CONTENT_DECODING", `cannot decode the response body: ${message}`, {
      cause: error,
    }),
  );
}

/**
 * Whether the first two bytes of a "deflate" body are a zlib header (RFC 1950 §2.2: CM 8, and
 * CMF·256 + FLG a multiple of 31). Servers send raw deflate (RFC 1951) under that name too, and
 * browsers and Bun accept both.
 */
function isZlibHeader(b0: number, b1: number): boolean {
  return (b0 & 0x0f) === 8 && (b0 >> 4) <= 7 && ((b0 << 8) | b1) % 31 === 0;
}

// ---------------------------------------------------------------------------------------------
// node:zlib backend (Deno, Node)

// Output pieces of 64 KiB rather than zlib's 16 KiB default: a quarter of the callbacks and
// stream chunks for the same bytes.
const ZLIB_OPTIONS: zlib.ZlibOptions = { chunkSize: 64 * 1024 };

function zlibFactory(coding: ContentCoding, raw: boolean): ZlibFactory {
  switch (coding) {
    case "gzip":
      return zlib.createGunzip as ZlibFactory;
    case "deflate":
      return (raw ? zlib.createInflateRaw : zlib.createInflate) as ZlibFactory;
    case "br":
      return zlib.createBrotliDecompress as unknown as ZlibFactory;
    case "zstd":
      return zstdFactory!;
  }
}

/** What a decoding stage passes its output to. */
interface Sink {
  /** Takes a piece of output; false asks the stage to stop until `resume`. */
  write(chunk: Uint8Array): boolean;
  /** The stage's output ended. */
  end(): void;
  /** The stage failed. */
  fail(error: unknown): void;
}

/**
 * One coding undone by a `node:zlib` stream. The zlib stream is created on the first bytes (a
 * "deflate" stage needs two of them to tell zlib from raw deflate). Output backpressure: when
 * the sink refuses a piece the zlib stream is paused, and it stops inflating once its own
 * buffer is full.
 */
class ZlibStage implements Sink {
  #coding: ContentCoding;
  #sink: Sink;
  #z: ZlibStream | null = null;
  #head: Uint8Array | null = null;
  #ended = false;
  #failed = false;
  /** Called when this stage can take input again after `write` returned false. */
  onDrain: (() => void) | null = null;

  constructor(coding: ContentCoding, sink: Sink) {
    this.#coding = coding;
    this.#sink = sink;
  }

  write(chunk: Uint8Array): boolean {
    if (this.#failed) return true;
    if (this.#z === null) {
      if (this.#coding === "deflate") {
        const head = this.#head;
        const joined = head === null ? chunk : concat2(head, chunk);
        if (joined.length < 2) {
          this.#head = joined;
          return true;
        }
        this.#head = null;
        this.#open(!isZlibHeader(joined[0], joined[1]));
        return this.#z!.write(joined);
      }
      this.#open(false);
    }
    return this.#z!.write(chunk);
  }

  end(): void {
    if (this.#failed) return;
    if (this.#z === null) {
      if (this.#head === null) {
        // No byte at all: an empty body decodes to an empty body.
        this.#ended = true;
        this.#sink.end();
        return;
      }
      this.#open(false);
      this.#z!.write(this.#head);
      this.#head = null;
    }
    this.#z!.end();
  }

  fail(error: unknown): void {
    this.#failed = true;
    this.#z?.destroy();
    this.#sink.fail(error);
  }

  resume(): void {
    this.#z?.resume();
  }

  destroy(): void {
    this.#failed = true;
    this.#z?.destroy();
  }

  #open(raw: boolean): void {
    const z = zlibFactory(this.#coding, raw)(ZLIB_OPTIONS);
    this.#z = z;
    z.on("data", (data: Uint8Array) => {
      if (this.#failed) return;
      if (!this.#sink.write(data)) z.pause();
    });
    z.on("end", () => {
      if (this.#failed || this.#ended) return;
      this.#ended = true;
      this.#sink.end();
    });
    z.on("error", (error: unknown) => {
      if (this.#failed) return;
      this.#failed = true;
      this.#sink.fail(error);
    });
    z.on("drain", () => this.onDrain?.());
  }
}

function concat2(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * The underlying source of a body decoded with `node:zlib`: it reads the coded body, feeds the
 * first stage (the coding applied last), and enqueues the last stage's output.
 */
class ZlibDecoder implements UnderlyingDefaultSource<Uint8Array>, Sink {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #stages: ZlibStage[] = [];
  #controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  #done = false;
  #feeding = false;
  #waitingDrain = false;
  #inputDone = false;

  constructor(codings: readonly ContentCoding[], source: ReadableStream<Uint8Array>) {
    this.#reader = source.getReader();
    // Build from the innermost coding (listed first, applied first, undone last) outwards.
    let next: ZlibStage | null = null;
    for (let i = 0; i < codings.length; i++) {
      const stage: ZlibStage = new ZlibStage(codings[i], next ?? this);
      // The next stage's input is full: stop this stage's output until it drains.
      if (next !== null) next.onDrain = () => stage.resume();
      this.#stages.unshift(stage);
      next = stage;
    }
    this.#stages[0].onDrain = () => {
      if (this.#waitingDrain) {
        this.#waitingDrain = false;
        this.#feed();
      }
    };
  }

  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.#controller = controller;
  }

  pull(): void {
    this.#stages[this.#stages.length - 1].resume();
    if (!this.#feeding && !this.#waitingDrain && !this.#inputDone) this.#feed();
  }

  cancel(reason: unknown): Promise<void> {
    this.#done = true;
    for (const stage of this.#stages) stage.destroy();
    return this.#reader.cancel(reason);
  }

  // Sink of the last stage.

  write(chunk: Uint8Array): boolean {
    if (this.#done) return true;
    const controller = this.#controller!;
    // A plain Uint8Array with a buffer of its own, as native fetch hands out: zlib's output is a
    // slice of an output buffer it goes on writing into, which a caller transferring the chunk
    // (a byte stream's enqueue, postMessage with `transfer`) would detach: zlib then threw from
    // inside its callback (Node: uncaught) and the body never ended. A copy costs little beside
    // the inflation that made the bytes.
    controller.enqueue(new Uint8Array(chunk));
    return controller.desiredSize! > 0;
  }

  end(): void {
    if (this.#done) return;
    this.#done = true;
    this.#controller!.close();
  }

  fail(error: unknown): void {
    if (this.#done) return;
    this.#done = true;
    for (const stage of this.#stages) stage.destroy();
    this.#reader.cancel(error).catch(() => {});
    this.#controller!.error(decodingError(error));
  }

  // Reads coded bytes while the first stage takes them; a full stage stops the loop until it
  // drains, and that backpressure reaches the connection through the body stream.
  async #feed(): Promise<void> {
    this.#feeding = true;
    const first = this.#stages[0];
    try {
      while (!this.#done) {
        const { done, value } = await this.#reader.read();
        if (this.#done) return;
        if (done) {
          this.#inputDone = true;
          first.end();
          return;
        }
        if (!first.write(value)) {
          this.#waitingDrain = true;
          return;
        }
        // Output is waiting to be read: let the consumer's pull restart the loop.
        if (this.#controller!.desiredSize! <= 0) return;
      }
    } catch (error) {
      // The coded body itself failed (truncated transfer, abort): pass its error on as is.
      if (this.#done) return;
      this.#done = true;
      for (const stage of this.#stages) stage.destroy();
      this.#controller!.error(error);
    } finally {
      this.#feeding = false;
    }
  }
}

function zlibDecode(
  codings: readonly ContentCoding[],
  source: ReadableStream<Uint8Array>,
): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(new ZlibDecoder(codings, source), {
    highWaterMark: 256 * 1024,
    size: (chunk) => chunk.byteLength,
  });
}

// ---------------------------------------------------------------------------------------------
// DecompressionStream backend (Bun)

function webFormat(coding: ContentCoding): CompressionFormat {
  return (coding === "br" ? "brotli" : coding) as CompressionFormat;
}

/**
 * Reads the coded body for the first decoder and remembers whether it failed, so that an error
 * coming out of the decoders can be told apart: the body's own error is passed on unchanged, any
 * other one is a decoding error.
 */
class TrackedSource implements UnderlyingDefaultSource<Uint8Array> {
  error: unknown = undefined;
  failed = false;
  /** No byte came: an empty coded body is an empty body, not a truncated one. */
  empty = true;
  #reader: ReadableStreamDefaultReader<Uint8Array>;

  constructor(source: ReadableStream<Uint8Array>) {
    this.#reader = source.getReader();
  }

  async pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    let result: ReadableStreamReadResult<Uint8Array>;
    try {
      result = await this.#reader.read();
    } catch (error) {
      this.failed = true;
      this.error = error;
      throw error;
    }
    if (result.done) {
      controller.close();
      return;
    }
    const value = result.value;
    if (value.length > 0) this.empty = false;
    if (value.length <= WEB_INPUT_PIECE) {
      controller.enqueue(value);
      return;
    }
    for (let i = 0; i < value.length; i += WEB_INPUT_PIECE) {
      controller.enqueue(value.subarray(i, Math.min(value.length, i + WEB_INPUT_PIECE)));
    }
  }

  cancel(reason: unknown): Promise<void> {
    return this.#reader.cancel(reason);
  }
}

/** A "deflate" stage that picks "deflate" or "deflate-raw" from the first two bytes. */
function sniffDeflate(input: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const reader = input.getReader();
  let out: ReadableStreamDefaultReader<Uint8Array> | null = null;
  return new ReadableStream<Uint8Array>({
    async pull(controller): Promise<void> {
      if (out === null) {
        let head: Uint8Array = new Uint8Array(0);
        let ended = false;
        while (head.length < 2) {
          const { done, value } = await reader.read();
          if (done) {
            ended = true;
            break;
          }
          head = head.length === 0 ? value : concat2(head, value);
        }
        if (ended && head.length === 0) {
          controller.close();
          return;
        }
        const raw = head.length >= 2 && !isZlibHeader(head[0], head[1]);
        const first = head;
        const rest = new ReadableStream<Uint8Array>({
          start(c): void {
            c.enqueue(first);
            if (ended) c.close();
          },
          async pull(c): Promise<void> {
            const { done, value } = await reader.read();
            if (done) c.close();
            else c.enqueue(value);
          },
          cancel(reason): Promise<void> {
            return reader.cancel(reason);
          },
        }, { highWaterMark: 0 });
        out = rest.pipeThrough(
          new DecompressionStream(raw ? "deflate-raw" : "deflate") as ReadableWritablePair<
            Uint8Array,
            Uint8Array
          >,
        ).getReader();
      }
      const { done, value } = await out.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason): Promise<void> {
      return out === null ? reader.cancel(reason) : out.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

function webDecode(
  codings: readonly ContentCoding[],
  source: ReadableStream<Uint8Array>,
): ReadableStream<Uint8Array> {
  const tracked = new TrackedSource(source);
  let stream = new ReadableStream<Uint8Array>(tracked, { highWaterMark: 0 });
  for (let i = codings.length - 1; i >= 0; i--) {
    const coding = codings[i];
    stream = coding === "deflate" ? sniffDeflate(stream) : stream.pipeThrough(
      new DecompressionStream(webFormat(coding)) as ReadableWritablePair<Uint8Array, Uint8Array>,
    );
  }
  const decoded = stream.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller): Promise<void> {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await decoded.read();
      } catch (error) {
        if (tracked.failed) throw tracked.error;
        // An empty coded body is an empty body, not a truncated one.
        if (tracked.empty) {
          controller.close();
          return;
        }
        throw decodingError(error);
      }
      if (result.done) controller.close();
      else controller.enqueue(result.value);
    },
    cancel(reason): Promise<void> {
      return decoded.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
