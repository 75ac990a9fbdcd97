import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WirefetchError } from "../../src/errors.ts";
import { type ResponseHead, ResponseParser } from "../../src/h1/response_parser.ts";

/** One byte per char: lets tests write raw bytes such as "\xe9" or "\x00" in strings. */
function bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

function latin1(data: Uint8Array): string {
  let text = "";
  for (const byte of data) text += String.fromCharCode(byte);
  return text;
}

interface Options {
  /** Request was HEAD. */
  noBody?: boolean;
  maxHeaderSize?: number;
  /** Call finish() after the last piece (the peer closed the connection). */
  eof?: boolean;
}

/** Everything observable about one parse, comparable across ways of splitting the input. */
interface Outcome {
  informational: [number, string[]][];
  head: ResponseHead | null;
  body: string;
  trailers: string[];
  complete: boolean;
  headDone: boolean;
  bodyBytes: number;
  /** Bytes the parser did not consume after completing. */
  leftover: string;
  error: string | null;
}

const IS_BUN = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

/** Feeds `input` cut at `cuts` (each piece in its own buffer) and records the outcome. */
function run(input: Uint8Array, cuts: readonly number[], options: Options): Outcome {
  const outcome: Outcome = {
    informational: [],
    head: null,
    body: "",
    trailers: [],
    complete: false,
    headDone: false,
    bodyBytes: 0,
    leftover: "",
    error: null,
  };
  let current = new Uint8Array(0);
  const parser = new ResponseParser({
    onInformational(status, headers) {
      outcome.informational.push([status, headers]);
    },
    onHead(head) {
      assert.equal(outcome.head, null, "onHead called twice");
      // Whether the head is the parser's shared cached one depends on how the input was split
      // (only a head whole in one chunk is cached): tests/h1/head_cache_test.ts covers it.
      const { shared: _shared, ...parsed } = head;
      outcome.head = parsed as ResponseHead;
    },
    onBody(chunk) {
      assert.ok(chunk.length > 0, "onBody called with an empty chunk");
      // A view of the input, except small chunks collected into one piece (one copy), and on
      // Bun a small body that shares its chunk with the head (one copy, see the test below).
      const copyAllowed = (outcome.head?.framing === "chunked" && chunk.length < 8192) ||
        (IS_BUN && chunk.length < 1024);
      if (!copyAllowed) {
        assert.equal(chunk.buffer, current.buffer, "onBody got a copy, not a view of the input");
      }
      outcome.body += latin1(chunk);
    },
  }, options.maxHeaderSize ?? 8192);
  parser.start(options.noBody ?? false);
  const bounds = [0, ...cuts, input.length];
  try {
    for (let k = 0; k + 1 < bounds.length; k++) {
      current = input.slice(bounds[k], bounds[k + 1]);
      const consumed = parser.execute(current);
      if (consumed < current.length) {
        assert.ok(parser.complete, "bytes left unconsumed before the message was complete");
        const rest = current.subarray(consumed);
        outcome.leftover = latin1(rest) + latin1(input.subarray(bounds[k + 1]));
        // Once complete, nothing more is consumed.
        assert.equal(parser.execute(rest), 0);
        break;
      }
    }
    if (options.eof) parser.finish();
  } catch (error) {
    if (!(error instanceof WirefetchError)) throw error;
    outcome.error = error.code;
  }
  outcome.complete = parser.complete;
  outcome.headDone = parser.headDone;
  outcome.bodyBytes = parser.bodyBytes;
  outcome.trailers = parser.trailers;
  return outcome;
}

/** Inputs up to this size are also fed split at every pair of points. */
const PAIR_SPLIT_LIMIT = 160;

/**
 * Parses `text` whole, one byte at a time, and split at every point (every pair of points for
 * small inputs), asserts all outcomes are identical, and returns it.
 */
function parse(text: string | Uint8Array, options: Options = {}): Outcome {
  const input = typeof text === "string" ? bytes(text) : text;
  const n = input.length;
  const whole = run(input, [], options);
  const byteCuts: number[] = [];
  for (let i = 1; i < n; i++) byteCuts.push(i);
  assert.deepEqual(run(input, byteCuts, options), whole, "byte at a time differs from whole");
  for (let i = 1; i < n; i++) {
    if (n <= PAIR_SPLIT_LIMIT) {
      for (let j = i; j < n; j++) {
        const cuts = i === j ? [i] : [i, j];
        assert.deepEqual(run(input, cuts, options), whole, `split at ${cuts} differs from whole`);
      }
    } else {
      assert.deepEqual(run(input, [i], options), whole, `split at ${i} differs from whole`);
    }
  }
  return whole;
}

/** Parses like {@linkcode parse} and asserts the error code. */
function parseError(text: string | Uint8Array, code: string, options: Options = {}): Outcome {
  const outcome = parse(text, options);
  assert.equal(outcome.error, code);
  return outcome;
}

/** The error a single whole-input parse throws, for message checks. */
function errorOf(text: string, options: Options = {}): WirefetchError {
  const parser = new ResponseParser(
    { onInformational() {}, onHead() {}, onBody() {} },
    options.maxHeaderSize ?? 8192,
  );
  parser.start(options.noBody ?? false);
  try {
    parser.execute(bytes(text));
    if (options.eof) parser.finish();
  } catch (error) {
    assert.ok(error instanceof WirefetchError);
    return error;
  }
  assert.fail("no error thrown");
}

