/**
 * An incremental HTTP/1.1 response parser (RFC 9112): bytes in, callbacks out, no I/O.
 *
 * It accepts input split at any byte. Head and trailer lines are parsed straight from the input
 * chunk; only a line cut by a chunk boundary is copied, into a small buffer, to be completed by
 * the next chunk. Body bytes are never copied: `onBody` receives views into the input chunk.
 * Strings are built only for field names, field values and the reason phrase: when a whole head
 * is in one chunk and all ASCII (the common case), from one decode of it, else one by one. A head
 * whose bytes are those of the previous final head parsed whole builds nothing: it is that head
 * (the head cache, see {@linkcode ResponseParser}).
 *
 * @module
 */

import { WirefetchError } from "../errors.ts";
import { HEX_VALUE, TCHAR } from "./chars.ts";
import { type BodyFraming, decideFraming } from "./framing.ts";

export type { BodyFraming } from "./framing.ts";

/** A parsed final response head. */
export interface ResponseHead {
  /** HTTP minor version: 0 or 1. */
  minorVersion: number;
  /** The status code, 200–999. */
  status: number;
  /** The reason phrase, possibly empty. */
  statusText: string;
  /**
   * Flat list [name0, value0, name1, value1, ...]; names lowercased, values with surrounding
   * OWS trimmed, obs-fold replaced by SP (RFC 9112 §5.2). Order preserved, duplicates kept.
   */
  headers: string[];
  /** How the body is delimited. */
  framing: BodyFraming;
  /** Body length when framing is "length", else -1. */
  contentLength: number;
  /**
   * Whether the connection may be reused after this message (RFC 9112 §9.3): false for
   * `Connection: close`, for HTTP/1.0 without `Connection: keep-alive`, for close-delimited
   * bodies, and whenever both Transfer-Encoding and Content-Length were present.
   */
  keepAlive: boolean;
  /** From `Keep-Alive: timeout=N` in milliseconds, or -1 when absent/invalid. */
  keepAliveTimeoutMs: number;
  /** Keep-Alive: max=N, or -1. */
  keepAliveMax: number;
  /**
   * True when this is the parser's cached head: every response whose head bytes were the same
   * gets this very object, frozen, with its `headers` list, which nobody may write into (it is
   * not frozen: reading a frozen array is ten times slower on Bun). A consumer may key what it
   * derives from the head on the list (see the parser's head cache).
   */
  shared: boolean;
}

/** What the parser reports to its owner. */
export interface ResponseParserHandler {
  /** A 1xx response other than 101 was parsed and skipped (status, flat headers). */
  onInformational(status: number, headers: string[]): void;
  /** The final response head was parsed. */
  onHead(head: ResponseHead): void;
  /**
   * A piece of body: a subarray VIEW into the chunk passed to execute (no copy), except on
   * JavaScriptCore, where a small piece after the head is a copy (see `JSC` in the module). Never
   * called with length 0. For chunked bodies, chunk data only (no framing).
   */
  onBody(chunk: Uint8Array): void;
}

// Parser states. Numbers, not strings, so the dispatch is a cheap integer switch.
/** Not expecting a response: before start(). */
const IDLE = 0;
/** Reading the status line. */
const STATUS_LINE = 1;
/** Reading header field lines. */
const HEADERS = 2;
/** Reading a Content-Length body. */
const BODY_LENGTH = 3;
/** Reading a close-delimited body. */
const BODY_CLOSE = 4;
/** Expecting the first hex digit of a chunk size. */
const CHUNK_SIZE_START = 5;
/** Reading chunk-size hex digits. */
const CHUNK_SIZE = 6;
/** Whitespace after the chunk size, which must lead to an extension. */
const CHUNK_SIZE_BWS = 7;
/** Reading (and ignoring) chunk extensions. */
const CHUNK_EXT = 8;
/** CR seen at the end of the chunk-size line; expecting LF. */
const CHUNK_SIZE_LF = 9;
/** Reading chunk data. */
const CHUNK_DATA = 10;
/** Expecting the CRLF after chunk data. */
const CHUNK_DATA_CR = 11;
/** CR after chunk data seen; expecting LF. */
const CHUNK_DATA_LF = 12;
/** Reading trailer field lines. */
const TRAILERS = 13;
/** The final response is complete. */
const COMPLETE = 14;

/**
 * Longest chunk-size line (size, extensions and the spaces around them) we accept. Extensions
 * are ignored, so a longer line only costs CPU: RFC 9112 §7.1.1 lets a recipient limit them.
 */
const MAX_CHUNK_LINE = 4096;

/**
 * Chunk data pieces shorter than this are collected and delivered once per `execute` call;
 * longer ones are handed over as views, uncopied.
 */
const COALESCE_BELOW = 8192;

/** Shared empty trailer list, frozen so no holder can change it for the others. */
const NO_TRAILERS: string[] = Object.freeze([]) as unknown as string[];

/**
 * Common response field names, returned as these very strings when they match, so parsing
 * them allocates nothing and comparing them later (framing, `Headers`) is a pointer check.
 * Only lowercase letters and "-" are allowed here: {@linkcode fieldName} relies on it.
 */
const COMMON_NAMES = [
  "age",
  "via",
  "date",
  "etag",
  "vary",
  "link",
  "server",
  "pragma",
  "expires",
  "alt-svc",
  "trailer",
  "location",
  "connection",
  "keep-alive",
  "set-cookie",
  "content-type",
  "x-powered-by",
  "cache-control",
  "last-modified",
  "accept-ranges",
  "content-range",
  "content-length",
  "content-encoding",
  "content-language",
  "www-authenticate",
  "transfer-encoding",
  "content-disposition",
  "x-content-type-options",
  "content-security-policy",
  "strict-transport-security",
  "access-control-allow-origin",
];

/**
 * Common field values, matched byte for byte (values are case-sensitive) and returned as these
 * strings, like {@linkcode COMMON_NAMES}.
 */
const COMMON_VALUES = [
  "*",
  "0",
  "br",
  "gzip",
  "none",
  "DENY",
  "close",
  "bytes",
  "nginx",
  "Origin",
  "chunked",
  "deflate",
  "nosniff",
  "no-cache",
  "no-store",
  "identity",
  "text/html",
  "keep-alive",
  "text/plain",
  "SAMEORIGIN",
  "cloudflare",
  "Accept-Encoding",
  "application/json",
  "text/html; charset=utf-8",
  "text/plain; charset=utf-8",
  "application/json; charset=utf-8",
];

/** Groups strings by length, so a candidate is compared only with same-size strings. */
function byLength(strings: readonly string[]): readonly (readonly string[])[] {
  const table: string[][] = [];
  for (const string of strings) {
    while (table.length <= string.length) table.push([]);
    table[string.length].push(string);
  }
  return table;
}

/**
 * The chars of every string in `groups` (all below 0x80), one byte each, in one array, and
 * where each string starts in it, grouped alike. Comparing input bytes with a typed array is
 * faster than with `charCodeAt`, which checks the string's representation on every call.
 */
function charBytes(groups: readonly (readonly string[])[]): {
  bytes: Uint8Array;
  offsets: readonly (readonly number[])[];
} {
  const strings = groups.flat();
  const bytes = new Uint8Array(strings.reduce((sum, string) => sum + string.length, 0));
  let offset = 0;
  const offsets = groups.map((group) =>
    group.map((string) => {
      const start = offset;
      for (let i = 0; i < string.length; i++) bytes[offset++] = string.charCodeAt(i);
      return start;
    })
  );
  return { bytes, offsets };
}