describe("ResponseParser status line", () => {
  it("parses an HTTP/1.1 response with Content-Length", () => {
    const outcome = parse(
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert.deepEqual(outcome.head, {
      minorVersion: 1,
      status: 200,
      statusText: "OK",
      headers: ["content-type", "text/plain", "content-length", "5"],
      framing: "length",
      contentLength: 5,
      keepAlive: true,
      keepAliveTimeoutMs: -1,
      keepAliveMax: -1,
    });
    assert.equal(outcome.body, "hello");
    assert.equal(outcome.complete, true);
    assert.equal(outcome.bodyBytes, 5);
    assert.equal(outcome.error, null);
  });

  it("parses HTTP/1.0 as minor version 0", () => {
    const outcome = parse("HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    assert.equal(outcome.head?.minorVersion, 0);
    assert.equal(outcome.head?.status, 404);
    assert.equal(outcome.head?.statusText, "Not Found");
  });

  it("treats a higher HTTP/1.x minor version as 1.1", () => {
    const outcome = parse("HTTP/1.7 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert.equal(outcome.head?.minorVersion, 1);
    assert.equal(outcome.head?.keepAlive, true);
  });

  it("accepts a missing reason phrase with or without the trailing space", () => {
    assert.equal(parse("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").head?.statusText, "");
    assert.equal(parse("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n").head?.statusText, "");
  });

  it("keeps spaces and obs-text in the reason phrase", () => {
    const outcome = parse("HTTP/1.1 418 I'm a\tteapot \xe9\r\nContent-Length: 0\r\n\r\n");
    assert.equal(outcome.head?.statusText, "I'm a\tteapot \u00e9");
  });

  it("accepts status codes up to 999", () => {
    assert.equal(parse("HTTP/1.1 999 Odd\r\nContent-Length: 0\r\n\r\n").head?.status, 999);
  });

  for (
    const line of [
      "HTTP/2 200 OK",
      "HTTP/2.0 200 OK",
      "HTTP/0.9 200 OK",
      "HTTP/1.1 20 OK",
      "HTTP/1.1 099 Low",
      "HTTP/1.1 000",
      "HTTP/1.1 2000 OK",
      "HTTP/1.1 200OK",
      "HTTP/1.1  200 OK",
      "HTTP/1.10 200 OK",
      "HTTP/1.x 200 OK",
      "http/1.1 200 OK",
      "ICY 200 OK",
      "HTTP/1.1 2a0 OK",
      "HTTP/1.1",
      "<html>",
      "",
    ]
  ) {
    it(`rejects the status line ${JSON.stringify(line)}`, () => {
      parseError(`${line}\r\nContent-Length: 0\r\n\r\n`, "ERR_PROTOCOL");
    });
  }

  it("rejects control characters in the reason phrase", () => {
    parseError("HTTP/1.1 200 O\x00K\r\n\r\n", "ERR_PROTOCOL");
    parseError("HTTP/1.1 200 O\x7fK\r\n\r\n", "ERR_PROTOCOL");
  });

  it("fails on non-HTTP bytes without waiting for a line end", () => {
    const parser = new ResponseParser({ onInformational() {}, onHead() {}, onBody() {} }, 8192);
    parser.start(false);
    assert.throws(
      () => parser.execute(bytes("\x16\x03\x01\x00")),
      (error) => error instanceof WirefetchError && error.code === "ERR_PROTOCOL",
    );
  });

  it("names the bad status line in the error", () => {
    assert.match(errorOf("HTTP/1.1 2000 OK\r\n\r\n").message, /HTTP\/1\.1 2000 OK/);
  });
});

describe("ResponseParser header fields", () => {
  it("lowercases names, trims values and keeps order and duplicates", () => {
    const outcome = parse(
      "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-Custom-HEADER:  spaced \t \r\nset-cookie:b=2\r\n" +
        "CoNtEnT-TyPe:text/html\r\nX-Empty:\r\nX-Blank:   \r\nContent-Length: 0\r\n\r\n",
    );
    assert.deepEqual(outcome.head?.headers, [
      "set-cookie",
      "a=1",
      "x-custom-header",
      "spaced",
      "set-cookie",
      "b=2",
      "content-type",
      "text/html",
      "x-empty",
      "",
      "x-blank",
      "",
      "content-length",
      "0",
    ]);
  });

  it("keeps HTAB and inner whitespace inside values", () => {
    const outcome = parse("HTTP/1.1 200 OK\r\nX-A: a \t b\r\nContent-Length: 0\r\n\r\n");
    assert.deepEqual(outcome.head?.headers.slice(0, 2), ["x-a", "a \t b"]);
  });

  it("decodes bytes 0x80-0xFF as latin1, one char per byte", () => {
    const outcome = parse(
      "HTTP/1.1 200 OK\r\nX-Name: caf\xe9 \x80\x9f\xff\r\nContent-Length: 0\r\n\r\n",
    );
    // Not windows-1252: 0x80 stays U+0080 rather than becoming the euro sign.
    assert.equal(outcome.head?.headers[1], "caf\u00e9 \u0080\u009f\u00ff");
  });

  it("builds long values correctly", () => {
    const value = "v".repeat(10_000) + "\xe9" + "w".repeat(5_000);
    const outcome = run(
      bytes(`HTTP/1.1 200 OK\r\nX-Long: ${value}\r\nContent-Length: 0\r\n\r\n`),
      [],
      { maxHeaderSize: 20_000 },
    );
    assert.equal(outcome.head?.headers[1], value);
  });

  it("replaces obs-fold with a single space", () => {
    const outcome = parse(
      "HTTP/1.1 200 OK\r\nX-Folded: a\r\n   b  \r\n\tc\r\nX-Empty:\r\n d\r\nContent-Length: 0\r\n\r\n",
    );
    assert.deepEqual(outcome.head?.headers, [
      "x-folded",
      "a b c",
      "x-empty",
      "d",
      "content-length",
      "0",
    ]);
  });

  it("uses a folded Content-Length for framing", () => {
    const outcome = parse("HTTP/1.1 200 OK\r\nContent-Length:\r\n 3\r\n\r\nabc");
    assert.equal(outcome.head?.contentLength, 3);
    assert.equal(outcome.body, "abc");
  });

  it("builds the same strings from one decode of a whole ASCII head as field by field", () => {
    // A head that arrives whole and all ASCII has its strings cut from one decode of it; a
    // split head, or one with obs-text, has them built field by field. parse() compares whole
    // with split input; this also compares heads differing in one byte above 0x7F, each side
    // of a 1xx, with many fields, a long value, uncommon and mixed-case names, and a reason
    // phrase with whitespace inside and at both ends, which is kept.
    const many: string[] = [];
    for (let i = 0; i < 40; i++) many.push(`X-Field-${i}`, `value ${i}`);
    const long = "v".repeat(5_000);
    const input = (early: string, last: string) =>
      `HTTP/1.1 103 Early Hints\r\nLink: </${early}>; rel=preload\r\n\r\n` +
      "HTTP/1.1 203  Non-Authoritative\tInformation \r\nContent-Type: text/plain\r\n" +
      `CONTENT-LENGTH: 2\r\nETag:  "x"\r\nX-Empty:\r\nX-Long: ${long}\r\n` +
      many.map((field, i) => i % 2 === 0 ? `${field}:` : ` ${field} \r\n`).join("") +
      `X-Last: ${last}\r\n\r\nhi`;
    const options = { maxHeaderSize: 8_192 };
    const ascii = parse(input("a", "e"), options);
    assert.deepEqual(ascii.informational, [[103, ["link", "</a>; rel=preload"]]]);
    assert.deepEqual(ascii.head, {
      minorVersion: 1,
      status: 203,
      statusText: " Non-Authoritative\tInformation ",
      headers: [
        "content-type",
        "text/plain",
        "content-length",
        "2",
        "etag",
        '"x"',
        "x-empty",
        "",
        "x-long",
        long,
        ...many.map((field, i) => i % 2 === 0 ? field.toLowerCase() : field),
        "x-last",
        "e",
      ],
      framing: "length",
      contentLength: 2,
      keepAlive: true,
      keepAliveTimeoutMs: -1,
      keepAliveMax: -1,
    });
    assert.equal(ascii.body, "hi");
    assert.equal(ascii.complete, true);

    const lastLatin1 = parse(input("a", "\xe9"), options);
    assert.deepEqual(lastLatin1.head?.headers.at(-1), "\u00e9");
    lastLatin1.head?.headers.splice(-1, 1, "e");
    assert.deepEqual(lastLatin1, ascii);

    const earlyLatin1 = parse(input("\x80", "e"), options);
    assert.deepEqual(earlyLatin1.informational, [[103, ["link", "</\u0080>; rel=preload"]]]);
    earlyLatin1.informational = ascii.informational;
    assert.deepEqual(earlyLatin1, ascii);
  });

  it("rejects whitespace before the first header line", () => {
    parseError("HTTP/1.1 200 OK\r\n X-A: b\r\nContent-Length: 0\r\n\r\n", "ERR_PROTOCOL");
    parseError("HTTP/1.1 200 OK\r\n\tX-A: b\r\nContent-Length: 0\r\n\r\n", "ERR_PROTOCOL");
  });

  it("rejects whitespace between the field name and the colon", () => {
    parseError("HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n", "ERR_PROTOCOL");
    parseError("HTTP/1.1 200 OK\r\nContent-Length\t: 0\r\n\r\n", "ERR_PROTOCOL");
    assert.match(errorOf("HTTP/1.1 200 OK\r\nA : b\r\n\r\n").message, /colon/);
  });

  for (
    const [label, line] of [
      ["an empty name", ": value"],
      ["no colon", "X-No-Colon"],
      ["a space inside the name", "X Bad: value"],
      ["a non-token name", "X(bad): value"],
      ["a non-ASCII name", "X-\xe9: value"],
      ["a NUL in the value", "X-A: a\x00b"],
      ["a DEL in the value", "X-A: a\x7fb"],
      ["a control character in the value", "X-A: a\x01b"],
      ["a vertical tab in the value", "X-A: a\x0bb"],
    ]
  ) {
    it(`rejects a header line with ${label}`, () => {
      parseError(`HTTP/1.1 200 OK\r\n${line}\r\nContent-Length: 0\r\n\r\n`, "ERR_PROTOCOL");
    });
  }

  it("accepts bare LF line endings", () => {
    const outcome = parse("HTTP/1.1 200 OK\nX-A: b\nContent-Length: 2\n\nhi");
    assert.equal(outcome.head?.status, 200);
    assert.deepEqual(outcome.head?.headers, ["x-a", "b", "content-length", "2"]);
    assert.equal(outcome.body, "hi");
    assert.equal(outcome.complete, true);
  });

  it("accepts mixed CRLF and bare LF", () => {
    const outcome = parse("HTTP/1.1 200 OK\nX-A: b\r\nContent-Length: 2\n\r\nhi");
    assert.equal(outcome.body, "hi");
  });

  it("rejects a bare CR", () => {
    parseError("HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n", "ERR_PROTOCOL");
    parseError("HTTP/1.1 200 OK\rX-A: b\r\nContent-Length: 0\r\n\r\n", "ERR_PROTOCOL");
    parseError("HTTP/1.1 200 OK\r\nX-A: b\r\n\rContent-Length: 0\r\n\r\n", "ERR_PROTOCOL");
    parseError("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\r\n", "ERR_PROTOCOL");
    assert.match(errorOf("HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n").message, /bare CR/);
  });
});

describe("ResponseParser maxHeaderSize", () => {
  const head = "HTTP/1.1 200 OK\r\nX-Pad: abcdefgh\r\nContent-Length: 0\r\n\r\n";

  it("accepts a head of exactly maxHeaderSize bytes", () => {
    const outcome = parse(head, { maxHeaderSize: head.length });
    assert.equal(outcome.error, null);
    assert.equal(outcome.complete, true);
  });

  it("rejects a head one byte over with ERR_HEADERS_TOO_LARGE", () => {
    parseError(head, "ERR_HEADERS_TOO_LARGE", { maxHeaderSize: head.length - 1 });
  });

  it("rejects a head with a bare-LF end one byte over", () => {
    const text = "HTTP/1.1 200 OK\nContent-Length: 0\n\n";
    assert.equal(parse(text, { maxHeaderSize: text.length }).error, null);
    parseError(text, "ERR_HEADERS_TOO_LARGE", { maxHeaderSize: text.length - 1 });
  });

  it("rejects an endless header line without buffering it all", () => {
    const parser = new ResponseParser({ onInformational() {}, onHead() {}, onBody() {} }, 100);
    parser.start(false);
    parser.execute(bytes("HTTP/1.1 200 OK\r\nX-A: "));
    assert.throws(
      () => parser.execute(new Uint8Array(1000).fill(0x61)),
      (error) => error instanceof WirefetchError && error.code === "ERR_HEADERS_TOO_LARGE",
    );
  });

  it("gives each 1xx head and the final head their own budget", () => {
    const interim = "HTTP/1.1 100 Continue\r\n\r\n";
    const final = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    const outcome = parse(interim + interim + final, { maxHeaderSize: final.length });
    assert.equal(outcome.error, null);
    assert.equal(outcome.informational.length, 2);
  });

  it("bounds the trailer section by maxHeaderSize", () => {
    const prefix = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
    const trailers = "X-Trailer: 0123456789\r\n\r\n";
    const max = Math.max(prefix.length, trailers.length);
    assert.equal(parse(prefix + trailers, { maxHeaderSize: max }).error, null);
    const over = "X-Trailer: 0123456789" + "x".repeat(max - trailers.length + 1) + "\r\n\r\n";
    parseError(prefix + over, "ERR_HEADERS_TOO_LARGE", { maxHeaderSize: max });
  });
});

describe("ResponseParser keep-alive", () => {
  const cases: [string, string, boolean][] = [
    ["HTTP/1.1 with no Connection", "HTTP/1.1 200 OK\r\n", true],
    ["HTTP/1.1 with Connection: close", "HTTP/1.1 200 OK\r\nConnection: close\r\n", false],
    ["HTTP/1.1 with Connection: CLOSE", "HTTP/1.1 200 OK\r\nConnection: CLOSE\r\n", false],
    ["close in a list", "HTTP/1.1 200 OK\r\nConnection: te, Close ,x\r\n", false],
    [
      "close in a second field",
      "HTTP/1.1 200 OK\r\nConnection: te\r\nConnection: close\r\n",
      false,
    ],
    ["a token containing close", "HTTP/1.1 200 OK\r\nConnection: closed, x-close\r\n", true],
    ["HTTP/1.0 with no Connection", "HTTP/1.0 200 OK\r\n", false],
    ["HTTP/1.0 with keep-alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n", true],
    [
      "HTTP/1.0 with keep-alive and close",
      "HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\n",
      false,
    ],
  ];
  for (const [label, start, keepAlive] of cases) {
    it(`${keepAlive ? "reuses" : "does not reuse"} the connection for ${label}`, () => {
      const outcome = parse(`${start}Content-Length: 1\r\n\r\nx`);
      assert.equal(outcome.head?.keepAlive, keepAlive);
    });
  }

  it("parses Keep-Alive timeout and max", () => {
    const outcome = parse(
      "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=100\r\nContent-Length: 0\r\n\r\n",
    );
    assert.equal(outcome.head?.keepAliveTimeoutMs, 5000);
    assert.equal(outcome.head?.keepAliveMax, 100);
  });

  it("parses Keep-Alive params case-insensitively, in any order, quoted", () => {
    const outcome = parse(
      'HTTP/1.1 200 OK\r\nKeep-Alive: MAX = 7 ,Timeout="30"\r\nContent-Length: 0\r\n\r\n',
    );
    assert.equal(outcome.head?.keepAliveTimeoutMs, 30_000);
    assert.equal(outcome.head?.keepAliveMax, 7);
  });

  it("reports -1 for an absent or invalid Keep-Alive", () => {
    const absent = parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert.equal(absent.head?.keepAliveTimeoutMs, -1);
    assert.equal(absent.head?.keepAliveMax, -1);
    const invalid = parse(
      "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=abc, max=-1\r\nContent-Length: 0\r\n\r\n",
    );
    assert.equal(invalid.head?.keepAliveTimeoutMs, -1);
    assert.equal(invalid.head?.keepAliveMax, -1);
  });

  it("does not reuse a connection whose body is close-delimited", () => {
    const outcome = parse("HTTP/1.1 200 OK\r\n\r\nabc", { eof: true });
    assert.equal(outcome.head?.framing, "close");
    assert.equal(outcome.head?.keepAlive, false);
  });
});

describe("ResponseParser Content-Length bodies", () => {
  it("stops at Content-Length and leaves the extra bytes unconsumed", () => {
    const outcome = parse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 200 OK\r\n");
    assert.equal(outcome.body, "abc");
    assert.equal(outcome.complete, true);
    assert.equal(outcome.leftover, "HTTP/1.1 200 OK\r\n");
  });

  it("returns the consumed count when extra bytes follow", () => {
    const parser = new ResponseParser({ onInformational() {}, onHead() {}, onBody() {} }, 8192);
    parser.start(false);
    const head = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
    assert.equal(parser.execute(bytes(head + "ab!!")), head.length + 2);
    assert.equal(parser.execute(bytes("!!")), 0);
  });

  it("completes right after the head for Content-Length: 0", () => {
    const outcome = parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nX");
    assert.equal(outcome.head?.framing, "length");
    assert.equal(outcome.head?.contentLength, 0);
    assert.equal(outcome.complete, true);
    assert.equal(outcome.body, "");
    assert.equal(outcome.leftover, "X");
  });

  it("passes the whole input chunk to onBody when it is all body", () => {
    const parser = new ResponseParser({
      onInformational() {},
      onHead() {},
      onBody(chunk) {
        seen.push(chunk);
      },
    }, 8192);
    const seen: Uint8Array[] = [];
    parser.start(false);
    parser.execute(bytes("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n"));
    const body = bytes("abcdef");
    assert.equal(parser.execute(body), 6);
    assert.equal(seen.length, 1);
    assert.equal(seen[0], body);
  });

  it("hands a small body after its head on as a copy on Bun, as a view elsewhere", () => {
    // On JavaScriptCore a view of a small chunk first makes the chunk allocate an ArrayBuffer
    // and copy itself into it; a copy of the few body bytes is cheaper. Larger bodies stay views.
    const seen: Uint8Array[] = [];
    const parser = new ResponseParser({
      onInformational() {},
      onHead() {},
      onBody(chunk) {
        seen.push(chunk);
      },
    }, 8192);
    const head = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n";
    const input = bytes(head + "hello world\n");
    parser.start(false);
    assert.equal(parser.execute(input), input.length);
    assert.equal(seen.length, 1);
    assert.equal(latin1(seen[0]), "hello world\n");
    assert.equal(seen[0].buffer === input.buffer, !IS_BUN);
    // 1024 bytes and more: a view on every runtime.
    const large = bytes("HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n" + "x".repeat(1024));
    seen.length = 0;
    parser.start(false);
    assert.equal(parser.execute(large), large.length);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].length, 1024);
    assert.equal(seen[0].buffer, large.buffer);
  });

  it("accepts identical duplicate Content-Length values", () => {
    const outcome = parse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc");
    assert.equal(outcome.head?.contentLength, 3);
    assert.equal(outcome.body, "abc");
    assert.equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc").body, "abc");
  });

  it("rejects conflicting Content-Length values", () => {
    parseError(
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
      "ERR_PROTOCOL",
    );
    parseError("HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\nabcd", "ERR_PROTOCOL");
    assert.match(
      errorOf("HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n").message,
      /conflicting Content-Length/,
    );
  });

  for (const value of ["-1", "+1", "1 2", "0x10", "", "abc", "1.0", "9007199254740992"]) {
    it(`rejects Content-Length ${JSON.stringify(value)}`, () => {
      parseError(`HTTP/1.1 200 OK\r\nContent-Length: ${value}\r\n\r\n`, "ERR_PROTOCOL");
    });
  }

  it("counts body bytes as they arrive", () => {
    const parser = new ResponseParser({ onInformational() {}, onHead() {}, onBody() {} }, 8192);
    parser.start(false);
    parser.execute(bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
    assert.equal(parser.bodyBytes, 3);
    assert.equal(parser.headDone, true);
    assert.equal(parser.complete, false);
    parser.execute(bytes("defghij"));
    assert.equal(parser.bodyBytes, 10);
    assert.equal(parser.complete, true);
  });
});

describe("ResponseParser bodiless responses", () => {
  it("ignores Content-Length on a response to HEAD", () => {
    const outcome = parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", { noBody: true });
    assert.equal(outcome.head?.framing, "none");
    assert.equal(outcome.head?.contentLength, -1);
    assert.equal(outcome.head?.keepAlive, true);
    assert.equal(outcome.complete, true);
    assert.deepEqual(outcome.head?.headers, ["content-length", "10"]);
  });

  it("does not consume bytes after a HEAD response", () => {
    const outcome = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nXY", {
      noBody: true,
    });
    assert.equal(outcome.complete, true);
    assert.equal(outcome.leftover, "XY");
  });

  it("still honours Connection: close on a response to HEAD", () => {
    const outcome = parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 10\r\n\r\n", {
      noBody: true,
    });
    assert.equal(outcome.head?.keepAlive, false);
  });

  for (const status of [204, 304]) {
    it(`gives a ${status} response no body whatever its headers say`, () => {
      const outcome = parse(`HTTP/1.1 ${status} X\r\nContent-Length: 5\r\n\r\nabcde`);
      assert.equal(outcome.head?.framing, "none");
      assert.equal(outcome.complete, true);
      assert.equal(outcome.body, "");
      assert.equal(outcome.leftover, "abcde");
      assert.equal(outcome.head?.keepAlive, true);
    });
  }
});