const NAMES_BY_LENGTH = byLength(COMMON_NAMES);
const { bytes: NAME_BYTES, offsets: NAME_OFFSETS } = charBytes(NAMES_BY_LENGTH);
const VALUES_BY_LENGTH = byLength(COMMON_VALUES);
const { bytes: VALUE_BYTES, offsets: VALUE_OFFSETS } = charBytes(VALUES_BY_LENGTH);

/** Most arguments passed to one `String.fromCharCode.apply`, well under engine stack limits. */
const FROM_CHAR_CODE_BATCH = 4096;

/** Strings up to this length are built through a reusable argument array. */
const SHORT_STRING = 64;

/**
 * One reusable array of small integers per length up to {@linkcode SHORT_STRING}, for
 * `String.fromCharCode.apply`: V8 and JSC spread a packed array of small integers about twice
 * as fast as a typed array, and a fixed length per array keeps it packed (no `length` writes).
 */
const ARGS_BY_LENGTH: number[][] = (() => {
  const table: number[][] = [];
  for (let n = 0; n <= SHORT_STRING; n++) {
    const args: number[] = [];
    for (let i = 0; i < n; i++) args.push(0);
    table.push(args);
  }
  return table;
})();

/**
 * The bytes `buf[start, end)` as a string, one char per byte (ISO-8859-1, which is how field
 * values are exposed: RFC 9110 §5.5 obs-text). `TextDecoder("latin1")` would be wrong, as the
 * Encoding standard maps that label to windows-1252.
 */
function latin1(buf: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= SHORT_STRING) {
    const args = ARGS_BY_LENGTH[n];
    for (let i = 0; i < n; i++) args[i] = buf[start + i];
    return String.fromCharCode.apply(null, args);
  }
  if (n <= FROM_CHAR_CODE_BATCH) {
    // The typed array stands in for an argument list; engines accept any array-like.
    return String.fromCharCode.apply(null, buf.subarray(start, end) as unknown as number[]);
  }
  let result = "";
  for (let i = start; i < end; i += FROM_CHAR_CODE_BATCH) {
    const stop = Math.min(end, i + FROM_CHAR_CODE_BATCH);
    result += String.fromCharCode.apply(null, buf.subarray(i, stop) as unknown as number[]);
  }
  return result;
}

/**
 * The bytes `buf[start, end)` as a string: built by {@linkcode latin1} when `text` is null,
 * else cut from `text`, which then holds `buf` from index `base` on, at least up to `end`,
 * decoded one char per byte.
 */
function piece(
  buf: Uint8Array,
  start: number,
  end: number,
  text: string | null,
  base: number,
): string {
  return text === null ? latin1(buf, start, end) : text.substring(start - base, end - base);
}

/**
 * The entry of {@linkcode COMMON_NAMES} equal to the field name in `buf[start, end)` ignoring
 * case, or null. The name must already be a valid token.
 */
function commonName(buf: Uint8Array, start: number, end: number): string | null {
  const n = end - start;
  if (n < NAME_OFFSETS.length) {
    const offsets = NAME_OFFSETS[n];
    for (let k = 0; k < offsets.length; k++) {
      // The candidate's char for `buf[i]` is `NAME_BYTES[delta + i]`.
      const delta = offsets[k] - start;
      // `| 0x20` lowercases ASCII letters. It also maps some other bytes onto letters or "-"
      // (CR onto "-", for one), but `buf` holds a validated token here, and among tchars only
      // letters map onto letters and only "-" onto "-".
      let i = start;
      while (i < end && (buf[i] | 0x20) === NAME_BYTES[delta + i]) i++;
      if (i === end) return NAMES_BY_LENGTH[n][k];
    }
  }
  return null;
}

/** The entry of {@linkcode COMMON_VALUES} equal to the bytes `buf[start, end)`, or null. */
function commonValue(buf: Uint8Array, start: number, end: number): string | null {
  const n = end - start;
  if (n < VALUE_OFFSETS.length) {
    const offsets = VALUE_OFFSETS[n];
    for (let k = 0; k < offsets.length; k++) {
      const delta = offsets[k] - start;
      let i = start;
      while (i < end && buf[i] === VALUE_BYTES[delta + i]) i++;
      if (i === end) return VALUES_BY_LENGTH[n][k];
    }
  }
  return null;
}

/** The lowercased field name in `buf[start, end)`, which must already be a valid token. */
function fieldName(buf: Uint8Array, start: number, end: number): string {
  // RFC 9110 §5.1: field names are case-insensitive; we expose them lowercased, like Headers.
  return commonName(buf, start, end) ?? latin1(buf, start, end).toLowerCase();
}

/** The field value in `buf[start, end)` (non-empty, already validated) as a latin1 string. */
function fieldValue(buf: Uint8Array, start: number, end: number): string {
  return commonValue(buf, start, end) ?? latin1(buf, start, end);
}

/**
 * The reason phrase in `buf[start, end)` (the status line from the byte after the code's SP,
 * without CRLF) when it needs no string built: "" when empty, "OK"; else null.
 */
function knownReason(buf: Uint8Array, start: number, end: number): string | null {
  // The reason phrase is informational (RFC 9112 §4); "OK" is common enough to not allocate.
  return start >= end
    ? ""
    : end - start === 2 && buf[start] === 0x4f && buf[start + 1] === 0x4b
    ? "OK"
    : null;
}

/**
 * Decodes a whole head at once when it is all ASCII, where UTF-8 and latin1 agree: one call
 * and a `substring` per string beats a `String.fromCharCode` per string from a few strings on
 * (see {@linkcode DECODE_MIN_STRINGS}). Non-fatal: it only ever sees ASCII.
 */
const ASCII_DECODER = new TextDecoder();

/**
 * Fewest strings a head must need built (those not in the common tables) for one decode of it
 * to be cheaper than building them one by one: the decode costs about as much as building two
 * or three strings on Deno and Node, one on Bun. A small head, such as one with only
 * `content-length` and `content-type: text/plain`, needs a single string and skips it.
 */
const DECODE_MIN_STRINGS = 3;

/**
 * Set by {@linkcode findLineEnd} when it passes a byte above 0x7F (obs-text), which rules out
 * {@linkcode ASCII_DECODER} for the head being parsed. Cleared when a head starts; read when
 * it ends, in the same synchronous `execute` call, so no other parse can interleave.
 */
let sawObsText = false;

/**
 * Whether this is JavaScriptCore (Bun). A small Uint8Array there (a socket read's chunk is one)
 * keeps its bytes inside the object, without an ArrayBuffer; its first `.buffer` or `subarray`
 * allocates one and copies the bytes into it, about 0.3-0.5 µs. So on JSC the head cache
 * compares bytes rather than words of a view, and a small body that shares its chunk with the
 * head is handed on as a copy (`slice`, which makes a new small array and copies only the body)
 * rather than a view. Measured against nginx this saves about 0.5 µs per request on Bun; on V8
 * views are cheap and stay.
 */
const JSC = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
/** On JSC, bodies up to this many bytes that follow their head in a chunk are copied. */
const JSC_COPY_BELOW = 1024;

/** Heads longer than this are not cached (see `ResponseParser`'s head cache). */
const CACHE_MAX_BYTES = 2048;
/** The head cache's buffer is at least this long, so small growing heads do not reallocate. */
const CACHE_MIN_BYTES = 256;
/** Consecutive head cache misses after which not every head is stored any more. */
const CACHE_MISSES_BEFORE_BACKOFF = 4;
/** While backing off, one head in this many is stored. */
const CACHE_STORE_INTERVAL = 16;

/** Whether `a[aStart, aStart + n)` equals `b[bStart, bStart + n)`. */
function sameBytes(
  a: Uint8Array,
  aStart: number,
  b: Uint8Array,
  bStart: number,
  n: number,
): boolean {
  for (let i = 0; i < n; i++) {
    if (a[aStart + i] !== b[bStart + i]) return false;
  }
  return true;
}

/**
 * Whether `buf[start, start + n)` equals the first `n` bytes of the head cache (`bytes`, and
 * the same memory as `words`). Where `buf` is 4-byte aligned at `start` (a fresh read's chunk
 * is, at its start) it compares 32-bit words, about twice as fast on V8 as byte by byte.
 */
function sameHead(
  buf: Uint8Array,
  start: number,
  bytes: Uint8Array,
  words: Int32Array,
  n: number,
): boolean {
  const offset = buf.byteOffset + start;
  if (JSC || (offset & 3) !== 0 || n < 64) return sameBytes(buf, start, bytes, 0, n);
  const count = n >> 2;
  const view = new Int32Array(buf.buffer, offset, count);
  for (let i = 0; i < count; i++) {
    if (view[i] !== words[i]) return false;
  }
  const tail = count << 2;
  return sameBytes(buf, start + tail, bytes, tail, n - tail);
}

/** ERR_PROTOCOL with `message`. */
function protocolError(message: string): WirefetchError {
  return new WirefetchError("ERR_PROTOCOL", message);
}

/**
 * Finds the end of the line starting at `i`, checking that every byte before it may appear in a
 * status line or field value: HTAB, SP, VCHAR or obs-text (RFC 9112 §4 reason-phrase, RFC 9110
 * §5.5 field-vchar). Returns the index of the LF, or -1 when `limit` comes first.
 *
 * RFC 9112 §2.2: lines end with CRLF, and a recipient may accept a bare LF, which we do; a CR
 * anywhere else is a "bare CR", which we reject rather than replace by SP, since other
 * implementations might split the line there.
 */
function findLineEnd(buf: Uint8Array, i: number, limit: number, what: string): number {
  for (; i < limit; i++) {
    const c = buf[i];
    if (c > 0x1f && c < 0x7f) continue;
    if (c === 0x09) continue;
    if (c > 0x7f) {
      sawObsText = true;
      continue;
    }
    if (c === 0x0a) return i;
    if (c === 0x0d) {
      if (i + 1 === limit) return -1;
      if (buf[i + 1] === 0x0a) return i + 1;
      throw protocolError(`bare CR in ${what} (RFC 9112 §2.2)`);
    }
    throw protocolError(`invalid character 0x${c.toString(16).padStart(2, "0")} in ${what}`);
  }
  return -1;
}

/** The end of `buf[start, lineFeed)` without the line's CR and trailing OWS. */
function trimLineEnd(buf: Uint8Array, start: number, lineFeed: number): number {
  let end = lineFeed;
  if (end > start && buf[end - 1] === 0x0d) end--;
  while (end > start && (buf[end - 1] === 0x20 || buf[end - 1] === 0x09)) end--;
  return end;
}

/** The fixed start of every status line we accept: `HTTP/1.` (RFC 9112 §2.3 HTTP-version). */
const HTTP_1 = [0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e];

/**
 * Parses HTTP/1.x responses, one per {@linkcode ResponseParser.start} call.
 *
 * @example Parse a response delivered in two pieces
 * ```ts
 * import { type ResponseHead, ResponseParser } from "./response_parser.ts";
 *
 * const body: Uint8Array[] = [];
 * const parser = new ResponseParser({
 *   onInformational() {},
 *   onHead(head: ResponseHead) {
 *     console.log(head.status, head.framing); // 200 "length"
 *   },
 *   onBody(chunk: Uint8Array) {
 *     body.push(chunk.slice());
 *   },
 * }, 16 * 1024);
 * const bytes = new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
 * parser.start(false);
 * parser.execute(bytes.subarray(0, 20));
 * parser.execute(bytes.subarray(20));
 * console.log(parser.complete); // true
 * ```
 */
export class ResponseParser {
  readonly #handler: ResponseParserHandler;
  readonly #maxHeaderSize: number;
  #state = IDLE;
  #noBody = false;
  #started = false;
  #headDone = false;

  /** Bytes of the current head or trailer section in completed lines. */
  #sectionSize = 0;
  /** The start of a line cut by a chunk boundary; grown on demand, reused. */
  #line: Uint8Array = new Uint8Array(0);
  /** Bytes in {@linkcode #line}; 0 when no line is pending. */
  #lineLength = 0;

  #minorVersion = 1;
  #status = 0;
  #statusText = "";
  /** The field list being filled: head fields, then trailers (null until the first trailer). */
  #fields: string[] | null = null;
  #trailers: string[] = NO_TRAILERS;

  /**
   * Where the head being parsed started in the current chunk, while its strings are deferred,
   * else -1. A head's reason phrase and fields are first recorded as offsets into the chunk
   * ({@linkcode #spans}); if its empty line comes in the same chunk, the strings are then cut
   * from one decode of the head when it is all ASCII and needs enough of them built (see
   * {@linkcode #buildDeferred}). If the chunk ends first or an obs-fold line comes, they are
   * built from the offsets one by one, and the rest of the head eagerly.
   */
  #headStart = -1;
  /**
   * Deferred offsets: reason start and end, then start and end of each field name and value.
   * Reused from head to head. A plain array, not an Int32Array: offsets into a chunk of 2 GiB
   * or more do not fit 32 bits.
   */
  #spans: number[] = [];
  /** Entries used in {@linkcode #spans}. */
  #spanCount = 0;

  /**
   * The head cache: the bytes of the last final head that arrived whole in one chunk (status
   * line to empty line), in {@linkcode #cacheBytes}, and what parsing them gave. A keep-alive
   * server usually answers the same request with the same head bytes again (only `Date` changes,
   * once a second), and the same bytes parse to the same head: so a head that starts with the
   * cached bytes is taken from the cache after a comparison, with no string built. Only final
   * heads (1xx never) and only for the same `noBody`, which framing depends on. The head and
   * its field list are shared by every response that hits: the head is frozen, the list is read
   * only by convention (see {@linkcode ResponseHead.shared}).
   */
  #cacheHead: ResponseHead | null = null;
  #cacheBytes: Uint8Array | null = null;
  /** {@linkcode #cacheBytes} as 32-bit words, for {@linkcode sameHead}. */
  #cacheWords: Int32Array | null = null;
  #cacheLength = 0;
  /**
   * The cached head's {@linkcode #spans}, relative to its first byte: a head that differs from it
   * (a new `Date`, a request id) still takes the strings of every line that is the same, at the
   * same index, from the cached head (see {@linkcode #buildDeferred}).
   */
  #cacheSpans: number[] = [];
  #cacheSpanCount = 0;
  /** Whether the cached head had obs-text (see {@linkcode sawObsText}). */
  #cacheObsText = false;
  /**
   * Entries of {@linkcode #spans} (from the start) whose lines are the cached head's, taken
   * without parsing by {@linkcode #sharedLines}: their strings are the cached head's.
   */
  #sharedSpans = 0;
  #cacheNoBody = false;
  /** Consecutive cache misses; past {@linkcode CACHE_MISSES_BEFORE_BACKOFF}, stores thin out. */
  #cacheMisses = 0;

  /** Body bytes left: of the Content-Length body, or of the current chunk while in its data. */
  #remaining = 0;
  #contentLength = -1;
  #chunkLine = 0;
  #bodyBytes = 0;
  /** Small chunk data awaiting delivery at the end of `execute` (see {@linkcode #coalesce}). */
  #pendingStart = -1;
  #pendingEnd = -1;
  #pendingCopy: Uint8Array | null = null;
  #pendingLength = 0;