describe("ResponseParser informational responses", () => {
  it("skips 100 Continue and 103 Early Hints, then parses the final response", () => {
    const outcome = parse(
      "HTTP/1.1 100 Continue\r\n\r\n" +
        "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" +
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    );
    assert.deepEqual(outcome.informational, [
      [100, []],
      [103, ["link", "</a.css>; rel=preload"]],
    ]);
    assert.equal(outcome.head?.status, 200);
    assert.deepEqual(outcome.head?.headers, ["content-length", "2"]);
    assert.equal(outcome.body, "ok");
  });

  it("marks the response started after a 1xx but not headDone", () => {
    const parser = new ResponseParser({ onInformational() {}, onHead() {}, onBody() {} }, 8192);
    parser.start(false);
    assert.equal(parser.started, false);
    parser.execute(bytes("HTTP/1.1 100 Continue\r\n\r\n"));
    assert.equal(parser.started, true);
    assert.equal(parser.headDone, false);
  });

  it("rejects 101 Switching Protocols", () => {
    parseError("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "ERR_PROTOCOL");
    assert.match(
      errorOf("HTTP/1.1 101 Switching Protocols\r\n\r\n").message,
      /101 Switching Protocols is not supported/,
    );
  });
});

describe("ResponseParser chunked bodies", () => {
  it("decodes chunks with extensions and trailers", () => {
    const outcome = parse(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
        '5;name=value\r\nhello\r\n6 ; a="b;c" ;d\r\n world\r\n000\r\nExpires: x\r\nX-Sum:  y \r\n\r\n',
    );
    assert.equal(outcome.head?.framing, "chunked");
    assert.equal(outcome.head?.contentLength, -1);
    assert.equal(outcome.head?.keepAlive, true);
    assert.equal(outcome.body, "hello world");
    assert.deepEqual(outcome.trailers, ["expires", "x", "x-sum", "y"]);
    assert.equal(outcome.complete, true);
    assert.equal(outcome.bodyBytes, 11);
  });

  it("decodes hex sizes in either case, with leading zeros", () => {
    const data = "x".repeat(26);
    const outcome = parse(
      `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n00A\r\n${data.slice(0, 10)}\r\n` +
        `10\r\n${data.slice(10)}\r\n0\r\n\r\n`,
    );
    assert.equal(outcome.body, data);
    assert.deepEqual(outcome.trailers, []);
  });

  it("accepts bare LF in chunked framing", () => {
    const outcome = parse(
      "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\nabc\n0\nX-T: 1\n\nrest",
    );
    assert.equal(outcome.body, "abc");
    assert.deepEqual(outcome.trailers, ["x-t", "1"]);
    assert.equal(outcome.leftover, "rest");
  });

  it("leaves bytes after the last chunk unconsumed", () => {
    const outcome = parse(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\nXYZ",
    );
    assert.equal(outcome.body, "a");
    assert.equal(outcome.leftover, "XYZ");
  });

  it("delivers chunk data larger than the input pieces", () => {
    const data = "0123456789".repeat(50);
    const outcome = parse(
      `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1f4\r\n${data}\r\n0\r\n\r\n`,
    );
    assert.equal(outcome.body, data);
  });

  it("folds trailer lines and reports trailers per response", () => {
    const parser = new ResponseParser({ onInformational() {}, onHead() {}, onBody() {} }, 8192);
    parser.start(false);
    parser.execute(
      bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\n 2\r\n\r\n"),
    );
    const first = parser.trailers;
    assert.deepEqual(first, ["a", "1 2"]);
    parser.start(false);
    assert.deepEqual(parser.trailers, []);
    parser.execute(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"));
    assert.deepEqual(parser.trailers, []);
    assert.deepEqual(first, ["a", "1 2"]);
  });

  for (
    const [label, framing] of [
      ["an empty chunk size", "\r\nabc\r\n0\r\n\r\n"],
      ["a non-hex chunk size", "g\r\nabc\r\n0\r\n\r\n"],
      ["a signed chunk size", "+3\r\nabc\r\n0\r\n\r\n"],
      ["a chunk size above 2^53-1", "20000000000000\r\n"],
      ["whitespace after the size without an extension", "3 \r\nabc\r\n0\r\n\r\n"],
      ["a bare CR in the size line", "3\rabc\r\n0\r\n\r\n"],
      ["a control character in an extension", "3;a\x00\r\nabc\r\n0\r\n\r\n"],
      ["data longer than the chunk size", "3\r\nabcd\r\n0\r\n\r\n"],
      ["a bare CR after chunk data", "3\r\nabc\rx0\r\n\r\n"],
      ["a bad trailer line", "0\r\nBad Trailer: x\r\n\r\n"],
      ["obs-fold before the first trailer", "0\r\n x\r\n\r\n"],
    ]
  ) {
    it(`rejects ${label}`, () => {
      parseError(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${framing}`, "ERR_PROTOCOL");
    });
  }

  it("accepts a chunk size of 2^53-1", () => {
    const parser = new ResponseParser({ onInformational() {}, onHead() {}, onBody() {} }, 8192);
    parser.start(false);
    const text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1fffffffffffff\r\nab";
    assert.equal(parser.execute(bytes(text)), text.length);
    assert.equal(parser.bodyBytes, 2);
  });

  it("bounds the chunk-size line with its extensions to 4 KiB", () => {
    const prefix = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    // "1;" + extension + CR is exactly 4096 bytes, then the same again for the next chunk.
    const ext = "e".repeat(4093);
    const ok = parse(`${prefix}1;${ext}\r\na\r\n1;${ext}\r\nb\r\n0\r\n\r\n`);
    assert.equal(ok.error, null);
    assert.equal(ok.body, "ab");
    assert.equal(ok.complete, true);
    const long = parse(`${prefix}1;${ext}e\r\na\r\n0\r\n\r\n`);
    assert.equal(long.error, "ERR_PROTOCOL");
    assert.equal(long.headDone, true);
  });

  it("parses Transfer-Encoding over Content-Length and does not reuse the connection", () => {
    const outcome = parse(
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
    );
    assert.equal(outcome.head?.framing, "chunked");
    assert.equal(outcome.head?.contentLength, -1);
    assert.equal(outcome.head?.keepAlive, false);
    assert.equal(outcome.body, "hi");
    assert.equal(outcome.complete, true);
  });

  it("rejects Transfer-Encoding in an HTTP/1.0 response", () => {
    parseError("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "ERR_PROTOCOL");
  });

  for (const coding of ["gzip, chunked", "x-custom, chunked"]) {
    it(`rejects the unsupported Transfer-Encoding ${JSON.stringify(coding)}`, () => {
      parseError(
        `HTTP/1.1 200 OK\r\nTransfer-Encoding: ${coding}\r\n\r\n0\r\n\r\n`,
        "ERR_PROTOCOL",
      );
      assert.match(
        errorOf(`HTTP/1.1 200 OK\r\nTransfer-Encoding: ${coding}\r\n\r\n`).message,
        /unsupported transfer-coding/,
      );
    });
  }

  it("rejects chunked applied twice, also across fields", () => {
    parseError("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", "ERR_PROTOCOL");
    parseError(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
      "ERR_PROTOCOL",
    );
  });
});

describe("ResponseParser close-delimited bodies", () => {
  it("completes a body without framing when the connection closes", () => {
    const outcome = parse("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it", {
      eof: true,
    });
    assert.equal(outcome.head?.framing, "close");
    assert.equal(outcome.head?.keepAlive, false);
    assert.equal(outcome.body, "all of it");
    assert.equal(outcome.complete, true);
  });

  it("is not complete before the connection closes", () => {
    const outcome = parse("HTTP/1.1 200 OK\r\n\r\nabc");
    assert.equal(outcome.complete, false);
    assert.equal(outcome.body, "abc");
  });

  for (const coding of ["gzip", "chunked, gzip", "x-custom", "chunkd"]) {
    it(`reads until close when Transfer-Encoding ends in ${JSON.stringify(coding)}`, () => {
      // RFC 9112 §6.3 rule 4: a final coding other than chunked delimits nothing.
      const outcome = parse(`HTTP/1.1 200 OK\r\nTransfer-Encoding: ${coding}\r\n\r\n0\r\n\r\n`, {
        eof: true,
      });
      assert.equal(outcome.head?.framing, "close");
      assert.equal(outcome.head?.keepAlive, false);
      assert.equal(outcome.body, "0\r\n\r\n");
      assert.equal(outcome.complete, true);
    });
  }

  it("treats Transfer-Encoding: identity as close-delimited", () => {
    const outcome = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nabc", {
      eof: true,
    });
    assert.equal(outcome.head?.framing, "close");
    assert.equal(outcome.body, "abc");
    assert.equal(outcome.complete, true);
  });
});

describe("ResponseParser.finish", () => {
  it("throws ERR_CONNECTION_CLOSED when no byte arrived", () => {
    parseError("", "ERR_CONNECTION_CLOSED", { eof: true });
  });

  it("throws ERR_PROTOCOL when the connection ends inside the head", () => {
    parseError("HTTP/1.1 200 OK\r\nContent-Le", "ERR_PROTOCOL", { eof: true });
    parseError("HTTP/1.1 2", "ERR_PROTOCOL", { eof: true });
    parseError("HTTP/1.1 200 OK\r\n\r", "ERR_PROTOCOL", { eof: true });
  });

  it("throws ERR_PROTOCOL when the connection ends after a 1xx response", () => {
    parseError("HTTP/1.1 100 Continue\r\n\r\n", "ERR_PROTOCOL", { eof: true });
  });

  it("throws ERR_BODY_TRUNCATED with the byte counts for a short Content-Length body", () => {
    const outcome = parseError(
      "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
      "ERR_BODY_TRUNCATED",
      { eof: true },
    );
    assert.equal(outcome.body, "abc");
    assert.match(
      errorOf("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", { eof: true }).message,
      /3 of 10/,
    );
  });

  it("throws ERR_BODY_TRUNCATED when a chunked body is cut", () => {
    const prefix = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    parseError(prefix, "ERR_BODY_TRUNCATED", { eof: true });
    parseError(`${prefix}5\r\nab`, "ERR_BODY_TRUNCATED", { eof: true });
    parseError(`${prefix}5\r\nabcde\r\n`, "ERR_BODY_TRUNCATED", { eof: true });
    parseError(`${prefix}5\r\nabcde\r\n0\r\n`, "ERR_BODY_TRUNCATED", { eof: true });
    parseError(`${prefix}5\r\nabcde\r\n0\r\nX-T: 1\r\n`, "ERR_BODY_TRUNCATED", { eof: true });
  });

  it("does nothing after completion or before start", () => {
    assert.equal(parse("HTTP/1.1 204 No Content\r\n\r\n", { eof: true }).error, null);
    const parser = new ResponseParser({ onInformational() {}, onHead() {}, onBody() {} }, 8192);
    parser.finish();
    assert.equal(parser.complete, false);
  });
});

describe("ResponseParser lifecycle", () => {
  it("consumes nothing before start()", () => {
    const parser = new ResponseParser({ onInformational() {}, onHead() {}, onBody() {} }, 8192);
    assert.equal(parser.execute(bytes("HTTP/1.1 200 OK\r\n\r\n")), 0);
    assert.equal(parser.started, false);
  });

  it("parses one response after another with start()", () => {
    const heads: ResponseHead[] = [];
    let body = "";
    const parser = new ResponseParser({
      onInformational() {},
      onHead(head) {
        heads.push(head);
      },
      onBody(chunk) {
        body += latin1(chunk);
      },
    }, 8192);
    const input = bytes(
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 404 No\r\nContent-Length: 1\r\n\r\nb",
    );
    parser.start(false);
    const consumed = parser.execute(input);
    assert.equal(parser.complete, true);
    parser.start(false);
    assert.equal(parser.complete, false);
    assert.equal(parser.headDone, false);
    assert.equal(parser.bodyBytes, 0);
    assert.equal(parser.execute(input.subarray(consumed)), input.length - consumed);
    assert.deepEqual(heads.map((head) => head.status), [200, 404]);
    assert.equal(body, "ab");
  });

  it("ignores empty input", () => {
    const parser = new ResponseParser({ onInformational() {}, onHead() {}, onBody() {} }, 8192);
    parser.start(false);
    assert.equal(parser.execute(new Uint8Array(0)), 0);
    assert.equal(parser.started, false);
    assert.throws(
      () => parser.finish(),
      (error) => error instanceof WirefetchError && error.code === "ERR_CONNECTION_CLOSED",
    );
  });

  it("rejects a non-positive maxHeaderSize", () => {
    assert.throws(
      () => new ResponseParser({ onInformational() {}, onHead() {}, onBody() {} }, 0),
      RangeError,
    );
  });
});

describe("ResponseParser robustness (RFC 9112 §2.2)", () => {
  it("skips empty lines before the status line", () => {
    const outcome = parse("\r\n\r\n\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
    assert.equal(outcome.head?.status, 200);
    assert.equal(outcome.body, "hi");
    assert.equal(outcome.complete, true);
  });

  it("skips an empty line between a 1xx and the final response", () => {
    const outcome = parse(
      "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
    );
    assert.equal(outcome.informational.length, 1);
    assert.equal(outcome.head?.status, 204);
    assert.equal(outcome.complete, true);
  });

  it("bounds empty lines by maxHeaderSize", () => {
    parseError("\r\n".repeat(40) + "HTTP/1.1 200 OK\r\n\r\n", "ERR_HEADERS_TOO_LARGE", {
      maxHeaderSize: 64,
    });
  });
});

describe("ResponseParser chunk coalescing", () => {
  it("delivers the small chunks of one read as one piece, large chunks as views", () => {
    const tiny = "1\r\nx\r\n".repeat(1000);
    const large = "a".repeat(10_000);
    const input = bytes(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + tiny +
        `${large.length.toString(16)}\r\n${large}\r\n` + tiny + "0\r\n\r\n",
    );
    const pieces: Uint8Array[] = [];
    const parser = new ResponseParser({
      onInformational() {},
      onHead() {},
      onBody(chunk) {
        pieces.push(chunk);
      },
    }, 8192);
    parser.start(false);
    parser.execute(input);
    assert.equal(parser.complete, true);
    // Tiny chunks before the large one, the large one (a view of the input), tiny ones after.
    assert.deepEqual(pieces.map((p) => p.length), [1000, 10_000, 1000]);
    assert.equal(pieces[1].buffer, input.buffer);
    assert.equal(latin1(pieces[0]), "x".repeat(1000));
    assert.equal(latin1(pieces[2]), "x".repeat(1000));
  });

  it("delivers one piece per read also when a read starts inside a tiny chunk's data", () => {
    // Each read after the first starts with the data of a chunk whose size line came in the
    // previous read: that data is collected with the chunks after it, not delivered alone.
    const wire = "1\r\nx\r\n".repeat(300) + "0\r\n\r\n";
    const cuts = [0, 3 + 6 * 100, 3 + 6 * 200, wire.length];
    const pieces: Uint8Array[] = [];
    const parser = new ResponseParser({
      onInformational() {},
      onHead() {},
      onBody(chunk) {
        pieces.push(chunk);
      },
    }, 8192);
    parser.start(false);
    parser.execute(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"));
    for (let i = 1; i < cuts.length; i++) {
      parser.execute(bytes(wire.slice(cuts[i - 1], cuts[i])));
    }
    assert.equal(parser.complete, true);
    assert.deepEqual(pieces.map((p) => p.length), [100, 100, 100]);
    assert.equal(pieces.map(latin1).join(""), "x".repeat(300));
  });
});