  /**
   * Creates a parser; call {@linkcode ResponseParser.start} before each response.
   *
   * @param handler Receives the parsed pieces.
   * @param maxHeaderSize The most bytes one head (status line, field lines and the empty line)
   * or one trailer section may have.
   *
   * @example
   * ```ts
   * import { ResponseParser } from "./response_parser.ts";
   * const parser = new ResponseParser({
   *   onInformational() {},
   *   onHead() {},
   *   onBody() {},
   * }, 16 * 1024);
   * parser.start(false);
   * ```
   */
  constructor(handler: ResponseParserHandler, maxHeaderSize: number) {
    if (!(maxHeaderSize > 0)) throw new RangeError(`invalid maxHeaderSize: ${maxHeaderSize}`);
    this.#handler = handler;
    this.#maxHeaderSize = maxHeaderSize;
  }

  /**
   * True once the final message (head, body and trailers) is complete.
   *
   * @example
   * ```ts
   * import { ResponseParser } from "./response_parser.ts";
   * const parser = new ResponseParser({ onInformational() {}, onHead() {}, onBody() {} }, 1024);
   * parser.start(false);
   * parser.execute(new TextEncoder().encode("HTTP/1.1 204 No Content\r\n\r\n"));
   * console.log(parser.complete); // true
   * ```
   */
  get complete(): boolean {
    return this.#state === COMPLETE;
  }

  /**
   * True once any byte of the current response (including a 1xx) arrived since start().
   *
   * @example
   * ```ts
   * import { ResponseParser } from "./response_parser.ts";
   * const parser = new ResponseParser({ onInformational() {}, onHead() {}, onBody() {} }, 1024);
   * parser.start(false);
   * parser.execute(new TextEncoder().encode("HTTP/1."));
   * console.log(parser.started); // true
   * ```
   */
  get started(): boolean {
    return this.#started;
  }

  /**
   * True once the final (non-1xx) head was delivered via onHead.
   *
   * @example
   * ```ts
   * import { ResponseParser } from "./response_parser.ts";
   * const parser = new ResponseParser({ onInformational() {}, onHead() {}, onBody() {} }, 1024);
   * parser.start(false);
   * parser.execute(new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"));
   * console.log(parser.headDone, parser.complete); // true false
   * ```
   */
  get headDone(): boolean {
    return this.#headDone;
  }

  /**
   * Trailers of a chunked body as flat pairs (names lowercased), or an empty array. A new array
   * per response that has trailers; otherwise a shared, frozen empty array.
   *
   * @example
   * ```ts
   * import { ResponseParser } from "./response_parser.ts";
   * const parser = new ResponseParser({ onInformational() {}, onHead() {}, onBody() {} }, 1024);
   * parser.start(false);
   * parser.execute(new TextEncoder().encode(
   *   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nDigest: x\r\n\r\n",
   * ));
   * console.log(parser.trailers); // ["digest", "x"]
   * ```
   */
  get trailers(): string[] {
    return this.#trailers;
  }

  /**
   * Bytes of body delivered so far for the current response.
   *
   * @example
   * ```ts
   * import { ResponseParser } from "./response_parser.ts";
   * const parser = new ResponseParser({ onInformational() {}, onHead() {}, onBody() {} }, 1024);
   * parser.start(false);
   * parser.execute(new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"));
   * console.log(parser.bodyBytes); // 2
   * ```
   */
  get bodyBytes(): number {
    return this.#bodyBytes;
  }

  /**
   * Prepares for the response to a new request, resetting all state.
   *
   * @param noBody True for HEAD requests: the response then has no body whatever its header
   * fields say (RFC 9112 §6.3 rule 1), though they are still parsed for keep-alive.
   *
   * @example
   * ```ts
   * import { ResponseParser } from "./response_parser.ts";
   * const parser = new ResponseParser({ onInformational() {}, onHead() {}, onBody() {} }, 1024);
   * parser.start(true);
   * parser.execute(new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"));
   * console.log(parser.complete); // true
   * ```
   */
  start(noBody: boolean): void {
    this.#state = STATUS_LINE;
    this.#noBody = noBody;
    this.#started = false;
    this.#headDone = false;
    this.#sectionSize = 0;
    this.#lineLength = 0;
    this.#minorVersion = 1;
    this.#status = 0;
    this.#statusText = "";
    this.#fields = null;
    this.#trailers = NO_TRAILERS;
    this.#headStart = -1;
    this.#remaining = 0;
    this.#contentLength = -1;
    this.#chunkLine = 0;
    this.#bodyBytes = 0;
    this.#pendingStart = -1;
    this.#pendingCopy = null;
  }

  /**
   * Feeds bytes. Stops consuming as soon as the message is complete, so a return value below
   * `chunk.length` after completion means unsolicited extra bytes; the caller decides what to
   * do with them. Before start() and after completion nothing is consumed.
   *
   * @param chunk The next bytes from the connection.
   * @returns The number of bytes consumed.
   * @throws {WirefetchError} `ERR_PROTOCOL` for any violation of RFC 9112, or
   * `ERR_HEADERS_TOO_LARGE` when a head or trailer section exceeds `maxHeaderSize`.
   *
   * @example
   * ```ts
   * import { ResponseParser } from "./response_parser.ts";
   * const parser = new ResponseParser({ onInformational() {}, onHead() {}, onBody() {} }, 1024);
   * parser.start(false);
   * const bytes = new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nextra");
   * console.log(parser.execute(bytes), bytes.length); // 38 43
   * ```
   */
  execute(chunk: Uint8Array): number {
    const length = chunk.length;
    if (this.#state === IDLE || this.#state === COMPLETE || length === 0) return 0;
    this.#started = true;
    let pos = 0;
    while (pos < length) {
      switch (this.#state) {
        case STATUS_LINE:
        case HEADERS:
          pos = this.#lines(chunk, pos);
          break;
        case TRAILERS:
          pos = this.#pendingStart === -1
            ? this.#lines(chunk, pos)
            : this.#framingAfterData(chunk, pos);
          break;
        case BODY_LENGTH:
        case CHUNK_DATA: {
          const remaining = this.#remaining;
          const end = length - pos > remaining ? pos + remaining : length;
          const n = end - pos;
          this.#remaining = remaining - n;
          this.#bodyBytes += n;
          if (this.#state === CHUNK_DATA && n < COALESCE_BELOW) {
            if (remaining === n) this.#state = CHUNK_DATA_CR;
            this.#coalesce(chunk, pos, end);
            pos = end;
            break;
          }
          if (remaining === n) this.#state = this.#state === BODY_LENGTH ? COMPLETE : CHUNK_DATA_CR;
          if (this.#pendingStart !== -1) this.#flushPending(chunk);
          // A view, not a copy; the whole chunk as is when it is all body (no subarray object).
          // On JSC a small piece is copied instead (see JSC).
          this.#handler.onBody(
            pos === 0 && end === length
              ? chunk
              : JSC && n < JSC_COPY_BELOW
              ? chunk.slice(pos, end)
              : chunk.subarray(pos, end),
          );
          pos = end;
          break;
        }
        case BODY_CLOSE:
          // RFC 9112 §6.3 rule 8: everything until the connection closes is body.
          this.#bodyBytes += length - pos;
          this.#handler.onBody(pos === 0 ? chunk : chunk.subarray(pos));
          pos = length;
          break;
        case COMPLETE:
          // RFC 9112 §9.3.1: the rest is not part of this response; the caller decides.
          if (this.#pendingStart !== -1) this.#flushPending(chunk);
          return pos;
        default:
          // Through a try, as #chunkFraming may collect small chunks (once per read for tiny
          // chunks, once per chunk for large ones).
          pos = this.#framingAfterData(chunk, pos);
      }
    }
    if (this.#pendingStart !== -1) this.#flushPending(chunk);
    return pos;
  }

  /**
   * Collects the data of a small chunk (RFC 9112 §7.1) for one `onBody` per `execute`: a body
   * of many tiny chunks then reaches the consumer as one piece per socket read, not one per
   * chunk (a stream chunk costs far more than copying a few bytes). The first piece is kept as
   * offsets; from the second on, pieces are copied into one buffer.
   */
  #coalesce(chunk: Uint8Array, start: number, end: number): void {
    const first = this.#pendingStart;
    if (first === -1) {
      this.#pendingStart = start;
      this.#pendingEnd = end;
      return;
    }
    let buffer = this.#pendingCopy;
    if (buffer === null) {
      // Every later body byte of this read fits: it comes from the rest of `chunk`.
      const firstLength = this.#pendingEnd - first;
      buffer = this.#pendingCopy = new Uint8Array(firstLength + chunk.length - start);
      buffer.set(chunk.subarray(first, this.#pendingEnd));
      this.#pendingLength = firstLength;
    }
    let at = this.#pendingLength;
    if (end - start <= 64) {
      // A few bytes: a loop beats creating a subarray to copy from.
      for (let i = start; i < end; i++) buffer[at++] = chunk[i];
    } else {
      buffer.set(chunk.subarray(start, end), at);
      at += end - start;
    }
    this.#pendingLength = at;
  }

  /**
   * Chunk framing or trailers after collected data: the data is delivered before a framing
   * error is thrown, as it would have been had the bytes come in separate reads.
   */
  #framingAfterData(chunk: Uint8Array, pos: number): number {
    try {
      return this.#state === TRAILERS ? this.#lines(chunk, pos) : this.#chunkFraming(chunk, pos);
    } catch (error) {
      if (this.#pendingStart !== -1) this.#flushPending(chunk);
      throw error;
    }
  }

  /** Delivers the small chunks collected by {@linkcode #coalesce} as one piece. */
  #flushPending(chunk: Uint8Array): void {
    const buffer = this.#pendingCopy;
    const piece = buffer === null
      ? chunk.subarray(this.#pendingStart, this.#pendingEnd)
      : buffer.subarray(0, this.#pendingLength);
    this.#pendingStart = -1;
    this.#pendingCopy = null;
    this.#handler.onBody(piece);
  }

  /**
   * Tells the parser the peer closed the connection (EOF). Completes a close-delimited body;
   * does nothing before start() or after completion.
   *
   * @throws {WirefetchError} `ERR_CONNECTION_CLOSED` if no byte of this response was seen,
   * `ERR_PROTOCOL` if the connection ended inside a head (or after a 1xx response, before the
   * final head), `ERR_BODY_TRUNCATED` if it ended inside the body.
   *
   * @example Complete a close-delimited body
   * ```ts
   * import { ResponseParser } from "./response_parser.ts";
   * const parser = new ResponseParser({ onInformational() {}, onHead() {}, onBody() {} }, 1024);
   * parser.start(false);
   * parser.execute(new TextEncoder().encode("HTTP/1.1 200 OK\r\n\r\nuntil EOF"));
   * parser.finish();
   * console.log(parser.complete); // true
   * ```
   */
  finish(): void {
    const state = this.#state;
    if (state === IDLE || state === COMPLETE) return;
    if (!this.#started) {
      throw new WirefetchError(
        "ERR_CONNECTION_CLOSED",
        "the server closed the connection before sending a response",
      );
    }
    if (state === BODY_CLOSE) {
      this.#state = COMPLETE;
      return;
    }
    if (!this.#headDone) {
      throw protocolError(
        state === STATUS_LINE && this.#lineLength === 0
          ? "the server closed the connection after a 1xx response, before the final response"
          : "the server closed the connection inside the response head",
      );
    }
    if (state === BODY_LENGTH) {
      throw new WirefetchError(
        "ERR_BODY_TRUNCATED",
        `the server closed the connection after ${this.#bodyBytes} of ` +
          `${this.#contentLength} body bytes (Content-Length)`,
      );
    }
    throw new WirefetchError(
      "ERR_BODY_TRUNCATED",
      `the server closed the connection inside a chunked body after ${this.#bodyBytes} ` +
        (state === TRAILERS ? "body bytes, in the trailers" : "body bytes, before the last chunk"),
    );
  }

  /**
   * Consumes complete head or trailer lines from `chunk[pos..]` while the state is line-based;
   * buffers a trailing partial line. Returns the new position.
   */
  #lines(chunk: Uint8Array, pos: number): number {
    const length = chunk.length;
    const max = this.#maxHeaderSize;
    // Offsets deferred by an earlier call that threw point into another chunk; forget them.
    this.#headStart = -1;
    if (this.#lineLength > 0) {
      // Complete the line cut by the previous chunk boundary: append up to and including the
      // LF, then parse it from the buffer. Only these few bytes are ever copied.
      const lineFeed = chunk.indexOf(0x0a, pos);
      const end = lineFeed === -1 ? length : lineFeed + 1;
      if (this.#sectionSize + this.#lineLength + (end - pos) > max) throw this.#tooLarge();
      this.#append(chunk, pos, end);
      if (lineFeed === -1) return length;
      const lineLength = this.#lineLength;
      this.#lineLength = 0;
      this.#parseLine(this.#line, 0, lineLength);
      pos = end;
    }
    while (pos < length) {
      const state = this.#state;
      if (state !== STATUS_LINE && state !== HEADERS && state !== TRAILERS) return pos;
      if (state === STATUS_LINE) {
        const c = chunk[pos];
        if (c === 0x0d || c === 0x0a) {
          pos = this.#skipEmptyLines(chunk, pos);
          continue;
        }
        const cached = this.#cacheHead;
        if (cached !== null && this.#cacheNoBody === this.#noBody) {
          const n = this.#cacheLength;
          if (
            length - pos >= n && this.#sectionSize + n <= max &&
            sameHead(chunk, pos, this.#cacheBytes!, this.#cacheWords!, n)
          ) {
            this.#cacheMisses = 0;
            this.#sectionSize += n;
            pos += n;
            this.#startBody(cached);
            continue;
          }
          this.#cacheMisses++;
        }
        // A head starts in this chunk: defer its strings, hoping it also ends here.
        this.#headStart = pos;
        this.#spanCount = 0;
        this.#sharedSpans = 0;
        sawObsText = false;
        if (cached !== null) {
          const shared = this.#sharedLines(chunk, pos);
          if (shared > 0) {
            pos += shared;
            continue;
          }
        }
      }
      // Never scan past the size limit: a line that does not end within it is too large.
      const allowed = max - this.#sectionSize;
      const limit = length - pos > allowed ? pos + allowed : length;
      const next = this.#parseLine(chunk, pos, limit);
      if (next === -1) {
        if (limit < length) throw this.#tooLarge();
        // The head goes on in the next chunk, a new buffer: build what is deferred from this one.
        if (this.#headStart !== -1) this.#buildDeferred(chunk, -1);
        this.#append(chunk, pos, length);
        return length;
      }
      pos = next;
    }
    if (this.#headStart !== -1) this.#buildDeferred(chunk, -1);
    return pos;
  }

  /**
   * RFC 9112 §2.2: a recipient should ignore empty lines (CRLF) before the status line, as
   * llhttp does; some servers send one after a body or between a 1xx and the final response.
   * They count towards the head's size limit, so an endless stream of them still ends.
   */
  #skipEmptyLines(chunk: Uint8Array, pos: number): number {
    const start = pos;
    const length = chunk.length;
    while (pos < length && (chunk[pos] === 0x0d || chunk[pos] === 0x0a)) pos++;
    this.#sectionSize += pos - start;
    if (this.#sectionSize > this.#maxHeaderSize) throw this.#tooLarge();
    return pos;
  }

  /** Parses one line in `buf[start, limit)`; returns the index after its LF, or -1. */
  #parseLine(buf: Uint8Array, start: number, limit: number): number {
    return this.#state === STATUS_LINE
      ? this.#statusLine(buf, start, limit)
      : this.#fieldLine(buf, start, limit);
  }

  /** RFC 9112 §4: `status-line = HTTP-version SP status-code SP [ reason-phrase ]`. */
  #statusLine(buf: Uint8Array, start: number, limit: number): number {
    // Fail fast on bytes that cannot start an HTTP/1.x status line (a TLS record, an HTTP/2
    // frame, an HTTP/0.9 body) instead of waiting for a line end that may never come.
    const prefix = Math.min(limit - start, HTTP_1.length);
    for (let k = 0; k < prefix; k++) {
      if (buf[start + k] !== HTTP_1[k]) throw this.#badStatusLine(buf, start, limit);
    }
    const lineFeed = findLineEnd(buf, start, limit, "status line");
    if (lineFeed === -1) return -1;
    const next = lineFeed + 1;
    this.#sectionSize += next - start;
    const end = lineFeed > start && buf[lineFeed - 1] === 0x0d ? lineFeed - 1 : lineFeed;
    // "HTTP/1.x" SP 3DIGIT, then nothing or SP reason-phrase. RFC 9112 §4 requires the second
    // SP, but it is commonly missing when the reason is empty, and nothing is ambiguous then.
    if (end - start < 12) throw this.#badStatusLine(buf, start, end);
    const minor = buf[start + 7] - 0x30;
    const d0 = buf[start + 9] - 0x30;
    const d1 = buf[start + 10] - 0x30;
    const d2 = buf[start + 11] - 0x30;
    if (
      minor < 0 || minor > 9 || buf[start + 8] !== 0x20 ||
      d0 < 0 || d0 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9 ||
      (end - start > 12 && buf[start + 12] !== 0x20)
    ) {
      throw this.#badStatusLine(buf, start, end);
    }
    const status = d0 * 100 + d1 * 10 + d2;
    // RFC 9110 §15: status codes are 100–599 in practice; 3 digits from 100 are well-formed.
    if (status < 100) throw this.#badStatusLine(buf, start, end);
    if (status === 101) {
      // We never send Upgrade, and after 101 the bytes are another protocol (RFC 9110 §15.2.2).
      throw protocolError("101 Switching Protocols is not supported");
    }
    // RFC 9110 §2.5: a higher HTTP/1.x minor version is understood as the highest we speak.
    this.#minorVersion = minor === 0 ? 0 : 1;
    this.#status = status;
    if (this.#headStart === -1) {
      this.#statusText = knownReason(buf, start + 13, end) ?? latin1(buf, start + 13, end);
    } else {
      this.#spans[0] = start + 13;
      this.#spans[1] = end;
      this.#spanCount = 2;
    }
    this.#fields = [];
    this.#state = HEADERS;
    return next;
  }

  /** RFC 9112 §5: `field-line = field-name ":" OWS field-value OWS`, or the empty line. */
  #fieldLine(buf: Uint8Array, start: number, limit: number): number {
    // The section is exactly maxHeaderSize bytes so far: no room for another byte.
    if (start === limit) return -1;
    let i = start;
    let c = buf[i];
    if (c === 0x0d || c === 0x0a) {
      // The empty line ending the section (RFC 9112 §2.1), CRLF or bare LF (§2.2).
      if (c === 0x0d) {
        if (i + 1 === limit) return -1;
        if (buf[i + 1] !== 0x0a) throw protocolError("bare CR in header section (RFC 9112 §2.2)");
        i++;
      }
      this.#sectionSize += i + 1 - start;
      const headStart = this.#headStart;
      if (headStart !== -1) this.#buildDeferred(buf, i + 1);
      this.#endSection(buf, headStart, i + 1);
      return i + 1;
    }
    if (c === 0x20 || c === 0x09) {
      // The fold joins strings: build the deferred ones first (obs-fold is rare; RFC 9112 §5.2).
      if (this.#headStart !== -1) this.#buildDeferred(buf, -1);
      return this.#obsFold(buf, start, limit);
    }
    // field-name = token (RFC 9110 §5.1).
    while (TCHAR[c] === 1) {
      if (++i === limit) return -1;
      c = buf[i];
    }
    if (c !== 0x3a) {
      if (c === 0x20 || c === 0x09) {
        // RFC 9112 §5.1: no whitespace is allowed between the field name and colon; a server
        // must reject such a request and a proxy must strip it, because implementations differ
        // on the name it denotes. We are the recipient, so we reject.
        throw protocolError("whitespace between header field name and colon (RFC 9112 §5.1)");
      }
      throw protocolError(
        i === start || c === 0x0d || c === 0x0a
          ? "header line without a field name and colon (RFC 9112 §5)"
          : `invalid character 0x${c.toString(16).padStart(2, "0")} in header field name`,
      );
    }
    if (i === start) throw protocolError("empty header field name (RFC 9110 §5.1)");
    const nameEnd = i;
    i++;
    // Leading OWS is not part of the value (RFC 9112 §5).
    while (i < limit && (buf[i] === 0x20 || buf[i] === 0x09)) i++;
    const valueStart = i;
    const lineFeed = findLineEnd(buf, i, limit, "header field value");
    if (lineFeed === -1) return -1;
    this.#sectionSize += lineFeed + 1 - start;
    const valueEnd = trimLineEnd(buf, valueStart, lineFeed);
    if (this.#headStart !== -1) {
      // Written in order from index 0, so the array only ever grows at its end and stays packed.
      const spans = this.#spans;
      const k = this.#spanCount;
      spans[k] = start;
      spans[k + 1] = nameEnd;
      spans[k + 2] = valueStart;
      spans[k + 3] = valueEnd;
      this.#spanCount = k + 4;
      return lineFeed + 1;
    }
    // #fields is null only in the trailer section before its first field.
    let fields = this.#fields;
    if (fields === null) this.#fields = this.#trailers = fields = [];
    fields.push(
      fieldName(buf, start, nameEnd),
      valueEnd > valueStart ? fieldValue(buf, valueStart, valueEnd) : "",
    );
    return lineFeed + 1;
  }

  /**
   * RFC 9112 §5.2: a line starting with SP or HTAB continues the previous field value
   * (obs-fold). A user agent must replace it with SP; we join the parts with one SP.
   */
  #obsFold(buf: Uint8Array, start: number, limit: number): number {
    const fields = this.#fields;
    if (fields === null || fields.length === 0) {
      // RFC 9112 §2.2: whitespace between the start line and the first field line could hide
      // a field from us that another implementation sees; reject the message.
      throw protocolError("whitespace before the first header field line (RFC 9112 §2.2)");
    }
    let i = start + 1;
    while (i < limit && (buf[i] === 0x20 || buf[i] === 0x09)) i++;
    const valueStart = i;
    const lineFeed = findLineEnd(buf, i, limit, "header field value");
    if (lineFeed === -1) return -1;
    this.#sectionSize += lineFeed + 1 - start;
    const valueEnd = trimLineEnd(buf, valueStart, lineFeed);
    if (valueEnd > valueStart) {
      const last = fields.length - 1;
      const continuation = latin1(buf, valueStart, valueEnd);
      fields[last] = fields[last] === "" ? continuation : fields[last] + " " + continuation;
    }
    return lineFeed + 1;
  }

  /**
   * Builds the deferred reason phrase and fields from their bytes in `buf`, the chunk the head
   * started in, and stops deferring. `end` is where the head ended in `buf`, or -1 if it goes on
   * in the next chunk. Strings in the common tables are taken from them, as without deferring;
   * the others are cut from one decode of the head if it is complete, all ASCII and needs
   * enough of them for that to pay off, else built one by one as without deferring. Substrings
   * may share the decoded head's memory, which is at most maxHeaderSize.
   */
  #buildDeferred(buf: Uint8Array, end: number): void {
    const base = this.#headStart;
    this.#headStart = -1;
    const count = this.#spanCount;
    // The status line did not end in this chunk: nothing was deferred.
    if (count === 0) return;
    const spans = this.#spans;
    // First every string that needs no building, null in place of the others, counted: those of
    // lines that are the same as the cached head's line at the same index, and those in the
    // common tables. #fields is still empty (deferred lines add nothing): the pushes line up
    // with the spans.
    const cached = this.#cacheHead;
    const cacheBytes = this.#cacheBytes!;
    const cacheSpans = this.#cacheSpans;
    const cacheCount = cached === null ? 0 : this.#cacheSpanCount;
    const shared = this.#sharedSpans;
    let reason = knownReason(buf, spans[0], spans[1]);
    if (
      reason === null && cacheCount > 0 &&
      (shared > 0 || spans[1] - spans[0] === cacheSpans[1] - cacheSpans[0] &&
          sameBytes(buf, spans[0], cacheBytes, cacheSpans[0], spans[1] - spans[0]))
    ) {
      reason = cached!.statusText;
    }
    let missing = 0;
    const fields = this.#fields as (string | null)[];
    for (let k = 2; k < count; k += 4) {
      const start = spans[k];
      const valueStart = spans[k + 2];
      const valueEnd = spans[k + 3];
      if (k < cacheCount) {
        // Taken as the cached head's by #sharedLines, or the same name length, the same OWS
        // before the value, the same value length, and then the same bytes: the same strings.
        const cachedStart = cacheSpans[k];
        if (
          k < shared ||
          spans[k + 1] - start === cacheSpans[k + 1] - cachedStart &&
            valueStart - start === cacheSpans[k + 2] - cachedStart &&
            valueEnd - valueStart === cacheSpans[k + 3] - cacheSpans[k + 2] &&
            sameBytes(buf, start, cacheBytes, cachedStart, valueEnd - start)
        ) {
          const f = (k - 2) >> 1;
          fields.push(cached!.headers[f], cached!.headers[f + 1]);
          continue;
        }
      }
      const name = commonName(buf, start, spans[k + 1]);
      const value = valueEnd > valueStart ? commonValue(buf, valueStart, valueEnd) : "";
      if (name === null) missing++;
      if (value === null) missing++;
      fields.push(name, value);
    }
    const text =
      end !== -1 && missing + (reason === null ? 1 : 0) >= DECODE_MIN_STRINGS && !sawObsText
        ? ASCII_DECODER.decode(buf.subarray(base, end))
        : null;
    this.#statusText = reason ?? piece(buf, spans[0], spans[1], text, base);
    for (let k = 2, f = 0; missing > 0 && k < count; k += 4, f += 2) {
      if (fields[f] === null) {
        // RFC 9110 §5.1: field names are case-insensitive; we expose them lowercased.
        fields[f] = piece(buf, spans[k], spans[k + 1], text, base).toLowerCase();
        missing--;
      }
      if (fields[f + 1] === null) {
        fields[f + 1] = piece(buf, spans[k + 2], spans[k + 3], text, base);
        missing--;
      }
    }
  }

  /**
   * The empty line after a head or the trailers was parsed. A final head that was all in `buf`
   * from `headStart` (else -1) to `end` may go into the head cache.
   */
  #endSection(buf: Uint8Array, headStart: number, end: number): void {
    const fields = this.#fields ?? NO_TRAILERS;
    this.#fields = null;
    if (this.#state === TRAILERS) {
      // RFC 9112 §7.1: the trailer section ends the chunked body, and the message.
      this.#state = COMPLETE;
      return;
    }
    const status = this.#status;
    if (status < 200) {
      // RFC 9110 §15.2: a 1xx is interim; the final response follows on the same connection,
      // with its own head (and its own maxHeaderSize budget).
      this.#state = STATUS_LINE;
      this.#sectionSize = 0;
      this.#handler.onInformational(status, fields);
      return;
    }
    const head: ResponseHead = {
      minorVersion: this.#minorVersion,
      status,
      statusText: this.#statusText,
      headers: fields,
      framing: "none",
      contentLength: -1,
      keepAlive: false,
      keepAliveTimeoutMs: -1,
      keepAliveMax: -1,
      shared: false,
    };
    decideFraming(head.minorVersion, status, this.#noBody, fields, head);
    if (headStart !== -1) this.#store(head, buf, headStart, end);
    this.#startBody(head);
  }

  /**
   * On a head cache miss, the status line and field lines at the start of the head in `buf` from
   * `start` that are byte for byte those of the cached head (say all but a changed `Date` and the
   * lines after it) are taken without parsing: what parsing them gave is in the cached head and
   * its spans. Only whole lines followed by another field line count, so the empty line, and
   * with it the framing decision, is always parsed. Returns the bytes taken (0 for none), after
   * which the parser is in the field lines as if it had parsed them.
   */
  #sharedLines(buf: Uint8Array, start: number): number {
    const bytes = this.#cacheBytes!;
    const n = Math.min(this.#cacheLength, buf.length - start);
    let same = 0;
    while (same < n && buf[start + same] === bytes[same]) same++;
    // The start of field line i is cacheSpans[2 + 4i]: the lines before the last one starting
    // within the equal bytes are whole (their LF is the byte before it).
    const spans = this.#cacheSpans;
    const count = this.#cacheSpanCount;
    let end = 0;
    let k = 2;
    for (; k < count && spans[k] <= same; k += 4) end = spans[k];
    // k - 4 is the span entry of the first line not taken.
    const taken = k - 4;
    if (end === 0 || this.#sectionSize + end > this.#maxHeaderSize) return 0;
    const cached = this.#cacheHead!;
    this.#minorVersion = cached.minorVersion;
    this.#status = cached.status;
    this.#fields = [];
    this.#state = HEADERS;
    this.#sectionSize += end;
    const own = this.#spans;
    for (let i = 0; i < taken; i++) own[i] = spans[i] + start;
    this.#spanCount = this.#sharedSpans = taken;
    if (this.#cacheObsText) sawObsText = true;
    return end;
  }

  /**
   * Puts a final head parsed from `buf[start, end)` into the head cache (see
   * {@linkcode #cacheHead}). While heads keep differing, only every
   * {@linkcode CACHE_STORE_INTERVAL}th is stored, so a server whose heads always differ (a
   * request id, a cookie) costs little more than the comparison that fails.
   */
  #store(head: ResponseHead, buf: Uint8Array, start: number, end: number): void {
    const misses = this.#cacheMisses;
    if (misses > CACHE_MISSES_BEFORE_BACKOFF && misses % CACHE_STORE_INTERVAL !== 0) return;
    const n = end - start;
    if (n > CACHE_MAX_BYTES) return;
    let bytes = this.#cacheBytes;
    if (bytes === null || bytes.length < n) {
      // A whole number of 32-bit words, for #cacheWords.
      bytes = this.#cacheBytes = new Uint8Array((Math.max(n, CACHE_MIN_BYTES) + 3) & ~3);
      this.#cacheWords = new Int32Array(bytes.buffer);
    }
    for (let i = 0; i < n; i++) bytes[i] = buf[start + i];
    // The spans of this head, whose strings #buildDeferred just built (a cached head always was
    // deferred: it is whole in `buf`, with no obs-fold, so its field k is its line k).
    const spans = this.#spans;
    const cacheSpans = this.#cacheSpans;
    const count = this.#spanCount;
    for (let k = 0; k < count; k++) cacheSpans[k] = spans[k] - start;
    this.#cacheSpanCount = count;
    this.#cacheObsText = sawObsText;
    head.shared = true;
    this.#cacheHead = Object.freeze(head);
    this.#cacheLength = n;
    this.#cacheNoBody = this.#noBody;
  }

  /** Enters the body of the final response `head` and reports the head. */
  #startBody(head: ResponseHead): void {
    const framing = head.framing;
    this.#contentLength = head.contentLength;
    if (framing === "length") {
      this.#remaining = head.contentLength;
      this.#state = head.contentLength === 0 ? COMPLETE : BODY_LENGTH;
    } else if (framing === "chunked") {
      this.#state = CHUNK_SIZE_START;
      this.#chunkLine = 0;
    } else if (framing === "close") {
      this.#state = BODY_CLOSE;
    } else {
      this.#state = COMPLETE;
    }
    this.#headDone = true;
    this.#handler.onHead(head);
  }

  /**
   * Consumes chunked framing (RFC 9112 §7.1) from `chunk[pos..]`: the chunk-size line with
   * optional extensions, and the CRLF after chunk data. Returns the new position; stops when
   * chunk data or the trailer section starts.
   */
  #chunkFraming(chunk: Uint8Array, pos: number): number {
    const length = chunk.length;
    // Locals, not fields, in this per-byte loop; written back before leaving.
    let state = this.#state;
    let size = this.#remaining;
    let line = this.#chunkLine;
    while (pos < length) {
      const c = chunk[pos++];
      switch (state) {
        case CHUNK_SIZE: {
          const digit = HEX_VALUE[c];
          if (digit >= 0) {
            size = size * 16 + digit;
            // Sizes beyond 2^53-1 cannot be counted exactly, so we cannot delimit the chunk.
            if (size > Number.MAX_SAFE_INTEGER) throw protocolError("chunk size too large");
            break;
          }
          // chunk = chunk-size [ chunk-ext ] CRLF (RFC 9112 §7.1), and chunk-ext allows BWS
          // before ";" (RFC 9112 §7.1.1).
          if (c === 0x0d) state = CHUNK_SIZE_LF;
          else if (c === 0x0a) {
            if (this.#takeSmallChunk(chunk, pos, size)) {
              pos += size;
              state = CHUNK_DATA_CR;
              continue;
            }
            return this.#chunkSizeDone(pos, size);
          } else if (c === 0x3b) state = CHUNK_EXT;
          else if (c === 0x20 || c === 0x09) state = CHUNK_SIZE_BWS;
          else throw protocolError("invalid chunk size (RFC 9112 §7.1)");
          break;
        }
        case CHUNK_SIZE_START: {
          // chunk-size = 1*HEXDIG: an empty size is invalid.
          const digit = HEX_VALUE[c];
          if (digit < 0) throw protocolError("invalid chunk size (RFC 9112 §7.1)");
          size = digit;
          line = 0;
          state = CHUNK_SIZE;
          break;
        }
        case CHUNK_SIZE_BWS:
          // BWS is only allowed before a chunk extension.
          if (c === 0x3b) state = CHUNK_EXT;
          else if (c !== 0x20 && c !== 0x09) {
            throw protocolError("invalid chunk size line (RFC 9112 §7.1.1)");
          }
          break;
        case CHUNK_EXT:
          // Extensions are ignored (RFC 9112 §7.1.1), but may not smuggle CTLs or bare CRs.
          if (c === 0x0d) state = CHUNK_SIZE_LF;
          else if (c === 0x0a) {
            if (this.#takeSmallChunk(chunk, pos, size)) {
              pos += size;
              state = CHUNK_DATA_CR;
              continue;
            }
            return this.#chunkSizeDone(pos, size);
          } else if ((c < 0x20 && c !== 0x09) || c === 0x7f) {
            throw protocolError(
              `invalid character 0x${c.toString(16).padStart(2, "0")} in chunk extension`,
            );
          }
          break;
        case CHUNK_SIZE_LF:
          if (c !== 0x0a) throw protocolError("bare CR in chunk size line (RFC 9112 §2.2)");
          if (this.#takeSmallChunk(chunk, pos, size)) {
            pos += size;
            state = CHUNK_DATA_CR;
            continue;
          }
          return this.#chunkSizeDone(pos, size);
        case CHUNK_DATA_CR:
          // RFC 9112 §7.1: chunk-data is followed by CRLF (a bare LF per §2.2); anything else
          // means the chunk size was wrong, so the rest of the body cannot be trusted.
          if (c === 0x0d) state = CHUNK_DATA_LF;
          else if (c === 0x0a) state = CHUNK_SIZE_START;
          else throw protocolError("missing CRLF after chunk data (RFC 9112 §7.1)");
          continue;
        case CHUNK_DATA_LF:
          if (c !== 0x0a) throw protocolError("bare CR after chunk data (RFC 9112 §2.2)");
          state = CHUNK_SIZE_START;
          continue;
      }
      // Only chunk-size line bytes get here.
      if (++line > MAX_CHUNK_LINE) {
        throw protocolError(`chunk size line longer than ${MAX_CHUNK_LINE} bytes`);
      }
    }
    this.#state = state;
    this.#remaining = size;
    this.#chunkLine = line;
    return pos;
  }

  /**
   * A small chunk whose data is all in `chunk` from `pos`: collected (see {@linkcode #coalesce})
   * without leaving the framing loop. Returns false when the data must go through `execute`.
   */
  #takeSmallChunk(chunk: Uint8Array, pos: number, size: number): boolean {
    if (size === 0 || size >= COALESCE_BELOW || chunk.length - pos < size) return false;
    this.#bodyBytes += size;
    this.#coalesce(chunk, pos, pos + size);
    return true;
  }

  /** The chunk-size line ended at `pos`: go to its data, or to the trailers after `0`. */
  #chunkSizeDone(pos: number, size: number): number {
    this.#remaining = size;
    if (size === 0) {
      // last-chunk: the trailer section follows (RFC 9112 §7.1.2), bounded like a head.
      this.#state = TRAILERS;
      this.#sectionSize = 0;
      this.#fields = null;
    } else {
      this.#state = CHUNK_DATA;
    }
    return pos;
  }

  /** Appends `chunk[from, to)` to the pending line buffer. */
  #append(chunk: Uint8Array, from: number, to: number): void {
    const needed = this.#lineLength + (to - from);
    if (needed > this.#line.length) {
      const grown = new Uint8Array(
        Math.max(needed, Math.min(this.#line.length * 2 || 256, this.#maxHeaderSize)),
      );
      grown.set(this.#line.subarray(0, this.#lineLength));
      this.#line = grown;
    }
    this.#line.set(chunk.subarray(from, to), this.#lineLength);
    this.#lineLength = needed;
  }

  #tooLarge(): WirefetchError {
    return new WirefetchError(
      "ERR_HEADERS_TOO_LARGE",
      `response ${
        this.#state === TRAILERS ? "trailers" : "head"
      } larger than ${this.#maxHeaderSize} bytes`,
    );
  }

  #badStatusLine(buf: Uint8Array, start: number, end: number): WirefetchError {
    const shown = Math.min(end, start + 40);
    let text = "";
    for (let i = start; i < shown; i++) {
      const c = buf[i];
      text += c >= 0x20 && c < 0x7f
        ? String.fromCharCode(c)
        : `\\x${c.toString(16).padStart(2, "0")}`;
    }
    return protocolError(`invalid status line "${text}${end > shown ? "…" : ""}" (RFC 9112 §4)`);
  }
}
